// /healthz, /readyz and /metrics over node:http, on controller-runtime's
// default addresses (metrics :8080, probes :8081). "0" disables a listener,
// as --metrics-bind-address=0 does for Go operators; when both addresses are
// the same one server answers all three paths.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { errorMessage, silentLogger, type Logger } from './logger.js';

/** A named probe: resolves undefined when fine, or a short reason when not. */
export type Check = () => string | undefined | Promise<string | undefined>;

export interface HealthServerOptions {
  /** Default ":8080"; "0" disables. */
  metricsBindAddress?: string;
  /** Default ":8081"; "0" disables. */
  healthProbeBindAddress?: string;
  registry: Registry;
  logger?: Logger;
}

export interface BindAddress {
  host: string | undefined;
  port: number;
}

/** ":8080" → all interfaces; "127.0.0.1:8080", "[::1]:8080"; "0" → undefined (disabled). */
export function parseBindAddress(addr: string): BindAddress | undefined {
  if (addr === '0' || addr === '') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new Error(`invalid bind address "${addr}": expected [host]:port such as ":8080" or "127.0.0.1:8080", or "0" to disable`);
  }
  const host = m[1] ?? m[2];
  return { host: host ? host : undefined, port };
}

export class HealthServer {
  private readonly readyChecks = new Map<string, Check>();
  private readonly healthChecks = new Map<string, Check>();
  private readonly servers: Array<{ server: Server; routes: ReadonlySet<string>; kind: 'metrics' | 'health' | 'both' }> = [];
  private readonly registry: Registry;
  private readonly log: Logger;
  private readonly metricsAddr: BindAddress | undefined;
  private readonly healthAddr: BindAddress | undefined;

  constructor(opts: HealthServerOptions) {
    this.registry = opts.registry;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'health-server' });
    this.metricsAddr = parseBindAddress(opts.metricsBindAddress ?? ':8080');
    this.healthAddr = parseBindAddress(opts.healthProbeBindAddress ?? ':8081');
  }

  /** /readyz fails while any ready check reports a reason. */
  addReadyCheck(name: string, check: Check): void {
    this.readyChecks.set(name, check);
  }

  /** /healthz fails while any health check reports a reason. */
  addHealthCheck(name: string, check: Check): void {
    this.healthChecks.set(name, check);
  }

  async start(): Promise<void> {
    const m = this.metricsAddr;
    const h = this.healthAddr;
    if (m && h && m.port !== 0 && m.port === h.port && m.host === h.host) {
      await this.listen(m, new Set<string>(['/healthz', '/readyz', '/metrics']), 'both');
      return;
    }
    if (m) await this.listen(m, new Set<string>(['/metrics']), 'metrics');
    if (h) await this.listen(h, new Set<string>(['/healthz', '/readyz']), 'health');
  }

  /** Base URLs of the listeners, e.g. { metrics: 'http://127.0.0.1:8080' }; useful with port 0 in tests. */
  urls(): { metrics?: string; health?: string } {
    const out: { metrics?: string; health?: string } = {};
    for (const s of this.servers) {
      const a = s.server.address();
      if (!a || typeof a === 'string') continue;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      const url = `http://${host}:${a.port}`;
      if (s.kind !== 'health') out.metrics = url;
      if (s.kind !== 'metrics') out.health = url;
    }
    return out;
  }

  async close(): Promise<void> {
    const servers = this.servers.splice(0);
    await Promise.all(
      servers.map(
        ({ server }) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            // Scrapers keep connections alive; do not wait for them to go.
            server.closeAllConnections();
          }),
      ),
    );
  }

  private async listen(addr: BindAddress, routes: ReadonlySet<string>, kind: 'metrics' | 'health' | 'both'): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res, routes).catch((err: unknown) => {
        this.log.error({ err: errorMessage(err) }, 'request failed');
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    // Probe and scrape requests are small and quick; a stalled client must not hold a socket for long.
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err: errorMessage(err) }, 'server error'));
    this.servers.push({ server, routes, kind });
    this.log.info({ kind, address: `${addr.host ?? ''}:${addr.port}` }, 'serving');
  }

  private async handle(req: IncomingMessage, res: ServerResponse, routes: ReadonlySet<string>): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (!routes.has(path)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      const body = await this.registry.metrics();
      res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const checks = path === '/readyz' ? this.readyChecks : this.healthChecks;
    const failed = await runChecks(checks);
    const name = path.slice(1);
    if (failed.length === 0) {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      return;
    }
    // The Kubernetes probe format: one [-] line per failing check.
    const body = `${failed.map(([n, why]) => `[-]${n} failed: ${why}`).join('\n')}\n${name} check failed\n`;
    res.writeHead(500, { 'Content-Type': 'text/plain' }).end(body);
  }
}

async function runChecks(checks: Map<string, Check>): Promise<Array<[string, string]>> {
  const results = await Promise.all(
    [...checks].map(async ([name, check]): Promise<[string, string | undefined]> => {
      try {
        return [name, await check()];
      } catch (err) {
        return [name, errorMessage(err)];
      }
    }),
  );
  return results.filter((r): r is [string, string] => r[1] !== undefined);
}
