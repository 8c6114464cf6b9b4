// Property test: any valid BackendApp renders without throwing, and the output keeps
// the invariants the operator promises whatever the spec says.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type {
  KubernetesObject,
  V1Deployment,
  V1Job,
  V1PersistentVolumeClaim,
  V1PodSpec,
  V1PodTemplateSpec,
  V1Secret,
  V1StatefulSet,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { API_VERSION, KIND, formatFieldErrors, validateBackendApp, type BackendApp, type BackendAppSpecInput } from '../../src/api/v1alpha1.js';
import { CHILD_KINDS } from '../../src/kinds.js';
import { isRetained, renderApp } from '../../src/render/index.js';
import { appEnv, restrictedViolations } from '../../src/render/pod.js';

// ---------------------------------------------------------------------------
// Generators of valid specs. They respect the cross-field rules by construction;
// the test then checks the validator agrees, which also tests the validator.

const appName = fc.stringMatching(/^[a-z][a-z0-9-]{0,40}[a-z0-9]$/);
const seconds = (max: number) => fc.integer({ min: 1, max });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Requests and limits with request <= limit, in whole millicores and mebibytes. */
const resources = (needCpu: boolean, needMemory: boolean) =>
  fc
    .record({
      cpu: fc.integer({ min: 10, max: 4000 }),
      memory: fc.integer({ min: 16, max: 8192 }),
      extraCpu: fc.integer({ min: 0, max: 4000 }),
      extraMemory: fc.integer({ min: 0, max: 8192 }),
      withCpu: fc.boolean(),
      withMemory: fc.boolean(),
      withLimits: fc.boolean(),
    })
    .map((r) => {
      const requests: Record<string, string | number> = {};
      const limits: Record<string, string | number> = {};
      if (needCpu || r.withCpu) requests.cpu = `${r.cpu}m`;
      if (needMemory || r.withMemory) requests.memory = `${r.memory}Mi`;
      if (r.withLimits) {
        limits.cpu = `${r.cpu + r.extraCpu}m`;
        limits.memory = `${r.memory + r.extraMemory}Mi`;
      }
      return { requests, ...(r.withLimits ? { limits } : {}) };
    });

const autoscaling = fc
  .record({
    minReplicas: fc.integer({ min: 1, max: 5 }),
    extra: fc.integer({ min: 0, max: 10 }),
    target: fc.constantFrom('none', 'cpu', 'memory', 'both'),
    cpu: fc.integer({ min: 1, max: 200 }),
    memory: fc.integer({ min: 1, max: 200 }),
  })
  .map((a) => ({
    minReplicas: a.minReplicas,
    maxReplicas: a.minReplicas + a.extra,
    ...(a.target === 'cpu' || a.target === 'both' ? { targetCPUUtilizationPercentage: a.cpu } : {}),
    ...(a.target === 'memory' || a.target === 'both' ? { targetMemoryUtilizationPercentage: a.memory } : {}),
  }));

type AutoscalingInput = { targetCPUUtilizationPercentage?: number; targetMemoryUtilizationPercentage?: number };

/** Resources that satisfy an autoscaler's need for requests. */
function withResources<T extends { autoscaling?: AutoscalingInput | undefined }>(arb: fc.Arbitrary<T>) {
  return arb.chain((c) => {
    const a = c.autoscaling;
    const needCpu = a !== undefined && (a.targetCPUUtilizationPercentage !== undefined || a.targetMemoryUtilizationPercentage === undefined);
    const needMemory = a?.targetMemoryUtilizationPercentage !== undefined;
    const res = needCpu || needMemory ? resources(needCpu, needMemory) : maybe(resources(false, false));
    return res.map((r) => (r === undefined ? c : { ...c, resources: r }));
  });
}

