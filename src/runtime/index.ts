// Generic controller machinery (controller-runtime's contract, in TypeScript).
// Nothing in this folder knows about BackendApp.
export {
  KubeApiError,
  apiServerReadyCheck,
  apiVersionOf,
  onServerBack,
  isConflict,
  isNotFound,
  isRecord,
  loadKubeConfig,
  requestJSON,
  resourceName,
  resourcePath,
  statusCodeOf,
  withRequestSignal,
  type LoadKubeConfigOptions,
  type RequestOptions,
  type ResourceRef,
} from './client.js';
export {
  Controller,
  TerminalError,
  controllerOwnerRequest,
  generationChangedPredicate,
  groupOf,
  parseRequestKey,
  requestKey,
  type CacheSource,
  type ControllerOptions,
  type GroupKind,
  type Predicate,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
} from './controller.js';
export { HealthServer, parseBindAddress, type Check, type HealthServerOptions } from './health-server.js';
export {
  Informer,
  stripManagedFields,
  type EventHandler,
  type InformerHealth,
  type InformerOptions,
  type KubernetesObject,
  type ListWatchSource,
  type RestartReason,
} from './informer.js';
export {
  LeaderElector,
  defaultIdentity,
  formatMicroTime,
  kubeLeaseClient,
  type LeaderElectionOptions,
  type LeaderElectionOutcome,
  type LeaseClient,
  type LeaseRecord,
} from './leader-election.js';
export { kubeListWatch, type KubeListWatchOptions } from './list-watch.js';
export { LOG_LEVELS, createLogger, errorMessage, isLogLevel, silentLogger, type LogLevel, type Logger, type LoggerOptions } from './logger.js';
export {
  CacheSyncTimeoutError,
  LeaderElectionLostError,
  Manager,
  setupSignalHandler,
  type ManagerLeaderElection,
  type ManagerOptions,
  type SignalHandler,
} from './manager.js';
export { Metrics, type MetricsOptions } from './metrics.js';
export {
  WorkQueue,
  type Queue,
  LOW_PRIORITY,
  ItemExponentialFailureRateLimiter,
  BucketRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
  type RateLimiter,
} from './workqueue.js';
export { createEventRecorder, type EventRecorder, type EventType } from './events.js';
