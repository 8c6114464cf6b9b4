// Status math: what the children say, turned into the BackendApp's status. Pure,
// so every rule below is unit-tested without a cluster.
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { BackendAppStatus, Component, Condition, ReleaseStatus } from '../api/v1alpha1.js';

export type ConditionType = 'Ready' | 'Progressing' | 'Degraded';

/** Progressing's reason while the release's migration is pending or running. */
export const MIGRATING = 'Migrating';
/** Degraded's reason when the release's migration failed. */
export const MIGRATION_FAILED = 'MigrationFailed';

/** What one component's workload reports; `workload` is undefined while it does not exist yet. */
export type ComponentObservation = (
  | { component: Component; kind: 'Deployment'; workload: V1Deployment | undefined; minReplicas?: number }
  | { component: Component; kind: 'StatefulSet'; workload: V1StatefulSet | undefined; minReplicas?: number }
) & {
  /** Why its pods do not run, read from the pods (pods.ts componentProblem). */
  problem?: string;
};

/** Something that stops the operator from acting on the spec, reported instead of counts. */
export interface Blocker {
  /** CamelCase: InvalidSpec, ApplyFailed, Forbidden. */
  reason: string;
  message: string;
}

export interface ComponentState {
  component: Component;
  ready: number;
  desired: number;
  /** The workload runs the latest template with no old pods left. */
  upToDate: boolean;
  /** The Deployment gave up waiting for its rollout (progressDeadlineSeconds). */
  stalled: boolean;
  /** Why pods are not ready, when their containers or the scheduler say so. */
  problem?: string;
}

export function componentState(obs: ComponentObservation): ComponentState {
  const { failedCreate, ...state } = countsOf(obs);
  // A problem matters only while pods are missing: a crash-looping pod of a finished
  // rollout's surplus, or one being replaced, is not why anything waits. A pod that
  // could not even be created (admission refused it) has no status to read, so the
  // Deployment's own word stands in.
  const problem = obs.problem ?? failedCreate;
  return problem && (state.ready < state.desired || !state.upToDate) ? { ...state, problem } : state;
}

