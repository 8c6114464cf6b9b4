import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Informer, stripManagedFields, type InformerOptions } from './informer.js';
import { Metrics } from './metrics.js';
import { FakeListWatch } from './testing.test-util.js';

const RESOURCE = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' };

function obj(namespace: string, name: string, extra: Record<string, string> = {}): KubernetesObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { namespace, name, labels: extra } };
}

type Ev = [string, string, boolean?];

function setup(opts: Partial<InformerOptions<KubernetesObject>> = {}) {
  const source = new FakeListWatch();
  const metrics = new Metrics({ defaultMetrics: false, prefix: 'test' });
  const inf = new Informer<KubernetesObject>({
    resource: RESOURCE,
    source,
    metrics: metrics.informerMetrics('deployments.apps'),
    random: () => 0,
    watchTimeoutSeconds: { min: 300, max: 600 },
    ...opts,
  });
  const events: Ev[] = [];
  const key = (o: KubernetesObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;
  inf.addEventHandler({
    onAdd: (o, initial) => events.push(['add', key(o), initial]),
    onUpdate: (_old, o) => events.push(['update', key(o)]),
    onDelete: (o, unknown) => events.push(['delete', key(o), unknown]),
  });
  const restarts = async (reason: string) => {
    const text = await metrics.registry.metrics();
    const m = text.match(new RegExp(`test_informer_restarts_total\\{resource="deployments.apps",reason="${reason}"\\} (\\d+)`));
    return m ? Number(m[1]) : 0;
  };
  return { source, inf, events, metrics, restarts };
}

const tick = () => vi.advanceTimersByTimeAsync(0);

describe('Informer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lists, marks itself synced, then watches from the list resourceVersion', async () => {
    const { source, inf, events } = setup();
    source.upsert(obj('a', 'one'));
    source.upsert(obj('b', 'two'));
    expect(inf.hasSynced()).toBe(false);
    inf.start();
    await tick();
    expect(inf.hasSynced()).toBe(true);
    expect(events).toEqual([
      ['add', 'a/one', true],
      ['add', 'b/two', true],
    ]);
    expect(inf.get('a', 'one')?.metadata?.name).toBe('one');
    expect(inf.list().length).toBe(2);
    expect(inf.list('b').map((o) => o.metadata?.name)).toEqual(['two']);
    const w = source.lastWatch();
    expect(w.opts.resourceVersion).toBe(source.resourceVersion);
    expect(w.opts.timeoutSeconds).toBe(300);
    expect(inf.health()).toMatchObject({ synced: true, connected: true, disconnectedMs: 0 });
    await inf.stop();
  });

  it('applies ADDED, MODIFIED and DELETED events and ignores unchanged bookmarks', async () => {
    const { source, inf, events } = setup();
    inf.start();
    await tick();
    source.upsert(obj('a', 'x'));
    source.upsert(obj('a', 'x', { v: '2' }));
    expect(inf.get('a', 'x')?.metadata?.labels).toEqual({ v: '2' });
    source.lastWatch().sendBookmark('999');
    source.delete('a', 'x');
    expect(inf.get('a', 'x')).toBeUndefined();
    expect(inf.count()).toBe(0);
    expect(events).toEqual([
      ['add', 'a/x', false],
      ['update', 'a/x'],
      ['delete', 'a/x', false],
    ]);
    await inf.stop();
  });

  it('observe() caches our own write before its event, and never an older copy over a newer one', async () => {
    const { source, inf, events } = setup();
    inf.start();
    await tick();
    const written: KubernetesObject = source.upsertSilently({
      ...obj('a', 'x', { v: '1' }),
      metadata: { namespace: 'a', name: 'x', uid: 'u1', labels: { v: '1' } },
    });
    inf.observe(written);
    expect(inf.get('a', 'x')?.metadata?.labels).toEqual({ v: '1' });
    expect(events).toEqual([]); // the watch event will call the handlers
    const newer = source.upsert({ ...written, metadata: { ...written.metadata, labels: { v: '2' } } });
    inf.observe(written); // a slow answer to an earlier write
    expect(inf.get('a', 'x')?.metadata?.resourceVersion).toBe(newer.metadata?.resourceVersion);
    await inf.stop();
  });

  it('observe() does not bring back an object the watch already reported deleted (a deletion racing our write)', async () => {
    const { source, inf } = setup();
    inf.start();
    await tick();
    const created = source.upsert({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { namespace: 'a', name: 'x', uid: 'u1' } });
    source.delete('a', 'x'); // deleted by hand before the answer to our create arrived
    inf.observe(created);
    expect(inf.get('a', 'x')).toBeUndefined();
    // A new object of the same name (our next create) is cached as usual.
    const again = source.upsertSilently({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { namespace: 'a', name: 'x', uid: 'u2' } });
    inf.observe(again);
    expect(inf.get('a', 'x')?.metadata?.uid).toBe('u2');
    await inf.stop();
  });

  it('re-watches from the last seen resourceVersion (bookmarks included) after a clean close, without relisting', async () => {
    const { source, inf, restarts } = setup();
    inf.start();
    await tick();
    source.upsert(obj('a', 'x'));
    source.lastWatch().sendBookmark('555');
    await vi.advanceTimersByTimeAsync(60_000);
    source.lastWatch().close();
    await tick();
    expect(source.lists.length).toBe(1);
    expect(source.watches.length).toBe(2);
    expect(source.lastWatch().opts.resourceVersion).toBe('555');
    expect(await restarts('closed')).toBe(1);
    await inf.stop();
  });

  it('relists on a 410 ERROR event and emits the changes it missed, deletions included', async () => {
    const { source, inf, events, restarts } = setup();
    source.upsert(obj('a', 'kept'));
    source.upsert(obj('a', 'changed'));
    source.upsert(obj('a', 'deleted'));
    inf.start();
    await tick();
    events.length = 0;
    const keptRef = inf.get('a', 'kept');

    // The watch drops; meanwhile things change and the history is compacted.
    source.lastWatch().close(new Error('ECONNRESET'));
    source.upsertSilently(obj('a', 'changed', { v: '2' }));
    source.deleteSilently('a', 'deleted');
    source.upsertSilently(obj('a', 'new'));
    source.compact();
    await vi.advanceTimersByTimeAsync(0); // immediate re-watch (the first watch was healthy) → 410
    await vi.advanceTimersByTimeAsync(2_000); // backoff before the relist
    expect(await restarts('gone')).toBe(1);
    expect(source.lists.length).toBe(2);
    expect(events).toEqual([
      ['delete', 'a/deleted', true],
      ['update', 'a/changed'],
      ['add', 'a/new', false],
    ]);
    // Unchanged objects are neither re-emitted nor replaced.
    expect(inf.get('a', 'kept')).toBe(keptRef);
    expect(source.lastWatch().opts.resourceVersion).toBe(source.resourceVersion);
    await inf.stop();
  });

  it('relists when the watch request itself answers 410', async () => {
    const { source, inf, restarts } = setup();
    inf.start();
    await tick();
    source.watchErrors.push(Object.assign(new Error('Gone'), { statusCode: 410 }));
    source.lastWatch().close();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await restarts('gone')).toBe(1);
    expect(source.lists.length).toBe(2);
    await inf.stop();
  });

  it('relists after a non-410 ERROR event', async () => {
    const { source, inf, restarts } = setup();
    inf.start();
    await tick();
    source.lastWatch().send('ERROR', { kind: 'Status', code: 500, message: 'internal error' });
    await vi.advanceTimersByTimeAsync(0);
    expect(await restarts('error')).toBe(1);
    expect(source.lists.length).toBe(2);
    await inf.stop();
  });

  it('backs off exponentially with a cap while the watch keeps failing, and resets after a healthy watch', async () => {
    const { source, inf } = setup({ backoff: { initialMs: 800, maxMs: 30_000, jitter: 1 } });
    inf.start();
    await tick();
    for (let i = 0; i < 12; i++) source.watchErrors.push(new Error('connect ECONNREFUSED'));
    source.lastWatch().close(new Error('ECONNRESET'));

    await tick();
    const startTimes: number[] = [0];
    let seen = source.watches.length;
    expect(seen).toBe(2); // first retry after a healthy watch is immediate
    const t0 = Date.now();
    for (let ms = 0; ms < 400_000 && startTimes.length < 12; ms += 100) {
      await vi.advanceTimersByTimeAsync(100);
      if (source.watches.length > seen) {
        seen = source.watches.length;
        startTimes.push(Date.now() - t0);
      }
    }
    const gaps = startTimes.slice(1).map((t, i) => t - startTimes[i]!);
    // random() = 0: no jitter, so the gaps are exactly the backoff steps.
    expect(gaps.slice(0, 6)).toEqual([800, 1600, 3200, 6400, 12800, 25600]);
    expect(gaps.slice(6, 10)).toEqual([30_000, 30_000, 30_000, 30_000]);
    // A watch that works resets the backoff: the next failure retries at once.
    await vi.advanceTimersByTimeAsync(31_000);
    const healthy = source.lastWatch();
    expect(healthy.open).toBe(true);
    source.upsert(obj('a', 'x'));
    const before = source.watches.length;
    healthy.close(new Error('ECONNRESET'));
    await vi.advanceTimersByTimeAsync(0);
    expect(source.watches.length).toBe(before + 1);
    expect(source.lists.length).toBe(1); // network errors resume from the resourceVersion
    await inf.stop();
  });

  it('applies jitter within [d, 2d] capped at the maximum', async () => {
    const { source, inf } = setup({ random: () => 0.5, backoff: { initialMs: 1000, maxMs: 30_000, jitter: 1 } });
    source.listErrors.push(new Error('boom'), new Error('boom'));
    inf.start();
    await tick();
    expect(source.lists.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1499);
    expect(source.lists.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(source.lists.length).toBe(2); // 1000 * 1.5
    await vi.advanceTimersByTimeAsync(2999);
    expect(source.lists.length).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(source.lists.length).toBe(3); // 2000 * 1.5
    await tick();
    expect(inf.hasSynced()).toBe(true);
    await inf.stop();
  });

  it('keeps retrying a failing list, never giving up, and reports it', async () => {
    const { source, inf, restarts } = setup();
    for (let i = 0; i < 30; i++) source.listErrors.push(new Error('connection refused'));
    inf.start();
    // Attempts at 0, 0.8, 2.4, 5.6, 12, 24.8, 50.4 s, then every 30 s: 25 by 600 s.
    await vi.advanceTimersByTimeAsync(600_000);
    expect(inf.hasSynced()).toBe(false);
    expect(inf.health().lastError).toBe('connection refused');
    expect(source.lists.length).toBe(25);
    expect(await restarts('list_error')).toBe(25);
    await vi.advanceTimersByTimeAsync(181_000);
    expect(inf.hasSynced()).toBe(true);
    await inf.stop();
  });

  it('restarts a silent watch after timeoutSeconds plus the margin; any event resets the watchdog', async () => {
    const { source, inf, restarts } = setup({ watchdogMarginMs: 30_000 });
    inf.start();
    await tick();
    const w = source.lastWatch();
    expect(w.opts.timeoutSeconds).toBe(300);
    await vi.advanceTimersByTimeAsync(329_000);
    w.sendBookmark('200'); // resets the watchdog
    await vi.advanceTimersByTimeAsync(329_000);
    expect(source.watches.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await restarts('watchdog')).toBe(1);
    expect(w.stoppedByClient).toBe(true);
    expect(source.watches.length).toBe(2);
    expect(source.lastWatch().opts.resourceVersion).toBe('200');
    await inf.stop();
  });

  it('also restarts a watch that never connects', async () => {
    const { source, inf, restarts } = setup({ watchdogMarginMs: 30_000 });
    inf.start();
    await tick();
    source.autoConnect = false;
    source.lastWatch().close();
    await vi.advanceTimersByTimeAsync(1000);
    expect(inf.health().connected).toBe(false);
    await vi.advanceTimersByTimeAsync(330_000);
    expect(await restarts('watchdog')).toBe(1);
    expect(inf.health().disconnectedMs).toBeGreaterThan(330_000);
    await inf.stop();
  });

  it('randomises the server-side timeout within the configured range', async () => {
    const { source, inf } = setup({ random: () => 0.999 });
    inf.start();
    await tick();
    expect(source.lastWatch().opts.timeoutSeconds).toBe(600);
    await inf.stop();
  });

  it('treats a very short watch without events as a failure (backs off)', async () => {
    const { source, inf } = setup();
    inf.start();
    await tick();
    source.lastWatch().close(); // no events, 0 ms: a failure, but the first retry is immediate
    await tick();
    expect(source.watches.length).toBe(2);
    source.lastWatch().close();
    await tick();
    expect(source.watches.length).toBe(2);
    await vi.advanceTimersByTimeAsync(800);
    expect(source.watches.length).toBe(3);
    await inf.stop();
  });

  it('runs one list+watch per namespace and scopes relist deletions to its namespace', async () => {
    const { source, inf, events } = setup({ namespaces: ['a', 'b'] });
    source.upsert(obj('a', 'x'));
    source.upsert(obj('b', 'y'));
    source.upsert(obj('c', 'z'));
    inf.start();
    await tick();
    expect(source.lists.map((l) => l.namespace)).toEqual(['a', 'b']);
    expect(
      inf
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['x', 'y']);
    events.length = 0;
    const wa = source.active().find((w) => w.opts.namespace === 'a');
    source.compact();
    wa?.send('ERROR', { code: 410, message: 'too old' });
    await vi.advanceTimersByTimeAsync(0);
    expect(source.lists.length).toBe(3);
    expect(source.lists[2]?.namespace).toBe('a');
    expect(events).toEqual([]);
    expect(inf.get('b', 'y')).toBeDefined();
    await inf.stop();
  });

  it('replays the cache to a handler added later and supports unregistering', async () => {
    const { source, inf } = setup();
    source.upsert(obj('a', 'x'));
    inf.start();
    await tick();
    const seen: string[] = [];
    const off = inf.addEventHandler({ onAdd: (o, initial) => seen.push(`${o.metadata?.name}:${initial}`) });
    expect(seen).toEqual(['x:true']);
    off();
    source.upsert(obj('a', 'y'));
    expect(seen).toEqual(['x:true']);
    await inf.stop();
  });

  it('keeps going when a handler throws', async () => {
    const { source, inf, events } = setup();
    inf.addEventHandler({
      onAdd: () => {
        throw new Error('handler bug');
      },
    });
    inf.start();
    await tick();
    source.upsert(obj('a', 'x'));
    expect(inf.get('a', 'x')).toBeDefined();
    expect(events).toEqual([['add', 'a/x', false]]);
    await inf.stop();
  });

  it('maintains indexes', async () => {
    const { source, inf } = setup();
    inf.addIndex('app', (o) => [o.metadata?.labels?.app ?? '']);
    source.upsert(obj('a', 'x', { app: 'one' }));
    inf.start();
    await tick();
    source.upsert(obj('a', 'y', { app: 'one' }));
    source.upsert(obj('a', 'z', { app: 'two' }));
    expect(
      inf
        .byIndex('app', 'one')
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['x', 'y']);
    source.upsert(obj('a', 'y', { app: 'two' }));
    expect(inf.byIndex('app', 'one').map((o) => o.metadata?.name)).toEqual(['x']);
    source.delete('a', 'z');
    expect(inf.byIndex('app', 'two').map((o) => o.metadata?.name)).toEqual(['y']);
    expect(() => inf.byIndex('nope', 'x')).toThrow(/no index named "nope"/);
    await inf.stop();
  });

  it('stops for good: no watch, no retry timers', async () => {
    const { source, inf } = setup();
    inf.start();
    await tick();
    source.listErrors.push(new Error('x'));
    source.lastWatch().send('ERROR', { code: 410 });
    await tick();
    await inf.stop();
    const count = source.watches.length + source.lists.length;
    await vi.advanceTimersByTimeAsync(600_000);
    expect(source.watches.length + source.lists.length).toBe(count);
    expect(source.active()).toEqual([]);
    expect(inf.health().connected).toBe(false);
  });

  it('stops while the list is in flight', async () => {
    const { source, inf } = setup();
    inf.start();
    const stopped = inf.stop();
    await tick();
    await stopped;
    expect(source.watches.length).toBe(0);
  });

  it('waitForSync resolves when synced, or false on abort', async () => {
    const { source, inf } = setup();
    source.listErrors.push(new Error('x'));
    const ac = new AbortController();
    const aborted = inf.waitForSync(ac.signal);
    const synced = inf.waitForSync();
    inf.start();
    ac.abort();
    await expect(aborted).resolves.toBe(false);
    await vi.advanceTimersByTimeAsync(2000);
    await expect(synced).resolves.toBe(true);
    await inf.stop();
  });

  it('reports cache size and connection in metrics', async () => {
    const { source, inf, metrics } = setup();
    source.upsert(obj('a', 'x'));
    source.upsert(obj('a', 'y'));
    inf.start();
    await tick();
    let text = await metrics.registry.metrics();
    expect(text).toContain('test_informer_cache_objects{resource="deployments.apps"} 2');
    expect(text).toContain('test_informer_watch_connected{resource="deployments.apps"} 1');
    await inf.stop();
    text = await metrics.registry.metrics();
    expect(text).toContain('test_informer_watch_connected{resource="deployments.apps"} 0');
  });

  it('ignores malformed objects and unknown event types', async () => {
    const { source, inf, events } = setup();
    inf.start();
    await tick();
    source.lastWatch().send('ADDED', { metadata: {} });
    source.lastWatch().send('ADDED', 'garbage');
    source.lastWatch().send('WHATEVER', obj('a', 'x'));
    expect(inf.count()).toBe(0);
    expect(events).toEqual([]);
    await inf.stop();
  });

  it('applies the transform before caching', async () => {
    const { source, inf } = setup({ transform: stripManagedFields });
    source.upsert({ ...obj('a', 'x'), metadata: { namespace: 'a', name: 'x', managedFields: [{ manager: 'kubectl' }] } });
    inf.start();
    await tick();
    expect(inf.get('a', 'x')?.metadata?.managedFields).toBeUndefined();
    await inf.stop();
  });

  it('re-delivers every object as an update on the resync period', async () => {
    const { source, inf, events } = setup({ resyncPeriodMs: 60_000 });
    source.upsert(obj('a', 'x'));
    inf.start();
    await tick();
    events.length = 0;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(events).toEqual([['update', 'a/x']]);
    await inf.stop();
  });

  it('rejects an inverted timeout range', () => {
    expect(() => setup({ watchTimeoutSeconds: { min: 600, max: 300 } })).toThrow(/min <= max/);
  });

  it('relists at once on a 410 after an outage, whatever backoff the outage built up (an API server restart)', async () => {
    const { source, inf } = setup({ backoff: { initialMs: 800, maxMs: 30_000, jitter: 0 } });
    inf.start();
    await tick();
    // The outage: the watch breaks, and 5 reconnects fail (at 0, 0.8, 2.4, 5.6 and 12 s);
    // the next try is due at 24.8 s.
    for (let i = 0; i < 5; i++) source.watchErrors.push(new Error('connect ECONNREFUSED'));
    source.lastWatch().close(new Error('ECONNRESET'));
    await vi.advanceTimersByTimeAsync(24_000);
    // Meanwhile the server restarted: its watch cache is new, our resourceVersion gone.
    source.upsert(obj('a', 'during'));
    source.compact();
    const lists = source.lists.length;
    // The try at 24.8 s gets 410; the relist follows at once, not a 25.6 s backoff later.
    await vi.advanceTimersByTimeAsync(810);
    expect(source.lists.length).toBe(lists + 1);
    expect(inf.get('a', 'during')).toBeDefined();
    expect(source.active().length).toBe(1);
    await inf.stop();
  });

  it('retries in about a second when the server answers 429 or 503, whatever backoff an outage built up', async () => {
    const { source, inf } = setup({ backoff: { initialMs: 800, maxMs: 30_000, jitter: 0 } });
    inf.start();
    await tick();
    for (let i = 0; i < 5; i++) source.watchErrors.push(new Error('connect ECONNREFUSED'));
    // The restarted server is up, but warming up.
    source.watchErrors.push(Object.assign(new Error('Too Many Requests'), { statusCode: 429 }));
    source.lastWatch().close(new Error('ECONNRESET'));
    await vi.advanceTimersByTimeAsync(24_800); // the five refused tries and the 429
    const watches = source.watches.length;
    await vi.advanceTimersByTimeAsync(800); // backoff(1), not backoff(7) = 30 s
    expect(source.watches.length).toBe(watches + 1);
    await inf.stop();
  });

  it('cuts a backoff short when the source says the server answers again', async () => {
    let back: (() => void) | undefined;
    const source = new FakeListWatch();
    const onServerBack = vi.fn((fn: () => void) => {
      back = fn;
      return () => {
        if (back === fn) back = undefined;
      };
    });
    const { inf } = setup({ source: Object.assign(source, { onServerBack }), backoff: { initialMs: 20_000, maxMs: 30_000, jitter: 0 } });
    source.listErrors.push(new Error('connect ECONNREFUSED'));
    inf.start();
    await tick();
    expect(source.lists.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(source.lists.length).toBe(1); // sleeping out 20 s
    expect(back).toBeDefined();
    back?.(); // another request of the process got an answer
    await tick();
    expect(source.lists.length).toBe(2);
    expect(inf.hasSynced()).toBe(true);
    expect(back).toBeUndefined(); // unregistered once awake
    await inf.stop();
  });
});
