import { describe, expect, it } from 'vitest';
import { finwise, makeApp } from './fixtures.test-util.js';
import { apiDeployment, apiProbes, apiService, fastPeriodSeconds, startupFailureThreshold } from './api.js';

describe('api Deployment', () => {
  it('leaves replicas to the autoscaler when there is one', () => {
    const d = apiDeployment(finwise());
    expect(d?.spec?.replicas).toBeUndefined();
    expect('replicas' in (d?.spec ?? {})).toBe(true); // stripped later by renderApp
  });

  it('sets replicas when there is no autoscaler', () => {
    const d = apiDeployment(makeApp({ image: 'x:1', api: { replicas: 3 } }));
    expect(d?.spec?.replicas).toBe(3);
  });

  it('rolls out start-first: a new pod is ready before an old one stops', () => {
    expect(apiDeployment(finwise())?.spec?.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } });
  });

  it('runs the command on the named port with the resources given', () => {
    const c = apiDeployment(finwise())?.spec?.template.spec?.containers[0];
    expect(c?.name).toBe('api');
    expect(c?.image).toBe('ghcr.io/finwise/backend:1.4.2');
    expect(c?.command?.[0]).toBe('uvicorn');
    expect(c?.ports).toEqual([{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
    expect(c?.resources).toEqual({ requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } });
  });

  it('is absent when the api is off', () => {
    expect(apiDeployment(makeApp({ image: 'x:1' }))).toBeUndefined();
    expect(apiService(makeApp({ image: 'x:1' }))).toBeUndefined();
  });
});

describe('health tiers to probes', () => {
  it('maps the example as the README table says', () => {
    const app = finwise();
    const probes = apiProbes(app.spec.api!);
    expect(probes.startupProbe).toEqual({
      httpGet: { path: '/health', port: 'http', scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 10,
      failureThreshold: 7, // ceil(40 / 10) + 3
    });
    expect(probes.readinessProbe).toEqual({
      httpGet: { path: '/health/ready', port: 'http', scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 10,
      failureThreshold: 3,
    });
    expect(probes.livenessProbe).toEqual({
      httpGet: { path: '/health/live', port: 'http', scheme: 'HTTP' },
      periodSeconds: 30,
      timeoutSeconds: 10,
      failureThreshold: 3,
    });
  });

  it('gives the container at least startPeriodSeconds before liveness can act', () => {
    for (const [start, interval, timeout, retries] of [
      [40, 30, 10, 3],
      [0, 5, 1, 1],
      [3600, 60, 60, 10],
      [7, 30, 10, 1],
    ] as const) {
      const period = fastPeriodSeconds(interval, timeout);
      expect(period).toBeGreaterThanOrEqual(Math.min(timeout, interval));
      // The start period is covered before the retries begin, as Docker counts them.
      expect((startupFailureThreshold(start, period, retries) - retries) * period).toBeGreaterThanOrEqual(start);
    }
    // A start period that is not a whole number of periods rounds up: 45 s at 10 s is 5 periods, then 3 retries.
    expect(startupFailureThreshold(45, 10, 3)).toBe(8);
  });

  it('falls back when tiers are missing', () => {
    const bare = apiProbes(makeApp({ image: 'x:1', api: {} }).spec.api!);
    expect(bare.startupProbe.tcpSocket).toEqual({ port: 'http' });
    expect(bare.readinessProbe.tcpSocket).toEqual({ port: 'http' });
    expect(bare.livenessProbe).toBeUndefined();

    const liveOnly = apiProbes(makeApp({ image: 'x:1', api: { health: { liveness: { path: '/live' } } } }).spec.api!);
    expect(liveOnly.startupProbe.httpGet?.path).toBe('/live');
  });
});

describe('api Service', () => {
  it('exposes the container port by name', () => {
    expect(apiService(finwise())?.spec).toEqual({
      type: 'ClusterIP',
      selector: {
        'app.kubernetes.io/instance': 'finwise',
        'app.kubernetes.io/component': 'api',
        'app.kubernetes.io/managed-by': 'backendapp-operator',
      },
      ports: [{ name: 'http', port: 8000, targetPort: 'http', protocol: 'TCP' }],
    });
  });
});
