// A list+watch cache (client-go's Reflector + Store + SharedInformer in one)
// that never silently stops. client-node's own informer gives up for good on a
// list error (kubernetes-client/javascript#2385), and quiet watches have died
// without an error (#364, #596). Here every way a watch can end leads back to a
// watch: a routine server close re-watches from the last resourceVersion at
// once, errors back off exponentially (capped, jittered), 410 Gone relists, and
// a watchdog tears down a watch that has been silent for longer than the
// server-side timeout could explain.
//
// On a relist the new list is compared with the cache and the differences are
// emitted as add/update/delete, so a deletion that happened while the watch was
// down still reaches the handlers (client-go's DeletedFinalStateUnknown).
//
// The transport (ListWatchSource) is injected: list-watch.ts talks to the API
// server, testing.test-util.ts provides a scripted fake; reflector.ts runs the
// list+watch loop of each namespace.
import type { KubernetesObject } from '@kubernetes/client-node';
import { isRecord, resourceName, type ResourceRef } from './client.js';
import { errorMessage, silentLogger, type Logger } from './logger.js';
import type { InformerMetrics } from './metrics.js';
import { Reflector, rvOf, type ReflectorConfig } from './reflector.js';

export type { KubernetesObject } from '@kubernetes/client-node';

// ---------------------------------------------------------------------------
// Transport

export interface ListOptions {
  /** Undefined lists across all namespaces (or a cluster-scoped resource). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  signal: AbortSignal;
}

export interface ListResult {
  /** Raw objects as decoded from JSON; the informer checks their shape. */
  items: unknown[];
  /** The list's metadata.resourceVersion, where the following watch starts. */
  resourceVersion: string;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion: string;
  /** Passed to the server, which ends the watch cleanly after this long. */
  timeoutSeconds: number;
}

export interface WatchHandlers {
  /** The server accepted the watch (HTTP 200). */
  onConnected(): void;
  /** One watch event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  onEvent(type: string, object: unknown): void;
  /** The stream ended; `err` is absent for a clean close. Called at most once. */
  onClose(err?: unknown): void;
}

export interface WatchHandle {
  /** Abort the watch. onClose may or may not be called afterwards. */
  stop(): void;
}

export interface ListWatchSource {
  list(opts: ListOptions): Promise<ListResult>;
  watch(opts: WatchOptions, handlers: WatchHandlers): WatchHandle;
  /**
   * Optional: calls `fn` once the server answers any request again after an
   * outage, so a reflector sleeping out its backoff retries at once (after an API
   * server restart every watch of the process is back within a moment of the
   * first answer, instead of up to the 30 s backoff cap later). Returns the
   * unregister function.
   */
  onServerBack?(fn: () => void): () => void;
}

// ---------------------------------------------------------------------------
// Informer

export interface EventHandler<T> {
  /** `isInInitialList`: the object was in the cache when the handler was added or came with the first list. */
  onAdd?(obj: T, isInInitialList: boolean): void;
  onUpdate?(oldObj: T, newObj: T): void;
  /** `finalStateUnknown`: the deletion was found by a relist, `obj` is the last state the cache saw. */
  onDelete?(obj: T, finalStateUnknown: boolean): void;
}

export type RestartReason = 'closed' | 'error' | 'gone' | 'watchdog' | 'list_error';

export interface InformerOptions<T extends KubernetesObject> {
  resource: ResourceRef;
  source: ListWatchSource;
  /** Namespaces to watch, one list+watch each; empty or absent: all namespaces. */
  namespaces?: readonly string[];
  labelSelector?: string;
  fieldSelector?: string;
  logger?: Logger;
  metrics?: InformerMetrics;
  /** Applied to every object before it is cached, e.g. stripManagedFields to save memory. */
  transform?: (obj: T) => T;
  /** Server-side watch timeout, chosen at random in [min, max] per watch like client-go (default 300..600 s). */
  watchTimeoutSeconds?: { min: number; max: number };
  /** Silence beyond timeoutSeconds + this margin means the connection is dead (default 30 s). */
  watchdogMarginMs?: number;
  /** Restart backoff (default 800 ms doubling to 30 s, jitter 1.0 i.e. up to 2x before the cap). */
  backoff?: { initialMs?: number; maxMs?: number; jitter?: number };
  /** A watch that ends sooner than this without a single event counts as a failure (default 1 s, as client-go). */
  minWatchDurationMs?: number;
  /** Re-deliver every cached object as an update this often (controller-runtime's SyncPeriod); off by default. */
  resyncPeriodMs?: number;

