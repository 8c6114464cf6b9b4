// Prometheus metrics under controller-runtime's and client-go's names, so
// dashboards and alerts written for Go operators work on this one unchanged.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueMetrics } from './workqueue.js';

/** controller-runtime's buckets for controller_runtime_reconcile_time_seconds. */
const RECONCILE_TIME_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8,
  9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** client-go/controller-runtime's workqueue buckets: prometheus.ExponentialBuckets(10e-9, 10, 12). */
const WORKQUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

export type ReconcileResultLabel = 'success' | 'error' | 'requeue' | 'requeue_after';

/** Hooks an informer reports through; see informer.ts. */
export interface InformerMetrics {
  restart(reason: string): void;
  cacheSize(objects: number): void;
  watchConnected(connected: boolean): void;
}

interface QueueSource {
  unfinishedWorkSeconds(): number;
  longestRunningProcessorSeconds(): number;
}

export interface MetricsOptions {
  /** Register Node's process_* and nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
  /** Prefix of the metrics that are not controller-runtime's (the informers'), e.g. the product's name. */
  prefix: string;
}

export class Metrics {
  readonly registry = new Registry();

  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalReconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly maxConcurrentReconciles: Gauge<'controller'>;

  readonly workqueueDepth: Gauge<'name' | 'controller'>;
  readonly workqueueAdds: Counter<'name' | 'controller'>;
  readonly workqueueQueueDuration: Histogram<'name' | 'controller'>;
  readonly workqueueWorkDuration: Histogram<'name' | 'controller'>;
  readonly workqueueRetries: Counter<'name' | 'controller'>;
  readonly workqueueUnfinishedWork: Gauge<'name' | 'controller'>;
  readonly workqueueLongestRunning: Gauge<'name' | 'controller'>;

  readonly leaderElectionMasterStatus: Gauge<'name'>;

  readonly informerRestarts: Counter<'resource' | 'reason'>;
  readonly informerCacheObjects: Gauge<'resource'>;
  readonly informerWatchConnected: Gauge<'resource'>;

  private readonly queues = new Map<string, QueueSource>();

  constructor(opts: MetricsOptions) {
    const registers = [this.registry];
    const prefix = opts.prefix;
    const queues = this.queues;

    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.terminalReconcileErrors = new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: RECONCILE_TIME_BUCKETS,
      registers,
    });
    this.activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    });
    this.maxConcurrentReconciles = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    });

    this.workqueueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue',
      labelNames: ['name', 'controller'],
      registers,
    });
    this.workqueueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: ['name', 'controller'],
      registers,
    });
    this.workqueueQueueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name', 'controller'],
      buckets: WORKQUEUE_BUCKETS,
      registers,
    });
    this.workqueueWorkDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes.',
      labelNames: ['name', 'controller'],
      buckets: WORKQUEUE_BUCKETS,
      registers,
    });
    this.workqueueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: ['name', 'controller'],
      registers,
    });
    // These two are computed at scrape time instead of by a ticker, so an idle
    // process runs no timers for them.
    this.workqueueUnfinishedWork = new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " + 'Large values indicate stuck threads.',
      labelNames: ['name', 'controller'],
      registers,
      collect() {
        for (const [name, q] of queues) this.set({ name, controller: name }, q.unfinishedWorkSeconds());
      },
    });
    this.workqueueLongestRunning = new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running.',
      labelNames: ['name', 'controller'],
      registers,
      collect() {
        for (const [name, q] of queues) this.set({ name, controller: name }, q.longestRunningProcessorSeconds());
      },
    });

    this.leaderElectionMasterStatus = new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.',
      labelNames: ['name'],
      registers,
    });

    this.informerRestarts = new Counter({
      name: `${prefix}_informer_restarts_total`,
      help:
        'Times an informer re-established its watch, by reason: closed (the server ended it, routine), ' +
        'error, gone (410, relisted), watchdog (silent too long), list_error.',
      labelNames: ['resource', 'reason'],
      registers,
    });
    this.informerCacheObjects = new Gauge({
      name: `${prefix}_informer_cache_objects`,
      help: 'Objects held in the informer cache.',
      labelNames: ['resource'],
      registers,
    });
    this.informerWatchConnected = new Gauge({
      name: `${prefix}_informer_watch_connected`,
      help: '1 while every watch of the informer is connected, 0 otherwise.',
      labelNames: ['resource'],
      registers,
    });

    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Workqueue hooks labelled like controller-runtime's (name and controller both the controller name). */
  queueMetrics(name: string): QueueMetrics {
    const labels = { name, controller: name };
    const depth = this.workqueueDepth.labels(labels);
    const adds = this.workqueueAdds.labels(labels);
    const queueDuration = this.workqueueQueueDuration.labels(labels);
    const workDuration = this.workqueueWorkDuration.labels(labels);
    const retries = this.workqueueRetries.labels(labels);
    // Start at zero so the series exist before the first add.
    depth.set(0);
    adds.inc(0);
    retries.inc(0);
    return {
      depth: { inc: () => depth.inc(), dec: () => depth.dec() },
      adds: { inc: () => adds.inc() },
      queueDuration: { observe: (s) => queueDuration.observe(s) },
      workDuration: { observe: (s) => workDuration.observe(s) },
      retries: { inc: () => retries.inc() },
    };
  }

  /** Lets the unfinished-work gauges read the queue at scrape time. */
  trackQueue(name: string, queue: QueueSource): void {
    this.queues.set(name, queue);
  }

  untrackQueue(name: string): void {
    this.queues.delete(name);
  }

  informerMetrics(resource: string): InformerMetrics {
    const size = this.informerCacheObjects.labels({ resource });
    const connected = this.informerWatchConnected.labels({ resource });
    size.set(0);
    connected.set(0);
    return {
      restart: (reason) => this.informerRestarts.inc({ resource, reason }),
      cacheSize: (n) => size.set(n),
      watchConnected: (c) => connected.set(c ? 1 : 0),
    };
  }

  /** Initialises the per-controller series the way controller-runtime does at controller start. */
  initController(controller: string, maxConcurrentReconciles: number): void {
    for (const result of ['success', 'error', 'requeue', 'requeue_after'] satisfies ReconcileResultLabel[]) {
      this.reconcileTotal.inc({ controller, result }, 0);
    }
    this.reconcileErrors.inc({ controller }, 0);
    this.terminalReconcileErrors.inc({ controller }, 0);
    this.activeWorkers.set({ controller }, 0);
    this.maxConcurrentReconciles.set({ controller }, maxConcurrentReconciles);
  }
}
