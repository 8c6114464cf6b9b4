// Databases beside the app: for each of postgres, redis and mongodb that is on, a
// StatefulSet with one pod running the official image, a headless Service that
// gives the pod a stable DNS name, and a client Service the app connects to.
import type { V1EnvVar, V1Secret, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { BackendApp, DatabaseKind, DeletionPolicy } from '../../api/v1alpha1.js';
import { DATABASE_KINDS, DEFAULT_DATABASE_REQUESTS } from '../../api/v1alpha1.js';
import { componentName, credentialsSecretName, headlessServiceName, labels, objectMeta, selectorLabels } from '../labels.js';
import { componentService, containerSecurityContext, hardenedPod, resourceRequirements, withDefaultRequests } from '../pod.js';
import { customizePod } from '../podtemplate.js';
import { credentialsSecret, passwordFor, type RenderInputs } from '../secrets.js';
import type { DatabaseEngine, DatabaseSpec, EnginePod } from './engine.js';
import { mongodb } from './mongodb.js';
import { postgres } from './postgres.js';
import { redis } from './redis.js';

export { postgresLayout } from './postgres.js';

/**
 * The uid/gid of the database user in the official postgres, redis and mongo
 * images (Debian-based tags). Running as it lets the entrypoints skip their
 * root-only chown step, and fsGroup makes the volume writable for it.
 */
export const DATABASE_UID = 999;

export const DATA_VOLUME = 'data';

/** Time for a clean shutdown (checkpoint, AOF fsync) before SIGKILL. */
const DATABASE_GRACE_SECONDS = 120;

/**
 * Every engine, by the schema's database kinds: a kind with no module here does not
 * compile. Adding an engine is the schema's entry and one module beside this file.
 */
export const ENGINES: { readonly [K in DatabaseKind]: DatabaseEngine<K> } = { postgres, redis, mongodb };

/** The engine's part of the pod for a database that is on. */
function enginePod<K extends DatabaseKind>(app: BackendApp, db: K): EnginePod | undefined {
  const spec = app.spec.databases?.[db] as DatabaseSpec<K> | undefined;
  return spec && ENGINES[db].pod(app, spec);
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
  const e = enginePod(app, db);
  if (!spec || !e) return undefined;
  const port = ENGINES[db].port;
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
      template: customizePod(app, db, {
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
      }),
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
      ports: [{ name: db, port: ENGINES[db].port, targetPort: db, protocol: 'TCP' }],
    },
  };
}

/** What the app connects to: <app>-postgres:5432 and so on. */
export function databaseClientService(app: BackendApp, db: DatabaseKind): V1Service | undefined {
  if (!app.spec.databases?.[db]) return undefined;
  return componentService(app, db, { name: db, port: ENGINES[db].port });
}

export function databaseObjects(app: BackendApp): (V1StatefulSet | V1Service)[] {
  return DATABASE_KINDS.flatMap((db) =>
    [databaseStatefulSet(app, db), databaseHeadlessService(app, db), databaseClientService(app, db)].filter(
      (o): o is V1StatefulSet | V1Service => o !== undefined,
    ),
  );
}

/** The credentials Secret of each database that is on, its password kept or generated once. */
export function databaseCredentials(app: BackendApp, inputs: RenderInputs): V1Secret[] {
  return DATABASE_KINDS.flatMap((db) => {
    const secret = credentialsOf(app, db, inputs);
    return secret ? [secret] : [];
  });
}

function credentialsOf<K extends DatabaseKind>(app: BackendApp, db: K, inputs: RenderInputs): V1Secret | undefined {
  const spec = app.spec.databases?.[db] as DatabaseSpec<K> | undefined;
  if (!spec) return undefined;
  const password = passwordFor(credentialsSecretName(app, db), inputs);
  return credentialsSecret(app, db, ENGINES[db].credentials(app, spec, password), spec.deletionPolicy);
}

/**
 * The order the connection variables have always had in pod templates: changing it
 * would roll every app's pods for nothing. An engine not listed goes after them.
 */
const APP_ENV_ORDER: readonly DatabaseKind[] = ['postgres', 'mongodb', 'redis'];

/**
 * Connection settings for the app containers (api, worker, beat), only for the
 * databases that are on. Read from the Secrets, so no credential appears in a pod spec.
 */
export function connectionEnv(app: BackendApp): V1EnvVar[] {
  const order = [...APP_ENV_ORDER, ...DATABASE_KINDS.filter((db) => !APP_ENV_ORDER.includes(db))];
  return order.flatMap((db) => (app.spec.databases?.[db] ? ENGINES[db].appEnv(app) : []));
}
