import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Controller, type Reconciler, type Request, type Result } from './controller.js';
import { Informer } from './informer.js';
import { CacheSyncTimeoutError, LeaderElectionLostError, Manager, setupSignalHandler } from './manager.js';
import { Metrics } from './metrics.js';
import { FakeLease, FakeListWatch } from './testing.test-util.js';

const RESOURCE = { group: 'backendapp.io', version: 'v1alpha1', plural: 'backendapps' };

function app(name: string): KubernetesObject {
  return { apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', metadata: { namespace: 'a', name } };
}

interface Harness {
  mgr: Manager;
  source: FakeListWatch;
  informer: Informer;
  calls: Request[];
  signals: AbortSignal[];
}

function harness(
  opts: { lease?: FakeLease; identity?: string; reconciler?: Reconciler; grace?: number; source?: FakeListWatch; onLeadershipLost?: 'exit' | 'standby' } = {},
): Harness {
  const source = opts.source ?? new FakeListWatch();
  const metrics = new Metrics({ defaultMetrics: false, prefix: 'test' });
  const informer = new Informer({ resource: RESOURCE, source, random: () => 0, metrics: metrics.informerMetrics('backendapps') });
  const calls: Request[] = [];
  const signals: AbortSignal[] = [];
  const reconciler: Reconciler = opts.reconciler ?? {
    reconcile: async (req, ctx) => {
      calls.push(req);
      signals.push(ctx.signal);
      return {};
    },
  };
  const mgr = new Manager({
    metrics,
    metricsBindAddress: '0',
    healthProbeBindAddress: '0',
    gracefulShutdownTimeoutMs: opts.grace ?? 30_000,
    cacheSyncTimeoutMs: 120_000,
    ...(opts.onLeadershipLost && { onLeadershipLost: opts.onLeadershipLost }),
    ...(opts.lease && {
      leaderElection: { client: opts.lease.client(), name: 'backendapp-operator', identity: opts.identity ?? 'a', random: () => 0 },
    }),
  });
  mgr.addController(new Controller({ name: 'backendapp', reconciler, metrics }).watchFor(informer));
  return { mgr, source, informer, calls, signals };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe('Manager', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts informers, waits for sync, runs controllers, and stops cleanly', async () => {
    const h = harness();
    h.source.upsert(app('one'));
    const run = h.mgr.start();
    await flush();
    await h.mgr.elected();
    await flush();
    expect(h.calls).toEqual([{ namespace: 'a', name: 'one' }]);
    expect(h.mgr.isLeader()).toBe(true);
    h.source.upsert(app('two'));
    await flush();
    expect(h.calls.length).toBe(2);
    await h.mgr.stop();
    await expect(run).resolves.toBeUndefined();
    expect(h.source.active()).toEqual([]);
    h.source.upsert(app('three'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.calls.length).toBe(2);
  });

  it('lets an in-flight reconcile finish within the grace period before stopping the watches', async () => {
    let finish!: () => void;
    const order: string[] = [];
    const h = harness({
      reconciler: {
        reconcile: () =>
          new Promise<Result>((r) => {
            finish = () => {
              order.push('reconcile done');
              r({});
            };
          }),
      },
    });
    h.source.upsert(app('one'));
    const run = h.mgr.start();
    await flush();
    await h.mgr.elected();
    await flush();
    const stopped = h.mgr.stop().then(() => order.push('stopped'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(order).toEqual([]);
    expect(h.source.active().length).toBe(1); // watches keep running while draining
    finish();
    await stopped;
    await run;
    expect(order).toEqual(['reconcile done', 'stopped']);
  });

  it('aborts reconciles that outlive the grace period and still finishes shutting down', async () => {
    let signal: AbortSignal | undefined;
    const h = harness({
      grace: 5_000,
      reconciler: {
        reconcile: (_req, ctx) => {
          signal = ctx.signal;
          return new Promise(() => {});
        },
      },
    });
    h.source.upsert(app('one'));
    const run = h.mgr.start();
    await flush();
    await flush();
    void h.mgr.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    await run;
    expect(signal?.aborted).toBe(true);
  });

  it('reconciles only while leading; releases the lease on stop so the standby takes over', async () => {
    const lease = new FakeLease();
    const source = new FakeListWatch();
    source.upsert(app('one'));
    const a = harness({ lease, identity: 'a', source });
    const b = harness({ lease, identity: 'b', source });
    const runA = a.mgr.start();
    await flush();
    await a.mgr.elected();
    const runB = b.mgr.start();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(a.calls.length).toBe(1);
    expect(b.calls.length).toBe(0);
    expect(b.informer.hasSynced()).toBe(true); // the standby keeps a warm cache
    expect(b.mgr.isLeader()).toBe(false);

    await a.mgr.stop();
    await runA;
    expect(lease.record?.holderIdentity).toBe('');
    await vi.advanceTimersByTimeAsync(2_100);
    expect(b.mgr.isLeader()).toBe(true);
    expect(b.calls.length).toBe(1);
    await b.mgr.stop();
    await runB;
  });

  it('rejects with LeaderElectionLostError and stops at once when the lease cannot be renewed', async () => {
    const lease = new FakeLease();
    let signal: AbortSignal | undefined;
    const h = harness({
      lease,
      grace: 60_000,
      reconciler: {
        reconcile: (_req, ctx) => {
          signal = ctx.signal;
          return new Promise(() => {});
        },
      },
    });
    h.source.upsert(app('one'));
    const run = h.mgr.start();
    let err: unknown;
    run.catch((e: unknown) => (err = e));
    await flush();
    await h.mgr.elected();
    await flush();
    lease.failWith = new Error('apiserver unreachable');
    await vi.advanceTimersByTimeAsync(12_100);
    expect(err).toBeInstanceOf(LeaderElectionLostError);
    // No grace period after losing the lease: in-flight work is aborted.
    expect(signal?.aborted).toBe(true);
    expect(h.source.active()).toEqual([]);
    // It does not release a lease it no longer holds.
    expect(lease.record?.holderIdentity).toBe('a');
  });

  it('with onLeadershipLost standby: stops reconciling at once, keeps running, and resumes when it leads again', async () => {
    const lease = new FakeLease();
    const signals: AbortSignal[] = [];
    const calls: string[] = [];
    let hang = true;
    const h = harness({
      lease,
      onLeadershipLost: 'standby',
      reconciler: {
        reconcile: (req, ctx) => {
          calls.push(req.name);
          signals.push(ctx.signal);
          // A reconcile waiting on the API server ends when its requests are aborted.
          return hang ? new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))) : Promise.resolve({});
        },
      },
    });
    h.source.upsert(app('one'));
    const run = h.mgr.start();
    let settled = false;
    run.then(
      () => (settled = true),
      () => (settled = true),
    );
    await flush();
    await h.mgr.elected();
    await flush();
    expect(calls).toEqual(['one']);
    // An API server outage: the lease cannot be renewed.
    lease.failWith = new Error('apiserver unreachable');
    await vi.advanceTimersByTimeAsync(12_100);
    expect(signals[0]?.aborted).toBe(true); // no more writes from this replica
    expect(settled).toBe(false); // and no exit
    h.source.upsert(app('two'));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toEqual(['one']); // nothing reconciled while standing by
    // The server is back: the replica takes its lease again and reconciles everything.
    hang = false;
    lease.failWith = undefined;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.slice(1).sort()).toEqual(['one', 'two']);
    await h.mgr.stop();
    await expect(run).resolves.toBeUndefined();
  });

  it('with onLeadershipLost standby: still exits if a reconcile does not stop within the grace period', async () => {
    const lease = new FakeLease();
    const h = harness({ lease, onLeadershipLost: 'standby', grace: 5_000, reconciler: { reconcile: () => new Promise(() => {}) } });
    h.source.upsert(app('one'));
    const run = h.mgr.start();
    let err: unknown;
    run.catch((e: unknown) => (err = e));
    await flush();
    await h.mgr.elected();
    lease.failWith = new Error('apiserver unreachable');
    await vi.advanceTimersByTimeAsync(12_100);
    expect(err).toBeUndefined();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(err).toBeInstanceOf(LeaderElectionLostError);
  });

  it('fails with CacheSyncTimeoutError naming the informer and its error', async () => {
    const h = harness();
    for (let i = 0; i < 100; i++) h.source.listErrors.push(new Error('backendapps.backendapp.io is forbidden'));
    const run = h.mgr.start();
    let err: unknown;
    run.catch((e: unknown) => (err = e));
    await vi.advanceTimersByTimeAsync(120_000);
    expect(err).toBeInstanceOf(CacheSyncTimeoutError);
    expect(String(err)).toContain('backendapps.backendapp.io (backendapps.backendapp.io is forbidden)');
    expect(h.calls).toEqual([]);
  });

  it('shuts down gracefully when the signal aborts', async () => {
    const h = harness();
    const ac = new AbortController();
    const run = h.mgr.start(ac.signal);
    await flush();
    await h.mgr.elected();
    ac.abort();
    await expect(run).resolves.toBeUndefined();
  });

  it('can be stopped while still waiting for caches or leadership', async () => {
    const lease = new FakeLease();
    lease.record = { holderIdentity: 'other', leaseDurationSeconds: 15, acquireTime: '', renewTime: '', leaseTransitions: 0 };
    lease.rv = 1;
    const h = harness({ lease });
    const run = h.mgr.start();
    await vi.advanceTimersByTimeAsync(5_000);
    await h.mgr.stop();
    await expect(run).resolves.toBeUndefined();
    expect(h.calls).toEqual([]);
    expect(lease.record?.holderIdentity).toBe('other');
  });

  it('refuses a second start and resolves stop() before start', async () => {
    const h = harness();
    await h.mgr.stop();
    await expect(h.mgr.start()).rejects.toThrow(/start\(\) may be called once/);
  });
});