  random?: () => number;
  now?: () => number;
}

export interface InformerHealth {
  synced: boolean;
  /** Every watch of the informer is connected right now. */
  connected: boolean;
  /** How long the longest-disconnected watch has been down, in ms (0 when connected). */
  disconnectedMs: number;
  lastError?: string;
}

/** Removes metadata.managedFields, which can be half of an object's size and which a cache rarely needs. */
export function stripManagedFields<T extends KubernetesObject>(obj: T): T {
  if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
  return obj;
}

type Named = KubernetesObject & { metadata: { name: string } };

function isNamedObject(v: unknown): v is Named {
  return isRecord(v) && isRecord(v.metadata) && typeof v.metadata.name === 'string';
}

function nsOf(obj: KubernetesObject): string {
  return obj.metadata?.namespace ?? '';
}

/**
 * The cache of one resource. Objects are stored as received and handed out by
 * reference, without copies, to keep memory flat: callers must treat every
 * object returned by get/list/byIndex or passed to a handler as read-only
 * (structuredClone it before changing it).
 */
export class Informer<T extends KubernetesObject = KubernetesObject> {
  readonly resource: ResourceRef;
  /** "deployments.apps": the label of this informer's metrics and logs. */
  readonly name: string;

  private readonly store = new Map<string, Map<string, T>>();
  private size = 0;
  private readonly handlers = new Set<EventHandler<T>>();
  private readonly indexers = new Map<string, (obj: T) => string[]>();
  private readonly indices = new Map<string, Map<string, Set<T>>>();
  private readonly reflectors: Reflector<T>[];
  private readonly log: Logger;
  private readonly metrics: InformerMetrics | undefined;
  private readonly transform: ((obj: T) => T) | undefined;
  private readonly resyncPeriodMs: number;
  private resyncTimer: NodeJS.Timeout | undefined;
  private syncWaiters: Array<() => void> = [];
  private started = false;
  /**
   * uid → when its deletion was seen, oldest first, kept DELETED_UID_TTL_MS: a
   * write of ours can answer after the watch has already reported the object
   * deleted (a hand deletion racing our apply), and observe() must not put it back.
   */
  private readonly deletedUids = new Map<string, number>();
  private readonly now: () => number;

  constructor(opts: InformerOptions<T>) {
    this.resource = opts.resource;
    this.name = resourceName(opts.resource);
    this.log = (opts.logger ?? silentLogger()).child({ informer: this.name });
    this.metrics = opts.metrics;
    this.transform = opts.transform;
    this.resyncPeriodMs = opts.resyncPeriodMs ?? 0;
    this.now = opts.now ?? Date.now;
    const namespaced = opts.resource.namespaced ?? true;
    const scopes: Array<string | undefined> = namespaced && opts.namespaces && opts.namespaces.length > 0 ? [...new Set(opts.namespaces)] : [undefined];
    const config: ReflectorConfig = {
      source: opts.source,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      timeoutMin: opts.watchTimeoutSeconds?.min ?? 300,
      timeoutMax: opts.watchTimeoutSeconds?.max ?? 600,
      watchdogMarginMs: opts.watchdogMarginMs ?? 30_000,
      backoffInitialMs: opts.backoff?.initialMs ?? 800,
      backoffMaxMs: opts.backoff?.maxMs ?? 30_000,
      backoffJitter: opts.backoff?.jitter ?? 1.0,
      minWatchDurationMs: opts.minWatchDurationMs ?? 1000,
      random: opts.random ?? Math.random,
      now: this.now,
    };
    if (config.timeoutMin <= 0 || config.timeoutMax < config.timeoutMin) {
      throw new Error(`informer ${this.name}: watchTimeoutSeconds must satisfy 0 < min <= max, got min=${config.timeoutMin} max=${config.timeoutMax}`);
    }
    this.reflectors = scopes.map((ns) => new Reflector<T>(this, config, ns, this.log));
  }

  // -- lifecycle ------------------------------------------------------------

