import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthServer, parseBindAddress } from './health-server.js';
import { Metrics } from './metrics.js';

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function get(url: string, method = 'GET') {
  const res = await fetch(url, { method });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('parseBindAddress', () => {
  it('parses the controller-runtime forms', () => {
    expect(parseBindAddress(':8080')).toEqual({ host: undefined, port: 8080 });
    expect(parseBindAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseBindAddress('[::1]:9090')).toEqual({ host: '::1', port: 9090 });
    expect(parseBindAddress('0')).toBeUndefined();
  });

  it('rejects nonsense with a message that shows the expected form', () => {
    expect(() => parseBindAddress('8080')).toThrow(/expected \[host\]:port such as ":8080"/);
    expect(() => parseBindAddress(':99999')).toThrow(/invalid bind address ":99999"/);
  });
});

describe('HealthServer', () => {
  it('serves healthz and readyz on the probe address and metrics on the metrics address', async () => {
    const metrics = new Metrics({ defaultMetrics: false, prefix: 'test' });
    metrics.initController('backendapp', 1);
    server = new HealthServer({
      registry: metrics.registry,
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
    });
    let synced = false;
    server.addReadyCheck('informer:deployments.apps', () => (synced ? undefined : 'not synced'));
    server.addReadyCheck('informer:secrets', () => undefined);
    await server.start();
    const urls = server.urls();
    expect(urls.metrics).toBeDefined();
    expect(urls.health).toBeDefined();
    expect(urls.metrics).not.toBe(urls.health);

    expect(await get(`${urls.health}/healthz`)).toMatchObject({ status: 200, body: 'ok' });
    const notReady = await get(`${urls.health}/readyz`);
    expect(notReady.status).toBe(500);
    expect(notReady.body).toBe('[-]informer:deployments.apps failed: not synced\nreadyz check failed\n');
    synced = true;
    expect(await get(`${urls.health}/readyz`)).toMatchObject({ status: 200, body: 'ok' });

    const m = await get(`${urls.metrics}/metrics`);
    expect(m.status).toBe(200);
    expect(m.type).toContain('text/plain');
    expect(m.body).toContain('controller_runtime_reconcile_total{controller="backendapp",result="success"} 0');
    // Each listener serves only its own paths.
    expect((await get(`${urls.metrics}/readyz`)).status).toBe(404);
    expect((await get(`${urls.health}/metrics`)).status).toBe(404);
    expect((await get(`${urls.health}/healthz`, 'POST')).status).toBe(405);
  });

  it('reports a throwing check as failed and fails healthz through health checks', async () => {
    server = new HealthServer({
      registry: new Metrics({ defaultMetrics: false, prefix: 'test' }).registry,
      metricsBindAddress: '0',
      healthProbeBindAddress: '127.0.0.1:0',
    });
    server.addReadyCheck('boom', () => {
      throw new Error('exploded');
    });
    server.addHealthCheck('shutdown', async () => 'shutting down');
    await server.start();
    const { health, metrics } = server.urls();
    expect(metrics).toBeUndefined();
    expect((await get(`${health}/readyz`)).body).toContain('[-]boom failed: exploded');
    expect(await get(`${health}/healthz`)).toMatchObject({ status: 500 });
  });

  it('serves everything from one listener when both addresses are the same', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const addr = probe.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    const port = addr.port;
    await new Promise<void>((r) => probe.close(() => r()));
    server = new HealthServer({
      registry: new Metrics({ defaultMetrics: false, prefix: 'test' }).registry,
      metricsBindAddress: `127.0.0.1:${port}`,
      healthProbeBindAddress: `127.0.0.1:${port}`,
    });
    await server.start();
    const { health, metrics } = server.urls();
    expect(health).toBe(metrics);
    expect((await get(`${health}/metrics`)).status).toBe(200);
    expect((await get(`${health}/readyz`)).status).toBe(200);
  });

  it('disables both listeners with "0" and fails start when the port is taken', async () => {
    server = new HealthServer({
      registry: new Metrics({ defaultMetrics: false, prefix: 'test' }).registry,
      metricsBindAddress: '0',
      healthProbeBindAddress: '0',
    });
    await server.start();
    expect(server.urls()).toEqual({});

    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const addr = taken.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    const clash = new HealthServer({
      registry: new Metrics({ defaultMetrics: false, prefix: 'test' }).registry,
      metricsBindAddress: `127.0.0.1:${addr.port}`,
      healthProbeBindAddress: '0',
    });
    await expect(clash.start()).rejects.toThrow(/EADDRINUSE/);
    await new Promise<void>((r) => taken.close(() => r()));
  });

  it('stops answering after close', async () => {
    server = new HealthServer({
      registry: new Metrics({ defaultMetrics: false, prefix: 'test' }).registry,
      metricsBindAddress: '0',
      healthProbeBindAddress: '127.0.0.1:0',
    });
    await server.start();
    const { health } = server.urls();
    await server.close();
    await expect(fetch(`${health}/healthz`)).rejects.toThrow();
  });
});
