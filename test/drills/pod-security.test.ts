// Drill 7: Pod Security. The finwise example (api, worker, beat, Flower,
// PostgreSQL, Redis, MongoDB) runs in a namespace that enforces the "restricted"
// Pod Security level: every pod the operator's workloads ask for is admitted and
// Running, no ReplicaSet or StatefulSet reports a refused pod, and the namespace
// does refuse a pod that is not restricted (so the check is real).
import { afterAll, describe, expect, it } from 'vitest';
import { requestJSON } from '../../src/runtime/client.js';
import { COMPONENT_LABEL } from '../../src/render/labels.js';
import { statusCodeOf } from '../../src/runtime/client.js';
import { useNamespace } from '../support/cluster.js';
import { finwise } from '../support/apps.js';
import {
  CHILD_KINDS,
  EVENTS,
  PODS,
  REPLICASETS,
  applyManifest,
  ensureAvailablePVs,
  kubeConfig,
  list,
  releaseApps,
  waitAllReady,
  whileAlive,
} from '../support/drills.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
};
const ns = useNamespace('drill-restricted', RESTRICTED);
let operator: OperatorProcess | undefined;

afterAll(async () => {
  await operator?.stop();
  await releaseApps(ns.name);
});

describe('drill 7: Pod Security restricted', () => {
  it('admits every pod of every component of the finwise example', async () => {
    await ensureAvailablePVs(3);
    operator = await startOperator({ namespaces: [ns.name], logLevel: 'info' });
    await applyManifest(finwise(ns.name));
    await whileAlive(operator, waitAllReady(ns.name, 1, 240_000));

    // Every workload has all its pods, and nothing was refused on the way.
    const deployments = await list(CHILD_KINDS['apps/v1/Deployment'] ?? PODS, ns.name);
    const statefulSets = await list(CHILD_KINDS['apps/v1/StatefulSet'] ?? PODS, ns.name);
    const workloads = [...deployments, ...statefulSets];
    expect(workloads.map((w) => w.metadata.labels?.[COMPONENT_LABEL]).sort()).toEqual(['api', 'beat', 'flower', 'mongodb', 'postgres', 'redis', 'worker']);
    for (const w of workloads) {
      expect(w.status?.readyReplicas, `${w.kind}/${w.metadata.name}`).toBe(w.spec?.replicas);
      expect(w.spec?.replicas, `${w.kind}/${w.metadata.name}`).toBeGreaterThan(0);
    }
    const replicaSets = await list(REPLICASETS, ns.name);
    const refused = replicaSets.filter((rs) => (rs.status?.conditions ?? []).some((c: { type: string }) => c.type === 'ReplicaFailure'));
    expect(refused.map((rs) => rs.metadata.name)).toEqual([]);
    const failedCreate = (await list(EVENTS, ns.name)).filter((e) => e.reason === 'FailedCreate');
    expect(failedCreate.map((e) => e.message)).toEqual([]);
    const pods = await list(PODS, ns.name);
    const wanted = workloads.reduce((n, w) => n + (w.spec?.replicas ?? 0), 0);
    expect(pods.filter((p) => p.status?.phase === 'Running').length).toBe(wanted);

    // The namespace really enforces restricted: a pod without the settings is refused.
    let refusal = '';
    try {
      await requestJSON(kubeConfig(), {
        method: 'POST',
        path: `/api/v1/namespaces/${ns.name}/pods`,
        body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'not-restricted' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
      });
    } catch (err) {
      expect(statusCodeOf(err)).toBe(403);
      refusal = String(err);
    }
    expect(refusal).toMatch(/violates PodSecurity "restricted/);
    console.log(
      `drill 7: ${workloads.length} workloads (${workloads.map((w) => `${w.metadata.labels?.[COMPONENT_LABEL]} ${w.status?.readyReplicas}/${w.spec?.replicas}`).join(', ')}), ${pods.length} pods Running in a restricted namespace; 0 ReplicaFailure, 0 FailedCreate; a non-restricted pod is refused there`,
    );
  });
});
