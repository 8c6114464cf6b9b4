// Smoke tests that prove the ground is real: a scheduler places pods on Ready
// nodes, controllers run, volumes bind, the garbage collector and Pod Security
// admission work, and helm runs.
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl, kubectlOk, loadKubeConfig, run, tool, useNamespace, waitFor } from '../support/cluster.js';

const ns = useNamespace('smoke');
const restrictedNs = useNamespace('smoke-restricted', { 'pod-security.kubernetes.io/enforce': 'restricted' });

describe('the local control plane', () => {
  it('has at least 3 Ready nodes', async () => {
    const core = loadKubeConfig().makeApiClient(CoreV1Api);
    const nodes = await core.listNode();
    const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    expect(ready.length).toBeGreaterThanOrEqual(3);
  });

  it('makes a Deployment Available with Running pods', async () => {
    await kubectlOk(['-n', ns.name, 'create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2']);
    const apps = loadKubeConfig().makeApiClient(AppsV1Api);
    const available = await waitFor('deployment web available', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns.name });
      return (d.status?.availableReplicas ?? 0) === 2 ? d : undefined;
    });
    expect(available.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    const pods = await loadKubeConfig().makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name, labelSelector: 'app=web' });
    expect(pods.items.map((p) => p.status?.phase)).toEqual(['Running', 'Running']);
    expect(pods.items.every((p) => p.spec?.nodeName?.startsWith('kwok-node-'))).toBe(true);
  });

  it('binds a StatefulSet volumeClaimTemplate and makes its pod ready', async () => {
    const sts = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: ns.name },
      spec: {
        serviceName: 'db',
        replicas: 1,
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'postgres:15' }] } },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    };
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(sts) });
    const core = loadKubeConfig().makeApiClient(CoreV1Api);
    const claim = await waitFor('claim data-db-0 bound', async () => {
      const c = await core.readNamespacedPersistentVolumeClaim({ name: 'data-db-0', namespace: ns.name });
      return c.status?.phase === 'Bound' ? c : undefined;
    });
    expect(claim.spec?.volumeName).toBeTruthy();
    const apps = loadKubeConfig().makeApiClient(AppsV1Api);
    await waitFor('statefulset db ready', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'db', namespace: ns.name });
      return s.status?.readyReplicas === 1;
    });
  });

  it('garbage-collects dependents when their owner is deleted', async () => {
    const core = loadKubeConfig().makeApiClient(CoreV1Api);
    const owner = await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'owner' } } });
    await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: ns.name });
    await waitFor('dependent configmap collected', async () => {
      const list = await core.listNamespacedConfigMap({ namespace: ns.name, fieldSelector: 'metadata.name=dependent' });
      return list.items.length === 0;
    });
  });

  it('refuses a pod that breaks Pod Security restricted in an enforcing namespace', async () => {
    const res = await kubectl(['-n', restrictedNs.name, 'run', 'rooty', '--image=busybox', '--restart=Never']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/violates PodSecurity "restricted/);
  });

  it('runs helm', async () => {
    const res = await run(tool('helm'), ['version', '--short']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^v3\./);
  });
});
