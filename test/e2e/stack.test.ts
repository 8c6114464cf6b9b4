// The sample stack run for real on the local control plane's real node: containerd
// runs the images built on this machine (hack/images/), the kubelet runs the probes
// the operator rendered, kube-proxy and CoreDNS carry the connection URLs. Everything
// the simulated nodes take on trust is exercised here: entrypoints, environment,
// volumes, probes, Celery's queues, credentials, and what status says when pods fail.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apply, condition, finwise, getJSON, secretData, waitReady, type AppObject, type Manifest } from '../support/apps.js';
import { kubectl, kubectlOk, useNamespace, waitFor } from '../support/cluster.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';
import { REAL_NODE, REAL_NODE_ANNOTATIONS, RESTRICTED, http, serviceURL } from '../support/realnode.js';

const ns = useNamespace('e2e', RESTRICTED, REAL_NODE_ANNOTATIONS);
let operator: OperatorProcess;

beforeAll(async () => {
  operator = await startOperator({ namespaces: [ns.name], logLevel: 'info' });
});

afterAll(async () => {
  await operator?.stop();
});

// Real pods fail in ways worth reading: on a failed test, print what the cluster saw.
afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail') return;
  const out = async (args: string[]) => {
    const r = await kubectl(args);
    return r.stdout + r.stderr;
  };
  console.log(`[e2e] pods:\n${await out(['get', 'pods', '-n', ns.name, '-o', 'wide'])}`);
  console.log(`[e2e] endpoints:\n${await out(['get', 'endpointslices', '-n', ns.name])}`);
  console.log(`[e2e] events:\n${await out(['get', 'events', '-n', ns.name, '--sort-by=.lastTimestamp'])}`);
  for (const c of ['api', 'worker', 'postgres']) {
    console.log(`[e2e] ${c} logs:\n${await out(['logs', '-n', ns.name, '-l', `app.kubernetes.io/component=${c}`, '--tail=30', '--prefix'])}`);
  }
});

/**
 * config/samples/finwise.yaml as it is, less MongoDB: no Debian package or registry
 * this machine reaches ships mongod, so no MongoDB image can be built here (its
 * rendering and probe are covered by unit tests). The fixture app's readiness needs
 * its table, which only its migration creates (`python3 -m app.migrate`): the api
 * can become Ready only after the operator's migration Job ran.
 */
function sample(): Manifest {
  const m = finwise(ns.name);
  const databases = { ...(m.spec.databases as Record<string, unknown>) };
  delete databases.mongodb;
  return { ...m, spec: { ...m.spec, databases, migrations: { command: ['python3', '-m', 'app.migrate'], timeoutSeconds: 300 } } };
}

const figures: Record<string, string> = {};
const note = (k: string, v: string) => {
  figures[k] = v;
  console.log(`[e2e] ${k}: ${v}`);
};
afterAll(() => console.log(`[e2e] figures ${JSON.stringify(figures)}`));

async function api(path: string, init: RequestInit = {}) {
  return http(`${await serviceURL(ns.name, 'finwise-api', 8000)}${path}`, init);
}

async function rows(value: string): Promise<unknown[]> {
  const res = await api(`/items?value=${encodeURIComponent(value)}`);
  if (res.status !== 200) throw new Error(`GET /items: ${res.status} ${res.body}`);
  return JSON.parse(res.body) as unknown[];
}

/** Enqueues a task through the api and waits for the worker's row to come back through the api. */
async function writeThroughWorker(value: string, timeoutMs = 60_000): Promise<void> {
  const res = await api(`/items?value=${encodeURIComponent(value)}`, { method: 'POST' });
  expect(res.status, res.body).toBe(200);
  await waitFor(`the worker's row "${value}"`, async () => (await rows(value)).length === 1, timeoutMs, 500);
}

