// PodDisruptionBudgets for the api and worker, when they can run more than one pod.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { BackendApp } from '../api/v1alpha1.js';
import { componentName, objectMeta, selectorLabels } from './labels.js';

export type Disruptable = 'api' | 'worker';

/** The most pods the component may run: the autoscaler's ceiling, else its replicas. */
export function maxPods(app: BackendApp, component: Disruptable): number {
  const spec = app.spec[component];
  if (!spec) return 0;
  return spec.autoscaling ? spec.autoscaling.maxReplicas : spec.replicas;
}

/**
 * Voluntary disruptions (node drains, cluster upgrades) take one pod at a time.
 * maxUnavailable rather than minAvailable: it follows the autoscaler's count and
 * never blocks a drain for good. With a single pod there is nothing to protect
 * that a budget could without blocking drains, so there is none.
 */
export function podDisruptionBudget(app: BackendApp, component: Disruptable): V1PodDisruptionBudget | undefined {
  if (maxPods(app, component) <= 1) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(app, componentName(app, component), component),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(app, component) },
      // A pod that is not ready serves nothing; evicting it must not wait for it.
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}
