import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1PodTemplateSpec, V1StatefulSet } from '@kubernetes/client-node';
import { CREDENTIAL_ENV, DATABASE_KINDS, FLOWER_CREDENTIAL_ENV, MAIN_CONTAINERS, type BackendAppSpecInput } from '../api/v1alpha1.js';
import { apiDeployment } from './api.js';
import { beatDeployment } from './beat.js';
import { ENGINES, databaseStatefulSet } from './databases/index.js';
import { flowerDeployment } from './flower.js';
import { makeApp } from './fixtures.test-util.js';
import { migrationJob } from './migrations.js';
import { ADDED_CONTAINER_SECURITY, customizePod, deepEqual, mergePodTemplates, strategicMerge } from './podtemplate.js';
import { workerDeployment } from './worker.js';

const rendered = (): V1PodTemplateSpec => ({
  metadata: { labels: { 'app.kubernetes.io/component': 'api', team: 'core' } },
  spec: {
    automountServiceAccountToken: false,
    containers: [
      {
        name: 'api',
        image: 'app:1',
        env: [
          { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'shop-postgres-credentials', key: 'url' } } },
          { name: 'LOG_LEVEL', value: 'info' },
        ],
        ports: [{ name: 'http', containerPort: 8000, protocol: 'TCP' }],
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }],
    imagePullSecrets: [{ name: 'regcred' }],
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'app', effect: 'NoSchedule' }],
    topologySpreadConstraints: [
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway' },
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' },
    ],
    nodeSelector: { 'kubernetes.io/os': 'linux' },
  },
});

const merge = (overlay: unknown) => mergePodTemplates(rendered(), overlay as Parameters<typeof mergePodTemplates>[1]);
const api = (t: V1PodTemplateSpec) => t.spec?.containers.find((c) => c.name === 'api');

