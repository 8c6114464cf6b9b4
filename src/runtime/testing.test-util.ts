// Fakes for unit tests without a cluster: a scripted API server for one
// resource (list + watch with resourceVersions, history and 410 Gone), and an
// in-memory Lease with optimistic concurrency. Used by the runtime's own tests
// and meant for the reconciler's tests too.
import type { KubernetesObject } from '@kubernetes/client-node';
import { KubeApiError } from './client.js';
import type { ListOptions, ListResult, ListWatchSource, WatchHandle, WatchHandlers, WatchOptions } from './informer.js';
import type { LeaseClient, LeaseRecord } from './leader-election.js';

/** Matches equality-based selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated. */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return selector.split(',').every((raw) => {
    const term = raw.trim();
    if (!term) return true;
    if (/\s(in|notin)\s/.test(term)) throw new Error(`matchesLabelSelector: set-based selector "${term}" is not supported`);
    const ne = term.split('!=');
    if (ne.length === 2) return l[ne[0]!.trim()] !== ne[1]!.trim();
    const eq = term.split(/==?/);
    if (eq.length === 2) return l[eq[0]!.trim()] === eq[1]!.trim();
    if (term.startsWith('!')) return !(term.slice(1) in l);
    return term in l;
  });
}

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  obj: KubernetesObject;
}

/** One watch connection the fake has handed out. */
export class FakeWatch {
  open = true;
  connected = false;
  stoppedByClient = false;
  /** @internal History has been replayed; new events go straight out. */
  live = false;

  constructor(
    readonly opts: WatchOptions,
    private readonly handlers: WatchHandlers,
    private readonly onEnd: (w: FakeWatch) => void,
  ) {}

  /** Delivers a raw event (also BOOKMARK/ERROR, or malformed ones). */
  send(type: string, object: unknown): void {
    if (this.open) this.handlers.onEvent(type, object);
  }

  sendBookmark(resourceVersion: string): void {
    this.send('BOOKMARK', { kind: 'Bookmark', metadata: { resourceVersion } });
  }

  /** Ends the stream as the server or the network would: no error is a clean close. */
  close(err?: unknown): void {
    if (!this.open) return;
    this.open = false;
    this.onEnd(this);
    this.handlers.onClose(err);
  }

  /** @internal */
  connect(): void {
    if (!this.open || this.connected) return;
    this.connected = true;
    this.handlers.onConnected();
  }

  /** @internal */
  stopFromClient(): void {
    this.stoppedByClient = true;
    if (!this.open) return;
    this.open = false;
    this.onEnd(this);
  }
}

/**
 * A fake API server for one resource. Mutations bump a global
 * resourceVersion and reach the open watches; a watch that starts from an
 * older resourceVersion replays the history after it, or gets 410 Gone if
 * compact() dropped that history.
 */
export class FakeListWatch implements ListWatchSource {
  readonly lists: ListOptions[] = [];
  readonly watches: FakeWatch[] = [];
  /** Errors the next list calls throw, in order. */
  readonly listErrors: unknown[] = [];
  /** Errors the next watch calls end with right after starting, in order. */
  readonly watchErrors: unknown[] = [];
  /** Send onConnected automatically (a microtask after watch()); off to test connection timing. */
  autoConnect = true;

  private rv = 100;
  private compactedRV = 0;
  private readonly objects = new Map<string, KubernetesObject>();
  private readonly history: HistoryEntry[] = [];

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Open watches. */
  active(): FakeWatch[] {
    return this.watches.filter((w) => w.open);
  }

  /** The newest watch; throws if there is none. */
  lastWatch(): FakeWatch {
    const w = this.watches.at(-1);
    if (!w) throw new Error('no watch has been started');
    return w;
  }

