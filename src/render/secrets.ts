// Credential Secrets and the environment that wires them into the app.
//
// Passwords are generated once: the renderer is given the values of the Secrets
// that already exist and keeps every password it finds, so a re-render never
// changes one (the databases were initialised with it). Everything derived from a
// password, such as the connection URLs, is recomputed from the kept value.
import { randomBytes } from 'node:crypto';
import type { KubernetesObject, V1EnvVar, V1Secret } from '@kubernetes/client-node';
import type { BackendApp, DatabaseKind, DeletionPolicy } from '../api/v1alpha1.js';
import { CREDENTIALS_LABEL, DELETION_POLICY_LABEL, VOLUME_LABEL, credentialsSecretName, objectMeta } from './labels.js';

export interface RenderInputs {
  /** Decoded data of the Secrets that exist now, by Secret name. */
  existingSecrets: Record<string, Record<string, string>>;
  /** Random string from `bytes` random bytes; must be URL-safe. Defaults to base64url. */
  randomSecret?: (bytes: number) => string;
}

/** 24 random bytes: 192 bits, 32 base64url characters. */
export const PASSWORD_BYTES = 24;

/** base64url has no characters that need escaping in a URL, a shell or Flower's "user:pass". */
export function defaultRandomSecret(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** Keys of the credential Secrets; documented in the README, relied on by users. */
export const SECRET_KEYS = {
  username: 'username',
  password: 'password',
  database: 'database',
  host: 'host',
  port: 'port',
  url: 'url',
  resultBackendUrl: 'result-backend-url',
  basicAuth: 'basic-auth',
  /** Redis's own config file holding the password (requirepass), mounted into the Redis pod. */
  redisConf: 'redis.conf',
} as const;

/**
 * Whether an object must outlive its BackendApp: the credentials of a database
 * whose deletionPolicy is Retain (the retained volumes need them), and the claim
 * of an app volume under Retain. Such objects carry no owner reference, and
 * pruning must leave them alone.
 */
export function isRetained(obj: KubernetesObject): boolean {
  const l = obj.metadata?.labels ?? {};
  return (l[CREDENTIALS_LABEL] === 'true' || l[VOLUME_LABEL] !== undefined) && l[DELETION_POLICY_LABEL] === 'Retain';
}

/** The password a Secret already holds, or a new one: never changed once generated. */
export function passwordFor(secretName: string, inputs: RenderInputs): string {
  const existing = inputs.existingSecrets[secretName]?.[SECRET_KEYS.password];
  // An empty password never initialised anything (the images refuse one), so it is
  // treated as missing rather than kept.
  if (existing !== undefined && existing !== '') return existing;
  return (inputs.randomSecret ?? defaultRandomSecret)(PASSWORD_BYTES);
}

/** A credentials Secret of a component, labelled so the operator finds it; retained ones have no owner. */
export function credentialsSecret(app: BackendApp, component: DatabaseKind | 'flower', data: Record<string, string>, policy?: DeletionPolicy): V1Secret {
  const extra: Record<string, string> = { [CREDENTIALS_LABEL]: 'true' };
  if (policy) extra[DELETION_POLICY_LABEL] = policy;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: objectMeta(app, credentialsSecretName(app, component), component, {
      labels: extra,
      orphan: policy === 'Retain',
    }),
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
  };
}

/** Flower's basic auth. Owned by the app whatever the databases' policies: it guards no data. */
export function flowerCredentials(app: BackendApp, inputs: RenderInputs): V1Secret | undefined {
  const flower = app.spec.flower;
  if (!flower) return undefined;
  const password = passwordFor(credentialsSecretName(app, 'flower'), inputs);
  return credentialsSecret(app, 'flower', {
    [SECRET_KEYS.username]: flower.username,
    [SECRET_KEYS.password]: password,
    [SECRET_KEYS.basicAuth]: `${flower.username}:${password}`,
  });
}

export function secretKeyEnv(name: string, secretName: string, key: string): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}
