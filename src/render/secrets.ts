// Credential Secrets and the environment that wires them into the app.
//
// Passwords are generated once: the renderer is given the values of the Secrets
// that already exist and keeps every password it finds, so a re-render never
// changes one (the databases were initialised with it). Everything derived from a
// password, such as the connection URLs, is recomputed from the kept value.
import { randomBytes } from 'node:crypto';
import type { KubernetesObject, V1EnvVar, V1Secret } from '@kubernetes/client-node';
import type { BackendApp, DatabaseKind, DeletionPolicy } from '../api/v1alpha1.js';
import {
  CREDENTIALS_LABEL,
  DELETION_POLICY_LABEL,
  componentName,
  credentialsSecretName,
  objectMeta,
} from './labels.js';

export interface RenderInputs {
  /** Decoded data of the Secrets that exist now, by Secret name. */
  existingSecrets: Record<string, Record<string, string>>;
  /** Random string from `bytes` random bytes; must be URL-safe. Defaults to base64url. */
  randomSecret?: (bytes: number) => string;
}

/** 24 random bytes: 192 bits, 32 base64url characters. */
export const PASSWORD_BYTES = 24;

/** base64url has no characters that need escaping in a URL, a shell or Flower's "user:pass". */
export function defaultRandomSecret(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** Keys of the credential Secrets; documented in the README, relied on by users. */
export const SECRET_KEYS = {
  username: 'username',
  password: 'password',
  database: 'database',
  host: 'host',
  port: 'port',
  url: 'url',
  resultBackendUrl: 'result-backend-url',
  basicAuth: 'basic-auth',
  /** Redis's own config file holding the password (requirepass), mounted into the Redis pod. */
  redisConf: 'redis.conf',
} as const;

export const DATABASE_PORTS: Record<DatabaseKind, number> = { postgres: 5432, redis: 6379, mongodb: 27017 };

/** Redis logical databases: the broker and the app's REDIS_URL share 0, results live in 1. */
const REDIS_BROKER_DB = 0;
const REDIS_RESULT_DB = 1;

/**
 * Whether an object must outlive its BackendApp: the credentials of a database
 * whose deletionPolicy is Retain. Such objects carry no owner reference, and
 * pruning must leave them alone, since the retained volumes need them.
 */
export function isRetained(obj: KubernetesObject): boolean {
  const l = obj.metadata?.labels ?? {};
  return l[CREDENTIALS_LABEL] === 'true' && l[DELETION_POLICY_LABEL] === 'Retain';
}

function passwordFor(secretName: string, inputs: RenderInputs): string {
  const existing = inputs.existingSecrets[secretName]?.[SECRET_KEYS.password];
  // An empty password never initialised anything (the images refuse one), so it is
  // treated as missing rather than kept.
  if (existing !== undefined && existing !== '') return existing;
  return (inputs.randomSecret ?? defaultRandomSecret)(PASSWORD_BYTES);
}

function secret(
  app: BackendApp,
  component: DatabaseKind | 'flower',
  data: Record<string, string>,
  policy?: DeletionPolicy,
): V1Secret {
  const extra: Record<string, string> = { [CREDENTIALS_LABEL]: 'true' };
  if (policy) extra[DELETION_POLICY_LABEL] = policy;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: objectMeta(app, credentialsSecretName(app, component), component, {
      labels: extra,
      orphan: policy === 'Retain',
    }),
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
  };
}

export function postgresCredentials(app: BackendApp, inputs: RenderInputs): V1Secret | undefined {
  const pg = app.spec.databases?.postgres;
  if (!pg) return undefined;
  const password = passwordFor(credentialsSecretName(app, 'postgres'), inputs);
  const host = componentName(app, 'postgres');
  const port = DATABASE_PORTS.postgres;
  return secret(
    app,
    'postgres',
    {
      [SECRET_KEYS.username]: pg.username,
      [SECRET_KEYS.password]: password,
      [SECRET_KEYS.database]: pg.database,
      [SECRET_KEYS.host]: host,
      [SECRET_KEYS.port]: String(port),
      // "postgresql://": SQLAlchemy 1.4+ no longer accepts "postgres://".
      [SECRET_KEYS.url]: `postgresql://${pg.username}:${password}@${host}:${port}/${pg.database}`,
    },
    pg.deletionPolicy,
  );
}

