import { describe, expect, it } from 'vitest';
import { finwise, makeApp } from './fixtures.test-util.js';
import { horizontalPodAutoscaler } from './hpa.js';

describe('HorizontalPodAutoscaler', () => {
  it('scales the api Deployment on CPU', () => {
    expect(horizontalPodAutoscaler(finwise(), 'api')?.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'finwise-api' },
      minReplicas: 3,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
    });
  });

  it('defaults to 80% CPU when no target is given, and can scale on memory alone', () => {
    const cpu = makeApp({ image: 'x:1', worker: { app: 'p', autoscaling: { maxReplicas: 4 }, resources: { requests: { cpu: '1' } } } });
    expect(horizontalPodAutoscaler(cpu, 'worker')?.spec?.metrics?.[0]?.resource?.target.averageUtilization).toBe(80);
    const mem = makeApp({
      image: 'x:1',
      worker: { app: 'p', autoscaling: { maxReplicas: 4, targetMemoryUtilizationPercentage: 70 }, resources: { requests: { memory: '1Gi' } } },
    });
    expect(horizontalPodAutoscaler(mem, 'worker')?.spec?.metrics?.map((m) => m.resource?.name)).toEqual(['memory']);
  });

  it('is absent without autoscaling', () => {
    expect(horizontalPodAutoscaler(finwise(), 'worker')).toBeUndefined();
  });
});
