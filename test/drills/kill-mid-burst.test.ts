// Drill 1: the operator is SIGKILLed in the middle of a burst of 100 new
// BackendApps (a node drain, an OOM kill) and started again. Everything
// converges, no child is duplicated or orphaned, and every credential Secret that
// existed at the moment of the kill is byte-identical afterwards: a password
// generated once is never generated again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTANCE_LABEL } from '../../src/render/labels.js';
import { useNamespace, waitFor } from '../support/cluster.js';
import type { Manifest } from '../support/apps.js';
import {
  BACKENDAPPS,
  CHILD_KINDS,
  PVCS,
  REPLICASETS,
  applyManifest,
  children,
  ensureAvailablePVs,
  hashData,
  inParallel,
  list,
  objKey,
  releaseApps,
  waitAllReady,
} from '../support/drills.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

const APPS = 100;
const KILL_AT = 30; // apps with children when the operator is killed
const ns = useNamespace('drill-kill');
let operator: OperatorProcess | undefined;

afterAll(async () => {
  await operator?.stop();
  await releaseApps(ns.name);
});

/** The four shapes of app in the burst. */
type Shape = 'api' | 'redis' | 'postgres+redis' | 'redis+flower';

const nameOf = (i: number): string => `app-${String(i).padStart(3, '0')}`;

/**
 * Small apps, so 100 of them fit a 2-core machine: half are an api alone, the
 * rest add Redis, and one in ten each PostgreSQL + Redis or Redis + Flower, so
 * every kind of credential is generated. 60 volume claims in all.
 */
function shapeOf(i: number): Shape {
  const kind = i % 10;
  if (kind === 0) return 'postgres+redis';
  if (kind === 5) return 'redis+flower';
  if (kind <= 3) return 'redis';
  return 'api';
}

