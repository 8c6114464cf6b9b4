// Pods that fit their cluster (spec.podTemplate, per-component images, service
// accounts, app volumes), on the real API server: its scheduler places kwok's pods
// by nodeSelector, tolerations and priority, its admission checks the pods the
// merged templates make, and its garbage collector decides what outlives the app.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, condition, getJSON, smallApp, waitReady, type AppObject } from '../support/apps.js';
import { kubectl, kubectlOk, useNamespace, waitFor } from '../support/cluster.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';
import { RESTRICTED } from '../support/realnode.js';

const ns = useNamespace('podtemplate');
const restricted = useNamespace('podtemplate-restricted', RESTRICTED);
const pool = `pool-${randomBytes(3).toString('hex')}`;
let operator: OperatorProcess;

beforeAll(async () => {
  // A node of a dedicated pool, tainted so only pods that tolerate it land there;
  // kwok keeps it Ready (it manages nodes with this annotation).
  await kubectlOk(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: pool, labels: { 'backendapp.io/test-pool': pool }, annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' } },
      spec: { taints: [{ key: 'dedicated', value: pool, effect: 'NoSchedule' }] },
    }),
  });
  await kubectlOk(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: pool }, value: 1000 }),
  });
  await kubectlOk(['create', 'serviceaccount', 'uploader', '-n', ns.name]);
  operator = await startOperator({ namespaces: [ns.name, restricted.name] });
});

afterAll(async () => {
  expect(await operator.stop()).toBe(0);
  await kubectl(['delete', 'node', pool, '--wait=false']);
  await kubectl(['delete', 'priorityclass', pool, '--wait=false']);
});

type PodList = {
  items: {
    metadata: { name: string; annotations?: Record<string, string> };
    spec: { nodeName?: string; priorityClassName?: string; serviceAccountName?: string };
    status: { phase?: string };
  }[];
};
type PodSpec = {
  serviceAccountName?: string;
  containers: { name: string; image: string; volumeMounts?: { name: string; mountPath: string }[] }[];
  volumes?: { name: string; emptyDir?: unknown; persistentVolumeClaim?: { claimName: string } }[];
};
type Deployment = { metadata: { generation: number }; spec: { template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec } } };

const podsOf = async (app: string, component: string) =>
  JSON.parse(
    await kubectlOk(['get', 'pods', '-n', ns.name, '-l', `app.kubernetes.io/instance=${app},app.kubernetes.io/component=${component}`, '-o', 'json']),
  ) as PodList;
const deployment = (app: string, component: string, namespace = ns.name) => getJSON<Deployment>(namespace, `deployment/${app}-${component}`);

describe('spec.podTemplate', () => {
  it('lands the worker only on the node its nodeSelector and toleration allow, with its priority class', async () => {
    await apply(
      smallApp(ns.name, 'gpu', {
        podTemplate: { spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: pool, effect: 'NoSchedule' }] } },
        worker: {
          app: 'app.celery',
          replicas: 2,
          podTemplate: { spec: { nodeSelector: { 'backendapp.io/test-pool': pool }, priorityClassName: pool } },
        },
      }),
    );
    await waitReady(ns.name, 'gpu');
    const workers = await podsOf('gpu', 'worker');
    expect(workers.items).toHaveLength(2);
    for (const p of workers.items) {
      expect(p.spec.nodeName, p.metadata.name).toBe(pool);
      expect(p.spec.priorityClassName, p.metadata.name).toBe(pool);
    }
  });

  it('gives the pods their service account and annotations, and rolls only the component whose image changed', async () => {
    const manifest = (workerImage?: string) =>
      smallApp(ns.name, 'ids', {
        serviceAccountName: 'uploader',
        podTemplate: { metadata: { annotations: { 'example.com/team': 'payments' } } },
        worker: { app: 'app.celery', replicas: 1, ...(workerImage ? { image: workerImage } : {}) },
      });
    await apply(manifest());
    await waitReady(ns.name, 'ids');
    const [api] = (await podsOf('ids', 'api')).items;
    expect(api?.spec.serviceAccountName).toBe('uploader');
    expect(api?.metadata.annotations?.['example.com/team']).toBe('payments');

    const apiBefore = await deployment('ids', 'api');
    const workerBefore = await deployment('ids', 'worker');
    await apply(manifest('ghcr.io/acme/backend-worker:2.0.0'));
    await waitReady(ns.name, 'ids');
    const apiAfter = await deployment('ids', 'api');
    const workerAfter = await deployment('ids', 'worker');
    expect(workerAfter?.spec.template.spec.containers[0]?.image).toBe('ghcr.io/acme/backend-worker:2.0.0');
    expect(workerAfter?.metadata.generation).toBe((workerBefore?.metadata.generation ?? 0) + 1);
    expect(apiAfter?.metadata.generation).toBe(apiBefore?.metadata.generation);
    expect(apiAfter?.spec.template.spec.containers[0]?.image).toBe('ghcr.io/acme/backend:1.0.0');
  });

  it('adds a sidecar and removes it again', async () => {
    const sidecar = { name: 'log-shipper', image: 'ghcr.io/acme/shipper:1', securityContext: { allowPrivilegeEscalation: false } };
    await apply(smallApp(ns.name, 'side', { api: { port: 8000, replicas: 1, podTemplate: { spec: { containers: [sidecar] } } } }));
    await waitReady(ns.name, 'side');
    expect((await deployment('side', 'api'))?.spec.template.spec.containers.map((c) => c.name)).toEqual(['api', 'log-shipper']);
    await apply(smallApp(ns.name, 'side'));
    await waitFor('the sidecar to go', async () => {
      const names = (await deployment('side', 'api'))?.spec.template.spec.containers.map((c) => c.name);
      return names?.length === 1 && names[0] === 'api';
    });
  });

  it('reports a pod the API server refuses as InvalidSpec naming the field, and keeps the running Deployment', async () => {
    await apply(smallApp(ns.name, 'bad'));
    await waitReady(ns.name, 'bad');
    const before = await deployment('bad', 'api');
    // A sidecar without an image: the schema lets podTemplate hold any pod field, the API server checks it.
    await apply(smallApp(ns.name, 'bad', { api: { port: 8000, replicas: 1, podTemplate: { spec: { containers: [{ name: 'no-image' }] } } } }));
    const app = await waitFor('bapp/bad InvalidSpec', async () => {
      const a = await getJSON<AppObject>(ns.name, 'bapp/bad');
      const ready = condition(a, 'Ready');
      if (ready?.reason === 'InvalidSpec' && a?.status?.observedGeneration === a?.metadata.generation) return a;
      throw new Error(JSON.stringify(a?.status));
    });
    expect(condition(app, 'Ready')?.message).toMatch(/spec\.template\.spec\.containers\[1\]\.image: Required value/);
    expect((await deployment('bad', 'api'))?.metadata.generation).toBe(before?.metadata.generation);
  });

  it('refuses at admission a podTemplate that sets a field the operator owns, naming the field to use', async () => {
    const res = await kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], {
      input: JSON.stringify(
        smallApp(ns.name, 'owned', { api: { port: 8000, replicas: 1, podTemplate: { spec: { containers: [{ name: 'api', image: 'other:1' }] } } } }),
      ),
    });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/spec\.api\.podTemplate\.spec\.containers: Invalid value: must not set image of the api container: set spec\.api\.image/);
    console.log(`[podtemplate] kubectl apply of an owned field:\n${res.stderr.trim()}`);
  });

  it('shows FailedCreate with the admission message when a podTemplate breaks the namespace’s Pod Security', async () => {
    const app = smallApp(restricted.name, 'priv', {
      api: { port: 8000, replicas: 1, podTemplate: { spec: { containers: [{ name: 'api', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }] } } },
    });
    delete (app.spec as { databases?: unknown }).databases;
    await apply(app);
    await waitFor('FailedCreate in status', async () => {
      const a = await getJSON<AppObject & { status?: { components?: Record<string, { message?: string }> } }>(restricted.name, 'bapp/priv');
      const message = a?.status?.components?.api?.message ?? '';
      if (/^FailedCreate: .*violates PodSecurity "restricted:latest".*NET_ADMIN/.test(message)) return true;
      throw new Error(JSON.stringify(a?.status));
    });
  });
});

