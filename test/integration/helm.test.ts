// The chart's life cycle as a cluster admin drives it, on the real API server:
// `helm install` (the CRD is already there, installed by the global setup, so Helm
// must step over it) until the operator Deployment is Available, `helm upgrade`
// with changed values rolls it, `helm uninstall` leaves the CRD and every
// BackendApp in place and nothing cluster-wide behind, so the same release can be
// installed again. kwok runs the pods, so no operator image is pulled (or needed).
//
// No --kube-version anywhere: install and upgrade ask the API server for its
// version. Only `helm template`, which never talks to a server, needs it with the
// `go install`-built helm of the local control plane (it defaults to v1.20; see
// docs/install.md).
import { randomBytes } from 'node:crypto';
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, getJSON, smallApp } from '../support/apps.js';
import { kubectl, kubectlOk, run, tool, useNamespace, waitFor } from '../support/cluster.js';
import { CHART, helmOk, parseManifests } from '../support/identity.js';

const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };
const ns = useNamespace('helm', RESTRICTED);
const appsNs = useNamespace('helm-apps');
const other = useNamespace('helm-again', RESTRICTED);

// A release name of our own: the ClusterRole and its binding are named after it.
const RELEASE = `bapp-${randomBytes(3).toString('hex')}`;
const FULLNAME = `${RELEASE}-backendapp-operator`;
const INSTANCE = `app.kubernetes.io/instance=${RELEASE}`;
const CRD = 'crd/backendapps.backendapp.io';

let crdUid = '';

beforeAll(async () => {
  crdUid = (await kubectlOk(['get', CRD, '-o', 'jsonpath={.metadata.uid}'])).trim();
  expect(crdUid).not.toBe('');
});

afterAll(async () => {
  // Nothing cluster-wide may outlive the test, whatever failed.
  for (const namespace of [ns.name, other.name])
    await run(tool('helm'), ['uninstall', RELEASE, '-n', namespace, '--ignore-not-found', '--wait', '--timeout', '2m']);
  await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', INSTANCE, '--ignore-not-found']);
});

type Deployment = V1Deployment & { metadata: { generation: number } };

async function deployment(namespace = ns.name): Promise<Deployment | undefined> {
  return getJSON<Deployment>(namespace, `deployment/${FULLNAME}`);
}

/** Available, every replica on the current template, and the controller has seen the latest generation. */
async function waitAvailable(namespace = ns.name): Promise<Deployment> {
  return waitFor(
    `deployment/${FULLNAME} Available`,
    async () => {
      const d = await deployment(namespace);
      const st = d?.status;
      const available = st?.conditions?.find((c) => c.type === 'Available')?.status === 'True';
      const want = d?.spec?.replicas ?? 0;
      if (
        d &&
        available &&
        st?.observedGeneration === d.metadata.generation &&
        st.updatedReplicas === want &&
        st.availableReplicas === want &&
        st.replicas === want
      )
        return d;
      throw new Error(`status ${JSON.stringify(st)}`);
    },
    120_000,
  );
}

async function replicaSets(namespace = ns.name): Promise<V1ReplicaSet[]> {
  return (JSON.parse(await kubectlOk(['get', 'rs', '-n', namespace, '-l', INSTANCE, '-o', 'json'])) as { items: V1ReplicaSet[] }).items;
}

async function clusterScoped(): Promise<string[]> {
  return (await kubectlOk(['get', 'clusterrole,clusterrolebinding', '-l', INSTANCE, '-o', 'name'])).split('\n').filter(Boolean).sort();
}

async function crdStillThere(): Promise<void> {
  expect((await kubectlOk(['get', CRD, '-o', 'jsonpath={.metadata.uid}'])).trim(), 'the same CRD, never deleted and recreated').toBe(crdUid);
}