function app(i: number): Manifest {
  const spec: Record<string, unknown> = { image: 'ghcr.io/acme/backend:1.0.0', api: { port: 8000, replicas: 1 } };
  const kind = i % 10;
  const shape = shapeOf(i);
  if (shape === 'postgres+redis') spec.databases = { postgres: { version: '16', storage: { size: '1Gi' } }, redis: { version: '7' } };
  else if (shape === 'redis+flower') Object.assign(spec, { databases: { redis: { version: '7' } }, flower: {} });
  else if (shape === 'redis') spec.databases = { redis: { version: '7', deletionPolicy: kind === 3 ? 'Delete' : 'Retain' } };
  return { apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', metadata: { name: nameOf(i), namespace: ns.name }, spec };
}

/**
 * What the operator must create for each shape, as "Kind/name" with `{app}` for the
 * app's name, written out by hand from what the README and the CRD promise, not
 * from the renderer (whose bugs this drill would otherwise share):
 * - spec.api: a Deployment and a Service named <app>-api. One replica and no
 *   autoscaling, so no PodDisruptionBudget (nothing to protect with a single pod)
 *   and no HorizontalPodAutoscaler.
 * - each database: a StatefulSet named <app>-<db>, its client Service <app>-<db>,
 *   the headless Service <app>-<db>-headless that governs the StatefulSet, the
 *   credentials Secret <app>-<db>-credentials, and a NetworkPolicy <app>-<db>
 *   letting only the app's own pods in (deletionPolicy changes who owns the
 *   Secret, not which children exist).
 * - spec.flower: a Deployment and a Service named <app>-flower, and its basic-auth
 *   password in the Secret <app>-flower-credentials.
 */
const REDIS = ['StatefulSet/{app}-redis', 'Service/{app}-redis', 'Service/{app}-redis-headless', 'Secret/{app}-redis-credentials', 'NetworkPolicy/{app}-redis'];
/**
 * Credentials Secrets whose database keeps deletionPolicy Retain (the default):
 * they must outlive the app, so they carry no owner. From the drill's own specs.
 */
const RETAINED = new Set(
  Array.from({ length: APPS }, (_, i) => {
    const dbs = (app(i).spec as { databases?: Record<string, { deletionPolicy?: string }> }).databases ?? {};
    return Object.entries(dbs)
      .filter(([, db]) => (db.deletionPolicy ?? 'Retain') === 'Retain')
      .map(([db]) => `Secret/${nameOf(i)}-${db}-credentials`);
  }).flat(),
);

const EXPECTED_BY_SHAPE: Record<Shape, string[]> = {
  api: ['Deployment/{app}-api', 'Service/{app}-api'],
  redis: ['Deployment/{app}-api', 'Service/{app}-api', ...REDIS],
  'postgres+redis': [
    'Deployment/{app}-api',
    'Service/{app}-api',
    ...REDIS,
    'StatefulSet/{app}-postgres',
    'Service/{app}-postgres',
    'Service/{app}-postgres-headless',
    'Secret/{app}-postgres-credentials',
    'NetworkPolicy/{app}-postgres',
  ],
  'redis+flower': ['Deployment/{app}-api', 'Service/{app}-api', ...REDIS, 'Deployment/{app}-flower', 'Service/{app}-flower', 'Secret/{app}-flower-credentials'],
};

/** What the operator must have created for apps 0..n-1, as "Kind/name" (e.g. Deployment/app-000-api), sorted. */
function expectedChildren(n: number): string[] {
  return Array.from({ length: n }, (_, i) => EXPECTED_BY_SHAPE[shapeOf(i)].map((k) => k.replace('{app}', nameOf(i))))
    .flat()
    .sort();
}

beforeAll(async () => {
  await ensureAvailablePVs(60);
});

describe('drill 1: operator killed mid-burst', () => {
  it(`converges ${APPS} apps after a SIGKILL, with no duplicate or orphan and every credential unchanged`, async () => {
    const manifests = Array.from({ length: APPS }, (_, i) => app(i));
    const expected = expectedChildren(APPS);
    operator = await startOperator({ namespaces: [ns.name], logLevel: 'info' });
    const firstPid = operator.proc.pid;
    const started = Date.now();
    // The burst: every app at once, as `kubectl apply -f dir/` would.
    const applying = inParallel(manifests, 10, (m) => applyManifest(m));

    const deploymentsRef = CHILD_KINDS['apps/v1/Deployment'];
    if (!deploymentsRef) throw new Error('no Deployment kind');
    const withChildren = async () => new Set((await list(deploymentsRef, ns.name)).map((d) => d.metadata.labels?.[INSTANCE_LABEL])).size;
    const atKill = await waitFor(
      `${KILL_AT} apps to have children`,
      async () => {
        const n = await withChildren();
        return n >= KILL_AT ? n : undefined;
      },
      180_000,
      100,
    );
    await operator.kill();
    const killedAt = Date.now();
    await applying;
    // What exists at the moment of the kill: the operator is dead, nothing changes it now.
    const secretsAtKill = await list(CHILD_KINDS['v1/Secret'] ?? BACKENDAPPS, ns.name, 'backendapp.io/credentials=true');
    const childrenAtKill = (await children(ns.name)).length;
    console.log(
      `drill 1: SIGKILL after ${killedAt - started} ms with ${atKill}/${APPS} apps started, ${childrenAtKill}/${expected.length} children, ${secretsAtKill.length} credential Secrets`,
    );
    expect(atKill).toBeLessThan(APPS);
    expect(childrenAtKill).toBeLessThan(expected.length);
    expect(secretsAtKill.length).toBeGreaterThan(0);

    operator = await startOperator({ namespaces: [ns.name], logLevel: 'info' });
    expect(operator.proc.pid).not.toBe(firstPid);
    const restarted = Date.now();
    const apps = await waitAllReady(ns.name, APPS, 420_000);
    const convergedMs = Date.now() - restarted;

    // Exactly the children the spec promises: none missing, none extra.
    const live = await children(ns.name);
    expect(live.map(objKey).sort()).toEqual(expected);

    // Each child controlled by its own, existing app; retained credentials carry no
    // owner but name an existing app.
    const uidByName = new Map(apps.map((a) => [a.metadata.name, a.metadata.uid]));
    const problems: string[] = [];
    for (const o of live) {
      const instance = o.metadata.labels?.[INSTANCE_LABEL] ?? '';
      if (!uidByName.has(instance)) problems.push(`${objKey(o)}: no app named ${instance}`);
      const refs = o.metadata.ownerReferences ?? [];
      const retained = RETAINED.has(objKey(o));
      if (retained) {
        if (refs.length !== 0) problems.push(`${objKey(o)}: retained credentials with owners ${JSON.stringify(refs)}`);
        continue;
      }
      const controllers = refs.filter((r) => r.controller);
      if (refs.length !== 1 || controllers.length !== 1) problems.push(`${objKey(o)}: ${refs.length} owner references, ${controllers.length} controllers`);
      else if (controllers[0]?.uid !== uidByName.get(instance)) problems.push(`${objKey(o)}: controller ${controllers[0]?.uid} is not app ${instance}`);
    }
    expect(problems).toEqual([]);

    // No duplicate workloads underneath either: one ReplicaSet per Deployment (the
    // restart rolled nothing out) and one bound claim per database.
    const replicaSets = await list(REPLICASETS, ns.name);
    const deployments = live.filter((o) => o.kind === 'Deployment');
    expect(replicaSets.length).toBe(deployments.length);
    for (const d of deployments) expect(d.metadata.generation, objKey(d)).toBe(1);
    const claims = await list(PVCS, ns.name);
    const statefulSets = live.filter((o) => o.kind === 'StatefulSet');
    expect(claims.length).toBe(statefulSets.length);
    expect(claims.filter((c) => c.status?.phase === 'Bound').length).toBe(claims.length);

    // Every credential that existed at the kill: the same object, the same bytes.
    const secretsAfter = new Map(
      (await list(CHILD_KINDS['v1/Secret'] ?? BACKENDAPPS, ns.name, 'backendapp.io/credentials=true')).map((s) => [s.metadata.name, s]),
    );
    const changed = secretsAtKill.filter((s) => {
      const after = secretsAfter.get(s.metadata.name);
      return !after || after.metadata.uid !== s.metadata.uid || hashData(after) !== hashData(s);
    });
    expect(changed.map((s) => s.metadata.name)).toEqual([]);
    console.log(
      `drill 1: restarted operator converged ${APPS} apps (${live.length} children, ${claims.length} claims, ${secretsAfter.size} credential Secrets, ${secretsAtKill.length} of them kept from before the kill) in ${convergedMs} ms; 1 SIGKILL, 1 restart`,
    );
  });
});
