// The operator under test, as its own process (bin/backendapp-operator.js run), the
// way test/support/operator.ts starts it: metrics and probes on free ports, read
// back from its log. Its /metrics gives RSS, CPU and the work queue.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { log, root } from './cluster.js';
import { collectGarbage, inspectorUrlIn } from '../test/support/inspector.js';
import { sleep } from './kube.js';

export type OperatorBuild = 'compiled' | 'source';

/**
 * The entry point to run. `compiled`: the sources compiled with tsc beside a copy
 * of bin/ in the run's work directory, so bin/backendapp-operator.js loads the
 * compiled build as in the container image (the repository's dist/ is left alone).
 * `source`: the repository's bin/backendapp-operator.js, which runs dist/ if it
 * exists and the TypeScript sources through tsx otherwise (about 45 MB more RSS).
 */
export function operatorEntry(build: OperatorBuild, workDir: string): { entry: string; runs: string } {
  if (build === 'source') {
    const dist = existsSync(path.join(root, 'dist/src/cli.js'));
    return { entry: path.join(root, 'bin/backendapp-operator.js'), runs: dist ? 'dist/ (repository build)' : 'sources via tsx' };
  }
  const out = path.join(workDir, 'build');
  rmSync(out, { recursive: true, force: true });
  log('compiling the operator (tsc) for the benchmark');
  try {
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(root, 'tsconfig.json'), '--outDir', path.join(out, 'dist')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    // tsc still emits on type errors; only a missing entry point is fatal.
    if (!existsSync(path.join(out, 'dist/src/cli.js')))
      throw new Error(`tsc did not build the operator: ${String((err as { stdout?: Buffer }).stdout ?? err)}`);
    log('tsc reported type errors; running what it emitted');
  }
  cpSync(path.join(root, 'bin'), path.join(out, 'bin'), { recursive: true });
  return { entry: path.join(out, 'bin/backendapp-operator.js'), runs: 'compiled with tsc (as in the container image)' };
}

export interface OperatorOptions {
  /** bin/backendapp-operator.js to run (see operatorEntry). */
  entry: string;
  kubeconfig: string;
  namespaces: string[];
  maxConcurrentReconciles: number;
  /** Where the operator's log goes. */
  logFile: string;
  /** Write a V8 CPU profile here when the operator exits (node --cpu-prof). */
  cpuProfDir?: string;
  /** Let heapSnapshot() write V8 heap snapshots here (node --heapsnapshot-signal). */
  heapSnapshotDir?: string;
  logLevel?: string;
  /** Extra environment variables for the operator process. */
  env?: Record<string, string>;
  /** Open the inspector on a free local port, so collectGarbage() can force a full GC. */
  inspect?: boolean;
}

export type Samples = Map<string, number>;

export class OperatorProcess {
  private constructor(
    readonly proc: ChildProcess,
    readonly metricsUrl: string,
    readonly healthUrl: string,
    private readonly tail: string[],
    private readonly exited: Promise<number | null>,
    private readonly inspectorUrl: string,
  ) {}

  /** A full, compacting garbage collection through the inspector (needs `inspect`). */
  async collectGarbage(): Promise<void> {
    await collectGarbage(this.inspectorUrl);
  }

