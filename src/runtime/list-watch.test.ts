import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Informer } from './informer.js';
import { kubeListWatch } from './list-watch.js';
import { sendJSON, startFakeApiServer, status, type FakeApiServer } from './fake-apiserver.test-util.js';

const DEPLOYMENTS = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' };
const SECRETS = { group: '', version: 'v1', plural: 'secrets' };

let api: FakeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function until(cond: () => boolean, ms = 3000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (cond()) resolve();
      else if (Date.now() - start > ms) reject(new Error('condition not met in time'));
      else setTimeout(check, 5);
    };
    check();
  });
}

describe('kubeListWatch', () => {
  it('lists all pages with the token, fills apiVersion/kind, keeps the first page resourceVersion', async () => {
    api = await startFakeApiServer((_req, url, _body, res) => {
      if (url.searchParams.get('continue') === 'tok') {
        sendJSON(res, 200, { kind: 'DeploymentList', metadata: { resourceVersion: '11' }, items: [{ metadata: { name: 'b' } }] });
      } else {
        sendJSON(res, 200, {
          kind: 'DeploymentList',
          metadata: { resourceVersion: '10', continue: 'tok' },
          items: [{ metadata: { name: 'a' } }],
        });
      }
    });
    const src = kubeListWatch(api.kc, DEPLOYMENTS, { pageSize: 1 });
    const res = await src.list({ namespace: 'ns1', labelSelector: 'app=x', signal: new AbortController().signal });
    expect(res.resourceVersion).toBe('10');
    expect(res.items).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a' } },
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'b' } },
    ]);
    const [first, second] = api.requests;
    expect(first?.url.pathname).toBe('/apis/apps/v1/namespaces/ns1/deployments');
    expect(first?.url.searchParams.get('limit')).toBe('1');
    expect(first?.url.searchParams.get('labelSelector')).toBe('app=x');
    expect(first?.url.searchParams.has('resourceVersion')).toBe(false);
    expect(second?.url.searchParams.get('continue')).toBe('tok');
    expect(first?.headers.authorization).toBe('Bearer test-token');
  });

  it('uses /api/v1 for the core group and derives kind from the list kind', async () => {
    api = await startFakeApiServer((_req, _url, _body, res) =>
      sendJSON(res, 200, { kind: 'SecretList', metadata: { resourceVersion: '5' }, items: [{ metadata: { name: 's' } }] }),
    );
    const res = await kubeListWatch(api.kc, SECRETS).list({ signal: new AbortController().signal });
    expect(api.requests[0]?.url.pathname).toBe('/api/v1/secrets');
    expect(res.items[0]).toMatchObject({ apiVersion: 'v1', kind: 'Secret' });
  });

  it('falls back to an unpaginated list when the continue token expired', async () => {
    api = await startFakeApiServer((_req, url, _body, res) => {
      if (url.searchParams.get('continue')) sendJSON(res, 410, status(410, 'Expired', 'continue token expired'));
      else if (url.searchParams.get('limit')) {
        sendJSON(res, 200, { metadata: { resourceVersion: '1', continue: 'old' }, items: [{ metadata: { name: 'a' } }] });
      } else {
        sendJSON(res, 200, { metadata: { resourceVersion: '9' }, items: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }] });
      }
    });
    const res = await kubeListWatch(api.kc, DEPLOYMENTS).list({ signal: new AbortController().signal });
    expect(res.resourceVersion).toBe('9');
    expect(res.items.length).toBe(2);
    expect(api.requests.length).toBe(3);
  });

  it('rejects with the status code on an error answer', async () => {
    api = await startFakeApiServer((_req, _url, _body, res) => sendJSON(res, 403, status(403, 'Forbidden', 'deployments.apps is forbidden')));
    await expect(kubeListWatch(api.kc, DEPLOYMENTS).list({ signal: new AbortController().signal })).rejects.toMatchObject({
      code: 403,
      reason: 'Forbidden',
    });
  });

  it('streams watch events with bookmarks requested and reports a clean close', async () => {
    let stream: ServerResponse | undefined;
    api = await startFakeApiServer((_req, _url, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '12' } } })}\n`);
      stream = res;
    });
    const events: string[] = [];
    let connected = false;
    let closed: unknown = 'not closed';
    kubeListWatch(api.kc, DEPLOYMENTS).watch(
      { namespace: 'ns1', resourceVersion: '11', timeoutSeconds: 321, labelSelector: 'a=b' },
      {
        onConnected: () => (connected = true),
        onEvent: (type) => events.push(type),
        onClose: (err) => (closed = err),
      },
    );
    await until(() => events.length === 1 && connected);
    stream?.write(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '13' } } })}\n`);
    await until(() => events.length === 2);
    stream?.end();
    await until(() => closed !== 'not closed');
    expect(closed).toBeUndefined();
    expect(events).toEqual(['ADDED', 'BOOKMARK']);
    const q = api.requests[0]?.url.searchParams;
    expect(api.requests[0]?.url.pathname).toBe('/apis/apps/v1/namespaces/ns1/deployments');
    expect(q?.get('watch')).toBe('true');
    expect(q?.get('allowWatchBookmarks')).toBe('true');
    expect(q?.get('resourceVersion')).toBe('11');
    expect(q?.get('timeoutSeconds')).toBe('321');
    expect(q?.get('labelSelector')).toBe('a=b');
  });

  it('reports an HTTP 410 on the watch request with its status code', async () => {
    api = await startFakeApiServer((_req, _url, _body, res) => sendJSON(res, 410, status(410, 'Gone', 'too old')));
    let closed: unknown;
    let connected = false;
    kubeListWatch(api.kc, DEPLOYMENTS).watch(
      { resourceVersion: '1', timeoutSeconds: 300 },
      { onConnected: () => (connected = true), onEvent: () => {}, onClose: (err) => (closed = err ?? 'clean') },
    );
    await until(() => closed !== undefined);
    expect(closed).toMatchObject({ statusCode: 410 });
    expect(connected).toBe(false);
  });

  it('stop() closes the connection', async () => {
    let serverSawClose = false;
    api = await startFakeApiServer((req, _url, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('\n');
      req.socket.on('close', () => (serverSawClose = true));
    });
    let connected = false;
    const h = kubeListWatch(api.kc, DEPLOYMENTS).watch(
      { resourceVersion: '1', timeoutSeconds: 300 },
      { onConnected: () => (connected = true), onEvent: () => {}, onClose: () => {} },
    );
    await until(() => connected);
    h.stop();
    await until(() => serverSawClose);
  });

  it('drives an Informer end to end: list, watch, server close, re-watch from the last resourceVersion', async () => {
    const watchRVs: string[] = [];
    api = await startFakeApiServer((_req, url, _body, res) => {
      if (url.searchParams.get('watch') !== 'true') {
        sendJSON(res, 200, { metadata: { resourceVersion: '20' }, items: [{ metadata: { name: 'a', namespace: 'n', resourceVersion: '20' } }] });
        return;
      }
      watchRVs.push(url.searchParams.get('resourceVersion') ?? '');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (watchRVs.length === 1) {
        res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'b', namespace: 'n', resourceVersion: '21' } } })}\n`);
        res.write(`${JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'a', namespace: 'n', resourceVersion: '22' } } })}\n`);
        setTimeout(() => res.end(), 20);
      }
    });
    const inf = new Informer({ resource: DEPLOYMENTS, source: kubeListWatch(api.kc, DEPLOYMENTS) });
    inf.start();
    await until(() => watchRVs.length === 2);
    expect(watchRVs).toEqual(['20', '22']);
    expect(inf.list().map((o) => o.metadata?.name)).toEqual(['b']);
    await inf.stop();
  });
});