describe('Manager probes (real timers and sockets)', () => {
  it('reports readiness by informer sync and watch connection, and serves metrics', async () => {
    const source = new FakeListWatch();
    source.upsert(app('one'));
    source.listErrors.push(new Error('connection refused'));
    const metrics = new Metrics({ defaultMetrics: false, prefix: 'test' });
    const informer = new Informer({ resource: RESOURCE, source, backoff: { initialMs: 300, maxMs: 300, jitter: 0 } });
    const mgr = new Manager({
      metrics,
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
      readinessWatchGraceMs: 100,
    });
    mgr.addController(new Controller({ name: 'backendapp', metrics, reconciler: { reconcile: async () => ({}) } }).watchFor(informer));
    const run = mgr.start();
    const deadline = Date.now() + 3000;
    while (!mgr.urls().health && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const { health, metrics: metricsUrl } = mgr.urls();

    const first = await fetch(`${health}/readyz`);
    expect(first.status).toBe(500);
    expect(await first.text()).toContain('[-]informer:backendapps.backendapp.io failed: not synced: connection refused');

    await mgr.elected();
    await new Promise((r) => setTimeout(r, 20));
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    expect((await fetch(`${health}/healthz`)).status).toBe(200);
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(text).toContain('controller_runtime_reconcile_total{controller="backendapp",result="success"} 1');

    // The API server goes away: watches fail and readiness says so.
    for (let i = 0; i < 50; i++) source.watchErrors.push(new Error('connect ECONNREFUSED'));
    source.lastWatch().close(new Error('socket hang up'));
    await new Promise((r) => setTimeout(r, 400));
    const down = await fetch(`${health}/readyz`);
    expect(down.status).toBe(500);
    expect(await down.text()).toMatch(/\[-\]informer:backendapps.backendapp.io failed: watch disconnected for \d+s: connect ECONNREFUSED/);

    await mgr.stop();
    await run;
    await expect(fetch(`${health}/healthz`)).rejects.toThrow();
  });
});

describe('setupSignalHandler', () => {
  it('aborts on the first signal and calls back on the second', () => {
    const seen: string[] = [];
    const h = setupSignalHandler({ onSecondSignal: (s) => seen.push(s) });
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect(h.signal.aborted).toBe(true);
      expect(seen).toEqual([]);
      process.emit('SIGINT', 'SIGINT');
      expect(seen).toEqual(['SIGINT']);
    } finally {
      h.dispose();
    }
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });
});
