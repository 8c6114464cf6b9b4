// Celery beat: the periodic task scheduler, as a Deployment named <app>-beat.
import type { V1Deployment } from '@kubernetes/client-node';
import type { BackendApp, BeatSpec } from '../api/v1alpha1.js';
import { appContainer, appPod, componentDeployment, resourceRequirements } from './pod.js';

/** In the /tmp emptyDir: the root filesystem is read-only, and the file survives container restarts. */
export const BEAT_SCHEDULE_FILE = '/tmp/celerybeat-schedule';

export function beatCommand(app: BackendApp, beat: BeatSpec): string[] {
  // Validation guarantees one of the two (spec.beat.app, else spec.worker.app).
  const celeryApp = beat.app ?? app.spec.worker?.app ?? '';
  return [
    'celery',
    '-A',
    celeryApp,
    'beat',
    `--loglevel=${beat.loglevel}`,
    `--schedule=${BEAT_SCHEDULE_FILE}`,
    ...(beat.scheduler ? [`--scheduler=${beat.scheduler}`] : []),
  ];
}

/**
 * Exactly one pod, ever: two schedulers would send every periodic task twice. So
 * replicas is fixed at 1, there is no autoscaler or disruption budget, and updates
 * use Recreate, which stops the old pod before the new one starts.
 */
export function beatDeployment(app: BackendApp): V1Deployment | undefined {
  const beat = app.spec.beat;
  if (!beat) return undefined;
  return componentDeployment(app, 'beat', {
    replicas: 1,
    strategy: { type: 'Recreate' },
    pod: appPod(
      app,
      [
        appContainer(
          app,
          {
            name: 'beat',
            command: beatCommand(app, beat),
            resources: resourceRequirements(beat.resources),
          },
          beat,
        ),
      ],
      {},
      beat,
    ),
  });
}
