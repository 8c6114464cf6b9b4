import { describe, expect, it } from 'vitest';
import { sampleManifest } from '../render/fixtures.test-util.js';
import { API_VERSION, BackendAppSchema, MAX_APP_NAME_LENGTH, formatFieldErrors, formatPath, validateBackendApp } from './v1alpha1.js';

describe('validateBackendApp', () => {
  it('accepts the issue example and applies defaults', () => {
    const result = validateBackendApp(sampleManifest());
    if (!result.ok) throw new Error(formatFieldErrors(result.errors));
    const { spec } = result.app;
    expect(spec.securityContext).toEqual({ runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 });
    expect(spec.worker?.loglevel).toBe('info');
    expect(spec.worker?.terminationGracePeriodSeconds).toBe(300);
    expect(spec.worker?.health).toEqual({ intervalSeconds: 30, timeoutSeconds: 20, startPeriodSeconds: 60, retries: 3 });
    expect(spec.beat).toEqual({ loglevel: 'info' });
    expect(spec.flower).toEqual({ image: 'mher/flower:2.0', port: 5555, username: 'admin' });
    expect(spec.databases?.redis).toEqual({ version: '7', storage: { size: '1Gi' }, deletionPolicy: 'Retain' });
    expect(spec.databases?.postgres).toMatchObject({ database: 'app', username: 'app', deletionPolicy: 'Retain' });
  });

  it('fills defaults into every absent object, not just {}', () => {
    const m = sampleManifest();
    const spec = m.spec as Record<string, Record<string, unknown>>;
    delete spec.api!.health;
    const result = validateBackendApp(m);
    if (!result.ok) throw new Error(formatFieldErrors(result.errors));
    expect(result.app.spec.api?.health).toEqual({ intervalSeconds: 30, timeoutSeconds: 10, startPeriodSeconds: 30, retries: 3 });
  });

  it('gives each app its own default objects', () => {
    const a = validateBackendApp(sampleManifest());
    const b = validateBackendApp(sampleManifest());
    if (!a.ok || !b.ok) throw new Error('sample invalid');
    expect(a.app.spec.securityContext).not.toBe(b.app.spec.securityContext);
  });

  it('keeps metadata it does not validate, such as the uid and labels', () => {
    const m = sampleManifest();
    m.metadata = { name: 'finwise', namespace: 'shop', uid: 'abc-123', labels: { team: 'x' }, resourceVersion: '7' };
    const result = validateBackendApp(m);
    expect(result.ok && result.app.metadata).toEqual(m.metadata);
  });

  it('accepts numbers for quantities, as Pod specs do', () => {
    const m = sampleManifest();
    (m.spec as { api: { resources: unknown } }).api.resources = { requests: { cpu: 1 }, limits: { cpu: 2 } };
    expect(validateBackendApp(m).ok).toBe(true);
  });

  it('reports every error at once, sorted by path', () => {
    const m = sampleManifest();
    const spec = m.spec as Record<string, unknown>;
    spec.image = '';
    (spec.api as Record<string, unknown>).port = 0;
    spec.extra = true;
    const result = validateBackendApp(m);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.path)).toEqual(['spec.api.port', 'spec.extra', 'spec.image']);
    expect(formatFieldErrors(result.errors)).toBe(
      [
        '  spec.api.port: must be a port number between 1 and 65535 (got 0)',
        '  spec.extra: unknown field; the fields allowed here are: image, imagePullPolicy, imagePullSecrets, env, envFrom, securityContext, api, worker, beat, flower, databases, migrations, serviceAccountName, volumes, podTemplate',
        '  spec.image: must not be empty: give an image reference such as "ghcr.io/acme/backend:1.4.2" (got "")',
      ].join('\n'),
    );
  });

  it('rejects things that are not objects at all', () => {
    for (const input of [null, 'BackendApp', 42, []]) {
      const result = validateBackendApp(input);
      expect(result.ok).toBe(false);
    }
  });

  it('accepts a status in the metav1.Condition shape', () => {
    const m = sampleManifest();
    m.status = {
      observedGeneration: 3,
      phase: 'Ready',
      summary: 'api 3/3',
      conditions: [
        { type: 'Ready', status: 'True', observedGeneration: 3, lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'AllComponentsReady', message: 'ok' },
      ],
      components: { api: { ready: 3, desired: 3 } },
    };
    expect(validateBackendApp(m).ok).toBe(true);
  });

  it('drops a status it cannot read instead of refusing the app', () => {
    const m = sampleManifest();
    m.status = { phase: 'Exploded', conditions: 'none' };
    const result = validateBackendApp(m);
    expect(result.ok && result.app.status).toBeUndefined();
  });

  it('limits the app name so derived names fit in 63 characters', () => {
    expect(MAX_APP_NAME_LENGTH + '-postgres-credentials'.length).toBe(63);
  });

  it('exposes the apiVersion as a literal', () => {
    expect(BackendAppSchema.shape.apiVersion.value).toBe(API_VERSION);
  });
});

