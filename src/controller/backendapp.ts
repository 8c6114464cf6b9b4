// The BackendApp reconciler: load, validate, plan, apply step by step, prune, report status.
// Level-based: every call reads the app and its children from the caches and drives
// the cluster towards the spec; it never trusts what an event said.
import type { KubernetesObject, V1Deployment, V1Job, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  DATABASE_KINDS,
  formatFieldErrorsInline,
  validateBackendApp,
  type BackendApp,
  type BackendAppStatus,
  type Component,
  type DatabaseKind,
  type ReleaseStatus,
} from '../api/v1alpha1.js';
import { batches, planApp, releaseRevision, type Step, type StepName } from '../render/index.js';
import { COMPONENT_LABEL, CREDENTIALS_LABEL, DELETION_POLICY_LABEL, INSTANCE_LABEL, RELEASE_LABEL, VOLUME, VOLUME_LABEL } from '../render/labels.js';
import type { EventRecorder } from '../runtime/events.js';
import type { ReconcileContext, Reconciler, Request, Result } from '../runtime/controller.js';
import { isRecord, statusCodeOf } from '../runtime/client.js';
import { errorMessage } from '../runtime/logger.js';
import { canonicalJSON, divergentLists, needsApply, withAppliedHash } from './drift.js';
import { JOB, kindKey, kindOf, labelOf, nameOf, namespaceOf, PERSISTENT_VOLUME_CLAIM } from '../kinds.js';
import type { ChildCaches, Writer } from './cluster.js';
import { componentProblem } from './pods.js';
import { expiredMigrations, isRunningMigration, migrationPods, migrationState, type MigrationState } from './release.js';
import { desiredStatus, withTransitionTimes, type Blocker, type ComponentObservation } from './status.js';

/** Carries out deletionPolicy before the app goes; removed even when the spec is invalid. */
export const FINALIZER = 'backendapp.io/finalizer';

export interface ReconcilerDeps {
  apps: { get(namespace: string, name: string): KubernetesObject | undefined };
  children: ChildCaches;
  /** The apps' pods (podSummary), read only to say why a component is not ready. */
  pods: { list(namespace: string): KubernetesObject[] };
  writer: Writer;
  events: EventRecorder;
  /** The clock of conditions' lastTransitionTime. */
  now: () => Date;
}

/** A step the walk stopped at, and why; the child's next event resumes it. */
export interface Waiting {
  step: StepName;
  message: string;
}

/** How far the walk got: where it stopped, and the release's migration when there is one. */
interface Walk {
  waiting?: Waiting;
  migration?: MigrationState;
}

export class BackendAppReconciler implements Reconciler {
  /**
   * The credentials this process last rendered, by "namespace/secret name", with
   * the uid of their app: a credentials Secret deleted by hand comes back with the
   * same values (the databases were initialised with them), not new ones.
   */
  private readonly credentials = new Map<string, { app: string; uid: string | undefined; data: Record<string, string> }>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /** How many credentials Secrets' values it holds: those of apps that still exist. */
  get credentialsHeld(): number {
    return this.credentials.size;
  }

  /**
   * One pass towards the spec: finalizer first, then the children step by step
   * (render/steps.ts), then what the spec no longer asks for, then status.
   */
  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result> {
    const { log, signal } = ctx;
    const app = this.deps.apps.get(req.namespace, req.name);
    if (!app) {
      this.forgetCredentials(req);
      return {};
    }
    if (isBeingDeleted(app)) {
      await this.finalize(app, log);
      return {};
    }
    const validation = validateBackendApp(app);
    // The finalizer is in place before any child exists, credentials included.
    await this.ensureFinalizer(app);
    if (!validation.ok) {
      // Nothing else changes: running workloads are never torn down by a bad edit.
      await this.reportStatus(app, [], log, { reason: 'InvalidSpec', message: `Invalid spec: ${formatFieldErrorsInline(validation.errors)}` });
      return {};
    }
    const valid = validation.app;
    const { steps, created } = await this.planCreatingCredentials(valid);
    const desired = steps.flatMap((s) => s.objects);
    let walk: Walk;
    try {
      walk = await this.applySteps(app, steps, created, log, signal);
      // Children turned off go once the new spec is fully written, not while a step waits.
      if (!walk.waiting) await this.prune(app, desired, log);
      await this.expireMigrations(app, steps, log);
    } catch (err) {
      // Report what stopped us, but let the original error drive the retry.
      await this.reportStatus(app, this.observe(valid, desired), log, blockerOf(err, valid)).catch((statusErr: unknown) =>
        log.error({ err: errorMessage(statusErr) }, 'could not report the failure in status'),
      );
      throw err;
    }
    const release: ReleaseStatus = { revision: releaseRevision(valid), image: valid.spec.image, ...(walk.migration ? { migration: walk.migration } : {}) };
    await this.reportStatus(app, this.observe(valid, desired), log, undefined, release);
    return {};
  }

