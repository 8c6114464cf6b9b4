import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { componentState, desiredStatus, isoSeconds, withTransitionTimes, type ComponentObservation } from './status.js';

function deployment(
  replicas: number,
  available: number,
  opts: { generation?: number; observed?: number; updated?: number; total?: number; stalled?: boolean } = {},
): V1Deployment {
  return {
    metadata: { name: 'd', generation: opts.generation ?? 2 },
    spec: { replicas, selector: {}, template: {} },
    status: {
      observedGeneration: opts.observed ?? opts.generation ?? 2,
      replicas: opts.total ?? replicas,
      updatedReplicas: opts.updated ?? replicas,
      availableReplicas: available,
      conditions: opts.stalled ? [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] : [],
    },
  };
}

function statefulSet(ready: number, rev: { current: string; update: string } = { current: 'r1', update: 'r1' }): V1StatefulSet {
  return {
    metadata: { name: 's', generation: 1 },
    spec: { replicas: 1, selector: {}, serviceName: 's', template: {} },
    status: {
      observedGeneration: 1,
      replicas: 1,
      readyReplicas: ready,
      availableReplicas: ready,
      updatedReplicas: 1,
      currentRevision: rev.current,
      updateRevision: rev.update,
    },
  };
}

const cond = (s: ReturnType<typeof desiredStatus>, type: string) => s.conditions.find((c) => c.type === type);