describe('strategic merge of a podTemplate over the rendered pod', () => {
  it('merges a container by name: an env entry added, one replaced by name, the rest kept', () => {
    const out = merge({
      spec: {
        containers: [
          {
            name: 'api',
            env: [
              { name: 'LOG_LEVEL', value: 'debug' },
              { name: 'FEATURE_X', value: 'on' },
            ],
          },
        ],
      },
    });
    expect(api(out)?.env).toEqual([
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'shop-postgres-credentials', key: 'url' } } },
      { name: 'LOG_LEVEL', value: 'debug' },
      { name: 'FEATURE_X', value: 'on' },
    ]);
    expect(api(out)?.image).toBe('app:1');
    expect(api(out)?.ports).toEqual([{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
  });

  it('appends a container with a new name as a sidecar, after the rendered ones', () => {
    const out = merge({ spec: { containers: [{ name: 'proxy', image: 'envoy:1' }] } });
    expect(out.spec?.containers.map((c) => c.name)).toEqual(['api', 'proxy']);
    expect(out.spec?.containers[1]).toEqual({ name: 'proxy', image: 'envoy:1' });
  });

  it('adds init containers by name', () => {
    const out = merge({ spec: { initContainers: [{ name: 'wait', image: 'busybox' }] } });
    expect(out.spec?.initContainers).toEqual([{ name: 'wait', image: 'busybox' }]);
  });

  it('merges resources and securityContext key by key', () => {
    const out = merge({
      spec: { containers: [{ name: 'api', resources: { limits: { memory: '1Gi' }, requests: { cpu: '1' } }, securityContext: { runAsUser: 2000 } }] },
    });
    expect(api(out)?.resources).toEqual({ requests: { cpu: '1', memory: '128Mi' }, limits: { memory: '1Gi' } });
    expect(api(out)?.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsUser: 2000 });
  });

  it('merges volumeMounts by mountPath and ports by containerPort', () => {
    const out = merge({
      spec: {
        containers: [
          {
            name: 'api',
            volumeMounts: [
              { name: 'scratch', mountPath: '/tmp' },
              { name: 'logs', mountPath: '/app/logs' },
            ],
            ports: [
              { containerPort: 8000, name: 'web' },
              { containerPort: 9090, name: 'metrics' },
            ],
          },
        ],
      },
    });
    expect(api(out)?.volumeMounts).toEqual([
      { name: 'scratch', mountPath: '/tmp' },
      { name: 'logs', mountPath: '/app/logs' },
    ]);
    expect(api(out)?.ports).toEqual([
      { name: 'web', containerPort: 8000, protocol: 'TCP' },
      { containerPort: 9090, name: 'metrics' },
    ]);
  });

  it('merges volumes by name, a new source replacing the old one (retainKeys)', () => {
    const out = merge({
      spec: {
        volumes: [
          { name: 'tmp', emptyDir: { medium: 'Memory' } },
          { name: 'config', configMap: { name: 'app-config' } },
        ],
      },
    });
    expect(out.spec?.volumes).toEqual([
      { name: 'tmp', emptyDir: { medium: 'Memory' } },
      { name: 'config', configMap: { name: 'app-config' } },
    ]);
    const replaced = merge({ spec: { volumes: [{ name: 'tmp', configMap: { name: 'c' } }] } });
    expect(replaced.spec?.volumes).toEqual([{ name: 'tmp', configMap: { name: 'c' } }]);
  });

  it('merges imagePullSecrets by name', () => {
    const out = merge({ spec: { imagePullSecrets: [{ name: 'regcred' }, { name: 'other' }] } });
    expect(out.spec?.imagePullSecrets).toEqual([{ name: 'regcred' }, { name: 'other' }]);
  });

  it('appends tolerations, leaving out one identical to a rendered one', () => {
    const out = merge({
      spec: {
        tolerations: [
          { key: 'dedicated', operator: 'Equal', value: 'app', effect: 'NoSchedule' },
          { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
        ],
      },
    });
    expect(out.spec?.tolerations).toEqual([
      { key: 'dedicated', operator: 'Equal', value: 'app', effect: 'NoSchedule' },
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
  });

  it('merges topologySpreadConstraints by topologyKey and whenUnsatisfiable', () => {
    const out = merge({
      spec: {
        topologySpreadConstraints: [
          { maxSkew: 2, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' },
          { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' },
        ],
      },
    });
    expect(out.spec?.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway' },
      { maxSkew: 2, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' },
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' },
    ]);
  });

  it('merges labels, annotations and nodeSelector key by key, and replaces scalars', () => {
    const out = merge({
      metadata: { labels: { team: 'payments', cost: 'a1' }, annotations: { 'prometheus.io/scrape': 'true' } },
      spec: { nodeSelector: { pool: 'gpu' }, priorityClassName: 'high', automountServiceAccountToken: true },
    });
    expect(out.metadata).toEqual({
      labels: { 'app.kubernetes.io/component': 'api', team: 'payments', cost: 'a1' },
      annotations: { 'prometheus.io/scrape': 'true' },
    });
    expect(out.spec?.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', pool: 'gpu' });
    expect(out.spec?.priorityClassName).toBe('high');
    expect(out.spec?.automountServiceAccountToken).toBe(true);
  });

  it("replaces any other list whole (command, args, envFrom, a container's capabilities)", () => {
    const out = merge({ spec: { containers: [{ name: 'api', args: ['--workers', '4'], envFrom: [{ secretRef: { name: 's' } }] }] } });
    expect(api(out)?.args).toEqual(['--workers', '4']);
    const twice = strategicMerge({ a: { list: [1, 2, 3] } }, { a: { list: [4] } });
    expect(twice).toEqual({ a: { list: [4] } });
  });

  it('removes a key given as null, as a merge patch does', () => {
    const out = merge({ spec: { nodeSelector: { 'kubernetes.io/os': null } } });
    expect(out.spec?.nodeSelector).toEqual({});
  });

  it('merges the app-wide template first, then the component one over it', () => {
    const out = mergePodTemplates(
      rendered(),
      { metadata: { labels: { tier: 'app', team: 'a' } }, spec: { priorityClassName: 'low' } },
      { metadata: { labels: { team: 'b' } }, spec: { priorityClassName: 'high' } },
    );
    expect(out.metadata?.labels).toMatchObject({ tier: 'app', team: 'b' });
    expect(out.spec?.priorityClassName).toBe('high');
  });

  it('returns a copy with nothing to merge', () => {
    const base = rendered();
    const out = mergePodTemplates(base);
    expect(out).toEqual(base);
    expect(out).not.toBe(base);
  });

  it('never changes its inputs, and shares no object with them', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constantFrom(null, true, 1, 'x'),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom('a', 'name', 'containers', 'env', 'spec'), tie('value'), { maxKeys: 3 }),
      ),
    })).value;
    const containers = fc.array(
      fc.record({ name: fc.constantFrom('api', 'proxy'), env: fc.array(fc.record({ name: fc.constantFrom('A', 'B'), value: json })) }),
      {
        maxLength: 3,
      },
    );
    const template = fc.record({ spec: fc.record({ containers, tolerations: fc.array(json, { maxLength: 2 }), extra: json }) });
    fc.assert(
      fc.property(template, template, (a, b) => {
        const before = [structuredClone(a), structuredClone(b)];
        const out = strategicMerge(a, b);
        expect([a, b]).toEqual(before);
        // Mutating the output leaves the inputs alone.
        const scribble = (v: unknown): void => {
          if (Array.isArray(v)) {
            v.forEach(scribble);
            v.push('scribbled');
          } else if (v !== null && typeof v === 'object') {
            for (const x of Object.values(v)) scribble(x);
            (v as Record<string, unknown>).scribbled = true;
          }
        };
        scribble(out);
        expect([a, b]).toEqual(before);
      }),
    );
  });

  it('compares JSON values structurally, ignoring undefined fields', () => {
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(deepEqual({ a: [1] }, { a: [1, 2] })).toBe(false);
    expect(deepEqual({ a: 1 }, { a: '1' })).toBe(false);
    expect(deepEqual([], {})).toBe(false);
  });
});