  /** The app is gone: its children go by garbage collection, and a new app of the same name gets new credentials. */
  private forgetCredentials(req: Request): void {
    for (const [k, v] of this.credentials) if (v.app === req.name && k.startsWith(`${req.namespace}/`)) this.credentials.delete(k);
  }

  /** What each component's workload reports, and why its pods do not run when they say so. */
  private observe(app: BackendApp, desired: KubernetesObject[]): ComponentObservation[] {
    const obs = observe(this.deps.children, app, desired);
    const pods = this.deps.pods.list(namespaceOf(app)).filter((p) => labelOf(p, INSTANCE_LABEL) === app.metadata.name);
    return obs.map((o) => {
      const problem = componentProblem(pods.filter((p) => labelOf(p, COMPONENT_LABEL) === o.component) as V1Pod[]);
      return problem ? { ...o, problem } : o;
    });
  }

  /**
   * Renders the children with the credentials that already exist, so a re-render
   * never changes a password, and creates each credentials Secret the cache has not
   * seen (a create fails if it exists, unlike an apply): with the values this
   * process last rendered for the app if it was deleted by hand, else new ones. One
   * that exists after all (just created, watch lagging) is read and its values kept.
   * Returns the steps to apply and the Secrets it created.
   */
  private async planCreatingCredentials(app: BackendApp): Promise<{ steps: Step[]; created: KubernetesObject[] }> {
    const ns = namespaceOf(app);
    const existing: Record<string, Record<string, string>> = {};
    for (const s of this.deps.children.list('v1/Secret', ns)) {
      if (labelOf(s, INSTANCE_LABEL) === app.metadata.name) existing[nameOf(s)] = decodeData(s);
    }
    const isCredentials = (o: KubernetesObject) => labelOf(o, CREDENTIALS_LABEL) === 'true';
    let steps = planApp(app, { existingSecrets: existing });
    const credentialsOf = (steps: Step[]) => steps.flatMap((s) => s.objects).filter(isCredentials);
    const unseen = new Set(
      credentialsOf(steps)
        .filter((o) => !existing[nameOf(o)])
        .map(nameOf),
    );
    let keptAny = false;
    for (const name of unseen) {
      const kept = this.credentials.get(`${ns}/${name}`);
      if (!kept || kept.uid !== app.metadata.uid) continue;
      existing[name] = kept.data;
      keptAny = true;
    }
    if (keptAny) steps = planApp(app, { existingSecrets: existing });
    let foundLive = false;
    const created: KubernetesObject[] = [];
    await Promise.all(
      credentialsOf(steps)
        .filter((o) => unseen.has(nameOf(o)))
        .map(async (s) => {
          const result = await this.deps.writer.create(withAppliedHash(s));
          if (result) {
            created.push(s);
            return this.deps.children.observe(kindKey(s), result);
          }
          const live = await this.deps.writer.get(s);
          if (!live) throw new Error(`Secret ${ns}/${nameOf(s)} exists but could not be read`);
          existing[nameOf(s)] = decodeData(live);
          foundLive = true;
        }),
    );
    if (foundLive) steps = planApp(app, { existingSecrets: existing });
    for (const o of credentialsOf(steps)) {
      this.credentials.set(`${ns}/${nameOf(o)}`, { app: app.metadata.name, uid: app.metadata.uid, data: decodeData(o) });
    }
    return { steps, created };
  }

