// The six scenarios of issue #6. Each runs in namespaces of its own, with its
// own operator process where it needs one, and leaves nothing behind.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dump } from 'js-yaml';
import type { KubernetesObject } from '@kubernetes/client-node';
import { withAppliedHash } from '../src/controller/drift.js';
import { FIELD_MANAGER } from '../src/controller/cluster.js';
import { loadKubeConfig, requestJSON } from '../src/runtime/client.js';
import { appPath, appSet, manifest, objectPath, render, volumesPerApp, type Manifest, type Profile } from './apps.js';
import { countBy, MUTATING_VERBS, markAudit, readAudit, verbResource } from './audit.js';
import { controlPlaneCpu, cpuDelta, createNamespaces, deleteNamespaces, ensureAvailablePVs, log, runTool, NS_PREFIX, type Cluster } from './cluster.js';
import { isNotFound, pool, sleep } from './kube.js';
import { OperatorProcess, type OperatorBuild } from './operator.js';
import { Tracker } from './tracker.js';

export interface Options {
  apps: number;
  scenarios: string[];
  memoryAt: number[];
  singleRuns: number;
  peerApps: number;
  idleSeconds: number;
  concurrency: number;
  namespaces: number;
  profile: Profile;
  rounds: number;
  cpuProf: boolean;
  heapSnapshots: boolean;
  /** Idle time before measuring memory. */
  settleSeconds: number;
  /** Extra environment of the operator process. */
  operatorEnv: Record<string, string>;
  build: OperatorBuild;
  /** A bin/backendapp-operator.js to run instead of building one. */
  entry?: string;
  /** A second bin/backendapp-operator.js measured beside the first in converge and idle (A/B). */
  baselineEntry?: string;
  note: string;
}

export interface Ctx {
  cluster: Cluster;
  opts: Options;
  runId: string;
  /** The operator's bin/backendapp-operator.js. */
  entry: string;
  /** bench/results/tmp/<runId>: operator logs, charts, manifests, profiles. */
  workDir: string;
  /** Operators and namespaces to clean up if the run is interrupted. */
  live: { operators: Set<OperatorProcess>; namespaces: Set<string> };
}

interface Setup {
  namespaces: string[];
  operator?: OperatorProcess;
  tracker?: Tracker;
}

const key = (m: Manifest) => ({ namespace: m.metadata.namespace, name: m.metadata.name });
const s = (ms: number) => Math.round(ms) / 1000;

/**
 * Namespaces (with enough free volumes for `apps` apps), then optionally a tracker
 * and the operator watching them; everything is removed afterwards, operator first
 * so that cleaning up costs it nothing and it cannot slow the deletion.
 */
async function withSetup<T>(
  ctx: Ctx,
  name: string,
  o: { namespaces: number; apps: number; operator: boolean; tracker: boolean; watch?: (namespaces: string[]) => string[]; inspect?: boolean },
  body: (s: Setup) => Promise<T>,
): Promise<T> {
  const namespaces = Array.from({ length: o.namespaces }, (_, i) => `${NS_PREFIX}${ctx.runId}-${name}-${i}`);
  await ensureAvailablePVs(ctx.cluster, o.apps * volumesPerApp(ctx.opts.profile));
  for (const n of namespaces) ctx.live.namespaces.add(n);
  const setup: Setup = { namespaces };
  try {
    await createNamespaces(ctx.cluster, namespaces, ctx.runId);
    if (o.tracker) {
      setup.tracker = new Tracker(ctx.cluster.kubeconfig, namespaces);
      await setup.tracker.start();
    }
    if (o.operator) {
      setup.operator = await OperatorProcess.start({
        entry: ctx.entry,
        kubeconfig: ctx.cluster.operatorKubeconfig,
        namespaces: o.watch ? o.watch(namespaces) : namespaces,
        maxConcurrentReconciles: ctx.opts.concurrency,
        logFile: path.join(ctx.workDir, `operator-${name}.log`),
        env: ctx.opts.operatorEnv,
        ...(o.inspect ? { inspect: true } : {}),
        ...(ctx.opts.cpuProf ? { cpuProfDir: path.join(ctx.workDir, 'profiles', name) } : {}),
        ...(ctx.opts.heapSnapshots ? { heapSnapshotDir: path.join(ctx.workDir, 'heap', name) } : {}),
      });
      ctx.live.operators.add(setup.operator);
    }
    return await body(setup);
  } finally {
    if (setup.operator) {
      await setup.operator.stop();
      ctx.live.operators.delete(setup.operator);
    }
    await setup.tracker?.stop();
    log(`${name}: cleaning up ${namespaces.length} namespace(s)`);
    await deleteNamespaces(ctx.cluster, namespaces);
    for (const n of namespaces) ctx.live.namespaces.delete(n);
  }
}