describe('desiredStatus', () => {
  const running: ComponentObservation[] = [{ component: 'api', kind: 'Deployment', workload: deployment(2, 2) }];
  const release = (migration: NonNullable<Parameters<typeof desiredStatus>[3]>['migration']) => ({ revision: 'abc1234567', image: 'app:2', migration });

  it('reports the release as given, and is Ready as usual once its migration succeeded', () => {
    const r = release({ job: 'web-migrate-abc1234567', phase: 'Succeeded' });
    const s = desiredStatus(3, running, undefined, r);
    expect(s.release).toEqual(r);
    expect(s.phase).toBe('Ready');
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutComplete' });
  });

  it('is Progressing/Migrating while the migration runs; not Ready, saying what runs', () => {
    const s = desiredStatus(3, running, undefined, release({ job: 'web-migrate-abc1234567', phase: 'Running' }));
    expect(s.phase).toBe('Progressing');
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'Migrating' });
    expect(cond(s, 'Ready')?.message).toMatch(/\(running: api 2\/2\)$/);
    expect(s.components?.api).toEqual({ ready: 2, desired: 2 });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'Migrating' });
    expect(cond(s, 'Progressing')?.message).toBe('Migrating to release abc1234567: Job web-migrate-abc1234567 is running; api, worker and beat wait for it');
    expect(cond(s, 'Degraded')?.status).toBe('False');
    const pending = desiredStatus(3, running, undefined, release({ job: 'j', phase: 'Pending', message: 'Waiting for StatefulSet web-postgres to be ready' }));
    expect(cond(pending, 'Progressing')?.message).toContain('Waiting for StatefulSet web-postgres to be ready');
  });

  it('is Degraded/MigrationFailed with the failure when the migration failed; not Ready, saying what runs', () => {
    const s = desiredStatus(
      3,
      running,
      undefined,
      release({ job: 'j', phase: 'Failed', message: 'Job j failed (BackoffLimitExceeded): exited with code 1: boom' }),
    );
    expect(s.phase).toBe('Degraded');
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'MigrationFailed' });
    expect(cond(s, 'Ready')?.message).toContain('(running: api 2/2)');
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'MigrationFailed' });
    expect(cond(s, 'Degraded')?.message).toBe(
      'Job j failed (BackoffLimitExceeded): exited with code 1: boom; api, worker and beat keep running the previous release',
    );
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'False', reason: 'MigrationFailed' });
    const first = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: undefined }], undefined, release({ job: 'j', phase: 'Failed' }));
    expect(cond(first, 'Ready')?.status).toBe('False');
  });

  it('keeps the release beside a blocker', () => {
    const r = release({ job: 'j', phase: 'Succeeded' });
    expect(desiredStatus(3, running, { reason: 'Forbidden', message: 'no' }, r).release).toEqual(r);
  });

  it('is Ready when every component has its desired pods available and up to date', () => {
    const obs: ComponentObservation[] = [
      { component: 'api', kind: 'Deployment', workload: deployment(3, 3) },
      { component: 'postgres', kind: 'StatefulSet', workload: statefulSet(1) },
    ];
    const s = desiredStatus(4, obs, undefined);
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: 'AllComponentsReady', observedGeneration: 4 });
    expect(cond(s, 'Progressing')?.status).toBe('False');
    expect(cond(s, 'Degraded')?.status).toBe('False');
    expect(s.phase).toBe('Ready');
    expect(s.summary).toBe('api 3/3, postgres 1/1');
    expect(s.components).toEqual({ api: { ready: 3, desired: 3 }, postgres: { ready: 1, desired: 1 } });
  });

  it('follows the autoscaler: 7 of 7 after an HPA scale-up is Ready, not Degraded', () => {
    const s = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: deployment(7, 7) }], undefined);
    expect(cond(s, 'Ready')?.status).toBe('True');
    expect(cond(s, 'Degraded')?.status).toBe('False');
  });

  it('is not Ready while a rollout still has old pods or is not observed yet', () => {
    const rolling = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: deployment(2, 2, { updated: 1, total: 3 }) }], undefined);
    expect(cond(rolling, 'Ready')).toMatchObject({ status: 'False', reason: 'ComponentsNotReady' });
    expect(cond(rolling, 'Ready')?.message).toContain('api 2/2 (rolling out)');
    expect(cond(rolling, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });
    const unobserved = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: deployment(2, 2, { generation: 3, observed: 2 }) }], undefined);
    expect(cond(unobserved, 'Ready')?.status).toBe('False');
    const sts = desiredStatus(1, [{ component: 'redis', kind: 'StatefulSet', workload: statefulSet(1, { current: 'a', update: 'b' }) }], undefined);
    expect(cond(sts, 'Ready')?.status).toBe('False');
  });

  it('takes the HPA minimum as the floor before the autoscaler has acted', () => {
    const s = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: deployment(1, 1), minReplicas: 3 }], undefined);
    expect(s.components?.api).toEqual({ ready: 1, desired: 3 });
    expect(cond(s, 'Ready')?.status).toBe('False');
  });

  it('counts a missing workload as 0 of 1', () => {
    const s = desiredStatus(1, [{ component: 'worker', kind: 'Deployment', workload: undefined }], undefined);
    expect(s.components?.worker).toEqual({ ready: 0, desired: 1 });
    expect(s.phase).toBe('Progressing');
  });

  it('is Degraded when a rollout exceeded its progress deadline', () => {
    const s = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: deployment(2, 1, { updated: 1, stalled: true }) }], undefined);
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'ProgressDeadlineExceeded' });
    expect(s.phase).toBe('Degraded');
  });

  it("says why pods are not ready, in the component's status and in the Ready message", () => {
    const problem = 'CreateContainerConfigError: secret "finwise-api-keys" not found';
    const obs: ComponentObservation[] = [
      { component: 'api', kind: 'Deployment', workload: deployment(2, 2) },
      { component: 'worker', kind: 'Deployment', workload: deployment(2, 0), problem },
    ];
    const s = desiredStatus(3, obs, undefined);
    expect(s.components?.worker).toEqual({ ready: 0, desired: 2, message: problem });
    expect(s.components?.api).toEqual({ ready: 2, desired: 2 });
    expect(cond(s, 'Ready')?.message).toBe(`Waiting for worker 0/2: ${problem}`);
    expect(cond(s, 'Progressing')?.message).toBe(`Waiting for worker 0/2: ${problem}`);
  });

  it("leaves out a pod's problem once the component has every pod it wants", () => {
    const obs: ComponentObservation[] = [
      { component: 'worker', kind: 'Deployment', workload: deployment(2, 2), problem: 'CrashLoopBackOff: container worker keeps exiting (restarted 1 time)' },
    ];
    const s = desiredStatus(3, obs, undefined);
    expect(s.components?.worker).toEqual({ ready: 2, desired: 2 });
    expect(cond(s, 'Ready')?.status).toBe('True');
  });

  it('reports a blocker on every condition and keeps the counts', () => {
    const s = desiredStatus(5, [{ component: 'api', kind: 'Deployment', workload: deployment(2, 2) }], {
      reason: 'InvalidSpec',
      message: 'spec.api.port: must be a port number between 1 and 65535',
    });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(cond(s, 'Degraded')?.message).toContain('spec.api.port');
    expect(cond(s, 'Degraded')?.message).toContain('running as before: api 2/2');
    expect(s.phase).toBe('Failed');
    expect(s.observedGeneration).toBe(5);
  });
});