  /**
   * Server-side apply of every child that differs from the cache, batch by batch
   * (render/steps.ts batches): a batch goes out in parallel, and the next one
   * starts once its barrier holds. A failed write stops the batches after it; a
   * step whose Job has not succeeded stops the walk, which says where.
   */
  private async applySteps(app: KubernetesObject, steps: readonly Step[], createdBefore: KubernetesObject[], log: Logger, signal: AbortSignal): Promise<Walk> {
    const created: KubernetesObject[] = [...createdBefore];
    const updated: KubernetesObject[] = [];
    const applyOne = async (d: KubernetesObject) => {
      if (await this.applyChild(d, log)) created.push(d);
      else updated.push(d);
    };
    const walk: Walk = {};
    try {
      for (const batch of batches(steps)) {
        signal.throwIfAborted();
        const objects = batch.flatMap((s) => s.objects).filter((d) => !kindOf(d).createOnly);
        await Promise.all(objects.filter((d) => needsApply(d, this.live(d))).map(applyOne));
        const last = batch[batch.length - 1];
        if (last?.barrier !== 'finished' || !last.objects.length) continue;
        walk.migration = await this.runMigration(app, steps, last, created);
        if (walk.migration.phase !== 'Succeeded') {
          walk.waiting = { step: last.name, message: walk.migration.message ?? `Waiting for Job ${walk.migration.job} to finish` };
          break;
        }
      }
    } finally {
      if (created.length) this.deps.events.event(app, 'Normal', 'Created', `Created ${describeObjects(created)}`);
      if (updated.length) this.deps.events.event(app, 'Normal', 'Updated', `Updated ${describeObjects(updated)}`);
      if (created.length || updated.length) log.info({ created: created.length, updated: updated.length }, 'applied children');
    }
    if (walk.waiting) log.info({ step: walk.waiting.step }, walk.waiting.message);
    return walk;
  }

  /**
   * The release's migration Job: created once (its template is immutable) when the
   * databases are ready and no earlier migration of the app still runs, then
   * followed to its end. A release whose migration succeeded is remembered in
   * status, so a Job deleted later is not run again.
   */
  private async runMigration(app: KubernetesObject, steps: readonly Step[], step: Step, created: KubernetesObject[]): Promise<MigrationState> {
    const job = step.objects[0] as KubernetesObject;
    const ns = namespaceOf(job);
    const name = nameOf(job);
    const appName = nameOf(app);
    const revision = labelOf(job, RELEASE_LABEL) ?? '';
    const remembered = (app as { status?: BackendAppStatus }).status?.release;
    if (remembered?.revision === revision && remembered.migration?.phase === 'Succeeded') return remembered.migration;
    const pods = migrationPods(this.deps.pods.list(ns), appName, revision);
    const live = this.live(job);
    if (live) return migrationState(name, live as V1Job, pods);
    const earlier = this.deps.children.list(kindKey(job), ns).find((j) => nameOf(j) !== name && isRunningMigration(j, appName));
    if (earlier) return migrationState(name, undefined, [], `Waiting for Job ${nameOf(earlier)} of an earlier release to finish`);
    const before = steps.slice(0, steps.indexOf(step)).flatMap((s) => s.objects);
    const unready = before.filter((d) => d.kind === 'StatefulSet' && !isReadyStatefulSet(this.live(d)));
    if (unready.length) return migrationState(name, undefined, [], `Waiting for ${unready.map((d) => `${d.kind} ${nameOf(d)}`).join(', ')} to be ready`);
    let result = await this.deps.writer.create(withAppliedHash(job));
    if (result) created.push(job);
    // Already there (the cache lags a create of ours): follow that one, never a second.
    else result = await this.deps.writer.get(job);
    if (result) this.deps.children.observe(kindKey(job), result);
    return migrationState(name, result as V1Job | undefined, pods);
  }

