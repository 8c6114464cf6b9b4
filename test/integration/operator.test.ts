// The operator, run as its own process, against the real API server: it converges,
// repairs drift without fighting the autoscaler, prunes what is turned off, keeps
// data, and tells the truth in status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, kubectlOk, useNamespace, waitFor } from '../support/cluster.js';
import { apply, condition, exists, finwise, getJSON, secretData, smallApp, waitReady, type AppObject } from '../support/apps.js';
import { operatorIdentity, type OperatorIdentity } from '../support/identity.js';
import { startOperator, type OperatorOptions, type OperatorProcess } from '../support/operator.js';

const ns = useNamespace('operator');
let operator: OperatorProcess;
// OPERATOR_KUBECONFIG_MODE=serviceaccount runs this file as the chart's ServiceAccount.
let identity: OperatorIdentity;
const operatorOptions = (): OperatorOptions => ({ namespaces: [ns.name], ...(identity.kubeconfig ? { kubeconfig: identity.kubeconfig } : {}) });

beforeAll(async () => {
  identity = await operatorIdentity(ns.name);
  operator = await startOperator(operatorOptions());
});

afterAll(async () => {
  const code = await operator.stop();
  await identity.remove();
  expect(code).toBe(0);
});

type Deployment = { metadata: { uid: string; generation: number }; spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } } };

describe('the finwise example', () => {
  it('gets every child and becomes Ready; kubectl wait returns', async () => {
    const started = Date.now();
    await apply(finwise(ns.name));
    const wait = await kubectl(['wait', '-n', ns.name, '--for=condition=Ready', 'bapp/finwise', '--timeout=120s'], { timeoutMs: 130_000 });
    expect(wait.code, wait.stderr).toBe(0);
    console.log(`finwise: kubectl apply to Ready in ${Date.now() - started} ms`);
    for (const c of ['api', 'worker', 'beat', 'flower']) expect(await exists(ns.name, `deployment/finwise-${c}`)).toBe(true);
    for (const db of ['postgres', 'redis', 'mongodb']) {
      expect(await exists(ns.name, `statefulset/finwise-${db}`)).toBe(true);
      expect(await exists(ns.name, `service/finwise-${db}`)).toBe(true);
      expect(await exists(ns.name, `secret/finwise-${db}-credentials`)).toBe(true);
      expect(await exists(ns.name, `networkpolicy/finwise-${db}`)).toBe(true);
    }
    expect(await exists(ns.name, 'hpa/finwise-api')).toBe(true);
    expect(await exists(ns.name, 'pdb/finwise-api')).toBe(true);
    const app = await waitReady(ns.name, 'finwise');
    expect(app.status?.components?.api).toEqual({ ready: 3, desired: 3 });
    expect(app.metadata.finalizers).toContain('backendapp.io/finalizer');
    const events = await kubectlOk(['events', '-n', ns.name, '--for', 'backendapp/finwise']);
    expect(events).toMatch(/Created\s+BackendApp\/finwise\s+Created \d+ objects: \d+ Secret/);
  });

  it('recreates a deleted child', async () => {
    const before = await getJSON<{ metadata: { uid: string } }>(ns.name, 'service/finwise-api');
    await kubectlOk(['delete', '-n', ns.name, 'service/finwise-api', '--wait=true']);
    const after = await waitFor('service finwise-api recreated', () => getJSON<{ metadata: { uid: string } }>(ns.name, 'service/finwise-api'), 30_000);
    expect(after.metadata.uid).not.toBe(before?.metadata.uid);
  });

  it('reverts a hand edit of a managed field', async () => {
    await kubectlOk(['set', 'image', '-n', ns.name, 'deployment/finwise-beat', 'beat=evil:latest']);
    const reverted = await waitFor(
      'beat image reverted',
      async () => {
        const d = await getJSON<Deployment>(ns.name, 'deployment/finwise-beat');
        return d?.spec.template.spec.containers[0]?.image === 'ghcr.io/finwise/backend:1.4.2' ? d : undefined;
      },
      30_000,
    );
    expect(reverted).toBeDefined();
  });

  it('does not revert a hand scale of the api while its HPA owns the replica count', async () => {
    await kubectlOk(['scale', '-n', ns.name, 'deployment/finwise-api', '--replicas=5']);
    // Poke the operator with a spec-neutral change to the app so it certainly reconciles.
    await kubectlOk(['annotate', '-n', ns.name, 'bapp/finwise', 'test/poke=1', '--overwrite']);
    await kubectlOk(['label', '-n', ns.name, 'deployment/finwise-api', 'test/poke=1', '--overwrite']);
    await new Promise((r) => setTimeout(r, 5_000));
    const d = await getJSON<Deployment>(ns.name, 'deployment/finwise-api');
    expect(d?.spec.replicas).toBe(5);
    const app = await waitFor('status follows the autoscaled count', async () => {
      const a = await getJSON<AppObject>(ns.name, 'bapp/finwise');
      return a?.status?.components?.api?.desired === 5 ? a : undefined;
    });
    expect(condition(app, 'Degraded')?.status).toBe('False');
  });

  it('rolls api, worker and beat to a new image', async () => {
    const gen = (await getJSON<Deployment>(ns.name, 'deployment/finwise-api'))?.metadata.generation ?? 0;
    await kubectlOk(['patch', '-n', ns.name, 'bapp/finwise', '--type=merge', '-p', '{"spec":{"image":"ghcr.io/finwise/backend:1.5.0"}}']);
    for (const c of ['api', 'worker', 'beat']) {
      await waitFor(`${c} on 1.5.0`, async () => {
        const d = await getJSON<Deployment>(ns.name, `deployment/finwise-${c}`);
        return d?.spec.template.spec.containers.every((k) => k.image === 'ghcr.io/finwise/backend:1.5.0');
      });
    }
    expect((await getJSON<Deployment>(ns.name, 'deployment/finwise-api'))?.metadata.generation).toBeGreaterThan(gen);
    await waitReady(ns.name, 'finwise');
  });

  it('prunes the worker when it is removed from the spec', async () => {
    await kubectlOk([
      'patch',
      '-n',
      ns.name,
      'bapp/finwise',
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/spec/worker"},{"op":"add","path":"/spec/beat/app","value":"app.celery"}]',
    ]);
    await waitFor('worker pruned', async () => !(await exists(ns.name, 'deployment/finwise-worker')) && !(await exists(ns.name, 'pdb/finwise-worker')));
    const app = await waitReady(ns.name, 'finwise');
    expect(app.status?.components?.worker).toBeUndefined();
  });

  it('removes a database turned off but keeps its volume and credentials (Retain)', async () => {
    const creds = await secretData(ns.name, 'finwise-mongodb-credentials');
    await kubectlOk(['patch', '-n', ns.name, 'bapp/finwise', '--type=json', '-p', '[{"op":"remove","path":"/spec/databases/mongodb"}]']);
    await waitFor(
      'mongodb workload removed',
      async () => !(await exists(ns.name, 'statefulset/finwise-mongodb')) && !(await exists(ns.name, 'service/finwise-mongodb')),
    );
    expect(await exists(ns.name, 'pvc/data-finwise-mongodb-0')).toBe(true);
    expect(await secretData(ns.name, 'finwise-mongodb-credentials')).toEqual(creds);
    await waitReady(ns.name, 'finwise');
  });
});