describe('spec.volumes', () => {
  it('mounts an emptyDir at /app/logs into the components that list it', async () => {
    await apply(
      smallApp(ns.name, 'logs', {
        volumes: [{ name: 'logs', mountPath: '/app/logs', emptyDir: { sizeLimit: '1Gi' } }],
        api: { port: 8000, replicas: 1, volumes: ['logs'] },
        worker: { app: 'app.celery', replicas: 1 },
      }),
    );
    await waitReady(ns.name, 'logs');
    const api = (await deployment('logs', 'api'))?.spec.template.spec;
    expect(api?.containers[0]?.volumeMounts).toContainEqual(expect.objectContaining({ name: 'logs', mountPath: '/app/logs' }));
    expect(api?.volumes).toContainEqual(expect.objectContaining({ name: 'logs', emptyDir: { sizeLimit: '1Gi' } }));
    const worker = (await deployment('logs', 'worker'))?.spec.template.spec;
    expect(worker?.containers[0]?.volumeMounts?.some((m) => m.name === 'logs')).toBe(false);
  });

  it('keeps a persistent volume’s claim when the app is deleted under Retain, and deletes it under Delete', async () => {
    const withVolume = (name: string, deletionPolicy: string) =>
      smallApp(ns.name, name, {
        volumes: [{ name: 'data', mountPath: '/app/data', persistentVolumeClaim: { size: '1Gi' }, deletionPolicy }],
        api: { port: 8000, replicas: 1, volumes: ['data'] },
      });
    await apply(withVolume('keep', 'Retain'));
    await apply(withVolume('drop', 'Delete'));
    await waitReady(ns.name, 'keep');
    await waitReady(ns.name, 'drop');
    const mounted = (await deployment('keep', 'api'))?.spec.template.spec.volumes;
    expect(mounted).toContainEqual(expect.objectContaining({ name: 'data', persistentVolumeClaim: { claimName: 'keep-data' } }));
    const keepUid = (await getJSON<{ metadata: { uid: string } }>(ns.name, 'pvc/keep-data'))?.metadata.uid;
    expect(keepUid).toBeTruthy();
    expect(await getJSON(ns.name, 'pvc/drop-data')).toBeDefined();

    await kubectlOk(['delete', 'bapp', 'keep', 'drop', '-n', ns.name, '--wait=true'], { timeoutMs: 120_000 });
    await waitFor('the Delete claim to go', async () => (await getJSON(ns.name, 'pvc/drop-data')) === undefined, 60_000);
    // The app is gone (its finalizer ran): a kept claim has nothing left to wait for.
    const kept = await getJSON<{ metadata: { uid: string; ownerReferences?: unknown[]; deletionTimestamp?: string } }>(ns.name, 'pvc/keep-data');
    expect(kept?.metadata.uid).toBe(keepUid);
    expect(kept?.metadata.deletionTimestamp).toBeUndefined();
    expect(kept?.metadata.ownerReferences ?? []).toEqual([]);
  });
});
