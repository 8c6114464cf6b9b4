// The BackendApps the benchmark creates, and what our renderer makes of them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import type { KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION, KIND, validateBackendApp, formatFieldErrors } from '../src/api/v1alpha1.js';
import { renderApp } from '../src/render/index.js';
import { kindOf } from '../src/kinds.js';
import { resourcePath } from '../src/runtime/client.js';
import { root } from './cluster.js';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid?: string };
  spec: Record<string, unknown>;
}

/**
 * standard: api, Celery worker and beat, PostgreSQL with a volume, Redis: 14
 *   objects, 5 pods and 1 volume per app (the default).
 * small: api, PostgreSQL with a volume, Redis (the integration tests' app).
 * finwise: config/samples/finwise.yaml, the whole stack with autoscaling, Flower
 *   and MongoDB: 25 objects, 2 volumes, at least 10 pods per app.
 */
export const PROFILES = ['standard', 'small', 'finwise'] as const;
export type Profile = (typeof PROFILES)[number];

export function manifest(profile: Profile, namespace: string, name: string): Manifest {
  const meta = { name, namespace };
  if (profile === 'finwise') {
    const doc = load(readFileSync(path.join(root, 'config/samples/finwise.yaml'), 'utf8')) as Manifest;
    return { apiVersion: doc.apiVersion, kind: doc.kind, metadata: meta, spec: doc.spec };
  }
  const spec: Record<string, unknown> = {
    image: 'ghcr.io/acme/backend:1.0.0',
    api: { port: 8000, replicas: 1 },
    databases: { postgres: { version: '15', storage: { size: '1Gi' } }, redis: { version: '7' } },
  };
  if (profile === 'standard') {
    spec.worker = { app: 'app.celery', replicas: 1 };
    spec.beat = {};
  }
  return { apiVersion: API_VERSION, kind: KIND, metadata: meta, spec };
}

/**
 * What the operator applies for this app (credentials freshly generated). With a
 * uid the objects carry the owner reference the operator sets; without one (Helm,
 * kubectl) they do not.
 */
export function render(m: Manifest): KubernetesObject[] {
  const v = validateBackendApp(m);
  if (!v.ok) throw new Error(`invalid benchmark app ${m.metadata.name}: ${formatFieldErrors(v.errors)}`);
  return renderApp(v.app, { existingSecrets: {} });
}

/** Claims one app's StatefulSets make, as rendered (a database keeps a volume even when its spec names no storage). */
export function volumesPerApp(profile: Profile): number {
  return render(manifest(profile, 'x', 'x'))
    .filter((o) => o.kind === 'StatefulSet')
    .reduce((n, o) => n + ((o as { spec?: { volumeClaimTemplates?: unknown[] } }).spec?.volumeClaimTemplates?.length ?? 0), 0);
}

/** "Deployment/app-0-api": how the tracker names an expected child. */
export function childKey(o: Pick<KubernetesObject, 'kind' | 'metadata'>): string {
  return `${o.kind}/${o.metadata?.name}`;
}

export function objectPath(o: KubernetesObject): string {
  return resourcePath(kindOf(o), o.metadata?.namespace, o.metadata?.name);
}

export function appPath(m: Pick<Manifest, 'metadata'>): string {
  return `/apis/${API_VERSION}/namespaces/${m.metadata.namespace}/backendapps/${m.metadata.name}`;
}

/** N apps spread round-robin over the namespaces, named <prefix>-<i>. */
export function appSet(profile: Profile, namespaces: string[], n: number, prefix = 'app', from = 0): Manifest[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return manifest(profile, namespaces[i % namespaces.length] as string, `${prefix}-${i}`);
  });
}