/** Creates the BackendApps as a user would (server-side apply), all at once. */
async function createApps(ctx: Ctx, apps: Manifest[]): Promise<Map<string, string>> {
  const uids = new Map<string, string>();
  await pool(apps, 64, async (m) => {
    const res = await ctx.cluster.admin.apply<{ metadata: { uid: string } }>(appPath(m), m, 'bench');
    uids.set(`${m.metadata.namespace}/${m.metadata.name}`, res.metadata.uid);
  });
  return uids;
}

function expectAll(tracker: Tracker, apps: Manifest[]): void {
  for (const m of apps) tracker.expect(m.metadata.namespace, m.metadata.name, render(m));
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank, as most load tools report it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);

async function auditWindow(ctx: Ctx, namespaces: string[], ms: number) {
  const mark = markAudit(ctx.cluster.auditLog);
  await sleep(ms);
  // The audit log is written in batches of at most 1 s.
  await sleep(3000);
  const entries = await readAudit(mark, ctx.cluster.operatorUser, mark.atMs + ms, new Set(namespaces));
  return {
    requests: entries.length,
    mutating: entries.filter((e) => MUTATING_VERBS.has(e.verb)).length,
    byVerb: countBy(entries, (e) => e.verb),
    byRequest: countBy(entries, verbResource),
  };
}

// ---------------------------------------------------------------------------
// 1. Floor

export interface FloorResult {
  apps: number;
  objects: number;
  /**
   * Operator-shaped: C workers (the operator's --max-concurrent-reconciles), each
   * applying all of one app's objects at once. The operator's own ordering (Secrets,
   * then NetworkPolicies, then the rest) is not copied: it is the operator's cost.
   */
  floor_s: number;
  /** C requests in flight, one object each. */
  floor_object_s: number;
  applies_per_s: number;
  /** CPU seconds of each control-plane process during the timed applies (operator-shaped run). */
  control_plane_cpu_s: Record<string, number>;
}

export async function floor(ctx: Ctx, round: number): Promise<FloorResult> {
  const { apps: n, concurrency } = ctx.opts;
  const kc = loadKubeConfig({ kubeconfig: ctx.cluster.operatorKubeconfig });
  const apply = (o: KubernetesObject) =>
    requestJSON(kc, {
      method: 'PATCH',
      path: objectPath(o),
      query: { fieldManager: FIELD_MANAGER, force: true },
      contentType: 'application/apply-patch+yaml',
      body: o,
    });
  const run = async (mode: 'app' | 'object') =>
    withSetup(ctx, `floor${round}-${mode}`, { namespaces: ctx.opts.namespaces, apps: n, operator: false, tracker: false }, async ({ namespaces }) => {
      // The BackendApps exist (nobody reconciles them), so the children carry the same
      // owner references and hash annotation as the operator's, and the garbage
      // collector tracks them the same way. Only the children's applies are timed.
      const apps = appSet(ctx.opts.profile, namespaces, n);
      const uids = await createApps(ctx, apps);
      const desired = apps.map((m) =>
        render({ ...m, metadata: { ...m.metadata, uid: uids.get(`${m.metadata.namespace}/${m.metadata.name}`) as string } }).map(withAppliedHash),
      );
      const objects = desired.reduce((a, d) => a + d.length, 0);
      await sleep(2000);
      log(`floor (${mode}): applying ${objects} objects of ${n} apps, concurrency ${concurrency}`);
      const cpu0 = controlPlaneCpu(ctx.cluster);
      const t0 = performance.now();
      if (mode === 'app') {
        await pool(desired, concurrency, async (objs) => {
          await Promise.all(objs.map(apply));
        });
      } else {
        await pool(desired.flat(), concurrency, apply);
      }
      return { ms: performance.now() - t0, objects, cpu: cpuDelta(cpu0, controlPlaneCpu(ctx.cluster)) };
    });
  const byApp = await run('app');
  const byObject = await run('object');
  return {
    apps: n,
    objects: byApp.objects,
    floor_s: s(byApp.ms),
    floor_object_s: s(byObject.ms),
    applies_per_s: Math.round(byApp.objects / (byApp.ms / 1000)),
    control_plane_cpu_s: byApp.cpu,
  };
}

