// Redis: the official redis image, the Celery broker and result backend.
import { SECRET_KEYS, secretKeyEnv } from '../secrets.js';
import { componentName, credentialsSecretName } from '../labels.js';
import { execReadiness, passwordEnv, type DatabaseEngine } from './engine.js';

const PORT = 6379;

/** Where the Redis pod finds its config file with the password, mounted from the credentials Secret. */
export const REDIS_AUTH_DIR = '/etc/redis/auth';
const AUTH_VOLUME = 'auth';

/** Redis logical databases: the broker and the app's REDIS_URL share 0, results live in 1. */
const BROKER_DB = 0;
const RESULT_DB = 1;

export const redis: DatabaseEngine<'redis'> = {
  port: PORT,
  // Flower reads the broker.
  clients: ['api', 'worker', 'beat', 'flower'],
  pod(app, r) {
    return {
      image: `redis:${r.version}`,
      mountPath: '/data',
      container: {
        // args, not command: the image's entrypoint runs (it loads the modules bundled in
        // redis 8 images and sets umask 0077), and it prepends redis-server because the
        // first argument is a .conf file. The password is in that file, from the Secret,
        // so it is in no argument (/proc/1/cmdline, ps, the runtime's config).
        // Append-only persistence so queued Celery tasks survive a restart.
        args: [`${REDIS_AUTH_DIR}/${SECRET_KEYS.redisConf}`, '--appendonly', 'yes', '--dir', '/data'],
        env: [passwordEnv(app, 'redis', 'REDISCLI_AUTH')],
        // redis-cli exits 0 even on an error reply (LOADING, NOAUTH): compare the answer.
        readinessProbe: execReadiness(['sh', '-c', `test "$(redis-cli -p ${PORT} ping)" = PONG`]),
      },
      mounts: [{ name: AUTH_VOLUME, mountPath: REDIS_AUTH_DIR, readOnly: true }],
      volumes: [
        {
          name: AUTH_VOLUME,
          // Group-readable: the pod's fsGroup is the redis user's group.
          secret: { secretName: credentialsSecretName(app, 'redis'), items: [{ key: SECRET_KEYS.redisConf, path: SECRET_KEYS.redisConf }], defaultMode: 0o440 },
        },
      ],
    };
  },
  credentials(app, _r, password) {
    const host = componentName(app, 'redis');
    // The user "default" spelled out (Redis 6+ ACLs): with an empty user redis-cli
    // sends AUTH "" <password>, which Redis refuses; redis-py and kombu accept both.
    const base = `redis://default:${password}@${host}:${PORT}`;
    return {
      [SECRET_KEYS.password]: password,
      [SECRET_KEYS.host]: host,
      [SECRET_KEYS.port]: String(PORT),
      [SECRET_KEYS.url]: `${base}/${BROKER_DB}`,
      [SECRET_KEYS.resultBackendUrl]: `${base}/${RESULT_DB}`,
      // base64url passwords need no quoting beyond the double quotes.
      [SECRET_KEYS.redisConf]: `requirepass "${password}"\n`,
    };
  },
  appEnv(app) {
    const name = credentialsSecretName(app, 'redis');
    return [
      secretKeyEnv('REDIS_URL', name, SECRET_KEYS.url),
      secretKeyEnv('CELERY_BROKER_URL', name, SECRET_KEYS.url),
      secretKeyEnv('CELERY_RESULT_BACKEND', name, SECRET_KEYS.resultBackendUrl),
    ];
  },
};
