// The reconciler's two views of the cluster: caches to read (informers, one per
// child kind) and a writer for the few requests it sends. Both are interfaces so the
// reconciler reads like its steps and the wiring lives in one place.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { BackendAppStatus } from '../api/v1alpha1.js';
import { kindOf } from '../kinds.js';
import { isConflict, isNotFound, requestJSON, resourcePath } from '../runtime/client.js';
import type { Informer } from '../runtime/informer.js';

/** The operator's name in managedFields: server-side apply tracks what it owns under it. */
export const FIELD_MANAGER = 'backendapp-operator';

export interface ChildCaches {
  kinds(): string[];
  get(key: string, namespace: string, name: string): KubernetesObject | undefined;
  list(key: string, namespace: string): KubernetesObject[];
  /** Records what a write returned, so the next reconcile does not re-apply before the watch catches up. */
  observe(key: string, obj: KubernetesObject): void;
}

export function informerCaches(informers: ReadonlyMap<string, Informer>): ChildCaches {
  const informer = (key: string) => {
    const inf = informers.get(key);
    if (!inf) throw new Error(`no informer for ${key}`);
    return inf;
  };
  return {
    kinds: () => [...informers.keys()],
    get: (key, ns, name) => informer(key).get(ns, name),
    list: (key, ns) => informer(key).list(ns),
    observe: (key, obj) => informer(key).observe(obj),
  };
}

export interface Writer {
  get(obj: KubernetesObject): Promise<KubernetesObject | undefined>;
  list(key: string, namespace: string, labelSelector: string): Promise<KubernetesObject[]>;
  apply(obj: KubernetesObject): Promise<KubernetesObject>;
  /** Creates `obj` if nothing of its name exists; undefined if something does (409). */
  create(obj: KubernetesObject): Promise<KubernetesObject | undefined>;
  /** Replaces whole lists (JSON pointers) of `obj`, if it has not changed since (its resourceVersion). */
  replaceLists(obj: KubernetesObject, lists: { path: string; value: unknown[] }[]): Promise<KubernetesObject>;
  delete(obj: KubernetesObject): Promise<void>;
  replaceStatus(app: KubernetesObject, status: BackendAppStatus): Promise<void>;
  addFinalizer(app: KubernetesObject, finalizer: string): Promise<void>;
  removeFinalizer(app: KubernetesObject, finalizer: string): Promise<void>;
  removeOwner(obj: KubernetesObject, owner: KubernetesObject): Promise<void>;
}

const JSON_PATCH = 'application/json-patch+json';

export function apiWriter(kc: KubeConfig): Writer {
  const path = (obj: KubernetesObject, sub?: string) => resourcePath(kindOf(obj), obj.metadata?.namespace, obj.metadata?.name, sub);
  return {
    async get(obj) {
      try {
        return (await requestJSON(kc, { method: 'GET', path: path(obj) })) as KubernetesObject;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async list(key, namespace, labelSelector) {
      const res = (await requestJSON(kc, { method: 'GET', path: resourcePath(kindOf(key), namespace), query: { labelSelector } })) as {
        items?: KubernetesObject[];
      };
      const k = kindOf(key);
      return (res.items ?? []).map((o) => ({ apiVersion: k.apiVersion, kind: k.kind, ...o }));
    },
    async apply(obj) {
      // force: the operator owns these fields; a hand edit is drift to revert.
      return (await requestJSON(kc, {
        method: 'PATCH',
        path: path(obj),
        query: { fieldManager: FIELD_MANAGER, force: true },
        contentType: 'application/apply-patch+yaml',
        body: obj,
      })) as KubernetesObject;
    },
    async create(obj) {
      // Our field manager, as with apply; the first apply after it adds an Apply entry beside this Update one.
      try {
        return (await requestJSON(kc, {
          method: 'POST',
          path: resourcePath(kindOf(obj), obj.metadata?.namespace),
          query: { fieldManager: FIELD_MANAGER },
          body: obj,
        })) as KubernetesObject;
      } catch (err) {
        if (isConflict(err)) return undefined;
        throw err;
      }
    },
    async replaceLists(obj, lists) {
      return (await requestJSON(kc, {
        method: 'PATCH',
        path: path(obj),
        query: { fieldManager: FIELD_MANAGER },
        contentType: JSON_PATCH,
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata?.resourceVersion },
          ...lists.map((l) => ({ op: 'replace', path: l.path, value: l.value })),
        ],
      })) as KubernetesObject;
    },
    async delete(obj) {
      try {
        await requestJSON(kc, {
          method: 'DELETE',
          path: path(obj),
          body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: obj.metadata?.uid } },
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async replaceStatus(app, status) {
      // A JSON patch replaces status whole, so a component turned off leaves no stale count.
      await requestJSON(kc, {
        method: 'PATCH',
        path: path(app, 'status'),
        query: { fieldManager: FIELD_MANAGER },
        contentType: JSON_PATCH,
        body: [{ op: 'add', path: '/status', value: status }],
      });
    },
    async addFinalizer(app, finalizer) {
      const has = Array.isArray(app.metadata?.finalizers);
      await requestJSON(kc, {
        method: 'PATCH',
        path: path(app),
        query: { fieldManager: FIELD_MANAGER },
        contentType: JSON_PATCH,
        body: has ? [{ op: 'add', path: '/metadata/finalizers/-', value: finalizer }] : [{ op: 'add', path: '/metadata/finalizers', value: [finalizer] }],
      });
    },
    async removeFinalizer(app, finalizer) {
      const i = app.metadata?.finalizers?.indexOf(finalizer) ?? -1;
      if (i < 0) return;
      // The test makes the patch fail (and the reconcile retry) if the list moved meanwhile.
      await requestJSON(kc, {
        method: 'PATCH',
        path: path(app),
        contentType: JSON_PATCH,
        body: [
          { op: 'test', path: `/metadata/finalizers/${i}`, value: finalizer },
          { op: 'remove', path: `/metadata/finalizers/${i}` },
        ],
      });
    },
    async removeOwner(obj, owner) {
      const refs = obj.metadata?.ownerReferences ?? [];
      const keep = refs.filter((r) => r.uid !== owner.metadata?.uid);
      await requestJSON(kc, {
        method: 'PATCH',
        path: path(obj),
        contentType: 'application/merge-patch+json',
        body: { metadata: { ownerReferences: keep.length ? keep : null } },
      });
    },
  };
}
