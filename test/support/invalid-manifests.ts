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
  {
    name: 'podTemplate setting a selector label',
    edit: set('spec.api.podTemplate', { metadata: { labels: { 'app.kubernetes.io/component': 'web' } } }),
    path: 'spec.api.podTemplate.metadata.labels',
    message:
      'must not set app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component, app.kubernetes.io/managed-by or labels under backendapp.io/: the operator sets them from metadata.name and the component, and its selectors and NetworkPolicies match on them; use labels of your own',
    cel: true,
  },
  {
    name: "podTemplate setting the api container's image",
    edit: set('spec.api.podTemplate', { spec: { containers: [{ name: 'api', image: 'ghcr.io/finwise/backend:1.5.0' }] } }),
    path: 'spec.api.podTemplate.spec.containers',
    message: 'must not set image of the api container: set spec.api.image (or spec.image)',
    cel: true,
  },
  {
    name: "podTemplate setting the worker container's command",
    edit: set('spec.worker.podTemplate', { spec: { containers: [{ name: 'worker', command: ['celery', '-A', 'app', 'worker'] }] } }),
    path: 'spec.worker.podTemplate.spec.containers',
    message: 'must not set command or args of the worker container: set spec.worker.app, queues, pool, concurrency and extraArgs',
    cel: true,
  },
  {
    name: 'app-wide podTemplate setting a probe of a main container',
    edit: set('spec.podTemplate', { spec: { containers: [{ name: 'api', livenessProbe: { httpGet: { path: '/', port: 8000 } } }] } }),
    path: 'spec.podTemplate.spec.containers',
    message:
      'must not set livenessProbe, readinessProbe or startupProbe of the api, worker, beat, flower or migrate container: set spec.api.health or spec.worker.health',
    cel: true,
  },
  {
    name: 'podTemplate replacing a connection variable',
    edit: set('spec.api.podTemplate', { spec: { containers: [{ name: 'api', env: [{ name: 'DATABASE_URL', value: 'sqlite:///app/data/db.sqlite' }] }] } }),
    path: 'spec.api.podTemplate.spec.containers',
    message:
      "must not set DATABASE_URL, REDIS_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND or MONGODB_URL in the api container while the database it comes from is on: the operator sets it from the credentials Secret; set it in spec.env, which replaces the operator's value",
    cel: true,
  },
  {
    name: "podTemplate replacing a database's password variable",
    edit: set('spec.databases.postgres.podTemplate', { spec: { containers: [{ name: 'postgres', env: [{ name: 'POSTGRES_PASSWORD', value: 'secret' }] }] } }),
    path: 'spec.databases.postgres.podTemplate.spec.containers',
    message:
      'must not set POSTGRES_PASSWORD in the postgres container: the operator sets it from the <app>-postgres-credentials Secret, whose password the data was initialised with',
    cel: true,
  },
  {
    name: "podTemplate replacing Flower's basic auth",
    edit: set('spec.flower.podTemplate', { spec: { containers: [{ name: 'flower', env: [{ name: 'FLOWER_BASIC_AUTH', value: 'admin:admin' }] }] } }),
    path: 'spec.flower.podTemplate.spec.containers',
    message:
      'must not set CELERY_BROKER_URL or FLOWER_BASIC_AUTH in the flower container: the operator sets them from the redis and flower credentials Secrets',
    cel: true,
  },
  {
    name: 'podTemplate container without a name',
    edit: set('spec.worker.podTemplate', { spec: { containers: [{ image: 'busybox' }] } }),
    path: 'spec.worker.podTemplate.spec.containers[0].name',
    message: 'is required (a string)',
  },
  {
    name: 'volume with both emptyDir and persistentVolumeClaim',
    edit: set('spec.volumes', [{ name: 'data', mountPath: '/app/data', emptyDir: {}, persistentVolumeClaim: { size: '1Gi' } }]),
    path: 'spec.volumes[0]',
    message: 'must set exactly one of emptyDir or persistentVolumeClaim',
    cel: true,
  },
  {
    name: 'volume mounted at /tmp',
    edit: set('spec.volumes', [{ name: 'scratch', mountPath: '/tmp', emptyDir: {} }]),
    path: 'spec.volumes[0].mountPath',
    message: 'must not be /tmp: every app container already has an emptyDir there; choose another path, e.g. /app/data',
    cel: true,
  },
  {
    name: 'volume at a relative path',
    edit: set('spec.volumes', [{ name: 'logs', mountPath: 'app/logs', emptyDir: {} }]),
    path: 'spec.volumes[0].mountPath',
    message: 'must be an absolute path, e.g. "/app/data" (got "app/logs")',
  },
  {
    name: 'volume named tmp',
    edit: set('spec.volumes', [{ name: 'tmp', mountPath: '/scratch', emptyDir: {} }]),
    path: 'spec.volumes[0].name',
    message: `must not be "tmp": that is the operator's own /tmp volume`,
    cel: true,
  },
  {
    name: 'volume with a name that is not a DNS label',
    edit: set('spec.volumes', [{ name: 'App_Data', mountPath: '/app/data', emptyDir: {} }]),
    path: 'spec.volumes[0].name',
    message:
      'must be lowercase letters, digits and "-", start with a letter and end with a letter or digit (it names a PersistentVolumeClaim) (got "App_Data")',
  },
  {
    name: 'two volumes at one mountPath',
    edit: set('spec.volumes', [
      { name: 'logs', mountPath: '/app/logs', emptyDir: {} },
      { name: 'more-logs', mountPath: '/app/logs', emptyDir: {} },
    ]),
    path: 'spec.volumes',
    message: 'must give each volume its own mountPath',
    cel: true,
  },
  {
    name: 'persistent volume of size zero',
    edit: set('spec.volumes', [{ name: 'data', mountPath: '/app/data', persistentVolumeClaim: { size: '0' } }]),
    path: 'spec.volumes[0].persistentVolumeClaim.size',
    message: 'must be greater than zero, e.g. "10Gi"',
    cel: true,
  },
  {
    name: 'persistent volume with an unknown access mode',
    edit: set('spec.volumes', [{ name: 'data', mountPath: '/app/data', persistentVolumeClaim: { size: '1Gi', accessMode: 'ReadOnlyMany' } }]),
    path: 'spec.volumes[0].persistentVolumeClaim.accessMode',
    message: 'must be one of "ReadWriteOnce", "ReadWriteMany" (got "ReadOnlyMany")',
  },
  {
    name: 'component listing a volume spec.volumes lacks',
    edit: set('spec.beat.volumes', ['data']),
    path: 'spec.beat.volumes',
    message: 'must name entries of spec.volumes: add a volume with this name to spec.volumes, or remove the name here',
    cel: true,
  },
  {
    name: 'ReadWriteOnce volume on a component with several replicas',
    edit: (m) => {
      set('spec.volumes', [{ name: 'data', mountPath: '/app/data', persistentVolumeClaim: { size: '1Gi' } }])(m);
      set('spec.worker.volumes', ['data'])(m);
    },
    path: 'spec.volumes',
    message:
      'a persistentVolumeClaim with accessMode ReadWriteOnce attaches to one node, so only components that run exactly one pod (replicas 1, no autoscaling) may mount it: run one replica, or set accessMode ReadWriteMany with a StorageClass that supports it',
    cel: true,
  },
  {
    name: 'api Service of an unknown type',
    edit: set('spec.api.service', { type: 'External' }),
    path: 'spec.api.service.type',
    message: 'must be one of "ClusterIP", "NodePort", "LoadBalancer" (got "External")',
  },
  {
    name: 'serviceAccountName that is not an object name',
    edit: set('spec.serviceAccountName', 'S3_Reader'),
    path: 'spec.serviceAccountName',
    message: 'must be a Kubernetes object name',
  },
  {
    name: 'worker image with a space',
    edit: set('spec.worker.image', 'ghcr.io/finwise/worker 1.0'),
    path: 'spec.worker.image',
    message: 'must be an image reference without spaces',
  },
];

/** The finwise sample with one case's mistake applied. */
export function invalidManifest(c: InvalidCase): Manifest {
  const m = sampleManifest();
  c.edit(m);
  return m;
}
