// Helpers for integration tests: a client for the cluster the global setup chose,
// one namespace per test file, kubectl, and polling.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';

const execFileAsync = promisify(execFile);

export function kubeconfigPath(): string {
  return inject('kubeconfig');
}

export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

/** Path of a cached control-plane binary (kubectl, helm, ...), or the bare name to find on PATH. */
export function tool(name: string): string {
  const candidate = path.join(inject('binDir') ?? '', name);
  return existsSync(candidate) ? candidate : name;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command with KUBECONFIG set; never throws on a non-zero exit. */
export async function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const child = execFileAsync(cmd, args, {
    env: { ...process.env, KUBECONFIG: kubeconfigPath(), ...opts.env },
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  try {
    const { stdout, stderr } = await child;
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number | string };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? String(err), code: typeof e.code === 'number' ? e.code : 1 };
  }
}

export function kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(tool('kubectl'), args, opts);
}

/** kubectl that throws with stderr on failure, returning stdout. */
export async function kubectlOk(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const res = await kubectl(args, opts);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

/** Polls `check` until it returns a value other than undefined/false, or fails with the last reason. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Gives the calling test file its own namespace, deleted after the file's tests.
 * The returned object's `name` is set once beforeAll has run.
 */
export function useNamespace(prefix: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): { name: string } {
  const ns = { name: `${prefix}-${randomBytes(3).toString('hex')}` };
  beforeAll(async () => {
    const core = loadKubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns.name, labels: { 'backendapp.io/test': 'true', ...labels }, annotations } } });
  });
  afterAll(async () => {
    // A test's operator may be gone by now; drop the BackendApps' finalizers so the
    // namespace (and its pods and claims) can go.
    const apps = await kubectl(['get', 'backendapps', '-n', ns.name, '-o', 'name']);
    for (const app of apps.stdout.split('\n').filter(Boolean)) {
      await kubectl(['patch', '-n', ns.name, app, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    }
    const core = loadKubeConfig().makeApiClient(CoreV1Api);
    await core.deleteNamespace({ name: ns.name }).catch(() => undefined);
  });
  return ns;
}

export function objectApi(): KubernetesObjectApi {
  return KubernetesObjectApi.makeApiClient(loadKubeConfig());
}
