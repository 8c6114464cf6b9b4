// Two operator processes with leader election: only the leader reconciles, and
// killing it hands over within the lease time.
import { afterAll, describe, expect, it } from 'vitest';
import { kubectlOk, useNamespace, waitFor } from '../support/cluster.js';
import { apply, smallApp, waitReady, getJSON } from '../support/apps.js';
import { identityOf, startOperator, type OperatorProcess } from '../support/operator.js';

const ns = useNamespace('leader');
const LEASE = 'backendapp-operator.backendapp.io';
const operators: OperatorProcess[] = [];

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
});

async function holder(): Promise<string> {
  const lease = await getJSON<{ spec: { holderIdentity?: string } }>(ns.name, `lease/${LEASE}`);
  return lease?.spec.holderIdentity ?? '';
}

async function metric(op: OperatorProcess, name: string): Promise<number> {
  const text = await (await fetch(op.metricsUrl())).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

describe('leader election', () => {
  it('lets only the leader reconcile and hands over within the lease time when it is killed', async () => {
    const opts = { namespaces: [ns.name], leaderElect: true, leaderElectionNamespace: ns.name };
    operators.push(await startOperator(opts), await startOperator(opts));
    const leaderId = await waitFor('a leader', async () => (await holder()) || undefined, 30_000);
    const leader = operators.find((o) => identityOf(o) === leaderId);
    const follower = operators.find((o) => identityOf(o) !== leaderId);
    if (!leader || !follower) throw new Error(`lease holder ${leaderId} is neither operator`);

    await apply(smallApp(ns.name, 'app'));
    await waitReady(ns.name, 'app');
    expect(await metric(leader, 'leader_election_master_status')).toBe(1);
    expect(await metric(follower, 'leader_election_master_status')).toBe(0);
    expect(await metric(leader, 'controller_runtime_reconcile_total')).toBeGreaterThan(0);
    expect(await metric(follower, 'controller_runtime_reconcile_total')).toBe(0);
    expect(follower.lines.some((l) => l.includes('applied children'))).toBe(false);

    await leader.kill();
    const killedAt = Date.now();
    const next = await waitFor(
      'a new leader',
      async () => {
        const h = await holder();
        return h && h !== leaderId ? h : undefined;
      },
      40_000,
      200,
    );
    const handoverMs = Date.now() - killedAt;
    console.log(`leader handover after SIGKILL: ${handoverMs} ms`);
    expect(next).toBe(identityOf(follower));
    // Lease 15 s + one 2 s retry, with room for a busy machine.
    expect(handoverMs).toBeLessThan(25_000);

    // The new leader does the work.
    await kubectlOk(['patch', '-n', ns.name, 'bapp/app', '--type=merge', '-p', '{"spec":{"image":"ghcr.io/acme/backend:2.0.0"}}']);
    await waitReady(ns.name, 'app');
    expect(await metric(follower, 'controller_runtime_reconcile_total')).toBeGreaterThan(0);
  });
});
