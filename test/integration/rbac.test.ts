// Least privilege, proven on the real API server. The operator runs as its own
// process with a token for the Helm chart's ServiceAccount, bound to exactly the
// chart's ClusterRole and leader-election Role, and nothing else:
//   - it syncs its caches, leads, and carries the main flows (create, repair,
//     prune, deletion under Retain and Delete) without a single refused request;
//   - with one needed rule taken away it fails that reconcile loudly (a logged
//     Forbidden error, a Forbidden condition, a Warning event), runs no database
//     without its NetworkPolicy, and keeps running; with the rule back it converges;
//   - the API server's audit log shows which (resource, verb) pairs it used, and
//     every pair the rules grant is either used or explained in config/rbac/rules.yaml;
//   - confined with watchNamespaces (Roles only, nothing cluster-wide) it works too.
// OPERATOR_KUBECONFIG_MODE=serviceaccount runs test/integration/operator.test.ts
// under the same identity.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { V1PolicyRule } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RULES_SOURCE, parseRules } from '../../hack/sync-generated.js';
import { apply, condition, exists, finwise, getJSON, secretData, smallApp, waitReady, type AppObject } from '../support/apps.js';
import { kubectlOk, useNamespace, waitFor } from '../support/cluster.js';
import { CHART, canI as canIAs, installChartIdentity, type ChartIdentity } from '../support/identity.js';
import { auditEvents, startOperator, type AuditEvent, type OperatorProcess } from '../support/operator.js';

const root = path.resolve(import.meta.dirname, '../..');
const LEASE = 'backendapp-operator.backendapp.io';
const system = useNamespace('rbac-system');
const ns = useNamespace('rbac-apps');

let id: ChartIdentity;
let operator: OperatorProcess;
let startedAt = 0;
/** When the rule was taken away and given back: the only time a 403 may happen. */
const forbiddenWindow = { from: Infinity, to: Infinity };

beforeAll(async () => {
  startedAt = Date.now();
  id = await installChartIdentity({ namespace: system.name, probeNamespace: ns.name });
  operator = await startOperator({ kubeconfig: id.kubeconfig, namespaces: [ns.name], leaderElect: true, leaderElectionNamespace: system.name });
});

afterAll(async () => {
  const code = await operator?.stop();
  await id?.remove();
  expect(code).toBe(0);
});

async function probe(path: '/healthz' | '/readyz'): Promise<number> {
  return (await fetch(`${operator.healthUrl()}${path}`)).status;
}

interface LogLine {
  level: string;
  msg: string;
  err?: string;
  reason?: string;
  namespace?: string;
  name?: string;
}

function logLines(from = 0): LogLine[] {
  return operator.lines.slice(from).flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
}

/**
 * The audit log is the local control plane's: on a $KUBECONFIG cluster these checks
 * fail and say so rather than pass having checked nothing.
 */
function requireAuditLog(): void {
  if (!inject('localCluster')) throw new Error("this check reads the API server's audit log: run it on the local control plane (unset KUBECONFIG)");
}

function canI(verb: string, resource: string): Promise<boolean> {
  return canIAs(id.user, verb, resource, ns.name);
}