describe('helm install, upgrade, uninstall', () => {
  it('install: steps over the existing CRD, and the operator Deployment becomes Available', async () => {
    const started = Date.now();
    const out = await helmOk(['install', RELEASE, CHART, '--namespace', ns.name, '--wait', '--timeout', '3m']);
    console.log(`helm install --wait: ${Date.now() - started} ms`);
    expect(out).toMatch(/STATUS: deployed/);
    expect(out).toContain(`kubectl -n ${ns.name} rollout status deployment/${FULLNAME}`);
    await crdStillThere();
    // The CRD is in the chart's crds/, which Helm installs but never tracks: not in
    // the release, so neither upgrade nor uninstall touches it.
    const manifest = parseManifests(await helmOk(['get', 'manifest', RELEASE, '-n', ns.name]));
    expect(manifest.map((o) => o.kind)).not.toContain('CustomResourceDefinition');
    expect(manifest.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        `ClusterRole/${FULLNAME}-manager`,
        `ClusterRoleBinding/${FULLNAME}-manager`,
        `Deployment/${FULLNAME}`,
        `PodDisruptionBudget/${FULLNAME}`,
        `Role/${FULLNAME}-leader-election`,
        `RoleBinding/${FULLNAME}-leader-election`,
        `Service/${FULLNAME}-metrics`,
        `ServiceAccount/${FULLNAME}`,
      ].sort(),
    );

    const d = await waitAvailable();
    expect(d.spec?.replicas).toBe(2);
    expect(d.status?.readyReplicas).toBe(2);
    // The namespace enforces Pod Security restricted, so running pods were admitted under it.
    const pods = (JSON.parse(await kubectlOk(['get', 'pods', '-n', ns.name, '-l', INSTANCE, '-o', 'json'])) as { items: { status: { phase: string } }[] })
      .items;
    expect(pods.map((p) => p.status.phase)).toEqual(['Running', 'Running']);
    expect(await clusterScoped()).toEqual([
      `clusterrole.rbac.authorization.k8s.io/${FULLNAME}-manager`,
      `clusterrolebinding.rbac.authorization.k8s.io/${FULLNAME}-manager`,
    ]);
  });

  it('upgrade with changed values rolls the Deployment to a new ReplicaSet and is Available again', async () => {
    const before = (await deployment())!;
    const oldHashes = (await replicaSets()).map((rs) => rs.metadata?.labels?.['pod-template-hash']);
    expect(oldHashes).toHaveLength(1);
    const started = Date.now();
    await helmOk([
      'upgrade',
      RELEASE,
      CHART,
      '--namespace',
      ns.name,
      '--reuse-values',
      '--set',
      'logLevel=debug',
      '--set',
      'resources.requests.cpu=200m',
      '--wait',
      '--timeout',
      '3m',
    ]);
    const after = await waitAvailable();
    console.log(`helm upgrade --wait to Available: ${Date.now() - started} ms`);
    expect(after.metadata.generation).toBeGreaterThan(before.metadata.generation);
    const c = after.spec!.template.spec!.containers[0]!;
    expect(c.args).toContain('--log-level=debug');
    expect(c.args).not.toContain('--log-level=info');
    expect(c.resources?.requests?.cpu).toBe('200m');

    // A new ReplicaSet runs every pod; the old one is scaled to zero.
    const sets = await replicaSets();
    const fresh = sets.filter((rs) => !oldHashes.includes(rs.metadata?.labels?.['pod-template-hash']));
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.status?.readyReplicas).toBe(2);
    for (const rs of sets.filter((s) => s !== fresh[0])) expect(rs.spec?.replicas).toBe(0);
    const newHash = fresh[0]!.metadata!.labels!['pod-template-hash'];
    await waitFor('only new pods left', async () => {
      const pods = (
        JSON.parse(await kubectlOk(['get', 'pods', '-n', ns.name, '-l', INSTANCE, '-o', 'json'])) as {
          items: { metadata: { labels: Record<string, string> } }[];
        }
      ).items;
      return pods.length === 2 && pods.every((p) => p.metadata.labels['pod-template-hash'] === newHash);
    });

    const history = JSON.parse(await helmOk(['history', RELEASE, '-n', ns.name, '-o', 'json'])) as { revision: number; status: string }[];
    expect(history.map((h) => [h.revision, h.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
    ]);
  });

  it('uninstall leaves the CRD and existing BackendApps, and nothing cluster-wide', async () => {
    await apply(smallApp(appsNs.name, 'survivor'));
    const app = await getJSON<{ metadata: { uid: string } }>(appsNs.name, 'bapp/survivor');
    expect(app).toBeDefined();

    await helmOk(['uninstall', RELEASE, '--namespace', ns.name, '--wait', '--timeout', '2m']);

    await crdStillThere();
    expect((await getJSON<{ metadata: { uid: string } }>(appsNs.name, 'bapp/survivor'))?.metadata.uid).toBe(app!.metadata.uid);
    expect(await deployment()).toBeUndefined();
    expect(await getJSON(ns.name, `serviceaccount/${FULLNAME}`)).toBeUndefined();
    expect(await clusterScoped()).toEqual([]);
    expect((await helmOk(['list', '-n', ns.name, '-q'])).trim()).toBe('');
  });

  it('installs again under the same release name, in another namespace, and uninstalls cleanly', async () => {
    await helmOk(['install', RELEASE, CHART, '--namespace', other.name, '--wait', '--timeout', '3m']);
    await waitAvailable(other.name);
    const binding = JSON.parse(await kubectlOk(['get', 'clusterrolebinding', `${FULLNAME}-manager`, '-o', 'json'])) as { subjects: { namespace: string }[] };
    expect(binding.subjects.map((s) => s.namespace)).toEqual([other.name]);
    await helmOk(['uninstall', RELEASE, '--namespace', other.name, '--wait', '--timeout', '2m']);
    expect(await clusterScoped()).toEqual([]);
    await crdStillThere();
    expect(await getJSON(appsNs.name, 'bapp/survivor')).toBeDefined();
  });
});
