// The one merge of a user's podTemplate over a pod the operator renders, with the
// rules of Kubernetes' strategic merge patch for PodSpec (the patchMergeKey and
// patchStrategy of each field in k8s.io/api/core/v1): lists of named things merge
// item by item, maps merge key by key, and anything else is replaced. Written here
// rather than calling a library, to keep rendering pure and the rules visible.
import type { V1Container, V1EnvVar, V1PodTemplateSpec } from '@kubernetes/client-node';
import { DATABASE_KINDS, MAIN_CONTAINERS, type AppComponent, type BackendApp, type DatabaseKind } from '../api/v1alpha1.js';
import { credentialsSecretName } from './labels.js';

type Json = unknown;
type JsonObject = { [key: string]: Json };

/** How a list at a path merges; a list not named here is replaced whole. */
type ListRule = { mergeKey: readonly string[] } | { append: true };

/**
 * Paths are the field names from the PodTemplateSpec down, list items as "[]".
 * containers, initContainers, volumes and imagePullSecrets merge by name; within
 * a container, env by name, volumeMounts by mountPath and ports by containerPort;
 * tolerations are appended (Kubernetes replaces them, which would drop the
 * operator's own); topologySpreadConstraints merge by topologyKey and
 * whenUnsatisfiable, as the API server keys them.
 */
const CONTAINER_LISTS: Record<string, ListRule> = {
  env: { mergeKey: ['name'] },
  volumeMounts: { mergeKey: ['mountPath'] },
  ports: { mergeKey: ['containerPort'] },
};

const LIST_RULES: Record<string, ListRule> = {
  'spec.containers': { mergeKey: ['name'] },
  'spec.initContainers': { mergeKey: ['name'] },
  'spec.volumes': { mergeKey: ['name'] },
  'spec.imagePullSecrets': { mergeKey: ['name'] },
  'spec.tolerations': { append: true },
  'spec.topologySpreadConstraints': { mergeKey: ['topologyKey', 'whenUnsatisfiable'] },
  ...Object.fromEntries(
    ['spec.containers[]', 'spec.initContainers[]'].flatMap((c) => Object.entries(CONTAINER_LISTS).map(([field, rule]) => [`${c}.${field}`, rule])),
  ),
};

/**
 * Items whose fields replace rather than merge (patchStrategy retainKeys): a
 * volume given again with another source (configMap over emptyDir) must lose the
 * old one, or the pod would have two sources in one volume.
 */
const RETAIN_KEYS = new Set(['spec.volumes[]']);

function isObject(v: Json): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `overlay` merged over `base`: objects key by key (a null value removes the key,
 * as in a merge patch), lists by the rules above, anything else replaced. Neither
 * input is changed; the result shares no objects with them.
 */
export function strategicMerge(base: Json, overlay: Json, path = ''): Json {
  if (overlay === undefined) return clone(base);
  if (isObject(base) && isObject(overlay)) {
    const retain = RETAIN_KEYS.has(path);
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(base)) {
      if (retain && !(k in overlay) && k !== 'name') continue;
      if (!(k in overlay)) out[k] = clone(v);
    }
    for (const [k, v] of Object.entries(overlay)) {
      if (v === null) continue;
      out[k] = k in base ? strategicMerge(base[k], v, join(path, k)) : strategicMerge(undefined, v, join(path, k));
    }
    // Keep the base's key order, then the overlay's new keys: a stable rendering.
    return orderLike(out, base, overlay);
  }
  if (Array.isArray(overlay)) {
    const rule = LIST_RULES[path];
    if (Array.isArray(base) && rule) return mergeList(base, overlay, rule, path);
    return overlay.map((item) => strategicMerge(undefined, item, `${path}[]`));
  }
  if (isObject(overlay)) return strategicMerge({}, overlay, path);
  return overlay;
}

function mergeList(base: Json[], overlay: Json[], rule: ListRule, path: string): Json[] {
  const itemPath = `${path}[]`;
  if ('append' in rule) {
    const out = base.map((b) => clone(b));
    for (const item of overlay) if (!out.some((o) => deepEqual(o, item))) out.push(clone(item));
    return out;
  }
  const keyOf = (item: Json) => (isObject(item) ? JSON.stringify(rule.mergeKey.map((k) => item[k] ?? null)) : undefined);
  const overlayByKey = new Map<string, Json>();
  for (const item of overlay) {
    const key = keyOf(item);
    if (key !== undefined) overlayByKey.set(key, item);
  }
  // Base items in their order, each merged with its overlay; then the overlay's new items in theirs.
  const baseKeys = new Set(base.map(keyOf));
  const merged = base.map((item) => {
    const key = keyOf(item);
    return key !== undefined && overlayByKey.has(key) ? strategicMerge(item, overlayByKey.get(key), itemPath) : clone(item);
  });
  const added = overlay.filter((item) => !baseKeys.has(keyOf(item))).map((item) => strategicMerge(undefined, item, itemPath));
  return [...merged, ...added];
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function orderLike(out: JsonObject, base: JsonObject, overlay: JsonObject): JsonObject {
  const ordered: JsonObject = {};
  for (const k of [...Object.keys(base), ...Object.keys(overlay)]) if (k in out && !(k in ordered)) ordered[k] = out[k];
  return ordered;
}

function clone<T extends Json>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => clone(x)) as T;
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) as T;
  return v;
}

