// controller-runtime's Controller: informer events become keys on a work
// queue, and workers call the Reconciler with nothing but a namespace and a
// name. The reconciler reads the current state from the caches every time
// (level-based), so collapsing many events into one reconcile loses nothing.
import { randomUUID } from 'node:crypto';
import { withRequestSignal } from './client.js';
import type { Informer, InformerHealth, KubernetesObject } from './informer.js';
import { errorMessage, silentLogger, type Logger } from './logger.js';
import { Metrics, type ReconcileResultLabel } from './metrics.js';
import { WorkQueue, defaultControllerRateLimiter, type Queue, type RateLimiter } from './workqueue.js';

/** What to reconcile: controller-runtime's reconcile.Request. Cluster-scoped objects have namespace ''. */
export interface Request {
  namespace: string;
  name: string;
}

/** controller-runtime's reconcile.Result; requeueAfter is in milliseconds. */
export interface Result {
  /** Look again after this many ms (e.g. to poll a rollout); resets the error backoff. */
  requeueAfter?: number;
  /** Look again soon, with the per-item backoff (rarely needed: prefer requeueAfter or an error). */
  requeue?: boolean;
}

export interface ReconcileContext {
  /** Child logger with controller, namespace, name and reconcileID bound. */
  log: Logger;
  /** Aborted when shutdown gives up waiting (grace period over, or leadership lost): pass it to API calls. */
  signal: AbortSignal;
  reconcileID: string;
}

/**
 * controller-runtime's Reconciler. A thrown error requeues the request with
 * per-item exponential backoff; a TerminalError is recorded but not retried.
 */
export interface Reconciler {
  reconcile(req: Request, ctx: ReconcileContext): Promise<Result>;
}

/** An error that retrying cannot fix (controller-runtime's reconcile.TerminalError): logged and counted, not requeued. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** The group/kind of an owner, as matched against ownerReferences (the version is ignored, as in controller-runtime). */
export interface GroupKind {
  /** '' for the core group. */
  group: string;
  kind: string;
}

/** Filters events before they are enqueued (controller-runtime's predicate.Funcs); absent functions pass everything. */
export interface Predicate<T> {
  create?(obj: T): boolean;
  update?(oldObj: T, newObj: T): boolean;
  delete?(obj: T): boolean;
}

/** Passes updates that change metadata.generation, i.e. the spec (controller-runtime's GenerationChangedPredicate). */
export const generationChangedPredicate: Predicate<KubernetesObject> = {
  update: (o, n) => o.metadata?.generation !== n.metadata?.generation,
};

/** What the manager needs from an informer. */
export interface CacheSource {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
  hasSynced(): boolean;
  waitForSync(signal?: AbortSignal): Promise<boolean>;
  health(): InformerHealth;
}

export interface ControllerOptions {
  /** Names the metrics' `controller` label and the logs; e.g. 'myapp'. */
  name: string;
  reconciler: Reconciler;
  /** Workers reconciling different keys in parallel (default 1, as controller-runtime). */
  maxConcurrentReconciles?: number;
  logger?: Logger;
  metrics?: Metrics;
  rateLimiter?: RateLimiter;
}

export function requestKey(req: Request): string {
  return req.namespace ? `${req.namespace}/${req.name}` : req.name;
}

