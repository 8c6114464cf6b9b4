// npm run bench: how fast the operator converges, what it costs at rest and how it
// grows, against the floor (a tight server-side-apply loop) and against Helm and
// kubectl, on the local control plane. See `npm run bench -- --help` and the
// README's Performance section. Results: bench/results/latest.json, a dated copy
// beside it, and a table on stdout.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROFILES, render, manifest, volumesPerApp, type Profile } from './apps.js';
import { deleteNamespaces, leftoverNamespaces, log, prepareCluster, root, testNamespaces, type Cluster } from './cluster.js';
import { operatorEntry, type OperatorBuild } from './operator.js';
import {
  converge,
  floor,
  idle,
  memory,
  peers,
  release,
  single,
  type ConvergeResult,
  type Ctx,
  type FloorResult,
  type IdleResult,
  type MemoryResult,
  type Options,
  type PeersResult,
  type ReleaseResult,
  type SingleResult,
} from './scenarios.js';

const SCENARIOS = ['floor', 'converge', 'single', 'release', 'peers', 'idle', 'memory'] as const;

const USAGE = `Usage: npm run bench -- [flags]

Runs the scenarios of issue #6 against the local control plane (started if needed)
with the operator as a separate process, and writes bench/results/latest.json, a
dated copy, and a table.

  --apps N              apps for floor, converge and idle (default 100)
  --scenarios LIST      any of ${SCENARIOS.join(',')} (default: all)
  --memory-at LIST      app counts to measure RSS and CPU at (default 0,<apps>)
  --single-runs N       apps applied one at a time (default 20)
  --peer-apps N         apps per peer (Helm, kubectl, operator) (default 10)
  --idle-seconds N      length of each idle window (default 60)
  --concurrency N       the operator's --max-concurrent-reconciles, and the floor's (default 4)
  --namespaces N        namespaces each scenario spreads its apps over (default 4)
  --profile NAME        ${PROFILES.join(', ')} (default standard; see bench/apps.ts)
  --rounds N            repeat floor and converge N times, alternating; medians reported (default 1)
  --operator-build B    compiled (default: tsc into the work dir, as in the image) or source
                        (bin/backendapp-operator.js as checked out: dist/ if built, else tsx)
  --operator-entry FILE run this bin/backendapp-operator.js instead (e.g. a build of another commit)
  --baseline-entry FILE A/B: also run converge and idle with this bin/backendapp-operator.js (a build of
                        another commit), alternating with the operator under test in every round
  --operator-env LIST   extra environment for the operator, NAME=VALUE[,NAME=VALUE]
  --cpu-prof            write the operator's V8 CPU profiles to bench/results/tmp/<run>/profiles
  --settle-seconds N    memory: idle time after converging before measuring (default 30)
  --heap-snapshots      memory: write a V8 heap snapshot of the operator at each count (slow; forces a full GC)
  --operator-kubeconfig FILE
                        the operator's identity (default: a bench identity issued from the local CA)
  --note TEXT           recorded with the results (e.g. "machine shared with CI")

The full run of the issue: npm run bench -- --apps 500 --memory-at 0,100,500,1000`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      apps: { type: 'string', default: '100' },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      'memory-at': { type: 'string' },
      'single-runs': { type: 'string', default: '20' },
      'peer-apps': { type: 'string', default: '10' },
      'idle-seconds': { type: 'string', default: '60' },
      concurrency: { type: 'string', default: '4' },
      namespaces: { type: 'string', default: '4' },
      profile: { type: 'string', default: 'standard' },
      rounds: { type: 'string', default: '1' },
      'cpu-prof': { type: 'boolean', default: false },
      'heap-snapshots': { type: 'boolean', default: false },
      'settle-seconds': { type: 'string', default: '30' },
      'operator-build': { type: 'string', default: 'compiled' },
      'operator-entry': { type: 'string' },
      'baseline-entry': { type: 'string' },
      'operator-env': { type: 'string', default: '' },
      'operator-kubeconfig': { type: 'string' },
      note: { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be a whole number of at least ${min}, got "${v}"`);
    return n;
  };
  const apps = int('apps', values.apps, 1);
  const scenarios = values.scenarios
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const x of scenarios) if (!(SCENARIOS as readonly string[]).includes(x)) usage(`unknown scenario "${x}"`);
  if (!(PROFILES as readonly string[]).includes(values.profile)) usage(`unknown profile "${values.profile}"`);
  const memoryAt = (values['memory-at'] ?? `0,${apps}`).split(',').map((x) => int('memory-at', x.trim(), 0));
  if (values['operator-build'] !== 'compiled' && values['operator-build'] !== 'source') usage(`--operator-build must be compiled or source`);
  if (values['operator-kubeconfig']) process.env.BENCH_OPERATOR_KUBECONFIG = path.resolve(values['operator-kubeconfig']);
  return {
    apps,
    scenarios,
    memoryAt,
    singleRuns: int('single-runs', values['single-runs'], 1),
    peerApps: int('peer-apps', values['peer-apps'], 1),
    idleSeconds: int('idle-seconds', values['idle-seconds'], 1),
    concurrency: int('concurrency', values.concurrency, 1),
    namespaces: int('namespaces', values.namespaces, 1),
    profile: values.profile as Profile,
    rounds: int('rounds', values.rounds, 1),
    cpuProf: values['cpu-prof'],
    heapSnapshots: values['heap-snapshots'],
    settleSeconds: int('settle-seconds', values['settle-seconds'], 0),
    operatorEnv: Object.fromEntries(
      values['operator-env']
        .split(',')
        .filter(Boolean)
        .map((kv) => {
          const i = kv.indexOf('=');
          if (i < 1) usage(`--operator-env takes NAME=VALUE[,NAME=VALUE], got "${kv}"`);
          return [kv.slice(0, i), kv.slice(i + 1)];
        }),
    ),
    build: values['operator-build'] as OperatorBuild,
    ...(values['operator-entry'] ? { entry: path.resolve(values['operator-entry']) } : {}),
    ...(values['baseline-entry'] ? { baselineEntry: path.resolve(values['baseline-entry']) } : {}),
    note: values.note,
  };
}

function usage(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}\n`);
  process.exit(2);
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function versions(c: Cluster, operatorRuns: string): Promise<Record<string, unknown>> {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const clientNode = JSON.parse(readFileSync(path.join(root, 'node_modules/@kubernetes/client-node/package.json'), 'utf8')) as { version: string };
  const server = await c.admin.request<{ gitVersion: string }>({ method: 'GET', path: '/version' });
  const bin = (name: string) => path.join(c.binDir, name);
  const kubectl = JSON.parse(sh(bin('kubectl'), ['version', '--client', '-o', 'json'])) as { clientVersion?: { gitVersion?: string } };
  const dirty = sh('git', ['-C', root, 'status', '--porcelain', '--', 'src', 'bin', 'package.json', 'package-lock.json']);
  return {
    operator: pkg.version,
    operator_runs: operatorRuns,
    git_commit: sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
    // Uncommitted changes in what the operator runs.
    git_dirty: dirty !== '' && dirty !== 'unknown',
    node: process.version,
    client_node: clientNode.version,
    kubernetes: server.gitVersion,
    etcd: /etcd Version: (\S+)/.exec(sh(bin('etcd'), ['--version']))?.[1] ?? 'unknown',
    kubectl: kubectl.clientVersion?.gitVersion ?? 'unknown',
    helm: sh(bin('helm'), ['version', '--short']),
    kwok: sh(bin('kwok'), ['--version']).split('\n')[0],
  };
}

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? 'unknown',
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    note: 'the API server, etcd, the controller manager, the scheduler, kwok, the operator and the benchmark share these CPUs',
  };
}

