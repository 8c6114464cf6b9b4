// Names, labels and ownership shared by every rendered object.
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, APP_COMPONENTS, KIND, type AppComponent, type BackendApp, type Component, type DatabaseKind } from '../api/v1alpha1.js';

export const NAME_LABEL = 'app.kubernetes.io/name';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'backendapp-operator';

/** On Secrets holding generated credentials, so the controller can find them. */
export const CREDENTIALS_LABEL = 'backendapp.io/credentials';
/** The migration Job's component: it runs the app's code, once per release. */
export const MIGRATE = 'migrate';
/** The component of the app's own PersistentVolumeClaims (spec.volumes), which any component may mount. */
export const VOLUME = 'volume';
/** What `app.kubernetes.io/component` can say: a component, the migration, or an app volume. */
export type LabelComponent = Component | typeof MIGRATE | typeof VOLUME;
/** On a migration Job and its pod: the release it migrates to. */
export const RELEASE_LABEL = 'backendapp.io/release';

/** On an app volume's PersistentVolumeClaim: the name of its entry in spec.volumes. */
export const VOLUME_LABEL = 'backendapp.io/volume';

/** On database credential Secrets and app volume claims: the deletionPolicy when rendered. */
export const DELETION_POLICY_LABEL = 'backendapp.io/deletion-policy';

/**
 * `app.kubernetes.io/name` says which software runs: the app's own name for its
 * code, "flower" for Flower, and a database's kind for a database.
 */
const SOFTWARE: Record<AppComponent, string | undefined> = {
  api: undefined,
  worker: undefined,
  beat: undefined,
  flower: 'flower',
};

function softwareOf(app: BackendApp, component: LabelComponent): string {
  if (component === MIGRATE || component === VOLUME) return app.metadata.name;
  return (APP_COMPONENTS as readonly string[]).includes(component) ? (SOFTWARE[component as AppComponent] ?? app.metadata.name) : component;
}

/** `<app>-api`, `<app>-postgres`, ...: the name of a component's workload and Service. */
export function componentName(app: BackendApp, component: Component): string {
  return `${app.metadata.name}-${component}`;
}

/** `<app>-postgres-headless`: the StatefulSet's governing Service, for stable pod DNS. */
export function headlessServiceName(app: BackendApp, db: DatabaseKind): string {
  return `${componentName(app, db)}-headless`;
}

/** `<app>-postgres-credentials`, `<app>-flower-credentials`, ... */
export function credentialsSecretName(app: BackendApp, component: DatabaseKind | 'flower'): string {
  return `${componentName(app, component)}-credentials`;
}

/** Labels on every object of a component. */
export function labels(app: BackendApp, component: LabelComponent): Record<string, string> {
  return {
    [NAME_LABEL]: softwareOf(app, component),
    [INSTANCE_LABEL]: app.metadata.name,
    [COMPONENT_LABEL]: component,
    [PART_OF_LABEL]: app.metadata.name,
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
}

/**
 * The subset used in selectors and volumeClaimTemplates. Both are immutable once
 * created, so this must never change; managed-by keeps a Helm release that happens
 * to share the instance name from matching our pods.
 */
export function selectorLabels(app: BackendApp, component: Component): Record<string, string> {
  return {
    [INSTANCE_LABEL]: app.metadata.name,
    [COMPONENT_LABEL]: component,
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
}

/**
 * Controller reference to the BackendApp, so garbage collection removes the
 * children with it. Only for apps read from the API server: without a uid (the
 * CLI renders a file) there is nothing to point at.
 */
export function ownerReference(app: BackendApp): V1OwnerReference | undefined {
  if (!app.metadata.uid) return undefined;
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: app.metadata.name,
    uid: app.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export interface MetaOptions {
  /** Extra labels, e.g. the credentials marker. */
  labels?: Record<string, string>;
  /** Leave out the owner reference so the object outlives the app. */
  orphan?: boolean;
}

export function objectMeta(app: BackendApp, name: string, component: LabelComponent, opts: MetaOptions = {}): V1ObjectMeta {
  const owner = opts.orphan ? undefined : ownerReference(app);
  return {
    name,
    namespace: app.metadata.namespace,
    labels: { ...labels(app, component), ...opts.labels },
    ownerReferences: owner ? [owner] : undefined,
  };
}