export function redisCredentials(app: BackendApp, inputs: RenderInputs): V1Secret | undefined {
  const redis = app.spec.databases?.redis;
  if (!redis) return undefined;
  const password = passwordFor(credentialsSecretName(app, 'redis'), inputs);
  const host = componentName(app, 'redis');
  const port = DATABASE_PORTS.redis;
  // The user "default" spelled out (Redis 6+ ACLs): with an empty user redis-cli
  // sends AUTH "" <password>, which Redis refuses; redis-py and kombu accept both.
  const base = `redis://default:${password}@${host}:${port}`;
  return secret(
    app,
    'redis',
    {
      [SECRET_KEYS.password]: password,
      [SECRET_KEYS.host]: host,
      [SECRET_KEYS.port]: String(port),
      [SECRET_KEYS.url]: `${base}/${REDIS_BROKER_DB}`,
      [SECRET_KEYS.resultBackendUrl]: `${base}/${REDIS_RESULT_DB}`,
      // base64url passwords need no quoting beyond the double quotes.
      [SECRET_KEYS.redisConf]: `requirepass "${password}"\n`,
    },
    redis.deletionPolicy,
  );
}

export function mongodbCredentials(app: BackendApp, inputs: RenderInputs): V1Secret | undefined {
  const mongo = app.spec.databases?.mongodb;
  if (!mongo) return undefined;
  const password = passwordFor(credentialsSecretName(app, 'mongodb'), inputs);
  const host = componentName(app, 'mongodb');
  const port = DATABASE_PORTS.mongodb;
  return secret(
    app,
    'mongodb',
    {
      [SECRET_KEYS.username]: mongo.username,
      [SECRET_KEYS.password]: password,
      [SECRET_KEYS.database]: mongo.database,
      [SECRET_KEYS.host]: host,
      [SECRET_KEYS.port]: String(port),
      // The user is created in "admin" by the image's root-user setup.
      [SECRET_KEYS.url]: `mongodb://${mongo.username}:${password}@${host}:${port}/${mongo.database}?authSource=admin`,
    },
    mongo.deletionPolicy,
  );
}

/** Flower's basic auth. Owned by the app whatever the databases' policies: it guards no data. */
export function flowerCredentials(app: BackendApp, inputs: RenderInputs): V1Secret | undefined {
  const flower = app.spec.flower;
  if (!flower) return undefined;
  const password = passwordFor(credentialsSecretName(app, 'flower'), inputs);
  return secret(app, 'flower', {
    [SECRET_KEYS.username]: flower.username,
    [SECRET_KEYS.password]: password,
    [SECRET_KEYS.basicAuth]: `${flower.username}:${password}`,
  });
}

export function credentialsSecrets(app: BackendApp, inputs: RenderInputs): V1Secret[] {
  return [
    postgresCredentials(app, inputs),
    redisCredentials(app, inputs),
    mongodbCredentials(app, inputs),
    flowerCredentials(app, inputs),
  ].filter((s): s is V1Secret => s !== undefined);
}

export function secretKeyEnv(name: string, secretName: string, key: string): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/**
 * Connection settings for the app containers (api, worker, beat), only for the
 * databases that are on. Read from the Secrets, so no credential appears in a pod spec.
 */
export function connectionEnv(app: BackendApp): V1EnvVar[] {
  const dbs = app.spec.databases ?? {};
  const env: V1EnvVar[] = [];
  if (dbs.postgres) env.push(secretKeyEnv('DATABASE_URL', credentialsSecretName(app, 'postgres'), SECRET_KEYS.url));
  if (dbs.mongodb) env.push(secretKeyEnv('MONGODB_URL', credentialsSecretName(app, 'mongodb'), SECRET_KEYS.url));
  if (dbs.redis) {
    const name = credentialsSecretName(app, 'redis');
    env.push(
      secretKeyEnv('REDIS_URL', name, SECRET_KEYS.url),
      secretKeyEnv('CELERY_BROKER_URL', name, SECRET_KEYS.url),
      secretKeyEnv('CELERY_RESULT_BACKEND', name, SECRET_KEYS.resultBackendUrl),
    );
  }
  return env;
}
