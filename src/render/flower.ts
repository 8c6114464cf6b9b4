// Flower, the Celery monitoring UI: a Deployment and Service named <app>-flower.
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import type { BackendApp } from '../api/v1alpha1.js';
import { credentialsSecretName } from './labels.js';
import {
  componentDeployment,
  componentService,
  containerSecurityContext,
  hardenedPod,
  resourceRequirements,
  startFirstRollout,
  tmpMount,
  tmpVolume,
} from './pod.js';
import { SECRET_KEYS, secretKeyEnv } from './secrets.js';

const PORT_NAME = 'http';

/** The "flower" user of the upstream image (mher/flower). */
export const FLOWER_UID = 1000;

/** Answers without basic auth, so the kubelet can probe it. */
export const FLOWER_HEALTH_PATH = '/healthcheck';

export function flowerDeployment(app: BackendApp): V1Deployment | undefined {
  const flower = app.spec.flower;
  if (!flower) return undefined;
  const health = { httpGet: { path: FLOWER_HEALTH_PATH, port: PORT_NAME, scheme: 'HTTP' }, timeoutSeconds: 5, failureThreshold: 3 };
  return componentDeployment(app, 'flower', {
    // Flower keeps what it has seen in memory: more pods would show different views.
    replicas: 1,
    strategy: startFirstRollout,
    pod: hardenedPod(
      {
        serviceAccountName: flower.serviceAccountName ?? app.spec.serviceAccountName,
        containers: [
          {
            name: 'flower',
            image: flower.image,
            // No --broker: the URL holds the Redis password, and Celery reads
            // CELERY_BROKER_URL from the environment by itself, so the password is
            // in no argument (/proc/1/cmdline, ps, the runtime's config).
            command: ['celery', 'flower', `--port=${flower.port}`],
            env: [
              secretKeyEnv('CELERY_BROKER_URL', credentialsSecretName(app, 'redis'), SECRET_KEYS.url),
              // Flower reads every option from FLOWER_<OPTION>; basic_auth is "user:password".
              secretKeyEnv('FLOWER_BASIC_AUTH', credentialsSecretName(app, 'flower'), SECRET_KEYS.basicAuth),
            ],
            ports: [{ name: PORT_NAME, containerPort: flower.port, protocol: 'TCP' }],
            resources: resourceRequirements(flower.resources),
            readinessProbe: { ...health, periodSeconds: 10 },
            livenessProbe: { ...health, periodSeconds: 30 },
            securityContext: containerSecurityContext(true),
            volumeMounts: [tmpMount],
          },
        ],
        volumes: [tmpVolume],
      },
      { runAsUser: FLOWER_UID, runAsGroup: FLOWER_UID, fsGroup: FLOWER_UID },
    ),
  });
}

export function flowerService(app: BackendApp): V1Service | undefined {
  const flower = app.spec.flower;
  if (!flower) return undefined;
  return componentService(app, 'flower', { name: PORT_NAME, port: flower.port });
}
