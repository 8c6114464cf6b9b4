// Releases with spec.migrations, on the real API server with the controller-manager's
// Job controller and kwok's pod stages (hack/kwok/stages.yaml), which end a Job's pod
// as its command says: no marker succeeds, "kwok:fail" fails with the next element
// as its message, "kwok:hang" never ends, "kwok:slow" succeeds after about 15 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk, useNamespace, waitFor } from '../support/cluster.js';
import { apply, condition, getJSON, smallApp, type AppObject } from '../support/apps.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

const ns = useNamespace('migrations');
let operator: OperatorProcess;

beforeAll(async () => {
  operator = await startOperator({ namespaces: [ns.name] });
});

afterAll(async () => {
  expect(await operator.stop()).toBe(0);
});

type Job = {
  metadata: { name: string; uid: string; creationTimestamp: string; labels: Record<string, string> };
  status?: { completionTime?: string; conditions?: { type: string; status: string; reason?: string }[] };
};
type Deployment = {
  metadata: { name: string; creationTimestamp: string; generation: number; resourceVersion: string };
  spec: { template: { spec: { containers: { image: string }[] } } };
};
type Release = { revision: string; image: string; migration?: { job: string; phase: string; message?: string; startedAt?: string; finishedAt?: string } };
type App = AppObject & { status?: AppObject['status'] & { release?: Release } };

const WORKLOADS = ['api', 'worker', 'beat'] as const;

/** api, worker and beat with PostgreSQL and Redis, migrating with `command`. */
function migratingApp(name: string, command: string[], migrations: Record<string, unknown> = {}) {
  return smallApp(ns.name, name, { worker: { app: 'app.celery', replicas: 1 }, beat: {}, migrations: { command, ...migrations } });
}

async function jobsOf(app: string): Promise<Job[]> {
  const list = JSON.parse(
    await kubectlOk(['get', 'jobs', '-n', ns.name, '-l', `app.kubernetes.io/instance=${app},app.kubernetes.io/component=migrate`, '-o', 'json']),
  ) as { items: Job[] };
  return list.items.sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
}

const holds = (job: Job | undefined, type: string) => job?.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
const getApp = (name: string) => getJSON<App>(ns.name, `bapp/${name}`);
const deployment = (app: string, c: string) => getJSON<Deployment>(ns.name, `deployment/${app}-${c}`);
const imageOf = (d: Deployment | undefined) => d?.spec.template.spec.containers[0]?.image;

/** Waits until the app's status is at its generation with the release's migration in `phase`. */
async function waitPhase(name: string, phase: string, timeoutMs = 90_000): Promise<App> {
  return waitFor(
    `bapp/${name} migration ${phase}`,
    async () => {
      const app = await getApp(name);
      if (app?.status?.observedGeneration === app?.metadata.generation && app?.status?.release?.migration?.phase === phase) return app;
      throw new Error(`generation ${app?.metadata.generation}, status ${JSON.stringify(app?.status)}`);
    },
    timeoutMs,
  );
}

async function waitReadyRelease(name: string, image: string, timeoutMs = 120_000): Promise<App> {
  return waitFor(
    `bapp/${name} Ready on ${image}`,
    async () => {
      const app = await getApp(name);
      const ok =
        app?.status?.observedGeneration === app?.metadata.generation &&
        condition(app, 'Ready')?.status === 'True' &&
        app?.status?.release?.image === image &&
        app.status.release.migration?.phase === 'Succeeded';
      if (ok) return app;
      throw new Error(`status ${JSON.stringify(app?.status)}`);
    },
    timeoutMs,
  );
}

async function setImage(name: string, image: string): Promise<void> {
  await kubectlOk(['patch', '-n', ns.name, `bapp/${name}`, '--type=merge', '-p', JSON.stringify({ spec: { image } })]);
}

async function setMigration(name: string, command: string[], extra: Record<string, unknown> = {}): Promise<void> {
  await kubectlOk(['patch', '-n', ns.name, `bapp/${name}`, '--type=merge', '-p', JSON.stringify({ spec: { migrations: { command, ...extra } } })]);
}

