// Thin helpers around @kubernetes/client-node: loading a KubeConfig, building
// API paths for any resource (core, built-in groups and CRDs alike), and one
// authenticated JSON request function that the informer's list and the lease
// client share. Everything authenticates through KubeConfig, so exec plugins,
// client certificates, tokens and in-cluster service accounts all work.
import { AsyncLocalStorage } from 'node:async_hooks';
import { HttpMethod, IsomorphicFetchHttpLibrary, KubeConfig, RequestContext } from '@kubernetes/client-node';

/** The field manager of every server-side apply the operator sends. */

/** A resource type as the API server names it in URLs. */
export interface ResourceRef {
  /** '' for the core group (Secrets, Services, PVCs). */
  group: string;
  version: string;
  /** Lower-case plural, as in the URL: 'deployments', 'secrets'. */
  plural: string;
  /** Kind, for logs and for filling in list items; optional. */
  kind?: string;
  /** False for cluster-scoped resources (default true). */
  namespaced?: boolean;
}

export interface LoadKubeConfigOptions {
  /** A kubeconfig file; without it: $KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string;
  context?: string;
}

export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account');
  }
  return kc;
}

/** "deployments.apps", "secrets": the name kubectl and our metrics use for a resource. */
export function resourceName(ref: ResourceRef): string {
  return ref.group ? `${ref.plural}.${ref.group}` : ref.plural;
}

export function apiVersionOf(ref: Pick<ResourceRef, 'group' | 'version'>): string {
  return ref.group ? `${ref.group}/${ref.version}` : ref.version;
}

/**
 * The URL path of a collection or an object:
 * resourcePath({group:'apps',version:'v1',plural:'deployments'}, 'ns', 'web')
 *   → /apis/apps/v1/namespaces/ns/deployments/web
 * Without a namespace a namespaced resource is listed across all namespaces.
 */
export function resourcePath(ref: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
  const root = ref.group ? `/apis/${ref.group}/${ref.version}` : `/api/${ref.version}`;
  const ns = (ref.namespaced ?? true) && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  let path = `${root}${ns}/${ref.plural}`;
  if (name) path += `/${encodeURIComponent(name)}`;
  if (name && subresource) path += `/${subresource}`;
  return path;
}

/** A non-2xx answer from the API server, carrying the metav1.Status fields we act on. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }

  static fromResponse(method: string, path: string, code: number, body: string): KubeApiError {
    let reason = '';
    let message = body.slice(0, 500);
    try {
      const status: unknown = JSON.parse(body);
      if (isRecord(status)) {
        if (typeof status.reason === 'string') reason = status.reason;
        if (typeof status.message === 'string') message = status.message;
      }
    } catch {
      // Not a Status (a proxy's HTML page, say): keep the truncated text.
    }
    return new KubeApiError(code, reason, `${method} ${path}: ${code}${reason ? ` ${reason}` : ''}: ${message}`);
  }
}

/** The HTTP status of an error from our helpers, client-node's ApiException or its Watch, or of a watch ERROR event's Status. */
export function statusCodeOf(err: unknown): number | undefined {
  if (!isRecord(err)) return undefined;
  for (const key of ['code', 'statusCode']) {
    const v = err[key];
    if (typeof v === 'number') return v;
  }
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return statusCodeOf(err) === 409;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Defaults to application/json; e.g. application/apply-patch+yaml for server-side apply. */
  contentType?: string;
  signal?: AbortSignal;
}

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/** How long one connection pool serves a KubeConfig before a fresh one replaces it. */
export const CONNECTION_POOL_MAX_AGE_MS = 5 * 60_000;

const pools = new WeakMap<KubeConfig, { dispatcher: Dispatcher; createdAt: number }>();

/**
 * client-node's applySecurityAuthentication builds a new undici Agent for every
 * request, so each request opened a TLS connection of its own (a full handshake
 * on both ends, then an idle socket until its keep-alive ran out). We keep one
 * Agent per KubeConfig instead: requests share its connections (HTTP/2 streams,
 * or pooled keep-alive). Credentials in headers (tokens, exec plugins) are still
 * applied per request; TLS material (CA, client certificate) is re-read when the
 * pool is replaced, every CONNECTION_POOL_MAX_AGE_MS, as client-go re-reads
 * rotated certificates. The old pool finishes what it carries, then closes.
 */
function sharedDispatcher(kc: KubeConfig, fresh: Dispatcher | undefined, now = Date.now()): Dispatcher | undefined {
  if (!fresh) return undefined; // plain HTTP without TLS options: fetch's global pool already reuses connections
  const pool = pools.get(kc);
  if (pool && now - pool.createdAt < CONNECTION_POOL_MAX_AGE_MS) return pool.dispatcher;
  pools.set(kc, { dispatcher: fresh, createdAt: now });
  pool?.dispatcher.close().catch(() => undefined);
  return fresh;
}

const ambientSignal = new AsyncLocalStorage<AbortSignal>();

/** Per KubeConfig: whether its last request got no answer, and who waits for the next one. */
const servers = new WeakMap<KubeConfig, { unreachable: boolean; waiting: Set<() => void> }>();

function serverOf(kc: KubeConfig): { unreachable: boolean; waiting: Set<() => void> } {
  let s = servers.get(kc);
  if (!s) {
    s = { unreachable: false, waiting: new Set() };
    servers.set(kc, s);
  }
  return s;
}

/**
 * Calls `fn` the next time a request with `kc` gets an HTTP answer (of any
 * status) after one got none: the API server is back after an outage. Every
 * request counts (a lease renewal, a list, a watch connecting), so whatever
 * part of the process reaches the server first tells the rest. Returns the
 * unregister function.
 */
export function onServerBack(kc: KubeConfig, fn: () => void): () => void {
  const waiting = serverOf(kc).waiting;
  waiting.add(fn);
  return () => {
    waiting.delete(fn);
  };
}

/** Records whether a request with `kc` got an answer; the first answer after none calls onServerBack's listeners. */
export function recordServerAnswer(kc: KubeConfig, answered: boolean): void {
  const s = serverOf(kc);
  if (!answered) {
    s.unreachable = true;
    return;
  }
  if (!s.unreachable) return;
  s.unreachable = false;
  const waiting = [...s.waiting];
  s.waiting.clear();
  for (const fn of waiting) fn();
}

/**
 * Runs `fn` so that every request it sends (requestJSON, directly or through any
 * helper, including fire-and-forget ones such as events) without a signal of its
 * own is aborted when `signal` aborts. The controller runs each reconcile this
 * way: when leadership is lost, the reconciles in flight stop writing at once,
 * without every reconciler having to pass its context's signal down by hand.
 */
export function withRequestSignal<T>(signal: AbortSignal, fn: () => T): T {
  return ambientSignal.run(signal, fn);
}

/** The signal of the enclosing withRequestSignal, if any: what requestJSON uses without one of its own. */
export function ambientRequestSignal(): AbortSignal | undefined {
  return ambientSignal.getStore();
}

/**
 * One authenticated request; resolves with the parsed JSON body (unknown: the
 * caller narrows it) or rejects with a KubeApiError. Without `opts.signal` it
 * uses the signal of an enclosing withRequestSignal, if any.
 */
export async function requestJSON(kc: KubeConfig, opts: RequestOptions): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + opts.path);
  for (const [k, v] of Object.entries(opts.query ?? {})) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  const ctx = new RequestContext(url.toString(), HttpMethod[opts.method]);
  await kc.applySecurityAuthentication(ctx);
  const dispatcher = sharedDispatcher(kc, ctx.getDispatcher());
  if (dispatcher) ctx.setDispatcher(dispatcher);
  ctx.setHeaderParam('Accept', 'application/json');
  if (opts.body !== undefined) {
    ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
    ctx.setBody(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  }
  const signal = opts.signal ?? ambientRequestSignal();
  if (signal) {
    signal.throwIfAborted();
    ctx.setSignal(signal);
  }
  let res: Awaited<ReturnType<ReturnType<IsomorphicFetchHttpLibrary['send']>['toPromise']>>;
  try {
    res = await new IsomorphicFetchHttpLibrary().send(ctx).toPromise();
  } catch (err) {
    if (!signal?.aborted) recordServerAnswer(kc, false);
    throw err;
  }
  recordServerAnswer(kc, true);
  const text = await res.body.text();
  if (res.httpStatusCode < 200 || res.httpStatusCode >= 300) {
    throw KubeApiError.fromResponse(opts.method, opts.path, res.httpStatusCode, text);
  }
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/**
 * A readiness check of the API server itself (its /readyz, which every
 * authenticated user may read through system:public-info-viewer): undefined
 * when it is ready, else why not. The operator's watches stay connected while
 * etcd is down, since the API server serves them from its cache, but nothing can
 * be written; this is how the operator's own /readyz tells. A server that does
 * not let us read /readyz (401, 403, 404) counts as ready: we cannot tell.
 */
export function apiServerReadyCheck(kc: KubeConfig, timeoutMs = 3_000): () => Promise<string | undefined> {
  return async () => {
    try {
      await requestJSON(kc, { method: 'GET', path: '/readyz', signal: AbortSignal.timeout(timeoutMs) });
      return undefined;
    } catch (err) {
      // The answer to a ready server is the text "ok", which is not JSON.
      if (err instanceof SyntaxError) return undefined;
      const code = statusCodeOf(err);
      if (code === 401 || code === 403 || code === 404) return undefined;
      const message = err instanceof Error ? err.message : String(err);
      if (code !== undefined) {
        // The body lists the checks, the failing ones as "[-]etcd failed: reason withheld".
        const failing = message.split('\n').filter((l) => l.startsWith('[-]'));
        return `API server not ready (${code})${failing.length ? `: ${failing.join(', ')}` : ''}`;
      }
      if ((err as Error).name === 'TimeoutError') return `API server did not answer /readyz within ${timeoutMs} ms`;
      return `API server unreachable: ${message}`;
    }
  };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