// ---------------------------------------------------------------------------

const spec = (extra: Partial<BackendAppSpecInput> = {}): BackendAppSpecInput => ({
  image: 'shop:1',
  api: { replicas: 1 },
  worker: { app: 'shop.celery' },
  beat: {},
  flower: {},
  migrations: { command: ['alembic', 'upgrade', 'head'] },
  databases: { postgres: { version: '16' }, redis: { version: '7' } },
  ...extra,
});

const template = (o: Deployment | V1StatefulSet | undefined) => (o as Deployment | undefined)?.spec?.template as V1PodTemplateSpec;
type Deployment = V1Deployment;

describe('which podTemplates reach which pod', () => {
  it('renders exactly as before without podTemplates', () => {
    const app = makeApp(spec());
    const d = apiDeployment(app);
    expect(customizePod(app, 'api', template(d))).toBe(template(d));
  });

  it('applies the app-wide podTemplate to every app pod, and not to databases', () => {
    const app = makeApp(spec({ podTemplate: { metadata: { annotations: { 'cost-center': 'shop' } }, spec: { priorityClassName: 'apps' } } }));
    const pods = [apiDeployment(app), workerDeployment(app), beatDeployment(app), flowerDeployment(app)].map(template);
    pods.push(migrationJob(app)?.spec?.template as V1PodTemplateSpec);
    for (const p of pods) {
      expect(p.metadata?.annotations).toEqual({ 'cost-center': 'shop' });
      expect(p.spec?.priorityClassName).toBe('apps');
    }
    const pg = template(databaseStatefulSet(app, 'postgres'));
    expect(pg.metadata?.annotations).toBeUndefined();
    expect(pg.spec?.priorityClassName).toBeUndefined();
  });

  it("merges a component's podTemplate over the app-wide one", () => {
    const app = makeApp(
      spec({
        podTemplate: { spec: { nodeSelector: { pool: 'general' }, tolerations: [{ key: 'shared', operator: 'Exists' }] } },
        worker: {
          app: 'shop.celery',
          podTemplate: { spec: { nodeSelector: { pool: 'gpu' }, priorityClassName: 'batch', tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }] } },
        },
      }),
    );
    const w = template(workerDeployment(app)).spec;
    expect(w?.nodeSelector).toEqual({ pool: 'gpu' });
    expect(w?.priorityClassName).toBe('batch');
    expect(w?.tolerations).toEqual([
      { key: 'shared', operator: 'Exists' },
      { key: 'nvidia.com/gpu', operator: 'Exists' },
    ]);
    expect(template(apiDeployment(app)).spec?.nodeSelector).toEqual({ pool: 'general' });
  });

  it('gives a database only its own podTemplate', () => {
    const app = makeApp(
      spec({ databases: { postgres: { version: '16', podTemplate: { spec: { nodeSelector: { disk: 'ssd' } } } }, redis: { version: '7' } } }),
    );
    expect(template(databaseStatefulSet(app, 'postgres')).spec?.nodeSelector).toEqual({ disk: 'ssd' });
    expect(template(databaseStatefulSet(app, 'redis')).spec?.nodeSelector).toBeUndefined();
  });

  it("sends an app-wide container named after a main container only to that component's pod", () => {
    const app = makeApp(spec({ podTemplate: { spec: { containers: [{ name: 'worker', env: [{ name: 'C_FORCE_ROOT', value: '0' }] }] } } }));
    const names = (t: V1PodTemplateSpec) => t.spec?.containers.map((c) => c.name);
    expect(names(template(apiDeployment(app)))).toEqual(['api']);
    expect(names(template(workerDeployment(app)))).toEqual(['worker']);
    expect(template(workerDeployment(app)).spec?.containers[0]?.env).toContainEqual({ name: 'C_FORCE_ROOT', value: '0' });
  });

  it('gives an added sidecar the restricted settings under its own', () => {
    const app = makeApp(
      spec({
        api: {
          podTemplate: {
            spec: {
              containers: [
                { name: 'proxy', image: 'envoy:1' },
                { name: 'root-tool', image: 'x', securityContext: { runAsNonRoot: false, runAsUser: 0 } },
              ],
              initContainers: [{ name: 'init', image: 'busybox' }],
            },
          },
        },
      }),
    );
    const pod = template(apiDeployment(app)).spec;
    expect(pod?.containers[1]).toEqual({ name: 'proxy', image: 'envoy:1', securityContext: ADDED_CONTAINER_SECURITY });
    expect(pod?.containers[2]?.securityContext).toEqual({ ...ADDED_CONTAINER_SECURITY, runAsNonRoot: false, runAsUser: 0 });
    expect(pod?.initContainers?.[0]?.securityContext).toEqual(ADDED_CONTAINER_SECURITY);
  });

  it("keeps the operator's labels and credential variables even over a template the schema would refuse", () => {
    const app = makeApp(spec());
    const rogue = {
      metadata: { labels: { 'app.kubernetes.io/component': 'x', team: 't' } },
      spec: { containers: [{ name: 'api', env: [{ name: 'DATABASE_URL', value: 'sqlite://' }] }] },
    };
    const d = template(apiDeployment(app));
    const out = customizePod({ ...app, spec: { ...app.spec, api: { ...app.spec.api!, podTemplate: rogue } } }, 'api', d);
    expect(out.metadata?.labels).toEqual({ ...d.metadata?.labels, team: 't' });
    expect(out.spec?.containers[0]?.env).toEqual(d.spec?.containers[0]?.env);
  });
});

