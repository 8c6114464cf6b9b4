import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { BackendAppSpecInput } from '../api/v1alpha1.js';
import { apiDeployment, apiService } from './api.js';
import { beatDeployment } from './beat.js';
import { flowerDeployment } from './flower.js';
import { makeApp } from './fixtures.test-util.js';
import { isRetained, planApp } from './index.js';
import { migrationJob, releaseRevision } from './migrations.js';
import { appVolumeClaims, volumeClaimName } from './volumes.js';
import { workerDeployment } from './worker.js';

const base: BackendAppSpecInput = {
  image: 'shop:1',
  api: { replicas: 1 },
  worker: { app: 'shop.celery', replicas: 3 },
  beat: {},
  flower: {},
  migrations: { command: ['alembic', 'upgrade', 'head'] },
  databases: { redis: { version: '7' } },
};

const app = (spec: Partial<BackendAppSpecInput>, uid = 'u-1') => makeApp({ ...base, ...spec }, { uid, namespace: 'shop-ns' });
const pod = (d: V1Deployment | undefined) => d?.spec?.template.spec;

describe('app volumes', () => {
  const volumes: BackendAppSpecInput['volumes'] = [
    { name: 'logs', mountPath: '/app/logs', emptyDir: { sizeLimit: '1Gi' } },
    { name: 'data', mountPath: '/app/data', persistentVolumeClaim: { size: '5Gi', storageClassName: 'local-path' } },
    { name: 'media', mountPath: '/app/media', persistentVolumeClaim: { size: '20Gi', accessMode: 'ReadWriteMany' }, deletionPolicy: 'Delete' },
  ];

  it('mounts each listed volume into the component, beside /tmp, and nothing it does not list', () => {
    const a = app({ volumes, api: { replicas: 1, volumes: ['data', 'logs'] }, worker: { app: 'shop.celery', volumes: ['media'] } });
    expect(pod(apiDeployment(a))?.volumes).toEqual([
      { name: 'tmp', emptyDir: {} },
      { name: 'data', persistentVolumeClaim: { claimName: 'shop-data' } },
      { name: 'logs', emptyDir: { sizeLimit: '1Gi' } },
    ]);
    expect(pod(apiDeployment(a))?.containers[0]?.volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'data', mountPath: '/app/data' },
      { name: 'logs', mountPath: '/app/logs' },
    ]);
    expect(pod(workerDeployment(a))?.volumes).toEqual([
      { name: 'tmp', emptyDir: {} },
      { name: 'media', persistentVolumeClaim: { claimName: 'shop-media' } },
    ]);
    expect(pod(beatDeployment(a))?.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
    expect(migrationJob(a)?.spec?.template.spec?.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
  });

  it('mounts volumes into beat and the migration', () => {
    const a = app({ volumes, beat: { volumes: ['logs'] }, migrations: { command: ['migrate'], volumes: ['data'] } });
    expect(pod(beatDeployment(a))?.containers[0]?.volumeMounts).toContainEqual({ name: 'logs', mountPath: '/app/logs' });
    const job = migrationJob(a)?.spec?.template.spec;
    expect(job?.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'shop-data' } });
    expect(job?.containers[0]?.volumeMounts).toContainEqual({ name: 'data', mountPath: '/app/data' });
  });

  it('renders a claim per persistent volume, owned only under Delete, labelled with its volume and policy', () => {
    const claims = appVolumeClaims(app({ volumes }));
    expect(claims).toEqual<V1PersistentVolumeClaim[]>([
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: 'shop-data',
          namespace: 'shop-ns',
          labels: {
            'app.kubernetes.io/name': 'shop',
            'app.kubernetes.io/instance': 'shop',
            'app.kubernetes.io/component': 'volume',
            'app.kubernetes.io/part-of': 'shop',
            'app.kubernetes.io/managed-by': 'backendapp-operator',
            'backendapp.io/volume': 'data',
            'backendapp.io/deletion-policy': 'Retain',
          },
          ownerReferences: undefined,
        },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'local-path', resources: { requests: { storage: '5Gi' } } },
      },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: 'shop-media',
          namespace: 'shop-ns',
          labels: expect.objectContaining({ 'backendapp.io/volume': 'media', 'backendapp.io/deletion-policy': 'Delete' }),
          ownerReferences: [{ apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', name: 'shop', uid: 'u-1', controller: true, blockOwnerDeletion: true }],
        },
        spec: { accessModes: ['ReadWriteMany'], storageClassName: undefined, resources: { requests: { storage: '20Gi' } } },
      },
    ]);
    expect(claims.map(isRetained)).toEqual([true, false]);
  });

  it('places claims in the databases step, before the workloads that mount them', () => {
    const steps = planApp(app({ volumes, api: { replicas: 1, volumes: ['data'] } }), { existingSecrets: {} });
    const databases = steps.find((s) => s.name === 'databases')?.objects.map((o) => `${o.kind}/${o.metadata?.name}`);
    expect(databases).toEqual(expect.arrayContaining(['PersistentVolumeClaim/shop-data', 'PersistentVolumeClaim/shop-media']));
    expect(steps.find((s) => s.name === 'workloads')?.objects.some((o) => o.kind === 'PersistentVolumeClaim')).toBe(false);
  });

  it('names a claim <app>-<volume>', () => {
    expect(volumeClaimName(app({}), 'data')).toBe('shop-data');
  });

  it('recreates a Deployment that mounts a ReadWriteOnce claim, and rolls the others start-first', () => {
    const a = app({ volumes, api: { replicas: 1, volumes: ['data'] }, worker: { app: 'shop.celery', replicas: 3, volumes: ['media', 'logs'] } });
    expect(apiDeployment(a)?.spec?.strategy).toEqual({ type: 'Recreate' });
    expect(workerDeployment(a)?.spec?.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } });
  });
});