async function setClusterRoleRules(rules: V1PolicyRule[]): Promise<void> {
  await kubectlOk(['patch', 'clusterrole', id.clusterRole!, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/rules', value: rules }])]);
}

describe('the operator as the chart ServiceAccount', () => {
  it('syncs its caches (/readyz 200) and takes the Lease in its own namespace', async () => {
    expect(id.clusterRole).toBeDefined();
    await waitFor('/readyz 200', async () => (await probe('/readyz')) === 200, 60_000);
    expect(await probe('/healthz')).toBe(200);
    expect(logLines().some((l) => l.msg === 'caches synced')).toBe(true);
    const lease = await waitFor('the Lease', () => getJSON<{ spec: { holderIdentity?: string } }>(system.name, `lease/${LEASE}`), 30_000);
    const identity = logLines().find((l) => l.msg === 'starting backendapp-operator') as { identity?: string } | undefined;
    expect(lease.spec.holderIdentity).toBe(identity?.identity);
    // It holds no more than the chart grants: nothing on pods, RBAC or other namespaces' leases.
    expect(await canI('get', 'pods')).toBe(false);
    expect(await canI('create', 'pods/exec')).toBe(false);
    expect(await canI('create', 'rolebindings.rbac.authorization.k8s.io')).toBe(false);
    expect(await canI('update', 'leases.coordination.k8s.io')).toBe(false);
  });

  it('runs the finwise example to Ready', async () => {
    await apply(finwise(ns.name));
    const app = await waitReady(ns.name, 'finwise', 150_000);
    expect(app.metadata.finalizers).toContain('backendapp.io/finalizer');
    expect(app.status?.components?.api).toEqual({ ready: 3, desired: 3 });
    for (const c of ['api', 'worker', 'beat', 'flower']) expect(await exists(ns.name, `deployment/finwise-${c}`)).toBe(true);
    for (const db of ['postgres', 'redis', 'mongodb']) {
      expect(await exists(ns.name, `statefulset/finwise-${db}`)).toBe(true);
      expect(await exists(ns.name, `networkpolicy/finwise-${db}`)).toBe(true);
      expect(await exists(ns.name, `secret/finwise-${db}-credentials`)).toBe(true);
    }
    expect(await exists(ns.name, 'hpa/finwise-api')).toBe(true);
    expect(await exists(ns.name, 'pdb/finwise-api')).toBe(true);
  });

  it('recreates hand-deleted children (twice, so a repeated event becomes a series)', async () => {
    for (let round = 0; round < 2; round++) {
      for (const child of ['service/finwise-api', 'networkpolicy/finwise-postgres']) {
        const before = await getJSON<{ metadata: { uid: string } }>(ns.name, child);
        await kubectlOk(['delete', '-n', ns.name, child, '--wait=true']);
        const after = await waitFor(
          `${child} recreated`,
          async () => {
            const o = await getJSON<{ metadata: { uid: string } }>(ns.name, child);
            return o && o.metadata.uid !== before?.metadata.uid ? o : undefined;
          },
          30_000,
        );
        expect(after.metadata.uid).not.toBe(before?.metadata.uid);
      }
    }
  });

  it('prunes components turned off (worker, MongoDB, the API autoscaler) and keeps retained data', async () => {
    const creds = await secretData(ns.name, 'finwise-mongodb-credentials');
    await kubectlOk([
      'patch',
      '-n',
      ns.name,
      'bapp/finwise',
      '--type=json',
      '-p',
      JSON.stringify([
        { op: 'remove', path: '/spec/worker' },
        { op: 'add', path: '/spec/beat/app', value: 'app.celery' },
        { op: 'remove', path: '/spec/databases/mongodb' },
        { op: 'remove', path: '/spec/api/autoscaling' },
      ]),
    ]);
    const gone = [
      'deployment/finwise-worker',
      'pdb/finwise-worker',
      'statefulset/finwise-mongodb',
      'service/finwise-mongodb',
      'networkpolicy/finwise-mongodb',
      'hpa/finwise-api',
    ];
    await waitFor('pruned', async () => {
      for (const o of gone) if (await exists(ns.name, o)) throw new Error(`${o} still exists`);
      return true;
    });
    expect(await exists(ns.name, 'pvc/data-finwise-mongodb-0')).toBe(true);
    expect(await secretData(ns.name, 'finwise-mongodb-credentials')).toEqual(creds);
    await waitReady(ns.name, 'finwise');
  });

  it('deletes apps: Retain keeps volumes and credentials, Delete removes them', async () => {
    const drop = smallApp(ns.name, 'drop', {
      databases: { postgres: { version: '15', storage: { size: '1Gi' }, deletionPolicy: 'Delete' }, redis: { version: '7', deletionPolicy: 'Delete' } },
    });
    // keep releases through a migration Job, so the Job rules are exercised too.
    await Promise.all([apply(smallApp(ns.name, 'keep', { migrations: { command: ['migrate'] } })), apply(drop)]);
    await Promise.all([waitReady(ns.name, 'keep'), waitReady(ns.name, 'drop')]);
    const creds = await secretData(ns.name, 'keep-postgres-credentials');
    expect(await exists(ns.name, 'pvc/data-drop-postgres-0')).toBe(true);
    await Promise.all(['keep', 'drop'].map((n) => kubectlOk(['delete', '-n', ns.name, `bapp/${n}`, '--wait=true', '--timeout=60s'], { timeoutMs: 70_000 })));
    await waitFor(
      'Delete carried out',
      async () =>
        !(await exists(ns.name, 'pvc/data-drop-postgres-0')) &&
        !(await exists(ns.name, 'secret/drop-postgres-credentials')) &&
        !(await exists(ns.name, 'secret/drop-redis-credentials')),
      60_000,
    );
    await waitFor('workloads collected', async () => !(await exists(ns.name, 'deployment/keep-api')) && !(await exists(ns.name, 'statefulset/keep-postgres')));
    expect(await exists(ns.name, 'pvc/data-keep-postgres-0')).toBe(true);
    expect(await secretData(ns.name, 'keep-postgres-credentials')).toEqual(creds);
  });

  it('was refused nothing on the way (no Forbidden in its logs, no 403 in the audit log)', async () => {
    expect(logLines().filter((l) => /forbidden|\b403\b/i.test(`${l.err ?? ''} ${l.reason ?? ''}`))).toEqual([]);
    requireAuditLog();
    await new Promise((r) => setTimeout(r, 2_500)); // written in batches of at most 1 s
    const events = auditEvents(id.user, startedAt);
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.code === 403)).toEqual([]);
  });
});

