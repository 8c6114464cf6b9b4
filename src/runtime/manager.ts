// controller-runtime's Manager: owns the caches, the controllers, leader
// election and the probe/metrics servers, and runs them in order:
//
//   servers → informers → caches synced → (leader election) → controllers
//
// Standby replicas keep warm caches and answer /readyz, but reconcile nothing
// until they lead. Shutdown runs the other way: stop taking work, let the
// reconciles in flight finish (up to a grace period), stop the watches,
// release the lease, close the servers. If leadership is lost, the manager
// skips the grace period (another process may already be writing) and
// start() rejects with LeaderElectionLostError; the caller should exit
// non-zero, as a Go operator would. The library never calls process.exit.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { CacheSource, Controller } from './controller.js';
import { HealthServer } from './health-server.js';
import type { Informer } from './informer.js';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';
import { errorMessage, silentLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';

export class LeaderElectionLostError extends Error {
  constructor() {
    super('leader election lost');
    this.name = 'LeaderElectionLostError';
  }
}

export class CacheSyncTimeoutError extends Error {
  constructor(
    readonly pending: string[],
    timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for caches to sync: ${pending.join('; ')}`);
    this.name = 'CacheSyncTimeoutError';
  }
}

export type ManagerLeaderElection = Omit<LeaderElectionOptions, 'logger' | 'metrics' | 'onStartedLeading' | 'onStoppedLeading' | 'onNewLeader'>;

export interface ManagerOptions {
  logger?: Logger;
  /** Shared by every component; created with process metrics when absent. */
  metrics?: Metrics;
  /** Default ":8080"; "0" disables. */
  metricsBindAddress?: string;
  /** Default ":8081"; "0" disables. */
  healthProbeBindAddress?: string;
  /** Absent: no leader election (a single replica, or tests). */
  leaderElection?: ManagerLeaderElection;
  /** How long shutdown waits for reconciles in flight (default 30 s, as controller-runtime). */
  gracefulShutdownTimeoutMs?: number;
  /** How long to wait for the first list of every informer (default 2 min, as controller-runtime's CacheSyncTimeout). */
  cacheSyncTimeoutMs?: number;
  /** /readyz tolerates a watch being down this long, so routine re-watches do not flap readiness (default 5 s). */
  readinessWatchGraceMs?: number;
  /**
   * What losing leadership does. 'exit' (default, as controller-runtime): start()
   * rejects with LeaderElectionLostError and the process should exit. 'standby':
   * the controllers stop at once (the API requests of reconciles in flight are
   * aborted), the caches stay warm, and the process campaigns again; when it
   * leads again, the controllers start over and reconcile everything. An API
   * server or etcd outage longer than the renew deadline then costs no restart
   * (nor, in a pod, a CrashLoopBackOff that outlasts the outage).
   */
  onLeadershipLost?: 'exit' | 'standby';
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

type State = 'new' | 'running' | 'stopping' | 'stopped';

export class Manager {
  readonly metrics: Metrics;
  readonly logger: Logger;
  private readonly health: HealthServer;
  private readonly informers = new Set<CacheSource>();
  private readonly controllers: Controller[] = [];
  private readonly elector: LeaderElector | undefined;
  private readonly gracefulShutdownTimeoutMs: number;
  private readonly cacheSyncTimeoutMs: number;
  private readonly readinessWatchGraceMs: number;
  private readonly stopRequested = deferred<void>();
  private readonly electedD = deferred<void>();
  private leading = deferred<void>();
  private readonly onLeadershipLost: 'exit' | 'standby';
  private readonly stoppedD = deferred<void>();
  private readonly leAbort = new AbortController();
  private state: State = 'new';

  constructor(opts: ManagerOptions = {}) {
    this.logger = opts.logger ?? silentLogger();
    this.metrics = opts.metrics ?? new Metrics({ prefix: 'runtime' });
    this.gracefulShutdownTimeoutMs = opts.gracefulShutdownTimeoutMs ?? 30_000;
    this.cacheSyncTimeoutMs = opts.cacheSyncTimeoutMs ?? 120_000;
    this.readinessWatchGraceMs = opts.readinessWatchGraceMs ?? 5_000;
    this.onLeadershipLost = opts.onLeadershipLost ?? 'exit';
    const healthOpts: ConstructorParameters<typeof HealthServer>[0] = { registry: this.metrics.registry, logger: this.logger };
    if (opts.metricsBindAddress !== undefined) healthOpts.metricsBindAddress = opts.metricsBindAddress;
    if (opts.healthProbeBindAddress !== undefined) healthOpts.healthProbeBindAddress = opts.healthProbeBindAddress;
    this.health = new HealthServer(healthOpts);
    this.health.addReadyCheck('manager', () => (this.state === 'running' ? undefined : `manager is ${this.state}`));
    if (opts.leaderElection) {
      this.elector = new LeaderElector({
        ...opts.leaderElection,
        logger: this.logger,
        metrics: this.metrics,
        onStartedLeading: () => this.leading.resolve(),
      });
    }
  }

  /** Registers an informer to start, sync, and report on /readyz. Controllers' informers are added for you. */
  addInformer<T extends KubernetesObject>(informer: Informer<T>): Informer<T> {
    this.addSource(informer);
    return informer;
  }

  addController(controller: Controller): Controller {
    if (this.state !== 'new') throw new Error('manager: add controllers before start()');
    this.controllers.push(controller);
    for (const inf of controller.informers()) this.addSource(inf);
    return controller;
  }

  /** Adds a /readyz check, e.g. for a dependency of the reconciler. */
  addReadyCheck(name: string, check: () => string | undefined | Promise<string | undefined>): void {
    this.health.addReadyCheck(name, check);
  }

  /** Resolves once this process leads (at once without leader election) and the controllers have started. */
  elected(): Promise<void> {
    return this.electedD.promise;
  }

  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : this.state === 'running';
  }

  /** The identity written into the Lease, if leader election is on. */
  identity(): string | undefined {
    return this.elector?.identity;
  }

  /** Base URLs of the metrics and probe listeners once started (handy with port 0). */
  urls(): { metrics?: string; health?: string } {
    return this.health.urls();
  }

  /**
   * Runs until stop() or `signal` (e.g. from setupSignalHandler), then shuts
   * down gracefully and resolves. Rejects with LeaderElectionLostError if
   * leadership was lost, CacheSyncTimeoutError if the caches never synced, or
   * the error of a server that could not listen.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.state !== 'new') throw new Error('manager: start() may be called once');
    this.state = 'running';
    if (signal) {
      if (signal.aborted) this.stopRequested.resolve();
      else signal.addEventListener('abort', () => this.stopRequested.resolve(), { once: true });
    }
    const stop = this.stopRequested.promise.then(() => 'stop' as const);
    let lost = false;
    let failure: unknown;
    try {
      await this.health.start();
      const { metrics, health } = this.health.urls();
      this.logger.info({ metricsAddress: metrics?.replace('http://', ''), healthAddress: health?.replace('http://', '') }, 'serving metrics and probes');
      for (const inf of this.informers) inf.start();
      this.logger.info({ informers: [...this.informers].map((i) => i.name) }, 'waiting for caches to sync');
      if ((await this.waitForCaches(stop)) === 'synced') {
        this.logger.info('caches synced');
        if (!this.elector) {
          for (const c of this.controllers) c.start();
          this.electedD.resolve();
          await stop;
        } else {
          for (;;) {
            const leRun = this.elector.run(this.leAbort.signal);
            const next = await Promise.race([
              this.leading.promise.then(() => 'leading' as const),
              stop,
              leRun.then((o) => (o === 'lost' ? ('lost' as const) : ('stop' as const))),
            ]);
            if (next === 'lost') lost = true;
            if (next !== 'leading') break;
            for (const c of this.controllers) c.start();
            this.electedD.resolve();
            const end = await Promise.race([stop, leRun]);
            if (end !== 'lost') break;
            if (this.onLeadershipLost === 'exit') {
              lost = true;
              break;
            }
            // Standby: stop writing now, before another replica can take the lease
            // (renew deadline < lease duration), and campaign again.
            this.logger.warn('leadership lost; reconciling stops until this replica leads again');
            await Promise.all(this.controllers.map((c) => c.stop(0)));
            // Their API requests are aborted; a reconcile that still does not end
            // (it waits on something else) must not run beside the next leader's:
            // then exit after all, as in 'exit' mode.
            let timer: NodeJS.Timeout | undefined;
            const drained = await Promise.race([
              Promise.all(this.controllers.map((c) => c.stopped())).then(() => true),
              new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.gracefulShutdownTimeoutMs))),
            ]);
            clearTimeout(timer);
            if (!drained) {
              this.logger.error({ timeoutMs: this.gracefulShutdownTimeoutMs }, 'reconciles did not stop after leadership was lost');
              lost = true;
              break;
            }
            this.leading = deferred<void>();
          }
        }
      }
    } catch (err) {
      failure = err;
    }
    await this.shutdown(lost || failure !== undefined);
    if (lost) throw new LeaderElectionLostError();
    if (failure !== undefined) throw failure;
  }

  /** Starts a graceful shutdown and resolves when it has finished (also when start() rejected). */
  async stop(): Promise<void> {
    this.stopRequested.resolve();
    if (this.state === 'new') {
      this.state = 'stopped';
      this.stoppedD.resolve();
    }
    await this.stoppedD.promise;
  }

  private addSource(source: CacheSource): void {
    if (this.informers.has(source)) return;
    this.informers.add(source);
    this.health.addReadyCheck(`informer:${source.name}`, () => {
      const h = source.health();
      const why = h.lastError ? `: ${h.lastError}` : '';
      if (!h.synced) return `not synced${why}`;
      if (h.disconnectedMs > this.readinessWatchGraceMs) {
        return `watch disconnected for ${Math.round(h.disconnectedMs / 1000)}s${why}`;
      }
      return undefined;
    });
  }

  private async waitForCaches(stop: Promise<'stop'>): Promise<'synced' | 'stop'> {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.cacheSyncTimeoutMs);
    });
    try {
      const all = Promise.all([...this.informers].map((i) => i.waitForSync(ac.signal))).then(() => 'synced' as const);
      const r = await Promise.race([all, stop, timeout]);
      if (r === 'timeout') {
        const pending = [...this.informers]
          .filter((i) => !i.hasSynced())
          .map((i) => {
            const err = i.health().lastError;
            return err ? `${i.name} (${err})` : i.name;
          });
        throw new CacheSyncTimeoutError(pending, this.cacheSyncTimeoutMs);
      }
      return r;
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  }

  private async shutdown(immediate: boolean): Promise<void> {
    this.state = 'stopping';
    const grace = immediate ? 0 : this.gracefulShutdownTimeoutMs;
    this.logger.info({ gracePeriodMs: grace }, 'shutting down');
    const safely = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, `shutdown: ${what} failed`);
      }
    };
    // 1. Stop taking work; let what is in flight finish while we still hold the lease.
    await safely('stopping controllers', () => Promise.all(this.controllers.map((c) => c.stop(grace))));
    // 2. Stop the watches.
    await safely('stopping informers', () => Promise.all([...this.informers].map((i) => i.stop())));
    // 3. Release the lease (the elector does it when its run is cancelled).
    this.leAbort.abort();
    // 4. Close the probe and metrics servers.
    await safely('closing servers', () => this.health.close());
    this.state = 'stopped';
    this.logger.info('stopped');
    this.stoppedD.resolve();
  }
}

export interface SignalHandler {
  /** Aborted on the first SIGTERM or SIGINT. */
  signal: AbortSignal;
  dispose(): void;
}

/**
 * controller-runtime's SetupSignalHandler: the first SIGTERM/SIGINT aborts
 * the returned signal (graceful shutdown); a second one calls `onSecondSignal`,
 * where a CLI would exit at once with code 1.
 */
export function setupSignalHandler(opts: { onSecondSignal?: (sig: NodeJS.Signals) => void } = {}): SignalHandler {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (!ac.signal.aborted) ac.abort(new Error(`received ${sig}`));
    else opts.onSecondSignal?.(sig);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    signal: ac.signal,
    dispose() {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}
