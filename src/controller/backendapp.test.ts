// The reconciler's decisions with in-memory caches and a recording writer: what it
// writes, and above all what it does not.
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { BackendAppStatus } from '../api/v1alpha1.js';
import { createLogger } from '../runtime/logger.js';
import type { EventRecorder } from '../runtime/events.js';
import { kindKey as key } from '../kinds.js';
import { BackendAppReconciler, FINALIZER, describeObjects, isControlledBy } from './backendapp.js';
import type { ChildCaches, Writer } from './cluster.js';

const NS = 'shop';

function app(spec: Record<string, unknown>, extra: Partial<KubernetesObject['metadata']> = {}): KubernetesObject & { spec: unknown } {
  return {
    apiVersion: 'backendapp.io/v1alpha1',
    kind: 'BackendApp',
    metadata: { name: 'web', namespace: NS, uid: 'uid-1', generation: 1, resourceVersion: '10', finalizers: [FINALIZER], ...extra },
    spec,
  };
}

const SPEC = {
  image: 'ghcr.io/acme/backend:1.0.0',
  api: { port: 8000, replicas: 2 },
  databases: { postgres: { version: '15', storage: { size: '1Gi' } } },
};

/** `obj` with the list at a JSON pointer (no escapes) replaced, as a JSON patch would. */
function withList(obj: KubernetesObject, list: { path: string; value: unknown[] }): KubernetesObject {
  const copy = structuredClone(obj) as Record<string, unknown>;
  const keys = list.path.split('/').slice(1);
  const last = keys.pop() ?? '';
  const parent = keys.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, copy);
  parent[last] = list.value;
  return copy as KubernetesObject;
}

/**
 * Caches that hold whatever the writer applied, like informers after their watch
 * events. `unwatched` objects exist on the API server but not (yet) in the caches.
 */
