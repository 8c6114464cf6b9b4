// Databases beside the app: for each of postgres, redis and mongodb that is on, a
// StatefulSet with one pod running the official image, a headless Service that
// gives the pod a stable DNS name, and a client Service the app connects to.
import type { V1Container, V1EnvVar, V1Probe, V1Service, V1StatefulSet, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { BackendApp, DatabaseKind, DeletionPolicy, MongoSpec, PostgresSpec, RedisSpec } from '../api/v1alpha1.js';
import { DATABASE_KINDS, DEFAULT_DATABASE_REQUESTS } from '../api/v1alpha1.js';
import { componentName, credentialsSecretName, headlessServiceName, labels, objectMeta, selectorLabels } from './labels.js';
import { containerSecurityContext, hardenedPod, resourceRequirements, withDefaultRequests } from './pod.js';
import { DATABASE_PORTS, SECRET_KEYS, secretKeyEnv } from './secrets.js';

/**
 * The uid/gid of the database user in the official postgres, redis and mongo
 * images (Debian-based tags). Running as it lets the entrypoints skip their
 * root-only chown step, and fsGroup makes the volume writable for it.
 */
export const DATABASE_UID = 999;

export const DATA_VOLUME = 'data';

/** Time for a clean shutdown (checkpoint, AOF fsync) before SIGKILL. */
const DATABASE_GRACE_SECONDS = 120;

interface Engine {
  image: string;
  mountPath: string;
  container: Omit<V1Container, 'name' | 'image'>;
  /** Mounts besides the data volume, and the pod volumes they need. */
  mounts?: V1VolumeMount[];
  volumes?: V1Volume[];
}

function passwordEnv(app: BackendApp, db: DatabaseKind, name: string): V1EnvVar {
  return secretKeyEnv(name, credentialsSecretName(app, db), SECRET_KEYS.password);
}

/** Readiness by exec: the database's own client asks it, so "ready" means it answers queries. */
function execReadiness(command: string[], periodSeconds = 10, timeoutSeconds = 5): V1Probe {
  return { exec: { command }, periodSeconds, timeoutSeconds, failureThreshold: 3 };
}

/**
 * Where the volume goes and where PGDATA lives. The volume must cover the path the
 * image declares as a VOLUME: containerd and CRI-O give an uncovered one a
 * container-scoped directory, so the data would live there and vanish with the
 * container. Images before 18 declare /var/lib/postgresql/data; PGDATA is a
 * directory inside it, as the image's docs advise, so the volume's lost+found stays
 * out of it. 18 and later declare /var/lib/postgresql, the parent of PGDATA. The
 * major version never changes in place, so neither does the layout.
 */
export function postgresLayout(version: string): { mountPath: string; pgdata: string } {
  const major = Number(/^[0-9]+/.exec(version)?.[0] ?? 0);
  return major >= 18
    ? { mountPath: '/var/lib/postgresql', pgdata: '/var/lib/postgresql/data' }
    : { mountPath: '/var/lib/postgresql/data', pgdata: '/var/lib/postgresql/data/pgdata' };
}

function postgres(app: BackendApp, pg: PostgresSpec): Engine {
  const layout = postgresLayout(pg.version);
  return {
    image: `postgres:${pg.version}`,
    mountPath: layout.mountPath,
    container: {
      env: [
        { name: 'POSTGRES_USER', value: pg.username },
        { name: 'POSTGRES_DB', value: pg.database },
        passwordEnv(app, 'postgres', 'POSTGRES_PASSWORD'),
        { name: 'PGDATA', value: layout.pgdata },
      ],
      // TCP on 127.0.0.1: the init-time server listens on the socket only, so this
      // turns ready only once the real server accepts connections.
      readinessProbe: execReadiness(['pg_isready', '-U', pg.username, '-d', pg.database, '-h', '127.0.0.1', '-p', String(DATABASE_PORTS.postgres)]),
    },
  };
}

/** Where the Redis pod finds its config file with the password, mounted from the credentials Secret. */
export const REDIS_AUTH_DIR = '/etc/redis/auth';
const REDIS_AUTH_VOLUME = 'auth';

function redis(app: BackendApp, r: RedisSpec): Engine {
  return {
    image: `redis:${r.version}`,
    mountPath: '/data',
    container: {
      // args, not command: the image's entrypoint runs (it loads the modules bundled in
      // redis 8 images and sets umask 0077), and it prepends redis-server because the
      // first argument is a .conf file. The password is in that file, from the Secret,
      // so it is in no argument (/proc/1/cmdline, ps, the runtime's config).
      // Append-only persistence so queued Celery tasks survive a restart.
      args: [`${REDIS_AUTH_DIR}/${SECRET_KEYS.redisConf}`, '--appendonly', 'yes', '--dir', '/data'],
      env: [passwordEnv(app, 'redis', 'REDISCLI_AUTH')],
      // redis-cli exits 0 even on an error reply (LOADING, NOAUTH): compare the answer.
      readinessProbe: execReadiness(['sh', '-c', 'test "$(redis-cli -p 6379 ping)" = PONG']),
    },
    mounts: [{ name: REDIS_AUTH_VOLUME, mountPath: REDIS_AUTH_DIR, readOnly: true }],
    volumes: [
      {
        name: REDIS_AUTH_VOLUME,
        // Group-readable: the pod's fsGroup is the redis user's group.
        secret: { secretName: credentialsSecretName(app, 'redis'), items: [{ key: SECRET_KEYS.redisConf, path: SECRET_KEYS.redisConf }], defaultMode: 0o440 },
      },
    ],
  };
}

function mongodb(app: BackendApp, m: MongoSpec): Engine {
  return {
    image: `mongo:${m.version}`,
    mountPath: '/data/db',
    container: {
      env: [
        { name: 'MONGO_INITDB_ROOT_USERNAME', value: m.username },
        passwordEnv(app, 'mongodb', 'MONGO_INITDB_ROOT_PASSWORD'),
        { name: 'MONGO_INITDB_DATABASE', value: m.database },
      ],
      // ping needs no authentication. It asks the pod's own address (its hostname,
      // which the kubelet's /etc/hosts maps to the pod IP), not 127.0.0.1: during
      // first-start init the image runs a temporary mongod bound to 127.0.0.1 only,
      // without auth, which must not count as ready. mongosh is a Node.js program
      // that takes a second of CPU to start, hence the longer period and timeout.
      readinessProbe: execReadiness(
        ['sh', '-c', `exec mongosh --host "\${HOSTNAME:-$(hostname)}" --port ${DATABASE_PORTS.mongodb} --quiet --norc --eval "quit(db.adminCommand('ping').ok ? 0 : 1)"`],
        20,
        10,
      ),
    },
  };
}

function engine(app: BackendApp, db: DatabaseKind): Engine | undefined {
  const dbs = app.spec.databases;
  switch (db) {
    case 'postgres':
      return dbs?.postgres && postgres(app, dbs.postgres);
    case 'redis':
      return dbs?.redis && redis(app, dbs.redis);
    case 'mongodb':
      return dbs?.mongodb && mongodb(app, dbs.mongodb);
  }
}

/**
 * What happens to the volumes: Delete removes them with the StatefulSet (so with
 * the app, or when the database is turned off); Retain keeps them. Scaling never
 * deletes a volume.
 */
export function pvcRetentionPolicy(policy: DeletionPolicy): { whenDeleted: DeletionPolicy; whenScaled: DeletionPolicy } {
  return { whenDeleted: policy, whenScaled: 'Retain' };
}

export function databaseStatefulSet(app: BackendApp, db: DatabaseKind): V1StatefulSet | undefined {
  const spec = app.spec.databases?.[db];
  const e = engine(app, db);
  if (!spec || !e) return undefined;
  const port = DATABASE_PORTS[db];
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: objectMeta(app, componentName(app, db), db),
    spec: {
      // One pod: these are single-instance databases for the app, not clusters.
      replicas: 1,
      serviceName: headlessServiceName(app, db),
      selector: { matchLabels: selectorLabels(app, db) },
      persistentVolumeClaimRetentionPolicy: pvcRetentionPolicy(spec.deletionPolicy),
      template: {
        metadata: { labels: labels(app, db) },
        spec: hardenedPod(
          {
            terminationGracePeriodSeconds: DATABASE_GRACE_SECONDS,
            containers: [
              {
                name: db,
                image: e.image,
                ...e.container,
                ports: [{ name: db, containerPort: port, protocol: 'TCP' }],
                resources: withDefaultRequests(resourceRequirements(spec.resources), DEFAULT_DATABASE_REQUESTS[db]),
                // Writable root: the entrypoints write sockets, pid files and init state
                // in several places. Still restricted: non-root, no capabilities.
                securityContext: containerSecurityContext(false),
                volumeMounts: [{ name: DATA_VOLUME, mountPath: e.mountPath }, ...(e.mounts ?? [])],
              },
            ],
            ...(e.volumes ? { volumes: e.volumes } : {}),
          },
          { runAsUser: DATABASE_UID, runAsGroup: DATABASE_UID, fsGroup: DATABASE_UID },
        ),
      },
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          // Selector labels only: claim templates are immutable, and the controller
          // finds the claims by instance and component.
          metadata: { name: DATA_VOLUME, labels: selectorLabels(app, db) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: spec.storage.storageClassName,
            resources: { requests: { storage: spec.storage.size } },
          },
        },
      ],
    },
  };
}

/** Governs the StatefulSet: DNS for the pod (<app>-postgres-0.<app>-postgres-headless), ready or not. */
export function databaseHeadlessService(app: BackendApp, db: DatabaseKind): V1Service | undefined {
  if (!app.spec.databases?.[db]) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(app, headlessServiceName(app, db), db),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(app, db),
      ports: [{ name: db, port: DATABASE_PORTS[db], targetPort: db, protocol: 'TCP' }],
    },
  };
}

/** What the app connects to: <app>-postgres:5432 and so on. */
export function databaseClientService(app: BackendApp, db: DatabaseKind): V1Service | undefined {
  if (!app.spec.databases?.[db]) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(app, componentName(app, db), db),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(app, db),
      ports: [{ name: db, port: DATABASE_PORTS[db], targetPort: db, protocol: 'TCP' }],
    },
  };
}

export function databaseObjects(app: BackendApp): (V1StatefulSet | V1Service)[] {
  return DATABASE_KINDS.flatMap((db) =>
    [databaseStatefulSet(app, db), databaseHeadlessService(app, db), databaseClientService(app, db)].filter(
      (o): o is V1StatefulSet | V1Service => o !== undefined,
    ),
  );
}
