// Celery workers: a Deployment named <app>-worker running `celery -A <app> worker`.
import type { V1Deployment, V1Probe } from '@kubernetes/client-node';
import type { BackendApp, WorkerSpec } from '../api/v1alpha1.js';
import { fastPeriodSeconds, startupFailureThreshold } from './api.js';
import {
  appContainer,
  appPod,
  componentDeployment,
  replicasUnlessAutoscaled,
  resourceRequirements,
  spreadOverNodesAndZones,
  startFirstRollout,
} from './pod.js';
import { mountsReadWriteOnce } from './volumes.js';

export function workerCommand(app: BackendApp, worker: WorkerSpec): string[] {
  return [
    'celery',
    '-A',
    worker.app,
    'worker',
    `--loglevel=${worker.loglevel}`,
    `--concurrency=${worker.concurrency}`,
    ...(worker.queues ? ['--queues', worker.queues.join(',')] : []),
    ...(worker.pool ? [`--pool=${worker.pool}`] : []),
    // Flower learns about tasks only from task events, which are off by default.
    ...(app.spec.flower ? ['--task-events'] : []),
    ...(worker.extraArgs ?? []),
  ];
}

/**
 * Liveness when the user gives no command: fail only if the worker's main process
 * is a zombie or stopped. It reads one file, so it costs little, unlike
 * `celery inspect ping`, which imports the app and costs seconds of CPU (celery/celery#4079).
 * Python, not sh and grep: the app image has Python by definition, distroless ones
 * have no shell.
 */
export const DEFAULT_WORKER_LIVENESS: readonly string[] = [
  'python3',
  '-c',
  "import sys; sys.exit(any(l.split()[1:2] in (['Z'], ['T']) for l in open('/proc/1/status') if l.startswith('State:')))",
];

export interface WorkerProbes {
  startupProbe: V1Probe;
  livenessProbe: V1Probe;
}

/**
 * Startup: `celery inspect ping` addressed to this pod's node only (Celery names it
 * celery@<hostname>), run until it answers once, which proves the worker reached
 * the broker. Through python3 -m celery, so the image needs neither a shell nor the
 * celery script on PATH; the app name is an argument, never parsed as code.
 * Liveness: the cheap check above, or the user's.
 */
export function workerProbes(worker: WorkerSpec): WorkerProbes {
  const h = worker.health;
  const period = fastPeriodSeconds(h.intervalSeconds, h.timeoutSeconds);
  // Leave half the probe's time for Python to start and import the app.
  const pingTimeout = Math.max(1, Math.floor(h.timeoutSeconds / 2));
  return {
    startupProbe: {
      exec: {
        command: [
          'python3',
          '-c',
          'import runpy, socket, sys; ' +
            "sys.argv = ['celery', '-A', sys.argv[1], 'inspect', 'ping', '--destination', 'celery@' + socket.gethostname(), '--timeout', sys.argv[2]]; " +
            "runpy.run_module('celery', run_name='__main__')",
          worker.app,
          String(pingTimeout),
        ],
      },
      periodSeconds: period,
      timeoutSeconds: h.timeoutSeconds,
      failureThreshold: startupFailureThreshold(h.startPeriodSeconds, period, h.retries),
    },
    livenessProbe: {
      exec: { command: [...(h.livenessCommand ?? DEFAULT_WORKER_LIVENESS)] },
      periodSeconds: h.intervalSeconds,
      timeoutSeconds: h.timeoutSeconds,
      failureThreshold: h.retries,
    },
  };
}

export function workerDeployment(app: BackendApp): V1Deployment | undefined {
  const worker = app.spec.worker;
  if (!worker) return undefined;
  return componentDeployment(app, 'worker', {
    replicas: replicasUnlessAutoscaled(worker),
    // A ReadWriteOnce claim is held by the running pod: a new one could not start beside it.
    strategy: mountsReadWriteOnce(app, worker.volumes) ? { type: 'Recreate' } : startFirstRollout,
    pod: appPod(
      app,
      [
        appContainer(
          app,
          {
            name: 'worker',
            command: workerCommand(app, worker),
            resources: resourceRequirements(worker.resources),
            ...workerProbes(worker),
          },
          worker,
        ),
      ],
      {
        // SIGTERM starts Celery's warm shutdown: no new tasks, running ones finish.
        // The kubelet waits this long before SIGKILL cuts them off.
        terminationGracePeriodSeconds: worker.terminationGracePeriodSeconds,
        topologySpreadConstraints: spreadOverNodesAndZones(app, 'worker'),
      },
      worker,
    ),
  });
}