const health = fc
  .record({
    interval: seconds(120),
    timeoutFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    startPeriodSeconds: fc.integer({ min: 0, max: 900 }),
    retries: fc.integer({ min: 1, max: 10 }),
    startup: maybe(fc.constantFrom('/health', '/startup')),
    readiness: maybe(fc.constantFrom('/health/ready', '/ready?full=1')),
    liveness: maybe(fc.constantFrom('/health/live', '/')),
  })
  .map((h) => ({
    intervalSeconds: h.interval,
    timeoutSeconds: Math.max(1, Math.floor(h.interval * h.timeoutFraction)),
    startPeriodSeconds: h.startPeriodSeconds,
    retries: h.retries,
    ...(h.startup ? { startup: { path: h.startup } } : {}),
    ...(h.readiness ? { readiness: { path: h.readiness } } : {}),
    ...(h.liveness ? { liveness: { path: h.liveness } } : {}),
  }));

const api = withResources(
  fc.record(
    {
      port: fc.integer({ min: 1, max: 65535 }),
      replicas: fc.integer({ min: 0, max: 6 }),
      command: fc.constantFrom(['uvicorn', 'app.main:app'], ['gunicorn', '-k', 'uvicorn.workers.UvicornWorker', 'app.main:app']),
      health,
      autoscaling,
    },
    { requiredKeys: [] },
  ),
);

const celeryApp = fc.constantFrom('app.celery', 'proj', 'proj.celery:app', 'svc.tasks.celery_app');

const worker = withResources(
  fc.record(
    {
      app: celeryApp,
      concurrency: fc.integer({ min: 1, max: 16 }),
      queues: fc.uniqueArray(fc.constantFrom('default', 'mail', 'reports', 'high-priority', 'celery'), { minLength: 1 }),
      pool: fc.constantFrom('prefork', 'threads', 'solo'),
      replicas: fc.integer({ min: 0, max: 6 }),
      autoscaling,
      terminationGracePeriodSeconds: fc.integer({ min: 1, max: 7200 }),
      health: fc.record(
        {
          intervalSeconds: fc.constant(60),
          timeoutSeconds: fc.integer({ min: 1, max: 60 }),
          startPeriodSeconds: fc.integer({ min: 0, max: 600 }),
          retries: fc.integer({ min: 1, max: 5 }),
          livenessCommand: fc.constant(['test', '-e', '/tmp/heartbeat']),
        },
        { requiredKeys: ['intervalSeconds'] },
      ),
    },
    { requiredKeys: ['app'] },
  ),
);

const database = (versions: string[]) =>
  fc.record(
    {
      version: fc.constantFrom(...versions),
      storage: fc.record({ size: fc.constantFrom('1Gi', '500Mi', '20Gi'), storageClassName: fc.constantFrom('standard', 'fast') }, { requiredKeys: ['size'] }),
      deletionPolicy: fc.constantFrom('Retain' as const, 'Delete' as const),
    },
    { requiredKeys: ['version'] },
  );

const envVar = fc.record({ name: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,15}$/), value: fc.string({ maxLength: 20 }) });

const spec: fc.Arbitrary<BackendAppSpecInput> = fc
  .record(
    {
      image: fc.constantFrom('ghcr.io/acme/backend:1.0.0', `registry.local:5000/app@sha256:${'a'.repeat(64)}`, 'app'),
      env: fc.uniqueArray(envVar, { selector: (e) => e.name, maxLength: 5 }),
      api,
      worker,
      beat: fc.record({ app: celeryApp, loglevel: fc.constantFrom('debug' as const, 'info' as const) }, { requiredKeys: [] }),
      flower: fc.record({ port: fc.integer({ min: 1, max: 65535 }), username: fc.constantFrom('admin', 'ops') }, { requiredKeys: [] }),
      databases: fc.record(
        { postgres: database(['15', '16', '17.2']), redis: database(['7', '7.2-bookworm']), mongodb: database(['7.0', '8.0']) },
        { requiredKeys: [] },
      ),
      securityContext: fc.record({ runAsUser: fc.integer({ min: 1, max: 65535 }) }, { requiredKeys: [] }),
    },
    { requiredKeys: ['image'] },
  )
  .map((s) => {
    const out = { ...s } as BackendAppSpecInput;
    // Cross-field rules: beat needs an app, flower needs redis.
    if (out.beat && !out.beat.app && !out.worker) out.beat = { ...out.beat, app: 'app.celery' };
    if (out.flower) out.databases = { ...out.databases, redis: out.databases?.redis ?? { version: '7' } };
    return out;
  });