function countsOf(obs: ComponentObservation): ComponentState & { failedCreate?: string } {
  const w = obs.workload;
  if (!w) return { component: obs.component, ready: 0, desired: Math.max(1, obs.minReplicas ?? 0), upToDate: false, stalled: false };
  // Under an HPA the autoscaler writes spec.replicas, so the desired count follows
  // it; until the HPA has acted, its minimum is the floor (1 pod of 3 is not Ready).
  const desired = Math.max(w.spec?.replicas ?? 1, obs.minReplicas ?? 0);
  const st = w.status;
  const observed = (st?.observedGeneration ?? 0) >= (w.metadata?.generation ?? 0);
  if (obs.kind === 'Deployment') {
    const ready = st?.availableReplicas ?? 0;
    const upToDate = observed && (st?.updatedReplicas ?? 0) >= desired && (st?.replicas ?? 0) <= desired;
    const conditions = (st as V1Deployment['status'])?.conditions ?? [];
    const stalled = conditions.some((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded');
    // The ReplicaSet could not create a pod (Pod Security admission, a quota): "FailedCreate: pods ... is forbidden: ...".
    const failure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
    const failedCreate = failure ? `${failure.reason ?? 'FailedCreate'}: ${failure.message ?? 'pods could not be created'}` : undefined;
    return { component: obs.component, ready, desired, upToDate, stalled, ...(failedCreate ? { failedCreate } : {}) };
  }
  const sts = st as V1StatefulSet['status'];
  const ready = sts?.availableReplicas ?? sts?.readyReplicas ?? 0;
  const revisionDone = sts?.updateRevision === undefined || sts.currentRevision === sts.updateRevision;
  const upToDate = observed && revisionDone && (sts?.updatedReplicas ?? sts?.currentReplicas ?? 0) >= desired;
  return { component: obs.component, ready, desired, upToDate, stalled: false };
}

export function summarize(states: readonly ComponentState[]): string {
  return states.map((s) => `${s.component} ${s.ready}/${s.desired}`).join(', ');
}

/**
 * The status the operator wants to see, computed from the children. Ready is True
 * exactly when every component has its desired pods available (autoscaled counts
 * included) and runs the latest template. A blocker (invalid spec, refused apply)
 * wins over the counts: the app is not what the spec asks for, and people must see why.
 */
export function desiredStatus(
  generation: number,
  observations: readonly ComponentObservation[],
  blocker: Blocker | undefined,
  release?: ReleaseStatus,
): Omit<BackendAppStatus, 'conditions'> & { conditions: Omit<Condition, 'lastTransitionTime'>[] } {
  const states = observations.map(componentState);
  const components: NonNullable<BackendAppStatus['components']> = {};
  for (const s of states) components[s.component] = { ready: s.ready, desired: s.desired, ...(s.problem ? { message: s.problem } : {}) };
  const summary = summarize(states);
  const waiting = states.filter((s) => s.ready < s.desired || !s.upToDate);
  const stalled = states.filter((s) => s.stalled);
  const allReady = waiting.length === 0;
  const cond = (type: ConditionType, status: boolean, reason: string, message: string) => ({
    type,
    status: status ? ('True' as const) : ('False' as const),
    observedGeneration: generation,
    reason,
    message,
  });

  // Everything but the phase and conditions is the same whatever the story.
  const withConditions = (phase: NonNullable<BackendAppStatus['phase']>, conditions: Omit<Condition, 'lastTransitionTime'>[]) => ({
    observedGeneration: generation,
    phase,
    // At most seven components with their counts: far within the schema's 256 characters.
    summary,
    components,
    ...(release ? { release } : {}),
    conditions,
  });
  if (blocker) {
    const message = `${blocker.message}${summary ? ` (running as before: ${summary})` : ''}`;
    return withConditions('Failed', [
      cond('Ready', false, blocker.reason, message),
      cond('Progressing', false, blocker.reason, 'The operator cannot act on this generation until the problem is fixed.'),
      cond('Degraded', true, blocker.reason, message),
    ]);
  }

  // "worker 0/2: CreateContainerConfigError: secret "keys" not found", so kubectl wait,
  // kubectl describe and Argo CD say why, not only how many.
  const waitingText = waiting
    .map((s) => `${s.component} ${s.ready}/${s.desired}${s.upToDate ? '' : ' (rolling out)'}${s.problem ? `: ${s.problem}` : ''}`)
    .join(', ');
  const ready = allReady
    ? cond('Ready', true, 'AllComponentsReady', `All components are ready: ${summary}`)
    : cond('Ready', false, 'ComponentsNotReady', `Waiting for ${waitingText}`);

  // A release whose migration has not succeeded holds api, worker and beat on the
  // template they had. Ready is False, as for any spec not yet running (so
  // `kubectl wait` after a release does not pass on the old pods), and its message
  // says what does run; the component counts stay those of the running pods.
  const migration = release?.migration;
  const running = summary ? ` (running: ${summary})` : '';
  if (migration?.phase === 'Failed') {
    const message = `${migration.message ?? `Job ${migration.job} failed`}; api, worker and beat keep running the previous release`;
    return withConditions('Degraded', [
      cond('Ready', false, MIGRATION_FAILED, `${message}${running}`),
      cond('Progressing', false, MIGRATION_FAILED, message),
      cond('Degraded', true, MIGRATION_FAILED, message),
    ]);
  }
  if (migration && migration.phase !== 'Succeeded') {
    const doing = migration.phase === 'Running' ? `Job ${migration.job} is running` : (migration.message ?? `Job ${migration.job} is about to start`);
    const message = `Migrating to release ${release?.revision}: ${doing}; api, worker and beat wait for it`;
    return withConditions('Progressing', [
      cond('Ready', false, MIGRATING, `${message}${running}`),
      cond('Progressing', true, MIGRATING, message),
      cond('Degraded', false, 'AsExpected', 'No problems found.'),
    ]);
  }

  const degraded = stalled.length > 0;
  return withConditions(allReady ? 'Ready' : degraded ? 'Degraded' : 'Progressing', [
    ready,
    allReady
      ? cond('Progressing', false, 'RolloutComplete', 'Every component runs the latest spec.')
      : cond('Progressing', !degraded, degraded ? 'ProgressDeadlineExceeded' : 'RollingOut', `Waiting for ${waitingText}`),
    degraded
      ? cond(
          'Degraded',
          true,
          'ProgressDeadlineExceeded',
          `Rollout stalled for ${stalled.map((s) => s.component).join(', ')}: pods did not become available in time; see kubectl describe deployment`,
        )
      : cond('Degraded', false, 'AsExpected', 'No problems found.'),
  ]);
}

/**
 * Keeps lastTransitionTime from the previous conditions when a condition's status
 * did not change, as metav1.Condition requires; `now` stamps the ones that did.
 */
export function withTransitionTimes(
  next: readonly Omit<Condition, 'lastTransitionTime'>[],
  previous: readonly Condition[] | undefined,
  now: Date,
): Condition[] {
  const stamp = isoSeconds(now);
  return next.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: before && before.status === c.status ? before.lastTransitionTime : stamp };
  });
}

/** RFC 3339 to the second, as Kubernetes writes times: "2026-11-30T04:00:00Z". */
export function isoSeconds(t: Date): string {
  return `${t.toISOString().slice(0, 19)}Z`;
}
