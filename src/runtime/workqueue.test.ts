import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LOW_PRIORITY, BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter, WorkQueue, type QueueMetrics } from './workqueue.js';

function recordingMetrics() {
  const m = {
    depth: 0,
    adds: 0,
    retries: 0,
    queueDurations: [] as number[],
    workDurations: [] as number[],
  };
  const hooks: QueueMetrics = {
    depth: { inc: () => void m.depth++, dec: () => void m.depth-- },
    adds: { inc: () => void m.adds++ },
    retries: { inc: () => void m.retries++ },
    queueDuration: { observe: (s) => void m.queueDurations.push(s) },
    workDuration: { observe: (s) => void m.workDurations.push(s) },
  };
  return { m, hooks };
}

async function getItem(q: WorkQueue): Promise<string> {
  const r = await q.get();
  if (r.shutdown) throw new Error('queue shut down');
  return r.item;
}

describe('WorkQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('collapses repeated adds of a waiting item', async () => {
    const { m, hooks } = recordingMetrics();
    const q = new WorkQueue({ metrics: hooks });
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.len()).toBe(2);
    expect(m.adds).toBe(2);
    expect(await getItem(q)).toBe('ns/a');
    expect(await getItem(q)).toBe('ns/b');
    expect(q.len()).toBe(0);
  });

  it('hands out the highest priority first, FIFO within a priority', async () => {
    const q = new WorkQueue();
    q.add('low-1', LOW_PRIORITY);
    q.add('normal-1');
    q.add('low-2', LOW_PRIORITY);
    q.add('high', 10);
    q.add('normal-2');
    expect(q.len()).toBe(5);
    const order: string[] = [];
    for (let i = 0; i < 5; i++) order.push(await getItem(q));
    expect(order).toEqual(['high', 'normal-1', 'normal-2', 'low-1', 'low-2']);
  });

  it('moves a waiting item up when it is added again with a higher priority, never down', async () => {
    const { m, hooks } = recordingMetrics();
    const q = new WorkQueue({ metrics: hooks });
    q.add('a', LOW_PRIORITY);
    q.add('b', LOW_PRIORITY);
    q.add('c');
    q.add('b'); // a change of the app itself: no longer waits behind the low ones
    q.add('c', LOW_PRIORITY); // a child event of an app already waiting: stays where it is
    expect(q.len()).toBe(3);
    expect(m.adds).toBe(3);
    expect(m.depth).toBe(3);
    expect([await getItem(q), await getItem(q), await getItem(q)]).toEqual(['c', 'b', 'a']);
  });

  it('puts an item added during processing back with the highest priority it was added with', async () => {
    const q = new WorkQueue();
    q.add('a');
    expect(await getItem(q)).toBe('a');
    q.add('a', LOW_PRIORITY);
    q.add('b', LOW_PRIORITY);
    q.add('a');
    q.done('a');
    expect([await getItem(q), await getItem(q)]).toEqual(['a', 'b']);
  });

  it('never hands the same item to two workers; an add while processing waits for done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await getItem(q);
    expect(first).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    let second: string | undefined;
    void q.get().then((r) => {
      if (!r.shutdown) second = r.item;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(second).toBeUndefined();
    q.done('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(second).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('does not re-queue an item on done() if nobody added it meanwhile', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.done(await getItem(q));
    expect(q.len()).toBe(0);
    expect(q.processingCount()).toBe(0);
  });

  it('wakes a waiting get() when an item is added', async () => {
    const q = new WorkQueue();
    const got = q.get();
    q.add('x');
    await expect(got).resolves.toEqual({ shutdown: false, item: 'x' });
  });

  it('hands distinct items to concurrent getters', async () => {
    const q = new WorkQueue();
    const g1 = q.get();
    const g2 = q.get();
    q.add('a');
    q.add('b');
    const items = [await g1, await g2].map((r) => (r.shutdown ? '' : r.item)).sort();
    expect(items).toEqual(['a', 'b']);
  });

  it('addAfter adds once the delay has passed, keeping the earliest deadline', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 1000);
    q.addAfter('a', 300);
    q.addAfter('a', 5000);
    await vi.advanceTimersByTimeAsync(299);
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.len()).toBe(1);
    await getItem(q);
    q.done('a');
    // The superseded 1000 ms and 5000 ms deadlines must not fire later.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(q.len()).toBe(0);
  });

  it('addAfter with a non-positive delay adds at once', () => {
    const q = new WorkQueue();
    q.addAfter('a', 0);
    expect(q.len()).toBe(1);
  });

  it('addRateLimited backs off exponentially per item and forget() resets it', async () => {
    const { m, hooks } = recordingMetrics();
    const q = new WorkQueue({ metrics: hooks, rateLimiter: new ItemExponentialFailureRateLimiter(5, 1_000_000) });
    q.addRateLimited('a');
    expect(q.numRequeues('a')).toBe(1);
    await vi.advanceTimersByTimeAsync(4);
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.len()).toBe(1);
    q.done(await getItem(q));

    q.addRateLimited('a'); // second failure: 10 ms
    await vi.advanceTimersByTimeAsync(9);
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.len()).toBe(1);
    q.done(await getItem(q));
    expect(m.retries).toBe(2);

    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
    q.addRateLimited('a'); // back to 5 ms
    await vi.advanceTimersByTimeAsync(5);
    expect(q.len()).toBe(1);
  });

  it('shutDownWithDrain stops handing out work and waits for in-flight items', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('c');
    const a = await getItem(q);
    const b = await getItem(q);
    let drained = false;
    const drain = q.shutDownWithDrain().then(() => {
      drained = true;
    });
    // 'c' is still queued, but no new work is handed out after shutdown.
    await expect(q.get()).resolves.toEqual({ shutdown: true });
    q.add('d');
    expect(q.len()).toBe(1);
    q.done(a);
    await vi.advanceTimersByTimeAsync(0);
    expect(drained).toBe(false);
    q.done(b);
    await drain;
    expect(drained).toBe(true);
  });

  it('wakes idle getters on shutdown', async () => {
    const q = new WorkQueue();
    const idle = [q.get(), q.get()];
    q.shutDown();
    await expect(Promise.all(idle)).resolves.toEqual([{ shutdown: true }, { shutdown: true }]);
  });

  it('drops delayed adds on shutdown', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 100);
    q.shutDown();
    await vi.advanceTimersByTimeAsync(1000);
    expect(q.len()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves shutDownWithDrain at once when nothing is in flight', async () => {
    const q = new WorkQueue();
    await expect(q.shutDownWithDrain()).resolves.toBeUndefined();
    expect(q.shuttingDown()).toBe(true);
  });

  it('reports depth, queue and work durations, unfinished work', async () => {
    let now = 0;
    const { m, hooks } = recordingMetrics();
    const q = new WorkQueue({ metrics: hooks, clock: () => now });
    q.add('a');
    q.add('b');
    expect(m.depth).toBe(2);
    now = 2000;
    await getItem(q);
    expect(m.depth).toBe(1);
    expect(m.queueDurations).toEqual([2]);
    now = 2500;
    await getItem(q);
    now = 3000;
    expect(q.unfinishedWorkSeconds()).toBeCloseTo(1.5); // a: 1 s, b: 0.5 s
    expect(q.longestRunningProcessorSeconds()).toBeCloseTo(1);
    q.done('a');
    expect(m.workDurations).toEqual([1]);
    q.done('b');
    expect(q.unfinishedWorkSeconds()).toBe(0);
    expect(q.longestRunningProcessorSeconds()).toBe(0);
  });

  it('counts an add during processing in depth, like client-go', async () => {
    const { m, hooks } = recordingMetrics();
    const q = new WorkQueue({ metrics: hooks });
    q.add('a');
    await getItem(q);
    expect(m.depth).toBe(0);
    q.add('a');
    expect(m.depth).toBe(1);
    expect(m.adds).toBe(2);
    q.done('a');
    await getItem(q);
    expect(m.depth).toBe(0);
  });
});

