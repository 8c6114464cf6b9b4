// The Helm chart and the kustomize config against the real API server: helm lint,
// `helm template | kubectl apply --dry-run=server` (Pod Security restricted
// included), `kubectl apply -k config/default --dry-run=server`, and what the
// rendered RBAC grants. Nothing is installed; the operator image is not needed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import type { V1Deployment, V1PolicyRule, V1Role } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { FORBIDDEN_RESOURCES, FORBIDDEN_VERBS, RULES_SOURCE, parseRules } from '../../hack/sync-generated.js';
import { kubectl, kubectlOk, run, tool, useNamespace } from '../support/cluster.js';

const root = path.resolve(import.meta.dirname, '../..');
const chart = path.join(root, 'charts/backendapp-operator');
const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };

const release = useNamespace('chart', RESTRICTED);
const watchedA = useNamespace('chart-watch-a');
const watchedB = useNamespace('chart-watch-b');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

let kubeVersion = '';
beforeAll(async () => {
  const version = JSON.parse(await kubectlOk(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
  kubeVersion = version.serverVersion.gitVersion;
});

async function helm(args: string[]): Promise<string> {
  const res = await run(tool('helm'), args);
  if (res.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

/** `helm template` for the cluster's Kubernetes version, as parsed manifests and as text. */
async function template(args: string[] = []): Promise<{ text: string; objects: Manifest[] }> {
  const text = await helm(['template', 'backendapp-operator', chart, '--namespace', release.name, '--kube-version', kubeVersion, ...args]);
  return { text, objects: parse(text) };
}

function parse(text: string): Manifest[] {
  return (loadAll(text) as (Manifest | null)[]).filter((o): o is Manifest => o !== null);
}

function find<T = Manifest>(objects: Manifest[], kind: string, name?: string): T[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name)) as T[];
}

function only<T = Manifest>(objects: Manifest[], kind: string): T {
  const found = find<T>(objects, kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0]!;
}

function sourceRules(): V1PolicyRule[] {
  return parseRules(readFileSync(path.join(root, RULES_SOURCE), 'utf8'));
}

/** Every way a rule could grant more than least privilege allows. */
function overreach(rules: V1PolicyRule[]): string[] {
  const problems: string[] = [];
  for (const r of rules) {
    const all = [...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs, ...(r.resourceNames ?? [])];
    if (all.some((v) => v.includes('*'))) problems.push(`wildcard in ${JSON.stringify(r)}`);
    if (r.nonResourceURLs) problems.push(`nonResourceURLs in ${JSON.stringify(r)}`);
    for (const v of r.verbs) if (FORBIDDEN_VERBS.includes(v)) problems.push(`verb ${v}`);
    for (const res of r.resources ?? []) if (FORBIDDEN_RESOURCES.includes(res)) problems.push(`resource ${res}`);
    // Pods are read (why a component is not ready), never written: the workloads own them.
    if (r.resources?.includes('pods') && r.verbs.some((v) => v !== 'list' && v !== 'watch')) problems.push(`pods ${r.verbs.join(',')}`);
  }
  return problems;
}

async function dryRunServer(text: string): Promise<void> {
  const res = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: text });
  expect(res.code, res.stderr).toBe(0);
  // Workload objects are only warned about, never refused, by Pod Security: fail on the warning.
  expect(res.stderr).not.toMatch(/PodSecurity/);
}

describe('helm lint', () => {
  it('passes with the default values', async () => {
    await helm(['lint', '--strict', chart, '--namespace', release.name]);
  });

  it('passes when watching only listed namespaces', async () => {
    await helm(['lint', '--strict', chart, '--namespace', release.name, '--set', `watchNamespaces={${watchedA.name},${watchedB.name}}`]);
  });

  it.each([
    ['an unknown log level', 'logLevel=loud', /logLevel/],
    ['zero replicas', 'replicaCount=0', /replicaCount/],
    ['a misspelt value', 'replicas=3', /replicas/],
    ['a namespace that is not a DNS label', 'watchNamespaces={Team_A}', /watchNamespaces/],
  ])('refuses %s through values.schema.json', async (_what, set, field) => {
    const res = await run(tool('helm'), ['lint', chart, '--set', set]);
    expect(res.code).not.toBe(0);
    expect(`${res.stdout}${res.stderr}`).toMatch(field);
  });
});

