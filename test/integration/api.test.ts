// The BackendApp API as the API server sees it: the generated CRD is accepted and
// published, the finwise example passes strict server-side validation, every
// mistake in the invalid-manifest table is refused by the server with the field
// named (so `kubectl apply` and `backendapp-operator render` agree), the transition
// rules guard the fields that must not change, and every object rendered from the
// example meets Pod Security "restricted" without a single warning.
import path from 'node:path';
import type { KubernetesObject, V1CustomResourceDefinition } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { backendAppOpenAPISchema } from '../../src/crd/generate.js';
import { validateBackendApp, type BackendApp } from '../../src/api/v1alpha1.js';
import { renderApp } from '../../src/render/index.js';
import { sampleManifest } from '../../src/render/fixtures.test-util.js';
import { kubectl, kubectlOk, useNamespace, waitFor } from '../support/cluster.js';
import { invalidCases, invalidManifest, type InvalidCase } from '../support/invalid-manifests.js';

const root = path.resolve(import.meta.dirname, '../..');
const SAMPLE = path.join(root, 'config/samples/finwise.yaml');
const CRD_NAME = 'backendapps.backendapp.io';

const ns = useNamespace('api');
const restricted = useNamespace('api-restricted', {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
});

/**
 * Table cases that are not a BackendApp at all, so there is nothing for our schema
 * to say: with the wrong apiVersion or kind, kubectl finds no resource to send the
 * object to and fails before any request reaches the BackendApp endpoint.
 */
const NOT_A_BACKENDAPP: ReadonlyMap<string, string> = new Map([
  ['wrong apiVersion', 'backendapp.io/v1 is not served'],
  ['wrong kind', 'backendapp.io/v1alpha1 has no kind App'],
]);

/**
 * Rules the CLI (zod) enforces that the CRD cannot express, by case name, with the
 * reason. The operator reports such specs through a status condition instead of
 * the API server refusing them. Empty: every case of the table is refused by the
 * server. A case listed here is checked to be ACCEPTED by the server, so the list
 * cannot silently go stale.
 */
const ZOD_ONLY: ReadonlyMap<string, string> = new Map<string, string>([]);

/**
 * Where the server reports a mistake, when it is not where the CLI does. Duplicates
 * in a list-map (x-kubernetes-list-type: map) are reported at the item, with its key
 * ({"name":"LOG_LEVEL"}), not at the key field.
 */
const SERVER_PATH: ReadonlyMap<string, string> = new Map([
  ['duplicate env var', 'spec.env[1]'],
  // Root rules on metadata.name: the CRD declares nothing under metadata (see
  // METADATA_NAME_RULES), so the server reports them at the root, and the message
  // starts with the field's name.
  ['name too long for derived names', '<nil>'],
  ['name starting with a digit', '<nil>'],
]);

interface ServerError {
  /** The field, in the server's notation ("spec.env[0].valueFrom"), or "<nil>". */
  path: string;
  detail: string;
}

/** The server's note that CEL rules were skipped because a schema error came first. */
const SKIPPED_RULES_NOTE = 'some validation rules were not checked because the object was invalid';

/**
 * The field errors in kubectl's stderr, from both kinds of refusal:
 *   Error from server (BadRequest): ... strict decoding error: unknown field "spec.replicas"
 *   The BackendApp "x" is invalid: spec.api.port: Invalid value: ...
 *   The BackendApp "x" is invalid: \n* spec.image: Required value\n* <nil>: ...
 * The server's note about skipped CEL rules is left out: it names no field.
 */
