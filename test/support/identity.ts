// The operator's identity as the Helm chart installs it: the chart's ServiceAccount,
// ClusterRole (or per-namespace Roles), bindings and leader-election Role, applied
// from `helm template`, and a kubeconfig holding a token for that ServiceAccount.
// An operator process started with that kubeconfig has exactly the chart's rights.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dump, loadAll } from 'js-yaml';
import { kubectl, kubectlOk, loadKubeConfig, run, tool, waitFor } from './cluster.js';

const root = path.resolve(import.meta.dirname, '../..');
export const CHART = path.join(root, 'charts/backendapp-operator');

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export interface ChartIdentity {
  release: string;
  /** The release namespace: ServiceAccount, leader-election Role, the Lease. */
  namespace: string;
  serviceAccount: string;
  /** The API server's name for it, as in the audit log. */
  user: string;
  /** The manager ClusterRole, unless watchNamespaces made Roles instead. */
  clusterRole?: string;
  /** What was applied, as rendered by `helm template`. */
  objects: RenderedObject[];
  /** A kubeconfig with the API server's address and CA and the ServiceAccount's token. */
  kubeconfig: string;
  /** Deletes the cluster-scoped objects and the kubeconfig; namespaced ones go with their namespace. */
  remove(): Promise<void>;
}

export async function helmOk(args: string[], timeoutMs = 240_000): Promise<string> {
  const res = await run(tool('helm'), args, { timeoutMs });
  if (res.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

/** The API server's version, for `helm template`, which does not ask the server. */
export async function serverVersion(): Promise<string> {
  const version = JSON.parse(await kubectlOk(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
  return version.serverVersion.gitVersion;
}

export function parseManifests(text: string): RenderedObject[] {
  return (loadAll(text) as (RenderedObject | null)[]).filter((o): o is RenderedObject => o !== null);
}

/**
 * Applies the chart's ServiceAccount and RBAC for a fresh release (a unique name
 * unless given, so its cluster-scoped names clash with no one), mints a one-hour
 * token and writes a kubeconfig for it. Returns once the API server authorizes
 * the ServiceAccount to list BackendApps in `probeNamespace`.
 */
export async function installChartIdentity(opts: { namespace: string; release?: string; set?: string[]; probeNamespace?: string }): Promise<ChartIdentity> {
  const release = opts.release ?? `rbac-${randomBytes(3).toString('hex')}`;
  const text = await helmOk([
    'template',
    release,
    CHART,
    '--namespace',
    opts.namespace,
    // helm template never asks the server, and a `go install`-built helm defaults to
    // Kubernetes v1.20 (its version ldflags are unset), below the chart's kubeVersion.
    '--kube-version',
    await serverVersion(),
    ...(opts.set ?? []).flatMap((s) => ['--set', s]),
    '--show-only',
    'templates/serviceaccount.yaml',
    '--show-only',
    'templates/rbac.yaml',
    '--show-only',
    'templates/leader-election-rbac.yaml',
  ]);
  const objects = parseManifests(text);
  const sa = objects.find((o) => o.kind === 'ServiceAccount');
  if (!sa) throw new Error(`helm template rendered no ServiceAccount:\n${text}`);
  const clusterRole = objects.find((o) => o.kind === 'ClusterRole')?.metadata.name;
  const clusterScoped = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding');

  const dir = mkdtempSync(path.join(tmpdir(), 'backendapp-identity-'));
  const remove = async () => {
    for (const o of clusterScoped) await kubectl(['delete', o.kind.toLowerCase(), o.metadata.name, '--ignore-not-found']);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await kubectlOk(['apply', '-f', '-'], { input: text });
    const token = (await kubectlOk(['create', 'token', sa.metadata.name, '-n', opts.namespace, '--duration=1h'])).trim();
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, tokenKubeconfig(token, `${release}-operator`), { mode: 0o600 });
    chmodSync(kubeconfig, 0o600);
    const user = `system:serviceaccount:${opts.namespace}:${sa.metadata.name}`;
    // RBAC takes effect through the API server's informers: wait until it does. Asked
    // as the test's admin impersonating the ServiceAccount, so the audit log's
    // requests of the ServiceAccount itself are the operator's alone.
    const probeNs = opts.probeNamespace ?? opts.namespace;
    await waitFor(
      `${user} to be allowed to list backendapps in ${probeNs}`,
      async () => {
        if (await canI(user, 'list', 'backendapps.backendapp.io', probeNs)) return true;
        throw new Error('not yet');
      },
      30_000,
    );
    return { release, namespace: opts.namespace, serviceAccount: sa.metadata.name, user, ...(clusterRole ? { clusterRole } : {}), objects, kubeconfig, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** `kubectl auth can-i` for `user`, asked by the test's admin through impersonation. */
export async function canI(user: string, verb: string, resource: string, namespace: string): Promise<boolean> {
  const res = await kubectl(['auth', 'can-i', verb, resource, '-n', namespace, `--as=${user}`]);
  if (res.code !== 0 && res.stdout.trim() !== 'no') throw new Error(`kubectl auth can-i failed: ${res.stderr}`);
  return res.stdout.trim() === 'yes';
}

/**
 * A kubeconfig for `token` on the test cluster: its server address and CA (inlined,
 * so the file stands alone), and no other credential.
 */
export function tokenKubeconfig(token: string, userName: string): string {
  const cluster = loadKubeConfig().getCurrentCluster();
  if (!cluster) throw new Error('the test kubeconfig has no current cluster');
  const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  const clusterEntry: Record<string, unknown> = { server: cluster.server };
  if (caData) clusterEntry['certificate-authority-data'] = caData;
  if (cluster.skipTLSVerify) clusterEntry['insecure-skip-tls-verify'] = true;
  if (cluster.tlsServerName) clusterEntry['tls-server-name'] = cluster.tlsServerName;
  return dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: clusterEntry }],
    users: [{ name: userName, user: { token } }],
    contexts: [{ name: userName, context: { cluster: 'test', user: userName } }],
    'current-context': userName,
  });
}

export interface OperatorIdentity {
  /** Undefined: the default (operatorKubeconfig() in test/support/operator.ts). */
  kubeconfig?: string;
  remove(): Promise<void>;
}

/**
 * Who the operator of an integration test runs as, by OPERATOR_KUBECONFIG_MODE:
 * unset or `dev`, the default identity; `serviceaccount`, the chart's ServiceAccount
 * and RBAC installed in `namespace` (see installChartIdentity), so a test file
 * proves its flows under the chart's rules:
 *
 *   OPERATOR_KUBECONFIG_MODE=serviceaccount npx vitest run --project integration test/integration/operator.test.ts
 */
export async function operatorIdentity(namespace: string): Promise<OperatorIdentity> {
  const mode = process.env.OPERATOR_KUBECONFIG_MODE ?? 'dev';
  if (mode === 'dev') return { remove: async () => {} };
  if (mode !== 'serviceaccount') throw new Error(`OPERATOR_KUBECONFIG_MODE must be dev or serviceaccount, got "${mode}"`);
  const id = await installChartIdentity({ namespace });
  return { kubeconfig: id.kubeconfig, remove: id.remove };
}
