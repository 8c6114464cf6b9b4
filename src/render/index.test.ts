import { describe, expect, it } from 'vitest';
import type { KubernetesObject, V1Container, V1Secret } from '@kubernetes/client-node';
import { counterRandom, decode, finwise, makeApp } from './fixtures.test-util.js';
import { CHILD_KINDS } from '../kinds.js';
import { isRetained, planApp, renderApp, stripUndefined } from './index.js';

const ids = (objects: KubernetesObject[]) => objects.map((o) => `${o.kind}/${o.metadata?.name}`);

describe('renderApp', () => {
  it('plans the example as these steps, each sorted by kind then name', () => {
    const steps = planApp(finwise(), { existingSecrets: {} });
    expect(steps.map((s) => [s.name, s.barrier, ids(s.objects)])).toEqual([
      [
        'credentials',
        'applied',
        ['Secret/finwise-flower-credentials', 'Secret/finwise-mongodb-credentials', 'Secret/finwise-postgres-credentials', 'Secret/finwise-redis-credentials'],
      ],
      ['network-policies', 'applied', ['NetworkPolicy/finwise-mongodb', 'NetworkPolicy/finwise-postgres', 'NetworkPolicy/finwise-redis']],
      [
        'databases',
        'none',
        [
          'Service/finwise-mongodb',
          'Service/finwise-mongodb-headless',
          'Service/finwise-postgres',
          'Service/finwise-postgres-headless',
          'Service/finwise-redis',
          'Service/finwise-redis-headless',
          'StatefulSet/finwise-mongodb',
          'StatefulSet/finwise-postgres',
          'StatefulSet/finwise-redis',
        ],
      ],
      ['tools', 'none', ['Service/finwise-flower', 'Deployment/finwise-flower']],
      ['jobs', 'finished', []],
      ['workloads', 'none', ['Service/finwise-api', 'Deployment/finwise-api', 'Deployment/finwise-beat', 'Deployment/finwise-worker']],
      ['scaling', 'none', ['HorizontalPodAutoscaler/finwise-api', 'PodDisruptionBudget/finwise-api', 'PodDisruptionBudget/finwise-worker']],
    ]);
    expect(ids(renderApp(finwise(), { existingSecrets: {} }))).toEqual(ids(steps.flatMap((s) => s.objects)));
  });

  it('renders just the image for an app with nothing on', () => {
    expect(renderApp(makeApp({ image: 'x:1' }), { existingSecrets: {} })).toEqual([]);
  });

  it('is deterministic', () => {
    const a = renderApp(finwise({ uid: 'u' }), { existingSecrets: {}, randomSecret: counterRandom() });
    const b = renderApp(finwise({ uid: 'u' }), { existingSecrets: {}, randomSecret: counterRandom() });
    expect(a).toEqual(b);
  });

  it('produces plain JSON: apiVersion and kind set, no undefined, no status', () => {
    for (const o of renderApp(finwise(), { existingSecrets: {} })) {
      expect(o.apiVersion).toBeTruthy();
      expect(o.kind).toBeTruthy();
      expect('status' in o).toBe(false);
      expect(JSON.parse(JSON.stringify(o))).toEqual(o);
    }
  });

  it('never changes a password on re-render', () => {
    const first = renderApp(finwise(), { existingSecrets: {} });
    const existing = Object.fromEntries(first.filter((o) => o.kind === 'Secret').map((s) => [s.metadata?.name ?? '', decode((s as V1Secret).data)]));
    const second = renderApp(finwise(), { existingSecrets: existing });
    expect(second).toEqual(first);
  });

  it('owns everything except retained credentials once the app has a uid', () => {
    const objects = renderApp(finwise({ uid: 'u-1' }), { existingSecrets: {} });
    const retained = objects.filter(isRetained).map((o) => o.metadata?.name);
    expect(retained).toEqual(['finwise-mongodb-credentials', 'finwise-postgres-credentials', 'finwise-redis-credentials']);
    for (const o of objects) {
      const owners = o.metadata?.ownerReferences ?? [];
      expect(owners.length, `${o.kind}/${o.metadata?.name}`).toBe(isRetained(o) ? 0 : 1);
    }
  });

  it('produces only the kinds the controller watches', () => {
    const known = new Set(CHILD_KINDS.map((k) => `${k.apiVersion}/${k.kind}`));
    for (const o of renderApp(finwise(), { existingSecrets: {} })) expect(known.has(`${o.apiVersion}/${o.kind}`)).toBe(true);
  });

  // A credential in a command or argument is in /proc/<pid>/cmdline, in `ps` on the
  // node and in the container runtime's config; so is a $(VAR) the kubelet expands
  // from a Secret-backed variable.
  it('puts no credential into any container command, argument or probe command', () => {
    const app = makeApp({
      image: 'x:1',
      api: { command: ['uvicorn', 'app.main:app'], port: 8000 },
      worker: { app: 'app.celery' },
      beat: {},
      flower: {},
      databases: { postgres: { version: '15' }, redis: { version: '7' }, mongodb: { version: '7.0' } },
    });
    const objects = renderApp(app, { existingSecrets: {}, randomSecret: counterRandom() });
    const secrets = objects.filter((o): o is V1Secret => o.kind === 'Secret');
    const values = secrets.flatMap((s) => Object.values(decode(s.data)));
    const passwords = secrets.map((s) => decode(s.data).password).filter((p): p is string => p !== undefined);
    expect(passwords.length).toBe(4);
    const containers = objects.flatMap((o) => {
      const spec = (o as { spec?: { template?: { spec?: { containers?: V1Container[]; initContainers?: V1Container[] } } } }).spec?.template?.spec;
      return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
    });
    expect(containers.map((c) => c.name).sort()).toEqual(['api', 'beat', 'flower', 'mongodb', 'postgres', 'redis', 'worker']);
    for (const c of containers) {
      const secretVars = (c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name);
      const argv = [...(c.command ?? []), ...(c.args ?? []), ...[c.startupProbe, c.readinessProbe, c.livenessProbe].flatMap((p) => p?.exec?.command ?? [])];
      for (const arg of argv) {
        for (const p of passwords) expect(arg, `${c.name}: ${arg}`).not.toContain(p);
        for (const v of values.filter((v) => passwords.some((p) => v.includes(p)))) expect(arg, `${c.name}: ${arg}`).not.toContain(v);
        for (const name of secretVars) expect(arg, `${c.name} expands the Secret-backed ${name} into an argument`).not.toContain(`$(${name})`);
      }
    }
  });

  it('sets the namespace of the app on every object', () => {
    for (const o of renderApp(finwise({ namespace: 'money' }), { existingSecrets: {} })) expect(o.metadata?.namespace).toBe('money');
  });
});

describe('stripUndefined', () => {
  it('drops undefined fields deeply but keeps empty objects', () => {
    expect(stripUndefined({ a: undefined, b: { c: undefined, emptyDir: {} }, d: [{ e: undefined }] })).toEqual({ b: { emptyDir: {} }, d: [{}] });
  });
});
