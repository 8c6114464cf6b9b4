import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { sendJSON, startFakeApiServer, status, type FakeApiServer, type Handler } from '../runtime/fake-apiserver.test-util.js';
import type { Informer } from '../runtime/informer.js';
import { apiWriter, FIELD_MANAGER, informerCaches, type Writer } from './cluster.js';

// What the operator's writer sends to the API server: method, path, query, content
// type and body of each request, against a fake server that records them.

let api: FakeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function writerAnswering(handler: Handler): Promise<{ writer: Writer; server: FakeApiServer }> {
  api = await startFakeApiServer(handler);
  return { writer: apiWriter(api.kc), server: api };
}

const ok =
  (body: unknown = {}): Handler =>
  (_req, _url, _body, res) =>
    sendJSON(res, 200, body);

const failWith =
  (code: number, reason: string): Handler =>
  (_req, _url, _body, res) =>
    sendJSON(res, code, status(code, reason, `${reason} (test)`));

function only(server: FakeApiServer) {
  expect(server.requests).toHaveLength(1);
  const r = server.requests[0]!;
  return {
    method: r.method,
    path: r.url.pathname,
    query: Object.fromEntries(r.url.searchParams),
    contentType: r.headers['content-type'],
    body: r.body ? (JSON.parse(r.body) as unknown) : undefined,
  };
}

const deployment: KubernetesObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'shop-api', namespace: 'team-a', uid: 'uid-d', resourceVersion: '41' },
};
const app: KubernetesObject = {
  apiVersion: 'backendapp.io/v1alpha1',
  kind: 'BackendApp',
  metadata: { name: 'shop', namespace: 'team-a', uid: 'uid-app', finalizers: ['other.io/keep', 'backendapp.io/cleanup'] },
};

describe('informerCaches', () => {
  function fakeInformer(objects: KubernetesObject[]) {
    const observed: KubernetesObject[] = [];
    const inf = {
      get: (ns: string, name: string) => objects.find((o) => o.metadata?.namespace === ns && o.metadata?.name === name),
      list: (ns: string) => objects.filter((o) => o.metadata?.namespace === ns),
      observe: (o: KubernetesObject) => observed.push(o),
    };
    return { inf: inf as unknown as Informer, observed };
  }

  it('reads and records through the informer of the kind asked for', () => {
    const deployments = fakeInformer([deployment]);
    const secrets = fakeInformer([]);
    const caches = informerCaches(
      new Map([
        ['apps/v1/Deployment', deployments.inf],
        ['v1/Secret', secrets.inf],
      ]),
    );
    expect(caches.kinds()).toEqual(['apps/v1/Deployment', 'v1/Secret']);
    expect(caches.get('apps/v1/Deployment', 'team-a', 'shop-api')).toBe(deployment);
    expect(caches.get('v1/Secret', 'team-a', 'shop-api')).toBeUndefined();
    expect(caches.list('apps/v1/Deployment', 'team-a')).toEqual([deployment]);
    expect(caches.list('apps/v1/Deployment', 'team-b')).toEqual([]);
    caches.observe('v1/Secret', deployment);
    expect(secrets.observed).toEqual([deployment]);
    expect(deployments.observed).toEqual([]);
  });

  it('names the kind it has no informer for', () => {
    const caches = informerCaches(new Map());
    expect(() => caches.get('v1/ConfigMap', 'team-a', 'x')).toThrow('no informer for v1/ConfigMap');
    expect(() => caches.list('v1/ConfigMap', 'team-a')).toThrow('no informer for v1/ConfigMap');
    expect(() => caches.observe('v1/ConfigMap', deployment)).toThrow('no informer for v1/ConfigMap');
  });
});