describe('releases with migrations', () => {
  it('on first creation runs the Job to success before any api, worker or beat Deployment exists, then becomes Ready', async () => {
    await apply(migratingApp('first', ['alembic', 'upgrade', 'head']));
    const app = await waitReadyRelease('first', 'ghcr.io/acme/backend:1.0.0');
    const [job, ...more] = await jobsOf('first');
    expect(more).toEqual([]);
    expect(job?.metadata.name).toBe(`first-migrate-${app.status?.release?.revision}`);
    expect(holds(job, 'Complete')).toBe(true);
    const completed = Date.parse(job?.status?.completionTime ?? '');
    for (const c of WORKLOADS) {
      const d = await deployment('first', c);
      // Timestamps have second precision: created in the same second or later.
      expect(Date.parse(d?.metadata.creationTimestamp ?? ''), `${c} created after the migration`).toBeGreaterThanOrEqual(Math.floor(completed / 1000) * 1000);
    }
    expect(app.status?.release?.migration).toMatchObject({ job: job?.metadata.name, phase: 'Succeeded' });
    expect(app.status?.release?.migration?.startedAt).toBeDefined();
    expect(app.status?.release?.migration?.finishedAt).toBeDefined();
    // The pods of the release's Job carry its revision; the Migration column shows the phase.
    const table = await kubectlOk(['get', 'bapp', 'first', '-n', ns.name]);
    expect(table).toMatch(/MIGRATION[\s\S]*Succeeded/);
  });

  it('holds api, worker and beat on the old image while a new image migrates, then rolls all three', async () => {
    await apply(migratingApp('roll', ['migrate', 'kwok:slow']));
    await waitReadyRelease('roll', 'ghcr.io/acme/backend:1.0.0', 150_000);
    const before = await Promise.all(WORKLOADS.map((c) => deployment('roll', c)));
    await setImage('roll', 'ghcr.io/acme/backend:2.0.0');
    const running = await waitPhase('roll', 'Running');
    expect(condition(running, 'Progressing')).toMatchObject({ status: 'True', reason: 'Migrating' });
    expect(condition(running, 'Ready')).toMatchObject({ status: 'False', reason: 'Migrating' });
    // Read the workloads, then the Job: if the Job had not finished by then, the
    // workloads read before were held.
    const during = await Promise.all(WORKLOADS.map((c) => deployment('roll', c)));
    const jobs = await jobsOf('roll');
    const newJob = jobs.find((j) => j.metadata.name === running.status?.release?.migration?.job);
    expect(holds(newJob, 'Complete')).toBe(false);
    for (const [i, d] of during.entries()) {
      expect(imageOf(d), WORKLOADS[i]).toBe('ghcr.io/acme/backend:1.0.0');
      expect(d?.metadata.generation, WORKLOADS[i]).toBe(before[i]?.metadata.generation);
    }
    const done = await waitReadyRelease('roll', 'ghcr.io/acme/backend:2.0.0', 150_000);
    for (const c of WORKLOADS) expect(imageOf(await deployment('roll', c)), c).toBe('ghcr.io/acme/backend:2.0.0');
    expect(done.status?.release?.revision).toBe(running.status?.release?.revision);
    expect(await jobsOf('roll')).toHaveLength(2);
  });

  it('on a failing migration keeps the Deployments as they were, reports MigrationFailed with the message and a Warning; a fixed spec completes the release', async () => {
    await apply(migratingApp('fail', ['alembic', 'upgrade', 'head']));
    await waitReadyRelease('fail', 'ghcr.io/acme/backend:1.0.0');
    const before = await Promise.all(WORKLOADS.map((c) => deployment('fail', c)));
    await kubectlOk([
      'patch',
      '-n',
      ns.name,
      'bapp/fail',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { image: 'ghcr.io/acme/backend:2.0.0', migrations: { command: ['alembic', 'kwok:fail', 'relation "items" already exists'] } } }),
    ]);
    const failed = await waitPhase('fail', 'Failed');
    expect(condition(failed, 'Degraded')).toMatchObject({ status: 'True', reason: 'MigrationFailed' });
    expect(condition(failed, 'Degraded')?.message).toContain('relation "items" already exists');
    expect(condition(failed, 'Degraded')?.message).toContain(failed.status?.release?.migration?.job);
    const after = await Promise.all(WORKLOADS.map((c) => deployment('fail', c)));
    for (const [i, d] of after.entries()) {
      expect(d?.metadata.resourceVersion, WORKLOADS[i]).toBe(before[i]?.metadata.resourceVersion);
      expect(imageOf(d)).toBe('ghcr.io/acme/backend:1.0.0');
    }
    const events = await kubectlOk(['events', '-n', ns.name, '--for', 'backendapp/fail', '--types=Warning']);
    expect(events).toMatch(/MigrationFailed/);

    await setMigration('fail', ['alembic', 'upgrade', 'head']);
    await waitReadyRelease('fail', 'ghcr.io/acme/backend:2.0.0');
    for (const c of WORKLOADS) expect(imageOf(await deployment('fail', c)), c).toBe('ghcr.io/acme/backend:2.0.0');
    expect(await jobsOf('fail')).toHaveLength(3);
  });

  it('fails the release the same way when the Job runs past timeoutSeconds', async () => {
    await apply(migratingApp('late', ['migrate', 'kwok:hang'], { timeoutSeconds: 5 }));
    const failed = await waitPhase('late', 'Failed');
    expect(condition(failed, 'Degraded')).toMatchObject({ status: 'True', reason: 'MigrationFailed' });
    expect(condition(failed, 'Degraded')?.message).toMatch(/DeadlineExceeded/);
    // First creation: nothing runs the release, so api, worker and beat were never created.
    for (const c of WORKLOADS) expect(await deployment('late', c), c).toBeUndefined();
  });

  it('never starts a Job again for the same spec, re-applied or after an operator restart; two changes during a migration give one more Job, for the last', async () => {
    const manifest = migratingApp('same', ['migrate', 'kwok:slow']);
    await apply(manifest);
    await waitReadyRelease('same', 'ghcr.io/acme/backend:1.0.0', 150_000);
    for (let i = 0; i < 5; i++) await apply(manifest);
    await operator.stop();
    operator = await startOperator({ namespaces: [ns.name] });
    // A change outside the release (replicas): once its generation is reported, the
    // restarted operator has reconciled the app, past every re-apply above.
    await kubectlOk(['patch', '-n', ns.name, 'bapp/same', '--type=merge', '-p', JSON.stringify({ spec: { api: { replicas: 2 } } })]);
    const rescaled = await waitFor(
      'the restarted operator reconciled the new generation',
      async () => {
        const app = await getApp('same');
        return app?.status?.observedGeneration === app?.metadata.generation && condition(app, 'Ready')?.status === 'True' ? app : undefined;
      },
      60_000,
    );
    expect(rescaled.status?.release?.migration?.phase).toBe('Succeeded');
    expect(await jobsOf('same')).toHaveLength(1);

    await setImage('same', 'ghcr.io/acme/backend:2.0.0');
    const running = await waitPhase('same', 'Running');
    await setImage('same', 'ghcr.io/acme/backend:3.0.0');
    await setImage('same', 'ghcr.io/acme/backend:4.0.0');
    const waiting = await waitPhase('same', 'Pending');
    expect(waiting.status?.release?.migration?.message).toContain(`Waiting for Job ${running.status?.release?.migration?.job}`);
    const done = await waitReadyRelease('same', 'ghcr.io/acme/backend:4.0.0', 150_000);
    const jobs = await jobsOf('same');
    expect(jobs.map((j) => j.metadata.name)).toEqual([jobs[0]?.metadata.name, running.status?.release?.migration?.job, done.status?.release?.migration?.job]);
  });

  it('keeps the last three migration Jobs after five releases', async () => {
    await apply(migratingApp('history', ['migrate']));
    await waitReadyRelease('history', 'ghcr.io/acme/backend:1.0.0');
    for (let v = 2; v <= 5; v++) {
      await setImage('history', `ghcr.io/acme/backend:${v}.0.0`);
      await waitReadyRelease('history', `ghcr.io/acme/backend:${v}.0.0`);
    }
    const app = await getApp('history');
    const jobs = await waitFor('three Jobs left', async () => {
      const j = await jobsOf('history');
      return j.length === 3 ? j : undefined;
    });
    expect(jobs[2]?.metadata.name).toBe(app?.status?.release?.migration?.job);
  });

  it('resumes the same release after a SIGKILL mid-migration, without a second Job', async () => {
    await apply(migratingApp('killed', ['migrate', 'kwok:slow']));
    const running = await waitPhase('killed', 'Running');
    const [job] = await jobsOf('killed');
    await operator.kill();
    operator = await startOperator({ namespaces: [ns.name] });
    await waitReadyRelease('killed', 'ghcr.io/acme/backend:1.0.0', 150_000);
    const jobs = await jobsOf('killed');
    expect(jobs.map((j) => j.metadata.uid)).toEqual([job?.metadata.uid]);
    expect(jobs[0]?.metadata.name).toBe(running.status?.release?.migration?.job);
  });
});
