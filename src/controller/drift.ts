// Deciding, from the cache alone, whether a child needs a server-side apply. A
// no-op apply still costs a round trip and an audit entry, so a resync with
// nothing to do must send nothing.
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { isQuantity, parseQuantity } from '../api/v1alpha1.js';
import { isRecord } from '../runtime/client.js';

/**
 * Annotation holding a hash of what the operator last applied. It catches the one
 * change a subset comparison cannot: a field the spec no longer sets, which the
 * next apply removes.
 */
export const APPLIED_HASH_ANNOTATION = 'backendapp.io/applied-hash';

export function appliedHash(desired: KubernetesObject): string {
  return createHash('sha256').update(canonicalJSON(desired)).digest('hex').slice(0, 16);
}

/** The object to send: the desired object stamped with its hash. */
export function withAppliedHash<T extends KubernetesObject>(desired: T): T {
  const hash = appliedHash(desired);
  return {
    ...desired,
    metadata: { ...desired.metadata, annotations: { ...desired.metadata?.annotations, [APPLIED_HASH_ANNOTATION]: hash } },
  };
}

/**
 * True when the live object (from the cache) differs from what we would apply:
 * missing, applied from another spec, or edited by hand in a field we set.
 * Fields the server or others added (status, defaults, clusterIP, the replica count
 * an HPA writes when we leave it out) are not drift.
 */
export function needsApply(desired: KubernetesObject, live: KubernetesObject | undefined): boolean {
  if (!live) return true;
  if (live.metadata?.annotations?.[APPLIED_HASH_ANNOTATION] !== appliedHash(desired)) return true;
  return !isSubset(desired, live);
}

/** Every field set in `want` is present in `have` with an equal value; arrays match element by element. */
export function isSubset(want: unknown, have: unknown): boolean {
  if (want === have) return true;
  if (Array.isArray(want)) {
    return Array.isArray(have) && want.length === have.length && want.every((w, i) => isSubset(w, have[i]));
  }
  if (isRecord(want)) {
    if (!isRecord(have)) return false;
    for (const [key, value] of Object.entries(want)) {
      if (value === undefined) continue;
      if (!isSubset(value, have[key])) return false;
    }
    return true;
  }
  return scalarEqual(want, have);
}

// The API server normalises quantities ("0.5" → "500m", 2 → "2"), so compare their values.
function scalarEqual(want: unknown, have: unknown): boolean {
  if ((typeof want === 'string' || typeof want === 'number') && (typeof have === 'string' || typeof have === 'number')) {
    if (String(want) === String(have)) return true;
    const w = String(want);
    const h = String(have);
    return isQuantity(w) && isQuantity(h) && parseQuantity(w) === parseQuantity(h);
  }
  return false;
}

/**
 * Lists of `desired` that the live object holds differently, as JSON pointers
 * with the desired list. Server-side apply merges list-maps item by item and
 * keeps the items another field manager owns, so a hand edit of a list can
 * outlive a forced apply: a Service port renumbered by hand becomes a new item
 * owned by whoever edited it (and, keeping its name, makes our apply invalid);
 * an added port or container simply stays. The operator owns the whole object,
 * so it replaces such lists. `onlyLength`: only lists with a different number of
 * items (after an apply, the items it could not remove).
 */
export function divergentLists(desired: unknown, live: unknown, onlyLength = false, path = ''): { path: string; value: unknown[] }[] {
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) return [];
    if (live.length !== desired.length) return [{ path, value: desired }];
    if (!onlyLength && !isSubset(desired, live)) return [{ path, value: desired }];
    return desired.flatMap((d, i) => divergentLists(d, live[i], onlyLength, `${path}/${i}`));
  }
  if (isRecord(desired) && isRecord(live)) {
    return Object.entries(desired).flatMap(([k, v]) =>
      v === undefined ? [] : divergentLists(v, live[k], onlyLength, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`),
    );
  }
  return [];
}

/** JSON with object keys sorted, so equal objects hash equally whatever their key order. */
export function canonicalJSON(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isRecord(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}