describe("the schema's list of credential variables", () => {
  const everything = makeApp(spec({ databases: { postgres: { version: '16' }, redis: { version: '7' }, mongodb: { version: '7.0' } } }));
  const fromSecrets = (env: { name: string; valueFrom?: { secretKeyRef?: unknown } }[] | undefined) =>
    (env ?? []).filter((e) => e.valueFrom?.secretKeyRef !== undefined).map((e) => e.name);

  it("is what the app containers read from the databases' Secrets", () => {
    const expected = DATABASE_KINDS.flatMap((db) => CREDENTIAL_ENV[db].app);
    expect(new Set(fromSecrets(ENGINES.postgres.appEnv(everything)))).toEqual(new Set(CREDENTIAL_ENV.postgres.app));
    expect(new Set(fromSecrets(ENGINES.redis.appEnv(everything)))).toEqual(new Set(CREDENTIAL_ENV.redis.app));
    expect(new Set(fromSecrets(ENGINES.mongodb.appEnv(everything)))).toEqual(new Set(CREDENTIAL_ENV.mongodb.app));
    expect(new Set(fromSecrets(template(apiDeployment(everything)).spec?.containers[0]?.env))).toEqual(new Set(expected));
  });

  it('is what each database container and Flower read from Secrets', () => {
    for (const db of DATABASE_KINDS) {
      expect(fromSecrets(template(databaseStatefulSet(everything, db)).spec?.containers[0]?.env), db).toEqual([...CREDENTIAL_ENV[db].database]);
    }
    expect(fromSecrets(template(flowerDeployment(everything)).spec?.containers[0]?.env)).toEqual([...FLOWER_CREDENTIAL_ENV]);
  });

  it("names each pod's main container as MAIN_CONTAINERS says", () => {
    expect(template(apiDeployment(everything)).spec?.containers[0]?.name).toBe(MAIN_CONTAINERS.api);
    expect(template(workerDeployment(everything)).spec?.containers[0]?.name).toBe(MAIN_CONTAINERS.worker);
    expect(template(beatDeployment(everything)).spec?.containers[0]?.name).toBe(MAIN_CONTAINERS.beat);
    expect(template(flowerDeployment(everything)).spec?.containers[0]?.name).toBe(MAIN_CONTAINERS.flower);
    expect(migrationJob(everything)?.spec?.template.spec?.containers[0]?.name).toBe(MAIN_CONTAINERS.migrations);
    for (const db of DATABASE_KINDS) expect(template(databaseStatefulSet(everything, db)).spec?.containers[0]?.name).toBe(db);
  });
});
