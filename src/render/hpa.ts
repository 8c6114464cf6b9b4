// HorizontalPodAutoscalers for the api and worker Deployments that ask for one.
import type { V2HorizontalPodAutoscaler, V2MetricSpec } from '@kubernetes/client-node';
import { DEFAULT_CPU_UTILIZATION, type Autoscaling, type BackendApp } from '../api/v1alpha1.js';
import { componentName, objectMeta } from './labels.js';

export type Scalable = 'api' | 'worker';

function metrics(a: Autoscaling): V2MetricSpec[] {
  const resource = (name: 'cpu' | 'memory', averageUtilization: number): V2MetricSpec => ({
    type: 'Resource',
    resource: { name, target: { type: 'Utilization', averageUtilization } },
  });
  const out: V2MetricSpec[] = [];
  // No target at all means CPU at the default, as with `kubectl autoscale`.
  const cpu = a.targetCPUUtilizationPercentage ?? (a.targetMemoryUtilizationPercentage === undefined ? DEFAULT_CPU_UTILIZATION : undefined);
  if (cpu !== undefined) out.push(resource('cpu', cpu));
  if (a.targetMemoryUtilizationPercentage !== undefined) out.push(resource('memory', a.targetMemoryUtilizationPercentage));
  return out;
}

/**
 * The autoscaler owns the replica count of its Deployment, which is why the
 * Deployment is rendered without spec.replicas whenever this exists.
 */
export function horizontalPodAutoscaler(app: BackendApp, component: Scalable): V2HorizontalPodAutoscaler | undefined {
  const autoscaling = app.spec[component]?.autoscaling;
  if (!autoscaling) return undefined;
  const name = componentName(app, component);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: objectMeta(app, name, component),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics: metrics(autoscaling),
    },
  };
}
