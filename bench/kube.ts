// The benchmark driver's own API client: node:https with one keep-alive pool per
// kubeconfig. The driver (creating namespaces and BackendApps, cleaning up) must
// cost the same before and after any change to the operator, so it deliberately
// does not use src/runtime/client.ts, which the operator and the floor share.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface Req {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export class Kube {
  readonly server: URL;
  private readonly agent: https.Agent;

  constructor(readonly kubeconfigPath: string) {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser();
    if (!cluster || !user) throw new Error(`${kubeconfigPath}: no current cluster or user`);
    const file = (p: string | undefined, data: string | undefined) => (p ? readFileSync(p) : data ? Buffer.from(data, 'base64') : undefined);
    this.server = new URL(cluster.server);
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 64,
      ca: file(cluster.caFile, cluster.caData),
      cert: file(user.certFile, user.certData),
      key: file(user.keyFile, user.keyData),
    });
  }

  request<T = unknown>(r: Req): Promise<T> {
    const url = new URL(r.path, this.server);
    for (const [k, v] of Object.entries(r.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        url,
        {
          method: r.method,
          agent: this.agent,
          headers: {
            Accept: 'application/json',
            ...(body !== undefined ? { 'Content-Type': r.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}),
          },
          timeout: r.timeoutMs ?? 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            if (code < 200 || code >= 300) {
              reject(new HttpError(code, `${r.method} ${url.pathname}: ${code}: ${text.slice(0, 400)}`));
              return;
            }
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${r.method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** Server-side apply of one object (its apiVersion/kind/metadata decide the URL). */
  apply<T = unknown>(path: string, obj: unknown, fieldManager: string): Promise<T> {
    return this.request<T>({
      method: 'PATCH',
      path,
      query: { fieldManager, force: true },
      contentType: 'application/apply-patch+yaml',
      body: obj,
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof HttpError && err.code === 404;
}

/** Runs `fn` over `items` with at most `limit` in flight; resolves with the results in order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