describe('formatPath', () => {
  it('writes paths as kubectl does', () => {
    expect(formatPath(['spec', 'env', 2, 'name'])).toBe('spec.env[2].name');
    expect(formatPath([])).toBe('');
  });
});

// Every bounded whole number, with its bounds written here rather than read from the
// schema: a bound changed by mistake (or a comparison off by one) must fail this,
// which regenerating the CRD would not.
describe('numeric bounds', () => {
  const bounds: [path: string, min: number, max: number][] = [
    ['spec.api.port', 1, 65535],
    ['spec.api.replicas', 0, 1000],
    ['spec.api.autoscaling.minReplicas', 1, 1000],
    ['spec.api.autoscaling.maxReplicas', 1, 1000],
    ['spec.api.autoscaling.targetCPUUtilizationPercentage', 1, 1000],
    ['spec.api.autoscaling.targetMemoryUtilizationPercentage', 1, 1000],
    ['spec.api.health.intervalSeconds', 1, 3600],
    ['spec.api.health.timeoutSeconds', 1, 3600],
    ['spec.api.health.startPeriodSeconds', 0, 3600],
    ['spec.api.health.retries', 1, 100],
    ['spec.worker.concurrency', 1, 256],
    ['spec.worker.replicas', 0, 1000],
    ['spec.worker.terminationGracePeriodSeconds', 1, 86400],
    ['spec.worker.health.intervalSeconds', 1, 3600],
    ['spec.worker.health.timeoutSeconds', 1, 3600],
    ['spec.worker.health.startPeriodSeconds', 0, 3600],
    ['spec.worker.health.retries', 1, 100],
    ['spec.flower.port', 1, 65535],
    ['spec.securityContext.runAsUser', 1, 2147483647],
    ['spec.securityContext.runAsGroup', 1, 2147483647],
    ['spec.securityContext.fsGroup', 1, 2147483647],
  ];

  /** The errors reported at `path` when the sample has `value` there. */
  function errorsAt(path: string, value: number): string[] {
    const m = sampleManifest();
    const keys = path.split('.');
    let node = m as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) {
      node[k] ??= {};
      node = node[k] as Record<string, unknown>;
    }
    node[keys[keys.length - 1] as string] = value;
    const result = validateBackendApp(m);
    return result.ok ? [] : result.errors.filter((e) => e.path === path).map((e) => e.message);
  }

  // Range errors only: a bound value may still break a cross-field rule (a timeout
  // above its interval), which is not what this checks.
  const rangeErrors = (path: string, value: number) => errorsAt(path, value).filter((m) => /(from|between) \d+ (to|and) \d+/.test(m));

  it.each(bounds)('%s takes %i to %i and nothing outside', (path, min, max) => {
    expect(rangeErrors(path, min), `${path} = ${min}`).toEqual([]);
    expect(rangeErrors(path, max), `${path} = ${max}`).toEqual([]);
    const message = new RegExp(`(from|between) ${min} (to|and) ${max}`);
    expect(rangeErrors(path, min - 1).join(), `${path} = ${min - 1}`).toMatch(message);
    expect(rangeErrors(path, max + 1).join(), `${path} = ${max + 1}`).toMatch(message);
  });
});

