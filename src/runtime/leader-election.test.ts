import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sendJSON, startFakeApiServer, status, type FakeApiServer } from './fake-apiserver.test-util.js';
import { isConflict, isNotFound, KubeApiError } from './client.js';
import { formatMicroTime, kubeLeaseClient, LeaderElector, type LeaderElectionOptions, type LeaseClient } from './leader-election.js';
import { Metrics } from './metrics.js';
import { FakeLease } from './testing.test-util.js';

function elector(lease: FakeLease, identity: string, extra: Partial<LeaderElectionOptions> = {}) {
  const log: string[] = [];
  const e = new LeaderElector({
    client: lease.client(),
    name: 'backendapp-operator',
    identity,
    random: () => 0,
    onStartedLeading: () => log.push('started'),
    onStoppedLeading: () => log.push('stopped'),
    onNewLeader: (id) => log.push(`leader:${id}`),
    ...extra,
  });
  return { e, log };
}

describe('LeaderElector', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('creates the lease when absent, leads, reports the metric, and renews every retry period', async () => {
    const lease = new FakeLease();
    const metrics = new Metrics({ defaultMetrics: false, prefix: 'test' });
    const { e, log } = elector(lease, 'a', { metrics });
    const ac = new AbortController();
    const run = e.run(ac.signal);
    await vi.advanceTimersByTimeAsync(0);
    expect(e.isLeader()).toBe(true);
    expect(log).toEqual(['leader:a', 'started']);
    expect(lease.record).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(await metrics.registry.metrics()).toContain('leader_election_master_status{name="backendapp-operator"} 1');
    const firstRenew = lease.record?.renewTime;
    const acquire = lease.record?.acquireTime;
    await vi.advanceTimersByTimeAsync(2000);
    expect(lease.record?.renewTime).not.toBe(firstRenew);
    expect(lease.record?.acquireTime).toBe(acquire);
    // Renewals take the fast path: an update without a GET.
    lease.calls.length = 0;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lease.calls).toEqual(['update', 'update', 'update', 'update', 'update']);
    ac.abort();
    await expect(run).resolves.toBe('stopped');
    expect(await metrics.registry.metrics()).toContain('leader_election_master_status{name="backendapp-operator"} 0');
  });

  it('writes MicroTime with six fractional digits', () => {
    expect(formatMicroTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).toBe('2025-01-02T03:04:05.678000Z');
  });

  it('waits while another holder keeps renewing, and takes over once it stops renewing', async () => {
    const lease = new FakeLease();
    // A's own connection to the API server can be cut while B's keeps working.
    const aClient = lease.client();
    let aCut = false;
    const cut = <T>(fn: () => Promise<T>) => (aCut ? Promise.reject(new Error('connection refused')) : fn());
    const a = elector(lease, 'a', {
      client: {
        get: (s) => cut(() => aClient.get(s)),
        create: (r, s) => cut(() => aClient.create(r, s)),
        update: (r, s) => cut(() => aClient.update(r, s)),
      },
    });
    const b = elector(lease, 'b');
    const runA = a.e.run(new AbortController().signal);
    await vi.advanceTimersByTimeAsync(0);
    const acB = new AbortController();
    const runB = b.e.run(acB.signal);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(a.e.isLeader()).toBe(true);
    expect(b.e.isLeader()).toBe(false);
    expect(b.log).toEqual(['leader:a']);

    aCut = true;
    const lastRenew = Date.now();
    let aOutcome: string | undefined;
    void runA.then((o) => (aOutcome = o));
    // A stops leading within retryPeriod + renewDeadline (12 s) of its last
    // renewal, before the lease expires for B (15 s after B last saw it
    // change): never two leaders at once.
    await vi.advanceTimersByTimeAsync(12_000);
    expect(aOutcome).toBe('lost');
    expect(b.e.isLeader()).toBe(false);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(b.e.isLeader()).toBe(true);
    expect(Date.now() - lastRenew).toBeGreaterThanOrEqual(15_000);
    expect(lease.record?.leaseTransitions).toBe(1);
    expect(b.log).toEqual(['leader:a', 'leader:b', 'started']);
    acB.abort();
    await runB;
  });

  it('does not take a held lease before it expires, then takes it with leaseTransitions+1', async () => {
    const lease = new FakeLease();
    // Another process wrote this lease and then died without releasing it.
    lease.record = {
      holderIdentity: 'dead',
      leaseDurationSeconds: 15,
      acquireTime: formatMicroTime(0),
      renewTime: formatMicroTime(0),
      leaseTransitions: 4,
    };
    lease.rv = 1;
    const { e, log } = elector(lease, 'b');
    const ac = new AbortController();
    const run = e.run(ac.signal);
    await vi.advanceTimersByTimeAsync(14_000);
    expect(e.isLeader()).toBe(false);
    expect(log).toEqual(['leader:dead']);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(e.isLeader()).toBe(true);
    expect(lease.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 5 });
    ac.abort();
    await run;
  });

  it('gives up leadership when it cannot renew within the renew deadline', async () => {
    const lease = new FakeLease();
    const { e, log } = elector(lease, 'a');
    const run = e.run(new AbortController().signal);
    await vi.advanceTimersByTimeAsync(0);
    expect(e.isLeader()).toBe(true);
    await vi.advanceTimersByTimeAsync(2_000); // one more successful renewal at t=2s
    lease.failWith = new KubeApiError(503, 'ServiceUnavailable', 'apiserver down');
    let outcome: string | undefined;
    void run.then((o) => (outcome = o));
    // The next cycle starts at 4 s with a deadline of 4 + 10 s; attempts at
    // 4, 6, 8, 10, 12 s all fail.
    await vi.advanceTimersByTimeAsync(11_900);
    expect(outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(200);
    expect(outcome).toBe('lost');
    expect(log).toEqual(['leader:a', 'started', 'stopped']);
    // It did not try to release: it no longer knows it holds the lease.
    expect(lease.record?.holderIdentity).toBe('a');
  });

  it('gives up on time even when lease requests hang', async () => {
    const lease = new FakeLease();
    const healthy = lease.client();
    let hang = false;
    const client: LeaseClient = {
      get: (s) => (hang ? new Promise(() => {}) : healthy.get(s)),
      create: (r, s) => (hang ? new Promise(() => {}) : healthy.create(r, s)),
      update: (r, s) => (hang ? new Promise(() => {}) : healthy.update(r, s)),
    };
    const e = new LeaderElector({ client, name: 'l', identity: 'a', random: () => 0 });
    let outcome: string | undefined;
    void e.run(new AbortController().signal).then((o) => (outcome = o));
    await vi.advanceTimersByTimeAsync(0);
    expect(e.isLeader()).toBe(true);
    hang = true;
    await vi.advanceTimersByTimeAsync(2_000 + 10_000 + 100);
    expect(outcome).toBe('lost');
  });

  it('falls back to a GET when an optimistic renewal conflicts, and keeps leading', async () => {
    const lease = new FakeLease();
    const { e } = elector(lease, 'a');
    const ac = new AbortController();
    const run = e.run(ac.signal);
    await vi.advanceTimersByTimeAsync(0);
    // Someone touched the lease (e.g. added a label): our resourceVersion is stale.
    lease.rv++;
    lease.calls.length = 0;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(lease.calls).toEqual(['update', 'get', 'update']);
    expect(e.isLeader()).toBe(true);
    ac.abort();
    await run;
  });

  it('loses the race cleanly when another candidate wins the same update (409)', async () => {
    const lease = new FakeLease();
    lease.record = { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: '', renewTime: '', leaseTransitions: 2 };
    lease.rv = 1;
    const a = elector(lease, 'a');
    const b = elector(lease, 'b');
    const ac = new AbortController();
    const runs = [a.e.run(ac.signal), b.e.run(ac.signal)];
    await vi.advanceTimersByTimeAsync(0);
    expect([a.e.isLeader(), b.e.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(lease.record?.leaseTransitions).toBe(3);
    await vi.advanceTimersByTimeAsync(60_000);
    expect([a.e.isLeader(), b.e.isLeader()].filter(Boolean)).toHaveLength(1);
    ac.abort();
    await Promise.all(runs);
  });

  it('releases the lease on cancel (empty holder, 1 s duration) so a standby takes over at once', async () => {
    const lease = new FakeLease();
    const a = elector(lease, 'a');
    const b = elector(lease, 'b');
    const acA = new AbortController();
    const acB = new AbortController();
    const runA = a.e.run(acA.signal);
    await vi.advanceTimersByTimeAsync(0);
    const runB = b.e.run(acB.signal);
    await vi.advanceTimersByTimeAsync(3_000);
    acA.abort();
    await expect(runA).resolves.toBe('stopped');
    expect(lease.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(a.log).toEqual(['leader:a', 'started', 'stopped']);
    // B sees the empty holder on its next try (2 s period, no jitter with random()=0).
    await vi.advanceTimersByTimeAsync(2_100);
    expect(b.e.isLeader()).toBe(true);
    expect(lease.record).toMatchObject({ holderIdentity: 'b', leaseDurationSeconds: 15, leaseTransitions: 1 });
    acB.abort();
    await runB;
  });

  it('returns without leading when cancelled during the campaign', async () => {
    const lease = new FakeLease();
    lease.record = { holderIdentity: 'other', leaseDurationSeconds: 15, acquireTime: '', renewTime: '', leaseTransitions: 0 };
    lease.rv = 1;
    const { e, log } = elector(lease, 'a');
    const ac = new AbortController();
    const run = e.run(ac.signal);
    await vi.advanceTimersByTimeAsync(5_000);
    ac.abort();
    await expect(run).resolves.toBe('stopped');
    expect(log).toEqual(['leader:other']);
    expect(lease.record?.holderIdentity).toBe('other');
  });

  it('validates the durations like client-go', () => {
    const client = new FakeLease().client();
    expect(() => new LeaderElector({ client, name: 'l', leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(
      /leaseDuration must be greater than renewDeadline/,
    );
    expect(() => new LeaderElector({ client, name: 'l', renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(
      /renewDeadline must be greater than retryPeriod\*1.2/,
    );
  });

  it('defaults the identity to hostname_uuid', () => {
    const e = new LeaderElector({ client: new FakeLease().client(), name: 'l' });
    expect(e.identity).toMatch(/^.+_[0-9a-f-]{36}$/);
  });
});

describe('kubeLeaseClient', () => {
  let api: FakeApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('gets (404), creates, and updates with the last resourceVersion and metadata', async () => {
    let stored: Record<string, unknown> | undefined;
    let rv = 0;
    api = await startFakeApiServer((req, _url, body, res) => {
      if (req.method === 'GET') {
        if (!stored) sendJSON(res, 404, status(404, 'NotFound', 'leases.coordination.k8s.io "op" not found'));
        else sendJSON(res, 200, stored);
        return;
      }
      const obj = JSON.parse(body) as { metadata: Record<string, unknown>; spec: unknown };
      if (req.method === 'PUT' && obj.metadata.resourceVersion !== String(rv)) {
        sendJSON(res, 409, status(409, 'Conflict', 'the object has been modified'));
        return;
      }
      rv++;
      stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv), labels: { keep: 'me' } } };
      sendJSON(res, req.method === 'POST' ? 201 : 200, stored);
    });
    const c = kubeLeaseClient(api.kc, 'ops', 'op');
    const err = await c.get().catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    const rec = { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: formatMicroTime(0), renewTime: formatMicroTime(0), leaseTransitions: 0 };
    await c.create(rec);
    expect(api.requests[1]?.method).toBe('POST');
    expect(api.requests[1]?.url.pathname).toBe('/apis/coordination.k8s.io/v1/namespaces/ops/leases');
    await c.update({ ...rec, renewTime: formatMicroTime(2000) });
    const put = JSON.parse(api.requests[2]?.body ?? '{}') as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    expect(api.requests[2]?.url.pathname).toBe('/apis/coordination.k8s.io/v1/namespaces/ops/leases/op');
    expect(put.metadata.resourceVersion).toBe('1');
    expect(put.metadata.labels).toEqual({ keep: 'me' });
    expect(put.spec).toEqual({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: '1970-01-01T00:00:00.000000Z',
      renewTime: '1970-01-01T00:00:02.000000Z',
      leaseTransitions: 0,
    });
    expect(await c.get()).toMatchObject({ holderIdentity: 'a', renewTime: '1970-01-01T00:00:02.000000Z' });
    // A second client with a stale view loses with 409.
    const other = kubeLeaseClient(api.kc, 'ops', 'op');
    await other.get();
    await c.update(rec);
    const conflict = await other.update(rec).catch((e: unknown) => e);
    expect(isConflict(conflict)).toBe(true);
  });

  it('refuses to update before it has read the lease', async () => {
    api = await startFakeApiServer((_req, _url, _body, res) => sendJSON(res, 500, {}));
    await expect(
      kubeLeaseClient(api.kc, 'ops', 'op').update({ holderIdentity: '', leaseDurationSeconds: 1, acquireTime: '', renewTime: '', leaseTransitions: 0 }),
    ).rejects.toThrow(/before get or create/);
  });
});