describe('per-component image and serviceAccountName', () => {
  it('runs each component in its own image, defaulting to spec.image', () => {
    const a = app({ api: { image: 'shop-api:2' }, worker: { app: 'shop.celery', image: 'shop-worker:2' } });
    expect(pod(apiDeployment(a))?.containers[0]?.image).toBe('shop-api:2');
    expect(pod(workerDeployment(a))?.containers[0]?.image).toBe('shop-worker:2');
    expect(pod(beatDeployment(a))?.containers[0]?.image).toBe('shop:1');
    expect(migrationJob(a)?.spec?.template.spec?.containers[0]?.image).toBe('shop:1');
  });

  it('migrates in spec.migrations.image, which makes a new release; spec.image alone does not when it is set', () => {
    const plain = app({});
    const own = app({ migrations: { command: ['alembic', 'upgrade', 'head'], image: 'shop-migrate:2' } });
    expect(migrationJob(own)?.spec?.template.spec?.containers[0]?.image).toBe('shop-migrate:2');
    expect(releaseRevision(own)).not.toBe(releaseRevision(plain));
    const newer = app({ migrations: { command: ['alembic', 'upgrade', 'head'], image: 'shop-migrate:3' } });
    expect(releaseRevision(newer)).not.toBe(releaseRevision(own));
    const sameMigration = makeApp(
      { ...base, image: 'shop:9', migrations: { command: ['alembic', 'upgrade', 'head'], image: 'shop-migrate:2' } },
      { uid: 'u-1', namespace: 'shop-ns' },
    );
    expect(releaseRevision(sameMigration)).toBe(releaseRevision(own));
  });

  it('keeps the release of an app without a migration image as it was (the hash of spec.image)', () => {
    // Written out: a change here would start a new migration for every existing app.
    expect(releaseRevision(app({}))).toBe(releaseRevision(app({ migrations: { command: ['alembic', 'upgrade', 'head'] } })));
    // sha256 of {"image":"shop:1","command":["alembic","upgrade","head"]}, as before per-component images.
    expect(releaseRevision(app({}))).toBe('2ac6d58e83');
  });

  it('runs pods as the component serviceAccountName, else the app-wide one, else the default', () => {
    const none = app({});
    expect(pod(apiDeployment(none))?.serviceAccountName).toBeUndefined();
    const a = app({ serviceAccountName: 'shop', api: { serviceAccountName: 's3-reader' }, flower: { serviceAccountName: 'flower' } });
    expect(pod(apiDeployment(a))?.serviceAccountName).toBe('s3-reader');
    expect(pod(workerDeployment(a))?.serviceAccountName).toBe('shop');
    expect(pod(beatDeployment(a))?.serviceAccountName).toBe('shop');
    expect(pod(flowerDeployment(a))?.serviceAccountName).toBe('flower');
    expect(migrationJob(a)?.spec?.template.spec?.serviceAccountName).toBe('shop');
    // The token stays unmounted unless a podTemplate asks for it (workload identity webhooks project their own).
    expect(pod(apiDeployment(a))?.automountServiceAccountToken).toBe(false);
  });
});

describe('the api Service', () => {
  it('is ClusterIP without annotations by default', () => {
    const s = apiService(app({}));
    expect(s?.spec?.type).toBe('ClusterIP');
    expect(s?.metadata).not.toHaveProperty('annotations');
  });

  it('takes the type and annotations of spec.api.service', () => {
    const s = apiService(app({ api: { service: { type: 'LoadBalancer', annotations: { 'networking.gke.io/load-balancer-type': 'Internal' } } } }));
    expect(s?.spec?.type).toBe('LoadBalancer');
    expect(s?.metadata?.annotations).toEqual({ 'networking.gke.io/load-balancer-type': 'Internal' });
    expect(s?.metadata?.labels?.['app.kubernetes.io/component']).toBe('api');
  });
});