export function parseRequestKey(key: string): Request {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The group of an apiVersion: 'apps/v1' → 'apps', 'v1' → ''. */
export function groupOf(apiVersion: string | undefined): string {
  if (!apiVersion) return '';
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

/** The request for the controlling owner of `obj` if it is of the given group/kind. */
export function controllerOwnerRequest(obj: KubernetesObject, owner: GroupKind): Request | undefined {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (!ref || ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) return undefined;
  return { namespace: obj.metadata?.namespace ?? '', name: ref.name };
}

interface Source {
  informer: CacheSource;
  register(): () => void;
}

export class Controller {
  readonly name: string;
  readonly maxConcurrentReconciles: number;
  private readonly reconciler: Reconciler;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly rateLimiter: RateLimiter;
  private queue: Queue;
  private readonly sources: Source[] = [];
  private unregister: Array<() => void> = [];
  private workers: Promise<void>[] = [];
  private abort = new AbortController();
  private started = false;
  private stopping = false;
  /** Workers that have not returned yet, of this run or of a stopped one. */
  private running = 0;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.reconciler = opts.reconciler;
    this.maxConcurrentReconciles = opts.maxConcurrentReconciles ?? 1;
    if (!Number.isInteger(this.maxConcurrentReconciles) || this.maxConcurrentReconciles < 1) {
      throw new Error(`controller ${opts.name}: maxConcurrentReconciles must be a positive integer, got ${this.maxConcurrentReconciles}`);
    }
    this.log = (opts.logger ?? silentLogger()).child({ controller: opts.name });
    this.metrics = opts.metrics ?? new Metrics({ defaultMetrics: false, prefix: 'runtime' });
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter();
    this.queue = this.newQueue();
  }

  private newQueue(): Queue {
    return new WorkQueue({ rateLimiter: this.rateLimiter, metrics: this.metrics.queueMetrics(this.name) });
  }

  /** Reconcile the objects of this informer themselves (controller-runtime's For). */
  watchFor<T extends KubernetesObject>(informer: Informer<T>, opts: { predicate?: Predicate<T> } = {}): this {
    return this.watches(informer, (o) => [{ namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' }], opts);
  }

  /**
   * Reconcile the controlling owner of this informer's objects (controller-runtime's
   * Owns): a child whose controller ownerReference is of `owner`'s group/kind
   * enqueues that owner. `map` adds requests for children that carry no owner
   * reference, e.g. PVCs from a StatefulSet's volumeClaimTemplates, found by label.
   */
  owns<T extends KubernetesObject>(
    informer: Informer<T>,
    owner: GroupKind,
    opts: { map?: (obj: T) => Request[]; predicate?: Predicate<T>; priority?: number } = {},
  ): this {
    const map = opts.map;
    return this.watches(
      informer,
      (o) => {
        const reqs: Request[] = [];
        const r = controllerOwnerRequest(o, owner);
        if (r) reqs.push(r);
        if (map) reqs.push(...map(o));
        return reqs;
      },
      opts,
    );
  }

  /**
   * Enqueue whatever `map` returns for each event (controller-runtime's
   * Watches + EnqueueRequestsFromMapFunc). Updates map both the old and the new
   * object, so moving a child from one owner to another notifies both.
   * `priority` orders the requests in the queue (LOW_PRIORITY: behind the rest).
   */
  watches<T extends KubernetesObject>(informer: Informer<T>, map: (obj: T) => Request[], opts: { predicate?: Predicate<T>; priority?: number } = {}): this {
    if (this.started) throw new Error(`controller ${this.name}: add watches before start()`);
    const p = opts.predicate ?? {};
    const enqueue = (objs: T[]) => {
      const keys = new Set<string>();
      for (const o of objs) for (const r of map(o)) if (r.name) keys.add(requestKey(r));
      for (const k of keys) this.queue.add(k, opts.priority);
    };
    this.sources.push({
      informer,
      register: () =>
        informer.addEventHandler({
          onAdd: (o) => {
            if (p.create?.(o) ?? true) enqueue([o]);
          },
          onUpdate: (old, o) => {
            if (p.update?.(old, o) ?? true) enqueue([old, o]);
          },
          onDelete: (o) => {
            if (p.delete?.(o) ?? true) enqueue([o]);
          },
        }),
    });
    return this;
  }

  /** The informers this controller reads events from; the manager starts and syncs them. */
  informers(): CacheSource[] {
    return [...new Set(this.sources.map((s) => s.informer))];
  }

  enqueue(req: Request): void {
    this.queue.add(requestKey(req));
  }

  enqueueAfter(req: Request, ms: number): void {
    this.queue.addAfter(requestKey(req), ms);
  }

  /**
   * Registers the event handlers (which replay every cached object) and
   * starts the workers. Call once the informers have synced, as the manager does.
   * A stopped controller may be started again (a replica that lost leadership and
   * won it back) once its previous workers have finished (see stopped()): it
   * starts with a fresh queue and reconciles every cached object again.
   */
  start(): void {
    if (this.started && !this.stopping) throw new Error(`controller ${this.name}: already started`);
    if (this.stopping) {
      if (this.running > 0) throw new Error(`controller ${this.name}: the workers of the previous run have not finished`);
      this.queue = this.newQueue();
      this.abort = new AbortController();
      this.workers = [];
      this.stopping = false;
    }
    this.started = true;
    this.metrics.initController(this.name, this.maxConcurrentReconciles);
    this.metrics.trackQueue(this.name, this.queue);
    this.unregister = this.sources.map((s) => s.register());
    for (let i = 0; i < this.maxConcurrentReconciles; i++) this.workers.push(this.worker());
    this.log.info({ workers: this.maxConcurrentReconciles }, 'starting workers');
  }

  /**
   * Stops taking work and waits up to `timeoutMs` for the reconciles in
   * flight; past that it aborts their signal and returns without waiting
   * further. Resolves true when everything finished in time.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    if (this.stopping) return true;
    this.stopping = true;
    for (const off of this.unregister) off();
    this.unregister = [];
    const drained = this.queue.shutDownWithDrain().then(() => Promise.all(this.workers));
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      drained.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
      }),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      this.log.warn({ inFlight: this.queue.processingCount(), timeoutMs }, 'reconciles still running at shutdown; aborting them');
      this.abort.abort(new Error('controller shutting down'));
    }
    this.metrics.untrackQueue(this.name);
    this.log.info({ drained: inTime }, 'stopped workers');
    return inTime;
  }

  /** Resolves once every worker has returned, including reconciles that stop() aborted. */
  async stopped(): Promise<void> {
    await Promise.all(this.workers);
  }

  private async worker(): Promise<void> {
    const queue = this.queue;
    const signal = this.abort.signal;
    this.running++;
    try {
      for (;;) {
        const next = await queue.get();
        if (next.shutdown) return;
        const gauge = this.metrics.activeWorkers.labels({ controller: this.name });
        gauge.inc();
        try {
          await this.reconcileHandler(queue, next.item, signal);
        } finally {
          gauge.dec();
          queue.done(next.item);
        }
      }
    } finally {
      this.running--;
    }
  }

  private async reconcileHandler(queue: Queue, key: string, signal: AbortSignal): Promise<void> {
    const req = parseRequestKey(key);
    const reconcileID = randomUUID();
    const log = this.log.child({ namespace: req.namespace, name: req.name, reconcileID });
    const started = performance.now();
    let result: ReconcileResultLabel;
    try {
      // Every API request of the reconcile is aborted with it (leadership lost, shutdown past its grace).
      const res = (await withRequestSignal(signal, () => this.reconciler.reconcile(req, { log, signal, reconcileID }))) ?? {};
      if (res.requeueAfter !== undefined && res.requeueAfter > 0) {
        // An explicit delay replaces the error backoff (controller-runtime does the same).
        queue.forget(key);
        queue.addAfter(key, res.requeueAfter);
        result = 'requeue_after';
      } else if (res.requeue) {
        queue.addRateLimited(key);
        result = 'requeue';
      } else {
        queue.forget(key);
        result = 'success';
      }
      log.debug({ result, durationMs: Math.round(performance.now() - started) }, 'reconciled');
    } catch (err) {
      result = 'error';
      this.metrics.reconcileErrors.inc({ controller: this.name });
      if (err instanceof TerminalError) {
        this.metrics.terminalReconcileErrors.inc({ controller: this.name });
        queue.forget(key);
        log.error({ err: errorMessage(err), terminal: true }, 'Reconciler error');
      } else {
        queue.addRateLimited(key);
        log.error({ err: errorMessage(err), retries: queue.numRequeues(key) }, 'Reconciler error');
      }
    } finally {
      this.metrics.reconcileTime.observe({ controller: this.name }, (performance.now() - started) / 1000);
    }
    this.metrics.reconcileTotal.inc({ controller: this.name, result });
  }
}
