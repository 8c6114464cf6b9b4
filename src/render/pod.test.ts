import { describe, expect, it } from 'vitest';
import type { V1PodSpec } from '@kubernetes/client-node';
import { finwise, makeApp } from './fixtures.test-util.js';
import { apiDeployment } from './api.js';
import { workerDeployment } from './worker.js';
import {
  appContainer,
  appEnv,
  appPod,
  componentDeployment,
  hardenedPod,
  resourceRequirements,
  restrictedViolations,
  startFirstRollout,
  withDefaultRequests,
} from './pod.js';

describe('hardened pods', () => {
  it('meet Pod Security restricted', () => {
    const app = finwise();
    const spec = appPod(app, [appContainer(app, { name: 'x' })]);
    expect(restrictedViolations(spec)).toEqual([]);
    expect(spec.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
  });

  it('give app containers a read-only root with a writable /tmp', () => {
    const app = finwise();
    const spec = appPod(app, [appContainer(app, { name: 'x' })]);
    const c = spec.containers[0];
    expect(c?.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(c?.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(spec.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
  });

  it('use the identity from the spec', () => {
    const app = makeApp({ image: 'x:1', securityContext: { runAsUser: 1001, runAsGroup: 1001, fsGroup: 1001 } });
    expect(appPod(app, []).securityContext?.runAsUser).toBe(1001);
  });

  it('carries pull secrets and envFrom through', () => {
    const app = makeApp({ image: 'x:1', imagePullSecrets: [{ name: 'regcred' }], envFrom: [{ secretRef: { name: 'keys' } }] });
    const spec = appPod(app, [appContainer(app, { name: 'x' })]);
    expect(spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(spec.containers[0]?.envFrom).toEqual([{ secretRef: { name: 'keys' } }]);
  });
});

describe('restrictedViolations', () => {
  const base = (): V1PodSpec =>
    hardenedPod(
      { containers: [{ name: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }] },
      { runAsUser: 1, runAsGroup: 1, fsGroup: 1 },
    );

  it('accepts the hardened baseline', () => {
    expect(restrictedViolations(base())).toEqual([]);
  });

  it('names what breaks the profile', () => {
    const spec = base();
    spec.securityContext = { ...spec.securityContext, runAsUser: 0, seccompProfile: undefined };
    spec.containers[0]!.securityContext = { privileged: true, capabilities: { add: ['SYS_ADMIN'] } };
    spec.volumes = [{ name: 'h', hostPath: { path: '/' } }];
    expect(restrictedViolations(spec)).toEqual([
      'pod runAsUser must not be 0',
      'volume h: hostPath is forbidden',
      'container c: runAsUser must not be 0',
      'container c: allowPrivilegeEscalation must be false',
      'container c: privileged is forbidden',
      'container c: capabilities must drop ALL',
      'container c: capabilities SYS_ADMIN may not be added',
      'container c: seccompProfile must be RuntimeDefault or Localhost',
    ]);
  });
});

describe('appEnv', () => {
  it('puts connection settings first, so user variables can refer to them', () => {
    const names = appEnv(finwise()).map((e) => e.name);
    expect(names).toEqual(['DATABASE_URL', 'MONGODB_URL', 'REDIS_URL', 'CELERY_BROKER_URL', 'CELERY_RESULT_BACKEND', 'LOG_LEVEL']);
  });

  it("lets a user variable replace the operator's instead of duplicating it", () => {
    const app = makeApp({
      image: 'x:1',
      env: [{ name: 'DATABASE_URL', value: 'postgresql+asyncpg://elsewhere/db' }],
      databases: { postgres: { version: '16' } },
    });
    expect(appEnv(app)).toEqual([{ name: 'DATABASE_URL', value: 'postgresql+asyncpg://elsewhere/db', valueFrom: undefined }]);
  });
});

describe('resourceRequirements', () => {
  it('turns numbers into quantity strings and drops empty lists', () => {
    expect(resourceRequirements({ requests: { cpu: 1, memory: '1Gi' } })).toEqual({ requests: { cpu: '1', memory: '1Gi' }, limits: undefined });
    expect(resourceRequirements({ requests: {} })).toBeUndefined();
    expect(resourceRequirements(undefined)).toBeUndefined();
  });
});

describe('restrictedViolations, rule by rule', () => {
  const compliant = (): V1PodSpec =>
    hardenedPod(
      { containers: [{ name: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }] },
      { runAsUser: 1, runAsGroup: 1, fsGroup: 1 },
    );

  it('forbids each host namespace', () => {
    for (const host of [{ hostNetwork: true }, { hostPID: true }, { hostIPC: true }]) {
      expect(restrictedViolations({ ...compliant(), ...host }), JSON.stringify(host)).toEqual(['host namespaces are forbidden']);
    }
  });

  it('wants runAsNonRoot from the container or the pod', () => {
    const spec = compliant();
    spec.securityContext = { ...spec.securityContext, runAsNonRoot: undefined };
    expect(restrictedViolations(spec)).toEqual(['container c: runAsNonRoot must be true']);
    spec.containers[0]!.securityContext = { ...spec.containers[0]!.securityContext, runAsNonRoot: true };
    expect(restrictedViolations(spec)).toEqual([]);
  });

  it('allows adding NET_BIND_SERVICE only, and a Localhost seccomp profile', () => {
    const spec = compliant();
    spec.containers[0]!.securityContext = { ...spec.containers[0]!.securityContext, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } };
    spec.containers[0]!.securityContext.seccompProfile = { type: 'Localhost', localhostProfile: 'profiles/app.json' };
    expect(restrictedViolations(spec)).toEqual([]);
    spec.containers[0]!.securityContext.capabilities = { drop: ['ALL'], add: ['NET_BIND_SERVICE', 'NET_ADMIN', 'SYS_TIME'] };
    expect(restrictedViolations(spec)).toEqual(['container c: capabilities NET_ADMIN, SYS_TIME may not be added']);
  });

  it('wants capabilities dropped when the container names none', () => {
    const spec = compliant();
    spec.containers[0]!.securityContext = { allowPrivilegeEscalation: false };
    expect(restrictedViolations(spec)).toEqual(['container c: capabilities must drop ALL']);
  });

  it('forbids host ports, in init containers too', () => {
    const spec = compliant();
    spec.initContainers = [
      { name: 'init', ports: [{ containerPort: 80, hostPort: 80 }], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } },
    ];
    spec.containers[0]!.ports = [{ containerPort: 8000 }];
    expect(restrictedViolations(spec)).toEqual(['container init: hostPort is forbidden']);
  });
});

describe('componentDeployment', () => {
  it('selects its pods by the stable labels and gives them the full set', () => {
    const app = makeApp({ image: 'x:1' }, { namespace: 'team-a' });
    const d = componentDeployment(app, 'worker', { replicas: 2, strategy: startFirstRollout, pod: { containers: [] } });
    expect(d.metadata).toMatchObject({ name: 'shop-worker', namespace: 'team-a' });
    expect(d.spec?.selector).toEqual({
      matchLabels: { 'app.kubernetes.io/instance': 'shop', 'app.kubernetes.io/component': 'worker', 'app.kubernetes.io/managed-by': 'backendapp-operator' },
    });
    expect(d.spec?.template.metadata).toEqual({
      labels: {
        'app.kubernetes.io/name': 'shop',
        'app.kubernetes.io/instance': 'shop',
        'app.kubernetes.io/component': 'worker',
        'app.kubernetes.io/part-of': 'shop',
        'app.kubernetes.io/managed-by': 'backendapp-operator',
      },
    });
  });
});

describe('app pods spread over nodes and zones', () => {
  it("one pod of each component per node and per zone where it can, by the component's selector", () => {
    const app = finwise();
    for (const d of [appPodOf('api'), appPodOf('worker')]) {
      const spread = (topologyKey: string) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: {
          matchLabels: {
            'app.kubernetes.io/instance': 'finwise',
            'app.kubernetes.io/component': d.component,
            'app.kubernetes.io/managed-by': 'backendapp-operator',
          },
        },
      });
      expect(d.spec.topologySpreadConstraints).toEqual([spread('kubernetes.io/hostname'), spread('topology.kubernetes.io/zone')]);
    }
    function appPodOf(component: 'api' | 'worker') {
      const rendered = component === 'api' ? apiDeployment(app) : workerDeployment(app);
      return { component, spec: rendered?.spec?.template.spec ?? { containers: [] } };
    }
  });
});

describe('resourceRequirements, partly given', () => {
  it('leaves out a resource given without a value', () => {
    expect(resourceRequirements({ requests: { cpu: '1', memory: undefined }, limits: { memory: '1Gi' } })).toEqual({
      requests: { cpu: '1' },
      limits: { memory: '1Gi' },
    });
  });
});

describe('defaults around what the spec leaves out', () => {
  it('gives app containers only the connection settings when the spec has no env', () => {
    const app = makeApp({ image: 'x:1', databases: { postgres: { version: '16' } } });
    expect(appEnv(app)).toEqual([{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'shop-postgres-credentials', key: 'url' } } }]);
  });

  it('fills in a default request beside requests given without limits', () => {
    expect(withDefaultRequests({ requests: { cpu: '1' } }, { cpu: '100m', memory: '256Mi' })).toEqual({ requests: { cpu: '1', memory: '256Mi' } });
    expect(withDefaultRequests({ limits: { memory: '1Gi' } }, { cpu: '100m', memory: '256Mi' })).toEqual({
      limits: { memory: '1Gi' },
      requests: { cpu: '100m' },
    });
  });
});
