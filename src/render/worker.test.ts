import { describe, expect, it } from 'vitest';
import { finwise, makeApp } from './fixtures.test-util.js';
import { DEFAULT_WORKER_LIVENESS, workerCommand, workerDeployment, workerProbes } from './worker.js';

describe('worker Deployment', () => {
  it('runs celery worker with the concurrency and queues', () => {
    const app = makeApp({ image: 'x:1', worker: { app: 'app.celery', queues: ['default', 'emails'] }, flower: {}, databases: { redis: { version: '7' } } });
    expect(workerCommand(app, app.spec.worker!)).toEqual([
      'celery',
      '-A',
      'app.celery',
      'worker',
      '--loglevel=info',
      '--concurrency=2',
      '--queues',
      'default,emails',
      '--task-events',
    ]);
  });

  // A stock Celery app sends .delay() and beat's tasks to "celery"; a worker told to
  // consume only other queues never sees them (found on a real node: LLEN celery grew).
  it("consumes Celery's default queue in the sample, where its tasks are sent", () => {
    const app = finwise();
    expect(app.spec.worker?.queues).toBeUndefined();
    expect(workerCommand(app, app.spec.worker!)).not.toContain('--queues');
  });

  it('sends task events only when Flower is there to read them', () => {
    const app = makeApp({ image: 'x:1', worker: { app: 'proj', pool: 'threads', extraArgs: ['--max-tasks-per-child', '100'] } });
    expect(workerCommand(app, app.spec.worker!)).toEqual([
      'celery',
      '-A',
      'proj',
      'worker',
      '--loglevel=info',
      '--concurrency=2',
      '--pool=threads',
      '--max-tasks-per-child',
      '100',
    ]);
  });

  it('waits for warm shutdown before killing a worker', () => {
    const d = workerDeployment(finwise());
    expect(d?.spec?.template.spec?.terminationGracePeriodSeconds).toBe(300);
    const custom = workerDeployment(makeApp({ image: 'x:1', worker: { app: 'p', terminationGracePeriodSeconds: 3600 } }));
    expect(custom?.spec?.template.spec?.terminationGracePeriodSeconds).toBe(3600);
  });

  it('has replicas, unless autoscaled', () => {
    expect(workerDeployment(finwise())?.spec?.replicas).toBe(2);
    const scaled = makeApp({ image: 'x:1', worker: { app: 'p', replicas: 5, autoscaling: { maxReplicas: 8 }, resources: { requests: { cpu: '1' } } } });
    expect(workerDeployment(scaled)?.spec?.replicas).toBeUndefined();
  });

  it('gets the connection settings and no Service-facing port', () => {
    const c = workerDeployment(finwise())?.spec?.template.spec?.containers[0];
    expect(c?.ports).toBeUndefined();
    expect(c?.env?.map((e) => e.name)).toContain('CELERY_BROKER_URL');
  });
});

describe('worker probes', () => {
  it('pings this worker once at startup, and checks liveness cheaply', () => {
    const probes = workerProbes(finwise().spec.worker!);
    expect(probes.startupProbe).toEqual({
      exec: {
        command: [
          'python3',
          '-c',
          "import runpy, socket, sys; sys.argv = ['celery', '-A', sys.argv[1], 'inspect', 'ping', '--destination', 'celery@' + socket.gethostname(), '--timeout', sys.argv[2]]; runpy.run_module('celery', run_name='__main__')",
          'app.celery',
          '10',
        ],
      },
      periodSeconds: 20,
      timeoutSeconds: 20,
      failureThreshold: 6, // ceil(60 / 20) + 3
    });
    expect(probes.livenessProbe).toEqual({ exec: { command: [...DEFAULT_WORKER_LIVENESS] }, periodSeconds: 30, timeoutSeconds: 20, failureThreshold: 3 });
    expect(JSON.stringify(probes.livenessProbe)).not.toContain('inspect');
  });

  // Distroless Python images have python3 but no sh or grep.
  it('need only python3 in the image, no shell', () => {
    const probes = workerProbes(finwise().spec.worker!);
    for (const probe of [probes.startupProbe, probes.livenessProbe]) {
      expect(probe.exec?.command?.[0]).toBe('python3');
      expect(probe.exec?.command?.join(' ')).not.toMatch(/\b(sh|bash|grep)\b/);
    }
  });

  it("uses the user's liveness command when given", () => {
    const app = makeApp({ image: 'x:1', worker: { app: 'p', health: { livenessCommand: ['test', '-e', '/tmp/alive'] } } });
    expect(workerProbes(app.spec.worker!).livenessProbe.exec?.command).toEqual(['test', '-e', '/tmp/alive']);
  });
});

describe('default worker liveness', () => {
  it('asks python3 whether PID 1 is a zombie or stopped, from /proc/1/status', () => {
    expect(DEFAULT_WORKER_LIVENESS).toEqual([
      'python3',
      '-c',
      "import sys; sys.exit(any(l.split()[1:2] in (['Z'], ['T']) for l in open('/proc/1/status') if l.startswith('State:')))",
    ]);
  });
});