// ---------------------------------------------------------------------------
// 2. Operator converge

export interface ConvergeResult {
  apps: number;
  apply_s: number;
  children_s: number;
  converge_s: number;
  ready_s: number | null;
  ready_error?: string;
  operator_requests: Record<string, number>;
  operator_requests_per_app: number;
  /** Reconciles from the apply until every app was Ready (or the wait gave up). */
  reconciles: number;
  reconciles_per_app: number;
  operator_cpu_s: number;
  /** CPU seconds of each control-plane process from the apply until every app converged. */
  control_plane_cpu_s: Record<string, number>;
  rss_mb_before: number;
  rss_mb_after: number;
}

export async function converge(ctx: Ctx, round: number): Promise<ConvergeResult> {
  const n = ctx.opts.apps;
  return withSetup(
    ctx,
    `converge${round}`,
    { namespaces: ctx.opts.namespaces, apps: n, operator: true, tracker: true },
    async ({ namespaces, operator, tracker }) => {
      const op = operator as OperatorProcess;
      const tr = tracker as Tracker;
      const apps = appSet(ctx.opts.profile, namespaces, n);
      expectAll(tr, apps);
      await sleep(2000);
      const before = await op.resources();
      const reconciles0 = await op.reconciles();
      const mark = markAudit(ctx.cluster.auditLog);
      log(`converge: applying ${n} BackendApps at once`);
      const cpu0 = controlPlaneCpu(ctx.cluster);
      const t0 = performance.now();
      await createApps(ctx, apps);
      const applied = performance.now();
      const keys = apps.map(key);
      const children = await tr.waitAll(keys, ['childrenAt'], 60_000 + n * 1_000);
      const converged = await tr.waitAll(keys, ['childrenAt', 'observedAt'], 60_000 + n * 1_000);
      const cpu = cpuDelta(cpu0, controlPlaneCpu(ctx.cluster));
      log(`converge: ${s(converged - t0)} s; waiting for Ready`);
      let ready: number | null = null;
      let readyError: string | undefined;
      try {
        ready = await tr.waitAll(keys, ['readyAt'], 120_000 + n * 2_000);
      } catch (err) {
        readyError = String(err);
        log(`converge: ${readyError}`);
      }
      await op.waitIdle(3000, 120_000).catch(() => undefined);
      const after = await op.resources();
      const reconciles = (await op.reconciles()) - reconciles0;
      await sleep(3000);
      const entries = await readAudit(mark, ctx.cluster.operatorUser, Date.now(), new Set(namespaces));
      const res: ConvergeResult = {
        apps: n,
        apply_s: s(applied - t0),
        children_s: s(children - t0),
        converge_s: s(converged - t0),
        ready_s: ready === null ? null : s(ready - t0),
        operator_requests: countBy(entries, verbResource),
        operator_requests_per_app: Math.round((entries.length / n) * 10) / 10,
        reconciles,
        reconciles_per_app: Math.round((reconciles / n) * 10) / 10,
        operator_cpu_s: Math.round((after.cpuS - before.cpuS) * 100) / 100,
        control_plane_cpu_s: cpu,
        rss_mb_before: Math.round(before.rssMb),
        rss_mb_after: Math.round(after.rssMb),
      };
      if (readyError) res.ready_error = readyError;
      return res;
    },
  );
}

