// Test helpers for the renderer: valid apps built through the real schema, so
// tests see the same defaults the operator does.
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import { API_VERSION, KIND, formatFieldErrors, validateBackendApp, type BackendApp, type BackendAppSpecInput } from '../api/v1alpha1.js';

export const SAMPLE_FILE = new URL('../../config/samples/finwise.yaml', import.meta.url);

/** The finwise sample as parsed YAML, fresh on every call so tests may mutate it. */
export function sampleManifest(): Record<string, unknown> {
  return load(readFileSync(SAMPLE_FILE, 'utf8')) as Record<string, unknown>;
}

function mustValidate(obj: unknown): BackendApp {
  const result = validateBackendApp(obj);
  if (!result.ok) throw new Error(`fixture is invalid:\n${formatFieldErrors(result.errors)}`);
  return result.app;
}

export function finwise(metadata: Partial<V1ObjectMeta> = {}): BackendApp {
  const m = sampleManifest();
  return mustValidate({ ...m, metadata: { ...(m.metadata as object), ...metadata } });
}

export function makeApp(spec: BackendAppSpecInput, metadata: Partial<V1ObjectMeta> = {}): BackendApp {
  return mustValidate({ apiVersion: API_VERSION, kind: KIND, metadata: { name: 'shop', ...metadata }, spec });
}

/** Deterministic stand-in for randomSecret: "random-1", "random-2", ... */
export function counterRandom(): (bytes: number) => string {
  let n = 0;
  return () => `random-${++n}`;
}

export function find<T extends KubernetesObject>(objects: readonly KubernetesObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
  return found as T;
}

export function decode(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}