const backendApp = fc
  .record({ name: appName, namespace: maybe(fc.constantFrom('default', 'shop')), uid: maybe(fc.uuid()), spec })
  .map(({ name, namespace, uid, spec }) => {
    const result = validateBackendApp({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, uid }, spec });
    if (!result.ok) throw new Error(`generator produced an invalid app:\n${formatFieldErrors(result.errors)}`);
    return result.app;
  });

// ---------------------------------------------------------------------------

function podSpecs(objects: KubernetesObject[]): [string, V1PodSpec][] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((o) => [`${o.kind}/${o.metadata?.name}`, (o as V1Deployment | V1StatefulSet).spec?.template.spec as V1PodSpec]);
}

function decodedSecrets(objects: KubernetesObject[]): Record<string, Record<string, string>> {
  return Object.fromEntries(
    objects
      .filter((o): o is V1Secret => o.kind === 'Secret')
      .map((s) => [s.metadata?.name ?? '', Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))]),
  );
}

function hasUndefined(value: unknown): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value)) return value.some(hasUndefined);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasUndefined);
  return false;
}

const render = (app: BackendApp, existingSecrets: Record<string, Record<string, string>> = {}) => renderApp(app, { existingSecrets });

describe('renderApp, for any valid BackendApp', () => {
  it('renders plain, labelled objects of the managed kinds with names that fit', () => {
    const kinds = new Set(CHILD_KINDS.map((k) => `${k.apiVersion}/${k.kind}`));
    fc.assert(
      fc.property(backendApp, (app) => {
        const objects = render(app);
        for (const o of objects) {
          const id = `${o.kind}/${o.metadata?.name}`;
          expect(kinds.has(`${o.apiVersion}/${o.kind}`), id).toBe(true);
          expect(hasUndefined(o), id).toBe(false);
          expect('status' in o, id).toBe(false);
          expect(o.metadata?.name?.length ?? 0, id).toBeLessThanOrEqual(63);
          expect(o.metadata?.namespace, id).toBe(app.metadata.namespace);
          const l = o.metadata?.labels ?? {};
          expect(l['app.kubernetes.io/instance'], id).toBe(app.metadata.name);
          expect(l['app.kubernetes.io/part-of'], id).toBe(app.metadata.name);
          expect(l['app.kubernetes.io/managed-by'], id).toBe('backendapp-operator');
          expect(['api', 'worker', 'beat', 'flower', 'postgres', 'redis', 'mongodb'], id).toContain(l['app.kubernetes.io/component']);
          expect(l['app.kubernetes.io/name'], id).toBeTruthy();
        }
        expect(new Set(objects.map((o) => `${o.kind}/${o.metadata?.name}`)).size).toBe(objects.length);
      }),
    );
  });

  it('never sets replicas on a Deployment an autoscaler owns', () => {
    fc.assert(
      fc.property(backendApp, (app) => {
        const objects = render(app);
        const scaled = new Set(
          objects.filter((o): o is V2HorizontalPodAutoscaler => o.kind === 'HorizontalPodAutoscaler').map((h) => h.spec?.scaleTargetRef.name ?? ''),
        );
        for (const d of objects.filter((o): o is V1Deployment => o.kind === 'Deployment')) {
          if (scaled.has(d.metadata?.name ?? '')) expect(d.spec && 'replicas' in d.spec, d.metadata?.name).toBe(false);
          else expect(typeof d.spec?.replicas, d.metadata?.name).toBe('number');
        }
      }),
    );
  });

  it('runs exactly one beat, with Recreate, never autoscaled or budgeted', () => {
    fc.assert(
      fc.property(backendApp, (app) => {
        const objects = render(app);
        const beat = objects.filter((o) => o.metadata?.labels?.['app.kubernetes.io/component'] === 'beat');
        if (!app.spec.beat) {
          expect(beat).toEqual([]);
          return;
        }
        expect(beat.map((o) => o.kind)).toEqual(['Deployment']);
        const d = beat[0] as V1Deployment;
        expect(d.spec?.replicas).toBe(1);
        expect(d.spec?.strategy).toEqual({ type: 'Recreate' });
      }),
    );
  });

  it('makes every pod Pod Security restricted, with read-only app containers', () => {
    fc.assert(
      fc.property(backendApp, (app) => {
        for (const [id, spec] of podSpecs(render(app))) {
          expect(restrictedViolations(spec), id).toEqual([]);
          expect(spec.automountServiceAccountToken, id).toBe(false);
          if (id.startsWith('Deployment/')) {
            for (const c of spec.containers) {
              expect(c.securityContext?.readOnlyRootFilesystem, id).toBe(true);
              expect(c.volumeMounts, id).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
            }
          }
          for (const c of spec.containers) {
            const names = (c.env ?? []).map((e) => e.name);
            expect(new Set(names).size, `${id} duplicate env`).toBe(names.length);
          }
        }
      }),
    );
  });

  it('keeps every credential across re-renders, whatever the random source', () => {
    fc.assert(
      fc.property(backendApp, (app) => {
        const first = render(app);
        const again = renderApp(app, { existingSecrets: decodedSecrets(first), randomSecret: () => 'SHOULD-NOT-BE-USED' });
        expect(again).toEqual(first);
      }),
    );
  });

  it('owns everything but retained credentials, and only when the app has a uid', () => {
    fc.assert(
      fc.property(backendApp, (app) => {
        for (const o of render(app)) {
          const owners = o.metadata?.ownerReferences ?? [];
          const expected = app.metadata.uid && !isRetained(o) ? 1 : 0;
          expect(owners.length, `${o.kind}/${o.metadata?.name}`).toBe(expected);
          if (expected) expect(owners[0]).toMatchObject({ kind: 'BackendApp', uid: app.metadata.uid, controller: true, blockOwnerDeletion: true });
        }
      }),
    );
  });

  it('budgets disruptions exactly for components that can run several pods', () => {
    fc.assert(
      fc.property(backendApp, (app) => {
        const pdbs = new Set(
          render(app)
            .filter((o) => o.kind === 'PodDisruptionBudget')
            .map((o) => o.metadata?.labels?.['app.kubernetes.io/component']),
        );
        // The oracle is the spec itself, not the renderer's maxPods: the autoscaler's
        // ceiling when there is one, else the replica count.
        for (const c of ['api', 'worker'] as const) {
          const spec = app.spec[c];
          const most = !spec ? 0 : spec.autoscaling ? spec.autoscaling.maxReplicas : spec.replicas;
          expect(pdbs.has(c), c).toBe(most > 1);
        }
      }),
    );
  });

  it("puts every database behind its NetworkPolicy, admitting only this app's pods", () => {
    fc.assert(
      fc.property(backendApp, (app) => {
        const objects = render(app);
        for (const sts of objects.filter((o): o is V1StatefulSet => o.kind === 'StatefulSet')) {
          const db = sts.metadata?.labels?.['app.kubernetes.io/component'];
          const policy = objects.find(
            (o) =>
              o.kind === 'NetworkPolicy' &&
              (o as { spec?: { podSelector?: { matchLabels?: Record<string, string> } } }).spec?.podSelector?.matchLabels?.['app.kubernetes.io/component'] ===
                db,
          ) as
            | {
                spec: {
                  podSelector: { matchLabels: Record<string, string> };
                  policyTypes: string[];
                  ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[];
                };
              }
            | undefined;
          expect(policy, `NetworkPolicy for ${db}`).toBeDefined();
          // It selects exactly the database's pods, and lets in only pods of this app.
          expect(policy?.spec.podSelector.matchLabels).toEqual(sts.spec?.selector.matchLabels);
          expect(policy?.spec.policyTypes).toContain('Ingress');
          expect(policy?.spec.ingress.length, `${db} admits its clients`).toBeGreaterThan(0);
          for (const rule of policy?.spec.ingress ?? []) {
            expect(rule.from.length).toBeGreaterThan(0);
            for (const from of rule.from) expect(from.podSelector.matchLabels['app.kubernetes.io/instance']).toBe(app.metadata.name);
          }
        }
      }),
    );
  });

  it('keeps volumes exactly as long as deletionPolicy says', () => {
    fc.assert(
      fc.property(backendApp, (app) => {
        for (const sts of render(app).filter((o): o is V1StatefulSet => o.kind === 'StatefulSet')) {
          const db = sts.metadata?.labels?.['app.kubernetes.io/component'] as 'postgres' | 'redis' | 'mongodb';
          const policy = app.spec.databases?.[db]?.deletionPolicy;
          expect(sts.spec?.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: policy, whenScaled: 'Retain' });
        }
      }),
    );
  });
});

