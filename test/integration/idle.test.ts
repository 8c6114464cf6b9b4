// Quiet when nothing changed: with 20 apps converged, the operator sends no
// mutating request for 60 seconds (counted in the API server's audit log).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNamespace } from '../support/cluster.js';
import { apply, smallApp, waitReady } from '../support/apps.js';
import { auditEvents, MUTATING_VERBS, startOperator, type OperatorProcess } from '../support/operator.js';

const APPS = 20;
const IDLE_MS = 60_000;
const OPERATOR_USER = 'backendapp-operator-dev';
const ns = useNamespace('idle');
let operator: OperatorProcess;

beforeAll(async () => {
  operator = await startOperator({ namespaces: [ns.name] });
});
afterAll(async () => {
  await operator.stop();
});

describe('at rest', () => {
  it(`sends zero mutating requests over ${IDLE_MS / 1000} s with ${APPS} apps converged`, async () => {
    const started = Date.now();
    const names = Array.from({ length: APPS }, (_, i) => `idle-${i}`);
    await Promise.all(names.map((n) => apply(smallApp(ns.name, n, { worker: { app: 'app.celery', replicas: 1 }, beat: {} }))));
    for (const n of names) await waitReady(ns.name, n, 180_000);
    // Let in-flight status updates and the audit batch settle.
    await new Promise((r) => setTimeout(r, 5_000));
    const since = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    // The audit log is flushed in batches of at most 1 s.
    await new Promise((r) => setTimeout(r, 2_000));
    const until = since + IDLE_MS;
    // The audit log does see this operator (its writes while converging), so an empty
    // window below means quiet, not a log that misses it.
    const converging = auditEvents(OPERATOR_USER, started).filter((e) => e.at < since && MUTATING_VERBS.has(e.verb));
    expect(converging.length, "the operator's writes while converging, in the audit log").toBeGreaterThan(APPS);
    const events = auditEvents(OPERATOR_USER, since).filter((e) => e.at <= until);
    const mutating = events.filter((e) => MUTATING_VERBS.has(e.verb));
    const byVerb: Record<string, number> = {};
    for (const e of events) byVerb[e.verb] = (byVerb[e.verb] ?? 0) + 1;
    console.log(`idle ${IDLE_MS / 1000} s with ${APPS} apps: requests by verb ${JSON.stringify(byVerb)}`);
    expect(mutating, JSON.stringify(mutating.slice(0, 5))).toEqual([]);
    // Reads at rest are the watches alone, not a poll per app.
    expect(events.filter((e) => e.verb === 'get' || e.verb === 'list').length).toBeLessThan(APPS);
  });
});
