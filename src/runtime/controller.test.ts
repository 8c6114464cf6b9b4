import { Writable } from 'node:stream';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  Controller,
  TerminalError,
  controllerOwnerRequest,
  generationChangedPredicate,
  parseRequestKey,
  requestKey,
  type Reconciler,
  type Request,
  type Result,
} from './controller.js';
import { ambientRequestSignal } from './client.js';
import { Informer } from './informer.js';
import { createLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { FakeListWatch } from './testing.test-util.js';

const OWNER = { group: 'backendapp.io', kind: 'BackendApp' };

function app(ns: string, name: string, generation = 1): KubernetesObject {
  return { apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', metadata: { namespace: ns, name, generation, uid: `uid-${name}` } };
}

function child(ns: string, name: string, owner?: string, opts: { controller?: boolean; kind?: string; apiVersion?: string } = {}): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      namespace: ns,
      name,
      ...(owner && {
        ownerReferences: [
          {
            apiVersion: opts.apiVersion ?? 'backendapp.io/v1alpha1',
            kind: opts.kind ?? 'BackendApp',
            name: owner,
            uid: `uid-${owner}`,
            controller: opts.controller ?? true,
          },
        ],
      }),
    },
  };
}

/** A reconciler whose calls the test completes one by one. */
class ScriptedReconciler implements Reconciler {
  calls: Request[] = [];
  running = new Map<string, number>();
  maxParallelPerKey = 0;
  maxParallel = 0;
  private active = 0;
  private pending: Array<{ key: string; resolve: (r: Result | undefined) => void; reject: (e: unknown) => void }> = [];
  auto: ((req: Request) => Result | undefined | Promise<Result | undefined>) | undefined;

  async reconcile(req: Request): Promise<Result> {
    const key = requestKey(req);
    this.calls.push(req);
    this.running.set(key, (this.running.get(key) ?? 0) + 1);
    this.maxParallelPerKey = Math.max(this.maxParallelPerKey, this.running.get(key) ?? 0);
    this.active++;
    this.maxParallel = Math.max(this.maxParallel, this.active);
    try {
      if (this.auto) return (await this.auto(req)) ?? {};
      return (await new Promise<Result | undefined>((resolve, reject) => this.pending.push({ key, resolve, reject }))) ?? {};
    } finally {
      this.active--;
      this.running.set(key, (this.running.get(key) ?? 1) - 1);
    }
  }

  finish(key: string, r?: Result | Error): void {
    const i = this.pending.findIndex((p) => p.key === key);
    const p = this.pending.splice(i, 1)[0];
    if (!p) throw new Error(`no pending reconcile for ${key}`);
    if (r instanceof Error) p.reject(r);
    else p.resolve(r);
  }

  pendingKeys(): string[] {
    return this.pending.map((p) => p.key);
  }
}

async function metricValue(m: Metrics, line: string): Promise<number> {
  const text = await m.registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : NaN;
}

