// Helpers for the fault drills (test/drills): the API server spoken to directly
// (hundreds of requests; a kubectl process each would be the slowest part of a
// drill), the local control plane's components stopped and started, and the
// operator's probes and metrics read.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { API_VERSION } from '../../src/api/v1alpha1.js';
import { BACKENDAPP, CHILD_KINDS as ORDERED_CHILD_KINDS, PERSISTENT_VOLUME_CLAIM, POD, childSelector, kindKey } from '../../src/kinds.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../../src/render/labels.js';
import { isNotFound, requestJSON, resourcePath, type ResourceRef } from '../../src/runtime/client.js';
import { loadKubeConfig, run, waitFor } from './cluster.js';
import type { Manifest } from './apps.js';
import type { OperatorProcess } from './operator.js';

const root = path.resolve(import.meta.dirname, '../..');

export const BACKENDAPPS: ResourceRef = BACKENDAPP;
export const PVCS: ResourceRef = PERSISTENT_VOLUME_CLAIM;
export const PVS: ResourceRef = { group: '', version: 'v1', plural: 'persistentvolumes', kind: 'PersistentVolume', namespaced: false };
export const PODS: ResourceRef = POD;
export const REPLICASETS: ResourceRef = { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet' };
export const EVENTS: ResourceRef = { group: '', version: 'v1', plural: 'events', kind: 'Event' };
/** Every kind the operator creates, by cache key ("apps/v1/Deployment"). */
/** The operator's child kinds by cache key ("apps/v1/Deployment"). */
export const CHILD_KINDS: Record<string, ResourceRef> = Object.fromEntries(ORDERED_CHILD_KINDS.map((k) => [kindKey(k), k]));
export const OUR_LABELS = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

let kc: KubeConfig | undefined;
/** The test's own identity (the admin kubeconfig of the global setup). */
export function kubeConfig(): KubeConfig {
  kc ??= loadKubeConfig();
  return kc;
}

// biome-ignore lint/suspicious/noExplicitAny: drills read many kinds of object, each as the API server returns it
type Loose = any;

/** An object as the API server returns it, loosely typed: drills read many kinds. */
export type Obj = KubernetesObject & {
  metadata: NonNullable<KubernetesObject['metadata']> & { name: string };
  spec?: Record<string, Loose>;
  status?: Record<string, Loose>;
  data?: Record<string, string>;
  [field: string]: Loose;
};

export async function list(ref: ResourceRef, namespace?: string, labelSelector?: string): Promise<Obj[]> {
  const body = (await requestJSON(kubeConfig(), { method: 'GET', path: resourcePath(ref, namespace), query: { labelSelector } })) as { items: Obj[] };
  const apiVersion = ref.group ? `${ref.group}/${ref.version}` : ref.version;
  return body.items.map((o) => ({ ...o, apiVersion, kind: ref.kind }));
}

export async function get(ref: ResourceRef, namespace: string | undefined, name: string): Promise<Obj | undefined> {
  try {
    return (await requestJSON(kubeConfig(), { method: 'GET', path: resourcePath(ref, namespace, name) })) as Obj;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Server-side apply as a person would with `kubectl apply --server-side` (field manager test-user). */
export async function applyManifest(m: Manifest | Obj, fieldManager = 'test-user'): Promise<Obj> {
  const ns = m.metadata.namespace;
  return (await requestJSON(kubeConfig(), {
    method: 'PATCH',
    path: resourcePath(BACKENDAPPS, ns, m.metadata.name),
    query: { fieldManager, force: true, fieldValidation: 'Strict' },
    contentType: 'application/apply-patch+yaml',
    body: m,
  })) as Obj;
}

export async function mergePatch(ref: ResourceRef, namespace: string, name: string, patch: unknown): Promise<Obj> {
  return (await requestJSON(kubeConfig(), {
    method: 'PATCH',
    path: resourcePath(ref, namespace, name),
    contentType: 'application/merge-patch+json',
    body: patch,
  })) as Obj;
}

export async function remove(ref: ResourceRef, namespace: string, name: string): Promise<void> {
  try {
    await requestJSON(kubeConfig(), { method: 'DELETE', path: resourcePath(ref, namespace, name) });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

export function conditionOf(app: Obj | undefined, type: string): { status: string; reason: string; message: string } | undefined {
  return (app?.status?.conditions as { type: string; status: string; reason: string; message: string }[] | undefined)?.find((c) => c.type === type);
}

export function isReady(app: Obj): boolean {
  return app.status?.observedGeneration === app.metadata.generation && conditionOf(app, 'Ready')?.status === 'True';
}

/** Waits until every BackendApp of the namespace (or the `expected` count of them) is Ready for its generation; one list per poll. */
export async function waitAllReady(namespace: string, expected: number, timeoutMs: number): Promise<Obj[]> {
  let last = '';
  try {
    return await waitFor(
      `${expected} BackendApps Ready in ${namespace}`,
      async () => {
        const apps = await list(BACKENDAPPS, namespace);
        const notReady = apps.filter((a) => !isReady(a));
        last = `${apps.length - notReady.length}/${expected} ready; e.g. ${notReady
          .slice(0, 3)
          .map((a) => `${a.metadata.name}: ${conditionOf(a, 'Ready')?.message ?? 'no status'}`)
          .join('; ')}`;
        if (apps.length === expected && notReady.length === 0) return apps;
        throw new Error(last);
      },
      timeoutMs,
      1_000,
    );
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${await diagnose(namespace).catch((e: unknown) => `(no diagnosis: ${String(e)})`)}`);
  }
}

/** What keeps apps from Ready: their workloads' status and their pods, for a failure message. */
async function diagnose(namespace: string): Promise<string> {
  const apps = (await list(BACKENDAPPS, namespace)).filter((a) => !isReady(a)).slice(0, 3);
  const out: string[] = [];
  const [deployments, statefulSets, pods, claims] = await Promise.all([
    list(CHILD_KINDS['apps/v1/Deployment'] as ResourceRef, namespace),
    list(CHILD_KINDS['apps/v1/StatefulSet'] as ResourceRef, namespace),
    list(PODS, namespace),
    list(PVCS, namespace),
  ]);
  for (const a of apps) {
    const mine = (o: Obj) => o.metadata.labels?.['app.kubernetes.io/instance'] === a.metadata.name;
    for (const w of [...deployments, ...statefulSets].filter(mine)) {
      out.push(`${w.kind}/${w.metadata.name} gen ${w.metadata.generation} status ${JSON.stringify(w.status)}`);
    }
    for (const p of pods.filter(mine)) {
      out.push(
        `Pod/${p.metadata.name} ${p.status?.phase} deleting=${p.metadata.deletionTimestamp ?? '-'} node=${p.spec?.nodeName ?? '-'} owner=${p.metadata.ownerReferences?.[0]?.uid ?? '-'} conditions=${JSON.stringify((p.status?.conditions ?? []).map((c: { type: string; status: string; reason?: string }) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`))}`,
      );
    }
    for (const c of claims.filter(mine)) out.push(`PVC/${c.metadata.name} ${c.status?.phase} ${c.spec?.volumeName ?? ''}`);
  }
  return out.join('\n');
}

/**
 * For a drill's afterAll, once its operator is stopped: drops the finalizers of the
 * namespace's BackendApps and deletes them, in parallel, so the namespace (deleted
 * after) goes at once instead of one kubectl call per app.
 */
export async function releaseApps(namespace: string): Promise<void> {
  const apps = await list(BACKENDAPPS, namespace).catch(() => [] as Obj[]);
  await inParallel(apps, 20, async (a) => {
    await mergePatch(BACKENDAPPS, namespace, a.metadata.name, { metadata: { finalizers: null } }).catch(() => undefined);
    await remove(BACKENDAPPS, namespace, a.metadata.name).catch(() => undefined);
  });
}

/** Every object with the operator's labels in `namespace`, of every kind it creates. */
export async function children(namespace: string): Promise<Obj[]> {
  const lists = await Promise.all(ORDERED_CHILD_KINDS.map((k) => list(k, namespace, childSelector(k))));
  return lists.flat();
}

export const objKey = (o: Obj): string => `${o.kind}/${o.metadata.name}`;

/** sha256 of a Secret's data, keys sorted: equal exactly when every byte of every value is equal. */
export function hashData(secret: Obj): string {
  const data = secret.data ?? {};
  const h = createHash('sha256');
  for (const k of Object.keys(data).sort()) h.update(`${k}\0${data[k]}\0`);
  return h.digest('hex');
}

/** Decoded values of every credential Secret in `namespace`. */
export async function credentialValues(namespace: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const s of await list(CHILD_KINDS['v1/Secret'] as ResourceRef, namespace, 'backendapp.io/credentials=true')) {
    for (const [k, v] of Object.entries(s.data ?? {})) out.set(`${s.metadata.name}/${k}`, Buffer.from(v, 'base64').toString('utf8'));
  }
  return out;
}

// ---------------------------------------------------------------------------
// The local control plane

/** sleep(ms): Node's promise timer. */
export { setTimeout as sleep } from 'node:timers/promises';

/** True when the global setup runs the local control plane (so its processes can be stopped). */
export function onLocalCluster(): boolean {
  return inject('localCluster');
}

/**
 * Fails (never skips) a drill that needs the local control plane: its audit log,
 * its second operator identity, or stopping its processes. With $KUBECONFIG set
 * to another cluster such a drill cannot prove anything, and says so.
 */
export function requireLocalCluster(drill: string): void {
  if (!onLocalCluster()) {
    throw new Error(
      `${drill} needs the local control plane (hack/local-cluster.sh): it reads its audit log and stops its processes; unset KUBECONFIG to run it`,
    );
  }
}

/** hack/local-cluster.sh on the cluster of this test run (its LOCAL_CLUSTER_DIR is the kubeconfig's directory). */
export async function localCluster(args: string[], timeoutMs = 180_000): Promise<string> {
  const res = await run(path.join(root, 'hack/local-cluster.sh'), args, {
    env: { LOCAL_CLUSTER_DIR: path.dirname(inject('kubeconfig')) },
    timeoutMs,
  });
  if (res.code !== 0) throw new Error(`hack/local-cluster.sh ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

/**
 * Makes sure `n` PersistentVolumes are Available for new claims: what a drill
 * needs, plus what claims still Pending elsewhere (a namespace being torn down) may
 * take, plus a margin. Released volumes come back by themselves (the local
 * cluster's pv-recycler), but not always before the next drill starts.
 */
export async function ensureAvailablePVs(n: number): Promise<void> {
  const [pvs, claims] = await Promise.all([list(PVS), list(PVCS)]);
  const available = pvs.filter((p) => p.status?.phase === 'Available').length;
  const pending = claims.filter((c) => c.status?.phase === 'Pending').length;
  const want = n + pending + 10;
  if (available >= want) return;
  if (!onLocalCluster()) {
    if (available - pending >= n) return;
    throw new Error(`only ${available} PersistentVolumes are Available (${pending} claims pending) on a cluster that is not the local one; ${n} are needed`);
  }
  await localCluster(['pvs', String(pvs.length + want - available)]);
}

// ---------------------------------------------------------------------------
// The operator's probes and metrics

export async function httpStatus(url: string, timeoutMs = 5_000): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.text();
    return res.status;
  } catch {
    return 0;
  }
}

/** The sum of every sample of `name` (all label sets) on the operator's /metrics. */
export async function metric(op: OperatorProcess, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(op.metricsUrl(), { signal: AbortSignal.timeout(5_000) })).text();
  return text
    .split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** `promise`, unless the operator exits first: then fail at once with the end of its log, instead of at a timeout. */
export async function whileAlive<T>(op: OperatorProcess, promise: Promise<T>): Promise<T> {
  let onExit: ((code: number | null) => void) | undefined;
  const exited = new Promise<never>((_, reject) => {
    onExit = (code) => reject(new Error(`the operator exited (${code}) while waiting:\n${op.lines.slice(-15).join('\n')}`));
    void op.exited.then((code) => onExit?.(code));
  });
  exited.catch(() => undefined);
  try {
    return await Promise.race([promise, exited]);
  } finally {
    onExit = undefined;
  }
}

export const MB = 1024 * 1024;

export { API_VERSION };
