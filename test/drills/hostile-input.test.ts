// Drill 5: hostile input. 1,000 mutations of valid manifests, generated with
// fast-check from a fixed seed (wrong types, missing and unknown fields, huge and
// unicode strings, negative and enormous numbers, invalid quantities and paths,
// conflicting settings), are applied through the API server. Each is refused with
// a message that names a field, or accepted and then either reconciled or
// reported through the InvalidSpec condition (naming the field). The operator
// never crashes, and no child of a bystander app in another namespace changes.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBackendApp } from '../../src/api/v1alpha1.js';
import { statusCodeOf } from '../../src/runtime/client.js';
import { requestJSON } from '../../src/runtime/client.js';
import { useNamespace, waitFor } from '../support/cluster.js';
import { smallApp, type Manifest } from '../support/apps.js';
import {
  BACKENDAPPS,
  CHILD_KINDS,
  PODS,
  applyManifest,
  conditionOf,
  ensureAvailablePVs,
  httpStatus,
  inParallel,
  kubeConfig,
  list,
  objKey,
  releaseApps,
  waitAllReady,
  whileAlive,
  type Obj,
} from '../support/drills.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

const MUTATIONS = 1000;
const APPS = 20;
const SEED = 20_260_107;
const FIELD_MANAGER = 'fuzzer';

const ns = useNamespace('drill-hostile');
const bystanderNs = useNamespace('drill-bystander');
let operator: OperatorProcess | undefined;

afterAll(async () => {
  await operator?.stop();
  await releaseApps(ns.name);
  await releaseApps(bystanderNs.name);
});

beforeAll(async () => {
  await ensureAvailablePVs(35);
  // A valid mutation may ask for many pods; the namespace caps them, so a drill
  // cannot swamp the machine. Capped pods leave an app not Ready, which is still reconciled.
  await requestJSON(kubeConfig(), {
    method: 'POST',
    path: `/api/v1/namespaces/${ns.name}/resourcequotas`,
    body: { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'pods' }, spec: { hard: { pods: '150' } } },
  });
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The valid manifests that are mutated: every field of the API in a few apps, a lighter stack in the rest. */
function base(i: number): Manifest {
  const name = `fuzz-${i}`;
  const common = {
    image: 'ghcr.io/acme/backend:1.0.0',
    env: [{ name: 'LOG_LEVEL', value: 'info' }],
    api: {
      port: 8000,
      replicas: 1,
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } },
      health: {
        startup: { path: '/health' },
        readiness: { path: '/health/ready' },
        liveness: { path: '/health/live' },
        intervalSeconds: 30,
        timeoutSeconds: 10,
        startPeriodSeconds: 40,
        retries: 3,
      },
    },
    worker: { app: 'app.celery', concurrency: 2, queues: ['default'], replicas: 1, resources: { requests: { cpu: '100m' } } },
    beat: {},
  };
  if (i % 4 !== 0)
    return {
      apiVersion: 'backendapp.io/v1alpha1',
      kind: 'BackendApp',
      metadata: { name, namespace: ns.name },
      spec: { ...common, databases: { redis: { version: '7' } } },
    };
  return {
    apiVersion: 'backendapp.io/v1alpha1',
    kind: 'BackendApp',
    metadata: { name, namespace: ns.name },
    spec: {
      ...common,
      imagePullPolicy: 'IfNotPresent',
      imagePullSecrets: [{ name: 'regcred' }],
      envFrom: [{ secretRef: { name: 'api-keys' } }, { configMapRef: { name: 'settings', optional: true }, prefix: 'APP_' }],
      env: [
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'api-keys', key: 'key', optional: true } } },
      ],
      securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
      api: {
        ...common.api,
        command: ['uvicorn', 'app.main:app'],
        args: ['--port', '8000'],
        autoscaling: { minReplicas: 1, maxReplicas: 2, targetCPUUtilizationPercentage: 80 },
      },
      worker: {
        ...common.worker,
        pool: 'prefork',
        loglevel: 'info',
        extraArgs: ['--max-tasks-per-child', '100'],
        terminationGracePeriodSeconds: 60,
        health: { intervalSeconds: 30, timeoutSeconds: 20, startPeriodSeconds: 60, retries: 3 },
      },
      beat: { app: 'app.celery', loglevel: 'info', scheduler: 'celery.beat:PersistentScheduler' },
      flower: { port: 5555, username: 'admin', image: 'mher/flower:2.0' },
      databases: {
        postgres: {
          version: '16',
          storage: { size: '1Gi' },
          database: 'app',
          username: 'app',
          deletionPolicy: 'Retain',
          resources: { limits: { memory: '512Mi' } },
        },
        redis: { version: '7' },
        mongodb: { version: '7.0', storage: { size: '1Gi' } },
      },
    },
  };
}

