// Hardened pod and container settings shared by every workload.
//
// Every pod meets Pod Security "restricted": non-root with an explicit user id,
// no privilege escalation, all capabilities dropped, RuntimeDefault seccomp. App
// containers also get a read-only root filesystem, with an emptyDir on /tmp for
// the files Python libraries and Celery beat still need to write.
import type {
  V1Container,
  V1Deployment,
  V1DeploymentStrategy,
  V1EnvVar,
  V1PodSecurityContext,
  V1PodSpec,
  V1ResourceRequirements,
  V1SecurityContext,
  V1Service,
  V1TopologySpreadConstraint,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { AppComponent, BackendApp, Component, Resources } from '../api/v1alpha1.js';
import { componentName, labels, objectMeta, selectorLabels } from './labels.js';
import { connectionEnv } from './databases/index.js';
import { customizePod } from './podtemplate.js';
import { appPodVolumes, appVolumeMounts } from './volumes.js';

export interface Identity {
  runAsUser: number;
  runAsGroup: number;
  fsGroup: number;
}

export function podSecurityContext(id: Identity): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: id.runAsUser,
    runAsGroup: id.runAsGroup,
    fsGroup: id.fsGroup,
    // Only chown a volume when its root is not already ours: large data volumes
    // would otherwise be walked file by file on every start.
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function containerSecurityContext(readOnlyRootFilesystem: boolean): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem,
    runAsNonRoot: true,
  };
}

export const TMP_VOLUME = 'tmp';
export const tmpVolume: V1Volume = { name: TMP_VOLUME, emptyDir: {} };
export const tmpMount: V1VolumeMount = { name: TMP_VOLUME, mountPath: '/tmp' };

/** Settings every pod gets, whatever runs in it. */
export function hardenedPod(spec: V1PodSpec, id: Identity): V1PodSpec {
  return {
    // No pod here talks to the Kubernetes API; a mounted token would only be loot.
    automountServiceAccountToken: false,
    // Service links inject variables such as REDIS_PORT=tcp://10.0.0.1:6379 for every
    // Service in the namespace, which clash with the settings Python apps read.
    enableServiceLinks: false,
    securityContext: podSecurityContext(id),
    ...spec,
  };
}

export function resourceRequirements(r: Resources | undefined): V1ResourceRequirements | undefined {
  if (!r) return undefined;
  const list = (l: Record<string, string | number | undefined> | undefined) => {
    if (!l) return undefined;
    const entries = Object.entries(l).filter((e): e is [string, string | number] => e[1] !== undefined);
    return entries.length ? Object.fromEntries(entries.map(([k, v]) => [k, String(v)])) : undefined;
  };
  const out: V1ResourceRequirements = { requests: list(r.requests), limits: list(r.limits) };
  return out.requests || out.limits ? out : undefined;
}

/**
 * Fills in a request for each resource of `defaults` that has neither a request nor
 * a limit; a limit alone already makes Kubernetes request that much.
 */
export function withDefaultRequests(r: V1ResourceRequirements | undefined, defaults: Record<string, string>): V1ResourceRequirements {
  const requests = { ...r?.requests };
  for (const [k, v] of Object.entries(defaults)) if (requests[k] === undefined && r?.limits?.[k] === undefined) requests[k] = v;
  return { ...r, requests };
}

/**
 * Spread a component's pods over nodes and zones when it can, so one node or zone
 * going down does not take every replica. ScheduleAnyway: a small cluster, or one
 * without zone labels, still runs them all.
 */
export function spreadOverNodesAndZones(app: BackendApp, component: AppComponent): V1TopologySpreadConstraint[] {
  return ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels: selectorLabels(app, component) },
  }));
}

/**
 * Environment of the app containers: the operator's connection settings first,
 * then the user's, so a user variable can refer to them as $(DATABASE_URL). A user
 * variable with the same name replaces the operator's instead of duplicating it.
 */
export function appEnv(app: BackendApp): V1EnvVar[] {
  const user: V1EnvVar[] = (app.spec.env ?? []).map((e) => ({ name: e.name, value: e.value, valueFrom: e.valueFrom }));
  const taken = new Set(user.map((e) => e.name));
  return [...connectionEnv(app).filter((e) => !taken.has(e.name)), ...user];
}

/** What a component running the application image (api, worker, beat, the migration) may set for itself. */
export interface AppWorkload {
  image?: string | undefined;
  serviceAccountName?: string | undefined;
  /** Names of entries of spec.volumes to mount. */
  volumes?: string[] | undefined;
}

