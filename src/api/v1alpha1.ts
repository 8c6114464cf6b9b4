// The BackendApp API, backendapp.io/v1alpha1: the one place spec and status are
// defined. TypeScript types are inferred from these schemas, the CRD in crds/ is
// generated from them (src/crd/generate.ts), and every cross-field rule is written
// once below with both its TypeScript check and its CEL twin, so the CLI and the
// API server refuse the same manifests with the same message.
import { z } from 'zod';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { genericMessage, toFieldErrors, type FieldError } from './errors.js';
import { QUANTITY_PATTERN, isQuantity, parseQuantity } from './quantity.js';

export const GROUP = 'backendapp.io';
export const VERSION = 'v1alpha1';
export const KIND = 'BackendApp';
export const PLURAL = 'backendapps';
export const SINGULAR = 'backendapp';
export const SHORT_NAMES: readonly string[] = ['bapp'];
export const API_VERSION = `${GROUP}/${VERSION}`;

/**
 * The longest suffix the renderer appends to the app name. Object names are at most
 * 63 characters (Service names are DNS-1035 labels), so the app name gets the rest.
 */
export const LONGEST_NAME_SUFFIX = '-postgres-credentials';
export const MAX_APP_NAME_LENGTH = 63 - LONGEST_NAME_SUFFIX.length; // 42

import {
  withRules,
  addCelRules,
  immutable,
  defaultsToFilled,
  strict,
  DNS1035_LABEL,
  DNS1123_SUBDOMAIN,
  objectName,
  intRange,
  quantity,
  port,
  image,
  command,
  httpPath,
  seconds,
  stringMap,
  PYTHON_APP,
  celeryApp,
  logLevel,
  replicas,
  dbIdentifier,
  imageTag,
  type CelRule,
  type CrossFieldRule,
} from './fields.js';

export { CEL_RULES_KEY, type CelRule, type CrossFieldRule } from './fields.js';
// ---------------------------------------------------------------------------
// Shared building blocks.

const ResourceListSchema = strict({
  cpu: quantity('CPU, in cores ("2") or millicores ("500m").').optional(),
  memory: quantity('Memory in bytes, usually with a binary suffix ("512Mi", "2Gi").').optional(),
  'ephemeral-storage': quantity('Local ephemeral storage, including the /tmp emptyDir ("1Gi").').optional(),
});

function requestWithinLimit(resource: 'cpu' | 'memory'): CrossFieldRule<z.output<typeof ResourcesBase>> {
  const req = `self.requests.${resource}`;
  const lim = `self.limits.${resource}`;
  return {
    // isQuantity guards keep a malformed value to its own pattern error.
    rule:
      `!has(self.requests) || !has(self.limits) || !has(${req}) || !has(${lim}) || ` +
      `!isQuantity(string(${req})) || !isQuantity(string(${lim})) || ` +
      `quantity(string(${req})).compareTo(quantity(string(${lim}))) <= 0`,
    message: `${resource} request must not exceed the ${resource} limit`,
    fieldPath: `.requests.${resource}`,
    holds: (r) => {
      const request = r.requests?.[resource];
      const limit = r.limits?.[resource];
      if (request === undefined || limit === undefined) return true;
      const a = parseQuantity(request);
      const b = parseQuantity(limit);
      return a === undefined || b === undefined || a <= b;
    },
  };
}

const ResourcesBase = strict({
  requests: ResourceListSchema.optional().describe(
    'Resources the scheduler reserves for the container. Autoscaling on CPU or memory needs the matching request.',
  ),
  limits: ResourceListSchema.optional().describe('Hard caps; a container that exceeds its memory limit is OOM-killed.'),
});

const resources = (what: string) =>
  withRules(ResourcesBase, [requestWithinLimit('cpu'), requestWithinLimit('memory')])
    .optional()
    .describe(what);

const AutoscalingBase = strict({
  minReplicas: intRange(1, 1000, 'a whole number').default(1).describe('Fewest pods the HorizontalPodAutoscaler keeps.'),
  maxReplicas: z
    .number({ error: (iss) => (iss.input === undefined ? 'is required: the most pods the autoscaler may run' : undefined) })
    .int()
    .min(1, { error: 'must be a whole number from 1 to 1000' })
    .max(1000, { error: 'must be a whole number from 1 to 1000' })
    .describe('Most pods the HorizontalPodAutoscaler may run.'),
  targetCPUUtilizationPercentage: intRange(1, 1000, 'a percentage of the CPU request')
    .optional()
    .describe('Average CPU use, as a percentage of the CPU request, the autoscaler aims for. Defaults to 80 when no target is given.'),
  targetMemoryUtilizationPercentage: intRange(1, 1000, 'a percentage of the memory request')
    .optional()
    .describe('Average memory use, as a percentage of the memory request, the autoscaler aims for.'),
});

const autoscaling = (what: string) =>
  withRules(AutoscalingBase, [
    {
      rule: 'self.maxReplicas >= self.minReplicas',
      message: 'must be greater than or equal to minReplicas',
      fieldPath: '.maxReplicas',
      holds: (a) => a.maxReplicas >= a.minReplicas,
    },
  ])
    .optional()
    .describe(what);

/** The default target when autoscaling names none, as `kubectl autoscale` does. */
export const DEFAULT_CPU_UTILIZATION = 80;

interface Scalable {
  resources?: { requests?: { cpu?: string | number; memory?: string | number } } | undefined;
  autoscaling?: { targetCPUUtilizationPercentage?: number | undefined; targetMemoryUtilizationPercentage?: number | undefined } | undefined;
}

/** Autoscaling on a resource needs its request: utilization is measured against it. */
function autoscalingNeedsRequests<T extends Scalable>(): CrossFieldRule<T>[] {
  return [
    {
      rule:
        '!has(self.autoscaling) || (!has(self.autoscaling.targetCPUUtilizationPercentage) && has(self.autoscaling.targetMemoryUtilizationPercentage)) || ' +
        '(has(self.resources) && has(self.resources.requests) && has(self.resources.requests.cpu))',
      message: 'is required when autoscaling on CPU (targetCPUUtilizationPercentage, the default target): utilization is measured against the request',
      fieldPath: '.resources.requests.cpu',
      holds: (c) => {
        const a = c.autoscaling;
        if (!a) return true;
        const onCpu = a.targetCPUUtilizationPercentage !== undefined || a.targetMemoryUtilizationPercentage === undefined;
        return !onCpu || c.resources?.requests?.cpu !== undefined;
      },
    },
    {
      rule:
        '!has(self.autoscaling) || !has(self.autoscaling.targetMemoryUtilizationPercentage) || ' +
        '(has(self.resources) && has(self.resources.requests) && has(self.resources.requests.memory))',
      message: 'is required when targetMemoryUtilizationPercentage is set: utilization is measured against the request',
      fieldPath: '.resources.requests.memory',
      holds: (c) => c.autoscaling?.targetMemoryUtilizationPercentage === undefined || c.resources?.requests?.memory !== undefined,
    },
  ];
}

const timeoutWithinInterval: CrossFieldRule<{ timeoutSeconds: number; intervalSeconds: number }> = {
  rule: 'self.timeoutSeconds <= self.intervalSeconds',
  message: 'must not exceed intervalSeconds: a check that may outlast the interval overlaps the next one',
  fieldPath: '.timeoutSeconds',
  holds: (h) => h.timeoutSeconds <= h.intervalSeconds,
};

// ---------------------------------------------------------------------------
// Environment, as in a container spec but limited to what an app needs.

const KeyRefSchema = (kind: 'Secret' | 'ConfigMap') =>
  strict({
    name: objectName(`Name of the ${kind} in the app's namespace.`),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/, { error: 'must be a key made of letters, digits, "-", "_" and "."' })
      .describe(`Key within the ${kind}.`),
    optional: z.boolean().optional().describe(`Start the container even if the ${kind} or key is missing.`),
  });