// ---------------------------------------------------------------------------
// 3. Single-app latency

export interface SingleResult {
  runs: number;
  /** The BackendApp create's round trip, a control for the API server's responsiveness. */
  apply_ms: number[];
  children_ms: number[];
  observed_ms: number[];
  ready_ms: number[];
  single_p50_ms: number;
  single_p95_ms: number;
  single_ready_p50_ms: number;
  single_ready_p95_ms: number;
}

export async function single(ctx: Ctx): Promise<SingleResult> {
  const runs = ctx.opts.singleRuns;
  return withSetup(ctx, 'single', { namespaces: 1, apps: runs + 1, operator: true, tracker: true }, async ({ namespaces, tracker }) => {
    const tr = tracker as Tracker;
    const ns = namespaces[0] as string;
    const applyMs: number[] = [];
    const children: number[] = [];
    const observed: number[] = [];
    const ready: number[] = [];
    // Run 0 warms the operator up and is not counted.
    for (let i = 0; i <= runs; i++) {
      const m = manifest(ctx.opts.profile, ns, `single-${i}`);
      tr.expect(ns, m.metadata.name, render(m));
      await sleep(500);
      const t0 = performance.now();
      await ctx.cluster.admin.apply(appPath(m), m, 'bench');
      const created = performance.now();
      const c = await tr.waitAll([key(m)], ['childrenAt'], 60_000);
      const o = await tr.waitAll([key(m)], ['childrenAt', 'observedAt'], 60_000);
      const r = await tr.waitAll([key(m)], ['readyAt'], 180_000);
      if (i === 0) continue;
      // The create's own round trip: how responsive the API server was (a control, not the operator).
      applyMs.push(Math.round(created - t0));
      children.push(Math.round(c - t0));
      observed.push(Math.round(o - t0));
      ready.push(Math.round(r - t0));
    }
    log(`single: children p50 ${percentile(children, 50)} ms, p95 ${percentile(children, 95)} ms; ready p50 ${percentile(ready, 50)} ms`);
    return {
      runs,
      apply_ms: applyMs,
      children_ms: children,
      observed_ms: observed,
      ready_ms: ready,
      single_p50_ms: percentile(children, 50),
      single_p95_ms: percentile(children, 95),
      single_ready_p50_ms: percentile(ready, 50),
      single_ready_p95_ms: percentile(ready, 95),
    };
  });
}

// ---------------------------------------------------------------------------
// 3b. Releases: an image change until api, worker and beat run it and the app is
// Ready, with a migration that succeeds at once and without migrations, alternating.

export interface ReleaseResult {
  runs: number;
  without_ms: number[];
  with_ms: number[];
  release_p50_ms: number;
  release_p95_ms: number;
  release_migrating_p50_ms: number;
  release_migrating_p95_ms: number;
}

type ReleasedApp = {
  metadata: { generation: number };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[]; release?: { image?: string; migration?: { phase?: string } } };
};
type Template = { spec: { template: { spec: { containers: { image: string }[] } } } };

