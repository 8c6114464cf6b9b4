// Drill 8: deletion safety. A BackendApp whose stored spec is invalid (its CRD is
// older or looser than the operator, as when Helm did not upgrade the CRD) is
// deleted: the deletion completes; its databases' volumes and credentials are kept
// under deletionPolicy Retain (and removed under Delete); and a BackendApp created
// again with the same name finds them: the same passwords, the same claims bound
// to the same volumes.
import { afterAll, describe, expect, it } from 'vitest';
import { requestJSON, resourcePath } from '../../src/runtime/client.js';
import { kubectlOk, useNamespace, waitFor } from '../support/cluster.js';
import type { Manifest } from '../support/apps.js';
import {
  BACKENDAPPS,
  CHILD_KINDS,
  PVCS,
  applyManifest,
  conditionOf,
  ensureAvailablePVs,
  get,
  hashData,
  kubeConfig,
  list,
  mergePatch,
  releaseApps,
  remove,
  waitAllReady,
  whileAlive,
  type Obj,
} from '../support/drills.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

const ns = useNamespace('drill-delete');
let operator: OperatorProcess | undefined;
const CRD = 'backendapps.backendapp.io';

afterAll(async () => {
  await operator?.stop();
  await releaseApps(ns.name);
});

function app(): Manifest {
  return {
    apiVersion: 'backendapp.io/v1alpha1',
    kind: 'BackendApp',
    metadata: { name: 'keep', namespace: ns.name },
    spec: {
      image: 'ghcr.io/acme/backend:1.0.0',
      api: { port: 8000, replicas: 1 },
      flower: {},
      databases: {
        postgres: { version: '16', storage: { size: '1Gi' } },
        redis: { version: '7', deletionPolicy: 'Retain' },
        mongodb: { version: '7.0', storage: { size: '1Gi' }, deletionPolicy: 'Delete' },
      },
    },
  };
}

const byName = (objs: Obj[]) => new Map(objs.map((o) => [o.metadata.name, o]));