const EnvVarSourceBase = strict({
  secretKeyRef: KeyRefSchema('Secret').optional().describe('Take the value from a key of a Secret.'),
  configMapKeyRef: KeyRefSchema('ConfigMap').optional().describe('Take the value from a key of a ConfigMap.'),
  fieldRef: strict({
    fieldPath: z.string().min(1).max(256).describe('Pod field to expose, e.g. "metadata.name", "metadata.namespace" or "status.podIP".'),
  })
    .optional()
    .describe('Take the value from a field of the pod (downward API).'),
});

const EnvVarSourceSchema = withRules(EnvVarSourceBase, [
  {
    rule: '(has(self.secretKeyRef) ? 1 : 0) + (has(self.configMapKeyRef) ? 1 : 0) + (has(self.fieldRef) ? 1 : 0) == 1',
    message: 'must set exactly one of secretKeyRef, configMapKeyRef or fieldRef',
    holds: (s) => [s.secretKeyRef, s.configMapKeyRef, s.fieldRef].filter((x) => x !== undefined).length === 1,
  },
]);

const EnvVarBase = strict({
  name: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, {
      error: 'must be an environment variable name: letters, digits, "_", "-" and ".", not starting with a digit',
    })
    .describe("Variable name. A name the operator also sets (DATABASE_URL, REDIS_URL, ...) replaces the operator's value."),
  value: z.string().max(32768).optional().describe('Literal value.'),
  valueFrom: EnvVarSourceSchema.optional().describe('Where to read the value from, instead of value.'),
});

const EnvVarSchema = withRules(EnvVarBase, [
  {
    rule: '!(has(self.value) && has(self.valueFrom))',
    message: 'must not be set together with value: give either a literal value or valueFrom',
    fieldPath: '.valueFrom',
    holds: (e) => !(e.value !== undefined && e.valueFrom !== undefined),
  },
]);

const refName = (kind: string) =>
  strict({
    name: objectName(`Name of the ${kind}.`),
    optional: z.boolean().optional().describe(`Start the container even if the ${kind} is missing.`),
  });

const EnvFromBase = strict({
  prefix: z
    .string()
    .max(256)
    .regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, { error: 'must be a valid start of an environment variable name' })
    .optional()
    .describe('Prefix added to every variable name from the source.'),
  secretRef: refName('Secret').optional().describe('Expose every key of this Secret as a variable (e.g. OPENAI_API_KEY).'),
  configMapRef: refName('ConfigMap').optional().describe('Expose every key of this ConfigMap as a variable.'),
});

const EnvFromSchema = withRules(EnvFromBase, [
  {
    rule: 'has(self.secretRef) != has(self.configMapRef)',
    message: 'must set exactly one of secretRef or configMapRef',
    holds: (e) => (e.secretRef === undefined) !== (e.configMapRef === undefined),
  },
]);

