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
  // Work that must run to completion before new code serves (migrations); none yet.
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

/** How a child that must finish is doing, read from its live object (a Job's conditions). */
export type Progress = { state: 'finished' } | { state: 'running'; message: string } | { state: 'failed'; message: string };

export function progressOf(desired: KubernetesObject, live: KubernetesObject | undefined): Progress {
  const what = `${desired.kind} ${desired.metadata?.name}`;
  if (!live) return { state: 'running', message: `${what} is being created` };
  const conditions = (live as { status?: { conditions?: { type?: string; status?: string; message?: string; reason?: string }[] } }).status?.conditions ?? [];
  const isTrue = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  const failed = isTrue('Failed');
  if (failed) return { state: 'failed', message: `${what} failed: ${failed.message || failed.reason || 'no reason given'}` };
  if (isTrue('Complete')) return { state: 'finished' };
  return { state: 'running', message: `${what} is running` };
}