describe('withTransitionTimes', () => {
  it('keeps lastTransitionTime unless the status flips', () => {
    const before = [
      { type: 'Ready', status: 'False' as const, reason: 'ComponentsNotReady', message: 'x', lastTransitionTime: '2026-01-01T00:00:00Z' },
      { type: 'Degraded', status: 'False' as const, reason: 'AsExpected', message: 'y', lastTransitionTime: '2026-01-01T00:00:00Z' },
    ];
    const now = new Date('2026-02-02T10:00:00.123Z');
    const after = withTransitionTimes(
      [
        { type: 'Ready', status: 'True', reason: 'AllComponentsReady', message: 'ok' },
        { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'changed text' },
        { type: 'Progressing', status: 'False', reason: 'RolloutComplete', message: 'z' },
      ],
      before,
      now,
    );
    expect(after.map((c) => c.lastTransitionTime)).toEqual(['2026-02-02T10:00:00Z', '2026-01-01T00:00:00Z', '2026-02-02T10:00:00Z']);
  });
});

describe('componentState', () => {
  it('reads a StatefulSet without availableReplicas from readyReplicas', () => {
    const sts = statefulSet(1);
    delete sts.status!.availableReplicas;
    expect(componentState({ component: 'mongodb', kind: 'StatefulSet', workload: sts }).ready).toBe(1);
  });
});