describe('helm template', () => {
  it('is accepted by the API server (kubectl apply --dry-run=server), CRD included, with no Pod Security warning', async () => {
    const { text } = await template(['--include-crds']);
    await dryRunServer(text);
  });

  it('renders the Deployment to Pod Security restricted, with probes, metrics, leader election and the Lease namespace', async () => {
    const { objects } = await template();
    const d = only<V1Deployment>(objects, 'Deployment');
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(d.spec!.replicas).toBe(2);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
    expect(c.ports).toEqual([
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
      { name: 'health', containerPort: 8081, protocol: 'TCP' },
    ]);
    expect(c.args).toEqual([
      'run',
      '--leader-elect',
      '--metrics-bind-address=:8080',
      '--health-probe-bind-address=:8081',
      '--max-concurrent-reconciles=4',
      '--log-level=info',
    ]);
    expect(c.env?.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    expect(c.resources?.requests).toBeDefined();
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
    expect(c.image).toBe('backendapp-operator:0.1.0');
  });

  it('binds the ServiceAccount to a ClusterRole holding exactly config/rbac/rules.yaml, and nothing more', async () => {
    const { objects } = await template();
    const role = only<V1Role>(objects, 'ClusterRole');
    expect(role.rules).toEqual(sourceRules());
    expect(overreach(role.rules ?? [])).toEqual([]);
    const binding = only<{ roleRef: { name: string }; subjects: { kind: string; name: string; namespace: string }[] }>(objects, 'ClusterRoleBinding');
    const sa = only(objects, 'ServiceAccount');
    expect(binding.roleRef.name).toBe(role.metadata!.name);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: release.name }]);
    expect(find(objects, 'Role').map((r) => r.metadata.name)).toEqual(['backendapp-operator-leader-election']);
  });

  it('gives leader election only the Lease in the release namespace', async () => {
    const { objects } = await template();
    const role = only<V1Role>(objects, 'Role');
    expect(role.metadata!.namespace).toBe(release.name);
    expect(role.rules).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
  });

  it('with watchNamespaces: a Role and RoleBinding in each listed namespace, nothing cluster-wide, and --namespaces', async () => {
    const watched = [watchedA.name, watchedB.name];
    const { text, objects } = await template(['--set', `watchNamespaces={${watched.join(',')}}`]);
    expect(find(objects, 'ClusterRole')).toEqual([]);
    expect(find(objects, 'ClusterRoleBinding')).toEqual([]);
    const managerRoles = find<V1Role>(objects, 'Role', 'backendapp-operator-manager');
    expect(managerRoles.map((r) => r.metadata!.namespace)).toEqual(watched);
    for (const r of managerRoles) expect(r.rules).toEqual(sourceRules());
    expect(find(objects, 'RoleBinding', 'backendapp-operator-manager').map((b) => b.metadata.namespace)).toEqual(watched);
    const d = only<V1Deployment>(objects, 'Deployment');
    expect(d.spec!.template.spec!.containers[0]!.args).toContain(`--namespaces=${watched.join(',')}`);
    await dryRunServer(text);
  });

  it('renders the ServiceMonitor only when enabled and the monitoring.coreos.com/v1 API exists', async () => {
    expect(find((await template()).objects, 'ServiceMonitor')).toEqual([]);
    expect(find((await template(['--set', 'metrics.serviceMonitor.enabled=true'])).objects, 'ServiceMonitor')).toEqual([]);
    const { objects } = await template(['--set', 'metrics.serviceMonitor.enabled=true', '--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor']);
    const sm = only<{ spec: { endpoints: { port: string }[]; selector: { matchLabels: Record<string, string> } } }>(objects, 'ServiceMonitor');
    expect(sm.spec.endpoints[0]!.port).toBe('metrics');
    const svc = only<{ spec: { selector: Record<string, string>; ports: { name: string; port: number }[] } }>(objects, 'Service');
    expect(svc.spec.ports).toEqual([{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(sm.spec.selector.matchLabels).toEqual(svc.spec.selector);
  });

  it('keeps one pod through drains when there is a standby, and adds no PodDisruptionBudget for a single replica', async () => {
    const pdb = only<{ spec: { minAvailable: number; unhealthyPodEvictionPolicy?: string } }>((await template()).objects, 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBe(1);
    // An operator pod that is not Ready must not block a drain (kube-linter, kube-score).
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
    expect(find((await template(['--set', 'replicaCount=1'])).objects, 'PodDisruptionBudget')).toEqual([]);
  });

  it('tells the user what to do next in NOTES.txt, and warns about a ServiceMonitor it could not create', async () => {
    const out = await helm([
      'install',
      'backendapp-operator',
      chart,
      '--namespace',
      release.name,
      '--dry-run=server',
      '--set',
      'metrics.serviceMonitor.enabled=true',
    ]);
    const notes = out.slice(out.indexOf('NOTES:'));
    expect(notes).toContain(`kubectl -n ${release.name} rollout status deployment/backendapp-operator`);
    expect(notes).toContain('apply -f config/samples/finwise.yaml');
    expect(notes).toContain('wait --for=condition=Ready bapp/finwise');
    expect(notes).toMatch(/WARNING: metrics.serviceMonitor.enabled is true but the monitoring.coreos.com\/v1 API is not/);
  });

  it('uses an existing ServiceAccount when told to, and refuses to guess its name', async () => {
    const { objects } = await template(['--set', 'serviceAccount.create=false', '--set', 'serviceAccount.name=ops-sa']);
    expect(find(objects, 'ServiceAccount')).toEqual([]);
    expect(only<V1Deployment>(objects, 'Deployment').spec!.template.spec!.serviceAccountName).toBe('ops-sa');
    const res = await run(tool('helm'), ['template', 'x', chart, '--kube-version', kubeVersion, '--set', 'serviceAccount.create=false']);
    expect(res.stderr).toMatch(/serviceAccount.name is required/);
  });
});

describe('kustomize config/default', () => {
  const NAMESPACE = 'backendapp-system';

  it('builds', async () => {
    const objects = parse(await kubectlOk(['kustomize', path.join(root, 'config/default')]));
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/backendapp-manager-role',
      'ClusterRoleBinding/backendapp-manager-rolebinding',
      'CustomResourceDefinition/backendapps.backendapp.io',
      'Deployment/backendapp-controller-manager',
      `Namespace/${NAMESPACE}`,
      'PodDisruptionBudget/backendapp-controller-manager',
      'Role/backendapp-leader-election-role',
      'RoleBinding/backendapp-leader-election-rolebinding',
      'Service/backendapp-controller-manager-metrics-service',
      'ServiceAccount/backendapp-controller-manager',
    ]);
    for (const o of objects) {
      if (!['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) expect(o.metadata.namespace).toBe(NAMESPACE);
    }
  });

  it('is accepted by the API server: kubectl apply -k config/default --dry-run=server', async () => {
    // A server-side dry run creates nothing, so the namespaced objects need their
    // namespace to exist already; create it for the check if it is missing.
    const existed = (await kubectl(['get', 'namespace', NAMESPACE])).code === 0;
    if (!existed) await kubectlOk(['create', 'namespace', NAMESPACE]);
    try {
      const res = await kubectl(['apply', '-k', path.join(root, 'config/default'), '--dry-run=server']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).not.toMatch(/PodSecurity/);
    } finally {
      if (!existed) await kubectl(['delete', 'namespace', NAMESPACE, '--timeout=60s']);
    }
  });

  it('installs the same operator as the chart with default values', async () => {
    const kustomized = parse(await kubectlOk(['kustomize', path.join(root, 'config/default')]));
    const { objects: helmed } = await template();
    expect(only<V1Role>(kustomized, 'ClusterRole').rules).toEqual(only<V1Role>(helmed, 'ClusterRole').rules);
    expect(only<V1Role>(kustomized, 'Role').rules).toEqual(only<V1Role>(helmed, 'Role').rules);
    // The pod, less what differs by design: names, labels and selectors.
    const pod = (d: V1Deployment) => {
      const spec = structuredClone(d.spec!.template.spec!);
      delete spec.serviceAccountName;
      delete spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.labelSelector;
      return { replicas: d.spec!.replicas, strategy: d.spec!.strategy, spec };
    };
    expect(pod(only<V1Deployment>(kustomized, 'Deployment'))).toEqual(pod(only<V1Deployment>(helmed, 'Deployment')));
    // Selectors differ by design (labels); the policy must not.
    const pdb = (objs: Manifest[]) => {
      const { minAvailable, unhealthyPodEvictionPolicy } = only<{ spec: { minAvailable: number; unhealthyPodEvictionPolicy?: string } }>(
        objs,
        'PodDisruptionBudget',
      ).spec;
      return { minAvailable, unhealthyPodEvictionPolicy };
    };
    expect(pdb(kustomized)).toEqual(pdb(helmed));
    expect(pdb(kustomized).unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
    const kNs = only<{ metadata: { labels: Record<string, string> } }>(kustomized, 'Namespace');
    expect(kNs.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('builds config/samples', async () => {
    const samples = parse(await kubectlOk(['kustomize', path.join(root, 'config/samples')]));
    expect(samples.map((o) => `${o.kind}/${o.metadata.name}`)).toContain('BackendApp/finwise');
  });
});
