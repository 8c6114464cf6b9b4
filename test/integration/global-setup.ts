import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

const root = path.resolve(import.meta.dirname, '../..');
const script = path.join(root, 'hack/local-cluster.sh');

// The integration project stands on a real API server: $KUBECONFIG when the user
// points at a cluster (kind, a real one), otherwise the local control plane, brought
// up here. If it cannot start, the run fails with the reason; it never skips.
export default function setup(project: TestProject): () => void {
  return setupCluster(project);
}

/**
 * Brings up (or reuses) the cluster and provides kubeconfig, localCluster and
 * binDir to the tests. `realNode`: the local control plane with its real node
 * (hack/local-cluster.sh up --real-node); $KUBECONFIG is refused then, since the
 * tests need the node's locally built images.
 */
export function setupCluster(project: TestProject, opts: { realNode?: boolean } = {}): () => void {
  if (opts.realNode && process.env.KUBECONFIG) {
    throw new Error("the e2e suite runs on the local control plane's real node (hack/local-cluster.sh up --real-node); unset KUBECONFIG");
  }
  const userKubeconfig = process.env.KUBECONFIG;
  if (userKubeconfig) {
    if (!existsSync(userKubeconfig.split(path.delimiter)[0] ?? '')) {
      throw new Error(`KUBECONFIG=${userKubeconfig} does not exist; unset it to use the local control plane`);
    }
    project.provide('kubeconfig', userKubeconfig);
    project.provide('localCluster', false);
    const binDir = execFileSync(path.join(root, 'hack/build-tools.sh'), ['--print'], { encoding: 'utf8' }).trim();
    project.provide('binDir', binDir);
    installCRD(userKubeconfig, binDir);
    return () => {};
  }

  const wasRunning = run('status', true);
  try {
    execFileSync(script, opts.realNode ? ['up', '--real-node'] : ['up'], { stdio: 'inherit', cwd: root });
  } catch (err) {
    throw new Error(`the local control plane did not start (hack/local-cluster.sh up${opts.realNode ? ' --real-node' : ''}): ${String(err)}`);
  }
  const env = run('env', false);
  const kubeconfig = /export KUBECONFIG=(.*)/.exec(env)?.[1];
  const binDir = /export PATH=(.*):\$PATH/.exec(env)?.[1];
  if (!kubeconfig || !binDir) throw new Error(`unexpected output of hack/local-cluster.sh env: ${env}`);
  // Child processes (kubectl, helm, the operator) find the cached binaries first.
  process.env.PATH = `${binDir}${path.delimiter}${process.env.PATH ?? ''}`;
  project.provide('kubeconfig', kubeconfig);
  project.provide('localCluster', true);
  project.provide('binDir', binDir);
  installCRD(kubeconfig, binDir);

  return () => {
    // Leave a cluster we found running (a developer's loop); stop one we started,
    // unless asked to keep it.
    if (!wasRunning && process.env.KEEP_CLUSTER !== '1') execFileSync(script, ['down'], { stdio: 'inherit' });
  };
}

/** The generated CRD, as the operator's users install it. */
function installCRD(kubeconfig: string, binDir: string): void {
  const kubectl = existsSync(path.join(binDir, 'kubectl')) ? path.join(binDir, 'kubectl') : 'kubectl';
  const env = { ...process.env, KUBECONFIG: kubeconfig };
  execFileSync(kubectl, ['apply', '--server-side', '--force-conflicts', '-f', path.join(root, 'crds')], { env, stdio: 'inherit' });
  // kubectl wait fails at once, instead of waiting, while the CRD it was just handed
  // has no status yet (".status.conditions accessor error: <nil>"): ask again.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const wait = spawnSync(kubectl, ['wait', '--for=condition=Established', 'crd/backendapps.backendapp.io', '--timeout=60s'], { env, encoding: 'utf8' });
    if (wait.status === 0) return;
    if (Date.now() > deadline || !wait.stderr.includes('accessor error')) throw new Error(`the CRD did not become Established: ${wait.stderr}`);
    execFileSync('sleep', ['0.5']);
  }
}

function run(command: string, quiet: boolean): string {
  try {
    return execFileSync(script, [command], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', quiet ? 'ignore' : 'inherit'] });
  } catch {
    return '';
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    localCluster: boolean;
    binDir: string;
  }
}
