// The chart's metadata and values, checked without Helm: every value is in the
// schema and the README's table, the schema is self-contained, and Chart.yaml
// follows the package's version. (helm lint and helm template run in
// test/integration/chart.test.ts, where the Helm binary is guaranteed.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const chartDir = path.join(root, 'charts/backendapp-operator');
const read = (f: string) => readFileSync(path.join(chartDir, f), 'utf8');

const values = load(read('values.yaml')) as Record<string, unknown>;
const schema = JSON.parse(read('values.schema.json')) as JsonSchema;

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  $ref?: string;
  [key: string]: unknown;
}

/** Documented value keys: leaves, and maps or lists the user fills in (an empty default). */
function valueKeys(obj: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) => {
    const key = `${prefix}${k}`;
    const isMap = typeof v === 'object' && v !== null && !Array.isArray(v);
    // resources is documented as one value.
    if (isMap && Object.keys(v).length > 0 && key !== 'resources') return valueKeys(v as Record<string, unknown>, `${key}.`);
    return [key];
  });
}

function refs(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(refs);
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [v] : refs(v)));
}

describe('the chart', () => {
  it('declares apiVersion v2, a kubeVersion range and the package version as appVersion', () => {
    const chart = load(read('Chart.yaml')) as Record<string, string>;
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'backendapp-operator', kubeVersion: '>=1.29.0-0', appVersion: pkg.version });
  });

  it('has a self-contained values schema (Helm would fetch a remote $ref over the network)', () => {
    const all = refs(schema);
    expect(all.length).toBeGreaterThan(0);
    for (const ref of all) expect(ref, `values.schema.json: $ref ${ref} is not local`).toMatch(/^#\//);
  });

  it('declares every value in values.schema.json', () => {
    for (const key of valueKeys(values)) {
      let node: JsonSchema | undefined = schema;
      for (const part of key.split('.')) node = node?.properties?.[part];
      expect(node, `values.schema.json has no property for ${key}`).toBeDefined();
    }
  });

  it('documents every value in the README values table, and nothing that is not a value', () => {
    const readme = read('README.md');
    const documented = [...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(valueKeys(values).sort());
  });

  it('comments every value in values.yaml', () => {
    const lines = read('values.yaml').split('\n');
    lines.forEach((line, i) => {
      // A key with a value on its line (not a parent of nested keys) needs a comment right above.
      if (/^\s*[a-zA-Z]\w*: \S/.test(line) && !/^\s{4,}\w+: /.test(line)) {
        expect(lines[i - 1], `values.yaml:${i + 1} (${line.trim()}) has no comment above it`).toMatch(/^\s*#/);
      }
    });
  });
});
