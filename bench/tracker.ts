// Watches a scenario's namespaces (BackendApps and every child kind) and stamps,
// per app, the moment its last expected child appeared, the moment its status
// first showed observedGeneration = generation, and the moment it was Ready.
// Timestamps come from the watch events themselves, so waiting on them by polling
// the in-memory state costs the API server nothing and loses no precision.
import type { KubernetesObject } from '@kubernetes/client-node';
import { GROUP, KIND, PLURAL, VERSION } from '../src/api/v1alpha1.js';
import { CHILD_KINDS } from '../src/kinds.js';
import { INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../src/render/labels.js';
import { Informer, kubeListWatch, loadKubeConfig, stripManagedFields, type ResourceRef } from '../src/runtime/index.js';
import { childKey } from './apps.js';
import { sleep } from './kube.js';

export type Milestone = 'childrenAt' | 'observedAt' | 'readyAt';

interface AppTrack {
  missing: Set<string>;
  childrenAt?: number;
  observedAt?: number;
  readyAt?: number;
  lastStatus?: string;
}

interface AppObject extends KubernetesObject {
  status?: {
    observedGeneration?: number;
    summary?: string;
    phase?: string;
    conditions?: { type: string; status: string; message?: string }[];
  };
}

export class Tracker {
  private readonly apps = new Map<string, AppTrack>();
  private readonly informers: Informer[] = [];
  /** Children seen before their app was expected (never, if expect() comes first). */
  private readonly seen = new Map<string, Set<string>>();

  constructor(kubeconfig: string, namespaces: string[]) {
    const kc = loadKubeConfig({ kubeconfig });
    const informer = (resource: ResourceRef, labelSelector?: string) => {
      const inf = new Informer({
        resource,
        namespaces,
        source: kubeListWatch(kc, resource),
        transform: stripManagedFields,
        ...(labelSelector ? { labelSelector } : {}),
      });
      this.informers.push(inf);
      return inf;
    };
    const apps = informer({ group: GROUP, version: VERSION, plural: PLURAL, kind: KIND });
    apps.addEventHandler({ onAdd: (o) => this.onApp(o), onUpdate: (_, o) => this.onApp(o) });
    for (const ref of CHILD_KINDS) {
      const inf = informer(ref, `${MANAGED_BY_LABEL}=${MANAGED_BY}`);
      inf.addEventHandler({ onAdd: (o) => this.onChild(o), onUpdate: (_, o) => this.onChild(o) });
    }
  }

  async start(): Promise<void> {
    for (const i of this.informers) i.start();
    const abort = AbortSignal.timeout(120_000);
    for (const i of this.informers) if (!(await i.waitForSync(abort))) throw new Error(`tracker: ${i.name} did not sync`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** Registers an app and the children (kind/name) it must get; call before creating it. */
  expect(namespace: string, name: string, children: readonly KubernetesObject[]): void {
    const k = `${namespace}/${name}`;
    const missing = new Set(children.map(childKey));
    for (const c of this.seen.get(k) ?? []) missing.delete(c);
    const t: AppTrack = { missing };
    if (missing.size === 0) t.childrenAt = performance.now();
    this.apps.set(k, t);
  }

  get(namespace: string, name: string): Readonly<AppTrack> | undefined {
    return this.apps.get(`${namespace}/${name}`);
  }

  /**
   * Resolves with the latest `milestone` time of the given apps once every one
   * has reached it; rejects after `timeoutMs` saying which did not.
   */
  async waitAll(keys: readonly { namespace: string; name: string }[], milestones: Milestone[], timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      let latest = 0;
      let pending = 0;
      for (const { namespace, name } of keys) {
        const t = this.apps.get(`${namespace}/${name}`);
        for (const m of milestones) {
          const at = t?.[m];
          if (at === undefined) pending++;
          else latest = Math.max(latest, at);
        }
      }
      if (pending === 0) return latest;
      if (performance.now() > deadline) throw new Error(this.describePending(keys, milestones, timeoutMs));
      await sleep(25);
    }
  }

  private describePending(keys: readonly { namespace: string; name: string }[], milestones: Milestone[], timeoutMs: number): string {
    const late = keys
      .map(({ namespace, name }) => ({ k: `${namespace}/${name}`, t: this.apps.get(`${namespace}/${name}`) }))
      .filter(({ t }) => milestones.some((m) => t?.[m] === undefined));
    const sample = late.slice(0, 3).map(({ k, t }) => {
      const missing = [...(t?.missing ?? [])].slice(0, 4).join(', ');
      return `${k}${missing ? ` missing ${missing}` : ''}${t?.lastStatus ? ` status ${t.lastStatus}` : ''}`;
    });
    return `timed out after ${Math.round(timeoutMs / 1000)} s: ${late.length} of ${keys.length} apps lack ${milestones.join('+')}; e.g. ${sample.join('; ')}`;
  }

  private onApp(o: AppObject): void {
    const t = this.apps.get(`${o.metadata?.namespace}/${o.metadata?.name}`);
    if (!t) return;
    const now = performance.now();
    const st = o.status;
    const observed = st?.observedGeneration !== undefined && st.observedGeneration === o.metadata?.generation;
    const ready = st?.conditions?.find((c) => c.type === 'Ready');
    t.lastStatus = `${st?.phase ?? 'none'} (${st?.summary ?? ready?.message ?? ''})`;
    if (observed) t.observedAt ??= now;
    if (observed && ready?.status === 'True') t.readyAt ??= now;
  }

  private onChild(o: KubernetesObject): void {
    const app = o.metadata?.labels?.[INSTANCE_LABEL];
    if (!app) return;
    const k = `${o.metadata?.namespace}/${app}`;
    const t = this.apps.get(k);
    if (!t) {
      const s = this.seen.get(k) ?? new Set<string>();
      this.seen.set(k, s);
      s.add(childKey(o));
      return;
    }
    if (t.missing.delete(childKey(o)) && t.missing.size === 0) t.childrenAt ??= performance.now();
  }
}