  static async start(o: OperatorOptions): Promise<OperatorProcess> {
    mkdirSync(path.dirname(o.logFile), { recursive: true });
    const out = createWriteStream(o.logFile);
    const env = { ...process.env, ...o.env };
    if (o.cpuProfDir) {
      mkdirSync(o.cpuProfDir, { recursive: true });
      env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${o.cpuProfDir}`.trim();
    }
    if (o.heapSnapshotDir) {
      mkdirSync(o.heapSnapshotDir, { recursive: true });
      env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${o.heapSnapshotDir}`.trim();
    }
    const args = [
      ...(o.inspect ? ['--inspect=127.0.0.1:0'] : []),
      o.entry,
      'run',
      `--kubeconfig=${o.kubeconfig}`,
      `--namespaces=${o.namespaces.join(',')}`,
      `--max-concurrent-reconciles=${o.maxConcurrentReconciles}`,
      '--leader-elect=false',
      '--metrics-bind-address=127.0.0.1:0',
      '--health-probe-bind-address=127.0.0.1:0',
      `--log-level=${o.logLevel ?? 'info'}`,
    ];
    const proc = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let metrics = '';
    let health = '';
    let inspector = '';
    let partial = '';
    const collect = (chunk: Buffer) => {
      out.write(chunk);
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 50) tail.shift();
        metrics ||= /"metricsAddress":"([^"]+)"/.exec(line)?.[1] ?? '';
        health ||= /"healthAddress":"([^"]+)"/.exec(line)?.[1] ?? '';
        inspector ||= inspectorUrlIn(line) ?? '';
      }
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    const exited = new Promise<number | null>((resolve) =>
      proc.on('exit', (code) => {
        out.end();
        resolve(code);
      }),
    );
    const deadline = Date.now() + 120_000;
    while (!metrics || !health) {
      if (proc.exitCode !== null) throw new Error(`operator exited with ${proc.exitCode}:\n${tail.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`operator did not report its addresses in 120 s:\n${tail.join('\n')}`);
      await sleep(100);
    }
    const op = new OperatorProcess(proc, `http://${metrics}/metrics`, `http://${health}`, tail, exited, inspector);
    // Ready once every cache has synced.
    while ((await fetch(`${op.healthUrl}/readyz`).catch(() => undefined))?.status !== 200) {
      if (proc.exitCode !== null) throw new Error(`operator exited with ${proc.exitCode}:\n${tail.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`operator not ready in 120 s:\n${tail.join('\n')}`);
      await sleep(100);
    }
    return op;
  }

  /** Every sample of /metrics, keyed "name{labels}" as printed. */
  async scrape(): Promise<Samples> {
    const text = await (await fetch(this.metricsUrl)).text();
    const out: Samples = new Map();
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const i = line.lastIndexOf(' ');
      out.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
    return out;
  }

  /** RSS, V8 heap used and committed, memory outside the V8 heap (MB), and CPU seconds so far. */
  async resources(): Promise<{ rssMb: number; heapMb: number; heapTotalMb: number; externalMb: number; cpuS: number }> {
    const s = await this.scrape();
    const mb = (k: string) => (s.get(k) ?? NaN) / 2 ** 20;
    return {
      rssMb: mb('process_resident_memory_bytes'),
      heapMb: mb('nodejs_heap_size_used_bytes'),
      heapTotalMb: mb('nodejs_heap_size_total_bytes'),
      externalMb: mb('nodejs_external_memory_bytes'),
      cpuS: s.get('process_cpu_seconds_total') ?? NaN,
    };
  }

  /** Reconciles finished so far, whatever their result. */
  async reconciles(): Promise<number> {
    let n = 0;
    for (const [k, v] of await this.scrape()) if (k.startsWith('controller_runtime_reconcile_total{')) n += v;
    return n;
  }

  /** Work queue depth plus reconciles in flight. */
  async busy(): Promise<number> {
    const s = await this.scrape();
    let n = 0;
    for (const [k, v] of s) if (k.startsWith('workqueue_depth{') || k.startsWith('controller_runtime_active_workers{')) n += v;
    return n;
  }

  /** Waits until the queue has been empty with nothing in flight for `quietMs`. */
  async waitIdle(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let since = Date.now();
    for (;;) {
      if ((await this.busy()) > 0) since = Date.now();
      else if (Date.now() - since >= quietMs) return;
      if (Date.now() > deadline) throw new Error(`operator still busy after ${timeoutMs / 1000} s`);
      await sleep(250);
    }
  }

  /**
   * Writes a heap snapshot (a full GC first, so it holds live objects only) and
   * waits until the file is complete. Only when started with heapSnapshotDir.
   */
  async heapSnapshot(dir: string, timeoutMs = 120_000): Promise<string | undefined> {
    const before = new Set(existsSync(dir) ? readdirSync(dir) : []);
    this.proc.kill('SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    for (;;) {
      await sleep(500);
      const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
      if (file) {
        const size = statSync(path.join(dir, file)).size;
        // Written in one go by the main thread; a stable size means done.
        if (size > 0 && size === last) return path.join(dir, file);
        last = size;
      }
      if (Date.now() > deadline) return undefined;
    }
  }

  lastLines(): string {
    return this.tail.join('\n');
  }

  /** SIGTERM (graceful: a CPU profile is written), SIGKILL after 30 s. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}
