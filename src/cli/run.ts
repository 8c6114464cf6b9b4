// `backendapp-operator run`: the operator. Flags follow kubebuilder's main.go
// (--leader-elect, --metrics-bind-address, --health-probe-bind-address), and each
// has an environment variable for container images that prefer env over args.
import { parseArgs } from 'node:util';
import { createOperator, type OperatorOptions } from '../operator.js';
import { errorMessage, isLogLevel, setupSignalHandler } from '../runtime/index.js';
import { UsageError, type Command } from './command.js';

export const run: Command = {
  summary: 'Run the operator against the cluster in the kubeconfig (or in-cluster)',
  usage: `Usage: backendapp-operator run [flags]

Flags (environment variable in brackets):
  --kubeconfig FILE                 kubeconfig to use; default: $KUBECONFIG, ~/.kube/config, in-cluster [KUBECONFIG]
  --namespaces NS[,NS]              watch only these namespaces; default: all [WATCH_NAMESPACES]
  --max-concurrent-reconciles N     BackendApps reconciled in parallel (default 4) [MAX_CONCURRENT_RECONCILES]
  --leader-elect                    elect a leader on a Lease so replicas are safe (default false) [LEADER_ELECT]
  --leader-election-namespace NS    namespace of the Lease (default: $POD_NAMESPACE or "default") [POD_NAMESPACE]
  --leader-election-id NAME         name of the Lease (default backendapp-operator.backendapp.io)
  --metrics-bind-address ADDR       /metrics listener, "0" to disable (default :8080) [METRICS_BIND_ADDRESS]
  --health-probe-bind-address ADDR  /healthz and /readyz listener (default :8081) [HEALTH_PROBE_BIND_ADDRESS]
  --log-level LEVEL                 trace, debug, info, warn, error (default info) [LOG_LEVEL]

Stops gracefully on SIGTERM or SIGINT: takes no new work, finishes what is in
flight, releases the Lease. A leader that cannot renew its Lease in time stops
reconciling and campaigns again; it exits non-zero only if a reconcile in flight
does not stop within 30 s.`,
  async run(args) {
    const env = process.env;
    const { values } = parseArgs({
      // Go-style `--leader-elect=false` as well as `--leader-elect` / `--no-leader-elect`.
      args: args.map((a) => {
        const m = /^--leader-elect=(.*)$/.exec(a);
        return m ? (parseBool(m[1] ?? '', '--leader-elect') ? '--leader-elect' : '--no-leader-elect') : a;
      }),
      options: {
        kubeconfig: { type: 'string', default: env.KUBECONFIG ?? '' },
        namespaces: { type: 'string', default: env.WATCH_NAMESPACES ?? '' },
        'max-concurrent-reconciles': { type: 'string', default: env.MAX_CONCURRENT_RECONCILES ?? '4' },
        'leader-elect': { type: 'boolean', default: parseBool(env.LEADER_ELECT ?? 'false', 'LEADER_ELECT') },
        'leader-election-namespace': { type: 'string', default: env.POD_NAMESPACE ?? 'default' },
        'leader-election-id': { type: 'string', default: 'backendapp-operator.backendapp.io' },
        'metrics-bind-address': { type: 'string', default: env.METRICS_BIND_ADDRESS ?? ':8080' },
        'health-probe-bind-address': { type: 'string', default: env.HEALTH_PROBE_BIND_ADDRESS ?? ':8081' },
        'log-level': { type: 'string', default: env.LOG_LEVEL ?? 'info' },
      },
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    });
    const concurrency = Number(values['max-concurrent-reconciles']);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new UsageError(`--max-concurrent-reconciles must be a whole number of at least 1, got "${values['max-concurrent-reconciles']}"`);
    }
    const level = values['log-level'];
    if (!isLogLevel(level)) throw new UsageError(`--log-level must be one of trace, debug, info, warn, error; got "${level}"`);
    const opts: OperatorOptions = {
      ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      namespaces: values.namespaces
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      maxConcurrentReconciles: concurrency,
      leaderElect: values['leader-elect'],
      leaderElectionNamespace: values['leader-election-namespace'],
      leaderElectionId: values['leader-election-id'],
      metricsBindAddress: values['metrics-bind-address'],
      healthProbeBindAddress: values['health-probe-bind-address'],
      logLevel: level,
    };
    const mgr = createOperator(opts);
    const signals = setupSignalHandler({ onSecondSignal: () => process.exit(1) });
    try {
      await mgr.start(signals.signal);
      return 0;
    } catch (err) {
      mgr.logger.error({ err: errorMessage(err) }, 'operator stopped on an error');
      return 1;
    } finally {
      signals.dispose();
    }
  },
};

/** `--leader-elect`, `--leader-elect=true|false`, `--no-leader-elect`. */
function parseBool(v: string, flag: string): boolean {
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new UsageError(`${flag} must be true or false, got "${v}"`);
}