describe('drill 8: deleting an app whose spec is invalid', () => {
  it('completes, keeps volumes and credentials under Retain, and the app created again reuses them', async () => {
    const secretsRef = CHILD_KINDS['v1/Secret'];
    if (!secretsRef) throw new Error('no Secret kind');
    await ensureAvailablePVs(4);
    operator = await startOperator({ namespaces: [ns.name], logLevel: 'info' });
    const op = operator;
    await applyManifest(app());
    await whileAlive(op, waitAllReady(ns.name, 1, 240_000));
    const secretsBefore = byName(await list(secretsRef, ns.name, 'backendapp.io/credentials=true'));
    const claimsBefore = byName(await list(PVCS, ns.name));
    expect([...secretsBefore.keys()].sort()).toEqual([
      'keep-flower-credentials',
      'keep-mongodb-credentials',
      'keep-postgres-credentials',
      'keep-redis-credentials',
    ]);
    expect([...claimsBefore.keys()].sort()).toEqual(['data-keep-mongodb-0', 'data-keep-postgres-0', 'data-keep-redis-0']);

    let deleteMs = 0;
    try {
      // An older, looser CRD lets an invalid spec be stored; the operator reports it.
      await kubectlOk([
        'patch',
        'crd',
        CRD,
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
      await waitFor(
        'the looser CRD to serve',
        async () => {
          await mergePatch(BACKENDAPPS, ns.name, 'keep', { spec: { api: { port: 70000 }, databases: { postgres: { deletionPolicy: 'Sometimes' } } } });
          return true;
        },
        30_000,
        500,
      );
      await whileAlive(
        op,
        waitFor(
          'InvalidSpec',
          async () => {
            const a = await get(BACKENDAPPS, ns.name, 'keep');
            return a && a.status?.observedGeneration === a.metadata.generation && conditionOf(a, 'Ready')?.reason === 'InvalidSpec' ? a : undefined;
          },
          30_000,
        ),
      );

      // The deletion completes, finalizer and all.
      const deleting = Date.now();
      await remove(BACKENDAPPS, ns.name, 'keep');
      await whileAlive(
        op,
        waitFor('the app gone', async () => (await get(BACKENDAPPS, ns.name, 'keep')) === undefined, 60_000, 250),
      );
      deleteMs = Date.now() - deleting;
    } finally {
      await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', 'crds/']);
    }

    // Garbage collection takes the workloads; Retain keeps volumes and credentials, Delete removes them.
    const statefulSets = CHILD_KINDS['apps/v1/StatefulSet'];
    if (!statefulSets) throw new Error('no StatefulSet kind');
    await whileAlive(
      op,
      waitFor(
        'the workloads collected, the Delete database removed',
        async () => {
          const sts = await list(statefulSets, ns.name);
          const claims = byName(await list(PVCS, ns.name));
          const secrets = byName(await list(secretsRef, ns.name));
          return sts.length === 0 && !claims.has('data-keep-mongodb-0') && !secrets.has('keep-mongodb-credentials') && !secrets.has('keep-flower-credentials');
        },
        120_000,
        500,
      ),
    );
    const kept = byName(await list(secretsRef, ns.name, 'backendapp.io/credentials=true'));
    const keptClaims = byName(await list(PVCS, ns.name));
    expect([...kept.keys()].sort()).toEqual(['keep-postgres-credentials', 'keep-redis-credentials']);
    expect([...keptClaims.keys()].sort()).toEqual(['data-keep-postgres-0', 'data-keep-redis-0']);
    for (const s of kept.values()) expect(s.metadata.ownerReferences ?? []).toEqual([]);

    // Created again with the same name: the same passwords, the same claims on the same volumes.
    await waitFor(
      'the restored CRD to refuse an invalid spec',
      async () => {
        try {
          await requestJSON(kubeConfig(), {
            method: 'POST',
            path: resourcePath(BACKENDAPPS, ns.name),
            query: { dryRun: 'All' },
            body: { ...app(), metadata: { name: 'probe' }, spec: { ...app().spec, api: { port: 70000 } } },
          });
          return false;
        } catch {
          return true;
        }
      },
      30_000,
      500,
    );
    const recreating = Date.now();
    await applyManifest(app());
    await whileAlive(op, waitAllReady(ns.name, 1, 240_000));
    const recreatedMs = Date.now() - recreating;
    const secretsAfter = byName(await list(secretsRef, ns.name, 'backendapp.io/credentials=true'));
    const claimsAfter = byName(await list(PVCS, ns.name));
    for (const name of ['keep-postgres-credentials', 'keep-redis-credentials']) {
      expect(secretsAfter.get(name)?.metadata.uid, name).toBe(secretsBefore.get(name)?.metadata.uid);
      expect(hashData(secretsAfter.get(name) as Obj), name).toBe(hashData(secretsBefore.get(name) as Obj));
    }
    for (const name of ['data-keep-postgres-0', 'data-keep-redis-0']) {
      expect(claimsAfter.get(name)?.metadata.uid, name).toBe(claimsBefore.get(name)?.metadata.uid);
      expect(claimsAfter.get(name)?.spec?.volumeName, name).toBe(claimsBefore.get(name)?.spec?.volumeName);
      expect(claimsAfter.get(name)?.status?.phase, name).toBe('Bound');
    }
    // Delete meant delete: MongoDB starts over, with a new password and a new volume.
    expect(hashData(secretsAfter.get('keep-mongodb-credentials') as Obj)).not.toBe(hashData(secretsBefore.get('keep-mongodb-credentials') as Obj));
    expect(claimsAfter.get('data-keep-mongodb-0')?.metadata.uid).not.toBe(claimsBefore.get('data-keep-mongodb-0')?.metadata.uid);
    console.log(
      `drill 8: invalid app deleted in ${deleteMs} ms; kept 2 claims and 2 credential Secrets (Retain), removed MongoDB's (Delete) and Flower's; ` +
        `recreated and Ready in ${recreatedMs} ms with the same passwords and the same claims on the same volumes (${[...keptClaims.values()].map((c) => c.spec?.volumeName).join(', ')})`,
    );
  });
});