// Cross-field rules on their own, each with a manifest that keeps it and one that
// breaks it, and the message people get.
describe('cross-field rules', () => {
  // biome-ignore lint/suspicious/noExplicitAny: the tests break the manifest on purpose, at any depth
  type Loose = any;
  type Edit = (spec: Loose, m: Loose) => void;
  /** The errors of the sample after `edit`, as the CLI prints them ('' when valid). */
  function errors(edit: Edit): string {
    const m: Loose = sampleManifest();
    edit(m.spec, m);
    const result = validateBackendApp(m);
    return result.ok ? '' : formatFieldErrors(result.errors);
  }

  it('lets a request or a limit stand alone; only both together are compared', () => {
    expect(errors((s) => (s.api.resources = { requests: { cpu: '4' } }))).toBe('');
    expect(errors((s) => (s.api.resources = { requests: { cpu: '1', memory: '4Gi' }, limits: { cpu: '2' } }))).toBe('');
    expect(errors((s) => (s.api.resources = { requests: { cpu: '500m' }, limits: { memory: '1Gi' } }))).toBe('');
  });

  it('says a missing maxReplicas is required, and a wrong one is not a number', () => {
    expect(errors((s) => (s.api.autoscaling = { minReplicas: 2 }))).toBe(
      '  spec.api.autoscaling.maxReplicas: is required: the most pods the autoscaler may run',
    );
    expect(errors((s) => (s.api.autoscaling = { maxReplicas: 'ten' }))).toBe('  spec.api.autoscaling.maxReplicas: must be a number, not a string (got "ten")');
  });

  it('wants the CPU request when autoscaling on CPU, the default target, and the memory request for a memory target', () => {
    const cpuRequired =
      '  spec.worker.resources.requests.cpu: is required when autoscaling on CPU (targetCPUUtilizationPercentage, the default target): utilization is measured against the request';
    const memoryRequired =
      '  spec.worker.resources.requests.memory: is required when targetMemoryUtilizationPercentage is set: utilization is measured against the request';
    expect(errors((s) => (s.worker.autoscaling = { maxReplicas: 4 }))).toBe(cpuRequired);
    expect(
      errors((s) => {
        s.worker.autoscaling = { maxReplicas: 4 };
        s.worker.resources = { limits: { cpu: '1' } };
      }),
    ).toBe(cpuRequired);
    expect(
      errors((s) => {
        s.worker.autoscaling = { maxReplicas: 4, targetCPUUtilizationPercentage: 70, targetMemoryUtilizationPercentage: 70 };
        s.worker.resources = { requests: { memory: '1Gi' } };
      }),
    ).toBe(cpuRequired);
    expect(
      errors((s) => {
        s.worker.autoscaling = { maxReplicas: 4, targetMemoryUtilizationPercentage: 70 };
        s.worker.resources = { requests: { memory: '1Gi' } };
      }),
    ).toBe('');
    expect(
      errors((s) => {
        s.worker.autoscaling = { maxReplicas: 4, targetMemoryUtilizationPercentage: 70 };
        s.worker.resources = { limits: { memory: '1Gi' } };
      }),
    ).toBe(memoryRequired);
    expect(errors((s) => (s.worker.autoscaling = { maxReplicas: 4, targetMemoryUtilizationPercentage: 70 }))).toBe(memoryRequired);
  });

  it('takes a variable from exactly one source, and not beside a literal value', () => {
    const fromSecret = { name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'keys', key: 'api' } } };
    expect(errors((s) => (s.env = [fromSecret]))).toBe('');
    expect(errors((s) => (s.env = [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]))).toBe('');
    expect(errors((s) => (s.env = [{ name: 'A', valueFrom: { secretKeyRef: { name: 'k', key: 'a' }, configMapKeyRef: { name: 'c', key: 'a' } } }]))).toBe(
      '  spec.env[0].valueFrom: must set exactly one of secretKeyRef, configMapKeyRef or fieldRef',
    );
    expect(errors((s) => (s.env = [{ ...fromSecret, value: 'literal' }]))).toBe(
      '  spec.env[0].valueFrom: must not be set together with value: give either a literal value or valueFrom',
    );
  });

  it('takes envFrom from a Secret or a ConfigMap, one per entry', () => {
    expect(errors((s) => (s.envFrom = [{ configMapRef: { name: 'settings' } }, { secretRef: { name: 'keys' }, prefix: 'APP_' }]))).toBe('');
    expect(errors((s) => (s.envFrom = [{ configMapRef: { name: 'settings' }, secretRef: { name: 'keys' } }]))).toBe(
      '  spec.envFrom[0]: must set exactly one of secretRef or configMapRef',
    );
    expect(errors((s) => (s.envFrom = [{ prefix: 'APP_' }]))).toBe('  spec.envFrom[0]: must set exactly one of secretRef or configMapRef');
  });

  it('names a duplicate variable and queue, and where the first one is', () => {
    expect(
      errors(
        (s) =>
          (s.env = [
            { name: 'A', value: '1' },
            { name: 'B', value: '2' },
            { name: 'A', value: '3' },
          ]),
      ),
    ).toBe('  spec.env[2].name: duplicate variable "A" (also at index 0); names must be unique');
    expect(errors((s) => (s.worker.queues = ['default', 'emails', 'default']))).toBe(
      '  spec.worker.queues[2]: duplicate queue "default"; queue names must be unique',
    );
  });

  it('takes Redis 6 and later, two-digit majors included', () => {
    expect(errors((s) => (s.databases.redis.version = '6'))).toBe('');
    expect(errors((s) => (s.databases.redis.version = '10.0'))).toBe('');
    expect(errors((s) => (s.databases.redis.version = '5.0'))).toBe(
      '  spec.databases.redis.version: must be 6 or later: the app connects as the Redis user "default" (redis://default:<password>@...), which Redis 6 introduced',
    );
  });

  it('wants Redis for Flower, also when no database is declared at all', () => {
    expect(errors((s) => delete s.databases)).toBe("  spec.flower: needs spec.databases.redis: Flower reads the Celery broker, which is the app's Redis");
  });

  it('gives the hint of a field people try on beat, even beside another unknown field', () => {
    const hint = 'beat has no replicas field: it always runs exactly one pod, because two schedulers would send every periodic task twice';
    expect(errors((s) => (s.beat = { foo: 1, replicas: 2 }))).toBe(`  spec.beat.foo: ${hint}\n  spec.beat.replicas: ${hint}`);
  });

  it('says a missing or mistyped name plainly', () => {
    expect(errors((_s, m) => delete m.metadata.name)).toBe('  metadata.name: is required');
    expect(errors((_s, m) => (m.metadata.name = 7))).toBe('  metadata.name: must be a string, not a number; quote it in YAML (got 7)');
  });
});

