// The list+watch loop of one namespace (or of all), feeding an informer's store:
// list, then watch from the list's resourceVersion; every way a watch can end leads
// back to a watch (see informer.ts for the whole story).
import type { KubernetesObject } from '@kubernetes/client-node';
import { isRecord, statusCodeOf } from './client.js';
import type { ListOptions, ListWatchSource, RestartReason, WatchHandle, WatchOptions } from './informer.js';
import { errorMessage, type Logger } from './logger.js';

/** What a reflector tells its informer: objects accepted, events, fresh lists, and how its watch is doing. */
export function rvOf(obj: KubernetesObject): string | undefined {
  return obj.metadata?.resourceVersion;
}

export interface ReflectorStore<T extends KubernetesObject> {
  /** The object as the cache keeps it (transformed), or undefined to ignore it. */
  accept(raw: unknown): T | undefined;
  applyEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
  /** Replaces the cached objects of one scope by a fresh list, emitting the differences. */
  replace(scope: string | undefined, items: T[], initial: boolean): void;
  reflectorSynced(): void;
  reflectorConnection(): void;
  reflectorRestart(reason: RestartReason): void;
}

export interface ReflectorConfig {
  source: ListWatchSource;
  labelSelector: string | undefined;
  fieldSelector: string | undefined;
  timeoutMin: number;
  timeoutMax: number;
  watchdogMarginMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  backoffJitter: number;
  minWatchDurationMs: number;
  random: () => number;
  now: () => number;
}

interface WatchEnd {
  reason: Exclude<RestartReason, 'list_error'> | 'stopped';
  relist: boolean;
  healthy: boolean;
  err?: unknown;
}

/** The server answered "try again soon": 429 Too Many Requests or 503 Service Unavailable. */
function busy(err: unknown): boolean {
  const code = statusCodeOf(err);
  return code === 429 || code === 503;
}

export class Reflector<T extends KubernetesObject> {
  synced = false;
  connected = false;
  lastError: string | undefined;

