// The informer's transport against a real API server: paginated list through
// requestJSON (works for core, built-in and custom resources alike, with any
// KubeConfig authentication), and client-node's Watch for the stream.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { apiVersionOf, isRecord, onServerBack, recordServerAnswer, requestJSON, resourcePath, statusCodeOf, type ResourceRef } from './client.js';
import type { ListOptions, ListResult, ListWatchSource, WatchHandle, WatchHandlers, WatchOptions } from './informer.js';

export interface KubeListWatchOptions {
  /** Page size of the list (default 500, as client-go's pager). */
  pageSize?: number;
}

/**
 * Seconds of silence after which client-node's Watch aborts a stream, beyond
 * the server-side timeoutSeconds. client-node 2.x aborts after 30 s without
 * data (kubernetes-client/javascript#3020, #3022), which is shorter than the
 * API server's ~1 min bookmark interval, so every quiet watch would be cut
 * twice a minute. Our informer has its own watchdog; this only keeps
 * client-node's from firing first.
 */
const CLIENT_INACTIVITY_MARGIN_S = 60;

export function kubeListWatch(kc: KubeConfig, resource: ResourceRef, opts: KubeListWatchOptions = {}): ListWatchSource {
  const pageSize = opts.pageSize ?? 500;
  const itemApiVersion = apiVersionOf(resource);

  async function listPages(o: ListOptions, limit: number | undefined): Promise<ListResult> {
    const path = resourcePath(resource, o.namespace);
    const items: unknown[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    let kind = resource.kind;
    do {
      // No resourceVersion: a consistent read of the current state, so a relist
      // never goes back in time compared with what the watch already showed.
      const body = await requestJSON(kc, {
        method: 'GET',
        path,
        query: {
          labelSelector: o.labelSelector,
          fieldSelector: o.fieldSelector,
          limit,
          continue: cont,
        },
        signal: o.signal,
      });
      if (!isRecord(body) || !Array.isArray(body.items) || !isRecord(body.metadata)) {
        throw new Error(`GET ${path}: the response is not a list`);
      }
      if (!kind && typeof body.kind === 'string') kind = body.kind.replace(/List$/, '');
      for (const item of body.items) {
        // List items come without apiVersion/kind; watch events carry them.
        // Fill them in so cached objects look the same either way.
        if (isRecord(item)) {
          item.apiVersion ??= itemApiVersion;
          if (kind) item.kind ??= kind;
        }
        items.push(item);
      }
      const meta = body.metadata;
      if (!resourceVersion && typeof meta.resourceVersion === 'string') resourceVersion = meta.resourceVersion;
      cont = typeof meta.continue === 'string' && meta.continue ? meta.continue : undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  return {
    onServerBack: (fn) => onServerBack(kc, fn),

    async list(o: ListOptions): Promise<ListResult> {
      try {
        return await listPages(o, pageSize);
      } catch (err) {
        // A continue token expired mid-list (410): fall back to one unpaginated
        // list, as client-go's pager does.
        if (statusCodeOf(err) === 410) return listPages(o, undefined);
        throw err;
      }
    },

    watch(o: WatchOptions, handlers: WatchHandlers): WatchHandle {
      const w = new Watch(kc);
      // requestTimeoutMs is private in client-node's types but a plain field at
      // runtime; see CLIENT_INACTIVITY_MARGIN_S. If a release renames it, this
      // sets an unused property and watches fall back to 30 s reconnects.
      Reflect.set(w, 'requestTimeoutMs', (o.timeoutSeconds + CLIENT_INACTIVITY_MARGIN_S) * 1000);
      let closed = false;
      let stopped = false;
      let controller: AbortController | undefined;
      const close = (err?: unknown) => {
        if (closed) return;
        closed = true;
        // An HTTP status is an answer; none means the connection failed or broke.
        if (err !== undefined && err !== null && !stopped) recordServerAnswer(kc, statusCodeOf(err) !== undefined);
        handlers.onClose(err === null ? undefined : err);
      };
      const query: Record<string, string | number | boolean | undefined> = {
        allowWatchBookmarks: true,
        resourceVersion: o.resourceVersion || undefined,
        timeoutSeconds: o.timeoutSeconds,
        labelSelector: o.labelSelector,
        fieldSelector: o.fieldSelector,
      };
      w.watch(
        resourcePath(resource, o.namespace),
        query,
        (type: string, object: unknown) => {
          if (!closed && !stopped) handlers.onEvent(type, object);
        },
        (err: unknown) => close(err),
      ).then(
        (c) => {
          controller = c;
          if (!closed) recordServerAnswer(kc, true);
          if (stopped) c.abort();
          // Watch resolves once the response headers arrived (or after it has
          // already reported a failure through done).
          else if (!closed) handlers.onConnected();
        },
        (err: unknown) => close(err),
      );
      return {
        stop() {
          stopped = true;
          controller?.abort();
        },
      };
    },
  };
}