describe('status', () => {
  const withConditions = (types: string[]) => {
    const m = sampleManifest();
    m.status = {
      phase: 'Ready',
      conditions: types.map((type) => ({ type, status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'R', message: '' })),
    };
    return validateBackendApp(m);
  };

  it('is read with one condition of each type, and dropped with two of one type', () => {
    const kept = withConditions(['Ready', 'Progressing']);
    expect(kept.ok && kept.app.status?.conditions?.map((c) => c.type)).toEqual(['Ready', 'Progressing']);
    const twice = withConditions(['Ready', 'Progressing', 'Ready']);
    expect(twice.ok).toBe(true);
    expect(twice.ok && twice.app.status).toBeUndefined();
  });
});

describe('pod templates, volumes and per-component fields', () => {
  // biome-ignore lint/suspicious/noExplicitAny: the tests shape the manifest freely, at any depth
  type Loose = any;
  function validate(edit: (spec: Loose) => void) {
    const m: Loose = sampleManifest();
    edit(m.spec);
    return validateBackendApp(m);
  }
  const errors = (edit: (spec: Loose) => void) => {
    const r = validate(edit);
    return r.ok ? '' : formatFieldErrors(r.errors);
  };

  it('keeps pod fields the schema does not type, at any depth, for the API server to check', () => {
    const podTemplate = {
      metadata: { labels: { team: 'ml' }, annotations: { 'prometheus.io/scrape': 'true' } },
      spec: {
        runtimeClassName: 'nvidia',
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [] }] } } },
        containers: [
          { name: 'worker', resources: { limits: { 'nvidia.com/gpu': 1 } }, env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }] },
        ],
      },
    };
    const r = validate((s) => (s.worker.podTemplate = podTemplate));
    if (!r.ok) throw new Error(formatFieldErrors(r.errors));
    expect(r.app.spec.worker?.podTemplate).toEqual(podTemplate);
  });

  it('lets a sidecar set everything a main container may not', () => {
    const sidecar = { name: 'proxy', image: 'envoy:1', command: ['envoy'], args: ['-c', '/etc/envoy.yaml'], readinessProbe: { tcpSocket: { port: 9901 } } };
    expect(errors((s) => (s.api.podTemplate = { spec: { containers: [sidecar], initContainers: [{ ...sidecar, name: 'api' }] } }))).toBe('');
  });

  it('lets beat and the migration take probes, which the operator does not set for them', () => {
    const probe = { exec: { command: ['test', '-e', '/tmp/celerybeat-schedule'] } };
    expect(errors((s) => (s.beat.podTemplate = { spec: { containers: [{ name: 'beat', livenessProbe: probe }] } }))).toBe('');
    expect(
      errors((s) => {
        s.migrations = { command: ['alembic', 'upgrade', 'head'], podTemplate: { spec: { containers: [{ name: 'migrate', startupProbe: probe }] } } };
      }),
    ).toBe('');
  });

  it('refuses a connection variable only while its database is on', () => {
    const withRedisUrl = (s: Loose) =>
      (s.worker.podTemplate = { spec: { containers: [{ name: 'worker', env: [{ name: 'REDIS_URL', value: 'redis://cache:6379/0' }] }] } });
    expect(errors(withRedisUrl)).toContain('spec.worker.podTemplate.spec.containers: must not set DATABASE_URL, REDIS_URL');
    expect(
      errors((s) => {
        withRedisUrl(s);
        delete s.databases.redis;
        delete s.flower;
      }),
    ).toBe('');
    // In the app-wide template too, for each app container, and never for a sidecar.
    expect(errors((s) => (s.podTemplate = { spec: { containers: [{ name: 'migrate', env: [{ name: 'MONGODB_URL', value: 'x' }] }] } }))).toContain(
      'spec.podTemplate.spec.containers: must not set DATABASE_URL',
    );
    expect(errors((s) => (s.podTemplate = { spec: { containers: [{ name: 'backup', env: [{ name: 'DATABASE_URL', value: 'x' }] }] } }))).toBe('');
  });

  it('refuses labels under backendapp.io/ but takes other app.kubernetes.io labels', () => {
    expect(errors((s) => (s.podTemplate = { metadata: { labels: { 'backendapp.io/release': 'x' } } }))).toContain(
      'spec.podTemplate.metadata.labels: must not set',
    );
    expect(errors((s) => (s.podTemplate = { metadata: { labels: { 'app.kubernetes.io/version': '1.4.2', 'app.kubernetes.io/part-of': 'shop' } } }))).toBe('');
  });

  it('refuses the owned fields of a database container, naming the spec field to use', () => {
    expect(errors((s) => (s.databases.redis.podTemplate = { spec: { containers: [{ name: 'redis', image: 'redis:7-alpine' }] } }))).toBe(
      '  spec.databases.redis.podTemplate.spec.containers: must not set image of the redis container: set spec.databases.redis.version (the tag of the official redis image)',
    );
    expect(errors((s) => (s.databases.mongodb.podTemplate = { spec: { containers: [{ name: 'mongodb', readinessProbe: {} }] } }))).toContain(
      "its readiness check is the operator's, and the status reads it",
    );
  });

  it('names a duplicate container and volume', () => {
    expect(errors((s) => (s.api.podTemplate = { spec: { containers: [{ name: 'proxy' }, { name: 'proxy' }] } }))).toBe(
      '  spec.api.podTemplate.spec.containers[1].name: duplicate container "proxy" (also at index 0); names must be unique',
    );
    expect(
      errors(
        (s) =>
          (s.volumes = [
            { name: 'data', mountPath: '/a', emptyDir: {} },
            { name: 'data', mountPath: '/b', emptyDir: {} },
          ]),
      ),
    ).toBe('  spec.volumes[1].name: duplicate volume "data" (also at index 0); names must be unique');
    const listedTwice = (s: Loose) => {
      s.volumes = [{ name: 'data', mountPath: '/a', emptyDir: {} }];
      s.api.volumes = ['data', 'data'];
    };
    expect(errors(listedTwice)).toBe('  spec.api.volumes[1]: duplicate volume "data"; list each volume once');
  });

  it('defaults a persistent volume to ReadWriteOnce and Retain, and allows it on single-pod components', () => {
    const r = validate((s) => {
      s.volumes = [{ name: 'data', mountPath: '/app/data', persistentVolumeClaim: { size: '1Gi' } }];
      delete s.api.autoscaling;
      s.api.replicas = 1;
      s.api.volumes = ['data'];
      s.beat.volumes = ['data'];
      s.migrations = { command: ['alembic', 'upgrade', 'head'], volumes: ['data'] };
    });
    if (!r.ok) throw new Error(formatFieldErrors(r.errors));
    expect(r.app.spec.volumes).toEqual([
      { name: 'data', mountPath: '/app/data', persistentVolumeClaim: { size: '1Gi', accessMode: 'ReadWriteOnce' }, deletionPolicy: 'Retain' },
    ]);
  });

  it('refuses ReadWriteOnce where an autoscaler may add pods, and takes ReadWriteMany there', () => {
    const pvc = (accessMode: string) => (s: Loose) => {
      s.volumes = [{ name: 'media', mountPath: '/app/media', persistentVolumeClaim: { size: '5Gi', accessMode } }];
      s.api.replicas = 1;
      s.api.volumes = ['media'];
    };
    expect(errors(pvc('ReadWriteOnce'))).toContain('spec.volumes: a persistentVolumeClaim with accessMode ReadWriteOnce attaches to one node');
    expect(errors(pvc('ReadWriteMany'))).toBe('');
  });

  it('takes an image, a serviceAccountName and volumes per component, and a Service type', () => {
    const r = validate((s) => {
      s.serviceAccountName = 'shop';
      s.volumes = [{ name: 'logs', mountPath: '/app/logs', emptyDir: { sizeLimit: '1Gi' } }];
      s.api.image = 'ghcr.io/finwise/api:2';
      s.api.serviceAccountName = 's3-reader';
      s.api.volumes = ['logs'];
      s.api.service = { type: 'LoadBalancer', annotations: { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' } };
      s.worker.image = 'ghcr.io/finwise/worker:2';
      s.beat.image = 'ghcr.io/finwise/beat:2';
      s.flower.serviceAccountName = 'flower';
    });
    if (!r.ok) throw new Error(formatFieldErrors(r.errors));
    expect(r.app.spec.api).toMatchObject({
      image: 'ghcr.io/finwise/api:2',
      serviceAccountName: 's3-reader',
      volumes: ['logs'],
      service: { type: 'LoadBalancer' },
    });
    expect(validate((s) => (s.api.service = {})).ok && validate((s) => (s.api.service = {}))).toMatchObject({
      app: { spec: { api: { service: { type: 'ClusterIP' } } } },
    });
  });

  it('bounds label maps, so the API server can cost the rules that read them', () => {
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'x']));
    expect(errors((s) => (s.api.podTemplate = { metadata: { labels } }))).toBe('  spec.api.podTemplate.metadata.labels: must have at most 64 entries');
  });
});
