// The HTTP API: a Deployment and a Service named <app>-api.
import type { V1Deployment, V1Probe, V1Service } from '@kubernetes/client-node';
import type { ApiSpec, BackendApp } from '../api/v1alpha1.js';
import {
  appContainer,
  appPod,
  componentDeployment,
  replicasUnlessAutoscaled,
  componentService,
  resourceRequirements,
  spreadOverNodesAndZones,
  startFirstRollout,
} from './pod.js';
import { mountsReadWriteOnce } from './volumes.js';

const PORT_NAME = 'http';

/**
 * Period of the startup and readiness checks: the interval, but at most 10 s, so a
 * pod takes traffic soon after it can; never shorter than the timeout, so checks
 * do not overlap.
 */
export function fastPeriodSeconds(intervalSeconds: number, timeoutSeconds: number): number {
  return Math.min(intervalSeconds, Math.max(10, timeoutSeconds));
}

/**
 * Failures the startup probe tolerates: enough periods to cover the start period,
 * then `retries` more, as Docker counts retries only after the start period. The
 * container thus gets at least startPeriodSeconds before liveness can kill it.
 */
export function startupFailureThreshold(startPeriodSeconds: number, periodSeconds: number, retries: number): number {
  return Math.ceil(startPeriodSeconds / periodSeconds) + retries;
}

export interface ApiProbes {
  startupProbe: V1Probe;
  readinessProbe: V1Probe;
  livenessProbe?: V1Probe;
}

/**
 * The three health tiers as Kubernetes probes (table in the README). A missing
 * tier falls back: startup to the liveness, then readiness path; readiness to a
 * TCP check of the port; liveness is left out, because restarting an app that
 * has no liveness endpoint on a guess does more harm than good.
 */
export function apiProbes(api: ApiSpec): ApiProbes {
  const h = api.health;
  const check = (path: string | undefined): Pick<V1Probe, 'httpGet' | 'tcpSocket'> =>
    path !== undefined ? { httpGet: { path, port: PORT_NAME, scheme: 'HTTP' } } : { tcpSocket: { port: PORT_NAME } };
  const fast = fastPeriodSeconds(h.intervalSeconds, h.timeoutSeconds);
  const probes: ApiProbes = {
    startupProbe: {
      ...check(h.startup?.path ?? h.liveness?.path ?? h.readiness?.path),
      periodSeconds: fast,
      timeoutSeconds: h.timeoutSeconds,
      failureThreshold: startupFailureThreshold(h.startPeriodSeconds, fast, h.retries),
    },
    readinessProbe: {
      ...check(h.readiness?.path),
      periodSeconds: fast,
      timeoutSeconds: h.timeoutSeconds,
      failureThreshold: h.retries,
    },
  };
  if (h.liveness) {
    probes.livenessProbe = {
      ...check(h.liveness.path),
      periodSeconds: h.intervalSeconds,
      timeoutSeconds: h.timeoutSeconds,
      failureThreshold: h.retries,
    };
  }
  return probes;
}

export function apiDeployment(app: BackendApp): V1Deployment | undefined {
  const api = app.spec.api;
  if (!api) return undefined;
  return componentDeployment(app, 'api', {
    replicas: replicasUnlessAutoscaled(api),
    // A ReadWriteOnce claim is held by the running pod: a new one could not start beside it.
    strategy: mountsReadWriteOnce(app, api.volumes) ? { type: 'Recreate' } : startFirstRollout,
    pod: appPod(
      app,
      [
        appContainer(
          app,
          {
            name: 'api',
            command: api.command,
            args: api.args,
            ports: [{ name: PORT_NAME, containerPort: api.port, protocol: 'TCP' }],
            resources: resourceRequirements(api.resources),
            ...apiProbes(api),
          },
          api,
        ),
      ],
      { topologySpreadConstraints: spreadOverNodesAndZones(app, 'api') },
      api,
    ),
  });
}

export function apiService(app: BackendApp): V1Service | undefined {
  const api = app.spec.api;
  if (!api) return undefined;
  return componentService(app, 'api', { name: PORT_NAME, port: api.port }, api.service);
}
