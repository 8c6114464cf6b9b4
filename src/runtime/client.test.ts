import { afterEach, describe, expect, it } from 'vitest';
import { requestJSON } from './client.js';
import { sendJSON, startFakeApiServer, type FakeApiServer } from './fake-apiserver.test-util.js';

let api: FakeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe('requestJSON', () => {
  it('reuses connections across requests of one KubeConfig (no handshake per request)', async () => {
    api = await startFakeApiServer((_req, _url, _body, res) => sendJSON(res, 200, { kind: 'Namespace', metadata: { name: 'default' } }));
    let connections = 0;
    api.server.on('connection', () => connections++);
    for (let i = 0; i < 20; i++) {
      expect(await requestJSON(api.kc, { method: 'GET', path: '/api/v1/namespaces/default' })).toMatchObject({ kind: 'Namespace' });
    }
    expect(api.requests).toHaveLength(20);
    // One per request before; undici may open a second socket while the first is being released.
    expect(connections).toBeLessThanOrEqual(2);
  });

  it('still applies credentials per request on a reused connection', async () => {
    api = await startFakeApiServer((_req, _url, _body, res) => sendJSON(res, 200, {}));
    await requestJSON(api.kc, { method: 'GET', path: '/api' });
    // A rotated token (as an exec plugin or a projected service-account token would give).
    const user = api.kc.getCurrentUser();
    if (!user) throw new Error('no user');
    (user as { token?: string }).token = 'rotated-token';
    await requestJSON(api.kc, { method: 'GET', path: '/api' });
    expect(api.requests.map((r) => r.headers.authorization)).toEqual(['Bearer test-token', 'Bearer rotated-token']);
  });
});
