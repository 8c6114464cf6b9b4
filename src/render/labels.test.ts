import { describe, expect, it } from 'vitest';
import { makeApp } from './fixtures.test-util.js';
import { componentName, credentialsSecretName, headlessServiceName, labels, objectMeta, ownerReference, selectorLabels } from './labels.js';

const app = makeApp({ image: 'x:1' }, { namespace: 'team-a' });

describe('labels', () => {
  it('puts the five recommended labels on a component', () => {
    expect(labels(app, 'api')).toEqual({
      'app.kubernetes.io/name': 'shop',
      'app.kubernetes.io/instance': 'shop',
      'app.kubernetes.io/component': 'api',
      'app.kubernetes.io/part-of': 'shop',
      'app.kubernetes.io/managed-by': 'backendapp-operator',
    });
    expect(labels(app, 'postgres')['app.kubernetes.io/name']).toBe('postgres');
  });

  it('selects on a stable subset of them', () => {
    const selector = selectorLabels(app, 'worker');
    expect(selector).toEqual({
      'app.kubernetes.io/instance': 'shop',
      'app.kubernetes.io/component': 'worker',
      'app.kubernetes.io/managed-by': 'backendapp-operator',
    });
    expect(labels(app, 'worker')).toMatchObject(selector);
  });
});

describe('names', () => {
  it('derives readable names from the app name', () => {
    expect(componentName(app, 'api')).toBe('shop-api');
    expect(headlessServiceName(app, 'redis')).toBe('shop-redis-headless');
    expect(credentialsSecretName(app, 'postgres')).toBe('shop-postgres-credentials');
    expect(credentialsSecretName(app, 'flower')).toBe('shop-flower-credentials');
  });

  it('stays within 63 characters for the longest allowed app name', () => {
    const long = makeApp({ image: 'x:1' }, { name: `a${'b'.repeat(41)}` });
    for (const name of [credentialsSecretName(long, 'postgres'), credentialsSecretName(long, 'mongodb'), headlessServiceName(long, 'postgres')]) {
      expect(name.length).toBeLessThanOrEqual(63);
    }
  });
});

describe('ownership', () => {
  it('has no owner without a uid (rendered from a file)', () => {
    expect(ownerReference(app)).toBeUndefined();
    expect(objectMeta(app, 'shop-api', 'api').ownerReferences).toBeUndefined();
  });

  it('is controlled by the BackendApp once it has a uid', () => {
    const owned = makeApp({ image: 'x:1' }, { uid: 'u-1' });
    expect(objectMeta(owned, 'shop-api', 'api').ownerReferences).toEqual([
      { apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', name: 'shop', uid: 'u-1', controller: true, blockOwnerDeletion: true },
    ]);
    expect(objectMeta(owned, 'x', 'api', { orphan: true }).ownerReferences).toBeUndefined();
  });

  it('carries the namespace and extra labels', () => {
    const meta = objectMeta(app, 'shop-api', 'api', { labels: { extra: 'yes' } });
    expect(meta.namespace).toBe('team-a');
    expect(meta.labels?.extra).toBe('yes');
  });
});

describe('app.kubernetes.io/name', () => {
  it('says which software runs: the app for its own code, flower for Flower', () => {
    expect(labels(app, 'worker')['app.kubernetes.io/name']).toBe('shop');
    expect(labels(app, 'flower')['app.kubernetes.io/name']).toBe('flower');
  });
});