/** Names must be unique, like a list-map with key "name" on the API server. */
function uniqueNames<T extends { name: string }>(what: string) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const first = seen.get(item.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate ${what} "${item.name}" (also at index ${first}); names must be unique` });
      } else {
        seen.set(item.name, i);
      }
    });
  };
}

/** A list of environment variables, unique by name (a list-map keyed by name for server-side apply). */
function envList<T extends z.ZodType<{ name: string }>>(item: T, description: string) {
  return z
    .array(item)
    .max(256)
    .superRefine(uniqueNames('variable'))
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional()
    .describe(description);
}

// ---------------------------------------------------------------------------
// Pod templates: any pod field, merged over what the operator renders (see
// render/podtemplate.ts). The CRD types the commonest fields for kubectl explain
// and keeps the rest (x-kubernetes-preserve-unknown-fields); the API server checks
// the merged pod when the operator applies it. Fields CEL reads must be declared:
// CEL cannot see preserved unknown fields.

/** Keeps fields the schema does not declare, in zod (loose) and in the CRD. */
function preserved<S extends z.ZodType>(schema: S): S {
  return schema.meta({ 'x-kubernetes-preserve-unknown-fields': true });
}

const anyObject = (what: string) => preserved(z.looseObject({})).describe(what);

const CONTAINER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const OverrideEnvVar = preserved(
  z.looseObject({
    name: z.string().min(1).max(256).describe('Variable name; an entry with the name of a rendered variable replaces it.'),
  }),
).describe('An environment variable, as in a container spec (name with value or valueFrom).');

const ContainerOverride = preserved(
  z.looseObject({
    name: z
      .string()
      .min(1)
      .max(63)
      .regex(CONTAINER_NAME, { error: 'must be a container name: lowercase letters, digits and "-", starting and ending with a letter or digit' })
      .describe(
        'Container name. The name of a rendered container (api, worker, beat, flower, migrate, or a database kind) merges into it; a new name adds a container.',
      ),
    image: z.string().max(1024).optional().describe('Image of an added container. The main container takes its image from the spec.'),
    command: z.array(z.string().max(4096)).max(128).optional().describe('Entrypoint of an added container.'),
    args: z.array(z.string().max(4096)).max(128).optional().describe('Arguments of an added container.'),
    env: envList(OverrideEnvVar, "Variables, merged by name into the container's own."),
    livenessProbe: anyObject('Liveness probe of an added container (or of beat and the migration, which have none).').optional(),
    readinessProbe: anyObject('Readiness probe of an added container.').optional(),
    startupProbe: anyObject('Startup probe of an added container.').optional(),
  }),
).describe(
  'A container, as in a Pod spec: merged by name (env by name, volumeMounts by mountPath, ports by containerPort, resources and securityContext key by key).',
);

const containerList = (what: string) =>
  z
    .array(ContainerOverride)
    .max(32)
    .superRefine(uniqueNames('container'))
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional()
    .describe(what);

const PodSpecOverride = preserved(
  z.looseObject({
    nodeSelector: stringMap('Labels a node must have to run the pods, merged key by key.', 64, 63).optional(),
    tolerations: z.array(anyObject('A toleration, as in a Pod spec.')).max(64).optional().describe('Tolerations, appended to the rendered ones.'),
    affinity: anyObject('Node and pod affinity, as in a Pod spec; merged key by key.').optional(),
    topologySpreadConstraints: z
      .array(anyObject('A topology spread constraint, as in a Pod spec.'))
      .max(16)
      .optional()
      .describe('Spread constraints, merged by topologyKey and whenUnsatisfiable into the rendered ones (the api and worker spread over nodes and zones).'),
    priorityClassName: z.string().max(253).optional().describe('PriorityClass of the pods.'),
    serviceAccountName: z.string().max(253).optional().describe('ServiceAccount of the pods; prefer the serviceAccountName fields.'),
    automountServiceAccountToken: z
      .boolean()
      .optional()
      .describe('Mount the ServiceAccount token; the operator renders false, since its pods do not call the Kubernetes API.'),
    containers: containerList('Containers, merged by name into the rendered ones; a new name adds a sidecar.'),
    initContainers: containerList('Init containers, merged by name; a new name adds one, after those rendered.'),
    volumes: z
      .array(preserved(z.looseObject({ name: z.string().min(1).max(63).describe('Volume name, unique in the pod.') })).describe('A volume, as in a Pod spec.'))
      .max(64)
      .superRefine(uniqueNames('volume'))
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .optional()
      .describe('Volumes, merged by name into the rendered ones.'),
  }),
).describe(
  'Fields of a Pod spec, merged over the rendered pod with Kubernetes strategic-merge rules. Fields not typed here are kept and checked by the API server when the operator applies the pod.',
);

/** Labels under this prefix, and those the selectors use, are the operator's. */
export const OWNED_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/managed-by'] as const;
export const OWNED_LABEL_PREFIX = 'backendapp.io/';

const PodTemplateBase = strict({
  metadata: strict({
    labels: stringMap('Labels added to the pods.', 64, 63).optional(),
    annotations: stringMap('Annotations added to the pods.', 64).optional(),
  })
    .optional()
    .describe('Labels and annotations of the pods, merged key by key.'),
  spec: PodSpecOverride.optional(),
});

type PodTemplate = z.output<typeof PodTemplateBase>;
type ContainerOverrideValue = z.output<typeof ContainerOverride>;

const ownedLabelsRule: CrossFieldRule<PodTemplate> = {
  rule:
    `!has(self.metadata) || !has(self.metadata.labels) || self.metadata.labels.all(k, !(k in [${OWNED_LABELS.map((l) => `'${l}'`).join(', ')}]) && ` +
    `!k.startsWith('${OWNED_LABEL_PREFIX}'))`,
  message: `must not set ${OWNED_LABELS.join(', ')} or labels under ${OWNED_LABEL_PREFIX}: the operator sets them from metadata.name and the component, and its selectors and NetworkPolicies match on them; use labels of your own`,
  fieldPath: '.metadata.labels',
  holds: (t) => Object.keys(t.metadata?.labels ?? {}).every((k) => !(OWNED_LABELS as readonly string[]).includes(k) && !k.startsWith(OWNED_LABEL_PREFIX)),
};

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
type OwnedContainerField = 'image' | 'command' | 'args' | (typeof PROBES)[number];

const celList = (items: readonly string[]) => `[${items.map((i) => `'${i}'`).join(', ')}]`;

/** CEL guard: the podTemplate at `at` (".api.podTemplate") lists containers. */
const hasContainers = (at: string) => {
  const parts = at.split('.').filter((p) => p !== '');
  const chain = parts.map((_, i) => `has(self.${[...parts.slice(0, i + 1)].join('.')})`);
  return [...chain, `has(self.${parts.join('.')}.spec)`, `has(self.${parts.join('.')}.spec.containers)`].join(' && ');
};

const mainContainers = (t: PodTemplate | undefined, mains: readonly string[]): ContainerOverrideValue[] =>
  (t?.spec?.containers ?? []).filter((c) => mains.includes(c.name));

/** The main containers (by name) of a podTemplate must leave these fields to the spec. */
function mainContainerRule(mains: readonly string[], fields: readonly OwnedContainerField[], message: string): CrossFieldRule<PodTemplate> {
  return {
    rule: `!has(self.spec) || !has(self.spec.containers) || self.spec.containers.all(c, !(c.name in ${celList(mains)}) || (${fields.map((f) => `!has(c.${f})`).join(' && ')}))`,
    message,
    fieldPath: '.spec.containers',
    holds: (t) => mainContainers(t, mains).every((c) => fields.every((f) => c[f] === undefined)),
  };
}

/** The main containers must not set variables the operator wires from a credentials Secret. */
function mainEnvRule(mains: readonly string[], names: readonly string[], message: string): CrossFieldRule<PodTemplate> {
  return {
    rule: `!has(self.spec) || !has(self.spec.containers) || self.spec.containers.all(c, !(c.name in ${celList(mains)}) || !has(c.env) || c.env.all(e, !(e.name in ${celList(names)})))`,
    message,
    fieldPath: '.spec.containers',
    holds: (t) => mainContainers(t, mains).every((c) => (c.env ?? []).every((e) => !names.includes(e.name))),
  };
}

interface OwnedFields {
  /** The main containers' names. */
  mains: readonly string[];
  /** Where the image comes from instead. */
  image: string;
  /** Where the command and arguments come from instead. */
  command: string;
  /** Where the probes come from instead; undefined when the operator sets none (beat, the migration). */
  probes?: string;
  /** Variables the operator sets from credentials in some main containers (all, unless named), with what to do instead. */
  env?: { names: readonly string[]; instead: string; mains?: readonly string[] };
}

/** "a, b or c". */
const orList = (items: readonly string[]) => items.join(', ').replace(/, ([^,]+)$/, ' or $1');

function ownedFieldRules(o: OwnedFields): CrossFieldRule<PodTemplate>[] {
  const which = (mains: readonly string[]) => `the ${orList(mains)} container`;
  const rules = [
    ownedLabelsRule,
    mainContainerRule(o.mains, ['image'], `must not set image of ${which(o.mains)}: set ${o.image}`),
    mainContainerRule(o.mains, ['command', 'args'], `must not set command or args of ${which(o.mains)}: ${o.command}`),
  ];
  if (o.probes) rules.push(mainContainerRule(o.mains, PROBES, `must not set livenessProbe, readinessProbe or startupProbe of ${which(o.mains)}: ${o.probes}`));
  if (o.env) {
    const mains = o.env.mains ?? o.mains;
    rules.push(mainEnvRule(mains, o.env.names, `must not set ${orList(o.env.names)} in ${which(mains)}: ${o.env.instead}`));
  }
  return rules;
}

const podTemplate = (owned: OwnedFields, what: string) => withRules(PodTemplateBase, ownedFieldRules(owned)).optional().describe(what);

/**
 * Variables the operator sets in app containers (api, worker, beat, the migration)
 * from each database's credentials Secret, and in the database's own container.
 * render/databases/*.ts set them; a render test checks the two agree.
 */
export const CREDENTIAL_ENV = {
  postgres: { app: ['DATABASE_URL'], database: ['POSTGRES_PASSWORD'] },
  redis: { app: ['REDIS_URL', 'CELERY_BROKER_URL', 'CELERY_RESULT_BACKEND'], database: ['REDISCLI_AUTH'] },
  mongodb: { app: ['MONGODB_URL'], database: ['MONGO_INITDB_ROOT_PASSWORD'] },
} as const;

/** Flower's broker URL and basic auth, from the Redis and Flower credentials Secrets. */
export const FLOWER_CREDENTIAL_ENV = ['CELERY_BROKER_URL', 'FLOWER_BASIC_AUTH'] as const;

/** The main container of each pod the operator renders, by the podTemplate that reaches it. */
export const MAIN_CONTAINERS = { api: 'api', worker: 'worker', beat: 'beat', flower: 'flower', migrations: 'migrate' } as const;

const FLOWER_ENV_INSTEAD = 'the operator sets them from the redis and flower credentials Secrets';

// ---------------------------------------------------------------------------
// App volumes: writable paths beside the read-only root, mounted into the
// components that list them.

/** The operator's own emptyDir at /tmp in every app pod. */
export const TMP_VOLUME_NAME = 'tmp';

const AppVolumeBase = strict({
  name: z
    .string()
    .min(1)
    .max(63)
    .regex(DNS1035_LABEL, {
      error: 'must be lowercase letters, digits and "-", start with a letter and end with a letter or digit (it names a PersistentVolumeClaim)',
    })
    .describe('Volume name, listed in spec.<component>.volumes. A persistent one is the PersistentVolumeClaim <app>-<name>.'),
  mountPath: z
    .string()
    .max(1024)
    .regex(/^\/\S*$/, { error: 'must be an absolute path, e.g. "/app/data"' })
    .describe('Where the volume is mounted in the containers of the components that list it.'),
  emptyDir: strict({
    sizeLimit: quantity('Most the volume may hold, e.g. "1Gi"; a pod over it is evicted.').optional(),
  })
    .optional()
    .describe('Scratch space that lives as long as the pod, e.g. for logs.'),
  persistentVolumeClaim: strict({
    size: z
      .string()
      .max(64)
      .regex(new RegExp(QUANTITY_PATTERN), { error: 'must be a size such as "10Gi" or "500Mi"' })
      .describe('Size of the claim, e.g. "1Gi". It can grow if the StorageClass allows expansion.'),
    storageClassName: immutable(
      objectName('StorageClass of the claim. Defaults to the cluster default.'),
      "is immutable: a PersistentVolumeClaim's StorageClass cannot change; copy the data to a new volume instead",
    ).optional(),
    accessMode: immutable(
      z
        .enum(['ReadWriteOnce', 'ReadWriteMany'])
        .default('ReadWriteOnce')
        .describe('ReadWriteOnce (one node) or ReadWriteMany (many nodes; the StorageClass must support it, as NFS or CephFS do).'),
      "is immutable: a PersistentVolumeClaim's access mode cannot change",
    ),
  })
    .optional()
    .describe('A PersistentVolumeClaim <app>-<name>, kept across pod restarts and rollouts.'),
  deletionPolicy: z
    .enum(['Retain', 'Delete'])
    .default('Retain')
    .describe(
      'For a persistentVolumeClaim: what happens to the claim when the BackendApp is deleted. Retain keeps it (recreating the app reattaches it); Delete removes it with the app. A volume taken out of spec.volumes keeps its claim until then: data is never deleted by an edit.',
    ),
});

const AppVolumeSchema = withRules(AppVolumeBase, [
  {
    rule: 'has(self.emptyDir) != has(self.persistentVolumeClaim)',
    message: 'must set exactly one of emptyDir or persistentVolumeClaim',
    holds: (v) => (v.emptyDir === undefined) !== (v.persistentVolumeClaim === undefined),
  },
  {
    rule: `self.name != '${TMP_VOLUME_NAME}'`,
    message: `must not be "${TMP_VOLUME_NAME}": that is the operator's own /tmp volume`,
    fieldPath: '.name',
    holds: (v) => v.name !== TMP_VOLUME_NAME,
  },
  {
    rule: "!self.mountPath.matches('^/tmp/*$')",
    message: 'must not be /tmp: every app container already has an emptyDir there; choose another path, e.g. /app/data',
    fieldPath: '.mountPath',
    holds: (v) => !/^\/tmp\/*$/.test(v.mountPath),
  },
  {
    rule: '!has(self.persistentVolumeClaim) || !isQuantity(self.persistentVolumeClaim.size) || quantity(self.persistentVolumeClaim.size).isGreaterThan(quantity("0"))',
    message: 'must be greater than zero, e.g. "10Gi"',
    fieldPath: '.persistentVolumeClaim.size',
    holds: (v) => v.persistentVolumeClaim === undefined || (parseQuantity(v.persistentVolumeClaim.size) ?? 1) > 0,
  },
]);

const volumeNames = (component: string) =>
  z
    .array(z.string().min(1).max(63).describe('Name of an entry of spec.volumes.'))
    .max(16)
    .superRefine((ns, ctx) => {
      ns.forEach((n, i) => {
        if (ns.indexOf(n) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate volume "${n}"; list each volume once` });
      });
    })
    .meta({ 'x-kubernetes-list-type': 'set' })
    .optional()
    .describe(`Volumes of spec.volumes mounted into the ${component} container, by name.`);

const serviceAccountName = (who: string) =>
  objectName(`ServiceAccount ${who} run as, e.g. one bound to a cloud identity for object storage. Overrides spec.serviceAccountName.`).optional();

// ---------------------------------------------------------------------------
// Components.

const ApiHealthBase = strict({
  startup: strict({ path: httpPath }).optional().describe('Startup tier: answers once the app has started. Liveness is held off until it succeeds.'),
  readiness: strict({ path: httpPath })
    .optional()
    .describe('Readiness tier: answers 2xx only when the app can serve, e.g. its databases are reachable. Gates traffic.'),
  liveness: strict({ path: httpPath })
    .optional()
    .describe('Liveness tier: answers unless the process is wedged. Failing it restarts the container, so keep it shallow.'),
  intervalSeconds: seconds('Seconds between checks (Docker HEALTHCHECK --interval).', 30),
  timeoutSeconds: seconds('Seconds before a check counts as failed (Docker --timeout).', 10),
  startPeriodSeconds: intRange(0, 3600, 'a whole number of seconds')
    .default(30)
    .describe('Seconds the app may take to start before failed checks count (Docker --start-period).'),
  retries: intRange(1, 100, 'a whole number').default(3).describe('Consecutive failures before the container is restarted (Docker --retries).'),
});

const ApiBase = strict({
  command: command(
    'Command that starts the HTTP server (replaces the image ENTRYPOINT), e.g. [uvicorn, app.main:app, --host, 0.0.0.0, --port, "8000"]. Defaults to the image\'s.',
  ).optional(),
  args: command('Arguments to the command (replace the image CMD).').optional(),
  port: port('Port the HTTP server listens on; the Service exposes the same port.').default(8000),
  replicas: replicas('Number of pods when autoscaling is not set; ignored when it is, since the autoscaler then owns the count.'),
  resources: resources('CPU and memory for the API container.'),
  health: defaultsToFilled(withRules(ApiHealthBase, [timeoutWithinInterval])).describe(
    'Health checks in three tiers with Docker HEALTHCHECK timing; see "Health tiers to probes" in the README for how they become Kubernetes probes.',
  ),
  autoscaling: autoscaling('Scale the API with a HorizontalPodAutoscaler, which then owns the replica count.'),
  image: image('Image of the API. Defaults to spec.image.').optional(),
  serviceAccountName: serviceAccountName('the API pods'),
  volumes: volumeNames('API'),
  service: strict({
    type: z
      .enum(['ClusterIP', 'NodePort', 'LoadBalancer'])
      .default('ClusterIP')
      .describe('Service type: ClusterIP (inside the cluster), NodePort or LoadBalancer.'),
    annotations: stringMap('Annotations of the Service, e.g. for an internal load balancer.', 64).optional(),
  })
    .optional()
    .describe('The Service <app>-api: its type and annotations.'),
  podTemplate: podTemplate(
    {
      mains: [MAIN_CONTAINERS.api],
      image: 'spec.api.image (or spec.image)',
      command: 'set spec.api.command and spec.api.args',
      probes: 'set spec.api.health',
    },
    'Pod fields for the API pods, merged over spec.podTemplate and the rendered pod (see "Customizing pods" in the README).',
  ),
});

const ApiSchema = withRules(ApiBase, autoscalingNeedsRequests<z.output<typeof ApiBase>>());

const WorkerHealthBase = strict({
  livenessCommand: command(
    'A cheap command that fails when the worker is wedged, e.g. a check of a heartbeat file your app touches. ' +
      'Defaults to checking that the worker process is neither a zombie nor stopped; `celery inspect ping` is not used here because it costs seconds of CPU per run.',
  ).optional(),
  intervalSeconds: seconds('Seconds between liveness checks.', 30),
  timeoutSeconds: seconds('Seconds before a check counts as failed. The startup check imports the Celery app, so allow for that.', 20),
  startPeriodSeconds: intRange(0, 3600, 'a whole number of seconds')
    .default(60)
    .describe('Seconds the worker may take to connect to the broker and answer `celery inspect ping` (the startup check).'),
  retries: intRange(1, 100, 'a whole number').default(3).describe('Consecutive liveness failures before the container is restarted.'),
});

const WorkerBase = strict({
  app: celeryApp('Celery application, as given to `celery -A`, e.g. "app.celery".'),
  concurrency: intRange(1, 256, 'a whole number')
    .default(2)
    .describe("Worker processes or threads per pod (--concurrency). Set explicitly because Celery's own default is the node's CPU count, not the pod's."),
  queues: z
    .array(
      z
        .string()
        .min(1)
        .max(255)
        .regex(/^[^\s,]+$/, { error: 'must be a queue name without spaces or commas' }),
    )
    .min(1, { error: "must list at least one queue; omit the field to consume Celery's default queue" })
    .max(64)
    .superRefine((qs, ctx) => {
      qs.forEach((q, i) => {
        if (qs.indexOf(q) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate queue "${q}"; queue names must be unique` });
      });
    })
    .meta({ 'x-kubernetes-list-type': 'set' })
    .optional()
    .describe(
      'Queues to consume (-Q). Omit it to consume Celery\'s default queue, "celery" (task_default_queue), where .delay() and beat send tasks unless the app routes them (task_routes, task_default_queue or queue=...). Listing queues replaces the default: a worker with queues [default] never receives tasks sent to "celery".',
    ),
  pool: z
    .enum(['prefork', 'threads', 'solo', 'gevent', 'eventlet'])
    .optional()
    .describe('Execution pool (--pool); gevent and eventlet must be installed in the image. Defaults to prefork.'),
  loglevel: logLevel,
  extraArgs: command(
    'More arguments appended to `celery worker`, e.g. ["--max-tasks-per-child", "100"]. Keep the default --hostname: the startup check pings celery@<pod name>.',
  ).optional(),
  replicas: replicas('Number of worker pods when autoscaling is not set; ignored when it is.'),
  resources: resources('CPU and memory for each worker pod.'),
  autoscaling: autoscaling('Scale workers with a HorizontalPodAutoscaler, which then owns the replica count.'),
  terminationGracePeriodSeconds: intRange(1, 86400, 'a whole number of seconds')
    .default(300)
    .describe('Seconds a stopping worker gets to finish its running tasks (Celery warm shutdown) before it is killed. Set it above your longest task.'),
  health: defaultsToFilled(withRules(WorkerHealthBase, [timeoutWithinInterval])).describe(
    'Worker health checks: a startup check with `celery inspect ping`, then a cheap liveness check. Both run `python3` from the app image (as `python3 -m celery` and a read of /proc/1/status), so the image needs python3 on PATH with Celery installed, and no shell.',
  ),
  image: image('Image of the workers. Defaults to spec.image.').optional(),
  serviceAccountName: serviceAccountName('the worker pods'),
  volumes: volumeNames('worker'),
  podTemplate: podTemplate(
    {
      mains: [MAIN_CONTAINERS.worker],
      image: 'spec.worker.image (or spec.image)',
      command: 'set spec.worker.app, queues, pool, concurrency and extraArgs',
      probes: 'set spec.worker.health',
    },
    'Pod fields for the worker pods, merged over spec.podTemplate and the rendered pod.',
  ),
});

const WorkerSchema = withRules(WorkerBase, autoscalingNeedsRequests<z.output<typeof WorkerBase>>());

const BeatSchema = strict(
  {
    app: celeryApp('Celery application for beat. Defaults to spec.worker.app.').optional(),
    scheduler: z
      .string()
      .max(256)
      .regex(PYTHON_APP, { error: 'must be a Python class path, e.g. "django_celery_beat.schedulers:DatabaseScheduler"' })
      .optional()
      .describe("Scheduler class (--scheduler). Defaults to Celery's file-based scheduler, kept in /tmp."),
    loglevel: logLevel,
    resources: resources('CPU and memory for the beat pod.'),
    image: image('Image of beat. Defaults to spec.image.').optional(),
    serviceAccountName: serviceAccountName('the beat pod'),
    volumes: volumeNames('beat'),
    podTemplate: podTemplate(
      { mains: [MAIN_CONTAINERS.beat], image: 'spec.beat.image (or spec.image)', command: 'set spec.beat.app, scheduler and loglevel' },
      'Pod fields for the beat pod, merged over spec.podTemplate and the rendered pod.',
    ),
  },
  {
    replicas: 'beat has no replicas field: it always runs exactly one pod, because two schedulers would send every periodic task twice',
    autoscaling: 'beat cannot be autoscaled: it always runs exactly one pod, because two schedulers would send every periodic task twice',
  },
);

const MigrationsSchema = strict({
  command: z
    .array(z.string().max(4096))
    .min(1, { error: 'must not be empty: give the migration command, e.g. [alembic, upgrade, head]' })
    .max(128)
    .describe("Command that migrates the schema, run in the application image with the app's env and credentials, e.g. [alembic, upgrade, head]."),
  args: command('Arguments to the command.').optional(),
  timeoutSeconds: seconds("Seconds the migration may run before the release fails (the Job's activeDeadlineSeconds).", 600, 86400),
  backoffLimit: intRange(0, 10, 'a whole number').default(0).describe("Retries of a failed migration before the release fails (the Job's backoffLimit)."),
  resources: resources('CPU and memory for the migration pod.'),
  image: image('Image the migration runs. Defaults to spec.image; a new image is a new release.').optional(),
  serviceAccountName: serviceAccountName('the migration pod'),
  volumes: volumeNames('migration'),
  podTemplate: podTemplate(
    {
      mains: [MAIN_CONTAINERS.migrations],
      image: 'spec.migrations.image (or spec.image)',
      command: 'set spec.migrations.command and spec.migrations.args',
    },
    "Pod fields for the migration Job's pod, merged over spec.podTemplate and the rendered pod.",
  ),
});

export const DEFAULT_FLOWER_IMAGE = 'mher/flower:2.0';

const FlowerSchema = strict(
  {
    image: image('Flower image. Runs `celery flower` against the Redis broker; the default is the upstream image.').default(DEFAULT_FLOWER_IMAGE),
    port: port('Port of the Flower web UI and of its Service.').default(5555),
    username: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_.-]+$/, { error: 'must be letters, digits, "_", "-" and "." (no ":" or ",", which Flower uses as separators)' })
      .default('admin')
      .describe('Basic-auth user for the UI. The password is generated into the <app>-flower-credentials Secret.'),
    resources: resources('CPU and memory for the Flower pod.'),
    serviceAccountName: serviceAccountName('the Flower pod'),
    podTemplate: podTemplate(
      {
        mains: [MAIN_CONTAINERS.flower],
        image: 'spec.flower.image',
        command: 'the operator runs `celery flower` on spec.flower.port; set spec.flower.image for another Flower',
        probes: "Flower's health checks are the operator's, on its /healthcheck endpoint",
        env: { names: FLOWER_CREDENTIAL_ENV, instead: FLOWER_ENV_INSTEAD },
      },
      'Pod fields for the Flower pod, merged over spec.podTemplate and the rendered pod.',
    ),
  },
  { replicas: 'flower has no replicas field: it keeps its state in memory, so it runs as one pod' },
);

// ---------------------------------------------------------------------------
// Databases.

const deletionPolicy = z
  .enum(['Retain', 'Delete'])
  .default('Retain')
  .describe(
    'What happens to the volumes and the credentials Secret when the BackendApp (or this database) is deleted: Retain keeps them, so recreating the app reattaches the same data; Delete removes them.',
  );

const StorageBase = strict({
  size: z
    .string()
    .max(64)
    .regex(new RegExp(QUANTITY_PATTERN), { error: 'must be a size such as "10Gi" or "500Mi"' })
    .default('1Gi')
    .describe('Size of the volume, e.g. "10Gi".'),
  storageClassName: objectName('StorageClass of the volume. Defaults to the cluster default.').optional(),
});

const storage = defaultsToFilled(
  immutable(
    withRules(StorageBase, [
      {
        // A malformed size gets the pattern's error alone.
        rule: '!isQuantity(self.size) || quantity(self.size).isGreaterThan(quantity("0"))',
        message: 'must be greater than zero, e.g. "10Gi"',
        fieldPath: '.size',
        holds: (st) => (parseQuantity(st.size) ?? 1) > 0,
      },
    ]),
    "is immutable: a StatefulSet's volumeClaimTemplates cannot change; to grow a volume, edit its PersistentVolumeClaim (the StorageClass must allow expansion)",
  ),
).describe('Persistent volume for the data, one PersistentVolumeClaim per database.');

/**
 * Requests a database container gets for each resource the user sets neither a
 * request nor a limit for, so a database is never BestEffort (the first pod evicted
 * under memory pressure). No default limits: throttling or OOM-killing a database
 * is the user's call.
 */
export const DEFAULT_DATABASE_REQUESTS = {
  postgres: { cpu: '100m', memory: '256Mi' },
  redis: { cpu: '50m', memory: '64Mi' },
  mongodb: { cpu: '100m', memory: '512Mi' },
} as const satisfies Record<'postgres' | 'redis' | 'mongodb', { cpu: string; memory: string }>;

const databaseCommon = (db: keyof typeof DEFAULT_DATABASE_REQUESTS, product: string, exampleTag: string) => ({
  version: imageTag(`Tag of the official ${product} image, e.g. "${exampleTag}".`),
  storage,
  deletionPolicy,
  resources: resources(
    `CPU and memory for the ${product} container. A resource with neither a request nor a limit here is requested at ` +
      `cpu ${DEFAULT_DATABASE_REQUESTS[db].cpu}, memory ${DEFAULT_DATABASE_REQUESTS[db].memory}, so the pod is never BestEffort; no limit is set unless you set one.`,
  ),
  podTemplate: podTemplate(
    {
      mains: [db],
      image: `spec.databases.${db}.version (the tag of the official ${product} image)`,
      command: `the operator starts the official ${product} image with its own arguments; set the fields of spec.databases.${db}`,
      probes: "its readiness check is the operator's, and the status reads it",
      env: {
        names: CREDENTIAL_ENV[db].database,
        instead: `the operator sets it from the <app>-${db}-credentials Secret, whose password the data was initialised with`,
      },
    },
    `Pod fields for the ${product} pod, merged over the rendered pod (spec.podTemplate does not reach databases).`,
  ),
});

const PostgresSchema = strict({
  ...databaseCommon('postgres', 'postgres', '15'),
  version: addCelRules(imageTag('Tag of the official postgres image, e.g. "15". The major version cannot change in place.'), [
    {
      rule: "self.find('^[0-9]+') == oldSelf.find('^[0-9]+')",
      message:
        'major version cannot change in place: PostgreSQL data directories are not compatible across major versions; dump and restore into a new database instead',
    },
  ]),
  database: immutable(dbIdentifier('Database created at first start (POSTGRES_DB).'), 'is immutable: the database was created at first start'),
  username: immutable(dbIdentifier('User created at first start (POSTGRES_USER); owns the database.'), 'is immutable: the user was created at first start'),
});

/** Redis 6 brought ACL users; the connection URLs name the user "default". */
export const MIN_REDIS_MAJOR = 6;

const RedisSchema = strict({
  ...databaseCommon('redis', 'redis', '7'),
  version: withRules(imageTag('Tag of the official redis image, e.g. "7". Redis 6 or later.'), [
    {
      rule: `!self.matches('^[0-9]+') || int(self.find('^[0-9]+')) >= ${MIN_REDIS_MAJOR}`,
      message: `must be ${MIN_REDIS_MAJOR} or later: the app connects as the Redis user "default" (redis://default:<password>@...), which Redis ${MIN_REDIS_MAJOR} introduced`,
      holds: (v) => !/^[0-9]+/.test(v) || Number(/^[0-9]+/.exec(v)?.[0]) >= MIN_REDIS_MAJOR,
    },
  ]),
});

const MongoSchema = strict({
  ...databaseCommon('mongodb', 'mongo', '7.0'),
  database: immutable(dbIdentifier('Database named in MONGODB_URL.'), 'is immutable: MONGODB_URL already points applications at it'),
  username: immutable(dbIdentifier('Root user created at first start (MONGO_INITDB_ROOT_USERNAME).'), 'is immutable: the user was created at first start'),
});

const DatabasesSchema = strict({
  postgres: PostgresSchema.optional().describe('A PostgreSQL StatefulSet; the app gets DATABASE_URL.'),
  redis: RedisSchema.optional().describe(
    'A Redis StatefulSet (append-only persistence); the app gets REDIS_URL, CELERY_BROKER_URL (db 0) and CELERY_RESULT_BACKEND (db 1).',
  ),
  mongodb: MongoSchema.optional().describe('A MongoDB StatefulSet; the app gets MONGODB_URL.'),
});

const SecurityContextSchema = strict({
  runAsUser: intRange(1, 2147483647, 'a non-root user id')
    .default(1000)
    .describe(
      'User id of the api, worker and beat containers. Set explicitly because the kubelet cannot verify that a named image user (USER appuser) is not root.',
    ),
  runAsGroup: intRange(1, 2147483647, 'a group id').default(1000).describe('Primary group id of the api, worker and beat containers.'),
  fsGroup: intRange(1, 2147483647, 'a group id').default(1000).describe('Group that owns mounted volumes in the api, worker and beat pods.'),
});

// ---------------------------------------------------------------------------
// Spec.

const SpecBase = strict({
  image: image('Application image, run by api, worker, beat and the migration unless they set their own image.'),
  imagePullPolicy: z
    .enum(['Always', 'IfNotPresent', 'Never'])
    .optional()
    .describe("When to pull the application image. Defaults to Kubernetes' rule (Always for :latest, else IfNotPresent)."),
  imagePullSecrets: z
    .array(strict({ name: objectName("Name of a docker-registry Secret in the app's namespace.") }))
    .max(16)
    .superRefine(uniqueNames('imagePullSecret'))
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional()
    .describe('Secrets used to pull the application image from a private registry.'),
  env: envList(EnvVarSchema, 'Environment variables for api, worker and beat.'),
  envFrom: z.array(EnvFromSchema).max(32).optional().describe('Secrets and ConfigMaps whose keys all become environment variables of api, worker and beat.'),
  securityContext: defaultsToFilled(SecurityContextSchema).describe(
    'Identity of the application containers. Every pod also runs with Pod Security "restricted" settings, which are not configurable.',
  ),
  api: ApiSchema.optional().describe('The HTTP API: a Deployment and a Service, named <app>-api. Present means on.'),
  worker: WorkerSchema.optional().describe('Celery workers: a Deployment named <app>-worker. Present means on.'),
  beat: BeatSchema.optional().describe('Celery beat, the periodic task scheduler: exactly one pod, named <app>-beat. Present means on.'),
  flower: FlowerSchema.optional().describe(
    'Flower, the Celery monitoring UI: a Deployment and Service named <app>-flower with basic auth. Needs spec.databases.redis. Present means on.',
  ),
  databases: DatabasesSchema.optional().describe('Databases run beside the app, each a StatefulSet. Present means on.'),
  migrations: MigrationsSchema.optional().describe(
    'Schema migrations run as a Job <app>-migrate-<revision> whenever the release (image, migration command and args, env, envFrom) changes, after the databases are ready and before api, worker and beat move to it. Present means on.',
  ),
  serviceAccountName: objectName(
    "ServiceAccount the app pods (api, worker, beat, Flower, the migration) run as, e.g. one bound to a cloud identity; a component's own serviceAccountName wins.",
  ).optional(),
  volumes: z
    .array(AppVolumeSchema)
    .max(16)
    .superRefine(uniqueNames('volume'))
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional()
    .describe(
      'Writable volumes beside the read-only root: an emptyDir, or a PersistentVolumeClaim <app>-<name>. Each is mounted into the components whose volumes list names it (spec.api.volumes, ...).',
    ),
  podTemplate: podTemplate(
    {
      mains: [MAIN_CONTAINERS.api, MAIN_CONTAINERS.worker, MAIN_CONTAINERS.beat, MAIN_CONTAINERS.flower, MAIN_CONTAINERS.migrations],
      image: "spec.image, or the component's image (spec.api.image, spec.worker.image, spec.beat.image, spec.flower.image, spec.migrations.image)",
      command: "set the component's fields (spec.api.command and args, spec.worker.app, spec.beat.app, spec.migrations.command and args)",
      probes: 'set spec.api.health or spec.worker.health',
      env: { names: FLOWER_CREDENTIAL_ENV, instead: FLOWER_ENV_INSTEAD, mains: [MAIN_CONTAINERS.flower] },
    },
    "Pod fields for every app pod (api, worker, beat, Flower, the migration), merged over the rendered pod; a component's podTemplate is merged over this one. A container named after a main container reaches only that component's pod.",
  ),
});

type SpecValue = z.output<typeof SpecBase>;

/** The components that mount app volumes, with the podTemplate that reaches each one's main container. */
const VOLUME_COMPONENTS = ['api', 'worker', 'beat', 'migrations'] as const;

/** Every name in spec.<component>.volumes is an entry of spec.volumes. */
function volumeReferenceRule(component: (typeof VOLUME_COMPONENTS)[number]): CrossFieldRule<SpecValue> {
  return {
    rule: `!has(self.${component}) || !has(self.${component}.volumes) || self.${component}.volumes.all(n, has(self.volumes) && self.volumes.exists(v, v.name == n))`,
    message: 'must name entries of spec.volumes: add a volume with this name to spec.volumes, or remove the name here',
    fieldPath: `.${component}.volumes`,
    holds: (s) => (s[component]?.volumes ?? []).every((n) => (s.volumes ?? []).some((v) => v.name === n)),
  };
}

/** A ReadWriteOnce claim attaches to one node: only single-pod components may mount it. */
const readWriteOnceRule: CrossFieldRule<SpecValue> = {
  rule:
    "!has(self.volumes) || self.volumes.all(v, !has(v.persistentVolumeClaim) || v.persistentVolumeClaim.accessMode != 'ReadWriteOnce' || (" +
    ['api', 'worker']
      .map((c) => `(!has(self.${c}) || !has(self.${c}.volumes) || !(v.name in self.${c}.volumes) || (self.${c}.replicas == 1 && !has(self.${c}.autoscaling)))`)
      .join(' && ') +
    '))',
  message:
    'a persistentVolumeClaim with accessMode ReadWriteOnce attaches to one node, so only components that run exactly one pod (replicas 1, no autoscaling) may mount it: run one replica, or set accessMode ReadWriteMany with a StorageClass that supports it',
  fieldPath: '.volumes',
  holds: (s) =>
    (s.volumes ?? []).every(
      (v) =>
        v.persistentVolumeClaim?.accessMode !== 'ReadWriteOnce' ||
        (['api', 'worker'] as const).every((c) => {
          const spec = s[c];
          return !spec?.volumes?.includes(v.name) || (spec.replicas === 1 && spec.autoscaling === undefined);
        }),
    ),
};

const uniqueMountPathsRule: CrossFieldRule<SpecValue> = {
  rule: '!has(self.volumes) || self.volumes.all(v, self.volumes.exists_one(w, w.mountPath == v.mountPath))',
  message: 'must give each volume its own mountPath',
  fieldPath: '.volumes',
  holds: (s) => new Set((s.volumes ?? []).map((v) => v.mountPath)).size === (s.volumes ?? []).length,
};

/**
 * The connection variables of the databases that are on belong to the operator in
 * the app's main containers: the podTemplate would silently shadow the credentials.
 * spec.env is the one place to replace them.
 */
function connectionEnvRule(at: 'podTemplate' | 'api' | 'worker' | 'beat' | 'migrations'): CrossFieldRule<SpecValue> {
  const path = at === 'podTemplate' ? '.podTemplate' : `.${at}.podTemplate`;
  const mains: string[] =
    at === 'podTemplate' ? [MAIN_CONTAINERS.api, MAIN_CONTAINERS.worker, MAIN_CONTAINERS.beat, MAIN_CONTAINERS.migrations] : [MAIN_CONTAINERS[at]];
  const dbs = Object.keys(CREDENTIAL_ENV) as (keyof typeof CREDENTIAL_ENV)[];
  const names = [...new Set(dbs.flatMap((db) => CREDENTIAL_ENV[db].app))];
  const taken = (e: string) =>
    `${dbs.map((db) => `!(has(self.databases) && has(self.databases.${db}) && ${e} in ${celList(CREDENTIAL_ENV[db].app)})`).join(' && ')}`;
  return {
    rule: `!(${hasContainers(path)}) || self${path}.spec.containers.all(c, !(c.name in ${celList(mains)}) || !has(c.env) || c.env.all(e, ${taken('e.name')}))`,
    message: `must not set ${orList(names)} in the ${orList(mains)} container while the database it comes from is on: the operator sets it from the credentials Secret; set it in spec.env, which replaces the operator's value`,
    fieldPath: `${path}.spec.containers`,
    holds: (s) => {
      const template = at === 'podTemplate' ? s.podTemplate : s[at]?.podTemplate;
      const on = new Set(dbs.filter((db) => s.databases?.[db] !== undefined).flatMap((db): readonly string[] => CREDENTIAL_ENV[db].app));
      return mainContainers(template, mains).every((c) => (c.env ?? []).every((e) => !on.has(e.name)));
    },
  };
}

export const BackendAppSpecSchema = withRules(SpecBase, [
  {
    rule: '!has(self.beat) || has(self.beat.app) || has(self.worker)',
    message: 'needs a Celery application: set beat.app, or add spec.worker so beat uses worker.app',
    fieldPath: '.beat.app',
    holds: (s) => s.beat === undefined || s.beat.app !== undefined || s.worker !== undefined,
  },
  {
    rule: '!has(self.flower) || (has(self.databases) && has(self.databases.redis))',
    message: "needs spec.databases.redis: Flower reads the Celery broker, which is the app's Redis",
    fieldPath: '.flower',
    holds: (s) => s.flower === undefined || s.databases?.redis !== undefined,
  },
  ...VOLUME_COMPONENTS.map(volumeReferenceRule),
  readWriteOnceRule,
  uniqueMountPathsRule,
  ...(['podTemplate', 'api', 'worker', 'beat', 'migrations'] as const).map(connectionEnvRule),
]).describe('Desired state of the backend: one application image run as api, worker and beat, plus Flower and databases.');

// ---------------------------------------------------------------------------
// Status.

const ConditionSchema = strict({
  type: z
    .string()
    .min(1)
    .max(316)
    .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/)
    .describe('Condition type: Ready, Progressing or Degraded.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('Whether the condition holds.'),
  observedGeneration: z.number().int().min(0).optional().describe('metadata.generation the condition was computed from.'),
  lastTransitionTime: z.iso.datetime().describe('When the status last changed (RFC 3339).'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe('CamelCase reason for the last transition, for machines.'),
  message: z.string().max(32768).describe('Details of the last transition, for people.'),
});

const ComponentStatusSchema = strict({
  ready: z.number().int().min(0).describe('Pods that are ready.'),
  desired: z.number().int().min(0).describe('Pods wanted, as decided by the spec or the autoscaler.'),
  message: z
    .string()
    .max(256)
    .optional()
    .describe(
      'Why pods are not ready, while some are missing: a container waiting in CreateContainerConfigError, ImagePullBackOff, ErrImagePull or CrashLoopBackOff (with its last exit), or a pod the scheduler cannot place.',
    ),
});

const componentStatus = (name: string) => ComponentStatusSchema.optional().describe(`Pods of ${name}.`);

export const PHASES = ['Pending', 'Progressing', 'Ready', 'Degraded', 'Failed'] as const;
export const MIGRATION_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;

const ReleaseStatusSchema = strict({
  revision: z.string().max(64).describe("Hash of what the release changes in the schema's eyes: the image, the migration command and args, env and envFrom."),
  image: z.string().max(1024).describe('Application image of the release.'),
  migration: strict({
    job: z.string().max(253).describe('The migration Job of this release.'),
    phase: z.enum(MIGRATION_PHASES).describe('Pending (waiting for the databases or an earlier migration), Running, Succeeded or Failed.'),
    startedAt: z.iso.datetime().optional().describe('When the Job started (RFC 3339).'),
    finishedAt: z.iso.datetime().optional().describe('When the Job succeeded or failed (RFC 3339).'),
    message: z.string().max(1024).optional().describe("Why the migration is waiting or failed: the failed pod's termination message or last log lines."),
  })
    .optional()
    .describe("The release's migration, with spec.migrations."),
});

export const BackendAppStatusSchema = strict({
  observedGeneration: z.number().int().min(0).optional().describe('metadata.generation the operator last acted on.'),
  phase: z
    .enum(PHASES)
    .optional()
    .describe(
      'One-word summary: Pending (not yet acted on), Progressing (rolling out), Ready (every component ready), Degraded (something that was ready is not), Failed (the operator cannot make progress; see the conditions).',
    ),
  summary: z.string().max(256).optional().describe('Short per-component readiness, e.g. "api 2/2, worker 2/2, postgres 1/1".'),
  conditions: z
    .array(ConditionSchema)
    .max(16)
    .superRefine((cs, ctx) => {
      cs.forEach((c, i) => {
        if (cs.findIndex((o) => o.type === c.type) !== i) ctx.addIssue({ code: 'custom', path: [i, 'type'], message: `duplicate condition type "${c.type}"` });
      });
    })
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
    .optional()
    .describe('Latest observations: Ready, Progressing and Degraded, in the metav1.Condition shape.'),
  components: strict({
    api: componentStatus('the API Deployment'),
    worker: componentStatus('the worker Deployment'),
    beat: componentStatus('the beat Deployment'),
    flower: componentStatus('the Flower Deployment'),
    postgres: componentStatus('the PostgreSQL StatefulSet'),
    redis: componentStatus('the Redis StatefulSet'),
    mongodb: componentStatus('the MongoDB StatefulSet'),
  })
    .optional()
    .describe('Ready and desired pods per component that is on.'),
  release: ReleaseStatusSchema.optional().describe('The release the spec asks for and, with spec.migrations, how its migration went.'),
}).describe('Observed state, written by the operator.');

// ---------------------------------------------------------------------------
// The whole object.

const NAME_LENGTH_MESSAGE = `must be at most ${MAX_APP_NAME_LENGTH} characters, so that derived names such as <name>${LONGEST_NAME_SUFFIX} fit in 63`;
const NAME_FORMAT_MESSAGE = 'must be lowercase letters, digits and "-", start with a letter and end with a letter or digit (it names Services)';

const MetadataSchema = z.looseObject({
  name: z
    .string({ error: (iss) => (iss.input === undefined ? 'is required' : undefined) })
    .min(1, { error: 'must not be empty' })
    .max(MAX_APP_NAME_LENGTH, { error: NAME_LENGTH_MESSAGE })
    .regex(DNS1035_LABEL, { error: NAME_FORMAT_MESSAGE }),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
});

/**
 * Root-level CEL: the API server lets rules at the root read metadata.name without
 * the CRD declaring it. Declaring it (the only way to give these rules a fieldPath)
 * would make schemas converted the standard way (kubeconform's openapi2jsonschema,
 * datree's CRD catalogue) refuse every BackendApp with a namespace or labels, so the
 * server reports these at the root, and the message names the field instead.
 */
export const METADATA_NAME_RULES: readonly CelRule[] = [
  { rule: `size(self.metadata.name) <= ${MAX_APP_NAME_LENGTH}`, message: `metadata.name ${NAME_LENGTH_MESSAGE}` },
  // Only names the API server's own check (a DNS-1123 subdomain) lets through, so a
  // name it refuses gets its message alone.
  {
    rule: `!self.metadata.name.matches('${DNS1123_SUBDOMAIN.source}') || self.metadata.name.matches('${DNS1035_LABEL.source}')`,
    message: `metadata.name ${NAME_FORMAT_MESSAGE}`,
  },
];

export const BackendAppSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION, { error: `must be "${API_VERSION}"` }),
  kind: z.literal(KIND, { error: `must be "${KIND}"` }),
  metadata: MetadataSchema,
  spec: BackendAppSpecSchema,
  // The status is the operator's own output. One it cannot read (an older shape, a
  // hand edit) is dropped rather than reported: it must never stop the spec from
  // being reconciled, and the next status write replaces it.
  status: BackendAppStatusSchema.optional().catch(undefined),
});