/** A container running the application image (api, worker, beat), or the component's own image. */
export function appContainer(app: BackendApp, container: V1Container, own: AppWorkload = {}): V1Container {
  const { name, ...rest } = container;
  const env = appEnv(app);
  return {
    name,
    image: own.image ?? app.spec.image,
    imagePullPolicy: app.spec.imagePullPolicy,
    env: env.length ? env : undefined,
    envFrom: app.spec.envFrom?.length ? app.spec.envFrom : undefined,
    securityContext: containerSecurityContext(true),
    volumeMounts: [tmpMount, ...appVolumeMounts(app, own.volumes)],
    ...rest,
  };
}

/** The pod of an application component. */
export function appPod(app: BackendApp, containers: V1Container[], extra: Partial<V1PodSpec> = {}, own: AppWorkload = {}): V1PodSpec {
  return hardenedPod(
    {
      serviceAccountName: own.serviceAccountName ?? app.spec.serviceAccountName,
      imagePullSecrets: app.spec.imagePullSecrets?.length ? app.spec.imagePullSecrets.map((s) => ({ name: s.name })) : undefined,
      containers,
      volumes: [tmpVolume, ...appPodVolumes(app, own.volumes)],
      ...extra,
    },
    app.spec.securityContext,
  );
}

/**
 * What keeps a pod spec from meeting Pod Security "restricted" (the parts this
 * renderer controls), as messages; empty when it complies. Used by the tests, and
 * by anyone who wants to check a spec before applying it.
 */
export function restrictedViolations(spec: V1PodSpec): string[] {
  const problems: string[] = [];
  const pod = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push('host namespaces are forbidden');
  if (pod.runAsUser === 0) problems.push('pod runAsUser must not be 0');
  for (const v of spec.volumes ?? []) {
    if (v.hostPath) problems.push(`volume ${v.name}: hostPath is forbidden`);
  }
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot must be true`);
    if ((sc.runAsUser ?? pod.runAsUser) === 0) problems.push(`${where}: runAsUser must not be 0`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
    if (sc.privileged) problems.push(`${where}: privileged is forbidden`);
    if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${where}: capabilities must drop ALL`);
    const added = (sc.capabilities?.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (added.length) problems.push(`${where}: capabilities ${added.join(', ')} may not be added`);
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${where}: seccompProfile must be RuntimeDefault or Localhost`);
    for (const p of c.ports ?? []) if (p.hostPort) problems.push(`${where}: hostPort is forbidden`);
  }
  return problems;
}

/**
 * Start a new pod before stopping an old one (the seeds' Swarm `order: start-first`):
 * capacity never drops during a rollout.
 */
export const startFirstRollout = {
  type: 'RollingUpdate',
  rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 },
} as const;

/**
 * The Deployment of an app component (<app>-api, -worker, -beat, -flower): its
 * labels, selector and pod template, with the podTemplates merged over it; the
 * component says how many pods, how they roll, and what runs in them. `replicas`
 * undefined leaves the count to an autoscaler.
 */
export function componentDeployment(
  app: BackendApp,
  component: AppComponent,
  spec: { replicas: number | undefined; strategy: V1DeploymentStrategy; pod: V1PodSpec },
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(app, componentName(app, component), component),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selectorLabels(app, component) },
      strategy: spec.strategy,
      template: customizePod(app, component, {
        metadata: { labels: labels(app, component) },
        spec: spec.pod,
      }),
    },
  };
}

/**
 * A scalable component's replica count, or undefined under an HPA: the field is then
 * left out entirely, so applying the Deployment never resets the count the autoscaler
 * chose (argoproj/argo-cd#5105).
 */
export function replicasUnlessAutoscaled(spec: { replicas: number; autoscaling?: unknown }): number | undefined {
  return spec.autoscaling ? undefined : spec.replicas;
}

/** The Service of a component (ClusterIP unless given), on its named container port. */
export function componentService(
  app: BackendApp,
  component: Component,
  port: { name: string; port: number },
  service: { type: string; annotations?: Record<string, string> | undefined } = { type: 'ClusterIP' },
): V1Service {
  const meta = objectMeta(app, componentName(app, component), component);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: service.annotations ? { ...meta, annotations: { ...service.annotations } } : meta,
    spec: {
      type: service.type,
      selector: selectorLabels(app, component),
      ports: [{ name: port.name, port: port.port, targetPort: port.name, protocol: 'TCP' }],
    },
  };
}
