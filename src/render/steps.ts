// The order in which an app's children reach the cluster, stated once with its
// reasons. The renderer fills the steps; the reconciler walks them, and a step
// whose barrier does not hold yet stops the walk until it does.
import type { KubernetesObject } from '@kubernetes/client-node';

/**
 * What must hold before the steps after this one are written:
 * - 'none': nothing; the next step's writes go out together with this one's;
 * - 'applied': the API server accepted every object of this step;
 * - 'finished': every object of this step reports that it ran to completion (a Job).
 */
export type Barrier = 'none' | 'applied' | 'finished';

export const STEPS = [
  // Pods read their credentials when they start; a pod created before its Secret
  // sits in CreateContainerConfigError until the kubelet retries.
  { name: 'credentials', barrier: 'applied' },
  // A database must never be reachable before its policy exists.
  { name: 'network-policies', barrier: 'applied' },
  // Clients retry their connections and the api's readiness waits for its
  // databases, so the workloads need not wait for them to be ready.
  { name: 'databases', barrier: 'none' },
  // Flower watches the broker and runs none of the app's code, so no migration holds it.
  { name: 'tools', barrier: 'none' },
  // Work that must run to completion before new code serves: the release's
  // migration Job, created once the databases are ready.
  { name: 'jobs', barrier: 'finished' },
  { name: 'workloads', barrier: 'none' },
  // Autoscalers and disruption budgets target the workloads above.
  { name: 'scaling', barrier: 'none' },
] as const satisfies readonly { name: string; barrier: Barrier }[];

export type StepName = (typeof STEPS)[number]['name'];

export interface Step {
  name: StepName;
  barrier: Barrier;
  objects: KubernetesObject[];
}

/**
 * The steps as the reconciler writes them: consecutive steps joined up to and
 * including each one with a barrier, so a batch goes out in parallel and the
 * walk pauses only where the order matters. A barrier is about its own step's
 * objects, so an empty step holds nothing back.
 */
export function batches(steps: readonly Step[]): Step[][] {
  const out: Step[][] = [];
  let current: Step[] = [];
  for (const step of steps) {
    current.push(step);
    if (step.barrier !== 'none' && step.objects.length) {
      out.push(current);
      current = [];
    }
  }
  if (current.length) out.push(current);
  return out;
}