  /** Deletes migration Jobs older than the last three (with their pods), never the current release's. */
  private async expireMigrations(app: KubernetesObject, steps: readonly Step[], log: Logger): Promise<void> {
    const job = steps.flatMap((s) => s.objects).find((o) => o.kind === 'Job');
    const current = job && nameOf(job);
    const jobs = this.deps.children.list(kindKey(JOB), namespaceOf(app));
    const expired = expiredMigrations(jobs, nameOf(app), current);
    for (const j of expired) await this.deps.writer.delete(j);
    if (expired.length) log.info({ deleted: expired.map(nameOf) }, 'deleted migration Jobs past the last three');
  }

  private live(d: KubernetesObject): KubernetesObject | undefined {
    return this.deps.children.get(kindKey(d), namespaceOf(d), nameOf(d));
  }

  /** Applies one child and records the result in the cache; true when it was new. */
  private async applyChild(d: KubernetesObject, log: Logger): Promise<boolean> {
    const live = this.live(d);
    let applied: KubernetesObject;
    try {
      applied = await this.deps.writer.apply(withAppliedHash(d));
    } catch (err) {
      // A hand edit of a list can make our apply invalid (a Service port renumbered
      // by hand keeps its name; ours would be a second port of that name): put our
      // lists back first, then apply again.
      const lists = live && statusCodeOf(err) === 422 ? divergentLists(d, live) : [];
      if (!live || !lists.length) throw err;
      log.info({ object: `${d.kind}/${nameOf(d)}`, lists: lists.map((l) => l.path) }, 'apply refused after a hand edit of a list; replacing the list');
      await this.deps.writer.replaceLists(live, lists);
      applied = await this.deps.writer.apply(withAppliedHash(d));
    }
    // Items another manager added to a list survive a forced apply; remove them.
    const foreign = divergentLists(d, applied, true);
    if (foreign.length) {
      applied = await this.deps.writer.replaceLists(applied, foreign);
      log.info({ object: `${d.kind}/${nameOf(d)}`, lists: foreign.map((f) => f.path) }, 'removed list items another field manager added');
    }
    this.deps.children.observe(kindKey(d), applied);
    return live === undefined;
  }

  /**
   * Deletes children this app owns that the spec no longer asks for (a component
   * turned off). Retained credentials carry no owner reference, and claims are
   * never prunable, so no data goes here.
   */
  private async prune(app: KubernetesObject, desired: KubernetesObject[], log: Logger): Promise<void> {
    const wanted = new Set(desired.map((d) => `${kindKey(d)}/${nameOf(d)}`));
    const ns = namespaceOf(app);
    const pruned: string[] = [];
    for (const k of this.deps.children.kinds()) {
      if (!kindOf(k).prunable) continue;
      for (const obj of this.deps.children.list(k, ns)) {
        if (!isControlledBy(obj, app) || wanted.has(`${k}/${nameOf(obj)}`)) continue;
        await this.deps.writer.delete(obj);
        pruned.push(`${obj.kind} ${nameOf(obj)}`);
      }
    }
    if (pruned.length) {
      this.deps.events.event(app, 'Normal', 'Pruned', `Deleted ${pruned.join(', ')} (turned off in the spec)`);
      log.info({ pruned: pruned.length }, 'pruned children');
    }
  }

  /** Writes status only when it changed, and records a Warning the first time a blocker appears. */
  private async reportStatus(
    app: KubernetesObject,
    observations: ComponentObservation[],
    log: Logger,
    blocker: Blocker | undefined,
    release?: ReleaseStatus,
  ): Promise<void> {
    const current = (app as { status?: BackendAppStatus }).status;
    // A blocked reconcile knows nothing new about the release: keep what was reported.
    const next = desiredStatus(app.metadata?.generation ?? 0, observations, blocker, release ?? current?.release);
    const conditions = withTransitionTimes(next.conditions, current?.conditions, this.deps.now());
    const status: BackendAppStatus = { ...next, conditions };
    if (canonicalJSON(status) === canonicalJSON(current ?? {})) return;
    await this.deps.writer.replaceStatus(app, status);
    const before = current?.conditions?.find((c) => c.type === 'Degraded');
    const after = conditions.find((c) => c.type === 'Degraded');
    // Once per problem: when Degraded turns True, or says something new. A blocker's
    // message is the condition's without the counts, which change while it holds.
    if (after?.status === 'True' && before?.message !== after.message) {
      const warning = blocker ?? { reason: after.reason, message: after.message };
      this.deps.events.event(app, 'Warning', warning.reason, warning.message);
      log.warn({ reason: warning.reason }, warning.message);
    }
    const readyBefore = current?.conditions?.find((c) => c.type === 'Ready')?.status;
    const readyAfter = conditions.find((c) => c.type === 'Ready')?.status;
    if (readyAfter === 'True' && readyBefore !== 'True') this.deps.events.event(app, 'Normal', 'Ready', next.summary ?? 'All components are ready');
  }

