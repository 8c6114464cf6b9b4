// Schema migrations: one Job per release, <app>-migrate-<revision>, run before
// api, worker and beat move to the release (the reconciler's 'jobs' step).
import { createHash } from 'node:crypto';
import type { V1Job } from '@kubernetes/client-node';
import type { BackendApp } from '../api/v1alpha1.js';
import { MIGRATE, RELEASE_LABEL, labels, objectMeta } from './labels.js';
import { appContainer, appPod, resourceRequirements } from './pod.js';
import { customizePod } from './podtemplate.js';

/**
 * The release: a hash of what the schema's code sees change — the image the
 * migration runs (spec.migrations.image, else spec.image), the migration command
 * and args, env and envFrom. Replicas, resources or probes do not start a new
 * release. Parsed specs have a fixed key order, so JSON of them is stable.
 */
export function releaseRevision(app: BackendApp): string {
  const m = app.spec.migrations;
  const inputs = { image: m?.image ?? app.spec.image, command: m?.command, args: m?.args, env: app.spec.env, envFrom: app.spec.envFrom };
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 10);
}

/** `<app>-migrate-<revision>`: at most 42 + 9 + 10 = 61 characters. */
export function migrationJobName(app: BackendApp, revision: string): string {
  return `${app.metadata.name}-${MIGRATE}-${revision}`;
}

/**
 * The release's migration Job: the app's image, env and credentials exactly as the
 * api gets them, its pod security and pull secrets, no retries beyond backoffLimit.
 * The kubelet puts the last log lines in the termination message when the
 * migration exits without writing one, so the failure can be reported.
 */
export function migrationJob(app: BackendApp): V1Job | undefined {
  const m = app.spec.migrations;
  if (!m) return undefined;
  const revision = releaseRevision(app);
  const release = { [RELEASE_LABEL]: revision };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: objectMeta(app, migrationJobName(app, revision), MIGRATE, { labels: release }),
    spec: {
      activeDeadlineSeconds: m.timeoutSeconds,
      backoffLimit: m.backoffLimit,
      // No ttlSecondsAfterFinished: the operator keeps the last Jobs for their logs.
      template: customizePod(app, 'migrations', {
        metadata: { labels: { ...labels(app, MIGRATE), ...release } },
        spec: appPod(
          app,
          [
            appContainer(
              app,
              {
                name: MIGRATE,
                command: m.command,
                args: m.args,
                resources: resourceRequirements(m.resources),
                terminationMessagePolicy: 'FallbackToLogsOnError',
              },
              m,
            ),
          ],
          { restartPolicy: 'Never' },
          m,
        ),
      }),
    },
  };
}
