import { describe, expect, it } from 'vitest';
import { counterRandom, decode, finwise, makeApp } from './fixtures.test-util.js';
import type { V1Secret } from '@kubernetes/client-node';
import type { BackendApp, DatabaseKind } from '../api/v1alpha1.js';
import { connectionEnv, databaseCredentials } from './databases/index.js';
import { PASSWORD_BYTES, defaultRandomSecret, flowerCredentials, isRetained, type RenderInputs } from './secrets.js';

/** Every credentials Secret of the app, databases first, as renderApp gathers them. */
function credentialsSecrets(app: BackendApp, inputs: RenderInputs): V1Secret[] {
  return [...databaseCredentials(app, inputs), flowerCredentials(app, inputs)].filter((s): s is V1Secret => s !== undefined);
}

/** One database's Secret, rendered as if it were the app's only database (so the counter's first value is its). */
function credentialsOf(db: DatabaseKind) {
  return (app: BackendApp, inputs: RenderInputs): V1Secret | undefined =>
    databaseCredentials({ ...app, spec: { ...app.spec, databases: { [db]: app.spec.databases?.[db] } } }, inputs)[0];
}
const postgresCredentials = credentialsOf('postgres');
const redisCredentials = credentialsOf('redis');
const mongodbCredentials = credentialsOf('mongodb');

const none = { existingSecrets: {} };

describe('credential Secrets', () => {
  it('generates passwords and connection URLs for postgres', () => {
    const s = postgresCredentials(finwise(), { existingSecrets: {}, randomSecret: counterRandom() });
    expect(s?.metadata?.name).toBe('finwise-postgres-credentials');
    expect(s?.type).toBe('Opaque');
    expect(decode(s?.data)).toEqual({
      username: 'app',
      password: 'random-1',
      database: 'app',
      host: 'finwise-postgres',
      port: '5432',
      url: 'postgresql://app:random-1@finwise-postgres:5432/app',
    });
  });

  it('gives redis a broker URL on db 0 and a result backend on db 1', () => {
    const s = redisCredentials(finwise(), { existingSecrets: {}, randomSecret: counterRandom() });
    expect(decode(s?.data)).toEqual({
      password: 'random-1',
      host: 'finwise-redis',
      port: '6379',
      // The user "default" named: redis-cli sends AUTH "" <password> for an empty one, which Redis refuses.
      url: 'redis://default:random-1@finwise-redis:6379/0',
      'result-backend-url': 'redis://default:random-1@finwise-redis:6379/1',
      'redis.conf': 'requirepass "random-1"\n',
    });
  });

  it('points the mongodb URL at the database, authenticating against admin', () => {
    const s = mongodbCredentials(finwise(), { existingSecrets: {}, randomSecret: counterRandom() });
    expect(decode(s?.data).url).toBe('mongodb://app:random-1@finwise-mongodb:27017/app?authSource=admin');
  });

  it('gives flower "user:password" basic auth', () => {
    const s = flowerCredentials(finwise(), { existingSecrets: {}, randomSecret: counterRandom() });
    expect(decode(s?.data)).toEqual({ username: 'admin', password: 'random-1', 'basic-auth': 'admin:random-1' });
  });

  it('keeps existing passwords and rebuilds what derives from them', () => {
    const app = finwise();
    const existing = {
      'finwise-postgres-credentials': { password: 'kept-pg', url: 'postgresql://stale' },
      'finwise-redis-credentials': { password: 'kept-redis' },
    };
    const random = counterRandom();
    const [pg, redis, mongo, flower] = credentialsSecrets(app, { existingSecrets: existing, randomSecret: random });
    expect(decode(pg?.data).url).toBe('postgresql://app:kept-pg@finwise-postgres:5432/app');
    expect(decode(redis?.data).password).toBe('kept-redis');
    expect(decode(mongo?.data).password).toBe('random-1');
    expect(decode(flower?.data).password).toBe('random-2');
  });

  it('replaces an empty password, which never initialised anything', () => {
    const s = postgresCredentials(finwise(), { existingSecrets: { 'finwise-postgres-credentials': { password: '' } }, randomSecret: counterRandom() });
    expect(decode(s?.data).password).toBe('random-1');
  });

  it('generates URL-safe passwords of 192 bits by default', () => {
    const p = defaultRandomSecret(PASSWORD_BYTES);
    expect(p).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(defaultRandomSecret(PASSWORD_BYTES)).not.toBe(p);
  });

  it('renders only the Secrets of components that are on', () => {
    const app = makeApp({ image: 'x:1', databases: { redis: { version: '7' } } });
    expect(credentialsSecrets(app, none).map((s) => s.metadata?.name)).toEqual(['shop-redis-credentials']);
  });
});

describe('retention', () => {
  it('leaves Retain database credentials unowned and marked, so they outlive the app', () => {
    const app = finwise({ uid: 'u-1' });
    const [pg] = credentialsSecrets(app, none);
    expect(pg?.metadata?.ownerReferences).toBeUndefined();
    expect(pg?.metadata?.labels).toMatchObject({ 'backendapp.io/credentials': 'true', 'backendapp.io/deletion-policy': 'Retain' });
    expect(pg && isRetained(pg)).toBe(true);
  });

  it('owns Delete database credentials and Flower credentials', () => {
    const app = makeApp({ image: 'x:1', flower: {}, databases: { redis: { version: '7', deletionPolicy: 'Delete' } } }, { uid: 'u-1' });
    for (const s of credentialsSecrets(app, none)) {
      expect(isRetained(s), s.metadata?.name).toBe(false);
      expect(s.metadata?.ownerReferences?.[0]?.uid).toBe('u-1');
    }
  });
});

describe('connectionEnv', () => {
  it('wires each database that is on through secretKeyRef', () => {
    expect(connectionEnv(finwise())).toEqual([
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'finwise-postgres-credentials', key: 'url' } } },
      { name: 'MONGODB_URL', valueFrom: { secretKeyRef: { name: 'finwise-mongodb-credentials', key: 'url' } } },
      { name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'finwise-redis-credentials', key: 'url' } } },
      { name: 'CELERY_BROKER_URL', valueFrom: { secretKeyRef: { name: 'finwise-redis-credentials', key: 'url' } } },
      { name: 'CELERY_RESULT_BACKEND', valueFrom: { secretKeyRef: { name: 'finwise-redis-credentials', key: 'result-backend-url' } } },
    ]);
  });

  it('sets nothing for databases that are off', () => {
    expect(connectionEnv(makeApp({ image: 'x:1' }))).toEqual([]);
    expect(connectionEnv(makeApp({ image: 'x:1', databases: { postgres: { version: '16' } } })).map((e) => e.name)).toEqual(['DATABASE_URL']);
  });
});

describe('isRetained', () => {
  it('is true only for credentials labelled Retain', () => {
    const labelled = (labels: Record<string, string> | undefined) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', labels } });
    expect(isRetained(labelled({ 'backendapp.io/credentials': 'true', 'backendapp.io/deletion-policy': 'Retain' }))).toBe(true);
    expect(isRetained(labelled({ 'backendapp.io/credentials': 'true', 'backendapp.io/deletion-policy': 'Delete' }))).toBe(false);
    expect(isRetained(labelled({ 'backendapp.io/deletion-policy': 'Retain' }))).toBe(false);
    expect(isRetained(labelled(undefined))).toBe(false);
  });

  it('stores Secret data base64-encoded, as the API requires', () => {
    const secret = flowerCredentials(finwise(), { existingSecrets: {}, randomSecret: counterRandom() });
    expect(secret?.data?.username).toBe(Buffer.from('admin').toString('base64'));
  });
});
