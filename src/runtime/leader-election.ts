// Leader election on a coordination.k8s.io/v1 Lease, following client-go's
// leaderelection package step by step, so two replicas behave the way
// operators expect from Go controllers:
//
// - a candidate takes the lease when it is free (no holder) or has expired;
//   expiry is judged by when *this process* last saw the record change, not
//   by the renewTime written in it, so clock skew between nodes is harmless;
// - the leader renews every retryPeriod; if it cannot renew within
//   renewDeadline it gives up leadership (the process must then stop writing:
//   the manager stops and exits non-zero, like controller-runtime);
// - every write carries the resourceVersion it read (409 Conflict loses);
// - on shutdown the leader releases the lease (empty holder, 1 s duration, as
//   ReleaseOnCancel does) so the next leader takes over at once.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { isNotFound, isRecord, requestJSON, type RequestOptions } from './client.js';
import { errorMessage, silentLogger, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** The fields of LeaseSpec that leader election uses (client-go's LeaderElectionRecord). */
export interface LeaseRecord {
  /** '' when nobody holds the lease. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** metav1.MicroTime strings, e.g. 2025-01-01T10:00:00.123000Z; '' when unset. */
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/**
 * Access to one Lease (client-go's resourcelock.Interface). The client
 * remembers the resourceVersion it last read or wrote and sends it with
 * update(), so a concurrent change makes update() fail with 409.
 */
export interface LeaseClient {
  /** Rejects with a 404 error (statusCode/code 404) when the Lease does not exist. */
  get(signal?: AbortSignal): Promise<LeaseRecord>;
  create(record: LeaseRecord, signal?: AbortSignal): Promise<void>;
  update(record: LeaseRecord, signal?: AbortSignal): Promise<void>;
}

export interface LeaderElectionCallbacks {
  onStartedLeading?(): void;
  /** Called once leadership ends, whether lost or released; not called if this process never led. */
  onStoppedLeading?(): void;
  /** The observed holder changed (including to this process). */
  onNewLeader?(identity: string): void;
}

export interface LeaderElectionOptions extends LeaderElectionCallbacks {
  client: LeaseClient;
  /** The Lease name; also the `name` label of leader_election_master_status. */
  name: string;
  /** Unique per process; default hostname + '_' + a random UUID, as controller-runtime does. */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Release the lease when run() is cancelled (default true). */
  releaseOnCancel?: boolean;
  logger?: Logger;
  metrics?: Metrics;
  now?: () => number;
  random?: () => number;
}

/** How run() ended: leadership was lost involuntarily, or the caller stopped it. */
export type LeaderElectionOutcome = 'lost' | 'stopped';

/** client-go's JitterFactor for the acquire loop. */
const JITTER_FACTOR = 1.2;

export function defaultIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

/** metav1.MicroTime's wire format: RFC 3339 with exactly six fractional digits. */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  readonly identity: string;
  private readonly client: LeaseClient;
  private readonly leaseName: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly releaseOnCancel: boolean;
  private readonly callbacks: LeaderElectionCallbacks;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly now: () => number;
  private readonly random: () => number;

  private observed: LeaseRecord | undefined;
  private observedTime = 0;
  private reportedLeader: string | undefined;
  private running = false;

  constructor(opts: LeaderElectionOptions) {
    this.client = opts.client;
    this.leaseName = opts.name;
    this.identity = opts.identity ?? defaultIdentity();
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.releaseOnCancel = opts.releaseOnCancel ?? true;
    this.callbacks = opts;
    this.log = (opts.logger ?? silentLogger()).child({ lease: opts.name, identity: this.identity });
    this.metrics = opts.metrics;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;

    // client-go's NewLeaderElector checks, with its messages.
    if (this.leaseDurationMs <= this.renewDeadlineMs) {
      throw new Error('leader election: leaseDuration must be greater than renewDeadline');
    }
    if (this.renewDeadlineMs <= JITTER_FACTOR * this.retryPeriodMs) {
      throw new Error(`leader election: renewDeadline must be greater than retryPeriod*${JITTER_FACTOR}`);
    }
    if (this.retryPeriodMs < 1) throw new Error('leader election: retryPeriod must be positive');
    if (!this.identity) throw new Error('leader election: identity must not be empty');
    this.metrics?.leaderElectionMasterStatus.set({ name: this.leaseName }, 0);
  }

  isLeader(): boolean {
    return this.observed?.holderIdentity === this.identity;
  }

  /** The holder this process last observed ('' if none). */
  getLeader(): string {
    return this.observed?.holderIdentity ?? '';
  }

  /**
   * Campaigns until leading, then renews until `signal` aborts (releasing the
   * lease) or renewal fails for renewDeadline ('lost').
   */
  async run(signal: AbortSignal): Promise<LeaderElectionOutcome> {
    if (this.running) throw new Error('leader election: run() is already running');
    this.running = true;
    try {
      if (!(await this.acquire(signal))) return 'stopped';
      this.metrics?.leaderElectionMasterStatus.set({ name: this.leaseName }, 1);
      this.log.info('became leader');
      this.callbacks.onStartedLeading?.();
      const lost = await this.renew(signal);
      this.metrics?.leaderElectionMasterStatus.set({ name: this.leaseName }, 0);
      if (lost) {
        this.log.error({ renewDeadlineMs: this.renewDeadlineMs }, 'leadership lost: could not renew the lease in time');
      } else if (this.releaseOnCancel) {
        await this.release();
      }
      this.callbacks.onStoppedLeading?.();
      return lost ? 'lost' : 'stopped';
    } finally {
      this.running = false;
    }
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    this.log.info('attempting to acquire the leader lease');
    while (!signal.aborted) {
      const ok = await this.tryAcquireOrRenew(signal, this.now() + this.renewDeadlineMs);
      this.maybeReportTransition();
      if (ok) return true;
      await sleep(this.retryPeriodMs * (1 + this.random() * JITTER_FACTOR), signal);
    }
    return false;
  }

  /** Resolves true when leadership was lost, false when `signal` aborted first. */
  private async renew(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      const deadline = this.now() + this.renewDeadlineMs;
      let renewed = false;
      // wait.PollImmediateUntil(retryPeriod, tryAcquireOrRenew, renewDeadline)
      for (;;) {
        if (deadline - this.now() <= 0) break;
        if (await this.tryAcquireOrRenew(signal, deadline)) {
          renewed = true;
          break;
        }
        if (signal.aborted) return false;
        const wait = Math.min(this.retryPeriodMs, deadline - this.now());
        if (wait <= 0) break;
        await sleep(wait, signal);
        if (signal.aborted) return false;
      }
      this.maybeReportTransition();
      if (signal.aborted) return false;
      if (!renewed) return true;
      await sleep(this.retryPeriodMs, signal);
    }
    return false;
  }

  /** One attempt; every request in it shares the `deadline` (epoch ms), as they share a context in client-go. */
  private async tryAcquireOrRenew(outer: AbortSignal, deadline: number): Promise<boolean> {
    const now = this.now();
    const left = () => Math.max(0, deadline - this.now());
    const desired: LeaseRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: formatMicroTime(now),
      renewTime: formatMicroTime(now),
      leaseTransitions: 0,
    };

    // Fast path (client-go ≥1.29): the leader updates from the record it wrote
    // last, saving a GET per renewal; a conflict falls through to the slow path.
    if (this.isLeader() && this.isLeaseValid(now) && this.observed) {
      desired.acquireTime = this.observed.acquireTime;
      desired.leaseTransitions = this.observed.leaseTransitions;
      try {
        await withTimeout((s) => this.client.update(desired, s), left(), outer);
        this.setObserved(desired);
        return true;
      } catch (err) {
        this.log.debug({ err: errorMessage(err) }, 'optimistic lease renewal failed; re-reading the lease');
      }
    }

    let old: LeaseRecord;
    try {
      old = await withTimeout((s) => this.client.get(s), left(), outer);
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.warn({ err: errorMessage(err) }, 'could not read the leader lease');
        return false;
      }
      try {
        await withTimeout((s) => this.client.create(desired, s), left(), outer);
        this.setObserved(desired);
        return true;
      } catch (createErr) {
        this.log.warn({ err: errorMessage(createErr) }, 'could not create the leader lease');
        return false;
      }
    }

    if (!this.observed || !sameRecord(old, this.observed)) this.setObserved(old);
    if (old.holderIdentity !== '' && this.isLeaseValid(this.now()) && !this.isLeader()) {
      this.log.debug({ holder: old.holderIdentity }, 'lease is held by another candidate and has not expired');
      return false;
    }
    if (this.isLeader()) {
      desired.acquireTime = old.acquireTime;
      desired.leaseTransitions = old.leaseTransitions;
    } else {
      desired.leaseTransitions = old.leaseTransitions + 1;
    }
    try {
      await withTimeout((s) => this.client.update(desired, s), left(), outer);
      this.setObserved(desired);
      return true;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not update the leader lease');
      return false;
    }
  }

  private async release(): Promise<void> {
    if (!this.isLeader() || !this.observed) return;
    const now = formatMicroTime(this.now());
    const record: LeaseRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: this.observed.leaseTransitions,
    };
    try {
      // A fresh signal: the caller's is already aborted, which is why we release.
      await withTimeout((s) => this.client.update(record, s), this.renewDeadlineMs, new AbortController().signal);
      this.setObserved(record);
      this.log.info('released the leader lease');
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not release the leader lease; it will expire');
    }
  }

  private isLeaseValid(now: number): boolean {
    if (!this.observed) return false;
    return this.observedTime + this.observed.leaseDurationSeconds * 1000 > now;
  }

  private setObserved(record: LeaseRecord): void {
    this.observed = { ...record };
    this.observedTime = this.now();
  }

  private maybeReportTransition(): void {
    const holder = this.observed?.holderIdentity;
    if (holder === undefined || holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (holder) {
      this.log.info({ leader: holder }, 'new leader observed');
      this.callbacks.onNewLeader?.(holder);
    }
  }
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `fn` with a signal that aborts after `ms` or when `outer` aborts, and
 * rejects at that moment even if `fn` ignores the signal: a hung request must
 * not hold up the renew deadline.
 */
function withTimeout<T>(fn: (signal: AbortSignal) => Promise<T>, ms: number, outer: AbortSignal): Promise<T> {
  const ctrl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      ctrl.abort();
      reject(new Error('lease request cancelled'));
    };
    timer = setTimeout(() => {
      ctrl.abort();
      reject(new Error(`lease request timed out after ${Math.round(ms)} ms`));
    }, ms);
    outer.addEventListener('abort', onAbort, { once: true });
    if (outer.aborted) onAbort();
  });
  // The losing promise of the race must not surface as an unhandled rejection.
  aborted.catch(() => {});
  return Promise.race([fn(ctrl.signal), aborted]).finally(() => {
    clearTimeout(timer);
    if (onAbort) outer.removeEventListener('abort', onAbort);
  });
}