  private lastRV = '';
  private needsList = true;
  private stopped = false;
  private failures = 0;
  private disconnectedAt: number;
  private listAbort: AbortController | undefined;
  private endWatch: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    private readonly informer: ReflectorStore<T>,
    private readonly cfg: ReflectorConfig,
    private readonly namespace: string | undefined,
    log: Logger,
  ) {
    this.log = namespace === undefined ? log : log.child({ namespace });
    this.disconnectedAt = cfg.now();
  }

  start(): void {
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listAbort?.abort();
    this.endWatch?.();
    this.wake?.();
    await this.loopDone;
    this.setConnected(false);
  }

  disconnectedMs(): number {
    return this.connected ? 0 : this.cfg.now() - this.disconnectedAt;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (this.needsList) {
        try {
          await this.listAndReplace();
        } catch (err) {
          if (this.stopped) break;
          this.failures = busy(err) ? 1 : this.failures + 1;
          this.lastError = errorMessage(err);
          this.informer.reflectorRestart('list_error');
          const delay = this.backoffMs(this.failures);
          this.log.warn({ err: this.lastError, retryInMs: Math.round(delay) }, 'list failed; retrying');
          await this.sleep(delay);
          continue;
        }
      }
      const end = await this.watchOnce();
      if (end.reason === 'stopped') break;
      this.informer.reflectorRestart(end.reason);
      if (end.relist) this.needsList = true;
      // 410 Gone is an answer, not a failure: the server is there, our
      // resourceVersion is just too old (always so after an API server restart,
      // whose watch cache starts afresh). Relist at once.
      if (end.healthy || end.reason === 'gone') this.failures = 0;
      // 429 or 503: the server is there but busy (a restarted API server answers
      // so while it warms up). Retry in about a second, not after the backoff an
      // outage before it may have built up.
      else if (busy(end.err)) this.failures = Math.min(this.failures, 1);
      // The first retry after a watch that worked is immediate (a routine
      // server close is the common case); quick repeated failures back off.
      const delay = this.failures === 0 ? 0 : this.backoffMs(this.failures);
      this.failures++;
      if (end.reason === 'closed' && end.healthy) {
        this.log.debug('watch closed by the server; re-watching');
      } else {
        if (end.err !== undefined) this.lastError = errorMessage(end.err);
        this.log.info({ reason: end.reason, relist: end.relist, err: this.lastError, retryInMs: Math.round(delay) }, 'watch ended; restarting');
      }
      if (delay > 0) await this.sleep(delay);
    }
  }

  private backoffMs(failures: number): number {
    const base = Math.min(this.cfg.backoffMaxMs, this.cfg.backoffInitialMs * 2 ** Math.max(0, failures - 1));
    return Math.min(this.cfg.backoffMaxMs, base * (1 + this.cfg.backoffJitter * this.cfg.random()));
  }

  private async listAndReplace(): Promise<void> {
    const abort = new AbortController();
    this.listAbort = abort;
    try {
      const opts: ListOptions = { signal: abort.signal };
      if (this.namespace !== undefined) opts.namespace = this.namespace;
      if (this.cfg.labelSelector) opts.labelSelector = this.cfg.labelSelector;
      if (this.cfg.fieldSelector) opts.fieldSelector = this.cfg.fieldSelector;
      const res = await this.cfg.source.list(opts);
      if (this.stopped) return;
      if (!res.resourceVersion) throw new Error('list response has no metadata.resourceVersion');
      const items: T[] = [];
      for (const raw of res.items) {
        const o = this.informer.accept(raw);
        if (o) items.push(o);
      }
      this.informer.replace(this.namespace, items, !this.synced);
      this.lastRV = res.resourceVersion;
      this.needsList = false;
      if (!this.synced) {
        this.synced = true;
        this.informer.reflectorSynced();
      }
    } finally {
      this.listAbort = undefined;
    }
  }

  private watchOnce(): Promise<WatchEnd> {
    return new Promise<WatchEnd>((resolve) => {
      const cfg = this.cfg;
      const timeoutSeconds = Math.floor(cfg.timeoutMin + cfg.random() * (cfg.timeoutMax - cfg.timeoutMin + 1));
      const watchdogMs = timeoutSeconds * 1000 + cfg.watchdogMarginMs;
      const startedAt = cfg.now();
      let events = 0;
      let finished = false;
      let watchdog: NodeJS.Timeout | undefined;
      let handle: WatchHandle | undefined;

      const finish = (reason: WatchEnd['reason'], relist: boolean, err?: unknown) => {
        if (finished) return;
        finished = true;
        clearTimeout(watchdog);
        this.endWatch = undefined;
        this.setConnected(false);
        handle?.stop();
        const healthy = events > 0 || cfg.now() - startedAt >= cfg.minWatchDurationMs;
        const end: WatchEnd = { reason, relist, healthy };
        if (err !== undefined) end.err = err;
        resolve(end);
      };
      const armWatchdog = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => finish('watchdog', false, new Error(`no watch event for ${watchdogMs} ms`)), watchdogMs);
      };

      this.endWatch = () => finish('stopped', false);
      armWatchdog();

      const opts: WatchOptions = { resourceVersion: this.lastRV, timeoutSeconds };
      if (this.namespace !== undefined) opts.namespace = this.namespace;
      if (cfg.labelSelector) opts.labelSelector = cfg.labelSelector;
      if (cfg.fieldSelector) opts.fieldSelector = cfg.fieldSelector;

      handle = cfg.source.watch(opts, {
        onConnected: () => {
          if (finished) return;
          this.setConnected(true);
        },
        onEvent: (type, object) => {
          if (finished) return;
          if (type === 'ERROR') {
            const code = statusCodeOf(object);
            const msg = isRecord(object) && typeof object.message === 'string' ? object.message : 'unknown';
            // 410: our resourceVersion is too old to resume from; anything
            // else: we cannot tell what we missed. Either way, relist.
            finish(code === 410 ? 'gone' : 'error', true, new Error(`watch ERROR event ${code ?? ''}: ${msg}`));
            return;
          }
          this.setConnected(true);
          armWatchdog();
          if (type === 'BOOKMARK') {
            events++;
            if (isRecord(object) && isRecord(object.metadata)) {
              const rv = object.metadata.resourceVersion;
              if (typeof rv === 'string' && rv) this.lastRV = rv;
            }
            return;
          }
          if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') {
            this.log.warn({ type }, 'ignoring a watch event of unknown type');
            return;
          }
          const obj = this.informer.accept(object);
          if (!obj) return;
          events++;
          const rv = rvOf(obj);
          if (rv) this.lastRV = rv;
          this.informer.applyEvent(type, obj);
        },
        onClose: (err) => {
          if (finished) return;
          if (err === undefined || err === null) {
            finish('closed', false);
            return;
          }
          const code = statusCodeOf(err);
          if (code === 410) finish('gone', true, err);
          // An HTTP error answer (403, 404 after a CRD was removed, 500...)
          // may hide a gap: relist. A network error resumes from lastRV.
          else finish('error', code !== undefined, err);
        },
      });
      // The source may have failed synchronously, before `handle` was set.
      if (finished) handle.stop();
    });
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    if (!connected) this.disconnectedAt = this.cfg.now();
    this.informer.reflectorConnection();
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      let unsubscribe: (() => void) | undefined;
      const done = () => {
        clearTimeout(timer);
        unsubscribe?.();
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      // The API server answered another request of this process after an outage:
      // stop sleeping out the backoff and retry now. Only a sleep is cut short; a
      // retry that fails again backs off as before.
      unsubscribe = this.cfg.source.onServerBack?.(done);
    });
  }
}