describe('an invalid spec', () => {
  // The API server refuses almost every invalid spec itself (the CRD carries the
  // schema's rules), so an invalid spec reaches the operator when its CRD is older
  // or looser than the operator: Helm never upgrades CRDs. Simulate that.
  const loosenCRD = () =>
    kubectlOk([
      'patch',
      'crd',
      'backendapps.backendapp.io',
      '--type=json',
      '-p',
      JSON.stringify([
        {
          op: 'replace',
          path: '/spec/versions/0/schema/openAPIV3Schema/properties/spec',
          value: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        },
      ]),
    ]);
  const restoreCRD = () => kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', 'crds/']);

  it('sets a condition naming the field, records a Warning, and leaves every child untouched; deletion still completes', async () => {
    await apply(smallApp(ns.name, 'bad'));
    await waitReady(ns.name, 'bad');
    const children = async () =>
      (
        await kubectlOk([
          'get',
          '-n',
          ns.name,
          'deploy,sts,svc,secret,networkpolicy',
          '-l',
          'app.kubernetes.io/instance=bad',
          '-o',
          'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}',
        ])
      )
        .split('\n')
        .filter(Boolean)
        .sort();
    const before = await children();
    expect(before.length).toBeGreaterThanOrEqual(8);
    try {
      await loosenCRD();
      await waitFor(
        'the looser CRD to serve',
        async () => {
          const r = await kubectl(['patch', '-n', ns.name, 'bapp/bad', '--type=merge', '-p', '{"spec":{"api":{"port":70000}}}']);
          return r.code === 0;
        },
        30_000,
        500,
      );
      const app = await waitFor(
        'InvalidSpec condition',
        async () => {
          const a = await getJSON<AppObject>(ns.name, 'bapp/bad');
          return condition(a, 'Ready')?.reason === 'InvalidSpec' && a?.status?.observedGeneration === a?.metadata.generation ? a : undefined;
        },
        30_000,
      );
      expect(condition(app, 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
      expect(condition(app, 'Degraded')?.message).toContain('spec.api.port');
      expect(condition(app, 'Degraded')?.message).toContain('65535');
      const events = await kubectlOk(['events', '-n', ns.name, '--for', 'backendapp/bad', '--types=Warning']);
      expect(events).toMatch(/InvalidSpec.*spec\.api\.port/);
      // Give a wrongly-acting operator time to act, then compare.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await children()).toEqual(before);
      // The finalizer still lets an invalid app go, and keeps its data (Retain).
      await kubectlOk(['delete', '-n', ns.name, 'bapp/bad', '--wait=true', '--timeout=60s']);
      expect(await exists(ns.name, 'pvc/data-bad-postgres-0')).toBe(true);
      expect(await exists(ns.name, 'secret/bad-postgres-credentials')).toBe(true);
    } finally {
      await restoreCRD();
    }
  });
});

describe('credentials', () => {
  it('are identical before and after the operator restarts', async () => {
    await apply(smallApp(ns.name, 'restart'));
    await waitReady(ns.name, 'restart');
    const before = await secretData(ns.name, 'restart-postgres-credentials');
    expect(before?.password).toBeTruthy();
    expect(await operator.stop()).toBe(0);
    operator = await startOperator(operatorOptions());
    // A spec change forces a full render and apply after the restart.
    await kubectlOk(['patch', '-n', ns.name, 'bapp/restart', '--type=merge', '-p', '{"spec":{"image":"ghcr.io/acme/backend:1.0.1"}}']);
    await waitReady(ns.name, 'restart');
    expect(await secretData(ns.name, 'restart-postgres-credentials')).toEqual(before);
    expect(await secretData(ns.name, 'restart-redis-credentials')).toBeTruthy();
  });
});

describe('deletion', () => {
  it('garbage-collects workloads and keeps volumes and credentials under Retain', async () => {
    await apply(smallApp(ns.name, 'keep'));
    await waitReady(ns.name, 'keep');
    const creds = await secretData(ns.name, 'keep-postgres-credentials');
    await kubectlOk(['delete', '-n', ns.name, 'bapp/keep', '--wait=true', '--timeout=60s']);
    await waitFor('workloads collected', async () => !(await exists(ns.name, 'deployment/keep-api')) && !(await exists(ns.name, 'statefulset/keep-postgres')));
    expect(await exists(ns.name, 'pvc/data-keep-postgres-0')).toBe(true);
    expect(await secretData(ns.name, 'keep-postgres-credentials')).toEqual(creds);
    // Recreated with the same name, the app reuses them.
    await apply(smallApp(ns.name, 'keep'));
    await waitReady(ns.name, 'keep');
    expect(await secretData(ns.name, 'keep-postgres-credentials')).toEqual(creds);
    const pvc = await getJSON<{ status: { phase: string } }>(ns.name, 'pvc/data-keep-postgres-0');
    expect(pvc?.status.phase).toBe('Bound');
  });

  it('removes volumes and credentials under Delete', async () => {
    const app = smallApp(ns.name, 'drop', {
      databases: { postgres: { version: '15', storage: { size: '1Gi' }, deletionPolicy: 'Delete' }, redis: { version: '7', deletionPolicy: 'Delete' } },
    });
    await apply(app);
    await waitReady(ns.name, 'drop');
    expect(await exists(ns.name, 'pvc/data-drop-postgres-0')).toBe(true);
    await kubectlOk(['delete', '-n', ns.name, 'bapp/drop', '--wait=true', '--timeout=60s']);
    await waitFor(
      'claims and credentials removed',
      async () =>
        !(await exists(ns.name, 'pvc/data-drop-postgres-0')) &&
        !(await exists(ns.name, 'secret/drop-postgres-credentials')) &&
        !(await exists(ns.name, 'secret/drop-redis-credentials')),
      60_000,
    );
  });
});