  private async ensureFinalizer(app: KubernetesObject): Promise<void> {
    if (hasFinalizer(app)) return;
    await this.deps.writer.addFinalizer(app, FINALIZER);
  }

  /**
   * Runs before the app is deleted. The workloads go by garbage collection; here we
   * carry out each database's deletionPolicy for what garbage collection would not
   * decide right: Delete removes its claims and credentials, Retain makes sure they
   * outlive the app; the same for each app volume's claim. Reads the policy from the raw spec, so an invalid spec never
   * blocks deletion; anything unreadable counts as Retain.
   */
  private async finalize(app: KubernetesObject, log: Logger): Promise<void> {
    if (!hasFinalizer(app)) return;
    const ns = namespaceOf(app);
    const name = nameOf(app);
    const kept: string[] = [];
    const removed: string[] = [];
    for (const db of DATABASE_KINDS) {
      const policy = deletionPolicyOf(app, db);
      if (!policy) continue;
      const selector = `${INSTANCE_LABEL}=${name},${COMPONENT_LABEL}=${db}`;
      const claims = await this.deps.writer.list(kindKey(PERSISTENT_VOLUME_CLAIM), ns, selector);
      const secrets = (await this.deps.writer.list('v1/Secret', ns, selector)).filter((s) => labelOf(s, CREDENTIALS_LABEL) === 'true');
      if (policy === 'Delete') {
        for (const o of [...claims, ...secrets]) await this.deps.writer.delete(o);
        removed.push(`${db} (${claims.length} volume claims, ${secrets.length} secrets)`);
      } else {
        for (const s of secrets.filter((s) => isControlledBy(s, app))) await this.deps.writer.removeOwner(s, app);
        kept.push(`${db} (${claims.length} volume claims, ${secrets.length} secrets)`);
      }
    }
    // The app's own volumes: each claim carries the policy it was rendered with, so an
    // invalid spec cannot change what happens to the data.
    const volumes = await this.deps.writer.list(kindKey(PERSISTENT_VOLUME_CLAIM), ns, `${INSTANCE_LABEL}=${name},${COMPONENT_LABEL}=${VOLUME}`);
    for (const claim of volumes) {
      const what = `volume ${labelOf(claim, VOLUME_LABEL)} (claim ${nameOf(claim)})`;
      if (labelOf(claim, DELETION_POLICY_LABEL) === 'Delete') {
        await this.deps.writer.delete(claim);
        removed.push(what);
      } else {
        if (isControlledBy(claim, app)) await this.deps.writer.removeOwner(claim, app);
        kept.push(what);
      }
    }
    if (removed.length) this.deps.events.event(app, 'Normal', 'DeletedData', `deletionPolicy Delete: removed ${removed.join(', ')}`);
    if (kept.length) this.deps.events.event(app, 'Normal', 'RetainedData', `deletionPolicy Retain: kept ${kept.join(', ')}`);
    await this.deps.writer.removeFinalizer(app, FINALIZER);
    log.info({ kept: kept.length, removed: removed.length }, 'finalized');
  }
}