describe('with a needed rule taken away', () => {
  let original: V1PolicyRule[] = [];

  it('fails the reconcile with a logged Forbidden error and a Forbidden condition, and keeps running', async () => {
    const role = JSON.parse(await kubectlOk(['get', 'clusterrole', id.clusterRole!, '-o', 'json'])) as { rules: V1PolicyRule[] };
    original = role.rules;
    // Server-side apply of an object that does not exist yet is a PATCH, but the API
    // server also checks `create` for it: take `create` on NetworkPolicies away.
    const without = original.map((r) => (r.resources?.includes('networkpolicies') ? { ...r, verbs: r.verbs.filter((v) => v !== 'create') } : r));
    expect(without).not.toEqual(original);
    forbiddenWindow.from = Date.now();
    await setClusterRoleRules(without);
    await waitFor('create networkpolicies to be refused', async () => !(await canI('create', 'networkpolicies.networking.k8s.io')), 30_000);
    expect(await canI('patch', 'networkpolicies.networking.k8s.io')).toBe(true);

    const from = operator.lines.length;
    await apply(smallApp(ns.name, 'locked'));
    const app = await waitFor(
      'a Forbidden condition on bapp/locked',
      async () => {
        const a = await getJSON<AppObject>(ns.name, 'bapp/locked');
        return condition(a, 'Ready')?.reason === 'Forbidden' ? a : undefined;
      },
      60_000,
    );
    const ready = condition(app, 'Ready')!;
    expect(ready.status).toBe('False');
    expect(condition(app, 'Degraded')).toMatchObject({ status: 'True', reason: 'Forbidden' });
    expect(ready.message).toMatch(/^The operator is not allowed to do this; check its RBAC rules: /);
    expect(ready.message).toContain(
      `User "${id.user}" cannot create resource "networkpolicies" in API group "networking.k8s.io" in the namespace "${ns.name}"`,
    );
    expect((app as { status?: { phase?: string } }).status?.phase).toBe('Failed');

    // The error, as the operator logged it: one JSON line naming the app, the
    // request and the refused permission.
    const logged = await waitFor('a logged Forbidden reconcile error', async () =>
      logLines(from).find((l) => l.msg === 'Reconciler error' && l.name === 'locked' && /403 Forbidden/.test(l.err ?? '')),
    );
    expect(logged).toMatchObject({ level: 'error', namespace: ns.name, name: 'locked' });
    expect(logged.err).toMatch(/^PATCH \/apis\/networking\.k8s\.io\/v1\/namespaces\/[^/]+\/networkpolicies\/locked-(postgres|redis): 403 Forbidden: /);
    expect(logged.err).toContain('cannot create resource "networkpolicies"');
    expect(logLines(from).some((l) => l.level === 'warn' && l.reason === 'Forbidden' && l.name === 'locked')).toBe(true);
    const events = await kubectlOk(['events', '-n', ns.name, '--for', 'backendapp/locked', '--types=Warning']);
    expect(events).toMatch(/Forbidden\s+BackendApp\/locked\s+The operator is not allowed to do this/);

    // Not a crash: the process runs, answers its probes, and keeps retrying.
    expect(operator.proc.exitCode).toBeNull();
    expect(await probe('/healthz')).toBe(200);
    expect(await probe('/readyz')).toBe(200);
    await waitFor('a retry', async () => logLines(from).filter((l) => l.msg === 'Reconciler error' && l.name === 'locked').length >= 2, 30_000);
    expect(operator.proc.exitCode).toBeNull();
    // Secrets go first, NetworkPolicies next, the rest only after them: with its
    // policy refused, no database runs unprotected.
    expect(await exists(ns.name, 'secret/locked-postgres-credentials')).toBe(true);
    for (const db of ['postgres', 'redis']) expect(await exists(ns.name, `statefulset/locked-${db}`)).toBe(false);
    // The other apps are unaffected.
    expect(condition(await getJSON<AppObject>(ns.name, 'bapp/finwise'), 'Ready')?.status).toBe('True');
  });

  it('converges once the rule is back, with no further help', async () => {
    await setClusterRoleRules(original);
    await waitFor('create networkpolicies to be allowed', () => canI('create', 'networkpolicies.networking.k8s.io'), 30_000);
    // The retry backs off exponentially while refused (5 ms doubling, as in
    // controller-runtime), so the wait can be about as long as the refusal lasted.
    const app = await waitReady(ns.name, 'locked', 150_000);
    forbiddenWindow.to = Date.now();
    expect(condition(app, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    for (const db of ['postgres', 'redis']) expect(await exists(ns.name, `networkpolicy/locked-${db}`)).toBe(true);
    expect(operator.proc.exitCode).toBeNull();
  });
});

describe('what it asked the API server for (audit log)', () => {
  it('used, or explains in its rules, every (resource, verb) it is granted; refused only what was taken away', async () => {
    requireAuditLog();
    await new Promise((r) => setTimeout(r, 2_500));
    const events = auditEvents(id.user, startedAt);
    const grants = [
      ...documentedRules(readFileSync(path.join(root, RULES_SOURCE), 'utf8'), parseRules(readFileSync(path.join(root, RULES_SOURCE), 'utf8')), RULES_SOURCE),
      ...documentedRules(
        readFileSync(path.join(CHART, 'templates/leader-election-rbac.yaml'), 'utf8'),
        id.objects.find((o) => o.kind === 'Role')!.rules as V1PolicyRule[],
        'charts/backendapp-operator/templates/leader-election-rbac.yaml',
      ),
    ];

    // Requests of no resource need no rule of ours: every authenticated user may
    // read the API server's health and version (the default ClusterRole
    // system:public-info-viewer). The operator reads /readyz for its own /readyz.
    const publicInfo = new Set(['/healthz', '/livez', '/readyz', '/version']);
    const nonResource = events.filter((e) => e.nonResourcePath !== undefined);
    expect(nonResource.filter((e) => !publicInfo.has(e.nonResourcePath!) || e.code === 403)).toEqual([]);

    // Every request of a resource, by (group/resource, verb) and answer.
    const used = new Map<string, AuditEvent[]>();
    for (const e of events) {
      if (e.nonResourcePath !== undefined) continue;
      const k = `${resourceKey(e.apiGroup, e.subresource ? `${e.resource}/${e.subresource}` : e.resource)} ${e.verb}`;
      used.set(k, [...(used.get(k) ?? []), e]);
    }
    const rows: { grant: string; verb: string; requests: number; refused: number; status: string }[] = [];
    const unexplained: string[] = [];
    for (const g of grants) {
      for (const group of g.rule.apiGroups ?? []) {
        for (const resource of g.rule.resources ?? []) {
          for (const verb of g.rule.verbs) {
            const seen = used.get(`${resourceKey(group, resource)} ${verb}`) ?? [];
            const explained = g.comment.includes(`\`${verb}\``);
            if (seen.length === 0 && !explained) unexplained.push(`${resourceKey(group, resource)} ${verb} (${g.file})`);
            rows.push({
              grant: resourceKey(group, resource),
              verb,
              requests: seen.length,
              refused: seen.filter((e) => e.code === 403).length,
              status: seen.length > 0 ? 'used' : explained ? 'explained' : 'UNUSED',
            });
          }
        }
      }
    }
    console.log(`requests of ${id.user}, ${events.length} in all:`);
    console.table(rows);

    // Nothing it asked for fell outside the rules...
    const granted = new Set(rows.map((r) => `${r.grant} ${r.verb}`));
    expect([...used.keys()].filter((k) => !granted.has(k))).toEqual([]);
    // ...every grant earned its place...
    expect(unexplained, `granted but never used, and no \`verb\` reason in the rule's comment`).toEqual([]);
    // ...and the only refusals were the NetworkPolicy writes while `create` was taken away.
    const refused = events.filter((e) => e.code === 403);
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) {
      expect(e).toMatchObject({ apiGroup: 'networking.k8s.io', resource: 'networkpolicies', verb: 'patch', namespace: ns.name });
      expect(e.at).toBeGreaterThanOrEqual(forbiddenWindow.from);
      expect(e.at).toBeLessThanOrEqual(forbiddenWindow.to);
    }
  });
});

function resourceKey(group: string, resource: string): string {
  return `${group === '' ? 'core' : group}/${resource}`;
}

/**
 * Pairs each rule with the comment block just above its `- apiGroups:` line in
 * `text` (rules in file order), where unused verbs must be explained as `verb`.
 */
function documentedRules(text: string, rules: V1PolicyRule[], file: string): { rule: V1PolicyRule; comment: string; file: string }[] {
  const lines = text.split('\n');
  const comments: string[] = [];
  lines.forEach((line, i) => {
    if (!/^\s*- apiGroups:/.test(line)) return;
    const block: string[] = [];
    for (let j = i - 1; j >= 0 && /^\s*#/.test(lines[j]!); j--) block.unshift(lines[j]!.trim());
    comments.push(block.join('\n'));
  });
  expect(comments, `${file}: one comment block per rule`).toHaveLength(rules.length);
  return rules.map((rule, i) => ({ rule, comment: comments[i]!, file }));
}

describe('confined to listed namespaces (watchNamespaces: Roles only, nothing cluster-wide)', () => {
  const confinedSystem = useNamespace('rbac-ns-system');
  const confinedApps = useNamespace('rbac-ns-apps');
  let confined: ChartIdentity;
  let op: OperatorProcess;
  let since = 0;

  beforeAll(async () => {
    since = Date.now();
    confined = await installChartIdentity({
      namespace: confinedSystem.name,
      probeNamespace: confinedApps.name,
      set: [`watchNamespaces={${confinedApps.name}}`],
    });
    op = await startOperator({
      kubeconfig: confined.kubeconfig,
      namespaces: [confinedApps.name],
      leaderElect: true,
      leaderElectionNamespace: confinedSystem.name,
    });
  });

  afterAll(async () => {
    const code = await op?.stop();
    await confined?.remove();
    expect(code).toBe(0);
  });

  it('runs an app to Ready and deletes it with a Role in the watched namespace and nothing else', async () => {
    expect(confined.objects.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);
    expect(
      confined.objects
        .filter((o) => o.kind === 'Role')
        .map((o) => o.metadata.namespace)
        .sort(),
    ).toEqual([confinedApps.name, confinedSystem.name].sort());
    expect(await canIAs(confined.user, 'list', 'backendapps.backendapp.io', confinedApps.name)).toBe(true);
    expect(await canIAs(confined.user, 'list', 'backendapps.backendapp.io', ns.name)).toBe(false);
    await waitFor('/readyz 200', async () => (await fetch(`${op.healthUrl()}/readyz`)).status === 200, 60_000);

    const app = smallApp(confinedApps.name, 'confined', {
      databases: { postgres: { version: '15', storage: { size: '1Gi' }, deletionPolicy: 'Delete' }, redis: { version: '7' } },
    });
    await apply(app);
    await waitReady(confinedApps.name, 'confined');
    await kubectlOk(['delete', '-n', confinedApps.name, 'bapp/confined', '--wait=true', '--timeout=60s'], { timeoutMs: 70_000 });
    await waitFor('claims removed under Delete', async () => !(await exists(confinedApps.name, 'pvc/data-confined-postgres-0')), 60_000);

    expect(op.proc.exitCode).toBeNull();
    expect(op.lines.filter((l) => /forbidden/i.test(l))).toEqual([]);
    requireAuditLog();
    await new Promise((r) => setTimeout(r, 2_500));
    const events = auditEvents(confined.user, since);
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.code === 403)).toEqual([]);
  });
});
