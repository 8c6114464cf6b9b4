import { describe, expect, it } from 'vitest';
import type { V1PodSpec } from '@kubernetes/client-node';
import { finwise, makeApp } from './fixtures.test-util.js';
import { appContainer, appEnv, appPod, hardenedPod, resourceRequirements, restrictedViolations } from './pod.js';

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
  const base = (): V1PodSpec => hardenedPod({ containers: [{ name: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }] }, { runAsUser: 1, runAsGroup: 1, fsGroup: 1 });

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

  it('lets a user variable replace the operator\'s instead of duplicating it', () => {
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
