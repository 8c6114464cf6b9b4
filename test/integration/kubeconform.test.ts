// The CRD as the ecosystem's offline validators see it: kubeconform, with the CRD
// converted to JSON Schema the standard way (openapi2jsonschema's rule: objects that
// list properties are closed) and laid out as datree's CRD catalogue does. Users run
// this in CI before `kubectl apply`; a CRD that declared metadata.name made every
// BackendApp with a namespace or labels fail it.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { crdToJSONSchema } from '../support/jsonschema.js';
import { run, tool } from '../support/cluster.js';

const root = path.resolve(import.meta.dirname, '../..');
const CRD = path.join(root, 'crds/backendapp.io_backendapps.yaml');
const SAMPLE = readFileSync(path.join(root, 'config/samples/finwise.yaml'), 'utf8');

type Schema = Record<string, unknown>;

function openAPISchemaOf(crdText: string): Schema {
  const crd = load(crdText) as { spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] } };
  const v = crd.spec.versions.find((x) => x.name === 'v1alpha1');
  if (!v) throw new Error('no v1alpha1 in the CRD');
  return v.schema.openAPIV3Schema;
}

/** Writes the converted schema in datree's layout and runs kubeconform on `manifest`. */
async function kubeconform(schema: Schema, manifest: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kubeconform-'));
  mkdirSync(path.join(dir, 'backendapp.io'));
  writeFileSync(path.join(dir, 'backendapp.io', 'backendapp_v1alpha1.json'), JSON.stringify(crdToJSONSchema(schema)));
  const file = path.join(dir, 'app.yaml');
  writeFileSync(file, manifest);
  return run(tool('kubeconform'), ['-strict', '-summary', '-schema-location', `${dir}/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`, file]);
}

/** The sample as a user keeps it in Git: with a namespace and labels. */
const withNamespaceAndLabels = SAMPLE.replace('  name: finwise\n', '  name: finwise\n  namespace: money\n  labels: {team: payments}\n');

describe('kubeconform with the CRD converted the standard way', () => {
  const schema = openAPISchemaOf(readFileSync(CRD, 'utf8'));

  it('accepts the sample with a namespace and labels', async () => {
    expect(withNamespaceAndLabels).toContain('namespace: money');
    const res = await kubeconform(schema, withNamespaceAndLabels);
    expect(res.stdout + res.stderr).toMatch(/Valid: 1, Invalid: 0, Errors: 0/);
    expect(res.code).toBe(0);
  });

  it('still refuses what the CRD refuses: an unknown field, a wrong type', async () => {
    const unknown = await kubeconform(schema, withNamespaceAndLabels.replace('  api:\n', '  replicas: 3\n  api:\n'));
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout).toMatch(/replicas/);
    const wrongType = await kubeconform(schema, withNamespaceAndLabels.replace('port: 5555', 'port: "5555"'));
    expect(wrongType.code).not.toBe(0);
  });

  // Why the CRD declares nothing under metadata: with metadata.name declared, the
  // same conversion closes metadata and refuses namespace and labels.
  it('would refuse every namespaced, labelled app if the CRD declared metadata.name', async () => {
    const declared = { ...schema, properties: { ...(schema.properties as Schema), metadata: { type: 'object', properties: { name: { type: 'string' } } } } };
    const res = await kubeconform(declared, withNamespaceAndLabels);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toMatch(/metadata/);
  });
});
