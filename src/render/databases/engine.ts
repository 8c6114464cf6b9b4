// What one database engine is, in one shape: its image, port, container, volumes,
// credentials and the connection settings the app gets. Each engine is one module
// beside this file; index.ts lists them by the schema's database kinds, so the
// compiler refuses a kind with no module.
import type { V1Container, V1EnvVar, V1Probe, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { AppComponent, BackendApp, Databases, DatabaseKind } from '../../api/v1alpha1.js';
import { credentialsSecretName } from '../labels.js';
import { SECRET_KEYS, secretKeyEnv } from '../secrets.js';

export type DatabaseSpec<K extends DatabaseKind> = NonNullable<Databases[K]>;

/** The engine's part of the pod; the builder adds name, ports, resources, security and the data volume. */
export interface EnginePod {
  image: string;
  /** Where the data volume goes: it must cover the path the image declares as a VOLUME. */
  mountPath: string;
  container: Omit<V1Container, 'name' | 'image'>;
  /** Mounts besides the data volume, and the pod volumes they need. */
  mounts?: V1VolumeMount[];
  volumes?: V1Volume[];
}

export interface DatabaseEngine<K extends DatabaseKind> {
  port: number;
  /** App components that connect to it: its NetworkPolicy admits exactly these. */
  clients: readonly AppComponent[];
  pod(app: BackendApp, spec: DatabaseSpec<K>): EnginePod;
  /** The credentials Secret's data, every value derived from the kept or new password. */
  credentials(app: BackendApp, spec: DatabaseSpec<K>, password: string): Record<string, string>;
  /** Environment of the app's containers, from the credentials Secret. */
  appEnv(app: BackendApp): V1EnvVar[];
}

/** The database's password from its credentials Secret, as an environment variable. */
export function passwordEnv(app: BackendApp, db: DatabaseKind, name: string): V1EnvVar {
  return secretKeyEnv(name, credentialsSecretName(app, db), SECRET_KEYS.password);
}

/** Readiness by exec: the database's own client asks it, so "ready" means it answers queries. */
export function execReadiness(command: string[], periodSeconds = 10, timeoutSeconds = 5): V1Probe {
  return { exec: { command }, periodSeconds, timeoutSeconds, failureThreshold: 3 };
}