describe('ItemExponentialFailureRateLimiter', () => {
  it('doubles from 5 ms and caps at 1000 s', () => {
    const rl = new ItemExponentialFailureRateLimiter();
    const delays = Array.from({ length: 20 }, () => rl.when('x'));
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    expect(delays[17]).toBe(655_360);
    expect(delays[18]).toBe(1_000_000);
    expect(delays[19]).toBe(1_000_000);
    expect(rl.when('y')).toBe(5); // per item
    for (let i = 0; i < 2000; i++) rl.when('z');
    expect(rl.when('z')).toBe(1_000_000); // 2^2000 is Infinity; still capped
  });
});

describe('BucketRateLimiter', () => {
  it('allows a burst, then spaces items at 1/qps', () => {
    let now = 0;
    const rl = new BucketRateLimiter(10, 3, () => now);
    expect([rl.when(), rl.when(), rl.when()]).toEqual([0, 0, 0]);
    expect(rl.when()).toBeCloseTo(100);
    expect(rl.when()).toBeCloseTo(200);
    now = 1000; // refilled by 10 tokens, capped at burst 3, minus the 2 reserved
    expect(rl.when()).toBe(0);
  });
});

describe('MaxOfRateLimiter', () => {
  it('takes the longest delay and forgets in all limiters', () => {
    const now = 0;
    const item = new ItemExponentialFailureRateLimiter(5, 1000);
    const rl = new MaxOfRateLimiter(item, new BucketRateLimiter(1, 1, () => now));
    expect(rl.when('a')).toBe(5);
    expect(rl.when('a')).toBeCloseTo(1000); // the bucket is empty now
    expect(rl.numRequeues('a')).toBe(2);
    rl.forget('a');
    expect(item.numRequeues('a')).toBe(0);
  });
});