async function setup(opts: { workers?: number } = {}) {
  const apps = new FakeListWatch();
  const deps = new FakeListWatch();
  const appInf = new Informer({ resource: { group: 'backendapp.io', version: 'v1alpha1', plural: 'backendapps' }, source: apps });
  const depInf = new Informer({ resource: { group: 'apps', version: 'v1', plural: 'deployments' }, source: deps });
  const metrics = new Metrics({ defaultMetrics: false, prefix: 'test' });
  const rec = new ScriptedReconciler();
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(c: Buffer, _e, cb) {
        lines.push(...c.toString().split('\n').filter(Boolean));
        cb();
      },
    }),
  });
  const ctrl = new Controller({ name: 'backendapp', reconciler: rec, metrics, logger, maxConcurrentReconciles: opts.workers ?? 1 })
    .watchFor(appInf)
    .owns(depInf, OWNER);
  return { apps, deps, appInf, depInf, metrics, rec, ctrl, lines };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe('Controller', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reconciles every cached primary on start, and again on change', async () => {
    const { apps, appInf, depInf, rec, ctrl } = await setup();
    apps.upsert(app('a', 'one'));
    appInf.start();
    depInf.start();
    await flush();
    ctrl.start();
    await flush();
    expect(rec.calls).toEqual([{ namespace: 'a', name: 'one' }]);
    rec.finish('a/one');
    await flush();
    apps.upsert(app('a', 'one', 2));
    await flush();
    expect(rec.calls.length).toBe(2);
    rec.finish('a/one');
    await ctrl.stop(1000);
    await appInf.stop();
    await depInf.stop();
  });

  it('maps a child to its controlling owner, ignoring non-controller refs and other kinds', async () => {
    const { apps, deps, appInf, depInf, rec, ctrl } = await setup();
    rec.auto = () => undefined;
    apps.upsert(app('a', 'one'));
    appInf.start();
    depInf.start();
    await flush();
    ctrl.start();
    await flush();
    rec.calls.length = 0;
    deps.upsert(child('a', 'one-api', 'one'));
    await flush();
    expect(rec.calls).toEqual([{ namespace: 'a', name: 'one' }]);
    deps.upsert(child('a', 'x', 'two', { controller: false }));
    deps.upsert(child('a', 'y', 'three', { kind: 'Other' }));
    deps.upsert(child('a', 'z', 'four', { apiVersion: 'other.io/v1' }));
    deps.upsert(child('a', 'w'));
    await flush();
    expect(rec.calls.length).toBe(1);
    deps.delete('a', 'one-api');
    await flush();
    expect(rec.calls).toEqual([
      { namespace: 'a', name: 'one' },
      { namespace: 'a', name: 'one' },
    ]);
    await ctrl.stop(1000);
  });

  it('notifies both the old and the new owner when a child changes owner', async () => {
    const { deps, appInf, depInf, rec, ctrl } = await setup();
    rec.auto = () => undefined;
    deps.upsert(child('a', 'c', 'old'));
    appInf.start();
    depInf.start();
    await flush();
    ctrl.start();
    await flush();
    rec.calls.length = 0;
    deps.upsert(child('a', 'c', 'new'));
    await flush();
    expect(rec.calls.map((r) => r.name).sort()).toEqual(['new', 'old']);
    await ctrl.stop(1000);
  });

  it('uses the optional map for children without an owner reference', async () => {
    const pvcs = new FakeListWatch();
    const pvcInf = new Informer({ resource: { group: '', version: 'v1', plural: 'persistentvolumeclaims' }, source: pvcs });
    const rec = new ScriptedReconciler();
    rec.auto = () => undefined;
    const ctrl = new Controller({ name: 'c', reconciler: rec }).owns(pvcInf, OWNER, {
      map: (o) => {
        const inst = o.metadata?.labels?.['app.kubernetes.io/instance'];
        return inst ? [{ namespace: o.metadata?.namespace ?? '', name: inst }] : [];
      },
    });
    pvcInf.start();
    await flush();
    ctrl.start();
    pvcs.upsert({ metadata: { namespace: 'a', name: 'data-db-0', labels: { 'app.kubernetes.io/instance': 'one' } } });
    await flush();
    expect(rec.calls).toEqual([{ namespace: 'a', name: 'one' }]);
    await ctrl.stop(1000);
  });

  it('collapses a burst of events for one key while it is being reconciled into a single follow-up', async () => {
    const { apps, deps, appInf, depInf, rec, ctrl } = await setup({ workers: 4 });
    apps.upsert(app('a', 'one'));
    appInf.start();
    depInf.start();
    await flush();
    ctrl.start();
    await flush();
    for (let i = 0; i < 10; i++) deps.upsert(child('a', `c${i}`, 'one'));
    await flush();
    expect(rec.calls.length).toBe(1); // the key is held by a worker; the others wait
    rec.finish('a/one');
    await flush();
    expect(rec.calls.length).toBe(2);
    rec.finish('a/one');
    await flush();
    expect(rec.calls.length).toBe(2);
    expect(rec.maxParallelPerKey).toBe(1);
    await ctrl.stop(1000);
  });

  it('runs up to maxConcurrentReconciles different keys in parallel, never one key twice', async () => {
    const { apps, appInf, depInf, rec, ctrl, metrics } = await setup({ workers: 3 });
    for (let i = 0; i < 5; i++) apps.upsert(app('a', `app${i}`));
    appInf.start();
    depInf.start();
    await flush();
    ctrl.start();
    await flush();
    expect(rec.pendingKeys().length).toBe(3);
    expect(await metricValue(metrics, 'controller_runtime_active_workers{controller="backendapp"}')).toBe(3);
    expect(await metricValue(metrics, 'controller_runtime_max_concurrent_reconciles{controller="backendapp"}')).toBe(3);
    for (const k of rec.pendingKeys()) rec.finish(k);
    await flush();
    expect(rec.pendingKeys().length).toBe(2);
    for (const k of rec.pendingKeys()) rec.finish(k);
    await flush();
    expect(rec.maxParallel).toBe(3);
    expect(rec.maxParallelPerKey).toBe(1);
    expect(await metricValue(metrics, 'controller_runtime_reconcile_total{controller="backendapp",result="success"}')).toBe(5);
    expect(await metricValue(metrics, 'controller_runtime_active_workers{controller="backendapp"}')).toBe(0);
    await ctrl.stop(1000);
  });

  it('retries errors with exponential backoff, counts them, and forgets on success', async () => {
    const { apps, appInf, rec, ctrl, metrics, lines } = await setup();
    apps.upsert(app('a', 'one'));
    appInf.start();
    await flush();
    let failures = 3;
    rec.auto = () => {
      if (failures-- > 0) throw new Error('apply failed: conflict');
    };
    ctrl.start();
    await flush();
    expect(rec.calls.length).toBe(1);
    await vi.advanceTimersByTimeAsync(4);
    expect(rec.calls.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1); // 5 ms
    expect(rec.calls.length).toBe(2);
    await vi.advanceTimersByTimeAsync(10);
    expect(rec.calls.length).toBe(3);
    await vi.advanceTimersByTimeAsync(20);
    expect(rec.calls.length).toBe(4); // succeeded
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rec.calls.length).toBe(4);
    expect(await metricValue(metrics, 'controller_runtime_reconcile_total{controller="backendapp",result="error"}')).toBe(3);
    expect(await metricValue(metrics, 'controller_runtime_reconcile_errors_total{controller="backendapp"}')).toBe(3);
    expect(await metricValue(metrics, 'controller_runtime_reconcile_total{controller="backendapp",result="success"}')).toBe(1);
    expect(await metricValue(metrics, 'workqueue_retries_total{name="backendapp",controller="backendapp"}')).toBe(3);
    expect(await metricValue(metrics, 'controller_runtime_reconcile_time_seconds_count{controller="backendapp"}')).toBe(4);
    const errLine = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'Reconciler error');
    expect(errLine).toMatchObject({ controller: 'backendapp', namespace: 'a', name: 'one', err: 'apply failed: conflict', level: 'error' });
    expect(errLine?.reconcileID).toMatch(/^[0-9a-f-]{36}$/);
    await ctrl.stop(1000);
  });

  it('does not retry a TerminalError', async () => {
    const { apps, appInf, rec, ctrl, metrics } = await setup();
    apps.upsert(app('a', 'one'));
    appInf.start();
    await flush();
    rec.auto = () => {
      throw new TerminalError('spec.components.api.image: must not be empty');
    };
    ctrl.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rec.calls.length).toBe(1);
    expect(await metricValue(metrics, 'controller_runtime_terminal_reconcile_errors_total{controller="backendapp"}')).toBe(1);
    await ctrl.stop(1000);
  });

  it('requeues after the requested delay and records requeue_after', async () => {
    const { apps, appInf, rec, ctrl, metrics } = await setup();
    apps.upsert(app('a', 'one'));
    appInf.start();
    await flush();
    rec.auto = () => (rec.calls.length === 1 ? { requeueAfter: 30_000 } : undefined);
    ctrl.start();
    await flush();
    await vi.advanceTimersByTimeAsync(29_999);
    expect(rec.calls.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(rec.calls.length).toBe(2);
    expect(await metricValue(metrics, 'controller_runtime_reconcile_total{controller="backendapp",result="requeue_after"}')).toBe(1);
    await ctrl.stop(1000);
  });

  it('requeue: true goes through the rate limiter', async () => {
    const { apps, appInf, rec, ctrl, metrics } = await setup();
    apps.upsert(app('a', 'one'));
    appInf.start();
    await flush();
    rec.auto = () => (rec.calls.length === 1 ? { requeue: true } : undefined);
    ctrl.start();
    await vi.advanceTimersByTimeAsync(5);
    expect(rec.calls.length).toBe(2);
    expect(await metricValue(metrics, 'controller_runtime_reconcile_total{controller="backendapp",result="requeue"}')).toBe(1);
    await ctrl.stop(1000);
  });

  it('stop() finishes in-flight reconciles and takes no new work', async () => {
    const { apps, appInf, rec, ctrl } = await setup();
    apps.upsert(app('a', 'one'));
    apps.upsert(app('a', 'two'));
    appInf.start();
    await flush();
    ctrl.start();
    await flush();
    expect(rec.pendingKeys()).toEqual(['a/one']);
    let stopped: boolean | undefined;
    void ctrl.stop(30_000).then((v) => (stopped = v));
    await vi.advanceTimersByTimeAsync(1000);
    expect(stopped).toBeUndefined();
    rec.finish('a/one');
    await flush();
    expect(stopped).toBe(true);
    expect(rec.calls.length).toBe(1); // a/two was never started
    apps.upsert(app('a', 'three'));
    await flush();
    expect(rec.calls.length).toBe(1); // handlers are unregistered
  });

  it('aborts the reconcile signal when the grace period runs out', async () => {
    const { apps, appInf } = await setup();
    let signal: AbortSignal | undefined;
    const hung: Reconciler = {
      reconcile: (_req, ctx) => {
        signal = ctx.signal;
        return new Promise(() => {});
      },
    };
    const c = new Controller({ name: 'hung', reconciler: hung }).watchFor(appInf);
    apps.upsert(app('a', 'one'));
    appInf.start();
    await flush();
    c.start();
    await flush();
    let stopped: boolean | undefined;
    void c.stop(5000).then((v) => (stopped = v));
    await vi.advanceTimersByTimeAsync(4999);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(stopped).toBe(false);
    expect(signal?.aborted).toBe(true);
  });

  it('can be started again after a stop, with a fresh queue, once its workers are done (leadership regained)', async () => {
    const { apps, appInf, rec, ctrl } = await setup({ workers: 2 });
    apps.upsert(app('a', 'one'));
    appInf.start();
    await flush();
    ctrl.start();
    await flush();
    expect(rec.pendingKeys()).toEqual(['a/one']);
    void ctrl.stop(0);
    await flush();
    // The aborted reconcile is still running: starting again now would run a key twice.
    expect(() => ctrl.start()).toThrow(/previous run/);
    rec.finish('a/one');
    await ctrl.stopped();
    apps.upsert(app('a', 'two')); // while stopped: no handler, no work
    await flush();
    expect(rec.calls.length).toBe(1);
    ctrl.start();
    await flush();
    // Every cached object again, as on a first start.
    expect(rec.pendingKeys().sort()).toEqual(['a/one', 'a/two']);
    rec.finish('a/one');
    rec.finish('a/two');
    await ctrl.stop(1000);
  });

  it('aborts the API requests of a reconcile with it, without the reconciler passing the signal', async () => {
    const { apps, appInf } = await setup();
    let seen: AbortSignal | undefined;
    const c = new Controller({
      name: 'ambient',
      reconciler: {
        // What requestJSON does for a request without a signal of its own.
        reconcile: async () => {
          seen = ambientRequestSignal();
          return await new Promise<Result>(() => {});
        },
      },
    }).watchFor(appInf);
    apps.upsert(app('a', 'one'));
    appInf.start();
    await flush();
    c.start();
    await flush();
    expect(seen?.aborted).toBe(false);
    void c.stop(0);
    await flush();
    expect(seen?.aborted).toBe(true);
  });

  it('passes a bound child logger and never logs object contents', async () => {
    const { apps, appInf, ctrl, rec, lines } = await setup();
    rec.auto = () => undefined;
    apps.upsert({ ...app('a', 'one'), spec: { secretValue: 'hunter2' } } as KubernetesObject);
    appInf.start();
    await flush();
    ctrl.start();
    await flush();
    const text = lines.join('\n');
    expect(text).toContain('"msg":"reconciled"');
    expect(text).toContain('"result":"success"');
    expect(text).not.toContain('hunter2');
    await ctrl.stop(1000);
  });

  it('applies predicates', async () => {
    const apps = new FakeListWatch();
    const inf = new Informer({ resource: { group: 'backendapp.io', version: 'v1alpha1', plural: 'backendapps' }, source: apps });
    const rec = new ScriptedReconciler();
    rec.auto = () => undefined;
    const c = new Controller({ name: 'p', reconciler: rec }).watchFor(inf, { predicate: generationChangedPredicate });
    apps.upsert(app('a', 'one', 1));
    inf.start();
    await flush();
    c.start();
    await flush();
    expect(rec.calls.length).toBe(1);
    apps.upsert({ ...app('a', 'one', 1), status: { ready: true } } as KubernetesObject);
    await flush();
    expect(rec.calls.length).toBe(1);
    apps.upsert(app('a', 'one', 2));
    await flush();
    expect(rec.calls.length).toBe(2);
    await c.stop(1000);
  });

  it('validates maxConcurrentReconciles and refuses watches after start', () => {
    const rec = new ScriptedReconciler();
    expect(() => new Controller({ name: 'x', reconciler: rec, maxConcurrentReconciles: 0 })).toThrow(/positive integer/);
    const c = new Controller({ name: 'x', reconciler: rec });
    c.start();
    const inf = new Informer({ resource: { group: '', version: 'v1', plural: 'secrets' }, source: new FakeListWatch() });
    expect(() => c.watchFor(inf)).toThrow(/before start/);
  });
});

describe('keys and owners', () => {
  it('round-trips request keys, cluster-scoped included', () => {
    expect(requestKey({ namespace: 'a', name: 'b' })).toBe('a/b');
    expect(parseRequestKey('a/b')).toEqual({ namespace: 'a', name: 'b' });
    expect(parseRequestKey('node-1')).toEqual({ namespace: '', name: 'node-1' });
  });

  it('matches the controller owner by group and kind, ignoring the version', () => {
    expect(controllerOwnerRequest(child('n', 'c', 'o', { apiVersion: 'backendapp.io/v1' }), OWNER)).toEqual({ namespace: 'n', name: 'o' });
    expect(controllerOwnerRequest(child('n', 'c', 'o', { apiVersion: 'v1', kind: 'BackendApp' }), OWNER)).toBeUndefined();
  });
});