function world(
  opts: {
    refuse?: (obj: KubernetesObject) => Error | undefined;
    /** Holds an apply until the promise settles, as a slow API server would. */
    hold?: (obj: KubernetesObject) => Promise<void> | undefined;
    unwatched?: KubernetesObject[];
    pods?: KubernetesObject[];
    /** What the API server returns for an apply, e.g. with list items another manager owns. */
    answer?: (obj: KubernetesObject) => KubernetesObject;
    /** Refuses every status write with this error. */
    statusError?: Error;
    /** Objects (by name) that a create finds existing but a get then cannot find: deleted in between. */
    vanished?: string[];
  } = {},
) {
  const store = new Map<string, Map<string, KubernetesObject>>();
  const unwatched = new Map((opts.unwatched ?? []).map((o) => [`${key(o)} ${o.metadata?.name}`, o]));
  const writes: string[] = [];
  let status: BackendAppStatus | undefined;
  const events: string[] = [];
  const put = (obj: KubernetesObject) => {
    const k = key(obj);
    if (!store.has(k)) store.set(k, new Map());
    store.get(k)!.set(`${obj.metadata?.namespace}/${obj.metadata?.name}`, obj);
  };
  const children: ChildCaches = {
    kinds: () => [...store.keys()],
    get: (k, ns, name) => store.get(k)?.get(`${ns}/${name}`),
    list: (k, ns) => [...(store.get(k)?.values() ?? [])].filter((o) => o.metadata?.namespace === ns),
    observe: (_k, obj) => put(obj),
  };
  const writer: Writer = {
    get: async (obj) =>
      opts.vanished?.includes(obj.metadata?.name ?? '')
        ? undefined
        : (children.get(key(obj), obj.metadata?.namespace ?? '', obj.metadata?.name ?? '') ?? unwatched.get(`${key(obj)} ${obj.metadata?.name}`)),
    create: async (obj) => {
      // A create of an object that exists is a request too: the API server answers 409.
      if (opts.vanished?.includes(obj.metadata?.name ?? '') || (await writer.get(obj))) {
        writes.push(`exists ${obj.kind}/${obj.metadata?.name}`);
        return undefined;
      }
      writes.push(`create ${obj.kind}/${obj.metadata?.name}`);
      return { ...obj, metadata: { ...obj.metadata, uid: `u-${obj.metadata?.name}`, resourceVersion: '1' } };
    },
    list: async (k, ns, selector) =>
      children.list(k, ns).filter((o) =>
        selector.split(',').every((term) => {
          const [l, v] = term.split('=');
          return o.metadata?.labels?.[l ?? ''] === v;
        }),
      ),
    apply: async (obj) => {
      const refused = opts.refuse?.(obj);
      if (refused) throw refused;
      await opts.hold?.(obj);
      writes.push(`apply ${obj.kind}/${obj.metadata?.name}`);
      const applied = { ...obj, metadata: { ...obj.metadata, uid: `u-${obj.metadata?.name}`, resourceVersion: '1' } };
      return opts.answer ? opts.answer(applied) : applied;
    },
    replaceLists: async (obj, lists) => {
      writes.push(`replaceLists ${obj.kind}/${obj.metadata?.name} ${lists.map((l) => l.path).join(',')}`);
      return lists.reduce(withList, obj);
    },
    delete: async (obj) => {
      writes.push(`delete ${obj.kind}/${obj.metadata?.name}`);
      store.get(key(obj))?.delete(`${obj.metadata?.namespace}/${obj.metadata?.name}`);
    },
    replaceStatus: async (_app, s) => {
      if (opts.statusError) throw opts.statusError;
      writes.push('status');
      status = s;
    },
    addFinalizer: async () => void writes.push('addFinalizer'),
    removeFinalizer: async () => void writes.push('removeFinalizer'),
    removeOwner: async (obj) => void writes.push(`removeOwner ${obj.kind}/${obj.metadata?.name}`),
  };
  const recorder: EventRecorder = { event: (_o, type, reason, note) => void events.push(`${type} ${reason}: ${note}`) };
  const logs: { level: string; msg: string; [k: string]: unknown }[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
  let current: KubernetesObject | undefined;
  const reconciler = new BackendAppReconciler({
    apps: {
      get: (ns, name) =>
        current && current.metadata?.namespace === ns && current.metadata.name === name ? ({ ...current, status } as KubernetesObject) : undefined,
    },
    children,
    pods: { list: (ns) => (opts.pods ?? []).filter((p) => p.metadata?.namespace === ns) },
    writer,
    events: recorder,
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
  return {
    writes,
    events,
    logs,
    reconciler,
    children,
    put,
    status: () => status,
    /** Removes a child from the caches, as its watch event would after a deletion by hand. */
    drop: (k: string, name: string) => store.get(k)?.delete(`${NS}/${name}`),
    setApp: (a: KubernetesObject) => (current = a),
    /** The app deleted and gone from the cache. */
    removeApp: () => (current = undefined),
    reconcile: (signal = new AbortController().signal) => reconciler.reconcile({ namespace: NS, name: 'web' }, { log, signal, reconcileID: 'test' }),
  };
}

type World = ReturnType<typeof world>;

/** A world where `first` has been reconciled once, with what that wrote, recorded and logged forgotten. */
async function settled(first: KubernetesObject): Promise<World> {
  const w = world();
  w.setApp(first);
  await w.reconcile();
  w.writes.length = 0;
  w.events.length = 0;
  w.logs.length = 0;
  return w;
}

/** A condition of the status the reconciler last wrote. */
function condition(w: World, type: string) {
  return w.status()?.conditions?.find((c) => c.type === type);
}

/** Sets a cached child's status, as its controller (and then its watch event) would. */
function setStatus(w: World, k: string, name: string, status: unknown): void {
  const live = w.children.get(k, NS, name);
  if (!live) throw new Error(`${k} ${name} not in the cache`);
  w.put({ ...live, status } as KubernetesObject);
}

describe('BackendAppReconciler', () => {
  it('applies every child once, then sends nothing when nothing changed', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    const first = w.writes.filter((x) => x.startsWith('apply') || x.startsWith('create'));
    expect(first.length).toBeGreaterThan(5);
    expect(first[0]).toMatch(/^create Secret\//); // credentials before the pods that read them, created once
    expect(w.writes.filter((x) => x.startsWith('apply Secret/'))).toEqual([]); // no second write of what was just created
    expect(w.writes).toContain('status');
    w.writes.length = 0;
    await w.reconcile();
    expect(w.writes).toEqual([]);
  });

  it('applies NetworkPolicies after Secrets and before any workload; a refused one stops the rest', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    // Credentials are created, the rest applied: both are writes that order matters for.
    const kinds = w.writes.filter((x) => x.startsWith('apply') || x.startsWith('create')).map((x) => x.split(' ')[1]!.split('/')[0]);
    const firstOther = kinds.findIndex((k) => k !== 'Secret' && k !== 'NetworkPolicy');
    expect(kinds.lastIndexOf('Secret')).toBeGreaterThanOrEqual(0);
    expect(kinds.indexOf('NetworkPolicy')).toBeGreaterThan(kinds.lastIndexOf('Secret'));
    expect(kinds.lastIndexOf('NetworkPolicy')).toBeLessThan(firstOther);

    // RBAC refuses the policy: the database must not run without it.
    const forbidden = Object.assign(new Error('networkpolicies.networking.k8s.io "web-postgres" is forbidden'), { code: 403 });
    const r = world({ refuse: (o) => (o.kind === 'NetworkPolicy' ? forbidden : undefined) });
    r.setApp(app(SPEC));
    await expect(r.reconcile()).rejects.toThrow(/forbidden/);
    expect(r.writes.filter((x) => x.startsWith('apply') && !x.startsWith('apply Secret/'))).toEqual([]);
    expect(r.status()?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Forbidden' });
  });

  it('writes databases and workloads in one batch when no job stands between them', async () => {
    let release = () => {};
    const slowStatefulSet = new Promise<void>((resolve) => (release = resolve));
    const w = world({ hold: (o) => (o.kind === 'StatefulSet' ? slowStatefulSet : undefined) });
    w.setApp(app(SPEC));
    const reconciling = w.reconcile();
    // The api's Deployment is written while the database's StatefulSet is still in flight.
    await expect.poll(() => w.writes).toContain('apply Deployment/web-api');
    expect(w.writes).not.toContain('apply StatefulSet/web-postgres');
    release();
    await reconciling;
    expect(w.writes).toContain('apply StatefulSet/web-postgres');
  });

  it('stops before its next step once the runtime aborts it (shutdown, leadership lost)', async () => {
    const w = world();
    w.setApp(app(SPEC));
    const aborted = AbortSignal.abort(new Error('controller shutting down'));
    await expect(w.reconcile(aborted)).rejects.toThrow(/shutting down/);
    expect(w.writes.filter((x) => x.startsWith('apply'))).toEqual([]);
    // Carried on by the next run, which starts from the caches.
    await w.reconcile();
    expect(w.writes.filter((x) => x.startsWith('apply Deployment/'))).toEqual(['apply Deployment/web-api']);
  });

  it("reports why a component's pods do not run, from this app's pods only", async () => {
    const waitingPod = (name: string, app: string, message: string): KubernetesObject =>
      ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/instance': app, 'app.kubernetes.io/component': 'api' } },
        status: {
          containerStatuses: [
            { name: 'api', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message } } },
          ],
        },
      }) as KubernetesObject;
    const w = world({ pods: [waitingPod('web-api-1', 'web', 'secret "keys" not found'), waitingPod('other-api-1', 'other', 'secret "theirs" not found')] });
    w.setApp(app(SPEC));
    await w.reconcile();
    expect(w.status()?.components?.api).toEqual({ ready: 0, desired: 2, message: 'CreateContainerConfigError: secret "keys" not found' });
    expect(w.status()?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      'api 0/2 (rolling out): CreateContainerConfigError: secret "keys" not found',
    );
    expect(JSON.stringify(w.status())).not.toContain('theirs');
  });

  it('adds its finalizer to an app that lacks it', async () => {
    const w = world();
    w.setApp(app(SPEC, { finalizers: [] }));
    await w.reconcile();
    expect(w.writes[0]).toBe('addFinalizer');
  });

  it('reports an invalid spec in status and a Warning, and writes nothing else', async () => {
    const w = world();
    w.setApp(app({ ...SPEC, api: { port: 70000 } }));
    await w.reconcile();
    expect(w.writes).toEqual(['status']);
    const ready = w.status()?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready?.message).toMatch(/^Invalid spec: spec\.api\.port: [^\n]+$/);
    expect(w.events.some((e) => e.startsWith('Warning InvalidSpec') && e.includes('spec.api.port'))).toBe(true);
    // The same invalid spec again: no new status write, no new event.
    w.writes.length = 0;
    w.events.length = 0;
    await w.reconcile();
    expect(w.writes).toEqual([]);
    expect(w.events).toEqual([]);
  });

  it('prunes what a component turned off left behind, never what it does not own', async () => {
    const w = world();
    w.setApp(app({ ...SPEC, worker: { app: 'app.celery' } }));
    await w.reconcile();
    expect(w.children.get('apps/v1/Deployment', NS, 'web-worker')).toBeDefined();
    w.put({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'someone-else', namespace: NS } });
    w.writes.length = 0;
    w.setApp(app(SPEC, { generation: 2 }));
    await w.reconcile();
    expect(w.writes).toContain('delete Deployment/web-worker');
    expect(w.writes.some((x) => x.includes('someone-else'))).toBe(false);
  });

  it('never prunes a volume claim, even one it owns that the spec no longer names', async () => {
    const w = await settled(app(SPEC));
    w.put({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'web-uploads',
        namespace: NS,
        ownerReferences: [{ apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', name: 'web', uid: 'uid-1', controller: true }],
      },
    });
    w.setApp(app({ ...SPEC, image: 'ghcr.io/acme/backend:1.1.0' }, { generation: 2 }));
    await w.reconcile();
    expect(w.writes).toContain('apply Deployment/web-api');
    expect(w.writes.filter((x) => x.startsWith('delete'))).toEqual([]);
  });

  it('keeps retained credentials when a database is turned off', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    const { databases: _off, ...withoutDb } = SPEC;
    w.setApp(app(withoutDb, { generation: 2 }));
    await w.reconcile();
    expect(w.writes).toContain('delete StatefulSet/web-postgres');
    expect(w.writes).not.toContain('delete Secret/web-postgres-credentials');
  });

  it('on deletion honours deletionPolicy even when the spec is invalid, then removes its finalizer', async () => {
    const w = await settled(app(SPEC));
    w.setApp(
      app(
        { ...SPEC, api: { port: 'not a port' }, databases: { postgres: { version: '15', deletionPolicy: 'Delete' }, redis: { deletionPolicy: 'Retain' } } },
        { deletionTimestamp: new Date() },
      ),
    );
    await w.reconcile();
    expect(w.writes).toContain('delete Secret/web-postgres-credentials');
    expect(w.writes.filter((x) => x.startsWith('delete'))).toEqual(['delete Secret/web-postgres-credentials']);
    expect(w.events.some((e) => e.includes('RetainedData'))).toBe(true);
    expect(w.writes[w.writes.length - 1]).toBe('removeFinalizer');
  });
});

