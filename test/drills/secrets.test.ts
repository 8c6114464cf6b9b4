// Drill 6: secrets stay secret. The operator runs a whole workload at its most
// verbose log level (trace): apps with every kind of credential are created,
// changed, have a credential Secret deleted and recreated, survive an operator
// restart, are deleted and created again. Then every line the operator printed,
// every event and every status is searched for every generated credential, as
// written and as base64: zero hits. And `backendapp-operator render` prints
// credentials only when asked to.
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, useNamespace, waitFor } from '../support/cluster.js';
import { finwise, smallApp } from '../support/apps.js';
import {
  BACKENDAPPS,
  CHILD_KINDS,
  EVENTS,
  applyManifest,
  credentialValues,
  ensureAvailablePVs,
  get,
  list,
  mergePatch,
  releaseApps,
  remove,
  waitAllReady,
  whileAlive,
} from '../support/drills.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

const root = path.resolve(import.meta.dirname, '../..');
const ns = useNamespace('drill-secrets');
const operators: OperatorProcess[] = [];

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  await releaseApps(ns.name);
});

beforeAll(async () => {
  await ensureAvailablePVs(8);
});

/** Keys whose values are generated secrets, or built from one (URLs, basic auth). */
const SECRET_KEYS = new Set(['password', 'url', 'result-backend-url', 'basic-auth']);

describe('drill 6: secrets stay secret', () => {
  it('no credential appears in any log line at trace level, in events or in status; the CLI redacts unless asked', async () => {
    const secrets = CHILD_KINDS['v1/Secret'];
    const deployments = CHILD_KINDS['apps/v1/Deployment'];
    if (!secrets || !deployments) throw new Error('no Secret or Deployment kind');
    const start = () => startOperator({ namespaces: [ns.name], logLevel: 'trace' });
    let op = await start();
    operators.push(op);

    // The workload: every credential kind (finwise: PostgreSQL, Redis, MongoDB, Flower), and a small app.
    await applyManifest(finwise(ns.name));
    await applyManifest(
      smallApp(ns.name, 'small', { databases: { postgres: { version: '16', storage: { size: '1Gi' } }, redis: { version: '7', deletionPolicy: 'Delete' } } }),
    );
    await whileAlive(op, waitAllReady(ns.name, 2, 240_000));
    // A change, a credential Secret deleted by hand (recreated with the same values), a restart.
    await mergePatch(BACKENDAPPS, ns.name, 'small', { spec: { image: 'ghcr.io/acme/backend:1.0.1' } });
    const pg = await get(secrets, ns.name, 'small-postgres-credentials');
    await remove(secrets, ns.name, 'small-postgres-credentials');
    await whileAlive(
      op,
      waitFor(
        'the deleted credentials back',
        async () => {
          const back = await get(secrets, ns.name, 'small-postgres-credentials');
          return back && back.metadata.uid !== pg?.metadata.uid ? back : undefined;
        },
        60_000,
      ),
    );
    expect((await get(secrets, ns.name, 'small-postgres-credentials'))?.data).toEqual(pg?.data);
    await whileAlive(op, waitAllReady(ns.name, 2, 120_000));
    await op.stop();
    op = await start();
    operators.push(op);
    await mergePatch(BACKENDAPPS, ns.name, 'finwise', { spec: { image: 'ghcr.io/finwise/backend:1.4.3' } });
    await whileAlive(op, waitAllReady(ns.name, 2, 180_000));
    // Deleted (finalizer: Retain keeps, Delete removes) and created again.
    const values = await credentialValues(ns.name); // before the deletion removes some
    await remove(BACKENDAPPS, ns.name, 'small');
    await whileAlive(
      op,
      waitFor('small deleted', async () => (await get(BACKENDAPPS, ns.name, 'small')) === undefined, 60_000),
    );
    await applyManifest(smallApp(ns.name, 'small'));
    await whileAlive(op, waitAllReady(ns.name, 2, 180_000));
    for (const [k, v] of await credentialValues(ns.name)) values.set(`${k} (after)`, v);

    // Everything the operator said or wrote where people read.
    const lines = operators.flatMap((o) => o.lines);
    const events = (await list(EVENTS, ns.name)).map((e) => `${e.reason} ${e.message}`);
    const eventsV1 = (await list({ group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event' }, ns.name)).map((e) => `${e.reason} ${e.note}`);
    const statuses = (await list(BACKENDAPPS, ns.name)).map((a) => JSON.stringify(a.status));
    const corpus = [...lines, ...events, ...eventsV1, ...statuses];
    const secretValues = [...values].filter(([k]) => SECRET_KEYS.has(k.split('/').pop()?.replace(' (after)', '') ?? '')).map(([, v]) => v);
    expect(secretValues.length).toBeGreaterThanOrEqual(20);
    const needles = [...new Set(secretValues.flatMap((v) => [v, Buffer.from(v).toString('base64')]))];
    const hits = needles.flatMap((n) => corpus.filter((l) => l.includes(n)).map((l) => l.slice(0, 200)));
    expect(hits).toEqual([]);
    // The search can find things: the logs are verbose and do name these Secrets.
    expect(lines.some((l) => l.includes('"level":"debug"') || l.includes('"level":"trace"'))).toBe(true);

    // The CLI: every Secret value redacted, unless --show-secrets.
    const render = async (args: string[]) => {
      const res = await run(process.execPath, [
        path.join(root, 'bin/backendapp-operator.js'),
        'render',
        '-f',
        path.join(root, 'config/samples/finwise.yaml'),
        ...args,
      ]);
      expect(res.code, res.stderr).toBe(0);
      return (loadAll(res.stdout) as { kind: string; data?: Record<string, string> }[]).filter((o) => o?.kind === 'Secret');
    };
    const redacted = await render([]);
    expect(redacted.length).toBe(4);
    for (const s of redacted) for (const v of Object.values(s.data ?? {})) expect(v).toBe('<redacted>');
    const shown = await render(['--show-secrets']);
    const passwords = shown.map((s) => Buffer.from(s.data?.password ?? '', 'base64').toString('utf8'));
    expect(passwords.every((p) => /^[A-Za-z0-9_-]{32}$/.test(p))).toBe(true);
    console.log(
      `drill 6: ${lines.length} log lines at trace level from ${operators.length} operator processes, ${events.length + eventsV1.length} events, ${statuses.length} statuses searched for ${needles.length} secret strings (${secretValues.length} values, plain and base64): 0 hits; render: ${redacted.length} Secrets redacted, shown only with --show-secrets`,
    );
  });
});
