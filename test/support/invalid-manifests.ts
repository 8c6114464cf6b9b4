// The table of invalid BackendApp manifests: each mistake, the field a user sees it
// at, and the message. test/unit/invalid-manifests.test.ts checks the CLI's
// validation (zod) against it; test/integration/api.test.ts checks the API server
// refuses the same manifests, naming the same field.
import { sampleManifest } from '../../src/render/fixtures.test-util.js';

export type Manifest = Record<string, unknown>;
export type Edit = (m: Manifest) => void;

/** Walk to the parent of a dotted path ("spec.env.0.name"), creating nothing. */
function parentOf(m: Manifest, path: string): [Record<string, unknown>, string] {
  const keys = path.split('.');
  const last = keys.pop() as string;
  let node: unknown = m;
  for (const k of keys) {
    if (typeof node !== 'object' || node === null) throw new Error(`no ${path} in the sample`);
    node = (node as Record<string, unknown>)[k];
  }
  if (typeof node !== 'object' || node === null) throw new Error(`no ${path} in the sample`);
  return [node as Record<string, unknown>, last];
}

export const set =
  (path: string, value: unknown): Edit =>
  (m) => {
    const [parent, key] = parentOf(m, path);
    parent[key] = value;
  };

export const unset =
  (path: string): Edit =>
  (m) => {
    const [parent, key] = parentOf(m, path);
    delete parent[key];
  };

export interface InvalidCase {
  name: string;
  edit: Edit;
  path: string;
  message: string;
  /** The rule is also CEL in the CRD, with this exact message at this path. */
  cel?: true;
}