describe('the sample on the real node', () => {
  it('becomes Ready by its real probes, every pod on the real node', async () => {
    const started = Date.now();
    await apply(sample());
    const app = (await waitReady(ns.name, 'finwise', 420_000)) as AppObject & { status?: { release?: { migration?: { job: string; phase: string } } } };
    note('apply → Ready (s)', ((Date.now() - started) / 1000).toFixed(1));
    expect(app.status?.components).toMatchObject({ api: { ready: 3, desired: 3 }, worker: { ready: 2, desired: 2 }, beat: { ready: 1 }, flower: { ready: 1 } });
    const pods = JSON.parse(await kubectlOk(['get', 'pods', '-n', ns.name, '-o', 'json'])) as {
      items: {
        metadata: { name: string; labels?: Record<string, string> };
        spec: { nodeName: string };
        status: { phase: string; containerStatuses?: { ready: boolean; started?: boolean }[] };
      }[];
    };
    const migration = pods.items.filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'migrate');
    const serving = pods.items.filter((p) => !migration.includes(p));
    expect(serving.length).toBe(3 + 2 + 1 + 1 + 2);
    for (const p of serving) {
      expect(p.spec.nodeName, p.metadata.name).toBe(REAL_NODE);
      expect(
        p.status.containerStatuses?.every((c) => c.ready),
        p.metadata.name,
      ).toBe(true);
    }
    // The migration ran for real, on the real node, and before any api pod was ready.
    expect(app.status?.release?.migration?.phase).toBe('Succeeded');
    expect(migration.map((p) => [p.spec.nodeName, p.status.phase])).toEqual([[REAL_NODE, 'Succeeded']]);
    const job = JSON.parse(await kubectlOk(['get', 'job', app.status?.release?.migration?.job ?? '', '-n', ns.name, '-o', 'json'])) as {
      status: { completionTime: string };
    };
    const apiPods = JSON.parse(await kubectlOk(['get', 'pods', '-n', ns.name, '-l', 'app.kubernetes.io/component=api', '-o', 'json'])) as {
      items: { metadata: { creationTimestamp: string } }[];
    };
    for (const p of apiPods.items)
      expect(Date.parse(p.metadata.creationTimestamp)).toBeGreaterThanOrEqual(Math.floor(Date.parse(job.status.completionTime) / 1000) * 1000);
    const log = await kubectlOk(['logs', '-n', ns.name, `job/${app.status?.release?.migration?.job}`]);
    expect(log).toContain('migrate: table items is ready');
    note('migration Job', app.status?.release?.migration?.job ?? '');
  });

  it('runs a task the api enqueues on the worker, and the api reads its row back', async () => {
    const started = Date.now();
    await writeThroughWorker(`e2e-${started}`);
    note('POST → row readable (s)', ((Date.now() - started) / 1000).toFixed(1));
  });

  it("runs beat's periodic task", async () => {
    const count = async () => Number(JSON.parse((await api('/items/count?source=beat')).body).count);
    const before = await count();
    await waitFor('beat to insert two more rows', async () => (await count()) >= before + 2, 60_000, 1_000);
  });

  it('guards Flower with basic auth from the generated Secret', async () => {
    const url = await serviceURL(ns.name, 'finwise-flower', 5555);
    expect((await http(`${url}/`)).status).toBe(401);
    const data = await secretData(ns.name, 'finwise-flower-credentials');
    const basic = Buffer.from(data?.['basic-auth'] ?? '', 'base64').toString('base64');
    expect((await http(`${url}/`, { headers: { authorization: `Basic ${basic}` } })).status).toBe(200);
    expect((await http(`${url}/`, { headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` } })).status).toBe(401);
  });

  it('loses no row when the PostgreSQL pod is deleted', async () => {
    const value = `before-pg-restart-${Date.now()}`;
    await writeThroughWorker(value);
    const uid = (await kubectlOk(['get', 'pod', 'finwise-postgres-0', '-n', ns.name, '-o', 'jsonpath={.metadata.uid}'])).trim();
    await kubectlOk(['delete', 'pod', 'finwise-postgres-0', '-n', ns.name, '--wait=true']);
    await waitFor(
      'a new PostgreSQL pod to be ready',
      async () => {
        const pod = await getJSON<{ metadata: { uid: string }; status: { containerStatuses?: { ready: boolean }[] } }>(ns.name, 'pod/finwise-postgres-0');
        return pod && pod.metadata.uid !== uid && pod.status.containerStatuses?.[0]?.ready === true;
      },
      180_000,
      1_000,
    );
    await waitReady(ns.name, 'finwise', 180_000);
    await waitFor(`row "${value}" after the restart`, async () => (await rows(value)).length === 1, 60_000, 1_000);
  });

  it('finds the same rows with the same password after the app is deleted under Retain and created again', async () => {
    const value = `before-delete-${Date.now()}`;
    await writeThroughWorker(value);
    const password = (await secretData(ns.name, 'finwise-postgres-credentials'))?.password;
    expect(password).toBeTruthy();
    await kubectlOk(['delete', 'bapp', 'finwise', '-n', ns.name, '--wait=true'], { timeoutMs: 180_000 });
    // The new StatefulSet's pod takes the old one's name (and volume): wait for it to go.
    // Workers may take their grace period, stuck in shutdown once Redis is gone.
    await waitFor('the old PostgreSQL pod to be gone', async () => !(await getJSON(ns.name, 'pod/finwise-postgres-0')), 180_000, 1_000);
    expect((await secretData(ns.name, 'finwise-postgres-credentials'))?.password).toBe(password);
    const started = Date.now();
    await apply(sample());
    await waitReady(ns.name, 'finwise', 420_000);
    note('recreate → Ready (s)', ((Date.now() - started) / 1000).toFixed(1));
    expect((await secretData(ns.name, 'finwise-postgres-credentials'))?.password).toBe(password);
    expect(await rows(value)).toHaveLength(1);
  });
});

describe('status says why pods do not run', () => {
  /** An api-only app on the test image, its command replaced. */
  function apiOnly(name: string, api: Record<string, unknown>, spec: Record<string, unknown> = {}): Manifest {
    const image = sample().spec.image;
    return {
      apiVersion: 'backendapp.io/v1alpha1',
      kind: 'BackendApp',
      metadata: { name, namespace: ns.name },
      spec: { image, api: { port: 8000, replicas: 1, ...api }, ...spec },
    };
  }

  async function readyMessageMatching(name: string, pattern: RegExp, timeoutMs: number): Promise<string> {
    return waitFor(
      `bapp/${name} Ready=False matching ${pattern}`,
      async () => {
        const app = await getJSON<AppObject & { status?: { components?: Record<string, { message?: string }> } }>(ns.name, `bapp/${name}`);
        const ready = condition(app, 'Ready');
        if (ready?.status === 'False' && pattern.test(ready.message) && pattern.test(app?.status?.components?.api?.message ?? '')) return ready.message;
        throw new Error(JSON.stringify(app?.status));
      },
      timeoutMs,
      1_000,
    );
  }

  it('shows CrashLoopBackOff, with the exit code and the last line the container wrote, within a minute', async () => {
    const started = Date.now();
    await apply(apiOnly('crashes', { command: ['python3', '-c', 'import sys; sys.stderr.write("cannot start: no config\\n"); sys.exit(3)'] }));
    const message = await readyMessageMatching('crashes', /CrashLoopBackOff: container api exited with code 3/, 60_000);
    note('exit → CrashLoopBackOff in status (s)', ((Date.now() - started) / 1000).toFixed(1));
    expect(message).toMatch(/^Waiting for api 0\/1/);
  });

  it('shows CreateContainerConfigError naming a missing envFrom Secret', async () => {
    await apply(apiOnly('missing-secret', { command: ['python3', '-m', 'http.server', '8000'] }, { envFrom: [{ secretRef: { name: 'not-created' } }] }));
    await readyMessageMatching('missing-secret', /CreateContainerConfigError: secret "not-created" not found/, 90_000);
  });

  afterAll(async () => {
    await kubectl(['delete', 'bapp', 'crashes', 'missing-secret', '-n', ns.name, '--wait=false']);
  });
});

describe('an app volume on the real node', () => {
  // The api is Python's own file server over the volume: it records each start in
  // boots.txt, so the file tells whether a new pod found the old pod's data.
  const serveVolume = [
    'python3',
    '-c',
    [
      'import os, socket, http.server, functools',
      "os.makedirs('/app/data/health', exist_ok=True)",
      "[open(f'/app/data/health/{f}', 'w').write('ok') for f in ('index.html', 'ready', 'live')]",
      "open('/app/data/boots.txt', 'a').write(socket.gethostname() + '\\n')",
      "http.server.ThreadingHTTPServer(('', 8000), functools.partial(http.server.SimpleHTTPRequestHandler, directory='/app/data')).serve_forever()",
    ].join('\n'),
  ];
  const manifest = (): Manifest => ({
    apiVersion: 'backendapp.io/v1alpha1',
    kind: 'BackendApp',
    metadata: { name: 'files', namespace: ns.name },
    spec: {
      image: sample().spec.image,
      volumes: [{ name: 'data', mountPath: '/app/data', persistentVolumeClaim: { size: '1Gi' } }],
      api: { port: 8000, replicas: 1, command: serveVolume, volumes: ['data'] },
    },
  });
  const boots = async () => {
    const res = await http(`${await serviceURL(ns.name, 'files-api', 8000)}/boots.txt`);
    if (res.status !== 200) throw new Error(`GET /boots.txt: ${res.status} ${res.body}`);
    return res.body.split('\n').filter(Boolean);
  };

  it('writes to /app/data and keeps its file across a pod deletion', async () => {
    await apply(manifest());
    await waitReady(ns.name, 'files', 180_000);
    const first = await waitFor('boots.txt with one start', async () => ((await boots()).length === 1 ? boots() : undefined), 60_000, 1_000);
    const pod = (await kubectlOk(['get', 'pods', '-n', ns.name, '-l', 'app.kubernetes.io/instance=files', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    expect(first).toEqual([pod]);
    await kubectlOk(['delete', 'pod', pod, '-n', ns.name, '--wait=true']);
    const both = await waitFor(
      'boots.txt with a second start',
      async () => ((await boots().catch(() => [])).length === 2 ? boots() : undefined),
      180_000,
      1_000,
    );
    expect(both[0]).toBe(pod);
    expect(both[1]).not.toBe(pod);
    note('app volume: pod deleted → file read back by the new pod', 'ok');
  });

  afterAll(async () => {
    await kubectl(['delete', 'bapp', 'files', '-n', ns.name, '--wait=false']);
  });
});
