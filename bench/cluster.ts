// The local control plane for the benchmark: brought up if needed (as the
// integration tests do), the CRD installed, a separate identity for the
// operator under test, PersistentVolumes, and namespace sets created and removed.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kube, isNotFound, pool, sleep } from './kube.js';

const execFileAsync = promisify(execFile);

export const root = path.resolve(import.meta.dirname, '..');
const script = path.join(root, 'hack/local-cluster.sh');

/** Label on every namespace the benchmark creates; its value is the run id. */
export const BENCH_LABEL = 'backendapp.io/bench';
/** Every benchmark namespace starts with this, so leftovers and their volumes are easy to find. */
export const NS_PREFIX = 'bench-';

export interface Cluster {
  stateDir: string;
  binDir: string;
  /** The admin kubeconfig: the driver, kubectl and helm. */
  kubeconfig: string;
  /** The identity the operator under test (and the floor) runs as. */
  operatorKubeconfig: string;
  operatorUser: string;
  auditLog: string;
  env: NodeJS.ProcessEnv;
  admin: Kube;
  /** The benchmark brought the control plane up (it leaves it running). */
  startedHere: boolean;
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/**
 * Starts the local control plane unless it already runs (hack/local-cluster.sh up
 * is idempotent), installs the CRD, and prepares the operator's identity.
 */
export async function prepareCluster(opts: { operatorKubeconfig?: string }): Promise<Cluster> {
  if (process.env.KUBECONFIG) log(`ignoring KUBECONFIG=${process.env.KUBECONFIG}: the benchmark needs the local control plane and its audit log`);
  const env = { ...process.env };
  delete env.KUBECONFIG;
  let wasRunning = true;
  try {
    execFileSync(script, ['status'], { cwd: root, stdio: 'ignore', env });
  } catch {
    wasRunning = false;
  }
  if (!wasRunning) log('hack/local-cluster.sh up (builds the control plane on the first run: several minutes)');
  execFileSync(script, ['up'], { cwd: root, stdio: ['ignore', wasRunning ? 'ignore' : 'inherit', 'inherit'], env });
  const out = execFileSync(script, ['env'], { cwd: root, encoding: 'utf8', env });
  const kubeconfig = /export KUBECONFIG=(.*)/.exec(out)?.[1];
  const binDir = /export PATH=(.*):\$PATH/.exec(out)?.[1];
  if (!kubeconfig || !binDir) throw new Error(`unexpected output of hack/local-cluster.sh env: ${out}`);
  const stateDir = path.dirname(kubeconfig);
  env.KUBECONFIG = kubeconfig;
  env.PATH = `${binDir}${path.delimiter}${env.PATH ?? ''}`;

  execFileSync(path.join(binDir, 'kubectl'), ['apply', '--server-side', '--force-conflicts', '-f', path.join(root, 'crds')], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  execFileSync(path.join(binDir, 'kubectl'), ['wait', '--for=condition=Established', 'crd/backendapps.backendapp.io', '--timeout=60s'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  let operatorKubeconfig = opts.operatorKubeconfig ?? '';
  let operatorUser = '';
  if (operatorKubeconfig) {
    operatorUser = userOf(operatorKubeconfig);
  } else {
    ({ kubeconfig: operatorKubeconfig, user: operatorUser } = benchIdentity(stateDir, kubeconfig));
  }
  return {
    stateDir,
    binDir,
    kubeconfig,
    operatorKubeconfig,
    operatorUser,
    auditLog: path.join(stateDir, 'logs', 'audit.log'),
    env,
    admin: new Kube(kubeconfig),
    startedHere: !wasRunning,
  };
}

const BENCH_USER = 'backendapp-operator-bench';

/**
 * A client certificate of its own for the operator under test, issued by the local
 * CA with the same group (system:masters) as .local-cluster/operator.kubeconfig,
 * so authentication and authorization cost the same. The integration tests' operators
 * run as backendapp-operator-dev; with our own name, the audit log tells the
 * benchmark's requests from theirs, and their idle test never counts ours.
 */
function benchIdentity(stateDir: string, adminKubeconfig: string): { kubeconfig: string; user: string } {
  const pki = path.join(stateDir, 'pki');
  const dir = path.join(stateDir, 'bench');
  mkdirSync(dir, { recursive: true });
  const key = path.join(dir, 'operator.key');
  const crt = path.join(dir, 'operator.crt');
  const csr = path.join(dir, 'operator.csr');
  const ext = path.join(dir, 'operator.ext');
  const caCrt = path.join(pki, 'ca.crt');
  // Re-issued when the cluster (and so its CA) is newer than our certificate.
  const fresh = existsSync(crt) && readFileSync(crt, 'utf8').length > 0 && !isOlderThan(crt, caCrt);
  if (!fresh) {
    execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/O=system:masters/CN=${BENCH_USER}`, '-keyout', key, '-out', csr], {
      stdio: 'ignore',
    });
    writeFileSync(ext, 'extendedKeyUsage=clientAuth\n');
    execFileSync(
      'openssl',
      ['x509', '-req', '-in', csr, '-CA', caCrt, '-CAkey', path.join(pki, 'ca.key'), '-CAcreateserial', '-days', '3650', '-extfile', ext, '-out', crt],
      { stdio: 'ignore' },
    );
  }
  const admin = readFileSync(adminKubeconfig, 'utf8');
  const server = /server: (\S+)/.exec(admin)?.[1];
  if (!server) throw new Error(`no server in ${adminKubeconfig}`);
  const kubeconfig = path.join(dir, 'operator.kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: ${server}, certificate-authority: ${caCrt}}
users:
- name: ${BENCH_USER}
  user: {client-certificate: ${crt}, client-key: ${key}}
contexts:
- name: local
  context: {cluster: local, user: ${BENCH_USER}}
current-context: local
`,
  );
  return { kubeconfig, user: BENCH_USER };
}

function isOlderThan(a: string, b: string): boolean {
  return statSync(a).mtimeMs < statSync(b).mtimeMs;
}

/** The user name of a kubeconfig's client certificate (its CN). */
function userOf(kubeconfig: string): string {
  const text = readFileSync(kubeconfig, 'utf8');
  const cert = /client-certificate: (\S+)/.exec(text)?.[1];
  if (!cert) throw new Error(`${kubeconfig}: only client-certificate kubeconfigs are supported for --operator-kubeconfig`);
  const subject = execFileSync('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', cert], { encoding: 'utf8' });
  const cn = /CN=([^,\n]+)/.exec(subject)?.[1];
  if (!cn) throw new Error(`no CN in ${cert}`);
  return cn;
}

// ---------------------------------------------------------------------------
// Namespaces

export async function createNamespaces(c: Cluster, names: string[], runId: string): Promise<void> {
  await pool(names, 8, (name) =>
    c.admin.request({
      method: 'POST',
      path: '/api/v1/namespaces',
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [BENCH_LABEL]: runId } } },
    }),
  );
  // The namespace's default ServiceAccount must exist before pods can be created.
  const deadline = Date.now() + 60_000;
  for (const ns of names) {
    for (;;) {
      try {
        await c.admin.request({ method: 'GET', path: `/api/v1/namespaces/${ns}/serviceaccounts/default` });
        break;
      } catch (err) {
        if (!isNotFound(err) || Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
  }
}

/**
 * Removes namespaces and waits until they are gone. BackendApps' finalizers are
 * dropped first: the operator that would remove them is stopped by now.
 */
export async function deleteNamespaces(c: Cluster, names: string[], timeoutMs = 1_800_000): Promise<void> {
  if (names.length === 0) return;
  for (const ns of names) {
    let apps: { items: { metadata: { name: string; finalizers?: string[] } }[] };
    try {
      apps = await c.admin.request({ method: 'GET', path: `/apis/backendapp.io/v1alpha1/namespaces/${ns}/backendapps` });
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
    await pool(
      apps.items.filter((a) => a.metadata.finalizers?.length),
      16,
      (a) =>
        c.admin
          .request({
            method: 'PATCH',
            path: `/apis/backendapp.io/v1alpha1/namespaces/${ns}/backendapps/${a.metadata.name}`,
            contentType: 'application/merge-patch+json',
            body: { metadata: { finalizers: null } },
          })
          .catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          }),
    );
  }
  await pool(names, 8, (ns) =>
    c.admin.request({ method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    }),
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await existingNamespaces(c, names);
    if (left.length === 0) break;
    if (Date.now() > deadline) throw new Error(`namespaces still terminating after ${timeoutMs / 1000} s: ${left.slice(0, 5).join(', ')}`);
    await sleep(1000);
  }
}

async function existingNamespaces(c: Cluster, names: string[]): Promise<string[]> {
  const list = await c.admin.request<{ items: { metadata: { name: string } }[] }>({ method: 'GET', path: '/api/v1/namespaces' });
  const want = new Set(names);
  return list.items.map((n) => n.metadata.name).filter((n) => want.has(n));
}

/** Namespaces a previous, interrupted benchmark run left behind. */
export async function leftoverNamespaces(c: Cluster): Promise<string[]> {
  const list = await c.admin.request<{ items: { metadata: { name: string } }[] }>({
    method: 'GET',
    path: '/api/v1/namespaces',
    query: { labelSelector: BENCH_LABEL },
  });
  return list.items.map((n) => n.metadata.name);
}

/** Namespaces of the integration tests running right now (a sign the machine is shared). */
export async function testNamespaces(c: Cluster): Promise<string[]> {
  const list = await c.admin.request<{ items: { metadata: { name: string } }[] }>({
    method: 'GET',
    path: '/api/v1/namespaces',
    query: { labelSelector: 'backendapp.io/test=true' },
  });
  return list.items.map((n) => n.metadata.name);
}

// ---------------------------------------------------------------------------
// PersistentVolumes

interface PV {
  metadata: { name: string };
  spec: { claimRef?: { namespace?: string } | null };
  status?: { phase?: string };
}

async function listPVs(c: Cluster): Promise<PV[]> {
  return (await c.admin.request<{ items: PV[] }>({ method: 'GET', path: '/api/v1/persistentvolumes' })).items;
}

/**
 * Makes sure at least `need` volumes are Available, creating more with
 * hack/local-cluster.sh pvs. Volumes released by earlier scenarios come back by
 * themselves: the local cluster's pv-recycler makes Released volumes Available.
 */
export async function ensureAvailablePVs(c: Cluster, need: number): Promise<void> {
  if (need <= 0) return;
  // Margin for the integration tests that may claim volumes meanwhile.
  const want = need + Math.max(10, Math.ceil(need * 0.05));
  let pvs = await listPVs(c);
  let available = pvs.filter((p) => p.status?.phase === 'Available' && !p.spec.claimRef).length;
  if (available < want) {
    const total = pvs.length + (want - available);
    log(`creating PersistentVolumes: ${available} available, ${want} wanted (hack/local-cluster.sh pvs ${total})`);
    await execFileAsync(script, ['pvs', String(total)], { cwd: root, env: c.env });
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    pvs = await listPVs(c);
    available = pvs.filter((p) => p.status?.phase === 'Available' && !p.spec.claimRef).length;
    if (available >= need) return;
    if (Date.now() > deadline) throw new Error(`only ${available} PersistentVolumes available, ${need} needed`);
    await sleep(1000);
  }
}

// ---------------------------------------------------------------------------
// Control-plane CPU

let clockTicks = 0;

/** CPU seconds used so far by each control-plane process (from /proc; Linux only). */
export function controlPlaneCpu(c: Cluster): Record<string, number> {
  clockTicks ||= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const out: Record<string, number> = {};
  for (const name of ['kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok']) {
    try {
      const pid = readFileSync(path.join(c.stateDir, 'pids', name), 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): utime is 14th, stime 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[name] = (Number(fields[11]) + Number(fields[12])) / clockTicks;
    } catch {
      // Not running (or not Linux): left out.
    }
  }
  return out;
}

export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (before[k] !== undefined) out[k] = Math.round((v - (before[k] as number)) * 100) / 100;
  return out;
}

// ---------------------------------------------------------------------------
// Tools

export async function runTool(c: Cluster, tool: 'kubectl' | 'helm', args: string[], input?: string): Promise<{ stdout: string; ms: number }> {
  const started = performance.now();
  const child = execFileAsync(path.join(c.binDir, tool), args, { env: c.env, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
  if (input !== undefined) child.child.stdin?.end(input);
  try {
    const { stdout } = await child;
    return { stdout, ms: performance.now() - started };
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}