// ---------------------------------------------------------------------------
// The generator

const HUGE = 'x'.repeat(40_000);
// Strings a YAML manifest can hold: any printable Unicode, but no lone surrogate or
// U+FFFE/U+FFFF, which no YAML file can carry (the apply endpoint's YAML decoder
// refuses the whole body before there is a field to name).
const hostileString = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    HUGE,
    '💥🔥',
    'ру́сский',
    'مرحبا',
    '\u202egnp.evil',
    'tab\there',
    'new\nline',
    'nul\u0000byte',
    'nbsp\u00a0',
    '\ufffd\u{1f4a9}\u{e0001}',
    '../../etc/passwd',
    '$(rm -rf /)',
    '"; DROP TABLE apps; --',
    '{{ .Values }}',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, as hostile input
    '${HOME}',
    '*',
    'A'.repeat(64),
    'a'.repeat(254),
    // quantities and sizes
    '1.5.5Gi',
    '-1',
    '-500m',
    '1e1000',
    '0x10',
    '10GiB',
    '1,5Gi',
    'NaN',
    'Infinity',
    '0',
    '0.0000000001',
    '99999999999999999999999999Ei',
    // paths and references
    'health',
    '/a b',
    '/\u00e9t\u00e9',
    `/${'p'.repeat(2000)}`,
    'http://example.com/health',
    'app.celery:',
    '1app',
    'app..celery',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const hostileNumber = fc.oneof(
  fc.constantFrom(-1, 0, -0.5, 0.5, 1.5, 65_535, 65_536, 70_000, 2 ** 31, 2 ** 31 - 1, 2 ** 53, 2 ** 64, 1e21, -1e21, 1e308, -1e308, 3601, 86_401),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant([] as Json[]),
  fc.constant({} as Json),
  fc.array(fc.oneof(hostileString, hostileNumber), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('a', 'name', 'value', 'path'), fc.oneof(hostileString, hostileNumber), { maxKeys: 2 }),
);

/** Every node of a JSON value (leaves and inner nodes), with its parent and key; the root has none. */
function nodesOf(
  v: Json,
  parent?: Record<string, Json> | Json[],
  key?: string | number,
): { value: Json; parent?: Record<string, Json> | Json[]; key?: string | number }[] {
  const out: { value: Json; parent?: Record<string, Json> | Json[]; key?: string | number }[] = [{ value: v, ...(parent ? { parent, key } : {}) }];
  if (Array.isArray(v)) for (const [i, x] of v.entries()) out.push(...nodesOf(x, v, i));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...nodesOf(x, v, k));
  return out;
}

type Mutation =
  | { kind: 'set'; pathIndex: number; value: Json }
  | { kind: 'delete'; pathIndex: number }
  | { kind: 'unknown'; pathIndex: number; key: string; value: Json }
  | { kind: 'conflict'; which: number };

/** A spec edited blindly: the conflicts below reach into it by any path. */
// biome-ignore lint/suspicious/noExplicitAny: hostile edits of an untyped spec
type LooseSpec = Record<string, any>;

