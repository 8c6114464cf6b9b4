// A release's migration as its Job and pods tell it, for the 'jobs' step and for
// status.release. Pure, so every rule is unit-tested without a cluster.
import type { KubernetesObject, V1Job, V1Pod } from '@kubernetes/client-node';
import type { ReleaseStatus } from '../api/v1alpha1.js';
import { labelOf, nameOf } from '../kinds.js';
import { isoSeconds } from './status.js';
import { COMPONENT_LABEL, INSTANCE_LABEL, MIGRATE, RELEASE_LABEL } from '../render/labels.js';

export type MigrationState = NonNullable<ReleaseStatus['migration']>;

/** Longest failure text kept: status is read by people, not parsed. */
const MAX_MESSAGE_LENGTH = 1024;

/**
 * Where the migration Job `job` stands: Pending before it exists (`waitingFor`
 * says why it was not created yet), Running, Succeeded once it reports Complete,
 * Failed once it reports Failed, with the failed pod's termination message.
 */
export function migrationState(job: string, live: V1Job | undefined, pods: readonly V1Pod[], waitingFor?: string): MigrationState {
  if (!live) return { job, phase: 'Pending', ...(waitingFor ? { message: waitingFor } : {}) };
  const holds = (type: string) => jobCondition(live, type);
  const startedAt = timestamp(live.status?.startTime);
  const started = startedAt ? { startedAt } : {};
  const failed = holds('Failed');
  if (failed) {
    const finishedAt = timestamp(failed.lastTransitionTime);
    return { job, phase: 'Failed', ...started, ...(finishedAt ? { finishedAt } : {}), message: failureMessage(job, failed, pods) };
  }
  if (holds('Complete')) {
    const finishedAt = timestamp(live.status?.completionTime);
    return { job, phase: 'Succeeded', ...started, ...(finishedAt ? { finishedAt } : {}) };
  }
  return { job, phase: 'Running', ...started };
}

/**
 * "Job web-migrate-1a2b3c failed (BackoffLimitExceeded): exited with code 1:
 * relation "items" already exists" — the Job's reason, then what its last failed
 * pod said (its termination message, or the last log line the kubelet put there).
 */
export function failureMessage(job: string, failed: { reason?: string; message?: string }, pods: readonly V1Pod[]): string {
  const head = `Job ${job} failed${failed.reason ? ` (${failed.reason})` : ''}`;
  const exits = pods
    .flatMap((p) => p.status?.containerStatuses ?? [])
    .map((c) => c.state?.terminated)
    .filter((t) => t !== undefined && t.exitCode !== 0);
  const last = exits[exits.length - 1];
  const said = last?.message?.trim().split('\n').pop();
  const detail = last ? `exited with code ${last.exitCode}${said ? `: ${said}` : ''}` : (failed.message ?? '');
  const text = detail ? `${head}: ${detail}` : head;
  return text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH - 1)}…`;
}

/** True for a migration Job of this app that has neither completed nor failed. */
export function isRunningMigration(obj: KubernetesObject, app: string): boolean {
  if (labelOf(obj, INSTANCE_LABEL) !== app || labelOf(obj, COMPONENT_LABEL) !== MIGRATE) return false;
  return !jobCondition(obj as V1Job, 'Complete') && !jobCondition(obj as V1Job, 'Failed');
}

/** The Job's condition of this type when it holds (status True). */
function jobCondition(job: V1Job, type: string) {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** The pods of one release's migration. */
export function migrationPods(pods: readonly KubernetesObject[], app: string, revision: string): V1Pod[] {
  return pods.filter((p) => labelOf(p, INSTANCE_LABEL) === app && labelOf(p, RELEASE_LABEL) === revision) as V1Pod[];
}

/**
 * Migration Jobs of an app to delete: all but the newest `keep` by creation time,
 * never the current release's (a failed one stays until a newer release replaces it).
 */
export function expiredMigrations(jobs: readonly KubernetesObject[], app: string, current: string | undefined, keep = 3): KubernetesObject[] {
  const mine = jobs
    .filter((j) => labelOf(j, INSTANCE_LABEL) === app && labelOf(j, COMPONENT_LABEL) === MIGRATE)
    .sort((a, b) => created(b) - created(a) || nameOf(b).localeCompare(nameOf(a)));
  return mine.slice(keep).filter((j) => nameOf(j) !== current);
}

function created(o: KubernetesObject): number {
  const t = o.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

function timestamp(t: Date | string | undefined): string | undefined {
  if (!t) return undefined;
  return isoSeconds(new Date(t));
}