export type BackendAppSpec = z.infer<typeof BackendAppSpecSchema>;
export type BackendAppSpecInput = z.input<typeof BackendAppSpecSchema>;
export type BackendAppStatus = z.infer<typeof BackendAppStatusSchema>;
export type BackendApp = Omit<z.infer<typeof BackendAppSchema>, 'metadata'> & { metadata: V1ObjectMeta & { name: string } };
export type BackendAppInput = Omit<z.input<typeof BackendAppSchema>, 'metadata'> & { metadata: V1ObjectMeta & { name: string } };
export type Condition = z.infer<typeof ConditionSchema>;
export type Resources = NonNullable<z.infer<typeof ResourcesBase>>;
export type Autoscaling = z.infer<typeof AutoscalingBase>;
export type ApiSpec = NonNullable<BackendAppSpec['api']>;
export type WorkerSpec = NonNullable<BackendAppSpec['worker']>;
export type BeatSpec = NonNullable<BackendAppSpec['beat']>;
export type FlowerSpec = NonNullable<BackendAppSpec['flower']>;
export type MigrationsSpec = NonNullable<BackendAppSpec['migrations']>;
export type ReleaseStatus = NonNullable<BackendAppStatus['release']>;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];
export type Databases = NonNullable<BackendAppSpec['databases']>;
export type PostgresSpec = NonNullable<Databases['postgres']>;
export type RedisSpec = NonNullable<Databases['redis']>;
export type MongoSpec = NonNullable<Databases['mongodb']>;
export type DatabaseKind = keyof Databases;
export type DeletionPolicy = PostgresSpec['deletionPolicy'];

