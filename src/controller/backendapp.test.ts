// The reconciler's decisions with in-memory caches and a recording writer: what it
// writes, and above all what it does not.
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { BackendAppStatus } from '../api/v1alpha1.js';
import { silentLogger } from '../runtime/logger.js';
import type { EventRecorder } from '../runtime/events.js';
import { kindKey as key } from '../kinds.js';
import { BackendAppReconciler, FINALIZER, describeObjects } from './backendapp.js';
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
    get: async (obj) => children.get(key(obj), obj.metadata?.namespace ?? '', obj.metadata?.name ?? '') ?? unwatched.get(`${key(obj)} ${obj.metadata?.name}`),
    create: async (obj) => {
      if (await writer.get(obj)) return undefined;
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
      return { ...obj, metadata: { ...obj.metadata, uid: `u-${obj.metadata?.name}`, resourceVersion: '1' } };
    },
    replaceLists: async (obj, lists) => {
      writes.push(`replaceLists ${obj.kind}/${obj.metadata?.name} ${lists.map((l) => l.path).join(',')}`);
      return obj;
    },
    delete: async (obj) => {
      writes.push(`delete ${obj.kind}/${obj.metadata?.name}`);
      store.get(key(obj))?.delete(`${obj.metadata?.namespace}/${obj.metadata?.name}`);
    },
    replaceStatus: async (_app, s) => {
      writes.push('status');
      status = s;
    },
    addFinalizer: async () => void writes.push('addFinalizer'),
    removeFinalizer: async () => void writes.push('removeFinalizer'),
    removeOwner: async (obj) => void writes.push(`removeOwner ${obj.kind}/${obj.metadata?.name}`),
  };
  const recorder: EventRecorder = { event: (_o, type, reason, note) => void events.push(`${type} ${reason}: ${note}`) };
  let current: KubernetesObject | undefined;
  const reconciler = new BackendAppReconciler({
    apps: { get: () => (current ? ({ ...current, status } as KubernetesObject) : undefined) },
    children,
    pods: { list: (ns) => (opts.pods ?? []).filter((p) => p.metadata?.namespace === ns) },
    writer,
    events: recorder,
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
  return {
    writes,
    events,
    children,
    put,
    status: () => status,
    /** Removes a child from the caches, as its watch event would after a deletion by hand. */
    drop: (k: string, name: string) => store.get(k)?.delete(`${NS}/${name}`),
    setApp: (a: KubernetesObject) => (current = a),
    reconcile: (signal = new AbortController().signal) =>
      reconciler.reconcile({ namespace: NS, name: 'web' }, { log: silentLogger(), signal, reconcileID: 'test' }),
  };
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
    expect(ready?.message).toContain('spec.api.port');
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
    const w = world();
    w.setApp(app(SPEC));
    await w.reconcile();
    w.writes.length = 0;
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
    expect(w.writes).not.toContain('create Secret/web-postgres-credentials');
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
  const setStatus = (w: ReturnType<typeof world>, k: string, name: string, status: unknown) => {
    const live = w.children.get(k, NS, name);
    if (!live) throw new Error(`${k} ${name} not in the cache`);
    w.put({ ...live, status } as KubernetesObject);
  };
  const databasesReady = (w: ReturnType<typeof world>) => setStatus(w, 'apps/v1/StatefulSet', 'web-postgres', { readyReplicas: 1, replicas: 1 });
  const condition = (w: ReturnType<typeof world>, type: string) => w.status()?.conditions?.find((c) => c.type === type);
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
    expect(jobWrites(lagging)).toEqual([]);
    expect(lagging.status()?.release?.migration?.phase).toBe('Running');
  });
});

describe('describeObjects', () => {
  it('names a few objects and counts many by kind', () => {
    const o = (kind: string, name: string) => ({ kind, metadata: { name } });
    expect(describeObjects([o('Service', 'a')])).toBe('Service a');
    expect(describeObjects([o('Service', 'a'), o('Service', 'b'), o('Secret', 'c'), o('Deployment', 'd')])).toBe(
      '4 objects: 2 Service, 1 Secret, 1 Deployment',
    );
  });
});