  /** Creates or replaces an object, as a client write would. Returns the stored copy. */
  upsert<T extends KubernetesObject>(obj: T): T {
    const key = keyOf(obj);
    const exists = this.objects.has(key);
    const stored = structuredClone(obj);
    stored.metadata = { ...stored.metadata, resourceVersion: String(++this.rv) };
    this.objects.set(key, stored);
    this.record(exists ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  delete(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    const gone = structuredClone(obj);
    gone.metadata = { ...gone.metadata, resourceVersion: String(++this.rv) };
    this.record('DELETED', gone);
  }

  /**
   * Changes state without telling the watches, as if the events were lost
   * while the client was disconnected (pair it with compact() to force a relist).
   */
  upsertSilently<T extends KubernetesObject>(obj: T): T {
    const stored = structuredClone(obj);
    stored.metadata = { ...stored.metadata, resourceVersion: String(++this.rv) };
    this.objects.set(keyOf(stored), stored);
    return stored;
  }

  deleteSilently(namespace: string, name: string): void {
    this.objects.delete(`${namespace}/${name}`);
    ++this.rv;
  }

  /** Forgets the history, so watches from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.history.length = 0;
    this.compactedRV = this.rv;
  }

  async list(opts: ListOptions): Promise<ListResult> {
    this.lists.push(opts);
    await Promise.resolve();
    if (opts.signal.aborted) throw new Error('aborted');
    const err = this.listErrors.shift();
    if (err !== undefined) throw err;
    const items = [...this.objects.values()].filter((o) => this.matches(o, opts)).map((o) => structuredClone(o));
    return { items, resourceVersion: String(this.rv) };
  }

  watch(opts: WatchOptions, handlers: WatchHandlers): WatchHandle {
    const w = new FakeWatch(opts, handlers, () => {});
    this.watches.push(w);
    const err = this.watchErrors.shift();
    queueMicrotask(() => {
      if (!w.open) return;
      if (err !== undefined) {
        w.close(err);
        return;
      }
      const from = Number(opts.resourceVersion);
      if (opts.resourceVersion && from < this.compactedRV) {
        if (this.autoConnect) w.connect();
        w.send('ERROR', {
          kind: 'Status',
          status: 'Failure',
          code: 410,
          reason: 'Expired',
          message: `too old resource version: ${from} (${this.compactedRV})`,
        });
        w.close();
        return;
      }
      if (this.autoConnect) w.connect();
      for (const h of this.history) {
        if (h.rv > from && this.matches(h.obj, opts)) w.send(h.type, structuredClone(h.obj));
      }
      w.live = true;
    });
    return { stop: () => w.stopFromClient() };
  }

  private record(type: HistoryEntry['type'], obj: KubernetesObject): void {
    this.history.push({ rv: this.rv, type, obj });
    for (const w of this.active()) {
      if (w.live && this.matches(obj, w.opts)) w.send(type, structuredClone(obj));
    }
  }

  private matches(obj: KubernetesObject, opts: { namespace?: string; labelSelector?: string }): boolean {
    if (opts.namespace !== undefined && obj.metadata?.namespace !== opts.namespace) return false;
    return matchesLabelSelector(obj.metadata?.labels, opts.labelSelector);
  }
}

function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/**
 * An in-memory Lease shared by several electors, with the API server's
 * optimistic concurrency: an update carrying a stale resourceVersion fails
 * with 409. Each elector gets its own view through client(), which remembers
 * the resourceVersion it last saw, like client-go's LeaseLock.
 */
export class FakeLease {
  record: LeaseRecord | undefined;
  rv = 0;
  /** Calls made, for assertions ("get", "create", "update"). */
  readonly calls: string[] = [];
  /** When set, every call fails with it (an API-server outage). */
  failWith: unknown;

  client(): LeaseClient {
    let seenRV: number | undefined;
    return {
      get: async () => {
        this.calls.push('get');
        await Promise.resolve();
        if (this.failWith !== undefined) throw this.failWith;
        if (!this.record) throw new KubeApiError(404, 'NotFound', 'leases "x" not found');
        seenRV = this.rv;
        return { ...this.record };
      },
      create: async (record) => {
        this.calls.push('create');
        await Promise.resolve();
        if (this.failWith !== undefined) throw this.failWith;
        if (this.record) throw new KubeApiError(409, 'AlreadyExists', 'leases "x" already exists');
        this.record = { ...record };
        seenRV = ++this.rv;
      },
      update: async (record) => {
        this.calls.push('update');
        await Promise.resolve();
        if (this.failWith !== undefined) throw this.failWith;
        if (!this.record) throw new KubeApiError(404, 'NotFound', 'leases "x" not found');
        if (seenRV !== this.rv) {
          throw new KubeApiError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version');
        }
        this.record = { ...record };
        seenRV = ++this.rv;
      },
    };
  }
}