/** The database engines, as the schema lists them (render/databases/ has a module for each). */
export const DATABASE_KINDS = Object.keys(DatabasesSchema.shape) as readonly DatabaseKind[];
export const APP_COMPONENTS = ['api', 'worker', 'beat', 'flower'] as const;
export type AppComponent = (typeof APP_COMPONENTS)[number];
export type Component = AppComponent | DatabaseKind;

// ---------------------------------------------------------------------------
// Validation at the edge.

export { formatFieldErrors, formatFieldErrorsInline, formatPath, type FieldError } from './errors.js';

export type ValidationResult = { ok: true; app: BackendApp } | { ok: false; errors: FieldError[] };

/** Narrow untrusted input (a parsed manifest, an object from the API) to a BackendApp with defaults applied. */
export function validateBackendApp(obj: unknown): ValidationResult {
  // Messages written in the schema win; genericMessage only words the rest.
  const result = BackendAppSchema.safeParse(obj, { reportInput: true, error: genericMessage });
  if (result.success) {
    const { metadata, ...rest } = result.data;
    return { ok: true, app: { ...rest, metadata: metadata as V1ObjectMeta & { name: string } } };
  }
  return { ok: false, errors: toFieldErrors(result.error.issues) };
}

// Re-exported for tests and the renderer.
export { isQuantity, parseQuantity };
