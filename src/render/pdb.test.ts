import { describe, expect, it } from 'vitest';
import { finwise, makeApp } from './fixtures.test-util.js';
import { maxPods, podDisruptionBudget } from './pdb.js';

describe('PodDisruptionBudget', () => {
  it('lets one pod at a time go when the component can run several', () => {
    const pdb = podDisruptionBudget(finwise(), 'api');
    expect(pdb?.spec).toEqual({
      maxUnavailable: 1,
      selector: {
        matchLabels: { 'app.kubernetes.io/instance': 'finwise', 'app.kubernetes.io/component': 'api', 'app.kubernetes.io/managed-by': 'backendapp-operator' },
      },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    expect(podDisruptionBudget(finwise(), 'worker')?.metadata?.name).toBe('finwise-worker');
  });

  it("counts the autoscaler's ceiling, not the current replicas", () => {
    const app = makeApp({ image: 'x:1', api: { replicas: 1, autoscaling: { minReplicas: 1, maxReplicas: 3 }, resources: { requests: { cpu: '1' } } } });
    expect(maxPods(app, 'api')).toBe(3);
    expect(podDisruptionBudget(app, 'api')).toBeDefined();
  });

  it('is absent for a single pod, where it could only block drains', () => {
    expect(podDisruptionBudget(makeApp({ image: 'x:1', api: { replicas: 1 } }), 'api')).toBeUndefined();
    expect(podDisruptionBudget(makeApp({ image: 'x:1', worker: { app: 'p', replicas: 0 } }), 'worker')).toBeUndefined();
    expect(podDisruptionBudget(makeApp({ image: 'x:1' }), 'api')).toBeUndefined();
  });
});
