// MongoDB: the official mongo image, MONGODB_URL for the app.
import { SECRET_KEYS, secretKeyEnv } from '../secrets.js';
import { componentName, credentialsSecretName } from '../labels.js';
import { execReadiness, passwordEnv, type DatabaseEngine } from './engine.js';

const PORT = 27017;

export const mongodb: DatabaseEngine<'mongodb'> = {
  port: PORT,
  clients: ['api', 'worker', 'beat'],
  pod(app, m) {
    return {
      image: `mongo:${m.version}`,
      mountPath: '/data/db',
      container: {
        env: [
          { name: 'MONGO_INITDB_ROOT_USERNAME', value: m.username },
          passwordEnv(app, 'mongodb', 'MONGO_INITDB_ROOT_PASSWORD'),
          { name: 'MONGO_INITDB_DATABASE', value: m.database },
        ],
        // ping needs no authentication. It asks the pod's own address (its hostname,
        // which the kubelet's /etc/hosts maps to the pod IP), not 127.0.0.1: during
        // first-start init the image runs a temporary mongod bound to 127.0.0.1 only,
        // without auth, which must not count as ready. mongosh is a Node.js program
        // that takes a second of CPU to start, hence the longer period and timeout.
        readinessProbe: execReadiness(
          ['sh', '-c', `exec mongosh --host "\${HOSTNAME:-$(hostname)}" --port ${PORT} --quiet --norc --eval "quit(db.adminCommand('ping').ok ? 0 : 1)"`],
          20,
          10,
        ),
      },
    };
  },
  credentials(app, m, password) {
    const host = componentName(app, 'mongodb');
    return {
      [SECRET_KEYS.username]: m.username,
      [SECRET_KEYS.password]: password,
      [SECRET_KEYS.database]: m.database,
      [SECRET_KEYS.host]: host,
      [SECRET_KEYS.port]: String(PORT),
      // The user is created in "admin" by the image's root-user setup.
      [SECRET_KEYS.url]: `mongodb://${m.username}:${password}@${host}:${PORT}/${m.database}?authSource=admin`,
    };
  },
  appEnv: (app) => [secretKeyEnv('MONGODB_URL', credentialsSecretName(app, 'mongodb'), SECRET_KEYS.url)],
};
