import type { KubernetesObject, V1Job, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { expiredMigrations, failureMessage, isRunningMigration, migrationPods, migrationState } from './release.js';

const job = (status: V1Job['status'] = {}): V1Job => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'web-migrate-abc' }, status });
const failedPod = (exitCode: number, message?: string, name = 'p'): V1Pod => ({
  metadata: { name, labels: { 'app.kubernetes.io/instance': 'web', 'backendapp.io/release': 'abc' } },
  status: { containerStatuses: [{ name: 'migrate', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, message } } }] },
});
const migrationJobOf = (name: string, app: string, created: string, conditions: { type: string; status: string }[] = []): KubernetesObject =>
  ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, creationTimestamp: created, labels: { 'app.kubernetes.io/instance': app, 'app.kubernetes.io/component': 'migrate' } },
    status: { conditions },
  }) as unknown as KubernetesObject;

describe('migrationState', () => {
  it('is Pending before the Job exists, saying why it waits', () => {
    expect(migrationState('web-migrate-abc', undefined, [], 'Waiting for StatefulSet web-postgres to be ready')).toEqual({
      job: 'web-migrate-abc',
      phase: 'Pending',
      message: 'Waiting for StatefulSet web-postgres to be ready',
    });
  });

  it('is Running once the Job exists, with its start time', () => {
    expect(migrationState('web-migrate-abc', job({ startTime: '2026-11-30T04:00:00.123Z' as unknown as Date }), [])).toEqual({
      job: 'web-migrate-abc',
      phase: 'Running',
      startedAt: '2026-11-30T04:00:00Z',
    });
  });

  it('is Succeeded when the Job is Complete, with start and finish', () => {
    const done = job({
      startTime: new Date('2026-11-30T04:00:00Z'),
      completionTime: new Date('2026-11-30T04:00:07Z'),
      conditions: [{ type: 'Complete', status: 'True' }],
    });
    expect(migrationState('web-migrate-abc', done, [])).toEqual({
      job: 'web-migrate-abc',
      phase: 'Succeeded',
      startedAt: '2026-11-30T04:00:00Z',
      finishedAt: '2026-11-30T04:00:07Z',
    });
  });

  it('is Failed when the Job is Failed, with the failed pod’s own words', () => {
    const failed = job({
      startTime: new Date('2026-11-30T04:00:00Z'),
      conditions: [
        { type: 'Complete', status: 'False' },
        { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', lastTransitionTime: new Date('2026-11-30T04:00:09Z') },
      ],
    });
    expect(migrationState('web-migrate-abc', failed, [failedPod(1, 'Traceback…\nrelation "items" already exists\n')])).toEqual({
      job: 'web-migrate-abc',
      phase: 'Failed',
      startedAt: '2026-11-30T04:00:00Z',
      finishedAt: '2026-11-30T04:00:09Z',
      message: 'Job web-migrate-abc failed (BackoffLimitExceeded): exited with code 1: relation "items" already exists',
    });
  });
});

describe('failureMessage', () => {
  it('falls back to the Job’s own message when no pod says anything (a deadline)', () => {
    expect(failureMessage('j', { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }, [])).toBe(
      'Job j failed (DeadlineExceeded): Job was active longer than specified deadline',
    );
    expect(failureMessage('j', {}, [])).toBe('Job j failed');
  });

  it('takes the last pod that exited non-zero, ignoring successful exits, and says the exit code without a message', () => {
    expect(failureMessage('j', { reason: 'BackoffLimitExceeded' }, [failedPod(2, 'first'), failedPod(0, 'ok'), failedPod(3)])).toBe(
      'Job j failed (BackoffLimitExceeded): exited with code 3',
    );
  });

  it('ignores containers that have not ended, and a termination message of blank lines', () => {
    const waiting: V1Pod = {
      metadata: { name: 'w' },
      status: {
        containerStatuses: [{ name: 'migrate', image: 'x', imageID: '', ready: false, restartCount: 1, state: { waiting: { reason: 'ContainerCreating' } } }],
      },
    };
    expect(failureMessage('j', { reason: 'BackoffLimitExceeded' }, [failedPod(4, 'boom'), waiting])).toBe(
      'Job j failed (BackoffLimitExceeded): exited with code 4: boom',
    );
    expect(failureMessage('j', {}, [failedPod(4, '\n')])).toBe('Job j failed: exited with code 4');
  });

  it('keeps a message of exactly 1024 characters whole', () => {
    const head = 'Job j failed: exited with code 1: ';
    const exact = failureMessage('j', {}, [failedPod(1, 'e'.repeat(1024 - head.length))]);
    expect(exact).toBe(head + 'e'.repeat(1024 - head.length));
    const over = failureMessage('j', {}, [failedPod(1, 'e'.repeat(1025 - head.length))]);
    expect(over).toBe(`${head}${'e'.repeat(1023 - head.length)}…`);
  });

  it('keeps the message within 1024 characters', () => {
    const long = failureMessage('j', { reason: 'X' }, [failedPod(1, 'e'.repeat(5000))]);
    expect(long.length).toBe(1024);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('isRunningMigration', () => {
  it('is true only for this app’s migration Jobs that neither completed nor failed', () => {
    expect(isRunningMigration(migrationJobOf('a', 'web', '2026-01-01T00:00:00Z'), 'web')).toBe(true);
    expect(isRunningMigration(migrationJobOf('a', 'web', '2026-01-01T00:00:00Z', [{ type: 'Complete', status: 'True' }]), 'web')).toBe(false);
    expect(isRunningMigration(migrationJobOf('a', 'web', '2026-01-01T00:00:00Z', [{ type: 'Failed', status: 'True' }]), 'web')).toBe(false);
    expect(isRunningMigration(migrationJobOf('a', 'web', '2026-01-01T00:00:00Z', [{ type: 'Failed', status: 'False' }]), 'web')).toBe(true);
    expect(isRunningMigration(migrationJobOf('a', 'web', '2026-01-01T00:00:00Z', [{ type: 'Complete', status: 'False' }]), 'web')).toBe(true);
    expect(isRunningMigration(migrationJobOf('a', 'shop', '2026-01-01T00:00:00Z'), 'web')).toBe(false);
    const backup = migrationJobOf('a', 'web', '2026-01-01T00:00:00Z');
    backup.metadata = { ...backup.metadata, labels: { 'app.kubernetes.io/instance': 'web', 'app.kubernetes.io/component': 'postgres' } };
    expect(isRunningMigration(backup, 'web')).toBe(false);
    expect(isRunningMigration({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'bare' } }, 'web')).toBe(false);
  });
});

describe('migrationPods', () => {
  it('picks the pods of one release of one app', () => {
    const other = { ...failedPod(1), metadata: { name: 'q', labels: { 'app.kubernetes.io/instance': 'web', 'backendapp.io/release': 'def' } } };
    expect(migrationPods([failedPod(1), other], 'web', 'abc').map((p) => p.metadata?.name)).toEqual(['p']);
    expect(migrationPods([failedPod(1)], 'shop', 'abc')).toEqual([]);
  });
});

describe('expiredMigrations', () => {
  const jobs = [1, 2, 3, 4, 5].map((i) => migrationJobOf(`web-migrate-${i}`, 'web', `2026-01-0${i}T00:00:00Z`));

  it('keeps the newest three of the app and expires the rest', () => {
    expect(expiredMigrations(jobs, 'web', 'web-migrate-5').map((j) => j.metadata?.name)).toEqual(['web-migrate-2', 'web-migrate-1']);
  });

  it('never expires the current release’s Job, nor another app’s', () => {
    expect(expiredMigrations(jobs, 'web', 'web-migrate-1').map((j) => j.metadata?.name)).toEqual(['web-migrate-2']);
    expect(
      expiredMigrations([...jobs, migrationJobOf('shop-migrate-0', 'shop', '2025-01-01T00:00:00Z')], 'web', undefined).map((j) => j.metadata?.name),
    ).toEqual(['web-migrate-2', 'web-migrate-1']);
    expect(expiredMigrations(jobs.slice(0, 3), 'web', undefined)).toEqual([]);
  });

  it('leaves the app’s other Jobs alone', () => {
    const other = migrationJobOf('web-backup-0', 'web', '2025-01-01T00:00:00Z');
    other.metadata = { ...other.metadata, labels: { 'app.kubernetes.io/instance': 'web', 'app.kubernetes.io/component': 'postgres' } };
    expect(expiredMigrations([...jobs, other], 'web', undefined).map((j) => j.metadata?.name)).toEqual(['web-migrate-2', 'web-migrate-1']);
  });

  it('orders Jobs created in the same second by name, and one without a creation time as the oldest', () => {
    const same = ['c', 'a', 'd', 'b'].map((n) => migrationJobOf(`web-migrate-${n}`, 'web', '2026-01-01T00:00:00Z'));
    expect(expiredMigrations(same, 'web', undefined).map((j) => j.metadata?.name)).toEqual(['web-migrate-a']);
    const undated = { ...migrationJobOf('web-migrate-z', 'web', ''), metadata: { name: 'web-migrate-z', labels: jobs[0]!.metadata!.labels } };
    expect(expiredMigrations([undated, ...jobs.slice(2)], 'web', undefined).map((j) => j.metadata?.name)).toEqual(['web-migrate-z']);
  });
});
