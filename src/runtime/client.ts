// Thin helpers around @kubernetes/client-node: loading a KubeConfig, building
// API paths for any resource (core, built-in groups and CRDs alike), and one
// authenticated JSON request function that the informer's list and the lease
// client share. Everything authenticates through KubeConfig, so exec plugins,
// client certificates, tokens and in-cluster service accounts all work.
import {
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  KubernetesObjectApi,
  RequestContext,
} from '@kubernetes/client-node';

/** The field manager of every server-side apply the operator sends. */
export const FIELD_MANAGER = 'backendapp-operator';

/** A resource type as the API server names it in URLs. */
export interface ResourceRef {
  /** '' for the core group (Secrets, Services, PVCs). */
  group: string;
  version: string;
  /** Lower-case plural, as in the URL: 'deployments', 'backendapps'. */
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
    throw new Error(
      'no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account',
    );
  }
  return kc;
}

/** client-node's generic object client (create/read/patch/replace/delete any kind by its apiVersion and kind). */
export function objectApi(kc: KubeConfig): KubernetesObjectApi {
  return KubernetesObjectApi.makeApiClient(kc);
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
        if (typeof status['reason'] === 'string') reason = status['reason'];
        if (typeof status['message'] === 'string') message = status['message'];
      }
    } catch {
      // Not a Status (a proxy's HTML page, say): keep the truncated text.
    }
    return new KubeApiError(code, reason, `${method} ${path}: ${code}${reason ? ` ${reason}` : ''}: ${message}`);
  }
}

/** The HTTP status of an error from our helpers, client-node's ApiException, or its Watch. */
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

/**
 * One authenticated request; resolves with the parsed JSON body (unknown: the
 * caller narrows it) or rejects with a KubeApiError.
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
  ctx.setHeaderParam('Accept', 'application/json');
  if (opts.body !== undefined) {
    ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
    ctx.setBody(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  }
  if (opts.signal) ctx.setSignal(opts.signal);
  const res = await new IsomorphicFetchHttpLibrary().send(ctx).toPromise();
  const text = await res.body.text();
  if (res.httpStatusCode < 200 || res.httpStatusCode >= 300) {
    throw KubeApiError.fromResponse(opts.method, opts.path, res.httpStatusCode, text);
  }
  return text ? (JSON.parse(text) as unknown) : undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