function serverErrors(stderr: string): ServerError[] {
  const errors: ServerError[] = [...stderr.matchAll(/unknown field "([^"]+)"/g)].map((m) => ({ path: m[1] as string, detail: 'unknown field' }));
  const invalid = /is invalid: ([\s\S]*)$/.exec(stderr)?.[1];
  if (invalid !== undefined) {
    const items = invalid.startsWith('\n* ') ? invalid.slice(3).split(/\n\* /) : [invalid];
    for (const item of items) {
      const at = item.indexOf(': ');
      if (at < 0) {
        errors.push({ path: '<unparsed>', detail: item.trim() });
        continue;
      }
      const error = { path: item.slice(0, at), detail: item.slice(at + 2).trim() };
      if (!(error.path === '<nil>' && error.detail.includes(SKIPPED_RULES_NOTE))) errors.push(error);
    }
  }
  return errors;
}

function dryRunStrict(manifest: unknown, namespace: string) {
  return kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', namespace, '-f', '-'], { input: JSON.stringify(manifest) });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Single spaces everywhere, so text kubectl wrapped at 80 columns compares with the schema's. */
function squash(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

describe('the BackendApp CRD on the API server', () => {
  it('is Established, with the schema exactly as generated', async () => {
    // Raw JSON, not the typed client, which renames x-kubernetes-* keys.
    const crd = JSON.parse(await kubectlOk(['get', 'crd', CRD_NAME, '-o', 'json'])) as V1CustomResourceDefinition;
    const conditions = Object.fromEntries((crd.status?.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conditions).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
    expect(crd.status?.acceptedNames).toMatchObject({ kind: 'BackendApp', plural: 'backendapps', shortNames: ['bapp'] });
    // The server kept every keyword: nothing was dropped as unknown or rewritten.
    const served = crd.spec.versions.find((v) => v.name === 'v1alpha1')?.schema?.openAPIV3Schema;
    expect(served).toEqual(JSON.parse(JSON.stringify(backendAppOpenAPISchema())));
  });

  it('is explained field by field by `kubectl explain`', async () => {
    const health = backendAppOpenAPISchema().properties?.spec?.properties?.api?.properties?.health;
    const expected = [health?.description, ...Object.values(health?.properties ?? {}).map((p) => p.description)];
    expect(expected.length).toBeGreaterThanOrEqual(8);
    for (const d of expected) expect(d, 'every health field has a description').toBeTruthy();
    // kubectl explain reads the published OpenAPI, which lags the CRD by a few seconds.
    const text = await waitFor(
      'kubectl explain backendapp.spec.api.health to show the descriptions',
      async () => {
        const out = squash(await kubectlOk(['explain', 'backendapp.spec.api.health']));
        return expected.every((d) => out.includes(squash(d as string))) ? out : undefined;
      },
      60_000,
      1_000,
    );
    expect(text).toContain('FIELD: health <Object>');
    for (const field of ['startup', 'readiness', 'liveness', 'intervalSeconds', 'timeoutSeconds', 'startPeriodSeconds', 'retries']) {
      expect(text).toMatch(new RegExp(`\\b${field} <(Object|integer)>`));
    }
  });
});

describe('server-side validation', () => {
  it('accepts the finwise example under strict validation, with no warning, and defaults it as the CLI does', async () => {
    const res = await kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', ns.name, '-f', SAMPLE, '-o', 'json']);
    expect(res.stderr, 'no error and no warning').toBe('');
    expect(res.code).toBe(0);
    const stored = JSON.parse(res.stdout) as { metadata: { namespace: string }; spec: unknown };
    expect(stored.metadata.namespace).toBe(ns.name);
    // The CRD's defaults and zod's are generated from one schema; the server must
    // fill in exactly what `backendapp-operator render` assumes.
    const cli = validateBackendApp(sampleManifest());
    if (!cli.ok) throw new Error(`the sample is invalid: ${JSON.stringify(cli.errors)}`);
    expect(stored.spec).toEqual(JSON.parse(JSON.stringify(cli.app.spec)));
  });

  const expressible = invalidCases.filter((c) => !NOT_A_BACKENDAPP.has(c.name));

  it('covers every case of the invalid-manifest table', () => {
    expect(expressible.length + NOT_A_BACKENDAPP.size).toBe(invalidCases.length);
    for (const name of [...NOT_A_BACKENDAPP.keys(), ...ZOD_ONLY.keys(), ...SERVER_PATH.keys()]) {
      expect(
        invalidCases.map((c) => c.name),
        `"${name}" is not a case of the table`,
      ).toContain(name);
    }
  });

  it.each(expressible)('refuses $name at $path', async (c: InvalidCase) => {
    const res = await dryRunStrict(invalidManifest(c), ns.name);
    const zodOnly = ZOD_ONLY.get(c.name);
    if (zodOnly !== undefined) {
      // Known gap (see ZOD_ONLY): the server accepts it; the day it refuses, drop it from the list.
      expect(res.code, `the server now refuses "${c.name}": remove it from ZOD_ONLY\n${res.stderr}`).toBe(0);
      return;
    }
    expect(res.code, `the server accepted a manifest the CLI refuses (${c.path}: ${c.message})`).not.toBe(0);
    const errors = serverErrors(res.stderr);
    const where = SERVER_PATH.get(c.name) ?? c.path;
    // Named at the field, and only there: no knock-on errors, nothing unnamed.
    expect([...new Set(errors.map((e) => e.path))], res.stderr).toEqual([where]);
    if (c.cel) {
      // The CEL twin of the zod rule: the same message, word for word.
      const message = where === '<nil>' ? `${c.path} ${c.message}` : c.message;
      expect(
        errors.map((e) => e.detail),
        res.stderr,
      ).toContainEqual(expect.stringMatching(new RegExp(`: ${escapeRegExp(message)}$`)));
    }
  });

  it.each(invalidCases.filter((c) => NOT_A_BACKENDAPP.has(c.name)))('cannot even send $name to the server', async (c: InvalidCase) => {
    const res = await dryRunStrict(invalidManifest(c), ns.name);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('no matches for kind');
  });
});

describe('transition rules', () => {
  const name = 'immutable';

  /** The finwise example, created for real: no operator runs in this namespace, so nothing reconciles it. */
  async function created(): Promise<Record<string, unknown>> {
    const m = { ...sampleManifest(), metadata: { name, namespace: ns.name } };
    await kubectlOk(['create', '-f', '-'], { input: JSON.stringify(m) });
    return m;
  }

  async function storedSpec(): Promise<{ databases: Record<string, Record<string, unknown>> }> {
    return JSON.parse(await kubectlOk(['get', 'backendapp', name, '-n', ns.name, '-o', 'json'])).spec;
  }

  function mergePatch(patch: unknown) {
    return kubectl(['patch', 'backendapp', name, '-n', ns.name, '--type=merge', '-p', JSON.stringify(patch)]);
  }

  it('refuses to change fields that are fixed once the data exists, and allows the rest', async () => {
    await created();
    const refusals: { patch: unknown; path: string; message: string }[] = [
      {
        patch: { spec: { databases: { postgres: { storage: { size: '20Gi' } } } } },
        path: 'spec.databases.postgres.storage',
        message:
          "is immutable: a StatefulSet's volumeClaimTemplates cannot change; to grow a volume, edit its PersistentVolumeClaim (the StorageClass must allow expansion)",
      },
      {
        patch: { spec: { databases: { postgres: { version: '16' } } } },
        path: 'spec.databases.postgres.version',
        message:
          'major version cannot change in place: PostgreSQL data directories are not compatible across major versions; dump and restore into a new database instead',
      },
      {
        patch: { spec: { databases: { mongodb: { username: 'root' } } } },
        path: 'spec.databases.mongodb.username',
        message: 'is immutable: the user was created at first start',
      },
    ];
    for (const { patch, path: at, message } of refusals) {
      const res = await mergePatch(patch);
      expect(res.code, `${at} changed: ${res.stdout}`).not.toBe(0);
      expect(serverErrors(res.stderr), res.stderr).toEqual([{ path: at, detail: expect.stringMatching(new RegExp(`: ${escapeRegExp(message)}$`)) }]);
    }
    const before = await storedSpec();
    expect(before.databases.postgres).toMatchObject({ version: '15', storage: { size: '10Gi' } });
    expect(before.databases.mongodb).toMatchObject({ username: 'app' });

    // Not everything is frozen: a minor version (same major) and the image may change.
    const res = await mergePatch({ spec: { image: 'ghcr.io/finwise/backend:1.4.3', databases: { postgres: { version: '15.8' } } } });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect((await storedSpec()).databases.postgres).toMatchObject({ version: '15.8', storage: { size: '10Gi' } });
  });
});

describe('objects rendered from the example, in a namespace that enforces Pod Security "restricted"', () => {
  const app: BackendApp = (() => {
    const m = sampleManifest();
    const result = validateBackendApp({ ...m, metadata: { ...(m.metadata as object), namespace: restricted.name } });
    if (!result.ok) throw new Error(`the sample is invalid: ${JSON.stringify(result.errors)}`);
    return result.app;
  })();
  // Freshly generated credentials, as `backendapp-operator render --show-secrets` prints them.
  const objects: KubernetesObject[] = renderApp(app, { existingSecrets: {} });
  const label = (o: KubernetesObject) => `${o.kind} ${o.metadata?.name}`;

  it('are all there: every component of the example', () => {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ['Secret', 'Service', 'StatefulSet', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy']) {
      expect(kinds, kind).toContain(kind);
    }
    expect(
      objects
        .filter((o) => o.kind === 'Deployment')
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['finwise-api', 'finwise-beat', 'finwise-flower', 'finwise-worker']);
    expect(objects.filter((o) => o.kind === 'StatefulSet')).toHaveLength(3);
    expect(objects.every((o) => o.metadata?.namespace === restricted.name)).toBe(true);
  });

  it('the namespace really warns: a pod template that is not restricted gets a warning', async () => {
    // The control for the checks below: without it, an empty stderr could mean Pod
    // Security admission is off or the label is ignored.
    const loose = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'loose', namespace: restricted.name },
      spec: {
        selector: { matchLabels: { app: 'loose' } },
        template: { metadata: { labels: { app: 'loose' } }, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } },
      },
    };
    const res = await dryRunStrict(loose, restricted.name);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/Warning: would violate PodSecurity "restricted:latest"/);
  });

  it.each(objects.map((o) => [label(o), o] as const))('%s is accepted with no warning', async (_, object) => {
    const res = await dryRunStrict(object, restricted.name);
    expect(res.stderr, 'no error and no warning').toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/\(server dry run\)/);
  });

  it('are accepted together, in apply order, with no warning', async () => {
    const list = { apiVersion: 'v1', kind: 'List', items: objects };
    const res = await dryRunStrict(list, restricted.name);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout.trim().split('\n')).toHaveLength(objects.length);
  });
});

// Keep the helper honest: a parser that found nothing would make the table pass vacuously.
describe('serverErrors', () => {
  it('reads both kinds of refusal', () => {
    expect(
      serverErrors('Error from server (BadRequest): error when creating "STDIN": strict decoding error: unknown field "spec.a", unknown field "spec.b"\n'),
    ).toEqual([
      { path: 'spec.a', detail: 'unknown field' },
      { path: 'spec.b', detail: 'unknown field' },
    ]);
    expect(
      serverErrors(
        `The BackendApp "x" is invalid: \n* spec.image: Required value\n* <nil>: Invalid value: null: ${SKIPPED_RULES_NOTE}; correct the existing errors to complete validation\n`,
      ),
    ).toEqual([{ path: 'spec.image', detail: 'Required value' }]);
    expect(serverErrors('The BackendApp "x" is invalid: spec.flower: Invalid value: needs redis\n')).toEqual([
      { path: 'spec.flower', detail: 'Invalid value: needs redis' },
    ]);
    expect(serverErrors('backendapp.backendapp.io/x created (server dry run)')).toEqual([]);
  });
});