// The conditions and messages people read (kubectl describe, kubectl wait, Argo CD),
// word for word, and the edges of the counting rules.
describe('desiredStatus, as people read it', () => {
  it('spells out every condition of a ready app', () => {
    const s = desiredStatus(4, [{ component: 'api', kind: 'Deployment', workload: deployment(3, 3) }], undefined);
    expect(s.conditions).toEqual([
      { type: 'Ready', status: 'True', observedGeneration: 4, reason: 'AllComponentsReady', message: 'All components are ready: api 3/3' },
      { type: 'Progressing', status: 'False', observedGeneration: 4, reason: 'RolloutComplete', message: 'Every component runs the latest spec.' },
      { type: 'Degraded', status: 'False', observedGeneration: 4, reason: 'AsExpected', message: 'No problems found.' },
    ]);
  });

  it('lists every component it waits for, marking those still rolling out', () => {
    const s = desiredStatus(
      2,
      [
        { component: 'api', kind: 'Deployment', workload: deployment(2, 1) },
        { component: 'worker', kind: 'Deployment', workload: undefined },
        { component: 'redis', kind: 'StatefulSet', workload: statefulSet(1) },
      ],
      undefined,
    );
    expect(cond(s, 'Ready')?.message).toBe('Waiting for api 1/2, worker 0/1 (rolling out)');
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut', message: 'Waiting for api 1/2, worker 0/1 (rolling out)' });
    expect(s.summary).toBe('api 1/2, worker 0/1, redis 1/1');
  });

  it('names the stalled components and where to look', () => {
    const s = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: deployment(2, 1, { updated: 1, stalled: true }) }], undefined);
    expect(cond(s, 'Degraded')?.message).toBe('Rollout stalled for api: pods did not become available in time; see kubectl describe deployment');
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
  });

  it('gives a blocker on every condition, Progressing saying the operator waits for a fix', () => {
    const blocker = { reason: 'Forbidden', message: 'deployments.apps is forbidden' };
    const s = desiredStatus(5, [{ component: 'api', kind: 'Deployment', workload: deployment(2, 2) }], blocker);
    expect(s.conditions).toEqual([
      { type: 'Ready', status: 'False', observedGeneration: 5, reason: 'Forbidden', message: 'deployments.apps is forbidden (running as before: api 2/2)' },
      {
        type: 'Progressing',
        status: 'False',
        observedGeneration: 5,
        reason: 'Forbidden',
        message: 'The operator cannot act on this generation until the problem is fixed.',
      },
      { type: 'Degraded', status: 'True', observedGeneration: 5, reason: 'Forbidden', message: 'deployments.apps is forbidden (running as before: api 2/2)' },
    ]);
  });

  it('gives a blocker message alone when nothing runs yet', () => {
    const s = desiredStatus(1, [], { reason: 'InvalidSpec', message: 'spec.image: is required (a string)' });
    expect(cond(s, 'Ready')?.message).toBe('spec.image: is required (a string)');
  });

  it('is not Ready while an old pod still runs beside the updated ones', () => {
    // Every pod of the new template is there, but the old ReplicaSet's pod is not gone yet.
    const s = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: deployment(2, 2, { updated: 2, total: 3 }) }], undefined);
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', message: 'Waiting for api 2/2 (rolling out)' });
  });

  it('is Ready for a Deployment scaled to zero, whose status leaves its zero counts out', () => {
    const scaledToZero: V1Deployment = {
      metadata: { name: 'd', generation: 4 },
      spec: { replicas: 0, selector: {}, template: {} },
      status: { observedGeneration: 4 },
    };
    const s = desiredStatus(1, [{ component: 'worker', kind: 'Deployment', workload: scaledToZero }], undefined);
    expect(s.components?.worker).toEqual({ ready: 0, desired: 0 });
    expect(cond(s, 'Ready')?.status).toBe('True');
  });

  it('is not Degraded for a new Deployment that has no conditions yet, nor for conditions other than a missed deadline', () => {
    const fresh = deployment(2, 0);
    delete fresh.status!.conditions;
    expect(desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: fresh }], undefined).phase).toBe('Progressing');
    const other = deployment(2, 0);
    other.status!.conditions = [
      { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
      { type: 'Progressing', status: 'False', reason: 'ReplicaSetCreateError' },
      { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate' },
    ];
    const s = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: other }], undefined);
    expect(s.phase).toBe('Progressing');
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
  });

  it('says why pods could not be created (admission refused them), where no pod exists to ask', () => {
    const refused = deployment(2, 0);
    const forbidden =
      'pods "web-api-7d9f" is forbidden: violates PodSecurity "restricted:latest": privileged (container "api" must not set securityContext.privileged=true)';
    refused.status!.conditions = [
      { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' },
      { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: forbidden },
    ];
    const s = desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: refused }], undefined);
    expect(s.components?.api).toEqual({ ready: 0, desired: 2, message: `FailedCreate: ${forbidden}` });
    expect(cond(s, 'Ready')?.message).toBe(`Waiting for api 0/2: FailedCreate: ${forbidden}`);
    // A pod's own problem is more precise; a cleared failure says nothing.
    expect(
      desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: refused, problem: 'CrashLoopBackOff: exit 1' }], undefined).components?.api?.message,
    ).toBe('CrashLoopBackOff: exit 1');
    refused.status!.conditions[1]!.status = 'False';
    expect(desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: refused }], undefined).components?.api).toEqual({ ready: 0, desired: 2 });
  });

  it('says FailedCreate even when the Deployment gives no reason or message', () => {
    const refused = deployment(1, 0);
    refused.status!.conditions = [{ type: 'ReplicaFailure', status: 'True' }];
    expect(desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: refused }], undefined).components?.api?.message).toBe(
      'FailedCreate: pods could not be created',
    );
  });

  it.each([
    [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }, true],
    [{ type: 'Progressing', status: 'True', reason: 'ProgressDeadlineExceeded' }, false],
    [{ type: 'Available', status: 'False', reason: 'ProgressDeadlineExceeded' }, false],
    [{ type: 'Progressing', status: 'False', reason: 'ReplicaSetCreateError' }, false],
  ])('counts a rollout as stalled only on Progressing=False ProgressDeadlineExceeded (%o → %s)', (c, stalled) => {
    const d = deployment(2, 0);
    d.status!.conditions = [c];
    expect(desiredStatus(1, [{ component: 'api', kind: 'Deployment', workload: d }], undefined).phase).toBe(stalled ? 'Degraded' : 'Progressing');
  });

  it('writes times to the second, as Kubernetes does', () => {
    expect(isoSeconds(new Date('2026-11-30T04:05:06.789Z'))).toBe('2026-11-30T04:05:06Z');
  });

  it('counts a StatefulSet whose pods are not on the update revision yet as rolling out', () => {
    const sts = statefulSet(0);
    sts.status = { observedGeneration: 1, replicas: 0, currentRevision: 'r1', updateRevision: 'r1' };
    const s = desiredStatus(1, [{ component: 'redis', kind: 'StatefulSet', workload: sts }], undefined);
    expect(cond(s, 'Ready')?.message).toBe('Waiting for redis 0/1 (rolling out)');
  });
});