export async function release(ctx: Ctx): Promise<ReleaseResult> {
  const runs = ctx.opts.singleRuns;
  return withSetup(ctx, 'release', { namespaces: 1, apps: 2, operator: true, tracker: false }, async ({ namespaces }) => {
    const ns = namespaces[0] as string;
    const app = (name: string, migrations: boolean): Manifest => {
      const m = manifest('standard', ns, name);
      return migrations ? { ...m, spec: { ...m.spec, migrations: { command: ['migrate'] } } } : m;
    };
    const plain = app('plain', false);
    const migrating = app('migrating', true);
    const released = async (m: Manifest, image: string): Promise<boolean> => {
      const a = await ctx.cluster.admin.request<ReleasedApp>({ method: 'GET', path: appPath(m) });
      const ready = a.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      if (a.status?.observedGeneration !== a.metadata.generation || !ready || a.status?.release?.image !== image) return false;
      for (const c of ['api', 'worker', 'beat']) {
        const d = await ctx.cluster.admin.request<Template>({ method: 'GET', path: `/apis/apps/v1/namespaces/${ns}/deployments/${m.metadata.name}-${c}` });
        if (d.spec.template.spec.containers[0]?.image !== image) return false;
      }
      return true;
    };
    const until = async (m: Manifest, image: string, timeoutMs = 180_000) => {
      const deadline = performance.now() + timeoutMs;
      while (!(await released(m, image).catch(() => false))) {
        if (performance.now() > deadline) throw new Error(`release: ${m.metadata.name} did not run ${image} within ${timeoutMs} ms`);
        await sleep(100);
      }
      return performance.now();
    };
    const roll = async (m: Manifest, image: string) => {
      const t0 = performance.now();
      await ctx.cluster.admin.apply(appPath(m), { ...m, spec: { ...m.spec, image } }, 'bench');
      return Math.round((await until(m, image)) - t0);
    };
    await Promise.all([plain, migrating].map((m) => ctx.cluster.admin.apply(appPath(m), m, 'bench')));
    await Promise.all([plain, migrating].map((m) => until(m, m.spec.image as string)));
    const without: number[] = [];
    const withMigration: number[] = [];
    // Run 0 warms up and is not counted; the order alternates so drift falls on both.
    for (let i = 0; i <= runs; i++) {
      const image = `ghcr.io/acme/backend:2.${i}.0`;
      const order: [Manifest, number[]][] =
        i % 2
          ? [
              [migrating, withMigration],
              [plain, without],
            ]
          : [
              [plain, without],
              [migrating, withMigration],
            ];
      for (const [m, into] of order) {
        const ms = await roll(m, image);
        if (i > 0) into.push(ms);
      }
    }
    log(`release: p50 ${percentile(without, 50)} ms without migrations, ${percentile(withMigration, 50)} ms with one`);
    return {
      runs,
      without_ms: without,
      with_ms: withMigration,
      release_p50_ms: percentile(without, 50),
      release_p95_ms: percentile(without, 95),
      release_migrating_p50_ms: percentile(withMigration, 50),
      release_migrating_p95_ms: percentile(withMigration, 95),
    };
  });
}

// ---------------------------------------------------------------------------
// 4. Peers: a Helm release per app, kubectl apply --server-side, the operator

export interface PeersResult {
  apps: number;
  helm_s: number[];
  kubectl_s: number[];
  operator_s: number[];
  /** The kubectl apply of the BackendApp, part of operator_s. */
  operator_kubectl_s: number[];
  helm_per_app_s: number;
  kubectl_per_app_s: number;
  operator_per_app_s: number;
  helm_mean_s: number;
  kubectl_mean_s: number;
  operator_mean_s: number;
}