// ---------------------------------------------------------------------------
// The real Lease client, over the API server.

const LEASES = '/apis/coordination.k8s.io/v1';

interface LeaseObject {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown>;
  spec: Record<string, unknown>;
}

function toLeaseObject(v: unknown): LeaseObject {
  if (!isRecord(v) || !isRecord(v.metadata)) throw new Error('unexpected Lease response: no metadata');
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: v.metadata,
    spec: isRecord(v.spec) ? v.spec : {},
  };
}

function recordOf(lease: LeaseObject): LeaseRecord {
  const s = lease.spec;
  const str = (k: string) => (typeof s[k] === 'string' ? s[k] : '');
  const num = (k: string) => (typeof s[k] === 'number' ? s[k] : 0);
  return {
    holderIdentity: str('holderIdentity'),
    leaseDurationSeconds: num('leaseDurationSeconds'),
    acquireTime: str('acquireTime'),
    renewTime: str('renewTime'),
    leaseTransitions: num('leaseTransitions'),
  };
}

function specOf(r: LeaseRecord): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    leaseTransitions: r.leaseTransitions,
  };
  if (r.acquireTime) spec.acquireTime = r.acquireTime;
  if (r.renewTime) spec.renewTime = r.renewTime;
  return spec;
}

/**
 * A LeaseClient for namespace/name. Like client-go's LeaseLock it keeps the
 * Lease it last read or wrote, and replaces only its spec, so labels and
 * annotations set by others survive and the resourceVersion guards the write.
 */
export function kubeLeaseClient(kc: KubeConfig, namespace: string, name: string): LeaseClient {
  const collection = `${LEASES}/namespaces/${encodeURIComponent(namespace)}/leases`;
  const path = `${collection}/${encodeURIComponent(name)}`;
  let last: LeaseObject | undefined;
  return {
    async get(signal) {
      const opts: RequestOptions = { method: 'GET', path };
      if (signal) opts.signal = signal;
      last = toLeaseObject(await requestJSON(kc, opts));
      return recordOf(last);
    },
    async create(record, signal) {
      const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: specOf(record) };
      const opts: RequestOptions = { method: 'POST', path: collection, body };
      if (signal) opts.signal = signal;
      last = toLeaseObject(await requestJSON(kc, opts));
    },
    async update(record, signal) {
      if (!last) throw new Error('lease update before get or create: the resourceVersion is unknown');
      const body = { ...last, spec: specOf(record) };
      const opts: RequestOptions = { method: 'PUT', path, body };
      if (signal) opts.signal = signal;
      last = toLeaseObject(await requestJSON(kc, opts));
    },
  };
}