export const invalidCases: readonly InvalidCase[] = [
  {
    name: 'wrong apiVersion',
    edit: set('apiVersion', 'backendapp.io/v1'),
    path: 'apiVersion',
    message: 'must be "backendapp.io/v1alpha1" (got "backendapp.io/v1")',
  },
  { name: 'wrong kind', edit: set('kind', 'App'), path: 'kind', message: 'must be "BackendApp" (got "App")' },
  {
    name: 'name with capitals',
    edit: set('metadata.name', 'FinWise'),
    path: 'metadata.name',
    message: 'must be lowercase letters, digits and "-", start with a letter and end with a letter or digit (it names Services) (got "FinWise")',
  },
  {
    // A valid object name for the API server, but not a Service name (DNS-1035).
    name: 'name starting with a digit',
    edit: set('metadata.name', '1finwise'),
    path: 'metadata.name',
    message: 'must be lowercase letters, digits and "-", start with a letter and end with a letter or digit (it names Services)',
    cel: true,
  },
  {
    name: 'name too long for derived names',
    edit: set('metadata.name', 'a'.repeat(43)),
    path: 'metadata.name',
    message: 'must be at most 42 characters, so that derived names such as <name>-postgres-credentials fit in 63',
    cel: true,
  },
  { name: 'missing image', edit: unset('spec.image'), path: 'spec.image', message: 'is required (a string)' },
  { name: 'image with a space', edit: set('spec.image', 'ghcr.io/x/y 1.0'), path: 'spec.image', message: 'must be an image reference without spaces' },
  {
    // Pasted from a web page: U+00A0 is whitespace to JavaScript but not to RE2's \s.
    name: 'image with a no-break space',
    edit: set('spec.image', 'ghcr.io/finwise/backend:1.4.2\u00a0'),
    path: 'spec.image',
    message: 'must be an image reference without spaces',
  },
  {
    name: 'unknown field in spec',
    edit: set('spec.replicas', 3),
    path: 'spec.replicas',
    message:
      'unknown field; the fields allowed here are: image, imagePullPolicy, imagePullSecrets, env, envFrom, securityContext, api, worker, beat, flower, databases',
  },
  { name: 'typo in api', edit: set('spec.api.prot', 8000), path: 'spec.api.prot', message: 'unknown field; the fields allowed here are: command, args, port,' },
  { name: 'port out of range', edit: set('spec.api.port', 70000), path: 'spec.api.port', message: 'must be a port number between 1 and 65535 (got 70000)' },
  { name: 'port as a string', edit: set('spec.api.port', '8000'), path: 'spec.api.port', message: 'must be a number, not a string (got "8000")' },
  { name: 'negative replicas', edit: set('spec.api.replicas', -1), path: 'spec.api.replicas', message: 'must be a whole number from 0 to 1000 (got -1)' },
  {
    name: 'health path without a slash',
    edit: set('spec.api.health.readiness.path', 'health/ready'),
    path: 'spec.api.health.readiness.path',
    message: 'must be an HTTP path starting with "/", e.g. "/health" (got "health/ready")',
  },
  {
    name: 'health timeout longer than the interval',
    edit: set('spec.api.health.timeoutSeconds', 60),
    path: 'spec.api.health.timeoutSeconds',
    message: 'must not exceed intervalSeconds: a check that may outlast the interval overlaps the next one',
    cel: true,
  },
  {
    name: 'maxReplicas below minReplicas',
    edit: set('spec.api.autoscaling', { minReplicas: 5, maxReplicas: 2 }),
    path: 'spec.api.autoscaling.maxReplicas',
    message: 'must be greater than or equal to minReplicas',
    cel: true,
  },
  {
    name: 'autoscaling without maxReplicas',
    edit: set('spec.api.autoscaling', { minReplicas: 2 }),
    path: 'spec.api.autoscaling.maxReplicas',
    message: 'is required: the most pods the autoscaler may run',
  },
  {
    name: 'CPU autoscaling without a CPU request',
    edit: unset('spec.api.resources.requests.cpu'),
    path: 'spec.api.resources.requests.cpu',
    message: 'is required when autoscaling on CPU (targetCPUUtilizationPercentage, the default target): utilization is measured against the request',
    cel: true,
  },
  {
    name: 'memory autoscaling without a memory request',
    edit: set('spec.worker.autoscaling', { maxReplicas: 4, targetMemoryUtilizationPercentage: 70 }),
    path: 'spec.worker.resources.requests.memory',
    message: 'is required when targetMemoryUtilizationPercentage is set: utilization is measured against the request',
    cel: true,
  },
  {
    name: 'CPU that is not a quantity',
    edit: set('spec.api.resources.requests.cpu', 'two cores'),
    path: 'spec.api.resources.requests.cpu',
    message: 'must be a Kubernetes quantity such as "500m", "2", "512Mi" or "10Gi" (got "two cores")',
  },
  {
    name: 'CPU as a negative number',
    edit: set('spec.api.resources.requests.cpu', -1),
    path: 'spec.api.resources.requests.cpu',
    message: 'must be a Kubernetes quantity such as "500m", "2", "512Mi" or "10Gi" (got -1)',
  },
  {
    name: 'request above the limit',
    edit: set('spec.api.resources.requests.memory', '4Gi'),
    path: 'spec.api.resources.requests.memory',
    message: 'memory request must not exceed the memory limit',
    cel: true,
  },
  {
    name: 'replicas on beat',
    edit: set('spec.beat', { replicas: 2 }),
    path: 'spec.beat.replicas',
    message: 'beat has no replicas field: it always runs exactly one pod, because two schedulers would send every periodic task twice',
  },
  {
    name: 'beat with no Celery app',
    edit: unset('spec.worker'),
    path: 'spec.beat.app',
    message: 'needs a Celery application: set beat.app, or add spec.worker so beat uses worker.app',
    cel: true,
  },
  {
    name: 'flower without redis',
    edit: unset('spec.databases.redis'),
    path: 'spec.flower',
    message: "needs spec.databases.redis: Flower reads the Celery broker, which is the app's Redis",
    cel: true,
  },
  {
    name: 'celery app that is not a module path',
    edit: set('spec.worker.app', 'app/celery.py'),
    path: 'spec.worker.app',
    message: 'must be a Python module path as given to `celery -A`, e.g. "app.celery" or "proj.celery:app" (got "app/celery.py")',
  },
  {
    name: 'zero concurrency',
    edit: set('spec.worker.concurrency', 0),
    path: 'spec.worker.concurrency',
    message: 'must be a whole number from 1 to 256 (got 0)',
  },
  {
    name: 'duplicate queue',
    edit: set('spec.worker.queues', ['default', 'mail', 'default']),
    path: 'spec.worker.queues[2]',
    message: 'duplicate queue "default"; queue names must be unique',
  },
  {
    name: 'duplicate env var',
    edit: set('spec.env', [
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'LOG_LEVEL', value: 'debug' },
    ]),
    path: 'spec.env[1].name',
    message: 'duplicate variable "LOG_LEVEL" (also at index 0); names must be unique',
  },
  {
    name: 'env with value and valueFrom',
    edit: set('spec.env.0.valueFrom', { secretKeyRef: { name: 'x', key: 'y' } }),
    path: 'spec.env[0].valueFrom',
    message: 'must not be set together with value: give either a literal value or valueFrom',
    cel: true,
  },
  {
    name: 'envFrom with neither source',
    edit: set('spec.envFrom', [{ prefix: 'APP_' }]),
    path: 'spec.envFrom[0]',
    message: 'must set exactly one of secretRef or configMapRef',
    cel: true,
  },
  {
    name: 'database version written as a number',
    edit: set('spec.databases.postgres.version', 15),
    path: 'spec.databases.postgres.version',
    message: 'must be a string, not a number; quote it in YAML (got 15)',
  },
  {
    name: 'database version that is not a version',
    edit: set('spec.databases.mongodb.version', 'latest'),
    path: 'spec.databases.mongodb.version',
    message: 'must be an image tag that starts with the version number, e.g. "15", "7.2" or "16-alpine"',
  },
  {
    name: 'Redis older than 6 (no "default" user for the connection URLs)',
    edit: set('spec.databases.redis.version', '5.0'),
    path: 'spec.databases.redis.version',
    message: 'must be 6 or later: the app connects as the Redis user "default" (redis://default:<password>@...), which Redis 6 introduced',
    cel: true,
  },
  {
    name: 'unknown deletionPolicy',
    edit: set('spec.databases.redis.deletionPolicy', 'Keep'),
    path: 'spec.databases.redis.deletionPolicy',
    message: 'must be one of "Retain", "Delete" (got "Keep")',
  },
  {
    name: 'zero-sized volume',
    edit: set('spec.databases.postgres.storage.size', '0'),
    path: 'spec.databases.postgres.storage.size',
    message: 'must be greater than zero, e.g. "10Gi"',
    cel: true,
  },
  {
    name: 'volume size in GB',
    edit: set('spec.databases.postgres.storage.size', '10GB'),
    path: 'spec.databases.postgres.storage.size',
    message: 'must be a size such as "10Gi" or "500Mi" (got "10GB")',
  },
  {
    name: 'unsupported database',
    edit: set('spec.databases.mysql', { version: '8' }),
    path: 'spec.databases.mysql',
    message: 'unknown field; the fields allowed here are: postgres, redis, mongodb',
  },
  {
    name: 'pull secret that is not an object name',
    edit: set('spec.imagePullSecrets', [{ name: 'Reg_Cred' }]),
    path: 'spec.imagePullSecrets[0].name',
    message: 'must be a Kubernetes object name',
  },
  {
    name: 'running as root',
    edit: set('spec.securityContext', { runAsUser: 0 }),
    path: 'spec.securityContext.runAsUser',
    message: 'must be a non-root user id from 1 to 2147483647 (got 0)',
  },
  {
    name: 'flower user with a colon',
    edit: set('spec.flower.username', 'ad:min'),
    path: 'spec.flower.username',
    message: 'must be letters, digits, "_", "-" and "." (no ":" or ",", which Flower uses as separators) (got "ad:min")',
  },
  {
    name: 'database user with capitals',
    edit: set('spec.databases.postgres.username', 'App'),
    path: 'spec.databases.postgres.username',
    message: 'must be lowercase letters, digits and "_", starting with a letter or "_" (at most 63 characters) (got "App")',
  },
  { name: 'spec missing', edit: unset('spec'), path: 'spec', message: 'is required (a mapping)' },
];

/** The finwise sample with one case's mistake applied. */
export function invalidManifest(c: InvalidCase): Manifest {
  const m = sampleManifest();
  c.edit(m);
  return m;
}