describe('BackendAppReconciler on deletion under Retain', () => {
  // Credentials made under Delete carry the app as owner; a policy switched to Retain
  // before the deletion must take the owner off, or garbage collection takes them.
  it('takes the app off as owner of credentials it made under Delete, and deletes nothing', async () => {
    const w = world();
    const dbs = (policy: string) => ({ ...SPEC, databases: { postgres: { version: '15', deletionPolicy: policy } } });
    w.setApp(app(dbs('Delete')));
    await w.reconcile();
    const secret = w.children.get('v1/Secret', NS, 'web-postgres-credentials');
    expect(secret?.metadata?.ownerReferences?.[0]?.uid).toBe('uid-1');
    w.writes.length = 0;
    w.setApp(app(dbs('Retain'), { deletionTimestamp: new Date() }));
    await w.reconcile();
    expect(w.writes).toEqual(['removeOwner Secret/web-postgres-credentials', 'removeFinalizer']);
    expect(w.events.some((e) => e.includes('RetainedData') && e.includes('postgres (0 volume claims, 1 secrets)'))).toBe(true);
  });
});

describe('BackendAppReconciler under hand edits', () => {
  it('brings a credentials Secret deleted by hand back with the same values; a new app of that name gets new ones', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    const before = w.children.get('v1/Secret', NS, 'web-postgres-credentials') as { data?: Record<string, string> } | undefined;
    expect(before?.data?.password).toBeTruthy();
    w.drop('v1/Secret', 'web-postgres-credentials');
    w.writes.length = 0;
    await w.reconcile();
    expect(w.writes).toContain('create Secret/web-postgres-credentials');
    expect((w.children.get('v1/Secret', NS, 'web-postgres-credentials') as { data?: unknown }).data).toEqual(before?.data);
    // Another app (a new uid) that happens to have the name: it must not inherit them.
    w.drop('v1/Secret', 'web-postgres-credentials');
    w.setApp(app(SPEC, { uid: 'uid-2' }));
    await w.reconcile();
    const fresh = w.children.get('v1/Secret', NS, 'web-postgres-credentials') as { data?: Record<string, string> } | undefined;
    expect(fresh?.data?.password).toBeTruthy();
    expect(fresh?.data?.password).not.toBe(before?.data?.password);
  });

  it('keeps the values of a credentials Secret that exists but the cache has not seen yet', async () => {
    const seed = world();
    seed.setApp(app(SPEC));
    await seed.reconcile();
    const live = seed.children.get('v1/Secret', NS, 'web-postgres-credentials') as KubernetesObject & { data: Record<string, string> };
    // Another process created it; this one's watch has not delivered it.
    const w = world({ unwatched: [live] });
    w.setApp(app(SPEC));
    await w.reconcile();
    expect(w.writes.filter((x) => x.includes('Secret/web-postgres-credentials'))).toEqual([
      'exists Secret/web-postgres-credentials',
      'apply Secret/web-postgres-credentials',
    ]);
    expect((w.children.get('v1/Secret', NS, 'web-postgres-credentials') as { data?: unknown }).data).toEqual(live.data);
  });

  it('puts back a list a hand edit renumbered, when that makes its apply invalid', async () => {
    let armed = false;
    const duplicate = Object.assign(new Error('Service "web-api" is invalid: spec.ports[1].name: Duplicate value: "http"'), { code: 422 });
    const w = world({
      refuse: (o) => {
        if (!armed || o.kind !== 'Service' || o.metadata?.name !== 'web-api') return undefined;
        armed = false;
        return duplicate;
      },
    });
    w.setApp(app(SPEC));
    await w.reconcile();
    const svc = w.children.get('v1/Service', NS, 'web-api') as KubernetesObject & { spec: { ports: { port: number }[] } };
    w.put({
      ...svc,
      metadata: { ...svc.metadata, resourceVersion: '7' },
      spec: { ...svc.spec, ports: [{ ...svc.spec.ports[0], port: 31337 }] },
    } as KubernetesObject);
    armed = true;
    w.writes.length = 0;
    await w.reconcile();
    expect(w.writes.filter((x) => x.includes('Service/web-api'))).toEqual(['replaceLists Service/web-api /spec/ports', 'apply Service/web-api']);
  });
});