/** Cross-field rules broken on purpose: each must be refused by the API server, or reported. */
const CONFLICTS: ((s: LooseSpec) => void)[] = [
  (s) => (s.api.autoscaling = { minReplicas: 5, maxReplicas: 2, targetCPUUtilizationPercentage: 50 }),
  (s) => (s.api.resources = { requests: { cpu: '2', memory: '1Gi' }, limits: { cpu: '1', memory: '512Mi' } }),
  (s) => {
    s.api.autoscaling = { maxReplicas: 3 };
    delete s.api.resources;
  },
  (s) => {
    s.api.autoscaling = { maxReplicas: 3, targetMemoryUtilizationPercentage: 70 };
    s.api.resources = { requests: { cpu: '100m' } };
  },
  (s) => (s.api.health = { ...s.api.health, timeoutSeconds: 60, intervalSeconds: 10 }),
  (s) => {
    delete s.worker;
    s.beat = {};
  },
  (s) => {
    delete s.databases;
    s.flower = {};
  },
  (s) => (s.env = [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]),
  (s) =>
    (s.env = [
      { name: 'A', value: '1' },
      { name: 'A', value: '2' },
    ]),
  (s) => (s.env = [{ name: 'A', valueFrom: { secretKeyRef: { name: 's', key: 'k' }, configMapKeyRef: { name: 'c', key: 'k' } } }]),
  (s) => (s.envFrom = [{ secretRef: { name: 's' }, configMapRef: { name: 'c' } }]),
  (s) => (s.worker.queues = ['default', 'default']),
  (s) => (s.imagePullSecrets = [{ name: 'a' }, { name: 'a' }]),
  (s) => (s.beat = { replicas: 2 }),
  (s) => (s.flower = { replicas: 2 }),
  (s) => (s.databases = { ...s.databases, postgres: { version: '16', storage: { size: '0' } } }),
  (s) => (s.databases = { ...s.databases, redis: { version: '7', storage: { size: '2Gi' } } }),
  (s) => (s.databases = { ...s.databases, postgres: { version: '17', storage: { size: '1Gi' } } }),
  (s) => (s.worker = { ...s.worker, autoscaling: { minReplicas: 1, maxReplicas: 1001 } }),
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), pathIndex: fc.nat(), value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), pathIndex: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('unknown' as const),
      pathIndex: fc.nat(),
      key: fc.constantFrom('replicas', 'extra', 'Image', 'constructor', 'toString', 'hasOwnProperty', 'ports', 'x-kubernetes'),
      value: hostileValue,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('conflict' as const), which: fc.nat() }) },
);

function mutate(m: Manifest, ms: Mutation[]): Manifest {
  const out = structuredClone(m) as unknown as { spec: Json; metadata: Manifest['metadata'] };
  for (const mu of ms) {
    if (mu.kind === 'conflict') {
      try {
        (CONFLICTS[mu.which % CONFLICTS.length] as (s: LooseSpec) => void)(out.spec as LooseSpec);
      } catch {
        // an earlier mutation removed what this conflict edits
      }
      continue;
    }
    const nodes = nodesOf(out.spec);
    if (mu.kind === 'unknown') {
      const objects = nodes.filter((n) => n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value));
      const target = objects[mu.pathIndex % Math.max(1, objects.length)]?.value as Record<string, Json> | undefined;
      // defineProperty: "constructor" and friends become own, enumerable keys, as JSON.parse would make them.
      if (target) Object.defineProperty(target, mu.key, { value: mu.value, enumerable: true, configurable: true, writable: true });
      continue;
    }
    const node = nodes[mu.pathIndex % nodes.length];
    if (!node) continue;
    if (!node.parent) {
      if (mu.kind === 'set') out.spec = mu.value;
      else delete (out as { spec?: Json }).spec;
    } else if (mu.kind === 'set') {
      (node.parent as Record<string, Json>)[node.key as string] = mu.value;
    } else if (Array.isArray(node.parent)) {
      node.parent.splice(node.key as number, 1);
    } else {
      delete node.parent[node.key as string];
    }
  }
  return out as unknown as Manifest;
}

// ---------------------------------------------------------------------------