  /** Starts listing and watching; returns at once. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const r of this.reflectors) r.start();
    if (this.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.resyncPeriodMs);
      this.resyncTimer.unref();
    }
  }

  /** Stops every watch and retry; the cache stays readable. */
  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    await Promise.all(this.reflectors.map((r) => r.stop()));
    this.metrics?.watchConnected(false);
  }

  /** True once the first list of every namespace has been applied; stays true after. */
  hasSynced(): boolean {
    return this.reflectors.every((r) => r.synced);
  }

  /** Resolves true once synced, false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.hasSynced()) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      });
    });
  }

  health(): InformerHealth {
    let disconnectedMs = 0;
    let lastError: string | undefined;
    for (const r of this.reflectors) {
      disconnectedMs = Math.max(disconnectedMs, r.disconnectedMs());
      lastError ??= r.lastError;
    }
    const h: InformerHealth = {
      synced: this.hasSynced(),
      connected: this.reflectors.every((r) => r.connected),
      disconnectedMs,
    };
    if (lastError !== undefined) h.lastError = lastError;
    return h;
  }

  // -- reads ----------------------------------------------------------------

  /** The cached object, or undefined; read-only (see the class comment). Cluster-scoped: namespace ''. */
  get(namespace: string, name: string): T | undefined {
    return this.store.get(namespace)?.get(name);
  }

  /** Cached objects of one namespace, or of all; read-only. */
  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.store.get(namespace)?.values() ?? [])];
    const out: T[] = [];
    for (const byName of this.store.values()) for (const o of byName.values()) out.push(o);
    return out;
  }

  /** Number of cached objects. */
  count(): number {
    return this.size;
  }

  /**
   * Adds an index (client-go's Indexers): `fn` returns the index values of an
   * object, e.g. `(o) => [o.metadata?.labels?.['app.kubernetes.io/instance'] ?? '']`.
   */
  addIndex(name: string, fn: (obj: T) => string[]): void {
    this.indexers.set(name, fn);
    const index = new Map<string, Set<T>>();
    this.indices.set(name, index);
    for (const o of this.list()) for (const v of fn(o)) addToIndex(index, v, o);
  }

  /** Objects whose index `name` contains `value`; read-only. */
  byIndex(name: string, value: string): T[] {
    const index = this.indices.get(name);
    if (!index) throw new Error(`informer ${this.name}: no index named "${name}"; add it with addIndex first`);
    return [...(index.get(value) ?? [])];
  }

  // -- handlers -------------------------------------------------------------

  /**
   * Registers a handler. Like client-go, it first receives every object
   * already cached as an add (isInInitialList = true). Returns the unregister function.
   */
  addEventHandler(handler: EventHandler<T>): () => void {
    this.handlers.add(handler);
    for (const o of this.list()) this.call(() => handler.onAdd?.(o, true));
    return () => {
      this.handlers.delete(handler);
    };
  }

  // -- internals used by the reflectors ---------------------------------------

  /** @internal */
  accept(raw: unknown): T | undefined {
    if (!isNamedObject(raw)) {
      this.log.warn('ignoring an object without metadata.name');
      return undefined;
    }
    // The API server returns objects of this informer's resource; T is that
    // resource's type, so the cast states what the URL guarantees.
    const obj = raw as unknown as T;
    return this.transform ? this.transform(obj) : obj;
  }

  /**
   * Records the object a write of ours returned, before its watch event arrives
   * (client-go's MutationCache), so the next reconcile does not act on a stale
   * copy and write again. Handlers are not called: the watch event will be.
   */
  observe(obj: T): void {
    const stored = this.accept(obj);
    if (!stored) return;
    // Already deleted: caching it would hide the deletion until the next relist.
    if (stored.metadata?.uid && this.deletedUids.has(stored.metadata.uid)) return;
    const old = this.get(nsOf(stored), stored.metadata?.name ?? '');
    if (old && isOlder(stored, old)) return;
    this.put(stored, old);
  }

  /** @internal Applies one watch event. */
  applyEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void {
    const ns = nsOf(obj);
    const name = obj.metadata?.name ?? '';
    const old = this.get(ns, name);
    if (type === 'DELETED') {
      this.rememberDeleted(obj);
      if (old) this.remove(old);
      this.emitDelete(obj, false);
      return;
    }
    // An event older than what observe() recorded from our own write.
    if (old && isOlder(obj, old)) return;
    this.put(obj, old);
    if (old) this.emitUpdate(old, obj);
    else this.emitAdd(obj, false);
  }

  /** @internal Replaces the cached objects of one scope by a fresh list, emitting the differences. */
  replace(scope: string | undefined, items: T[], initial: boolean): void {
    const fresh = new Map<string, T>();
    for (const o of items) fresh.set(`${nsOf(o)}/${o.metadata?.name ?? ''}`, o);
    const inScope = scope === undefined ? this.list() : this.list(scope);
    for (const old of inScope) {
      if (!fresh.has(`${nsOf(old)}/${old.metadata?.name ?? ''}`)) {
        this.rememberDeleted(old);
        this.remove(old);
        this.emitDelete(old, true);
      }
    }
    for (const o of fresh.values()) {
      const old = this.get(nsOf(o), o.metadata?.name ?? '');
      if (!old) {
        this.put(o, undefined);
        this.emitAdd(o, initial);
      } else if (rvOf(old) !== rvOf(o)) {
        this.put(o, old);
        this.emitUpdate(old, o);
      }
      // Same resourceVersion: same content, keep the cached object and stay quiet.
    }
  }

  /** @internal */
  reflectorSynced(): void {
    if (!this.hasSynced()) return;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w();
  }

  /** @internal */
  reflectorConnection(): void {
    this.metrics?.watchConnected(this.reflectors.every((r) => r.connected));
  }

  /** @internal */
  reflectorRestart(reason: RestartReason): void {
    this.metrics?.restart(reason);
  }

  private put(obj: T, old: T | undefined): void {
    const ns = nsOf(obj);
    let byName = this.store.get(ns);
    if (!byName) {
      byName = new Map();
      this.store.set(ns, byName);
    }
    if (old) this.unindex(old);
    else this.size++;
    byName.set(obj.metadata?.name ?? '', obj);
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name);
      if (index) for (const v of fn(obj)) addToIndex(index, v, obj);
    }
    this.metrics?.cacheSize(this.size);
  }

  private rememberDeleted(obj: T): void {
    const now = this.now();
    for (const [uid, at] of this.deletedUids) {
      if (now - at < DELETED_UID_TTL_MS) break;
      this.deletedUids.delete(uid);
    }
    if (obj.metadata?.uid) this.deletedUids.set(obj.metadata.uid, now);
  }

  private remove(obj: T): void {
    const ns = nsOf(obj);
    const byName = this.store.get(ns);
    if (!byName?.delete(obj.metadata?.name ?? '')) return;
    if (byName.size === 0) this.store.delete(ns);
    this.size--;
    this.unindex(obj);
    this.metrics?.cacheSize(this.size);
  }

  private unindex(obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name);
      if (!index) continue;
      for (const v of fn(obj)) {
        const set = index.get(v);
        set?.delete(obj);
        if (set?.size === 0) index.delete(v);
      }
    }
  }

  private resync(): void {
    if (!this.hasSynced()) return;
    for (const o of this.list()) this.emitUpdate(o, o);
  }

  private emitAdd(obj: T, initial: boolean): void {
    for (const h of this.handlers) this.call(() => h.onAdd?.(obj, initial));
  }

  private emitUpdate(old: T, obj: T): void {
    for (const h of this.handlers) this.call(() => h.onUpdate?.(old, obj));
  }

  private emitDelete(obj: T, finalStateUnknown: boolean): void {
    for (const h of this.handlers) this.call(() => h.onDelete?.(obj, finalStateUnknown));
  }

  /** A throwing handler must not break the cache or the other handlers. */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'informer event handler threw');
    }
  }
}

function addToIndex<T>(index: Map<string, Set<T>>, value: string, obj: T): void {
  let set = index.get(value);
  if (!set) {
    set = new Set();
    index.set(value, set);
  }
  set.add(obj);
}

/** How long a deleted object's uid is remembered; longer than any write of ours takes to answer. */
const DELETED_UID_TTL_MS = 10 * 60_000;

/**
 * resourceVersions are opaque, but the API server's are etcd revisions; like
 * client-go's mutation cache we order them as integers when both are integers.
 */
function isOlder(a: KubernetesObject, b: KubernetesObject): boolean {
  const ra = a.metadata?.resourceVersion;
  const rb = b.metadata?.resourceVersion;
  if (!ra || !rb || !/^\d+$/.test(ra) || !/^\d+$/.test(rb)) return false;
  return BigInt(ra) < BigInt(rb);
}
