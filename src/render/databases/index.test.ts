import { describe, expect, it } from 'vitest';
import type { V1Container } from '@kubernetes/client-node';
import { finwise, makeApp } from '../fixtures.test-util.js';
import { restrictedViolations } from '../pod.js';
import {
  DATABASE_UID,
  databaseClientService,
  databaseHeadlessService,
  databaseObjects,
  databaseStatefulSet,
  postgresLayout,
  pvcRetentionPolicy,
} from './index.js';

const container = (db: 'postgres' | 'redis' | 'mongodb'): V1Container => {
  const c = databaseStatefulSet(finwise(), db)?.spec?.template.spec?.containers[0];
  if (!c) throw new Error(`no ${db} container`);
  return c;
};

describe('database StatefulSets', () => {
  it('run the official image at the given version', () => {
    expect(container('postgres').image).toBe('postgres:15');
    expect(container('redis').image).toBe('redis:7');
    expect(container('mongodb').image).toBe('mongo:7.0');
  });

  it("check readiness with each database's own client", () => {
    expect(container('postgres').readinessProbe?.exec?.command).toEqual(['pg_isready', '-U', 'app', '-d', 'app', '-h', '127.0.0.1', '-p', '5432']);
    expect(container('redis').readinessProbe?.exec?.command?.join(' ')).toContain('redis-cli -p 6379 ping');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's own ${VAR:-default}, inside the probe's command
    expect(container('mongodb').readinessProbe?.exec?.command?.join(' ')).toContain('mongosh --host "${HOSTNAME:-$(hostname)}" --port 27017');
  });

  // The mongo image's first-start init runs a mongod bound to 127.0.0.1 without auth:
  // a probe of the loopback address would turn ready during init.
  it("probe MongoDB at the pod's own address, never the loopback one the init server uses", () => {
    const probe = container('mongodb').readinessProbe?.exec?.command?.join(' ') ?? '';
    expect(probe).toContain('--host');
    expect(probe).not.toMatch(/127\.0\.0\.1|localhost|::1/);
  });

  it("start Redis through the image's entrypoint (args, not command) with its password in a mounted file", () => {
    const c = container('redis');
    expect(c.command).toBeUndefined();
    expect(c.args).toEqual(['/etc/redis/auth/redis.conf', '--appendonly', 'yes', '--dir', '/data']);
    expect(c.volumeMounts).toContainEqual({ name: 'auth', mountPath: '/etc/redis/auth', readOnly: true });
    const volumes = databaseStatefulSet(finwise(), 'redis')?.spec?.template.spec?.volumes;
    expect(volumes).toEqual([
      { name: 'auth', secret: { secretName: 'finwise-redis-credentials', items: [{ key: 'redis.conf', path: 'redis.conf' }], defaultMode: 0o440 } },
    ]);
  });

  it('request CPU and memory by default, so a database is never BestEffort', () => {
    expect(container('postgres').resources).toEqual({ requests: { cpu: '100m', memory: '256Mi' } });
    expect(container('redis').resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' } });
    expect(container('mongodb').resources).toEqual({ requests: { cpu: '100m', memory: '512Mi' } });
    // The user's request wins; a limit alone makes Kubernetes request that much, so it is not overridden.
    const custom = makeApp({
      image: 'x:1',
      databases: { postgres: { version: '15', resources: { requests: { cpu: '2' }, limits: { memory: '128Mi' } } } },
    });
    expect(databaseStatefulSet(custom, 'postgres')?.spec?.template.spec?.containers[0]?.resources).toEqual({
      requests: { cpu: '2' },
      limits: { memory: '128Mi' },
    });
  });

  it('take passwords from the credentials Secret, never literally', () => {
    const pw = container('postgres').env?.find((e) => e.name === 'POSTGRES_PASSWORD');
    expect(pw?.valueFrom?.secretKeyRef).toEqual({ name: 'finwise-postgres-credentials', key: 'password' });
    expect(container('redis').env).toEqual([{ name: 'REDISCLI_AUTH', valueFrom: { secretKeyRef: { name: 'finwise-redis-credentials', key: 'password' } } }]);
    expect(container('mongodb').env?.find((e) => e.name === 'MONGO_INITDB_ROOT_PASSWORD')?.valueFrom?.secretKeyRef?.key).toBe('password');
  });

  // The official images declare VOLUMEs; a path the pod's volume does not cover gets
  // a container-scoped directory from containerd and CRI-O, gone with the container
  // (found on a real node: PostgreSQL re-initialised after its pod was deleted).
  it('mount the data volume over the path each image declares as a VOLUME, and keep the data inside it', () => {
    const declared: [version: string, db: 'postgres' | 'redis' | 'mongodb', volume: string][] = [
      ['15', 'postgres', '/var/lib/postgresql/data'],
      ['17.2-bookworm', 'postgres', '/var/lib/postgresql/data'],
      ['18', 'postgres', '/var/lib/postgresql'],
      ['7', 'redis', '/data'],
      ['7.0', 'mongodb', '/data/db'],
    ];
    for (const [version, db, volume] of declared) {
      const app = makeApp({ image: 'x:1', databases: { [db]: { version } } });
      const c = databaseStatefulSet(app, db)?.spec?.template.spec?.containers[0];
      const data = c?.volumeMounts?.find((m) => m.name === 'data')?.mountPath ?? '';
      expect(`${volume}/`.startsWith(`${data}/`), `${db}:${version} mounts ${data}, image VOLUME ${volume}`).toBe(true);
      const pgdata = c?.env?.find((e) => e.name === 'PGDATA')?.value;
      if (pgdata) expect(pgdata.startsWith(`${data}/`), `PGDATA ${pgdata} inside ${data}`).toBe(true);
    }
    expect(postgresLayout('15')).toEqual({ mountPath: '/var/lib/postgresql/data', pgdata: '/var/lib/postgresql/data/pgdata' });
  });

  it('claim storage through volumeClaimTemplates', () => {
    const sts = databaseStatefulSet(finwise(), 'mongodb');
    expect(sts?.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests).toEqual({ storage: '20Gi' });
    expect(sts?.spec?.volumeClaimTemplates?.[0]?.metadata?.labels).toEqual({
      'app.kubernetes.io/instance': 'finwise',
      'app.kubernetes.io/component': 'mongodb',
      'app.kubernetes.io/managed-by': 'backendapp-operator',
    });
    expect(container('mongodb').volumeMounts).toEqual([{ name: 'data', mountPath: '/data/db' }]);
    const withClass = makeApp({ image: 'x:1', databases: { redis: { version: '7', storage: { size: '5Gi', storageClassName: 'fast' } } } });
    expect(databaseStatefulSet(withClass, 'redis')?.spec?.volumeClaimTemplates?.[0]?.spec?.storageClassName).toBe('fast');
  });

  it('keep or delete volumes as deletionPolicy says', () => {
    expect(pvcRetentionPolicy('Retain')).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(pvcRetentionPolicy('Delete')).toEqual({ whenDeleted: 'Delete', whenScaled: 'Retain' });
    const app = makeApp({ image: 'x:1', databases: { postgres: { version: '16', deletionPolicy: 'Delete' } } });
    expect(databaseStatefulSet(app, 'postgres')?.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted).toBe('Delete');
    expect(databaseStatefulSet(finwise(), 'postgres')?.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted).toBe('Retain');
  });

  it("are restricted, as the images' own database user", () => {
    for (const db of ['postgres', 'redis', 'mongodb'] as const) {
      const spec = databaseStatefulSet(finwise(), db)?.spec?.template.spec;
      expect(spec && restrictedViolations(spec), db).toEqual([]);
      expect(spec?.securityContext).toMatchObject({ runAsUser: DATABASE_UID, runAsGroup: DATABASE_UID, fsGroup: DATABASE_UID });
    }
  });

  it('run one pod under the headless Service', () => {
    const sts = databaseStatefulSet(finwise(), 'postgres');
    expect(sts?.spec?.replicas).toBe(1);
    expect(sts?.spec?.serviceName).toBe('finwise-postgres-headless');
  });
});

describe('database Services', () => {
  it('give a headless Service for pod DNS and a client Service', () => {
    expect(databaseHeadlessService(finwise(), 'redis')?.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(databaseClientService(finwise(), 'redis')?.metadata?.name).toBe('finwise-redis');
    expect(databaseClientService(finwise(), 'redis')?.spec?.ports).toEqual([{ name: 'redis', port: 6379, targetPort: 'redis', protocol: 'TCP' }]);
  });

  it('exist only for databases that are on', () => {
    const app = makeApp({ image: 'x:1', databases: { postgres: { version: '16' } } });
    expect(databaseObjects(app).map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      'StatefulSet/shop-postgres',
      'Service/shop-postgres-headless',
      'Service/shop-postgres',
    ]);
  });
});

describe('database pods, field by field', () => {
  it('label the pod template with the full set, which the StatefulSet selects and NetworkPolicies admit', () => {
    const sts = databaseStatefulSet(finwise(), 'postgres');
    expect(sts?.spec?.template.metadata?.labels).toEqual({
      'app.kubernetes.io/name': 'postgres',
      'app.kubernetes.io/instance': 'finwise',
      'app.kubernetes.io/component': 'postgres',
      'app.kubernetes.io/part-of': 'finwise',
      'app.kubernetes.io/managed-by': 'backendapp-operator',
    });
    expect(sts?.spec?.selector.matchLabels).toEqual({
      'app.kubernetes.io/instance': 'finwise',
      'app.kubernetes.io/component': 'postgres',
      'app.kubernetes.io/managed-by': 'backendapp-operator',
    });
  });

  it('name the container port after the database, which the Services target', () => {
    expect(container('postgres').ports).toEqual([{ name: 'postgres', containerPort: 5432, protocol: 'TCP' }]);
    expect(container('redis').ports).toEqual([{ name: 'redis', containerPort: 6379, protocol: 'TCP' }]);
    expect(container('mongodb').ports).toEqual([{ name: 'mongodb', containerPort: 27017, protocol: 'TCP' }]);
    expect(databaseHeadlessService(finwise(), 'mongodb')?.spec?.ports).toEqual([{ name: 'mongodb', port: 27017, targetPort: 'mongodb', protocol: 'TCP' }]);
  });

  it('leave the root filesystem writable for the entrypoints, with every other restriction', () => {
    expect(container('redis').securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: false,
      runAsNonRoot: true,
    });
  });

  it('claim one ReadWriteOnce volume of the size asked for', () => {
    expect(databaseStatefulSet(finwise(), 'redis')?.spec?.volumeClaimTemplates).toEqual([
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: 'data',
          labels: { 'app.kubernetes.io/instance': 'finwise', 'app.kubernetes.io/component': 'redis', 'app.kubernetes.io/managed-by': 'backendapp-operator' },
        },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: undefined, resources: { requests: { storage: '1Gi' } } },
      },
    ]);
    expect(container('redis').volumeMounts?.[0]).toEqual({ name: 'data', mountPath: '/data' });
  });

  it('initialise PostgreSQL with the user and database of the spec, its password from the Secret, its data in PGDATA', () => {
    expect(container('postgres').env).toEqual([
      { name: 'POSTGRES_USER', value: 'app' },
      { name: 'POSTGRES_DB', value: 'app' },
      { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: 'finwise-postgres-credentials', key: 'password' } } },
      { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
    ]);
  });

  it("initialise MongoDB's root user and database from the spec and the Secret", () => {
    expect(container('mongodb').env).toEqual([
      { name: 'MONGO_INITDB_ROOT_USERNAME', value: 'app' },
      { name: 'MONGO_INITDB_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'finwise-mongodb-credentials', key: 'password' } } },
      { name: 'MONGO_INITDB_DATABASE', value: 'app' },
    ]);
  });

  it('run the MongoDB and Redis probes through sh, for the variables and the comparison', () => {
    expect(container('mongodb').readinessProbe?.exec?.command?.slice(0, 2)).toEqual(['sh', '-c']);
    expect(container('redis').readinessProbe?.exec?.command).toEqual(['sh', '-c', 'test "$(redis-cli -p 6379 ping)" = PONG']);
  });

  it('lay PostgreSQL 18 and later out under /var/lib/postgresql, by the major version only', () => {
    expect(postgresLayout('18')).toEqual({ mountPath: '/var/lib/postgresql', pgdata: '/var/lib/postgresql/data' });
    expect(postgresLayout('18.1-bookworm')).toEqual({ mountPath: '/var/lib/postgresql', pgdata: '/var/lib/postgresql/data' });
    expect(postgresLayout('17.6')).toEqual({ mountPath: '/var/lib/postgresql/data', pgdata: '/var/lib/postgresql/data/pgdata' });
  });
});