describe('BackendAppReconciler with spec.migrations', () => {
  const MIGRATING = { ...SPEC, worker: { app: 'app.celery' }, migrations: { command: ['alembic', 'upgrade', 'head'] } };
  const jobWrites = (w: ReturnType<typeof world>) => w.writes.filter((x) => x.includes(' Job/'));
  const workloadWrites = (w: ReturnType<typeof world>) => w.writes.filter((x) => /Deployment\/web-(api|worker)/.test(x));
  const jobName = (w: ReturnType<typeof world>) => w.children.list('batch/v1/Job', NS)[0]?.metadata?.name ?? '';
  const databasesReady = (w: ReturnType<typeof world>) => setStatus(w, 'apps/v1/StatefulSet', 'web-postgres', { readyReplicas: 1, replicas: 1 });
  /** The app applied, its databases Ready and its migration Job created. */
  const migrationStarted = async (w: ReturnType<typeof world>) => {
    w.setApp(app(MIGRATING));
    await w.reconcile();
    databasesReady(w);
    await w.reconcile();
  };

  it('on first creation, migrates once the databases are ready, and creates api and worker only after the Job succeeded', async () => {
    const w = world();
    w.setApp(app(MIGRATING));
    await w.reconcile();
    expect(w.writes).toContain('apply StatefulSet/web-postgres');
    expect(jobWrites(w)).toEqual([]);
    expect(workloadWrites(w)).toEqual([]);
    expect(w.status()?.release?.migration).toMatchObject({ phase: 'Pending', message: 'Waiting for StatefulSet web-postgres to be ready' });
    expect(condition(w, 'Progressing')).toMatchObject({ status: 'True', reason: 'Migrating' });

    databasesReady(w);
    await w.reconcile();
    expect(jobWrites(w)).toEqual([expect.stringMatching(/^create Job\/web-migrate-[0-9a-f]{10}$/)]);
    expect(workloadWrites(w)).toEqual([]);
    expect(w.status()?.release?.migration?.phase).toBe('Running');

    // The Job's own events wake the app; nothing is written again while it runs.
    w.writes.length = 0;
    await w.reconcile();
    expect(w.writes).toEqual([]);

    setStatus(w, 'batch/v1/Job', jobName(w), { conditions: [{ type: 'Complete', status: 'True' }] });
    await w.reconcile();
    expect(workloadWrites(w)).toEqual(['apply Deployment/web-api', 'apply Deployment/web-worker']);
    expect(jobWrites(w)).toEqual([]);
    expect(w.status()?.release?.migration?.phase).toBe('Succeeded');
    expect(condition(w, 'Progressing')?.reason).not.toBe('Migrating');
  });

  it('holds api and worker on their template while a new image migrates, and rolls them when it succeeds', async () => {
    const w = world();
    await migrationStarted(w);
    setStatus(w, 'batch/v1/Job', jobName(w), { conditions: [{ type: 'Complete', status: 'True' }] });
    await w.reconcile();
    const firstJob = jobName(w);

    w.writes.length = 0;
    w.setApp(app({ ...MIGRATING, image: 'ghcr.io/acme/backend:2.0.0' }, { generation: 2 }));
    await w.reconcile();
    const second = w.children.list('batch/v1/Job', NS).find((j) => j.metadata?.name !== firstJob);
    expect(jobWrites(w)).toEqual([`create Job/${second?.metadata?.name}`]);
    expect(workloadWrites(w)).toEqual([]);
    const image = (d?: KubernetesObject) =>
      (d as { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } })?.spec?.template?.spec?.containers?.[0]?.image;
    expect(image(w.children.get('apps/v1/Deployment', NS, 'web-api'))).toBe('ghcr.io/acme/backend:1.0.0');

    setStatus(w, 'batch/v1/Job', second?.metadata?.name ?? '', { conditions: [{ type: 'Complete', status: 'True' }] });
    await w.reconcile();
    expect(workloadWrites(w)).toEqual(['apply Deployment/web-api', 'apply Deployment/web-worker']);
    expect(image(w.children.get('apps/v1/Deployment', NS, 'web-api'))).toBe('ghcr.io/acme/backend:2.0.0');
  });

  it('on a failed migration keeps the workloads as they were, reports MigrationFailed with the pod’s words, and warns once', async () => {
    const revisionOf = (job: string) => job.replace('web-migrate-', '');
    const probe = world();
    await migrationStarted(probe);
    const name = jobName(probe);
    const revision = revisionOf(name);
    const failedPod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${name}-x`, namespace: NS, labels: { 'app.kubernetes.io/instance': 'web', 'backendapp.io/release': revision } },
      status: {
        containerStatuses: [
          {
            name: 'migrate',
            image: 'x',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 1, message: 'relation "items" already exists' } },
          },
        ],
      },
    } as KubernetesObject;
    const f = world({ pods: [failedPod] });
    await migrationStarted(f);
    setStatus(f, 'batch/v1/Job', jobName(f), { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] });
    await f.reconcile();
    await f.reconcile();
    expect(workloadWrites(f)).toEqual([]);
    expect(condition(f, 'Degraded')).toMatchObject({ status: 'True', reason: 'MigrationFailed' });
    expect(condition(f, 'Degraded')?.message).toContain(`Job ${jobName(f)} failed (BackoffLimitExceeded): exited with code 1: relation "items" already exists`);
    expect(f.events.filter((e) => e.startsWith('Warning MigrationFailed'))).toHaveLength(1);
    expect(f.status()?.release?.migration?.phase).toBe('Failed');
  });

  it('never runs two migrations of one app at once: a new release waits for the running one', async () => {
    const w = world();
    await migrationStarted(w);
    const first = jobName(w);
    w.writes.length = 0;
    w.setApp(app({ ...MIGRATING, image: 'ghcr.io/acme/backend:2.0.0' }, { generation: 2 }));
    await w.reconcile();
    expect(jobWrites(w)).toEqual([]);
    expect(w.status()?.release?.migration).toMatchObject({ phase: 'Pending', message: `Waiting for Job ${first} of an earlier release to finish` });
    setStatus(w, 'batch/v1/Job', first, { conditions: [{ type: 'Failed', status: 'True' }] });
    await w.reconcile();
    expect(jobWrites(w)).toHaveLength(1);
  });

  it('does not run a release again that status says succeeded, even when its Job is gone', async () => {
    const w = world();
    await migrationStarted(w);
    const name = jobName(w);
    setStatus(w, 'batch/v1/Job', name, { conditions: [{ type: 'Complete', status: 'True' }] });
    await w.reconcile();
    w.drop('batch/v1/Job', name);
    w.writes.length = 0;
    await w.reconcile();
    expect(jobWrites(w)).toEqual([]);
    expect(w.status()?.release?.migration?.phase).toBe('Succeeded');
  });

  it('follows a Job that exists but is not in the cache yet, instead of starting a second', async () => {
    const w = world();
    await migrationStarted(w);
    const name = jobName(w);
    const live = w.children.get('batch/v1/Job', NS, name) as KubernetesObject;
    w.drop('batch/v1/Job', name);
    const lagging = world({ unwatched: [live] });
    await migrationStarted(lagging);
    expect(jobWrites(lagging)).toEqual([`exists Job/${name}`]);
    expect(lagging.status()?.release?.migration?.phase).toBe('Running');
  });
});

describe('BackendAppReconciler: what the user sees', () => {
  const WORKER = { ...SPEC, worker: { app: 'app.celery' } };
  const refusing = (err: Error, kind = 'StatefulSet') => world({ refuse: (o) => (o.kind === kind ? err : undefined) });

  it('does nothing for an app that is gone: its children go by garbage collection', async () => {
    const w = world();
    await expect(w.reconcile()).resolves.toEqual({});
    expect(w.writes).toEqual([]);
    expect(w.events).toEqual([]);
  });

  it('says in one Normal event what it created, then what it updated', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    expect(w.events.filter((e) => e.startsWith('Normal Created'))).toEqual([
      'Normal Created: Created 8 objects: 1 Secret, 1 NetworkPolicy, 3 Service, 1 StatefulSet, 1 Deployment, 1 PodDisruptionBudget',
    ]);
    expect(w.events.filter((e) => e.includes('Updated'))).toEqual([]);
    w.events.length = 0;
    w.setApp(app({ ...SPEC, image: 'ghcr.io/acme/backend:1.1.0' }, { generation: 2 }));
    await w.reconcile();
    expect(w.events).toEqual(['Normal Updated: Updated Deployment web-api']);
  });

  it('says which objects it pruned, in a Normal event', async () => {
    const w = world();
    w.setApp(app(WORKER));
    await w.reconcile();
    w.events.length = 0;
    w.setApp(app(SPEC, { generation: 2 }));
    await w.reconcile();
    expect(w.events).toContain('Normal Pruned: Deleted Deployment web-worker (turned off in the spec)');
  });

  it('records a Ready event once, when the last component becomes ready', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    expect(w.events.filter((e) => e.includes('Ready'))).toEqual([]);
    const deployment = w.children.get('apps/v1/Deployment', NS, 'web-api') as KubernetesObject;
    setStatus(w, 'apps/v1/Deployment', 'web-api', { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    setStatus(w, 'apps/v1/StatefulSet', 'web-postgres', { observedGeneration: 1, replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 });
    expect(deployment.metadata?.generation).toBeUndefined();
    await w.reconcile();
    await w.reconcile();
    expect(condition(w, 'Ready')?.status).toBe('True');
    expect(w.events.filter((e) => e.includes('Ready'))).toEqual(['Normal Ready: postgres 1/1, api 2/2']);
  });

  it('counts an autoscaled component against the autoscaler’s minimum until it has acted', async () => {
    const w = world();
    w.setApp(
      app({
        ...WORKER,
        api: {
          port: 8000,
          autoscaling: { minReplicas: 3, maxReplicas: 6, targetMemoryUtilizationPercentage: 80 },
          resources: { requests: { memory: '128Mi' } },
        },
        worker: {
          app: 'app.celery',
          autoscaling: { minReplicas: 4, maxReplicas: 8, targetMemoryUtilizationPercentage: 80 },
          resources: { requests: { memory: '128Mi' } },
        },
      }),
    );
    await w.reconcile();
    expect(w.status()?.components).toMatchObject({ api: { ready: 0, desired: 3 }, worker: { ready: 0, desired: 4 }, postgres: { ready: 0, desired: 1 } });
  });

  it('reads a Deployment’s available pods and a StatefulSet’s ready ones', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    setStatus(w, 'apps/v1/Deployment', 'web-api', { replicas: 2, readyReplicas: 2, updatedReplicas: 2 });
    setStatus(w, 'apps/v1/StatefulSet', 'web-postgres', { replicas: 1, readyReplicas: 1, updatedReplicas: 1 });
    await w.reconcile();
    expect(w.status()?.components).toMatchObject({ api: { ready: 0, desired: 2 }, postgres: { ready: 1, desired: 1 } });
  });

  it('reports a rollout past its progress deadline as Degraded', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    setStatus(w, 'apps/v1/Deployment', 'web-api', {
      replicas: 2,
      updatedReplicas: 1,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-api-1" has timed out progressing.' }],
    });
    await w.reconcile();
    expect(condition(w, 'Degraded')?.status).toBe('True');
  });

  it.each([
    [
      'a namespace being deleted',
      Object.assign(new Error('namespaces "shop" is forbidden: unable to create new content in namespace shop because it is being terminated'), { code: 403 }),
      'NamespaceTerminating',
      'namespaces "shop" is forbidden: unable to create new content in namespace shop because it is being terminated',
    ],
    [
      'missing RBAC',
      Object.assign(new Error('statefulsets.apps is forbidden: User "op" cannot patch'), { code: 403 }),
      'Forbidden',
      'The operator is not allowed to do this; check its RBAC rules: statefulsets.apps is forbidden: User "op" cannot patch',
    ],
    ['any other failure', Object.assign(new Error('etcdserver: request timed out'), { code: 500 }), 'ApplyFailed', 'etcdserver: request timed out'],
  ])('names why a write failed (%s) in status and one Warning, and retries with the error', async (_case, err, reason, message) => {
    const w = refusing(err);
    w.setApp(app(SPEC));
    await expect(w.reconcile()).rejects.toBe(err);
    expect(condition(w, 'Ready')).toMatchObject({ status: 'False', reason, message: `${message} (running as before: postgres 0/1, api 0/2)` });
    expect(w.events.filter((e) => e.startsWith('Warning'))).toEqual([`Warning ${reason}: ${message}`]);
    await expect(w.reconcile()).rejects.toBe(err);
    expect(w.events.filter((e) => e.startsWith('Warning'))).toHaveLength(1);
  });

  it('reports a pod the API server refuses as InvalidSpec when a podTemplate shaped it, else as ApplyFailed', async () => {
    const invalid = Object.assign(new Error('Deployment.apps "web-api" is invalid: spec.template.spec.containers[1].image: Required value'), { code: 422 });
    const shaped = refusing(invalid, 'Deployment');
    shaped.setApp(app({ ...SPEC, api: { port: 8000, replicas: 2, podTemplate: { spec: { containers: [{ name: 'no-image' }] } } } }));
    await expect(shaped.reconcile()).rejects.toBe(invalid);
    expect(condition(shaped, 'Ready')).toMatchObject({
      reason: 'InvalidSpec',
      message: expect.stringMatching(
        /^The API server refused a pod that spec\.podTemplate shapes: Deployment\.apps "web-api" is invalid: spec\.template\.spec\.containers\[1\]\.image: Required value/,
      ),
    });
    const nested = refusing(invalid, 'StatefulSet');
    nested.setApp(app({ ...SPEC, databases: { postgres: { ...SPEC.databases.postgres, podTemplate: { metadata: { annotations: { a: 'b' } } } } } }));
    await expect(nested.reconcile()).rejects.toBe(invalid);
    expect(condition(nested, 'Ready')?.reason).toBe('InvalidSpec');
    const failing = refusing(Object.assign(new Error('etcdserver: request timed out'), { code: 500 }), 'Deployment');
    failing.setApp(app({ ...SPEC, api: { port: 8000, replicas: 2, podTemplate: { metadata: { annotations: { a: 'b' } } } } }));
    await expect(failing.reconcile()).rejects.toThrow('etcdserver');
    expect(condition(failing, 'Ready')?.reason).toBe('ApplyFailed');
    const plain = refusing(invalid, 'Deployment');
    plain.setApp(app(SPEC));
    await expect(plain.reconcile()).rejects.toBe(invalid);
    expect(condition(plain, 'Ready')?.reason).toBe('ApplyFailed');
  });

  it('warns again when the reason a write fails changes', async () => {
    let err = Object.assign(new Error('first'), { code: 500 });
    const w = world({ refuse: (o) => (o.kind === 'StatefulSet' ? err : undefined) });
    w.setApp(app(SPEC));
    await expect(w.reconcile()).rejects.toBe(err);
    err = Object.assign(new Error('second'), { code: 500 });
    await expect(w.reconcile()).rejects.toBe(err);
    expect(w.events.filter((e) => e.startsWith('Warning'))).toEqual(['Warning ApplyFailed: first', 'Warning ApplyFailed: second']);
  });

  it('when status cannot be written either, retries with the write’s own error', async () => {
    const err = Object.assign(new Error('etcdserver: request timed out'), { code: 500 });
    const w = world({ refuse: (o) => (o.kind === 'StatefulSet' ? err : undefined), statusError: new Error('status refused') });
    w.setApp(app(SPEC));
    await expect(w.reconcile()).rejects.toBe(err);
  });

  it('removes list items another field manager added, and keeps the cleaned object in its cache', async () => {
    const foreign = { name: 'istio-proxy', image: 'istio/proxyv2' };
    const w = world({
      answer: (o) => {
        if (o.kind !== 'Deployment') return o;
        const d = structuredClone(o) as KubernetesObject & { spec: { template: { spec: { containers: unknown[] } } } };
        d.spec.template.spec.containers.push(foreign);
        return d;
      },
    });
    w.setApp(app(SPEC));
    await w.reconcile();
    expect(w.writes).toContain('replaceLists Deployment/web-api /spec/template/spec/containers');
    const live = w.children.get('apps/v1/Deployment', NS, 'web-api') as { spec: { template: { spec: { containers: { name: string }[] } } } };
    expect(live.spec.template.spec.containers.map((c) => c.name)).toEqual(['api']);
  });

  it('does not prune a component turned off while a later step still waits', async () => {
    const w = await settled(app(WORKER));
    w.setApp(app({ ...SPEC, migrations: { command: ['alembic', 'upgrade', 'head'] } }, { generation: 2 }));
    await w.reconcile();
    expect(w.status()?.release?.migration?.phase).toBe('Pending');
    expect(w.writes.filter((x) => x.startsWith('delete'))).toEqual([]);
  });

  it('counts a StatefulSet as ready only with every pod it asks for ready', async () => {
    const w = world();
    w.setApp(app({ ...SPEC, migrations: { command: ['alembic', 'upgrade', 'head'] } }));
    await w.reconcile();
    const jobs = () => w.writes.filter((x) => x.includes(' Job/'));
    setStatus(w, 'apps/v1/StatefulSet', 'web-postgres', { readyReplicas: 0 });
    await w.reconcile();
    expect(jobs()).toEqual([]);
    expect(w.status()?.release?.migration?.message).toBe('Waiting for StatefulSet web-postgres to be ready');
    setStatus(w, 'apps/v1/StatefulSet', 'web-postgres', { readyReplicas: 1 });
    await w.reconcile();
    expect(jobs()).toHaveLength(1);
  });

  it('keeps the last three migration Jobs and the current one, deleting older ones, and never prunes a Job', async () => {
    const w = world();
    const spec = (n: number) => ({ ...SPEC, image: `ghcr.io/acme/backend:${n}.0.0`, migrations: { command: ['alembic', 'upgrade', 'head'] } });
    w.setApp(app(spec(1)));
    await w.reconcile();
    setStatus(w, 'apps/v1/StatefulSet', 'web-postgres', { readyReplicas: 1 });
    const names: string[] = [];
    for (let n = 1; n <= 5; n++) {
      w.setApp(app(spec(n), { generation: n }));
      await w.reconcile();
      const job = w.children.list('batch/v1/Job', NS).find((j) => !names.includes(j.metadata?.name ?? ''));
      if (!job) throw new Error(`release ${n} made no Job`);
      names.push(job.metadata?.name ?? '');
      // Distinct creation times: expiry goes by age.
      setStatus(w, 'batch/v1/Job', names[n - 1]!, { conditions: [{ type: 'Complete', status: 'True' }] });
      w.put({
        ...w.children.get('batch/v1/Job', NS, names[n - 1]!)!,
        metadata: { ...w.children.get('batch/v1/Job', NS, names[n - 1]!)!.metadata, creationTimestamp: new Date(Date.UTC(2026, 0, n)) },
      });
      await w.reconcile();
    }
    const deleted = w.writes.filter((x) => x.startsWith('delete'));
    expect(deleted).toEqual([`delete Job/${names[0]}`, `delete Job/${names[1]}`]);
    expect(
      w.children
        .list('batch/v1/Job', NS)
        .map((j) => j.metadata?.name)
        .sort(),
    ).toEqual(names.slice(2).sort());
  });
});

describe('BackendAppReconciler on deletion', () => {
  const claim = (db: string, name: string): KubernetesObject => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/instance': 'web', 'app.kubernetes.io/component': db } },
  });
  const TWO_DBS = {
    ...SPEC,
    databases: {
      postgres: { version: '15', storage: { size: '1Gi' }, deletionPolicy: 'Delete' },
      redis: { version: '7', storage: { size: '1Gi' }, deletionPolicy: 'Retain' },
    },
  };

  it('under Delete removes the claims and credentials of that database only, and says so', async () => {
    const w = world();
    w.setApp(app(TWO_DBS));
    await w.reconcile();
    w.put(claim('postgres', 'data-web-postgres-0'));
    w.put(claim('redis', 'data-web-redis-0'));
    w.put({
      ...claim('postgres', 'data-other-postgres-0'),
      metadata: {
        ...claim('postgres', 'data-other-postgres-0').metadata,
        labels: { 'app.kubernetes.io/instance': 'other', 'app.kubernetes.io/component': 'postgres' },
      },
    });
    w.writes.length = 0;
    w.events.length = 0;
    w.setApp(app(TWO_DBS, { deletionTimestamp: new Date() }));
    await w.reconcile();
    expect(w.writes.filter((x) => x.startsWith('delete'))).toEqual([
      'delete PersistentVolumeClaim/data-web-postgres-0',
      'delete Secret/web-postgres-credentials',
    ]);
    expect(w.events).toEqual([
      'Normal DeletedData: deletionPolicy Delete: removed postgres (1 volume claims, 1 secrets)',
      'Normal RetainedData: deletionPolicy Retain: kept redis (1 volume claims, 1 secrets)',
    ]);
    expect(w.writes[w.writes.length - 1]).toBe('removeFinalizer');
  });

  it('deletes an app volume’s claim under Delete and keeps one under Retain, as each claim’s label says', async () => {
    const volume = (name: string, policy: string, owned: boolean): KubernetesObject => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: `web-${name}`,
        namespace: NS,
        labels: {
          'app.kubernetes.io/instance': 'web',
          'app.kubernetes.io/component': 'volume',
          'backendapp.io/volume': name,
          'backendapp.io/deletion-policy': policy,
        },
        ...(owned ? { ownerReferences: [{ apiVersion: 'backendapp.io/v1alpha1', kind: 'BackendApp', name: 'web', uid: 'uid-1', controller: true }] } : {}),
      },
    });
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    w.put(volume('cache', 'Delete', true));
    w.put(volume('uploads', 'Retain', true));
    w.put(volume('notes', 'Retain', false));
    w.writes.length = 0;
    w.events.length = 0;
    w.setApp(app({ image: 'x:1', api: 'not valid' }, { deletionTimestamp: new Date() }));
    await w.reconcile();
    expect(w.writes).toEqual(['delete PersistentVolumeClaim/web-cache', 'removeOwner PersistentVolumeClaim/web-uploads', 'removeFinalizer']);
    expect(w.events).toEqual([
      'Normal DeletedData: deletionPolicy Delete: removed volume cache (claim web-cache)',
      'Normal RetainedData: deletionPolicy Retain: kept volume uploads (claim web-uploads), volume notes (claim web-notes)',
    ]);
  });

  it('never deletes a Secret of the database that is not its credentials', async () => {
    const w = await settled(app(TWO_DBS));
    w.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'web-postgres-tls', namespace: NS, labels: { 'app.kubernetes.io/instance': 'web', 'app.kubernetes.io/component': 'postgres' } },
    });
    w.setApp(app(TWO_DBS, { deletionTimestamp: new Date() }));
    await w.reconcile();
    expect(w.writes).not.toContain('delete Secret/web-postgres-tls');
  });

  it('skips a database the spec names as null, and treats an unreadable policy as Retain', async () => {
    const w = await settled(app(SPEC));
    w.setApp(app({ ...SPEC, databases: { postgres: 'garbage', redis: null } }, { deletionTimestamp: new Date() }));
    await w.reconcile();
    expect(w.writes.filter((x) => x.startsWith('delete'))).toEqual([]);
    expect(w.events).toEqual(['Normal RetainedData: deletionPolicy Retain: kept postgres (0 volume claims, 1 secrets)']);
  });

  it('does nothing for an app being deleted that no longer carries its finalizer', async () => {
    const w = world();
    w.setApp(app({ ...SPEC, databases: { postgres: { version: '15', deletionPolicy: 'Delete' } } }, { deletionTimestamp: new Date(), finalizers: [] }));
    await w.reconcile();
    expect(w.writes).toEqual([]);
    expect(w.events).toEqual([]);
  });
});

describe('BackendAppReconciler: requests, logs and memory', () => {
  const WORKER = { ...SPEC, worker: { app: 'app.celery', replicas: 2 } };
  const MIGRATING = { ...SPEC, migrations: { command: ['alembic', 'upgrade', 'head'] } };
  const logged = (w: ReturnType<typeof world>, msg: string) => w.logs.filter((l) => l.msg === msg);

  it('uses the finalizer name backendapp.io/finalizer', () => {
    expect(FINALIZER).toBe('backendapp.io/finalizer');
  });

  it('forgets the credentials of an app that is gone, and only of that app', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    expect(w.reconciler.credentialsHeld).toBe(1);
    const ctx = { log: createLogger({ level: 'silent' }), signal: new AbortController().signal, reconcileID: 'x' };
    await w.reconciler.reconcile({ namespace: NS, name: 'other' }, ctx);
    await w.reconciler.reconcile({ namespace: 'elsewhere', name: 'web' }, ctx);
    expect(w.reconciler.credentialsHeld).toBe(1);
    w.removeApp();
    await w.reconcile();
    expect(w.reconciler.credentialsHeld).toBe(0);
  });

  it('fails, saying so, when a credentials Secret exists but is gone again before it can be read', async () => {
    const w = world({ vanished: ['web-postgres-credentials'] });
    w.setApp(app(SPEC));
    await expect(w.reconcile()).rejects.toThrow('Secret shop/web-postgres-credentials exists but could not be read');
  });

  it('writes status at the app’s generation, and an invalid spec’s without counts', async () => {
    const w = world();
    w.setApp(app(SPEC, { generation: 7 }));
    await w.reconcile();
    expect(w.status()?.observedGeneration).toBe(7);
    expect(condition(w, 'Ready')?.observedGeneration).toBe(7);
    w.setApp(app({ ...SPEC, api: { port: 70000 } }, { generation: 8 }));
    await w.reconcile();
    expect(w.status()).toMatchObject({ observedGeneration: 8, summary: '', components: {} });
  });

  it('logs what it applied, pruned and waits for, with counts and names', async () => {
    const w = world();
    w.setApp(app(WORKER));
    await w.reconcile();
    expect(logged(w, 'applied children')).toEqual([expect.objectContaining({ level: 'info', created: 10, updated: 0 })]);
    w.logs.length = 0;
    w.setApp(app({ ...SPEC, image: 'ghcr.io/acme/backend:1.1.0' }, { generation: 2 }));
    await w.reconcile();
    expect(logged(w, 'applied children')).toEqual([expect.objectContaining({ created: 0, updated: 1 })]);
    expect(logged(w, 'pruned children')).toEqual([expect.objectContaining({ level: 'info', pruned: 2 })]);
    expect(w.events).toContain('Normal Pruned: Deleted Deployment web-worker, PodDisruptionBudget web-worker (turned off in the spec)');
    w.logs.length = 0;
    w.setApp(app({ ...MIGRATING, image: 'ghcr.io/acme/backend:1.2.0' }, { generation: 3 }));
    await w.reconcile();
    expect(w.logs.filter((l) => l.step === 'jobs')).toEqual([
      expect.objectContaining({ level: 'info', msg: 'Waiting for StatefulSet web-postgres to be ready' }),
    ]);
    // Nothing to do, nothing said.
    w.logs.length = 0;
    await w.reconcile();
    expect(logged(w, 'applied children')).toEqual([]);
    expect(logged(w, 'pruned children')).toEqual([]);
  });

  it('logs the migration it waits for by its Job when the Job says nothing yet, and the Jobs it expires', async () => {
    const w = world();
    w.setApp(app(MIGRATING));
    await w.reconcile();
    setStatus(w, 'apps/v1/StatefulSet', 'web-postgres', { readyReplicas: 1 });
    w.logs.length = 0;
    await w.reconcile();
    const job = w.children.list('batch/v1/Job', NS)[0]?.metadata?.name;
    expect(w.events).toContain(`Normal Created: Created Job ${job}`);
    expect(w.logs.filter((l) => l.step === 'jobs').map((l) => l.msg)).toEqual([`Waiting for Job ${job} to finish`]);
  });

  it('names every database it waits for before a migration', async () => {
    const w = world();
    w.setApp(app({ ...MIGRATING, databases: { ...SPEC.databases, redis: { version: '7' } } }));
    await w.reconcile();
    expect(w.status()?.release?.migration?.message).toBe('Waiting for StatefulSet web-postgres, StatefulSet web-redis to be ready');
  });

  it('logs the list items it replaced after a refused apply, and never replaces lists for other refusals', async () => {
    const invalid = (code: number) => Object.assign(new Error('refused'), { code });
    // A 422 on a child that does not exist yet: nothing of ours to put back.
    const fresh = world({ refuse: (o) => (o.kind === 'Service' ? invalid(422) : undefined) });
    fresh.setApp(app(SPEC));
    await expect(fresh.reconcile()).rejects.toThrow('refused');
    expect(fresh.writes.some((x) => x.startsWith('replaceLists'))).toBe(false);
    // A 500 on one that exists and was edited by hand: not a list problem.
    let armed = false;
    const w = world({ refuse: (o) => (armed && o.kind === 'Service' && o.metadata?.name === 'web-api' ? invalid(500) : undefined) });
    w.setApp(app(SPEC));
    await w.reconcile();
    const svc = w.children.get('v1/Service', NS, 'web-api') as KubernetesObject & { spec: { ports: { port: number }[] } };
    w.put({ ...svc, spec: { ...svc.spec, ports: [{ ...svc.spec.ports[0], port: 31337 }] } } as KubernetesObject);
    armed = true;
    await expect(w.reconcile()).rejects.toThrow('refused');
    expect(w.writes.some((x) => x.startsWith('replaceLists'))).toBe(false);
  });

  it('logs when status cannot be written after a failure', async () => {
    const err = Object.assign(new Error('etcdserver: request timed out'), { code: 500 });
    const w = world({ refuse: (o) => (o.kind === 'StatefulSet' ? err : undefined), statusError: new Error('status refused') });
    w.setApp(app(SPEC));
    await expect(w.reconcile()).rejects.toBe(err);
    expect(logged(w, 'could not report the failure in status')).toEqual([expect.objectContaining({ level: 'error', err: 'status refused' })]);
  });

  it('warns once per problem, not again when only the counts change', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    setStatus(w, 'apps/v1/Deployment', 'web-api', {
      replicas: 2,
      updatedReplicas: 1,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    });
    await w.reconcile();
    const warnings = () => w.events.filter((e) => e.startsWith('Warning'));
    expect(warnings()).toEqual([
      'Warning ProgressDeadlineExceeded: Rollout stalled for api: pods did not become available in time; see kubectl describe deployment',
    ]);
    expect(logged(w, warnings()[0]!.replace(/^Warning \w+: /, ''))).toEqual([expect.objectContaining({ level: 'warn', reason: 'ProgressDeadlineExceeded' })]);
    setStatus(w, 'apps/v1/Deployment', 'web-api', {
      replicas: 2,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    });
    await w.reconcile();
    expect(w.status()?.components?.api?.ready).toBe(1);
    expect(warnings()).toHaveLength(1);
  });

  it('records Ready once, not again when a ready app’s counts change', async () => {
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    setStatus(w, 'apps/v1/Deployment', 'web-api', { replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    setStatus(w, 'apps/v1/StatefulSet', 'web-postgres', { replicas: 1, readyReplicas: 1, updatedReplicas: 1 });
    await w.reconcile();
    setStatus(w, 'apps/v1/Deployment', 'web-api', { replicas: 2, updatedReplicas: 2, availableReplicas: 3 });
    await w.reconcile();
    expect(w.status()?.components?.api?.ready).toBe(3);
    expect(w.events.filter((e) => e.startsWith('Normal Ready'))).toHaveLength(1);
  });

  it('counts beat against no autoscaler, whatever the worker’s', async () => {
    const w = world();
    w.setApp(
      app({
        ...SPEC,
        worker: {
          app: 'app.celery',
          autoscaling: { minReplicas: 4, maxReplicas: 8, targetMemoryUtilizationPercentage: 80 },
          resources: { requests: { memory: '128Mi' } },
        },
        beat: {},
      }),
    );
    await w.reconcile();
    expect(w.status()?.components).toMatchObject({ worker: { desired: 4 }, beat: { desired: 1 } });
  });

  it('on deletion under Delete only, deletes and says nothing of retained data', async () => {
    const w = world();
    const spec = { ...SPEC, databases: { postgres: { version: '15', storage: { size: '1Gi' }, deletionPolicy: 'Delete' } } };
    w.setApp(app(spec));
    await w.reconcile();
    w.writes.length = 0;
    w.events.length = 0;
    w.setApp(app(spec, { deletionTimestamp: new Date() }));
    await w.reconcile();
    expect(w.writes).toEqual(['delete Secret/web-postgres-credentials', 'removeFinalizer']);
    expect(w.events).toEqual(['Normal DeletedData: deletionPolicy Delete: removed postgres (0 volume claims, 1 secrets)']);
    expect(logged(w, 'finalized')).toEqual([expect.objectContaining({ kept: 0, removed: 1 })]);
  });

  it('on deletion under Retain takes its ownership off only the credentials it controls', async () => {
    const w = await settled(app(SPEC));
    w.setApp(app(SPEC, { deletionTimestamp: new Date() }));
    await w.reconcile();
    expect(w.writes).toEqual(['removeFinalizer']);
  });
});

describe('isControlledBy', () => {
  const owner = { metadata: { uid: 'u1' } };
  const ref = (uid: string, controller?: boolean) => ({ apiVersion: 'v1', kind: 'X', name: 'x', uid, ...(controller === undefined ? {} : { controller }) });
  it('is true only for a controller reference to that owner', () => {
    expect(isControlledBy({ metadata: { ownerReferences: [ref('u1', true)] } }, owner)).toBe(true);
    expect(isControlledBy({ metadata: { ownerReferences: [ref('u1', false)] } }, owner)).toBe(false);
    expect(isControlledBy({ metadata: { ownerReferences: [ref('u1')] } }, owner)).toBe(false);
    expect(isControlledBy({ metadata: { ownerReferences: [ref('u2', true)] } }, owner)).toBe(false);
    expect(isControlledBy({ metadata: { ownerReferences: [ref('u2', true), ref('u1', true)] } }, owner)).toBe(true);
    expect(isControlledBy({ metadata: {} }, owner)).toBe(false);
  });
});

describe('describeObjects', () => {
  it('names a few objects and counts many by kind', () => {
    const o = (kind: string, name: string) => ({ kind, metadata: { name } });
    expect(describeObjects([])).toBe('');
    expect(describeObjects([o('Service', 'a')])).toBe('Service a');
    expect(describeObjects([o('Service', 'a'), o('Service', 'b'), o('Secret', 'c')])).toBe('Service a, Service b, Secret c');
    expect(describeObjects([o('Service', 'a'), o('Service', 'b'), o('Secret', 'c'), o('Deployment', 'd')])).toBe(
      '4 objects: 2 Service, 1 Secret, 1 Deployment',
    );
  });
});
