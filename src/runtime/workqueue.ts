// A work queue with client-go's semantics (k8s.io/client-go/util/workqueue),
// which controller-runtime builds on:
//
// - dirty/processing sets: an item is never handed to two workers at once; an
//   add while it is being processed is parked and re-queued by done();
// - repeated adds of a waiting item collapse into one;
// - addAfter() for RequeueAfter, keeping the earliest of several deadlines;
// - addRateLimited() with a per-item exponential backoff, reset by forget();
// - priorities, as controller-runtime's priority queue: get() hands out the
//   highest priority first (FIFO within one), and adding a waiting item with a
//   higher priority moves it up. An item keeps the highest priority it was
//   added with until it is handed out.
//
// Keys are strings ("namespace/name"): JS Sets compare objects by identity,
// and a string key is what controller-runtime's reconcile.Request boils down to.

/** Hooks for the workqueue_* metrics; metrics.ts provides the prom-client ones. */
export interface QueueMetrics {
  depth: { inc(): void; dec(): void };
  adds: { inc(): void };
  /** workqueue_queue_duration_seconds: time from add to get. */
  queueDuration: { observe(seconds: number): void };
  /** workqueue_work_duration_seconds: time from get to done. */
  workDuration: { observe(seconds: number): void };
  retries: { inc(): void };
}

/** Decides how long an item waits before its next retry (client-go's TypedRateLimiter). */
export interface RateLimiter {
  when(item: string): number;
  forget(item: string): void;
  numRequeues(item: string): number;
}

/**
 * client-go's ItemExponentialFailureRateLimiter: base * 2^failures, capped.
 * The defaults (5 ms, 1000 s) are client-go's and controller-runtime's.
 */
export class ItemExponentialFailureRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly baseDelayMs = 5,
    private readonly maxDelayMs = 1_000_000,
  ) {}

  when(item: string): number {
    const exp = this.failures.get(item) ?? 0;
    this.failures.set(item, exp + 1);
    // 2^exp overflows to Infinity long before it matters; min() handles that.
    return Math.min(this.baseDelayMs * 2 ** exp, this.maxDelayMs);
  }

  forget(item: string): void {
    this.failures.delete(item);
  }

  numRequeues(item: string): number {
    return this.failures.get(item) ?? 0;
  }
}

/**
 * client-go's BucketRateLimiter: an overall token bucket (golang.org/x/time/rate
 * Reserve semantics), so a burst of failing items cannot hammer the API server.
 */
export class BucketRateLimiter implements RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly qps = 10,
    private readonly burst = 100,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  when(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  forget(): void {}

  numRequeues(): number {
    return 0;
  }
}

/** The longest delay of several limiters (client-go's MaxOfRateLimiter). */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(item: string): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.when(item));
    return max;
  }

  forget(item: string): void {
    for (const l of this.limiters) l.forget(item);
  }

  numRequeues(item: string): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.numRequeues(item));
    return max;
  }
}

/** controller-runtime's DefaultTypedControllerRateLimiter: per-item 5ms..1000s, overall 10 qps / 100 burst. */
export function defaultControllerRateLimiter(): RateLimiter {
  return new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(5, 1_000_000), new BucketRateLimiter(10, 100));
}

/** controller-runtime's handler.LowPriority: for work that may wait behind everything else. */
export const LOW_PRIORITY = -100;

export type GetResult = { shutdown: false; item: string } | { shutdown: true };

/**
 * What a controller needs of its queue (client-go's TypedRateLimitingInterface with
 * controller-runtime's priorities): an item is handed to one worker at a time, adds
 * while it is out are collapsed and handed out again after done().
 */
export interface Queue {
  /** Adds the item (higher priority first, FIFO within one); a waiting item moves up to a higher priority. */
  add(item: string, priority?: number): void;
  addAfter(item: string, delayMs: number): void;
  /** Adds the item after its rate limiter's delay (per-item exponential backoff). */
  addRateLimited(item: string): void;
  /** Resets the item's backoff. */
  forget(item: string): void;
  numRequeues(item: string): number;
  /** The next item, when there is one; shutdown once the queue is shut down. */
  get(): Promise<GetResult>;
  /** The worker finished the item; if it was added meanwhile, it is queued again. */
  done(item: string): void;
  len(): number;
  shuttingDown(): boolean;
  shutDown(): void;
  /** Shuts down once every item handed out is done. */
  shutDownWithDrain(): Promise<void>;
  /** Items handed out and not done yet. */
  processingCount(): number;
  /** Seconds of work in progress, summed, and of the longest (the workqueue_* gauges). */
  unfinishedWorkSeconds(): number;
  longestRunningProcessorSeconds(): number;
}

export interface WorkQueueOptions {
  rateLimiter?: RateLimiter;
  metrics?: QueueMetrics;
  /** Monotonic clock in ms, for the duration metrics. */
  clock?: () => number;
}

export class WorkQueue implements Queue {
  /** Items ready to be handed out, by priority; a Set keeps insertion order and deletes in O(1). */
  private readonly queues = new Map<number, Set<string>>();
  /** The priority of each dirty item: where it waits, or where done() puts it back. */
  private readonly dirty = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { readyAt: number; timer: NodeJS.Timeout }>();
  private readonly getters: Array<() => void> = [];
  private readonly addTimes = new Map<string, number>();
  private readonly processingStart = new Map<string, number>();
  private readonly rateLimiter: RateLimiter;
  private readonly metrics: QueueMetrics | undefined;
  private readonly clock: () => number;
  private shuttingDownFlag = false;
  private drainWaiters: Array<() => void> = [];