/** The field a refusal names: "spec.api.port: Invalid value", `unknown field "spec.x"`, "spec: Invalid value", ".spec.x: expected string". */
const NAMES_A_FIELD = /(?:^|[\s"[(,:])\.?spec(?:[.[][^\s:"]*)?(?::|")/;

/**
 * Server-side apply answers a field of the wrong type, or an undeclared one, with
 * 500 "failed to create typed patch object (...): .spec.x: expected string" instead
 * of a 4xx (kubernetes/kubernetes#139253, fix pending in #139255). The message names
 * the field, so it counts as a refusal naming the field; any other 5xx is a failure.
 */
const SSA_TYPED_PATCH_500 = /: 500: failed to create typed patch object \(/;

/**
 * Half the apps are written with server-side apply (kubectl apply --server-side),
 * half with a plain update (kubectl replace, kubectl edit), each app always the same
 * way so that every write replaces the whole spec.
 */
async function write(m: Manifest, i: number): Promise<Obj> {
  if (i % 2 === 0) return applyManifest(m, FIELD_MANAGER);
  const path = `/apis/backendapp.io/v1alpha1/namespaces/${m.metadata.namespace}/backendapps/${m.metadata.name}`;
  for (let attempt = 1; ; attempt++) {
    // The operator's status writes move the resourceVersion too: read, write, and on a conflict again, as kubectl edit does.
    const live = (await requestJSON(kubeConfig(), { method: 'GET', path })) as Obj;
    try {
      return (await requestJSON(kubeConfig(), {
        method: 'PUT',
        path,
        query: { fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' },
        body: { ...m, metadata: { ...m.metadata, resourceVersion: live.metadata.resourceVersion, finalizers: live.metadata.finalizers } },
      })) as Obj;
    } catch (err) {
      if (statusCodeOf(err) !== 409 || attempt >= 10) throw err;
    }
  }
}

type Outcome = 'refused' | 'reconciled' | 'InvalidSpec';

describe('drill 5: hostile input', () => {
  it(`refuses or safely handles ${MUTATIONS} generated mutations, and a bystander app is untouched`, async () => {
    const started = Date.now();
    operator = await startOperator({ namespaces: [ns.name, bystanderNs.name], logLevel: 'info' });
    const op = operator;
    const pid = op.proc.pid;
    await applyManifest(smallApp(bystanderNs.name, 'bystander', { worker: { app: 'app.celery' }, beat: {} }));
    const bases = Array.from({ length: APPS }, (_, i) => base(i));
    for (const b of bases) expect(validateBackendApp(b).ok, `base ${b.metadata.name}`).toBe(true);
    await inParallel(bases, 10, (b) => applyManifest(b, FIELD_MANAGER));
    const methods = { apply: 0, update: 0, typedPatch500: 0 };
    await whileAlive(op, waitAllReady(bystanderNs.name, 1, 180_000));
    await new Promise((r) => setTimeout(r, 3_000));
    const snapshot = async () => {
      const objs: Obj[] = [
        ...(await Promise.all(Object.values(CHILD_KINDS).map((ref) => list(ref, bystanderNs.name)))).flat(),
        ...(await list(PODS, bystanderNs.name)),
        ...(await list(BACKENDAPPS, bystanderNs.name)),
      ];
      return Object.fromEntries(objs.map((o) => [objKey(o), o.metadata.resourceVersion]));
    };
    const bystanderBefore = await snapshot();

    const samples = fc.sample(fc.array(mutation, { minLength: 1, maxLength: 3 }), { seed: SEED, numRuns: MUTATIONS });
    const outcomes: Record<Outcome, number> = { refused: 0, reconciled: 0, InvalidSpec: 0 };
    const problems: string[] = [];
    const invalidFields = new Map<string, number>();
    for (let round = 0; round * APPS < MUTATIONS; round++) {
      const batch = samples.slice(round * APPS, (round + 1) * APPS);
      // Apply one mutation to each app; remember the generations that were accepted.
      const accepted = new Map<string, { generation: number; valid: boolean; mutation: string }>();
      await inParallel(batch, APPS, async (ms, i) => {
        const m = mutate(bases[i] as Manifest, ms);
        const what = `mutation ${round * APPS + i} (${JSON.stringify(ms).slice(0, 200)})`;
        try {
          methods[i % 2 === 0 ? 'apply' : 'update']++;
          const res = await write(m, i);
          accepted.set(m.metadata.name, { generation: res.metadata.generation ?? 0, valid: validateBackendApp(res).ok, mutation: what });
        } catch (err) {
          const code = statusCodeOf(err);
          const message = err instanceof Error ? err.message : String(err);
          if (code === 500 && SSA_TYPED_PATCH_500.test(message)) methods.typedPatch500++;
          if (code === undefined || (code >= 500 && !SSA_TYPED_PATCH_500.test(message)))
            problems.push(`${what}: the API server failed: ${message.slice(0, 300)}`);
          else if (!NAMES_A_FIELD.test(message.replace(/^[A-Z]+ \S+: \d+ \w*: /, '')))
            problems.push(`${what}: refused without naming a field: ${message.slice(0, 300)}`);
          outcomes.refused++;
        }
      });
      // Each accepted one: the operator acts on that generation, and says InvalidSpec
      // (naming the field) exactly when the operator's schema refuses it.
      const pending = new Map(accepted);
      await whileAlive(
        op,
        waitFor(
          `round ${round}: the operator to act on every accepted mutation`,
          async () => {
            const apps = new Map((await list(BACKENDAPPS, ns.name)).map((a) => [a.metadata.name, a]));
            for (const [name, want] of pending) {
              const a = apps.get(name);
              if (!a || (a.status?.observedGeneration ?? 0) < want.generation) continue;
              const ready = conditionOf(a, 'Ready');
              if (ready?.reason === 'ApplyFailed' || ready?.reason === 'Forbidden') continue; // retried; a lasting one times out below
              pending.delete(name);
              if (ready?.reason === 'InvalidSpec') {
                outcomes.InvalidSpec++;
                const field = /(spec[^\s:]*):/.exec(conditionOf(a, 'Degraded')?.message ?? '')?.[1];
                if (!field) problems.push(`${want.mutation}: InvalidSpec without a field: ${conditionOf(a, 'Degraded')?.message}`);
                else invalidFields.set(field, (invalidFields.get(field) ?? 0) + 1);
                if (want.valid) problems.push(`${want.mutation}: InvalidSpec for a spec the schema accepts`);
              } else {
                outcomes.reconciled++;
                if (!want.valid) problems.push(`${want.mutation}: reconciled (${ready?.reason}) a spec the schema refuses`);
              }
            }
            if (pending.size === 0) return true;
            throw new Error([...pending].map(([name, want]) => `${name} ${want.mutation}: ${JSON.stringify(conditionOf(apps.get(name), 'Ready'))}`).join('\n'));
          },
          60_000,
          200,
        ),
      );
      expect(problems.slice(0, 10)).toEqual([]);
    }

    // Never crashed: the same process, healthy; every accepted mutation accounted for.
    expect(op.proc.exitCode).toBeNull();
    expect(op.proc.pid).toBe(pid);
    expect(await httpStatus(`${op.healthUrl()}/healthz`)).toBe(200);
    expect(outcomes.refused + outcomes.reconciled + outcomes.InvalidSpec).toBe(MUTATIONS);
    // The bystander: not one of its objects written to.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await snapshot()).toEqual(bystanderBefore);
    const crashes = op.lines.filter((l) => /uncaught|unhandled/i.test(l));
    expect(crashes).toEqual([]);
    console.log(
      `drill 5: ${MUTATIONS} mutations (seed ${SEED}) on ${APPS} apps in ${Date.now() - started} ms: ${outcomes.refused} refused by the API server naming the field, ` +
        `${outcomes.reconciled} accepted and reconciled, ${outcomes.InvalidSpec} accepted and reported InvalidSpec (${[...invalidFields].map(([f, n]) => `${f} ×${n}`).join(', ') || 'none'}); ` +
        `${methods.apply} by server-side apply (${methods.typedPatch500} refused with kubernetes#139253's 500), ${methods.update} by update; ` +
        `operator pid ${pid} throughout, bystander's ${Object.keys(bystanderBefore).length} objects unchanged`,
    );
  });
});
