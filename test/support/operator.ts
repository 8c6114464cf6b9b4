// Runs the operator as its own process, as users run it, against the test cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import { waitFor } from './cluster.js';
import { collectGarbage, inspectorUrlIn } from './inspector.js';

const root = path.resolve(import.meta.dirname, '../..');

export interface OperatorProcess {
  proc: ChildProcess;
  /** Every line the operator printed so far (JSON logs). */
  lines: string[];
  metricsUrl: () => string;
  healthUrl: () => string;
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a node drain or OOM would. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
  /** A full, compacting garbage collection of the operator (needs `inspect`). */
  collectGarbage(): Promise<void>;
}

export interface OperatorOptions {
  namespaces?: string[];
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  logLevel?: string;
  kubeconfig?: string;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Options for node itself, before the script (--max-old-space-size=…). */
  nodeArgs?: string[];
  /** Open the inspector on a free local port, so collectGarbage() can force a full GC. */
  inspect?: boolean;
}

/**
 * The kubeconfig the operator runs with: on the local control plane a separate
 * identity (backendapp-operator-dev), so the audit log tells its requests apart.
 */
export function operatorKubeconfig(): string {
  if (!inject('localCluster')) return inject('kubeconfig');
  const own = path.join(path.dirname(inject('kubeconfig')), 'operator.kubeconfig');
  // Never the admin identity instead: tests that read the audit log by user would see nothing.
  if (!existsSync(own)) throw new Error(`no ${own}: hack/local-cluster.sh up writes the operator's own identity there`);
  return own;
}

export async function startOperator(opts: OperatorOptions = {}): Promise<OperatorProcess> {
  const args = [
    ...(opts.nodeArgs ?? []),
    ...(opts.inspect ? ['--inspect=127.0.0.1:0'] : []),
    path.join(root, 'bin/backendapp-operator.js'),
    'run',
    `--kubeconfig=${opts.kubeconfig ?? operatorKubeconfig()}`,
    `--leader-elect=${opts.leaderElect ?? false}`,
    '--metrics-bind-address=127.0.0.1:0',
    '--health-probe-bind-address=127.0.0.1:0',
    `--log-level=${opts.logLevel ?? 'debug'}`,
    ...(opts.namespaces?.length ? [`--namespaces=${opts.namespaces.join(',')}`] : []),
    ...(opts.leaderElectionNamespace ? [`--leader-election-namespace=${opts.leaderElectionNamespace}`] : []),
    ...(opts.extraArgs ?? []),
  ];
  const proc = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let metrics = '';
  let health = '';
  let inspector = '';
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (process.env.OPERATOR_LOGS === '1') process.stderr.write(`[operator ${proc.pid}] ${line}\n`);
      const m = /"metricsAddress":"([^"]+)"/.exec(line);
      if (m?.[1]) metrics = m[1];
      const h = /"healthAddress":"([^"]+)"/.exec(line);
      if (h?.[1]) health = h[1];
      inspector ||= inspectorUrlIn(line) ?? '';
    }
  };
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  await waitFor(
    'the operator to serve its health address',
    async () => {
      if (proc.exitCode !== null) throw new Error(`operator exited with ${proc.exitCode}:\n${lines.slice(-20).join('\n')}`);
      return health !== '' && metrics !== '';
    },
    60_000,
  );
  return {
    proc,
    lines,
    metricsUrl: () => `http://${metrics}/metrics`,
    healthUrl: () => `http://${health}`,
    exited,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
    collectGarbage: () => collectGarbage(inspector),
    async kill() {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** The identity the operator campaigns for the Lease with, from its start-up log line. */
export function identityOf(op: OperatorProcess): string {
  for (const line of op.lines) {
    const m = /"identity":"([^"]+)","msg":"starting backendapp-operator"/.exec(line);
    if (m?.[1]) return m[1];
  }
  throw new Error('operator did not log its identity');
}

export interface AuditEvent {
  verb: string;
  /** '' for the core group. */
  apiGroup: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace?: string;
  /** For a request of no resource (GET /readyz, /version): its path. */
  nonResourcePath?: string;
  /** The HTTP status of the answer (403 for a request RBAC refused). */
  code?: number;
  /** Epoch ms of the answer. */
  at: number;
}

/**
 * Requests the audit log attributes to `user`, answered after `sinceMs` (epoch ms),
 * oldest first. Reads rotated files too, so a rotation mid-test loses nothing.
 * Local control plane only.
 */
export function auditEvents(user: string, sinceMs: number): AuditEvent[] {
  const dir = path.join(path.dirname(inject('kubeconfig')), 'logs');
  const file = path.join(dir, 'audit.log');
  if (!existsSync(file)) throw new Error(`no audit log at ${file}: audit-log checks need the local control plane`);
  // The API server rotates audit.log to audit-<timestamp>.log (--audit-log-maxsize).
  const rotated = readdirSync(dir)
    .filter((f) => /^audit-.+\.log$/.test(f))
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= sinceMs)
    .sort();
  const out: AuditEvent[] = [];
  for (const f of [...rotated, file]) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line.includes(user)) continue;
      const e = JSON.parse(line) as {
        user?: { username?: string };
        verb: string;
        requestURI?: string;
        stageTimestamp: string;
        responseStatus?: { code?: number };
        objectRef?: { apiGroup?: string; resource?: string; subresource?: string; name?: string; namespace?: string };
      };
      const at = Date.parse(e.stageTimestamp);
      if (e.user?.username !== user || at < sinceMs) continue;
      out.push({
        verb: e.verb,
        apiGroup: e.objectRef?.apiGroup ?? '',
        resource: e.objectRef?.resource ?? '',
        subresource: e.objectRef?.subresource,
        name: e.objectRef?.name,
        namespace: e.objectRef?.namespace,
        nonResourcePath: e.objectRef ? undefined : e.requestURI?.split('?')[0],
        code: e.responseStatus?.code,
        at,
      });
    }
  }
  return out;
}

export const MUTATING_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
