// The whole desired state of a BackendApp: every object the operator applies, as
// plain JSON ready for server-side apply. Pure: the same app and inputs always give
// the same objects in the same order.
import type { KubernetesObject } from '@kubernetes/client-node';
import { DATABASE_KINDS, type BackendApp } from '../api/v1alpha1.js';
import { CHILD_KINDS, kindKey } from '../kinds.js';
import { apiDeployment, apiService } from './api.js';
import { beatDeployment } from './beat.js';
import { databaseCredentials, databaseObjects } from './databases/index.js';
import { flowerDeployment, flowerService } from './flower.js';
import { migrationJob } from './migrations.js';
import { horizontalPodAutoscaler } from './hpa.js';
import { databaseNetworkPolicy } from './networkpolicy.js';
import { podDisruptionBudget } from './pdb.js';
import { flowerCredentials, type RenderInputs } from './secrets.js';
import { STEPS, type Step, type StepName } from './steps.js';
import { appVolumeClaims } from './volumes.js';
import { workerDeployment } from './worker.js';

export type { RenderInputs } from './secrets.js';
export { STEPS, batches, type Barrier, type Step, type StepName } from './steps.js';
export { migrationJob, migrationJobName, releaseRevision } from './migrations.js';
export { isRetained, defaultRandomSecret, SECRET_KEYS } from './secrets.js';

/** Within a step, objects sort by their kind's place in CHILD_KINDS, then by name. */
const KIND_ORDER = new Map(CHILD_KINDS.map((k, i) => [kindKey(k), i]));

/**
 * The app's children as the steps of STEPS (steps.ts), in order: what the
 * reconciler writes, and where it may have to wait. `inputs.existingSecrets`
 * must hold the current credential Secrets, decoded: their passwords are kept,
 * missing ones generated.
 */
export function planApp(app: BackendApp, inputs: RenderInputs): Step[] {
  const objects: Record<StepName, (KubernetesObject | undefined)[]> = {
    credentials: [...databaseCredentials(app, inputs), flowerCredentials(app, inputs)],
    'network-policies': DATABASE_KINDS.map((db) => databaseNetworkPolicy(app, db)),
    databases: [...appVolumeClaims(app), ...databaseObjects(app)],
    tools: [flowerDeployment(app), flowerService(app)],
    jobs: [migrationJob(app)],
    workloads: [apiDeployment(app), apiService(app), workerDeployment(app), beatDeployment(app)],
    scaling: [horizontalPodAutoscaler(app, 'api'), podDisruptionBudget(app, 'api'), horizontalPodAutoscaler(app, 'worker'), podDisruptionBudget(app, 'worker')],
  };
  return STEPS.map((s) => ({
    ...s,
    objects: objects[s.name]
      .filter((o): o is KubernetesObject => o !== undefined)
      .map((o) => stripUndefined(o))
      .sort(byKindThenName),
  }));
}

/** Every child of the app, in the order of planApp's steps. */
export function renderApp(app: BackendApp, inputs: RenderInputs): KubernetesObject[] {
  return planApp(app, inputs).flatMap((s) => s.objects);
}

function byKindThenName(a: KubernetesObject, b: KubernetesObject): number {
  const ka = KIND_ORDER.get(kindKey(a)) ?? Number.MAX_SAFE_INTEGER;
  const kb = KIND_ORDER.get(kindKey(b)) ?? Number.MAX_SAFE_INTEGER;
  if (ka !== kb) return ka - kb;
  const na = a.metadata?.name ?? '';
  const nb = b.metadata?.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * A deep copy without undefined fields, so builders can write `field: maybe` and the
 * output still has no empty keys (server-side apply would otherwise claim them).
 * Empty objects are kept: `emptyDir: {}` means something.
 */
export function stripUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => stripUndefined(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = stripUndefined(v);
    return out as T;
  }
  return value;
}
