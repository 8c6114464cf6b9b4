// A NetworkPolicy per database: only this app's pods that use it may connect.
import type { V1NetworkPolicy, V1NetworkPolicyIngressRule, V1NetworkPolicyPeer, V1NetworkPolicySpec } from '@kubernetes/client-node';
import type { BackendApp, DatabaseKind } from '../api/v1alpha1.js';
import {
  COMPONENT_LABEL,
  INSTANCE_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MIGRATE,
  componentName,
  objectMeta,
  selectorLabels,
  type LabelComponent,
} from './labels.js';
import { ENGINES } from './databases/index.js';

/**
 * client-node calls the peers field `_from` (its serializer renames it); rendered
 * objects are plain JSON for server-side apply, so they use the wire name.
 */
type IngressRule = Omit<V1NetworkPolicyIngressRule, '_from'> & { from?: V1NetworkPolicyPeer[] };
export type NetworkPolicy = Omit<V1NetworkPolicy, 'spec'> & { spec: Omit<V1NetworkPolicySpec, 'ingress'> & { ingress: IngressRule[] } };

/**
 * Pods that connect to a database: its engine's clients (the app, and Flower for
 * the Redis broker), plus the migration, which runs the app's code, where the app
 * connects and migrations are on.
 */
export function clientsOf(app: BackendApp, db: DatabaseKind): LabelComponent[] {
  const clients: LabelComponent[] = [...ENGINES[db].clients];
  if (app.spec.migrations && clients.includes('api')) clients.push(MIGRATE);
  return clients;
}

/**
 * Ingress to the database pod from this app's client pods in the same namespace,
 * on the database port only. Other pods, including other apps' pods, are refused
 * where the network plugin enforces NetworkPolicy. Exec probes are unaffected.
 */
export function databaseNetworkPolicy(app: BackendApp, db: DatabaseKind): NetworkPolicy | undefined {
  if (!app.spec.databases?.[db]) return undefined;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: objectMeta(app, componentName(app, db), db),
    spec: {
      podSelector: { matchLabels: selectorLabels(app, db) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            {
              podSelector: {
                matchLabels: { [INSTANCE_LABEL]: app.metadata.name, [MANAGED_BY_LABEL]: MANAGED_BY },
                matchExpressions: [{ key: COMPONENT_LABEL, operator: 'In', values: clientsOf(app, db) }],
              },
            },
          ],
          ports: [{ protocol: 'TCP', port: ENGINES[db].port }],
        },
      ],
    },
  };
}
