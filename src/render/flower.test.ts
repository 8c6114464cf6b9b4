import { describe, expect, it } from 'vitest';
import { finwise, makeApp } from './fixtures.test-util.js';
import { restrictedViolations } from './pod.js';
import { FLOWER_HEALTH_PATH, flowerDeployment, flowerService } from './flower.js';

describe('flower', () => {
  it('runs the Flower image against the Redis broker with basic auth from its Secret', () => {
    const c = flowerDeployment(finwise())?.spec?.template.spec?.containers[0];
    expect(c?.image).toBe('mher/flower:2.0');
    // No --broker: Celery reads CELERY_BROKER_URL itself, so the password is in no argument.
    expect(c?.command).toEqual(['celery', 'flower', '--port=5555']);
    expect(c?.env).toEqual([
      { name: 'CELERY_BROKER_URL', valueFrom: { secretKeyRef: { name: 'finwise-redis-credentials', key: 'url' } } },
      { name: 'FLOWER_BASIC_AUTH', valueFrom: { secretKeyRef: { name: 'finwise-flower-credentials', key: 'basic-auth' } } },
    ]);
  });

  it('is probed on /healthcheck, which needs no auth', () => {
    const c = flowerDeployment(finwise())?.spec?.template.spec?.containers[0];
    expect(c?.readinessProbe?.httpGet).toEqual({ path: FLOWER_HEALTH_PATH, port: 'http', scheme: 'HTTP' });
    expect(c?.livenessProbe?.httpGet?.path).toBe('/healthcheck');
  });

  it("is restricted, as the image's own user", () => {
    const spec = flowerDeployment(finwise())?.spec?.template.spec;
    expect(spec && restrictedViolations(spec)).toEqual([]);
    expect(spec?.securityContext?.runAsUser).toBe(1000);
  });

  it('is exposed on its port', () => {
    const app = makeApp({ image: 'x:1', flower: { port: 8080 }, databases: { redis: { version: '7' } } });
    expect(flowerService(app)?.spec?.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    expect(flowerDeployment(app)?.spec?.replicas).toBe(1);
  });
});

describe('flower pod', () => {
  it('names its container port, which the Service and probes target, and mounts a writable /tmp', () => {
    const spec = flowerDeployment(finwise())?.spec?.template.spec;
    expect(spec?.containers[0]?.ports).toEqual([{ name: 'http', containerPort: 5555, protocol: 'TCP' }]);
    expect(spec?.containers[0]?.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(spec?.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
  });
});