export async function peers(ctx: Ctx): Promise<PeersResult> {
  const count = ctx.opts.peerApps;
  const c = ctx.cluster;
  // The operator watches only its own namespace: the Helm and kubectl copies carry its labels.
  const watch = (ns: string[]) => ns.slice(2);
  return withSetup(ctx, 'peers', { namespaces: 3, apps: 3 * (count + 1), operator: true, tracker: true, watch }, async ({ namespaces, tracker }) => {
    const tr = tracker as Tracker;
    const [helmNs, kubectlNs, opNs] = namespaces as [string, string, string];
    const dir = path.join(ctx.workDir, 'peers');
    const opKubectlS: number[] = [];
    const helmRun: Array<() => Promise<number>> = [];
    const kubectlRun: Array<() => Promise<number>> = [];
    const opRun: Array<() => Promise<number>> = [];
    for (let i = 0; i <= count; i++) {
      const name = `peer-${i}`;
      // Helm: a chart per app whose one template is the rendered objects.
      const chart = path.join(dir, 'charts', name);
      mkdirSync(path.join(chart, 'templates'), { recursive: true });
      writeFileSync(path.join(chart, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: 0.1.0\ndescription: ${name} rendered by backendapp-operator\n`);
      writeFileSync(path.join(chart, 'templates', 'objects.yaml'), helmSafe(yamlStream(render(manifest(ctx.opts.profile, helmNs, name)))));
      helmRun.push(async () => (await runTool(c, 'helm', ['install', name, chart, '--namespace', helmNs])).ms);
      // kubectl: the rendered objects in one file.
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(file, yamlStream(render(manifest(ctx.opts.profile, kubectlNs, name))));
      kubectlRun.push(async () => (await runTool(c, 'kubectl', ['apply', '--server-side', '--field-manager=bench', '-f', file])).ms);
      // The operator: kubectl apply of the BackendApp, until every child exists and the status is written.
      const m = manifest(ctx.opts.profile, opNs, name);
      const appFile = path.join(dir, `${name}.backendapp.yaml`);
      writeFileSync(appFile, yamlStream([m]));
      opRun.push(async () => {
        tr.expect(opNs, name, render(m));
        const t0 = performance.now();
        const { ms } = await runTool(c, 'kubectl', ['apply', '--server-side', '--field-manager=bench', '-f', appFile]);
        if (i > 0) opKubectlS.push(s(ms));
        return (await tr.waitAll([key(m)], ['childrenAt', 'observedAt'], 60_000)) - t0;
      });
    }
    const helmS: number[] = [];
    const kubectlS: number[] = [];
    const opS: number[] = [];
    // Interleaved, each taking its turn first, so a disturbance hits all three alike.
    // Round 0 warms up (discovery caches, the operator's first reconcile) and is not counted.
    const kinds = [
      { runs: helmRun, out: helmS },
      { runs: kubectlRun, out: kubectlS },
      { runs: opRun, out: opS },
    ];
    for (let i = 0; i <= count; i++) {
      for (let j = 0; j < kinds.length; j++) {
        const k = kinds[(i + j) % kinds.length] as (typeof kinds)[number];
        const ms = await (k.runs[i] as () => Promise<number>)();
        if (i > 0) k.out.push(s(ms));
        await sleep(300);
      }
    }
    log(`peers: per app helm ${percentile(helmS, 50)} s, kubectl ${percentile(kubectlS, 50)} s, operator ${percentile(opS, 50)} s`);
    return {
      apps: count,
      helm_s: helmS,
      kubectl_s: kubectlS,
      operator_s: opS,
      operator_kubectl_s: opKubectlS,
      helm_per_app_s: percentile(helmS, 50),
      kubectl_per_app_s: percentile(kubectlS, 50),
      operator_per_app_s: percentile(opS, 50),
      helm_mean_s: s(mean(helmS) * 1000),
      kubectl_mean_s: s(mean(kubectlS) * 1000),
      operator_mean_s: s(mean(opS) * 1000),
    };
  });
}

function yamlStream(objects: readonly unknown[]): string {
  return objects.map((o) => dump(o, { noRefs: true, lineWidth: -1 })).join('---\n');
}

/** Template delimiters in the rendered text would be read by Helm; keep them literal. */
function helmSafe(text: string): string {
  return text.replace(/\{\{|\}\}/g, (d) => `{{ "${d}" }}`);
}

// ---------------------------------------------------------------------------
// 5. Idle cost

export interface IdleWindow {
  apps: number;
  seconds: number;
  requests: number;
  mutating: number;
  byVerb: Record<string, number>;
  byRequest: Record<string, number>;
}

export interface IdleResult {
  at0: IdleWindow;
  atN: IdleWindow;
  ready: boolean;
  ready_error?: string;
}

export async function idle(ctx: Ctx): Promise<IdleResult> {
  const n = ctx.opts.apps;
  const secs = ctx.opts.idleSeconds;
  return withSetup(ctx, 'idle', { namespaces: ctx.opts.namespaces, apps: n, operator: true, tracker: true }, async ({ namespaces, operator, tracker }) => {
    const op = operator as OperatorProcess;
    const tr = tracker as Tracker;
    await sleep(5000);
    log(`idle: counting the operator's requests for ${secs} s with 0 apps`);
    const at0 = { apps: 0, seconds: secs, ...(await auditWindow(ctx, namespaces, secs * 1000)) };
    const apps = appSet(ctx.opts.profile, namespaces, n);
    expectAll(tr, apps);
    await createApps(ctx, apps);
    let ready = true;
    let readyError: string | undefined;
    try {
      await tr.waitAll(apps.map(key), ['childrenAt', 'observedAt', 'readyAt'], 180_000 + n * 2_000);
    } catch (err) {
      ready = false;
      readyError = String(err);
      log(`idle: ${readyError}`);
    }
    await op.waitIdle(5000, 120_000).catch(() => undefined);
    await sleep(5000);
    log(`idle: counting the operator's requests for ${secs} s with ${n} apps converged`);
    const atN = { apps: n, seconds: secs, ...(await auditWindow(ctx, namespaces, secs * 1000)) };
    log(`idle: ${atN.requests} requests (${atN.mutating} mutating) at ${n} apps, ${at0.requests} at 0`);
    const res: IdleResult = { at0, atN, ready };
    if (readyError) res.ready_error = readyError;
    return res;
  });
}

// ---------------------------------------------------------------------------
// 6. Memory and CPU

export interface MemoryPoint {
  apps: number;
  /** RSS and V8 heap in use right after a full GC (forced through the inspector). */
  rss_gc_mb: number;
  heap_gc_mb: number;
  /** RSS every 5 s while settling. */
  rss_settle_trace_mb: number[];
  rss_mb: number;
  /** V8 heap in use (live objects plus garbage not yet collected). */
  heap_mb: number;
  /** V8 heap committed. */
  heap_total_mb: number;
  /** Memory outside the V8 heap that V8 knows of (Buffers, ArrayBuffers). */
  external_mb: number;
  cpu_s: number;
  /** Time for this step's new apps to converge (children and status). */
  step_converge_s: number;
}

export interface MemoryResult {
  points: MemoryPoint[];
  /** Least-squares slope of RSS over the app count, as measured after settling. */
  rss_kb_per_app: number;
  /** The same from the RSS right after a full GC. */
  rss_gc_kb_per_app: number;
  /** The same from the V8 heap in use right after a full GC: the cache and everything else retained per app. */
  heap_kb_per_app: number;
  cpu_ms_per_app: number;
}

export async function memory(ctx: Ctx): Promise<MemoryResult> {
  const levels = [...new Set(ctx.opts.memoryAt)].sort((a, b) => a - b);
  const max = levels[levels.length - 1] ?? 0;
  return withSetup(
    ctx,
    'memory',
    { namespaces: ctx.opts.namespaces, apps: max, operator: true, tracker: true, inspect: true },
    async ({ namespaces, operator, tracker }) => {
      const op = operator as OperatorProcess;
      const tr = tracker as Tracker;
      const points: MemoryPoint[] = [];
      // One app created and deleted first, so 0 apps means a warmed-up operator with
      // empty caches, and the first step's growth is not start-up (JIT, lazy modules).
      const warm = manifest(ctx.opts.profile, namespaces[0] as string, 'warmup');
      tr.expect(warm.metadata.namespace, warm.metadata.name, render(warm));
      await ctx.cluster.admin.apply(appPath(warm), warm, 'bench');
      await tr.waitAll([key(warm)], ['childrenAt', 'observedAt'], 120_000);
      await ctx.cluster.admin.request({ method: 'DELETE', path: appPath(warm) });
      for (const deadline = Date.now() + 120_000; ; await sleep(500)) {
        const gone = await ctx.cluster.admin.request({ method: 'GET', path: appPath(warm) }).then(
          () => false,
          (err: unknown) => isNotFound(err),
        );
        if (gone) break;
        if (Date.now() > deadline) throw new Error('memory: the warm-up app was not deleted in 120 s');
      }
      let have = 0;
      for (const level of levels) {
        const apps = appSet(ctx.opts.profile, namespaces, level - have, 'app', have);
        let stepS = 0;
        if (apps.length) {
          expectAll(tr, apps);
          log(`memory: adding ${apps.length} apps (to ${level})`);
          const t0 = performance.now();
          await createApps(ctx, apps);
          stepS = s((await tr.waitAll(apps.map(key), ['childrenAt', 'observedAt'], 60_000 + apps.length * 1_000)) - t0);
        }
        have = level;
        // Settled: the queue has been empty for a while (pods becoming ready wake it),
        // then V8 has had time to give back what the burst of reconciles allocated
        // (its memory reducer runs once the process is idle).
        await op.waitIdle(5000, 300_000).catch(() => undefined);
        const trace: number[] = [];
        for (let t = 0; t < ctx.opts.settleSeconds; t += 5) {
          trace.push(round1((await op.resources()).rssMb));
          await sleep(5000);
        }
        if (trace.length) log(`memory: RSS every 5 s while settling: ${trace.join(', ')} MB`);
        const samples: Awaited<ReturnType<OperatorProcess['resources']>>[] = [];
        for (let i = 0; i < 5; i++) {
          samples.push(await op.resources());
          await sleep(1000);
        }
        // Then the same after a full GC: what the operator retains.
        await op.collectGarbage();
        await sleep(2000);
        const gc: Awaited<ReturnType<OperatorProcess['resources']>>[] = [];
        for (let i = 0; i < 3; i++) {
          gc.push(await op.resources());
          await sleep(1000);
        }
        const point: MemoryPoint = {
          apps: level,
          rss_gc_mb: round1(
            percentile(
              gc.map((x) => x.rssMb),
              50,
            ),
          ),
          heap_gc_mb: round1(
            percentile(
              gc.map((x) => x.heapMb),
              50,
            ),
          ),
          rss_settle_trace_mb: trace,
          rss_mb: round1(
            percentile(
              samples.map((x) => x.rssMb),
              50,
            ),
          ),
          heap_mb: round1(
            percentile(
              samples.map((x) => x.heapMb),
              50,
            ),
          ),
          heap_total_mb: round1(
            percentile(
              samples.map((x) => x.heapTotalMb),
              50,
            ),
          ),
          external_mb: round1(
            percentile(
              samples.map((x) => x.externalMb),
              50,
            ),
          ),
          cpu_s: Math.round((samples[samples.length - 1]?.cpuS ?? NaN) * 100) / 100,
          step_converge_s: stepS,
        };
        points.push(point);
        log(
          `memory: ${level} apps: RSS ${point.rss_mb} MB, heap ${point.heap_mb} of ${point.heap_total_mb} MB, external ${point.external_mb} MB, CPU ${point.cpu_s} s; ` +
            `after a full GC: RSS ${point.rss_gc_mb} MB, heap ${point.heap_gc_mb} MB`,
        );
        if (ctx.opts.heapSnapshots) {
          const file = await op.heapSnapshot(path.join(ctx.workDir, 'heap', 'memory'));
          const after = await op.resources();
          log(
            `memory: heap snapshot ${file ? path.basename(file) : 'not written'}; after its full GC: RSS ${round1(after.rssMb)} MB, heap ${round1(after.heapMb)} MB`,
          );
        }
      }
      return {
        points,
        rss_kb_per_app: round1(slope(points.map((p) => [p.apps, p.rss_mb * 1024]))),
        rss_gc_kb_per_app: round1(slope(points.map((p) => [p.apps, p.rss_gc_mb * 1024]))),
        heap_kb_per_app: round1(slope(points.map((p) => [p.apps, p.heap_gc_mb * 1024]))),
        cpu_ms_per_app: round1(slope(points.map((p) => [p.apps, p.cpu_s * 1000]))),
      };
    },
  );
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  if (points.length < 2) return NaN;
  const mx = mean(points.map((p) => p[0]));
  const my = mean(points.map((p) => p[1]));
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