describe('apiWriter', () => {
  it('get reads the object at its own path, and undefined when it is gone', async () => {
    const { writer, server } = await writerAnswering(ok({ ...deployment, spec: { replicas: 2 } }));
    expect(await writer.get(deployment)).toMatchObject({ spec: { replicas: 2 } });
    expect(only(server)).toMatchObject({ method: 'GET', path: '/apis/apps/v1/namespaces/team-a/deployments/shop-api' });
    await api?.close();

    const gone = await writerAnswering(failWith(404, 'NotFound'));
    expect(await gone.writer.get(deployment)).toBeUndefined();
  });

  it('get passes on any other error', async () => {
    const { writer } = await writerAnswering(failWith(403, 'Forbidden'));
    await expect(writer.get(deployment)).rejects.toMatchObject({ code: 403 });
  });

  it('list selects by label in the namespace and gives each item its apiVersion and kind, which list items lack', async () => {
    const { writer, server } = await writerAnswering(ok({ kind: 'PersistentVolumeClaimList', items: [{ metadata: { name: 'data-shop-postgres-0' } }] }));
    expect(await writer.list('v1/PersistentVolumeClaim', 'team-a', 'app.kubernetes.io/instance=shop')).toEqual([
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data-shop-postgres-0' } },
    ]);
    expect(only(server)).toMatchObject({
      method: 'GET',
      path: '/api/v1/namespaces/team-a/persistentvolumeclaims',
      query: { labelSelector: 'app.kubernetes.io/instance=shop' },
    });
  });

  it('list of a list without items is empty', async () => {
    const { writer } = await writerAnswering(ok({ kind: 'PersistentVolumeClaimList' }));
    expect(await writer.list('v1/PersistentVolumeClaim', 'team-a', 'x=y')).toEqual([]);
  });

  it('apply is a forced server-side apply under the operator field manager', async () => {
    const { writer, server } = await writerAnswering(ok({ ...deployment, metadata: { ...deployment.metadata, resourceVersion: '42' } }));
    expect(await writer.apply(deployment)).toMatchObject({ metadata: { resourceVersion: '42' } });
    expect(FIELD_MANAGER).toBe('backendapp-operator');
    expect(only(server)).toEqual({
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/team-a/deployments/shop-api',
      query: { fieldManager: 'backendapp-operator', force: 'true' },
      contentType: 'application/apply-patch+yaml',
      body: deployment,
    });
  });

  it('create posts to the collection under the operator field manager', async () => {
    const { writer, server } = await writerAnswering(ok(deployment));
    expect(await writer.create(deployment)).toEqual(deployment);
    expect(only(server)).toEqual({
      method: 'POST',
      path: '/apis/apps/v1/namespaces/team-a/deployments',
      query: { fieldManager: 'backendapp-operator' },
      contentType: 'application/json',
      body: deployment,
    });
  });

  it('create gives undefined when the name is taken (409) and passes on other errors', async () => {
    const taken = await writerAnswering(failWith(409, 'AlreadyExists'));
    expect(await taken.writer.create(deployment)).toBeUndefined();
    await api?.close();
    const refused = await writerAnswering(failWith(422, 'Invalid'));
    await expect(refused.writer.create(deployment)).rejects.toMatchObject({ code: 422 });
  });

  it('replaceLists replaces each list by JSON pointer, only if the object is still the version read', async () => {
    const { writer, server } = await writerAnswering(ok(deployment));
    const ports = [{ name: 'http', port: 8000 }];
    await writer.replaceLists(deployment, [
      { path: '/spec/ports', value: ports },
      { path: '/spec/template/spec/containers/0/env', value: [] },
    ]);
    expect(only(server)).toEqual({
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/team-a/deployments/shop-api',
      query: { fieldManager: 'backendapp-operator' },
      contentType: 'application/json-patch+json',
      body: [
        { op: 'test', path: '/metadata/resourceVersion', value: '41' },
        { op: 'replace', path: '/spec/ports', value: ports },
        { op: 'replace', path: '/spec/template/spec/containers/0/env', value: [] },
      ],
    });
  });

  it('delete removes that very object (its uid) and lets its dependents go in the background', async () => {
    const { writer, server } = await writerAnswering(ok({ kind: 'Status', status: 'Success' }));
    await writer.delete(deployment);
    expect(only(server)).toEqual({
      method: 'DELETE',
      path: '/apis/apps/v1/namespaces/team-a/deployments/shop-api',
      query: {},
      contentType: 'application/json',
      body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: 'uid-d' } },
    });
  });

  it('delete of an object already gone succeeds; other errors are passed on', async () => {
    const gone = await writerAnswering(failWith(404, 'NotFound'));
    await expect(gone.writer.delete(deployment)).resolves.toBeUndefined();
    await api?.close();
    const conflict = await writerAnswering(failWith(409, 'Conflict'));
    await expect(conflict.writer.delete(deployment)).rejects.toMatchObject({ code: 409 });
  });

  it('replaceStatus replaces the status subresource whole', async () => {
    const { writer, server } = await writerAnswering(ok(app));
    await writer.replaceStatus(app, { observedGeneration: 3, phase: 'Ready' });
    expect(only(server)).toEqual({
      method: 'PATCH',
      path: '/apis/backendapp.io/v1alpha1/namespaces/team-a/backendapps/shop/status',
      query: { fieldManager: 'backendapp-operator' },
      contentType: 'application/json-patch+json',
      body: [{ op: 'add', path: '/status', value: { observedGeneration: 3, phase: 'Ready' } }],
    });
  });

  it('addFinalizer appends to the finalizers there are, keeping the others', async () => {
    const { writer, server } = await writerAnswering(ok(app));
    await writer.addFinalizer(app, 'backendapp.io/x');
    expect(only(server)).toEqual({
      method: 'PATCH',
      path: '/apis/backendapp.io/v1alpha1/namespaces/team-a/backendapps/shop',
      query: { fieldManager: 'backendapp-operator' },
      contentType: 'application/json-patch+json',
      body: [{ op: 'add', path: '/metadata/finalizers/-', value: 'backendapp.io/x' }],
    });
  });

  it('addFinalizer creates the list when the app has none', async () => {
    const { writer, server } = await writerAnswering(ok(app));
    await writer.addFinalizer({ ...app, metadata: { name: 'shop', namespace: 'team-a' } }, 'backendapp.io/cleanup');
    expect(only(server).body).toEqual([{ op: 'add', path: '/metadata/finalizers', value: ['backendapp.io/cleanup'] }]);
  });

  it('removeFinalizer removes it at its index, guarded by a test that it is still there', async () => {
    const { writer, server } = await writerAnswering(ok(app));
    await writer.removeFinalizer(app, 'backendapp.io/cleanup');
    expect(only(server)).toEqual({
      method: 'PATCH',
      path: '/apis/backendapp.io/v1alpha1/namespaces/team-a/backendapps/shop',
      query: {},
      contentType: 'application/json-patch+json',
      body: [
        { op: 'test', path: '/metadata/finalizers/1', value: 'backendapp.io/cleanup' },
        { op: 'remove', path: '/metadata/finalizers/1' },
      ],
    });
  });

  it('removeFinalizer removes the first finalizer too', async () => {
    const { writer, server } = await writerAnswering(ok(app));
    await writer.removeFinalizer(app, 'other.io/keep');
    expect(only(server).body).toEqual([
      { op: 'test', path: '/metadata/finalizers/0', value: 'other.io/keep' },
      { op: 'remove', path: '/metadata/finalizers/0' },
    ]);
  });

  it('removeFinalizer sends nothing when the finalizer is not there', async () => {
    const { writer, server } = await writerAnswering(ok(app));
    await writer.removeFinalizer(app, 'backendapp.io/absent');
    await writer.removeFinalizer({ ...app, metadata: { name: 'shop', namespace: 'team-a' } }, 'backendapp.io/cleanup');
    expect(server.requests).toEqual([]);
  });

  it('removeOwner drops the owner reference of that uid and keeps the others', async () => {
    const { writer, server } = await writerAnswering(ok(deployment));
    const other = { apiVersion: 'v1', kind: 'ConfigMap', name: 'keep', uid: 'uid-other' };
    const mine = { apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', name: 'shop', uid: 'uid-app' };
    await writer.removeOwner({ ...deployment, metadata: { ...deployment.metadata, ownerReferences: [mine, other] } }, app);
    expect(only(server)).toEqual({
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/team-a/deployments/shop-api',
      query: {},
      contentType: 'application/merge-patch+json',
      body: { metadata: { ownerReferences: [other] } },
    });
  });

  it('removeOwner clears the list (null, as a merge patch deletes) when no owner is left', async () => {
    const { writer, server } = await writerAnswering(ok(deployment));
    const mine = { apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', name: 'shop', uid: 'uid-app' };
    await writer.removeOwner({ ...deployment, metadata: { ...deployment.metadata, ownerReferences: [mine] } }, app);
    expect(only(server).body).toEqual({ metadata: { ownerReferences: null } });
  });
});