function observe(children: ChildCaches, app: BackendApp, desired: KubernetesObject[]): ComponentObservation[] {
  const ns = namespaceOf(app);
  const obs: ComponentObservation[] = [];
  for (const d of desired) {
    const component = labelOf(d, COMPONENT_LABEL) as Component | undefined;
    if (!component || (d.kind !== 'Deployment' && d.kind !== 'StatefulSet')) continue;
    const live = children.get(kindKey(d), ns, nameOf(d));
    const minReplicas = minReplicasOf(app, component);
    if (d.kind === 'Deployment') obs.push({ component, kind: 'Deployment', workload: live as V1Deployment | undefined, minReplicas });
    else obs.push({ component, kind: 'StatefulSet', workload: live as V1StatefulSet | undefined });
  }
  return obs;
}

/** The autoscaler's minimum for an autoscaled component, else 0. */
function minReplicasOf(app: BackendApp, component: Component): number {
  if (component === 'api') return app.spec.api?.autoscaling?.minReplicas ?? 0;
  if (component === 'worker') return app.spec.worker?.autoscaling?.minReplicas ?? 0;
  return 0;
}

/** A StatefulSet that exists with every pod it asks for ready. */
function isReadyStatefulSet(live: KubernetesObject | undefined): boolean {
  const sts = live as V1StatefulSet | undefined;
  return (sts?.status?.readyReplicas ?? 0) >= (sts?.spec?.replicas ?? 1);
}

function hasFinalizer(app: KubernetesObject): boolean {
  return app.metadata?.finalizers?.includes(FINALIZER) ?? false;
}

function isBeingDeleted(app: KubernetesObject): boolean {
  return app.metadata?.deletionTimestamp !== undefined;
}

export function isControlledBy(obj: KubernetesObject, owner: KubernetesObject): boolean {
  return obj.metadata?.ownerReferences?.some((r) => r.controller && r.uid === owner.metadata?.uid) ?? false;
}

function deletionPolicyOf(app: KubernetesObject, db: DatabaseKind): 'Delete' | 'Retain' | undefined {
  const spec = (app as { spec?: unknown }).spec;
  const databases = isRecord(spec) ? spec.databases : undefined;
  const entry = isRecord(databases) ? databases[db] : undefined;
  if (entry === undefined || entry === null) return undefined;
  return isRecord(entry) && entry.deletionPolicy === 'Delete' ? 'Delete' : 'Retain';
}

function decodeData(secret: KubernetesObject): Record<string, string> {
  const data = (secret as { data?: Record<string, string> }).data ?? {};
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/** "Deployment finwise-api" for a few objects; counts by kind for many, so the event stays readable. */
export function describeObjects(objs: readonly KubernetesObject[]): string {
  if (objs.length <= 3) return objs.map((o) => `${o.kind} ${nameOf(o)}`).join(', ');
  const byKind = new Map<string, number>();
  for (const o of objs) byKind.set(o.kind ?? '', (byKind.get(o.kind ?? '') ?? 0) + 1);
  return `${objs.length} objects: ${[...byKind].map(([kind, n]) => `${n} ${kind}`).join(', ')}`;
}

function blockerOf(err: unknown, app: BackendApp): Blocker {
  const code = (err as { code?: unknown }).code;
  // The schema checks podTemplates loosely (they may hold any pod field); the API
  // server checks the pods they make, and its word names the field.
  if (code === 422 && hasPodTemplate(app.spec)) {
    return { reason: 'InvalidSpec', message: `The API server refused a pod that spec.podTemplate shapes: ${errorMessage(err)}` };
  }
  // Not RBAC: the namespace is going away and the app with it.
  if (code === 403 && errorMessage(err).includes('because it is being terminated')) {
    return { reason: 'NamespaceTerminating', message: errorMessage(err) };
  }
  if (code === 403) {
    return { reason: 'Forbidden', message: `The operator is not allowed to do this; check its RBAC rules: ${errorMessage(err)}` };
  }
  return { reason: 'ApplyFailed', message: errorMessage(err) };
}

/** Whether the spec sets a podTemplate anywhere (app-wide, a component's, a database's). */
function hasPodTemplate(value: unknown): boolean {
  if (!isRecord(value)) return false;
  return Object.entries(value).some(([k, v]) => (k === 'podTemplate' && v !== undefined) || hasPodTemplate(v));
}