// ---------------------------------------------------------------------------
// Pod templates: whatever the schema accepts, the operator keeps what it owns.

const LABEL_KEYS = ['team', 'app.kubernetes.io/version', 'app.kubernetes.io/component', 'app.kubernetes.io/instance', 'backendapp.io/release', 'cost'];
const ENV_NAMES = ['FOO', 'DATABASE_URL', 'REDIS_URL', 'CELERY_BROKER_URL', 'MONGODB_URL', 'POSTGRES_PASSWORD', 'FLOWER_BASIC_AUTH'];
const CONTAINER_NAMES = ['api', 'worker', 'beat', 'flower', 'migrate', 'postgres', 'redis', 'mongodb', 'proxy', 'log-shipper'];

/** A podTemplate that may break the schema's rules (then the app is skipped) and, if `security`, Pod Security. */
const podTemplate = (security: boolean) =>
  fc.record(
    {
      metadata: fc.record(
        {
          labels: fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom('a', 'b'), { maxKeys: 3 }),
          annotations: fc.dictionary(fc.constantFrom('prometheus.io/scrape', 'vault.hashicorp.com/agent-inject'), fc.constant('true'), { maxKeys: 2 }),
        },
        { requiredKeys: [] },
      ),
      spec: fc.record(
        {
          nodeSelector: fc.dictionary(fc.constantFrom('pool', 'disk'), fc.constantFrom('gpu', 'ssd'), { maxKeys: 2 }),
          tolerations: fc.array(fc.record({ key: fc.constantFrom('gpu', 'dedicated'), operator: fc.constant('Exists') }), { maxLength: 2 }),
          priorityClassName: fc.constantFrom('high', 'low'),
          topologySpreadConstraints: fc.array(
            fc.record({
              maxSkew: fc.integer({ min: 1, max: 3 }),
              topologyKey: fc.constantFrom('kubernetes.io/hostname', 'topology.kubernetes.io/zone'),
              whenUnsatisfiable: fc.constantFrom('ScheduleAnyway', 'DoNotSchedule'),
            }),
            { maxLength: 2 },
          ),
          containers: fc.uniqueArray(
            fc.record(
              {
                name: fc.constantFrom(...CONTAINER_NAMES),
                image: fc.constant('sidecar:1'),
                env: fc.uniqueArray(fc.record({ name: fc.constantFrom(...ENV_NAMES), value: fc.constantFrom('x', 'y') }), {
                  selector: (e) => e.name,
                  maxLength: 3,
                }),
                resources: fc.constant({ limits: { memory: '1Gi' } }),
                ...(security
                  ? { securityContext: fc.constantFrom({ privileged: true }, { runAsUser: 0, runAsNonRoot: false }, { allowPrivilegeEscalation: true }) }
                  : {}),
              },
              { requiredKeys: ['name'] },
            ),
            { selector: (c) => c.name, maxLength: 3 },
          ),
          initContainers: fc.array(fc.record({ name: fc.constantFrom('init-db', 'fetch'), image: fc.constant('busybox') }), { maxLength: 1 }),
          volumes: fc.array(fc.record({ name: fc.constant('extra'), emptyDir: fc.constant({}) }), { maxLength: 1 }),
          ...(security ? { hostNetwork: fc.boolean(), securityContext: fc.constant({ runAsUser: 0 }) } : {}),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  );

const VOLUME_NAMES = ['logs', 'data', 'media'] as const;

const appVolume = fc.record({
  name: fc.constantFrom(...VOLUME_NAMES),
  source: fc.oneof(
    fc.record({ emptyDir: fc.record({ sizeLimit: fc.constantFrom('1Gi', '500Mi') }, { requiredKeys: [] }) }),
    fc.record({
      persistentVolumeClaim: fc.record(
        { size: fc.constantFrom('1Gi', '10Gi'), accessMode: fc.constantFrom('ReadWriteOnce', 'ReadWriteMany'), storageClassName: fc.constant('standard') },
        { requiredKeys: ['size'] },
      ),
    }),
  ),
  deletionPolicy: fc.constantFrom('Retain', 'Delete'),
});

const templated = (security: boolean) =>
  fc
    .record({
      spec,
      appWide: maybe(podTemplate(security)),
      perComponent: fc.dictionary(fc.constantFrom('api', 'worker', 'beat', 'flower', 'migrations'), podTemplate(security), { maxKeys: 3 }),
      perDatabase: fc.dictionary(fc.constantFrom('postgres', 'redis', 'mongodb'), podTemplate(security), { maxKeys: 2 }),
      volumes: fc.uniqueArray(appVolume, { selector: (v) => v.name, maxLength: 3 }),
      mounts: fc.dictionary(fc.constantFrom('api', 'worker', 'beat', 'migrations'), fc.subarray([...VOLUME_NAMES]), { maxKeys: 4 }),
    })
    .map(({ spec: s, appWide, perComponent, perDatabase, volumes, mounts }) => {
      const out = { ...s, migrations: { command: ['alembic', 'upgrade', 'head'] } } as Record<string, unknown>;
      if (volumes.length) out.volumes = volumes.map((v) => ({ name: v.name, mountPath: `/app/${v.name}`, ...v.source, deletionPolicy: v.deletionPolicy }));
      // Only names spec.volumes has; the schema's own refusal of unknown names is tested in the table.
      for (const [c, names] of Object.entries(mounts)) {
        const known = names.filter((n) => volumes.some((v) => v.name === n));
        if (out[c] && known.length) out[c] = { ...(out[c] as object), volumes: known };
      }
      if (appWide) out.podTemplate = appWide;
      for (const [c, t] of Object.entries(perComponent)) if (out[c]) out[c] = { ...(out[c] as object), podTemplate: t };
      const dbs = { ...(out.databases as Record<string, object>) };
      for (const [db, t] of Object.entries(perDatabase)) if (dbs[db]) dbs[db] = { ...dbs[db], podTemplate: t };
      out.databases = dbs;
      return validateBackendApp({ apiVersion: API_VERSION, kind: KIND, metadata: { name: 'shop', uid: 'u-1' }, spec: out });
    })
    .filter((r) => r.ok)
    .map((r) => (r.ok ? r.app : (undefined as never)));

function podTemplatesOf(objects: KubernetesObject[]) {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'Job')
    .map((o) => {
      const w = o as V1Deployment;
      return {
        id: `${o.kind}/${o.metadata?.name}`,
        selector: w.spec?.selector?.matchLabels,
        template: w.spec?.template as V1PodTemplateSpec,
        labels: o.metadata?.labels ?? {},
      };
    });
}

describe('renderApp, for any podTemplate the schema accepts', () => {
  it("keeps the operator's labels on every pod, so its selectors still match", () => {
    fc.assert(
      fc.property(templated(true), (app) => {
        for (const { id, selector, template, labels } of podTemplatesOf(render(app))) {
          // The pod carries every label of its workload (name, instance, component, part-of, managed-by).
          for (const [k, v] of Object.entries(labels))
            if (k.startsWith('app.kubernetes.io/') || k.startsWith('backendapp.io/release')) expect(template.metadata?.labels?.[k], `${id} ${k}`).toBe(v);
          for (const [k, v] of Object.entries(selector ?? {})) expect(template.metadata?.labels?.[k], `${id} selector ${k}`).toBe(v);
        }
      }),
    );
  });

  it('keeps the variables the operator reads from credentials Secrets in every main container', () => {
    fc.assert(
      fc.property(templated(true), (app) => {
        const owned = appEnv(app).filter((e) => e.valueFrom?.secretKeyRef !== undefined);
        for (const { id, template, labels } of podTemplatesOf(render(app))) {
          const component = labels['app.kubernetes.io/component'] ?? '';
          if (!['api', 'worker', 'beat', 'migrate'].includes(component)) continue;
          const main = template.spec?.containers.find((c) => c.name === component);
          for (const e of owned) expect(main?.env, `${id} ${e.name}`).toContainEqual(e);
        }
      }),
    );
  });

  it('renders one claim per persistent volume, owned exactly under Delete, and mounts each volume where it is listed', () => {
    fc.assert(
      fc.property(templated(false), (app) => {
        const objects = render(app);
        const claims = objects.filter((o): o is V1PersistentVolumeClaim => o.kind === 'PersistentVolumeClaim');
        const persistent = (app.spec.volumes ?? []).filter((v) => v.persistentVolumeClaim);
        expect(claims.map((c) => c.metadata?.name).sort()).toEqual(persistent.map((v) => `shop-${v.name}`).sort());
        for (const c of claims) {
          const v = persistent.find((p) => `shop-${p.name}` === c.metadata?.name);
          expect(c.metadata?.ownerReferences?.length ?? 0, c.metadata?.name).toBe(v?.deletionPolicy === 'Delete' ? 1 : 0);
          expect(c.spec?.accessModes).toEqual([v?.persistentVolumeClaim?.accessMode]);
        }
        for (const { id, template, labels } of podTemplatesOf(objects)) {
          const component = labels['app.kubernetes.io/component'];
          const owner = component === 'migrate' ? 'migrations' : component;
          if (owner !== 'api' && owner !== 'worker' && owner !== 'beat' && owner !== 'migrations') continue;
          const listed = app.spec[owner]?.volumes ?? [];
          const main = template.spec?.containers.find((c) => c.name === component);
          for (const name of listed) {
            const v = app.spec.volumes?.find((x) => x.name === name);
            expect(main?.volumeMounts, `${id} mounts ${name}`).toContainEqual({ name, mountPath: v?.mountPath });
            expect(template.spec?.volumes?.some((pv) => pv.name === name)).toBe(true);
          }
          const rwo = listed.some((n) => app.spec.volumes?.find((x) => x.name === n)?.persistentVolumeClaim?.accessMode === 'ReadWriteOnce');
          if (rwo && owner !== 'migrations')
            expect((objects.find((o) => `${o.kind}/${o.metadata?.name}` === id) as V1Deployment).spec?.strategy).toEqual({ type: 'Recreate' });
        }
      }),
    );
  });

  it('keeps every pod Pod Security restricted when no podTemplate touches securityContext or host fields', () => {
    fc.assert(
      fc.property(templated(false), (app) => {
        for (const [id, spec] of podSpecs(render(app))) expect(restrictedViolations(spec), id).toEqual([]);
        const job = render(app).find((o) => o.kind === 'Job') as V1Job | undefined;
        if (job) expect(restrictedViolations(job.spec?.template.spec as V1PodSpec)).toEqual([]);
      }),
    );
  });
});
