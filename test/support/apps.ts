// BackendApp manifests and helpers for integration tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { kubectl, kubectlOk, waitFor } from './cluster.js';

const root = path.resolve(import.meta.dirname, '../..');

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec: Record<string, unknown>;
};

/** The README's finwise example (config/samples/finwise.yaml), renamed and placed in `namespace`. */
export function finwise(namespace: string, name = 'finwise'): Manifest {
  const doc = load(readFileSync(path.join(root, 'config/samples/finwise.yaml'), 'utf8')) as Manifest;
  return { ...doc, metadata: { ...doc.metadata, name, namespace } };
}

/** A small app: api + postgres + redis, no autoscaling. */
export function smallApp(namespace: string, name: string, extra: Record<string, unknown> = {}): Manifest {
  return {
    apiVersion: 'backendapp.io/v1alpha1',
    kind: 'BackendApp',
    metadata: { name, namespace },
    spec: {
      image: 'ghcr.io/acme/backend:1.0.0',
      api: { port: 8000, replicas: 1 },
      databases: { postgres: { version: '15', storage: { size: '1Gi' } }, redis: { version: '7' } },
      ...extra,
    },
  };
}

export async function apply(manifest: unknown): Promise<void> {
  await kubectlOk(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], { input: JSON.stringify(manifest) });
}

export async function getJSON<T = Record<string, unknown>>(namespace: string, resource: string): Promise<T | undefined> {
  const res = await kubectl(['get', '-n', namespace, resource, '-o', 'json']);
  if (res.code !== 0) {
    if (/NotFound|not found/.test(res.stderr)) return undefined;
    throw new Error(res.stderr);
  }
  return JSON.parse(res.stdout) as T;
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface AppObject {
  metadata: { generation: number; uid: string; finalizers?: string[] };
  status?: { observedGeneration?: number; conditions?: Condition[]; components?: Record<string, { ready: number; desired: number }> };
}

export function condition(app: AppObject | undefined, type: string): Condition | undefined {
  return app?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the app's status reflects its current generation and Ready is True. */
export async function waitReady(namespace: string, name: string, timeoutMs = 120_000): Promise<AppObject> {
  return waitFor(
    `bapp/${name} Ready`,
    async () => {
      const app = await getJSON<AppObject>(namespace, `bapp/${name}`);
      const ready = condition(app, 'Ready');
      if (app && app.status?.observedGeneration === app.metadata.generation && ready?.status === 'True') return app;
      // Thrown, so a timeout reports the last status seen.
      throw new Error(`generation ${app?.metadata.generation}, status ${JSON.stringify(app?.status)}`);
    },
    timeoutMs,
  );
}

export async function secretData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const s = await getJSON<{ data: Record<string, string> }>(namespace, `secret/${name}`);
  return s?.data;
}

export async function exists(namespace: string, resource: string): Promise<boolean> {
  return (await getJSON(namespace, resource)) !== undefined;
}