export function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** A podTemplate as the schema accepts it: labels and annotations, and any Pod spec fields. */
export interface PodTemplateOverride {
  metadata?: { labels?: Record<string, string> | undefined; annotations?: Record<string, string> | undefined } | undefined;
  spec?: { containers?: { name: string }[] | undefined; initContainers?: { name: string }[] | undefined; [key: string]: unknown } | undefined;
}

/** The rendered pod template with each podTemplate merged over it in turn (app-wide first, then the component's). */
export function mergePodTemplates(rendered: V1PodTemplateSpec, ...overrides: (PodTemplateOverride | undefined)[]): V1PodTemplateSpec {
  let out: Json = rendered;
  for (const o of overrides) if (o !== undefined) out = strategicMerge(out, o);
  return (out === rendered ? clone(rendered as Json) : out) as V1PodTemplateSpec;
}

// ---------------------------------------------------------------------------
// Which podTemplates reach which pod, and what the operator keeps.

/** A pod the operator renders, by the spec field that shapes it. */
export type PodOwner = AppComponent | 'migrations' | DatabaseKind;

const MAIN_NAMES: readonly string[] = Object.values(MAIN_CONTAINERS);

/**
 * Containers the operator adds nothing to get what Pod Security "restricted"
 * needs, under whatever the user sets: a sidecar that asks for nothing stays
 * restricted, one that asks for more gets it (the namespace's admission decides).
 */
export const ADDED_CONTAINER_SECURITY = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true } as const;

function mainContainerOf(owner: PodOwner): string {
  return owner in MAIN_CONTAINERS ? MAIN_CONTAINERS[owner as keyof typeof MAIN_CONTAINERS] : owner;
}

/**
 * The app-wide podTemplate as it reaches one pod: a container named after another
 * component's main container is meant for that component only, so it is left out
 * here rather than added as a sidecar.
 */
function appWideFor(template: PodTemplateOverride | undefined, main: string): PodTemplateOverride | undefined {
  const containers = template?.spec?.containers;
  if (!template || !containers) return template;
  const kept = containers.filter((c) => c.name === main || !MAIN_NAMES.includes(c.name));
  return { ...template, spec: { ...template.spec, containers: kept } };
}

/** The podTemplates of `owner`, app-wide first: databases get only their own. */
export function podTemplatesOf(app: BackendApp, owner: PodOwner): PodTemplateOverride[] {
  const own =
    owner === 'api' || owner === 'worker' || owner === 'beat' || owner === 'flower' || owner === 'migrations'
      ? app.spec[owner]?.podTemplate
      : app.spec.databases?.[owner]?.podTemplate;
  const isDatabase = !(owner in MAIN_CONTAINERS);
  const appWide = isDatabase ? undefined : appWideFor(app.spec.podTemplate, mainContainerOf(owner));
  return [appWide, own].filter((t): t is PodTemplateOverride => t !== undefined);
}

/** Added containers (names the rendered pod lacks) over the restricted defaults. */
function hardenAdded(template: PodTemplateOverride, rendered: V1PodTemplateSpec): PodTemplateOverride {
  const spec = template.spec;
  if (!spec) return template;
  const harden = (list: { name: string }[] | undefined, renderedNames: Set<string>) =>
    list?.map((c) => (renderedNames.has(c.name) ? c : (strategicMerge({ securityContext: ADDED_CONTAINER_SECURITY }, c) as { name: string })));
  const names = (cs: { name: string }[] | undefined) => new Set((cs ?? []).map((c) => c.name));
  const out = { ...spec };
  if (spec.containers) out.containers = harden(spec.containers, names(rendered.spec?.containers));
  if (spec.initContainers) out.initContainers = harden(spec.initContainers, names(rendered.spec?.initContainers));
  return { ...template, spec: out };
}

/** The rendered env entries read from this app's credentials Secrets, by container. */
function credentialEnv(app: BackendApp, rendered: V1PodTemplateSpec): Map<string, V1EnvVar[]> {
  const secrets = new Set([...DATABASE_KINDS, 'flower' as const].map((c) => credentialsSecretName(app, c)));
  return new Map(
    [...(rendered.spec?.containers ?? []), ...(rendered.spec?.initContainers ?? [])].map((c) => [
      c.name,
      (c.env ?? []).filter((e) => secrets.has(e.valueFrom?.secretKeyRef?.name ?? '')),
    ]),
  );
}

/**
 * The pod of `owner` with its podTemplates merged over it. What the operator owns
 * wins even over a template the schema would refuse: the labels its selectors and
 * policies match, and the variables it reads from credentials Secrets (spec.env
 * already replaced those it should). Without podTemplates the pod is unchanged.
 */
export function customizePod(app: BackendApp, owner: PodOwner, rendered: V1PodTemplateSpec): V1PodTemplateSpec {
  const templates = podTemplatesOf(app, owner);
  if (templates.length === 0) return rendered;
  const merged = mergePodTemplates(rendered, ...templates.map((t) => hardenAdded(t, rendered)));
  const owned = credentialEnv(app, rendered);
  const keepOwned = (c: V1Container): V1Container => {
    const env = owned.get(c.name) ?? [];
    if (env.length === 0) return c;
    const byName = new Map(env.map((e) => [e.name, e]));
    return { ...c, env: (c.env ?? []).map((e) => byName.get(e.name) ?? e) };
  };
  return {
    ...merged,
    metadata: { ...merged.metadata, labels: { ...merged.metadata?.labels, ...rendered.metadata?.labels } },
    spec: merged.spec && {
      ...merged.spec,
      containers: merged.spec.containers.map(keepOwned),
      ...(merged.spec.initContainers ? { initContainers: merged.spec.initContainers.map(keepOwned) } : {}),
    },
  };
}
