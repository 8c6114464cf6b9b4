// Every kind the operator reads or writes, written down once (controller-runtime's
// Scheme): the operator's caches and watches, the writer's request paths, the
// renderer's sort order, RBAC checks, the tests and the benchmarks read this table.
import { GROUP, KIND, PLURAL, VERSION } from './api/v1alpha1.js';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, VOLUME } from './render/labels.js';
import type { ResourceRef } from './runtime/index.js';

export interface Kind extends ResourceRef {
  kind: string;
  /** "apps/v1", "v1": as objects carry it. */
  apiVersion: string;
  namespaced: boolean;
  /**
   * Created once, never updated nor pruned (a Job: its pod template is immutable,
   * and old ones are kept for their logs until the reconciler's history rule
   * deletes them).
   */
  createOnly: boolean;
  /**
   * Deleted when the spec no longer asks for one. Not Jobs (see createOnly), nor
   * claims: data goes only with the app, under deletionPolicy Delete.
   */
  prunable: boolean;
}

function kind(group: string, version: string, plural: string, name: string, opts: { createOnly?: boolean; prunable?: boolean } = {}): Kind {
  const createOnly = opts.createOnly ?? false;
  return {
    group,
    version,
    plural,
    kind: name,
    apiVersion: group ? `${group}/${version}` : version,
    namespaced: true,
    createOnly,
    prunable: opts.prunable ?? !createOnly,
  };
}

/** The input: listed, watched, finalized, status written. */
export const BACKENDAPP = kind(GROUP, VERSION, PLURAL, KIND);

/** The release's migration Jobs: created once, kept for their logs. */
export const JOB = kind('batch', 'v1', 'jobs', 'Job', { createOnly: true });

/**
 * The app's own volumes (spec.volumes with a persistentVolumeClaim): applied and
 * watched like any child, never pruned. The databases' claims come from their
 * StatefulSets' volumeClaimTemplates; the finalizer deletes both under Delete.
 */
export const PERSISTENT_VOLUME_CLAIM = kind('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', { prunable: false });

/**
 * What an app becomes: cached by the operator's label, watched for drift,
 * applied, and pruned when the spec no longer asks for one (see prunable). The order in which
 * they are applied is render/steps.ts STEPS; this one only sorts the objects
 * within a step.
 */
export const CHILD_KINDS: readonly Kind[] = [
  kind('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy'),
  kind('', 'v1', 'secrets', 'Secret'),
  PERSISTENT_VOLUME_CLAIM,
  kind('', 'v1', 'services', 'Service'),
  kind('apps', 'v1', 'statefulsets', 'StatefulSet'),
  kind('apps', 'v1', 'deployments', 'Deployment'),
  JOB,
  kind('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler'),
  kind('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget'),
];

/** Read only, cached cut down (controller/pods.ts): status says why pods do not run. */
export const POD = kind('', 'v1', 'pods', 'Pod');

/**
 * The label selector of the operator's cache of a child kind: what it made. For
 * claims, only the app volumes': the databases' claims carry the same labels (from
 * their StatefulSets' templates) but are not children to apply, and caching them
 * would wake their app on every bind and resize.
 */
export function childSelector(k: Kind): string {
  const ours = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
  return k === PERSISTENT_VOLUME_CLAIM ? `${ours},${COMPONENT_LABEL}=${VOLUME}` : ours;
}

/** An object's name: every object from the API server or the renderer has one. */
export function nameOf(obj: { metadata?: { name?: string } }): string {
  return obj.metadata?.name ?? '';
}

/** An object's namespace ('' for none). */
export function namespaceOf(obj: { metadata?: { namespace?: string } }): string {
  return obj.metadata?.namespace ?? '';
}

/** One label's value, if the object carries it. */
export function labelOf(obj: { metadata?: { labels?: Record<string, string> } }, label: string): string | undefined {
  return obj.metadata?.labels?.[label];
}

/** Cache key of a kind, as objects carry it: "apps/v1/Deployment", "v1/Secret". */
export function kindKey(obj: { apiVersion?: string; kind?: string }): string {
  return `${obj.apiVersion}/${obj.kind}`;
}

const BY_KEY = new Map([BACKENDAPP, ...CHILD_KINDS, POD].map((k) => [kindKey(k), k]));

/** The table's entry for a cache key or an object's apiVersion and kind. */
export function kindOf(keyOrObject: string | { apiVersion?: string; kind?: string }): Kind {
  const key = typeof keyOrObject === 'string' ? keyOrObject : kindKey(keyOrObject);
  const k = BY_KEY.get(key);
  if (!k) throw new Error(`unknown kind ${key}`);
  return k;
}
