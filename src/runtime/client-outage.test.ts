// The client during an outage: the API server's own readiness as a check, the
// "server is back" signal that wakes sleeping watches, and the ambient signal that
// aborts a reconcile's requests.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { apiServerReadyCheck, onServerBack, requestJSON, withRequestSignal } from './client.js';
import { sendJSON, startFakeApiServer, type FakeApiServer } from './fake-apiserver.test-util.js';

let api: FakeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** A KubeConfig for a port nothing listens on. */
function unreachable(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'gone', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'c', cluster: 'gone', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

describe('apiServerReadyCheck', () => {
  it('passes on "ok", names the failing checks on 500, and cannot tell on 403', async () => {
    let answer: { code: number; body: string } = { code: 200, body: 'ok' };
    api = await startFakeApiServer((_req, url, _body, res) => {
      expect(url.pathname).toBe('/readyz');
      res.writeHead(answer.code, { 'Content-Type': 'text/plain' }).end(answer.body);
    });
    const check = apiServerReadyCheck(api.kc);
    expect(await check()).toBeUndefined();
    answer = { code: 500, body: '[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\nreadyz check failed' };
    expect(await check()).toBe('API server not ready (500): [-]etcd failed: reason withheld');
    answer = { code: 403, body: '{"kind":"Status","code":403}' };
    expect(await check()).toBeUndefined();
  });

  it('reports an API server that cannot be reached', async () => {
    expect(await apiServerReadyCheck(unreachable())()).toMatch(/^API server unreachable: /);
  });
});

describe('onServerBack', () => {
  it('calls back once the first request after a failed one gets an answer, of any status', async () => {
    const listen = (port: number) =>
      new Promise<Server>((resolve) => {
        const server = createServer((_req, res) => sendJSON(res, 404, { kind: 'Status', code: 404 }));
        server.listen(port, '127.0.0.1', () => resolve(server));
      });
    const close = (server: Server) =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    let server = await listen(0);
    const port = (server.address() as AddressInfo).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    const get = () => requestJSON(kc, { method: 'GET', path: '/api' }).catch(() => undefined);
    let calls = 0;
    onServerBack(kc, () => calls++);
    await get(); // an answer while nothing failed wakes nobody
    expect(calls).toBe(0);
    await close(server); // the outage: a request gets no answer
    await get();
    expect(calls).toBe(0);
    server = await listen(port); // back: the next answer, a 404 too, wakes the listener once
    await get();
    expect(calls).toBe(1);
    await get();
    expect(calls).toBe(1);
    await close(server);
  });
});

describe('withRequestSignal', () => {
  it('aborts the requests sent inside it that have no signal of their own', async () => {
    api = await startFakeApiServer(() => {
      // never answers
    });
    const kc = api.kc;
    const ac = new AbortController();
    const pending = withRequestSignal(ac.signal, () => requestJSON(kc, { method: 'GET', path: '/api' }));
    setTimeout(() => ac.abort(new Error('leadership lost')), 20);
    await expect(pending).rejects.toThrow();
    // Already aborted: not even sent.
    const before = api.requests.length;
    await expect(withRequestSignal(ac.signal, () => requestJSON(kc, { method: 'GET', path: '/api' }))).rejects.toThrow(/leadership lost/);
    expect(api.requests.length).toBe(before);
  });
});