  constructor(opts: WorkQueueOptions = {}) {
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter();
    this.metrics = opts.metrics;
    this.clock = opts.clock ?? (() => performance.now());
  }

  add(item: string, priority = 0): void {
    if (this.shuttingDownFlag) return;
    const current = this.dirty.get(item);
    if (current !== undefined) {
      if (priority <= current) return;
      // Waiting already: move it up.
      this.dirty.set(item, priority);
      if (!this.processing.has(item)) {
        this.queues.get(current)?.delete(item);
        this.enqueue(item, priority);
      }
      return;
    }
    this.metrics?.adds.inc();
    this.metrics?.depth.inc();
    if (!this.addTimes.has(item)) this.addTimes.set(item, this.clock());
    this.dirty.set(item, priority);
    // A worker holds it: done() will put it back, so one worker at a time sees it.
    if (this.processing.has(item)) return;
    this.enqueue(item, priority);
    this.getters.shift()?.();
  }

  private enqueue(item: string, priority: number): void {
    let q = this.queues.get(priority);
    if (!q) {
      q = new Set();
      this.queues.set(priority, q);
    }
    q.add(item);
  }

  /** Takes the first item of the highest priority that has one. */
  private dequeue(): string | undefined {
    let best: Set<string> | undefined;
    let bestPriority = -Infinity;
    for (const [priority, q] of this.queues) {
      if (q.size > 0 && priority > bestPriority) {
        best = q;
        bestPriority = priority;
      }
    }
    const item = best?.values().next().value;
    if (item !== undefined) best?.delete(item);
    return item;
  }

  /** Adds the item once `delayMs` has passed; of several pending deadlines the earliest wins. */
  addAfter(item: string, delayMs: number): void {
    if (this.shuttingDownFlag) return;
    if (delayMs <= 0) {
      this.add(item);
      return;
    }
    const readyAt = this.clock() + delayMs;
    const existing = this.waiting.get(item);
    if (existing && existing.readyAt <= readyAt) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.waiting.delete(item);
      this.add(item);
    }, delayMs);
    this.waiting.set(item, { readyAt, timer });
  }

  addRateLimited(item: string): void {
    if (this.shuttingDownFlag) return;
    this.metrics?.retries.inc();
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Resets the item's backoff; call it when the item was processed successfully. */
  forget(item: string): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: string): number {
    return this.rateLimiter.numRequeues(item);
  }

  /**
   * Resolves with the next item, waiting if none is ready. Unlike client-go it
   * returns `shutdown` as soon as shutdown starts, without handing out the
   * backlog: the reconcilers are level-based, so whichever process leads next
   * lists everything and reconciles it anyway.
   */
  async get(): Promise<GetResult> {
    while (this.len() === 0 && !this.shuttingDownFlag) {
      await new Promise<void>((resolve) => this.getters.push(resolve));
    }
    if (this.shuttingDownFlag) return { shutdown: true };
    const item = this.dequeue();
    if (item === undefined) return { shutdown: true };
    const now = this.clock();
    this.metrics?.depth.dec();
    this.processingStart.set(item, now);
    const addedAt = this.addTimes.get(item);
    if (addedAt !== undefined) {
      this.metrics?.queueDuration.observe((now - addedAt) / 1000);
      this.addTimes.delete(item);
    }
    this.processing.add(item);
    this.dirty.delete(item);
    return { shutdown: false, item };
  }

  /** Marks the item as finished; if it was added meanwhile it goes back on the queue. */
  done(item: string): void {
    const started = this.processingStart.get(item);
    if (started !== undefined) {
      this.metrics?.workDuration.observe((this.clock() - started) / 1000);
      this.processingStart.delete(item);
    }
    this.processing.delete(item);
    const priority = this.dirty.get(item);
    if (priority !== undefined && !this.shuttingDownFlag) {
      this.enqueue(item, priority);
      this.getters.shift()?.();
    }
    if (this.processing.size === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Items ready to be handed out (not counting those being processed or waiting for a delay). */
  len(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.size;
    return n;
  }

  /** Items a worker holds right now. */
  processingCount(): number {
    return this.processing.size;
  }

  shuttingDown(): boolean {
    return this.shuttingDownFlag;
  }

  /** Stops handing out and accepting work; delayed adds are dropped. */
  shutDown(): void {
    if (this.shuttingDownFlag) return;
    this.shuttingDownFlag = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    const getters = this.getters.splice(0);
    for (const g of getters) g();
  }

  /** shutDown(), then resolves once every item handed out has been marked done(). */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Sum of seconds the in-flight items have been processed (workqueue_unfinished_work_seconds). */
  unfinishedWorkSeconds(): number {
    const now = this.clock();
    let total = 0;
    for (const start of this.processingStart.values()) total += now - start;
    return total / 1000;
  }

  /** Seconds the longest-running in-flight item has been processed (workqueue_longest_running_processor_seconds). */
  longestRunningProcessorSeconds(): number {
    const now = this.clock();
    let oldest = now;
    for (const start of this.processingStart.values()) oldest = Math.min(oldest, start);
    return (now - oldest) / 1000;
  }
}
