// Drill 2: two operator replicas with leader election, each with its own client
// identity (operator.kubeconfig and operator-2.kubeconfig of the local control
// plane), so the API server's audit log tells their requests apart. The leader is
// SIGKILLed while apps are being changed; the other takes over within the lease
// time and finishes the work, and the audit log shows that the two never wrote
// at the same time: every write of the old leader precedes every write of the new.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { useNamespace, waitFor } from '../support/cluster.js';
import type { Manifest } from '../support/apps.js';
import {
  BACKENDAPPS,
  CHILD_KINDS,
  applyManifest,
  ensureAvailablePVs,
  get,
  inParallel,
  list,
  mergePatch,
  requireLocalCluster,
  sleep,
  releaseApps,
  waitAllReady,
} from '../support/drills.js';
import { MUTATING_VERBS, auditEvents, identityOf, startOperator, type OperatorProcess } from '../support/operator.js';

const APPS = 20;
const LEASE = 'backendapp-operator.backendapp.io';
/** Lease 15 s, plus up to two 2 s retries with jitter (one to see the last renewal, one to take over), plus room for a loaded machine (20.8 s seen on two busy cores). */
const HANDOVER_BOUND_MS = 30_000;
const USERS = ['backendapp-operator-dev', 'backendapp-operator-dev-2'] as const;

const ns = useNamespace('drill-leader');
const operators: OperatorProcess[] = [];

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  await releaseApps(ns.name);
});

beforeAll(async () => {
  await ensureAvailablePVs(APPS / 5);
});

function app(i: number): Manifest {
  const spec: Record<string, unknown> = { image: 'ghcr.io/acme/backend:1.0.0', api: { port: 8000, replicas: 1 }, env: [{ name: 'REVISION', value: '0' }] };
  if (i % 5 === 0) spec.databases = { redis: { version: '7' } };
  return { apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', metadata: { name: `app-${i}`, namespace: ns.name }, spec };
}

async function holder(): Promise<string> {
  const lease = await get({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' }, ns.name, LEASE);
  return (lease?.spec?.holderIdentity as string | undefined) ?? '';
}

describe('drill 2: leader failover under change', () => {
  beforeAll(() => requireLocalCluster('drill 2'));

  it('the standby takes over within the lease time and finishes; the two never write at the same time', async () => {
    const dir = path.dirname(inject('kubeconfig'));
    const since = Date.now();
    await inParallel(
      Array.from({ length: APPS }, (_, i) => app(i)),
      10,
      (m) => applyManifest(m),
    );
    const opts = { namespaces: [ns.name], leaderElect: true, leaderElectionNamespace: ns.name, logLevel: 'info' };
    operators.push(
      await startOperator({ ...opts, kubeconfig: path.join(dir, 'operator.kubeconfig') }),
      await startOperator({ ...opts, kubeconfig: path.join(dir, 'operator-2.kubeconfig') }),
    );
    const leaderId = await waitFor('a leader', async () => (await holder()) || undefined, 30_000);
    const leaderIndex = operators.findIndex((o) => identityOf(o) === leaderId);
    expect(leaderIndex).toBeGreaterThanOrEqual(0);
    const leader = operators[leaderIndex] as OperatorProcess;
    const standby = operators[1 - leaderIndex] as OperatorProcess;
    const [leaderUser, standbyUser] = [USERS[leaderIndex] as string, USERS[1 - leaderIndex] as string];
    await waitAllReady(ns.name, APPS, 180_000);

    // Change every app, over and over, while the leader is killed in the middle.
    let revision = 0;
    let changing = true;
    const changer = (async () => {
      while (changing) {
        revision++;
        const r = String(revision);
        await inParallel(
          Array.from({ length: APPS }, (_, i) => i),
          5,
          (i) => mergePatch(BACKENDAPPS, ns.name, `app-${i}`, { spec: { env: [{ name: 'REVISION', value: r }] } }),
        );
        await sleep(200);
      }
    })();
    await sleep(5_000);
    await leader.kill();
    const killedAt = Date.now();
    const next = await waitFor(
      'a new leader',
      async () => {
        const h = await holder();
        return h && h !== leaderId ? h : undefined;
      },
      60_000,
      200,
    );
    const handoverMs = Date.now() - killedAt;
    expect(next).toBe(identityOf(standby));
    expect(handoverMs).toBeLessThan(HANDOVER_BOUND_MS);
    await sleep(3_000);
    changing = false;
    await changer;
    const finalRevision = String(revision);

    // The new leader finishes: every Deployment carries the last revision, every app is Ready.
    const deployments = CHILD_KINDS['apps/v1/Deployment'];
    if (!deployments) throw new Error('no Deployment kind');
    const finished = await waitFor(
      'every app on the last revision',
      async () => {
        const ds = await list(deployments, ns.name);
        const behind = ds.filter(
          (d) => d.spec?.template?.spec?.containers?.[0]?.env?.find((e: { name: string }) => e.name === 'REVISION')?.value !== finalRevision,
        );
        return ds.length === APPS && behind.length === 0 ? Date.now() : undefined;
      },
      120_000,
      500,
    );
    await waitAllReady(ns.name, APPS, 180_000);

    // The audit log: every mutating request of the old leader precedes every one of the new.
    await sleep(2_500); // audit batches are flushed every second
    const writes = (user: string) => auditEvents(user, since).filter((e) => MUTATING_VERBS.has(e.verb));
    const oldWrites = writes(leaderUser);
    const newWrites = writes(standbyUser);
    expect(oldWrites.length).toBeGreaterThan(0);
    expect(newWrites.length).toBeGreaterThan(0);
    const oldLast = Math.max(...oldWrites.map((e) => e.at));
    const newFirst = Math.min(...newWrites.map((e) => e.at));
    expect(oldLast, 'the old leader wrote after the new leader started writing').toBeLessThan(newFirst);
    // The new leader's first write is the Lease it took over, after the kill.
    expect(newFirst).toBeGreaterThan(killedAt);
    const firstNew = newWrites.find((e) => e.at === newFirst);
    expect(firstNew?.resource).toBe('leases');
    const childWritesOfNew = newWrites.filter((e) => e.resource !== 'leases' && e.resource !== 'events');
    expect(childWritesOfNew.length).toBeGreaterThan(0);
    console.log(
      `drill 2: ${APPS} apps changed ${revision} times; leader SIGKILLed, standby leading ${handoverMs} ms later, all apps on the last revision ${finished - killedAt} ms after the kill; ` +
        `audit: old leader ${oldWrites.length} writes (last ${killedAt - oldLast} ms before the kill), new leader ${newWrites.length} writes (first ${newFirst - killedAt} ms after the kill), no overlap`,
    );
  });
});
