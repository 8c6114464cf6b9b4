// Why a component's pods are not ready, read from the pods themselves: a container
// waiting in CreateContainerConfigError, ImagePullBackOff or CrashLoopBackOff, or a
// pod the scheduler cannot place. Workload counts say "0/2"; this says why. Pure, so
// every rule is unit-tested without a cluster.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';

/**
 * Waiting reasons that mean the container will not start by itself soon. Others
 * (ContainerCreating, PodInitializing) are the normal way to a running container.
 */
export const WAITING_PROBLEMS: ReadonlySet<string> = new Set([
  'CreateContainerConfigError',
  'CreateContainerError',
  'ImagePullBackOff',
  'ErrImagePull',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CrashLoopBackOff',
  'RunContainerError',
]);

/** Longest problem text kept per pod: a status message is read by people, not parsed. */
const MAX_PROBLEM_LENGTH = 200;

/**
 * The fields of a pod that problem detection reads, and nothing else: the operator
 * caches every pod of every app, so each one is kept small (an informer transform).
 */
export function podSummary(pod: V1Pod): V1Pod {
  const m = pod.metadata ?? {};
  const s = pod.status ?? {};
  const containers = (cs: V1ContainerStatus[] | undefined) =>
    cs?.map((c) => ({
      name: c.name,
      ready: c.ready,
      restartCount: c.restartCount,
      image: c.image,
      imageID: '',
      ...(c.state ? { state: pickState(c.state) } : {}),
      ...(c.lastState?.terminated ? { lastState: { terminated: pickTerminated(c.lastState.terminated) } } : {}),
    }));
  const unschedulable = s.conditions?.filter((c) => c.type === 'PodScheduled' && c.status === 'False');
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    status: {
      phase: s.phase,
      ...(unschedulable?.length ? { conditions: unschedulable.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })) } : {}),
      ...(s.initContainerStatuses ? { initContainerStatuses: containers(s.initContainerStatuses) } : {}),
      ...(s.containerStatuses ? { containerStatuses: containers(s.containerStatuses) } : {}),
    },
  };
}

function pickState(state: NonNullable<V1ContainerStatus['state']>): NonNullable<V1ContainerStatus['state']> {
  if (state.waiting) return { waiting: { reason: state.waiting.reason, message: state.waiting.message } };
  if (state.terminated) return { terminated: pickTerminated(state.terminated) };
  return state.running ? { running: {} } : {};
}

function pickTerminated(t: NonNullable<NonNullable<V1ContainerStatus['state']>['terminated']>) {
  return { exitCode: t.exitCode, reason: t.reason, message: t.message?.slice(0, MAX_PROBLEM_LENGTH) };
}

/**
 * What keeps this pod from running, in a line, or undefined when nothing does (it
 * may still be starting). Unschedulable first: such a pod has no containers yet.
 */
export function podProblem(pod: V1Pod): string | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined;
  const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (unschedulable) return clip(`Unschedulable: ${unschedulable.message ?? 'no node fits the pod'}`);
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of statuses) {
    const waiting = c.state?.waiting;
    if (!waiting?.reason || !WAITING_PROBLEMS.has(waiting.reason)) continue;
    if (waiting.reason === 'CrashLoopBackOff') return clip(`CrashLoopBackOff: container ${c.name} ${lastExit(c)}`);
    return clip(waiting.message ? `${waiting.reason}: ${waiting.message}` : `${waiting.reason}: container ${c.name}`);
  }
  return undefined;
}

/** "exited with code 1 (restarted 3 times): <termination message>" */
function lastExit(c: V1ContainerStatus): string {
  const t = c.lastState?.terminated;
  const restarts = `restarted ${c.restartCount} time${c.restartCount === 1 ? '' : 's'}`;
  if (!t) return `keeps exiting (${restarts})`;
  const how = t.reason === 'OOMKilled' ? 'was OOMKilled' : `exited with code ${t.exitCode}`;
  const message = t.message?.trim().split('\n').pop();
  return `${how} (${restarts})${message ? `: ${message}` : ''}`;
}

/**
 * The problem to report for a component: the one most of its pods share (the same
 * missing Secret on every replica is one problem), the earliest in name order on a
 * tie so the message does not flap between equal causes.
 */
export function componentProblem(pods: readonly V1Pod[]): string | undefined {
  const counts = new Map<string, number>();
  const sorted = [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const p of sorted) {
    const problem = podProblem(p);
    if (problem) counts.set(problem, (counts.get(problem) ?? 0) + 1);
  }
  let best: string | undefined;
  let most = 0;
  for (const [problem, n] of counts) {
    if (n > most) {
      best = problem;
      most = n;
    }
  }
  return best;
}

function clip(s: string): string {
  return s.length <= MAX_PROBLEM_LENGTH ? s : `${s.slice(0, MAX_PROBLEM_LENGTH - 1)}…`;
}
