// Wiring for `backendapp-operator run`: caches for the BackendApps and each kind
// they own, the reconciler, leader election, probes and metrics. Short on
// purpose: the machinery lives in runtime/, the logic in controller/.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { GROUP, KIND } from './api/v1alpha1.js';
import { BackendAppReconciler } from './controller/backendapp.js';
import { apiWriter, informerCaches } from './controller/cluster.js';
import { BACKENDAPP, CHILD_KINDS, POD, childSelector, kindKey } from './kinds.js';
import { podProblem, podSummary } from './controller/pods.js';
import { INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './render/labels.js';
import {
  Controller,
  Informer,
  LOW_PRIORITY,
  Manager,
  Metrics,
  apiServerReadyCheck,
  createEventRecorder,
  createLogger,
  kubeLeaseClient,
  kubeListWatch,
  loadKubeConfig,
  resourceName,
  stripManagedFields,
  type LogLevel,
  type Predicate,
  type ResourceRef,
} from './runtime/index.js';

export interface OperatorOptions {
  kubeconfig?: string;
  /** Watch only these namespaces; empty: all. */
  namespaces: string[];
  maxConcurrentReconciles: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  logLevel: LogLevel;
}

/**
 * Spec changes, deletion and finalizer edits; not our own status writes, which
 * would otherwise wake the reconciler once more for every status it writes.
 */
const appChanged: Predicate<KubernetesObject> = {
  update: (o, n) =>
    o.metadata?.generation !== n.metadata?.generation ||
    o.metadata?.deletionTimestamp !== n.metadata?.deletionTimestamp ||
    (o.metadata?.finalizers ?? []).join() !== (n.metadata?.finalizers ?? []).join(),
};

/** The app an object belongs to, by its instance label (pods and retained credentials carry no owner reference to it). */
function appOfInstanceLabel(o: KubernetesObject): { namespace: string; name: string }[] {
  const name = o.metadata?.labels?.[INSTANCE_LABEL];
  return name && o.metadata?.namespace ? [{ namespace: o.metadata.namespace, name }] : [];
}

export function createOperator(opts: OperatorOptions): Manager {
  const log = createLogger({ level: opts.logLevel });
  const kc = loadKubeConfig(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {});
  // Our informers' metrics are backendapp_informer_*; the rest keep controller-runtime's names.
  const metrics = new Metrics({ prefix: 'backendapp' });
  const informer = (resource: ResourceRef, labelSelector?: string, transform: (o: KubernetesObject) => KubernetesObject = stripManagedFields) =>
    new Informer({
      resource,
      namespaces: opts.namespaces,
      source: kubeListWatch(kc, resource),
      logger: log,
      metrics: metrics.informerMetrics(resourceName(resource)),
      transform,
      ...(labelSelector ? { labelSelector } : {}),
    });

  const apps = informer(BACKENDAPP);
  // Children are cached by label, so the operator holds only what it made, not
  // every Secret and Deployment of the cluster.
  const children = new Map(CHILD_KINDS.map((k) => [kindKey(k), informer(k, childSelector(k))]));
  // The apps' pods, each cut down to what says why it does not run.
  const pods = informer(POD, `${MANAGED_BY_LABEL}=${MANAGED_BY}`, (o) => podSummary(o as V1Pod));
  const identity = `${hostname()}_${randomUUID()}`;

  const reconciler = new BackendAppReconciler({
    apps,
    children: informerCaches(children),
    pods,
    writer: apiWriter(kc),
    events: createEventRecorder(kc, { controller: `${GROUP}/backendapp-operator`, instance: identity, log }),
    now: () => new Date(),
  });
  const controller = new Controller({ name: 'backendapp', reconciler, maxConcurrentReconciles: opts.maxConcurrentReconciles, logger: log, metrics });
  controller.watchFor(apps, { predicate: appChanged });
  for (const inf of children.values()) {
    // Credentials retained past a deletion have no owner; the instance label still names their app.
    // A child's event waits behind new and changed apps (LOW_PRIORITY): most are a
    // workload's status moving, which only refreshes the app's status, so a burst
    // of new apps gets its children before the earlier ones get their counts.
    controller.owns(inf, { group: GROUP, kind: KIND }, { priority: LOW_PRIORITY, map: appOfInstanceLabel });
  }

  // A pod wakes its app only when what it says about a problem changes (a container
  // starts waiting in CrashLoopBackOff, a missing Secret appears): readiness itself
  // already reaches the app through the workload's status.
  const problemOf = (o: KubernetesObject) => podProblem(o as V1Pod);
  controller.watches(pods, appOfInstanceLabel, {
    priority: LOW_PRIORITY,
    predicate: {
      create: (o) => problemOf(o) !== undefined,
      update: (o, n) => problemOf(o) !== problemOf(n),
      delete: (o) => problemOf(o) !== undefined,
    },
  });

  const mgr = new Manager({
    logger: log,
    metrics,
    metricsBindAddress: opts.metricsBindAddress,
    healthProbeBindAddress: opts.healthProbeBindAddress,
    // Losing the lease (an API server or etcd outage longer than the renew
    // deadline) stops reconciling until the lease is back, without a restart.
    onLeadershipLost: 'standby',
    ...(opts.leaderElect
      ? {
          leaderElection: {
            client: kubeLeaseClient(kc, opts.leaderElectionNamespace, opts.leaderElectionId),
            name: opts.leaderElectionId,
            identity,
          },
        }
      : {}),
  });
  mgr.addController(controller);
  // Watches stay connected while etcd is down (the API server serves them from its
  // cache), but no write can succeed: not ready until the API server is.
  mgr.addReadyCheck('apiserver', apiServerReadyCheck(kc));
  log.info(
    {
      namespaces: opts.namespaces.length ? opts.namespaces : 'all',
      maxConcurrentReconciles: opts.maxConcurrentReconciles,
      leaderElect: opts.leaderElect,
      identity,
    },
    'starting backendapp-operator',
  );
  return mgr;
}