const median = (v: number[]) => {
  if (v.length === 0) return null;
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const r2 = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? null : Math.round(v * 100) / 100);
const r3 = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);

interface Target {
  name: string;
  target: string;
  value: string;
  met: boolean | null;
  note?: string;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const runId = randomBytes(3).toString('hex');
  const started = new Date();
  const workDir = path.join(root, 'bench/results/tmp', runId);
  mkdirSync(workDir, { recursive: true });
  const cluster = await prepareCluster(process.env.BENCH_OPERATOR_KUBECONFIG ? { operatorKubeconfig: process.env.BENCH_OPERATOR_KUBECONFIG } : {});
  log(
    `run ${runId}: ${opts.apps} apps (${opts.profile}), scenarios ${opts.scenarios.join(',')}; operator as ${cluster.operatorUser}; work dir ${path.relative(root, workDir)}`,
  );

  const { entry, runs } = opts.entry ? { entry: opts.entry, runs: `given: ${opts.entry}` } : operatorEntry(opts.build, workDir);
  const ctx: Ctx = { cluster, opts, runId, entry, workDir, live: { operators: new Set(), namespaces: new Set() } };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log("interrupted: stopping the operator and removing this run's namespaces (Ctrl-C again to leave them)");
    void (async () => {
      for (const op of ctx.live.operators) await op.stop().catch(() => undefined);
      await deleteNamespaces(cluster, [...ctx.live.namespaces]).catch((err: unknown) => log(String(err)));
      process.exit(130);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const leftovers = await leftoverNamespaces(cluster);
  if (leftovers.length) {
    log(`removing ${leftovers.length} namespace(s) left by an earlier run`);
    await deleteNamespaces(cluster, leftovers);
  }

  const sharedSeen = new Set<string>();
  const sampleShared = async () => {
    for (const n of await testNamespaces(cluster).catch(() => [])) sharedSeen.add(n);
  };
  await sampleShared();
  const loadStart = os.loadavg();
  const vers = await versions(cluster, runs);

  const errors: Record<string, string> = {};
  const durations: Record<string, number> = {};
  const want = (x: string) => opts.scenarios.includes(x);
  const attempt = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    if (interrupted) return undefined;
    const t0 = performance.now();
    log(`=== ${name}`);
    try {
      return await fn();
    } catch (err) {
      errors[name] = err instanceof Error ? err.message : String(err);
      log(`${name} failed: ${errors[name]}`);
      return undefined;
    } finally {
      durations[name] = Math.round((performance.now() - t0) / 1000);
      await sampleShared();
    }
  };

  const floors: FloorResult[] = [];
  const converges: ConvergeResult[] = [];
  // A/B: the baseline build runs in the same rounds, first in every other one, so
  // drift of the machine over the run falls on both alike.
  const baseCtx: Ctx | undefined = opts.baselineEntry ? { ...ctx, entry: opts.baselineEntry } : undefined;
  const baseConverges: ConvergeResult[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const sfx = opts.rounds > 1 ? ` (round ${r + 1})` : '';
    if (want('floor')) {
      const f = await attempt(`floor${sfx}`, () => floor(ctx, r));
      if (f) floors.push(f);
    }
    if (want('converge')) {
      const runs: [string, Ctx, ConvergeResult[]][] = [[`converge${sfx}`, ctx, converges]];
      if (baseCtx) runs[r % 2 ? 'unshift' : 'push']([`baseline converge${sfx}`, baseCtx, baseConverges]);
      for (const [name, c, into] of runs) {
        const res = await attempt(name, () => converge(c, r));
        if (res) into.push(res);
      }
    }
  }
  const singleRes: SingleResult | undefined = want('single') ? await attempt('single', () => single(ctx)) : undefined;
  const releaseRes: ReleaseResult | undefined = want('release') ? await attempt('release', () => release(ctx)) : undefined;
  const peersRes: PeersResult | undefined = want('peers') ? await attempt('peers', () => peers(ctx)) : undefined;
  const idleRes: IdleResult | undefined = want('idle') ? await attempt('idle', () => idle(ctx)) : undefined;
  const baseIdle: IdleResult | undefined = want('idle') && baseCtx ? await attempt('baseline idle', () => idle(baseCtx)) : undefined;
  const memoryRes: MemoryResult | undefined = want('memory') ? await attempt('memory', () => memory(ctx)) : undefined;
  if (interrupted) return 130;

  const floorS = median(floors.map((f) => f.floor_s));
  const convergeS = median(converges.map((c) => c.converge_s));
  const readies = converges.map((c) => c.ready_s).filter((x): x is number => x !== null);
  const rss: Record<string, number> = {};
  const rssIdle: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  const heap: Record<string, number> = {};
  for (const p of memoryRes?.points ?? []) {
    rss[p.apps] = p.rss_gc_mb;
    rssIdle[p.apps] = p.rss_mb;
    cpu[p.apps] = p.cpu_s;
    heap[p.apps] = p.heap_gc_mb;
  }
  const sample = manifest(opts.profile, 'x', 'x');
  const results = {
    date: started.toISOString(),
    run_id: runId,
    apps: opts.apps,
    floor_s: floorS,
    converge_s: convergeS,
    converge_ratio: floorS && convergeS !== null ? r2(convergeS / floorS) : null,
    ready_s: readies.length === converges.length ? median(readies) : null,
    single_p50_ms: singleRes?.single_p50_ms ?? null,
    single_p95_ms: singleRes?.single_p95_ms ?? null,
    single_ready_p50_ms: singleRes?.single_ready_p50_ms ?? null,
    single_ready_p95_ms: singleRes?.single_ready_p95_ms ?? null,
    release_p50_ms: releaseRes?.release_p50_ms ?? null,
    release_p95_ms: releaseRes?.release_p95_ms ?? null,
    release_migrating_p50_ms: releaseRes?.release_migrating_p50_ms ?? null,
    release_migrating_p95_ms: releaseRes?.release_migrating_p95_ms ?? null,
    helm_per_app_s: peersRes?.helm_per_app_s ?? null,
    kubectl_per_app_s: peersRes?.kubectl_per_app_s ?? null,
    operator_per_app_s: peersRes?.operator_per_app_s ?? null,
    helm_vs_operator: peersRes ? r2(peersRes.helm_per_app_s / peersRes.operator_per_app_s) : null,
    // The fleet view: N apps applied at once, converge time shared out.
    operator_amortized_per_app_s: convergeS !== null ? Math.round((convergeS / opts.apps) * 1000) / 1000 : null,
    operator_kubectl_per_app_s: peersRes ? r3(median(peersRes.operator_kubectl_s)) : null,
    idle_mutating_requests: idleRes?.atN.mutating ?? null,
    idle_requests: idleRes?.atN.requests ?? null,
    idle_requests_at_0: idleRes?.at0.requests ?? null,
    idle_requests_by_verb: idleRes?.atN.byVerb ?? null,
    // After a full GC; rss_idle_mb is the same moment's RSS before it (after 30 s idle).
    rss_mb: memoryRes ? rss : null,
    rss_idle_mb: memoryRes ? rssIdle : null,
    heap_mb: memoryRes ? heap : null,
    cpu_s: memoryRes ? cpu : null,
    rss_kb_per_app: memoryRes?.rss_gc_kb_per_app ?? null,
    rss_idle_kb_per_app: memoryRes?.rss_kb_per_app ?? null,
    heap_kb_per_app: memoryRes?.heap_kb_per_app ?? null,
    cpu_ms_per_app: memoryRes?.cpu_ms_per_app ?? null,
    baseline: baseCtx ? abSide(opts.baselineEntry, baseConverges, floorS, baseIdle) : null,
    operator: baseCtx ? abSide(entry, converges, floorS, idleRes) : null,
    targets: [] as Target[],
    workload: {
      profile: opts.profile,
      objects_per_app: render(sample).length,
      volumes_per_app: volumesPerApp(opts.profile),
      concurrency: opts.concurrency,
      namespaces_per_scenario: opts.namespaces,
    },
    options: opts,
    machine: { ...machine(), loadavg_start: loadStart.map(r2), loadavg_end: os.loadavg().map(r2) },
    versions: vers,
    conditions: {
      operator_identity: cluster.operatorUser,
      // Namespaces of integration tests seen during the run: other work on the same API server.
      shared_with_integration_tests: sharedSeen.size > 0,
      integration_test_namespaces_seen: sharedSeen.size,
      note: opts.note,
    },
    scenarios: {
      floor: floors,
      converge: converges,
      baseline_converge: baseCtx ? baseConverges : null,
      baseline_idle: baseIdle ?? null,
      single: singleRes ?? null,
      release: releaseRes ?? null,
      peers: peersRes ?? null,
      idle: idleRes ?? null,
      memory: memoryRes ?? null,
    },
    durations_s: durations,
    errors,
  };
  results.targets = targets(results);

  const dir = path.join(root, 'bench/results');
  const stamp = started
    .toISOString()
    .replace(/:/g, '-')
    .replace(/\.\d+Z$/, 'Z');
  const dated = path.join(dir, `${stamp}-n${opts.apps}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(path.join(dir, 'latest.json'), json);
  writeFileSync(dated, json);
  process.stdout.write(table(results));
  log(`wrote bench/results/latest.json and ${path.relative(root, dated)}`);
  if (cluster.startedHere) log('the local control plane was started for this run and is left running: hack/local-cluster.sh down stops it');
  cluster.admin.close();
  return Object.keys(errors).length ? 1 : 0;
}

/** One side of an A/B run: medians over its rounds. */
function abSide(entry: string | undefined, converges: ConvergeResult[], floorS: number | null, idleRes: IdleResult | undefined) {
  const convergeS = median(converges.map((c) => c.converge_s));
  return {
    entry,
    converge_s: r2(convergeS),
    converge_ratio: floorS && convergeS !== null ? r2(convergeS / floorS) : null,
    requests_per_app: median(converges.map((c) => c.operator_requests_per_app)),
    reconciles_per_app: median(converges.map((c) => c.reconciles_per_app)),
    operator_cpu_s: r2(median(converges.map((c) => c.operator_cpu_s))),
    rss_mb_after: median(converges.map((c) => c.rss_mb_after)),
    idle_requests: idleRes?.atN.requests ?? null,
    idle_mutating_requests: idleRes?.atN.mutating ?? null,
  };
}
type AbSide = ReturnType<typeof abSide>;

type Results = {
  baseline: AbSide | null;
  operator: AbSide | null;
  apps: number;
  floor_s: number | null;
  converge_s: number | null;
  converge_ratio: number | null;
  ready_s: number | null;
  single_p50_ms: number | null;
  single_p95_ms: number | null;
  single_ready_p50_ms: number | null;
  single_ready_p95_ms: number | null;
  release_p50_ms: number | null;
  release_p95_ms: number | null;
  release_migrating_p50_ms: number | null;
  release_migrating_p95_ms: number | null;
  helm_per_app_s: number | null;
  kubectl_per_app_s: number | null;
  operator_per_app_s: number | null;
  helm_vs_operator: number | null;
  operator_amortized_per_app_s: number | null;
  operator_kubectl_per_app_s: number | null;
  idle_mutating_requests: number | null;
  idle_requests: number | null;
  idle_requests_at_0: number | null;
  rss_mb: Record<string, number> | null;
  rss_idle_mb: Record<string, number> | null;
  heap_mb: Record<string, number> | null;
  cpu_s: Record<string, number> | null;
  rss_kb_per_app: number | null;
  rss_idle_kb_per_app: number | null;
  heap_kb_per_app: number | null;
  machine: { loadavg_start: (number | null)[]; loadavg_end: (number | null)[] };
  targets: Target[];
  date: string;
  conditions: { shared_with_integration_tests: boolean; note: string };
  errors: Record<string, string>;
};

function targets(r: Results): Target[] {
  const out: Target[] = [];
  const add = (name: string, target: string, value: number | null, met: (v: number) => boolean, unit: string, note?: string) => {
    const t: Target = { name, target, value: value === null ? 'not measured' : `${value}${unit}`, met: value === null ? null : met(value) };
    if (note) t.note = note;
    out.push(t);
  };
  add(
    'converge / floor',
    '<= 1.25 at 500 apps',
    r.converge_ratio,
    (v) => v <= 1.25,
    'x',
    r.apps === 500 || r.converge_ratio === null ? undefined : `measured at ${r.apps} apps`,
  );
  add('Helm per app / operator per app', '>= 5', r.helm_vs_operator, (v) => v >= 5, 'x');
  add('mutating requests at idle', '0', r.idle_mutating_requests, (v) => v === 0, '');
  add(
    'reads at idle, N apps vs 0',
    'no growth with N',
    r.idle_requests,
    (v) => v <= (r.idle_requests_at_0 ?? 0) + 2,
    ` (${r.idle_requests_at_0 ?? '?'} at 0 apps)`,
  );
  add(
    'RSS growth per app',
    '<= 100 KB',
    r.rss_kb_per_app,
    (v) => v <= 100,
    ' KB',
    r.rss_kb_per_app === null ? undefined : `after a full GC; ${fmt(r.rss_idle_kb_per_app)} KB from idle RSS without one`,
  );
  add('single-app p95 to all children', '< 1000 ms', r.single_p95_ms, (v) => v < 1000, ' ms');
  return out;
}

function table(r: Results): string {
  const rows: [string, string][] = [
    ['apps', String(r.apps)],
    ['floor (s)', fmt(r.floor_s)],
    ['operator converge (s)', fmt(r.converge_s)],
    ['converge / floor', fmt(r.converge_ratio, 'x')],
    ['all Ready under kwok (s)', fmt(r.ready_s)],
    ['single app to children p50 / p95 (ms)', `${fmt(r.single_p50_ms)} / ${fmt(r.single_p95_ms)}`],
    ['single app to Ready p50 / p95 (ms)', `${fmt(r.single_ready_p50_ms)} / ${fmt(r.single_ready_p95_ms)}`],
    [
      'release to Ready p50 / p95 (ms): without / with a migration',
      `${fmt(r.release_p50_ms)} / ${fmt(r.release_p95_ms)}; ${fmt(r.release_migrating_p50_ms)} / ${fmt(r.release_migrating_p95_ms)}`,
    ],
    [
      'per app: Helm / kubectl / operator (s)',
      `${fmt(r.helm_per_app_s)} / ${fmt(r.kubectl_per_app_s)} / ${fmt(r.operator_per_app_s)} (of which kubectl apply ${fmt(r.operator_kubectl_per_app_s)})`,
    ],
    ['operator per app, N at once (s)', fmt(r.operator_amortized_per_app_s)],
    ['idle requests per window, N / 0 apps', `${fmt(r.idle_requests)} / ${fmt(r.idle_requests_at_0)} (mutating ${fmt(r.idle_mutating_requests)})`],
    ['RSS by apps, after a full GC (MB)', byN(r.rss_mb)],
    ['RSS by apps, idle before it (MB)', byN(r.rss_idle_mb)],
    ['V8 heap used after a full GC (MB)', byN(r.heap_mb)],
    ['CPU seconds by apps (cumulative)', byN(r.cpu_s)],
    ['growth per app: RSS / idle RSS / heap (KB)', `${fmt(r.rss_kb_per_app)} / ${fmt(r.rss_idle_kb_per_app)} / ${fmt(r.heap_kb_per_app)}`],
  ];
  if (r.baseline && r.operator) {
    const side = (x: AbSide) =>
      `converge ${fmt(x.converge_s)} s (${fmt(x.converge_ratio, 'x')} floor), ${fmt(x.requests_per_app)} requests and ${fmt(x.reconciles_per_app)} reconciles per app, ` +
      `CPU ${fmt(x.operator_cpu_s)} s, RSS after ${fmt(x.rss_mb_after)} MB, idle requests ${fmt(x.idle_requests)} (mutating ${fmt(x.idle_mutating_requests)})`;
    rows.push(['A/B: operator under test', side(r.operator)], ['A/B: baseline', side(r.baseline)]);
    if (r.operator.converge_s !== null && r.baseline.converge_s)
      rows.push(['A/B: converge, test / baseline', fmt(r2(r.operator.converge_s / r.baseline.converge_s), 'x')]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  let out = `\nbackendapp-operator benchmark, ${r.date}${r.conditions.shared_with_integration_tests ? ' (API server shared with integration tests)' : ''}\n`;
  out += `load average at start ${r.machine.loadavg_start.join(' ')}, at end ${r.machine.loadavg_end.join(' ')}${r.conditions.note ? `; ${r.conditions.note}` : ''}\n\n`;
  for (const [k, v] of rows) out += `  ${k.padEnd(w)}  ${v}\n`;
  out += '\n  targets\n';
  const tw = Math.max(...r.targets.map((t) => t.name.length));
  for (const t of r.targets) {
    const verdict = t.met === null ? 'n/a ' : t.met ? 'met ' : 'MISS';
    out += `  ${verdict}  ${t.name.padEnd(tw)}  ${t.value} (target ${t.target})${t.note ? `, ${t.note}` : ''}\n`;
  }
  for (const [k, v] of Object.entries(r.errors)) out += `\n  error in ${k}: ${v}\n`;
  return `${out}\n`;
}

function byN(m: Record<string, number> | null): string {
  return m
    ? Object.entries(m)
        .map(([n, v]) => `${n}: ${v}`)
        .join(', ')
    : '-';
}

function fmt(v: number | null | undefined, unit = ''): string {
  return v === null || v === undefined ? '-' : `${v}${unit}`;
}

// Exit explicitly: a stray keep-alive socket must not hold the results back.
process.exit(await main());
