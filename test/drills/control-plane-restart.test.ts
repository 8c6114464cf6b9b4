// Drill 3: the API server, then etcd, is stopped and started again while the
// operator runs, as in a control-plane upgrade. The operator runs as it is
// deployed (leader election on), and the outages outlast its lease renew
// deadline. It must not crash, its watches must recover in the same process,
// /readyz must say so during the outage and recover after it, and changes made
// after the restart must be reconciled within 30 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNamespace, waitFor } from '../support/cluster.js';
import type { Manifest } from '../support/apps.js';
import {
  BACKENDAPPS,
  CHILD_KINDS,
  applyManifest,
  ensureAvailablePVs,
  get,
  httpStatus,
  inParallel,
  localCluster,
  mergePatch,
  metric,
  requireLocalCluster,
  sleep,
  releaseApps,
  waitAllReady,
  whileAlive,
} from '../support/drills.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

const APPS = 5;
/** From SIGTERM to the restart command: longer than the 10 s lease renew deadline. */
const OUTAGE_MS = 15_000;
const RECONCILE_BOUND_MS = 30_000;

const ns = useNamespace('drill-restart');
let operator: OperatorProcess | undefined;

afterAll(async () => {
  await operator?.stop();
  await releaseApps(ns.name);
});

beforeAll(async () => {
  await ensureAvailablePVs(1);
});

function app(i: number, tag = '1.0.0'): Manifest {
  const spec: Record<string, unknown> = { image: `ghcr.io/acme/backend:${tag}`, api: { port: 8000, replicas: 1 } };
  if (i === 0) spec.databases = { redis: { version: '7' } };
  return { apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', metadata: { name: `app-${i}`, namespace: ns.name }, spec };
}

interface Probe {
  at: number;
  ready: number;
  healthy: number;
}

/** Polls /readyz and /healthz every 250 ms until stopped. */
function probeLoop(op: OperatorProcess): { samples: Probe[]; stop(): Promise<void> } {
  const samples: Probe[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const [ready, healthy] = await Promise.all([httpStatus(`${op.healthUrl()}/readyz`, 3_000), httpStatus(`${op.healthUrl()}/healthz`, 3_000)]);
      samples.push({ at: Date.now(), ready, healthy });
      await sleep(250);
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Patch `fn` until the API server takes it (it may still answer 5xx for a moment after a restart); returns when it did. */
async function patchUntilAccepted(fn: () => Promise<unknown>): Promise<number> {
  return waitFor(
    'the API server to accept a change',
    async () => {
      await fn();
      return Date.now();
    },
    60_000,
    250,
  );
}

describe('drill 3: API server and etcd restarts', () => {
  beforeAll(() => requireLocalCluster('drill 3'));

  it('the operator survives both, /readyz follows the outage, and changes after each restart are reconciled within 30 s', async () => {
    const deployments = CHILD_KINDS['apps/v1/Deployment'];
    if (!deployments) throw new Error('no Deployment kind');
    await inParallel(
      Array.from({ length: APPS }, (_, i) => app(i)),
      APPS,
      (m) => applyManifest(m),
    );
    operator = await startOperator({ namespaces: [ns.name], leaderElect: true, leaderElectionNamespace: ns.name, logLevel: 'info' });
    const pid = operator.proc.pid;
    await waitAllReady(ns.name, APPS, 180_000);
    await waitFor('/readyz 200', async () => (await httpStatus(`${operator?.healthUrl()}/readyz`)) === 200, 30_000);
    const restartsBefore = await metric(operator, 'backendapp_informer_restarts_total');
    const figures: string[] = [];

    for (const [component, tag] of [
      ['kube-apiserver', '2.0.0'],
      ['etcd', '3.0.0'],
    ] as const) {
      const op = operator;
      const probes = probeLoop(op);
      const down = Date.now();
      try {
        await localCluster(['stop', component]);
        await sleep(Math.max(0, down + OUTAGE_MS - Date.now()));
      } finally {
        // Whatever happened, the next drill needs a whole control plane.
        await localCluster(['start', component]);
      }
      const up = Date.now();
      // A change to every app, made as soon as the API server takes writes again.
      const changed = await patchUntilAccepted(async () => {
        await inParallel(
          Array.from({ length: APPS }, (_, i) => i),
          APPS,
          (i) => mergePatch(BACKENDAPPS, ns.name, `app-${i}`, { spec: { image: `ghcr.io/acme/backend:${tag}` } }),
        );
      });
      // Reconciled: every Deployment carries the change and every status reports
      // the new generation. Ready also needs the controller-manager and kwok, which
      // lost the API server as well, to roll the pods: waited for once, at the end.
      const reconciled = await whileAlive(
        op,
        waitFor(
          `every app's children on ${tag} and its status at the new generation`,
          async () => {
            for (let i = 0; i < APPS; i++) {
              const d = await get(deployments, ns.name, `app-${i}-api`);
              const a = await get(BACKENDAPPS, ns.name, `app-${i}`);
              if (d?.spec?.template?.spec?.containers?.[0]?.image !== `ghcr.io/acme/backend:${tag}`) return undefined;
              if (!a || a.status?.observedGeneration !== a.metadata.generation) return undefined;
            }
            return Date.now();
          },
          120_000,
          250,
        ),
      );
      await waitFor('/readyz 200 again', async () => probes.samples.some((s) => s.at > up && s.ready === 200), 60_000);
      await sleep(1_000);
      await probes.stop();

      // The same process throughout, alive and healthy.
      expect(op.proc.exitCode, op.lines.slice(-20).join('\n')).toBeNull();
      expect(op.proc.pid).toBe(pid);
      expect(await httpStatus(`${op.healthUrl()}/healthz`)).toBe(200);
      expect(probes.samples.filter((s) => s.healthy !== 200).length).toBe(0);
      // /readyz: 200 before, failing during the outage, 200 again after.
      const notReady = probes.samples.filter((s) => s.ready !== 200 && s.at > down && s.at < up);
      expect(notReady.length, `/readyz never failed during the ${component} outage`).toBeGreaterThan(0);
      const firstNotReady = notReady[0]?.at ?? down;
      const readyAgain = probes.samples.find((s) => s.at > up && s.ready === 200)?.at ?? Infinity;
      const reconcileMs = reconciled - changed;
      expect(reconcileMs).toBeLessThan(RECONCILE_BOUND_MS);
      figures.push(
        `${component}: down ${up - down} ms (stop to serving again), /readyz failing ${firstNotReady - down} ms after the stop and 200 again ${readyAgain - up} ms after the restart; change made ${changed - up} ms after the restart, reconciled in ${reconcileMs} ms`,
      );
    }

    // Ready needs the controller-manager, scheduler and kwok too, which lost the API
    // server as well and come back on their own backoff.
    const lastChange = Date.now();
    await whileAlive(operator, waitAllReady(ns.name, APPS, 240_000));
    figures.push(`every app Ready ${Date.now() - lastChange} ms after the last check`);
    const restarts = (await metric(operator, 'backendapp_informer_restarts_total')) - restartsBefore;
    expect(restarts, 'the watches recovered by restarting inside the process').toBeGreaterThan(0);
    const lost = operator.lines.filter((l) => l.includes('leadership lost')).length;
    console.log(`drill 3: ${figures.join('; ')}; ${restarts} watch restarts, leadership lost ${lost} times and regained, 0 operator restarts (pid ${pid})`);
  });
});
