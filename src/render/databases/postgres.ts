// PostgreSQL: the official postgres image, DATABASE_URL for the app.
import { SECRET_KEYS, secretKeyEnv } from '../secrets.js';
import { componentName, credentialsSecretName } from '../labels.js';
import { execReadiness, passwordEnv, type DatabaseEngine } from './engine.js';

const PORT = 5432;

/**
 * Where the volume goes and where PGDATA lives. The volume must cover the path the
 * image declares as a VOLUME: containerd and CRI-O give an uncovered one a
 * container-scoped directory, so the data would live there and vanish with the
 * container. Images before 18 declare /var/lib/postgresql/data; PGDATA is a
 * directory inside it, as the image's docs advise, so the volume's lost+found stays
 * out of it. 18 and later declare /var/lib/postgresql, the parent of PGDATA. The
 * major version never changes in place, so neither does the layout.
 */
export function postgresLayout(version: string): { mountPath: string; pgdata: string } {
  const major = Number(/^[0-9]+/.exec(version)?.[0] ?? 0);
  return major >= 18
    ? { mountPath: '/var/lib/postgresql', pgdata: '/var/lib/postgresql/data' }
    : { mountPath: '/var/lib/postgresql/data', pgdata: '/var/lib/postgresql/data/pgdata' };
}

export const postgres: DatabaseEngine<'postgres'> = {
  port: PORT,
  clients: ['api', 'worker', 'beat'],
  pod(app, pg) {
    const layout = postgresLayout(pg.version);
    return {
      image: `postgres:${pg.version}`,
      mountPath: layout.mountPath,
      container: {
        env: [
          { name: 'POSTGRES_USER', value: pg.username },
          { name: 'POSTGRES_DB', value: pg.database },
          passwordEnv(app, 'postgres', 'POSTGRES_PASSWORD'),
          { name: 'PGDATA', value: layout.pgdata },
        ],
        // TCP on 127.0.0.1: the init-time server listens on the socket only, so this
        // turns ready only once the real server accepts connections.
        readinessProbe: execReadiness(['pg_isready', '-U', pg.username, '-d', pg.database, '-h', '127.0.0.1', '-p', String(PORT)]),
      },
    };
  },
  credentials(app, pg, password) {
    const host = componentName(app, 'postgres');
    return {
      [SECRET_KEYS.username]: pg.username,
      [SECRET_KEYS.password]: password,
      [SECRET_KEYS.database]: pg.database,
      [SECRET_KEYS.host]: host,
      [SECRET_KEYS.port]: String(PORT),
      // "postgresql://": SQLAlchemy 1.4+ no longer accepts "postgres://".
      [SECRET_KEYS.url]: `postgresql://${pg.username}:${password}@${host}:${PORT}/${pg.database}`,
    };
  },
  appEnv: (app) => [secretKeyEnv('DATABASE_URL', credentialsSecretName(app, 'postgres'), SECRET_KEYS.url)],
};