describe('desiredStatus during a release, as people read it', () => {
  const release = (migration: NonNullable<Parameters<typeof desiredStatus>[3]>['migration']) => ({ revision: 'abc1234567', image: 'app:2', migration });

  it('says the migration Job failed when it left no message, and that nothing runs when nothing does', () => {
    const s = desiredStatus(1, [], undefined, release({ job: 'shop-migrate-abc1234567', phase: 'Failed' }));
    expect(cond(s, 'Degraded')?.message).toBe('Job shop-migrate-abc1234567 failed; api, worker and beat keep running the previous release');
    expect(cond(s, 'Ready')?.message).toBe('Job shop-migrate-abc1234567 failed; api, worker and beat keep running the previous release');
  });

  it('says a pending migration Job is about to start, and spells out every condition while migrating', () => {
    const s = desiredStatus(2, [], undefined, release({ job: 'shop-migrate-abc1234567', phase: 'Pending' }));
    const message = 'Migrating to release abc1234567: Job shop-migrate-abc1234567 is about to start; api, worker and beat wait for it';
    expect(s.conditions).toEqual([
      { type: 'Ready', status: 'False', observedGeneration: 2, reason: 'Migrating', message },
      { type: 'Progressing', status: 'True', observedGeneration: 2, reason: 'Migrating', message },
      { type: 'Degraded', status: 'False', observedGeneration: 2, reason: 'AsExpected', message: 'No problems found.' },
    ]);
  });

  it('names every stalled component', () => {
    const stalled = deployment(2, 1, { updated: 1, stalled: true });
    const s = desiredStatus(
      1,
      [
        { component: 'api', kind: 'Deployment', workload: stalled },
        { component: 'worker', kind: 'Deployment', workload: stalled },
      ],
      undefined,
    );
    expect(cond(s, 'Degraded')?.message).toBe('Rollout stalled for api, worker: pods did not become available in time; see kubectl describe deployment');
  });
});
