// What a user sees for each kind of mistake: the field's path and the message the
// CLI prints. Rules that relate several fields are also CEL rules in the CRD; for
// those the test checks the CRD carries the same message at the same field, so
// `kubectl apply` and `backendapp-operator render` say the same thing.
import { describe, expect, it } from 'vitest';
import type { V1JSONSchemaProps } from '@kubernetes/client-node';
import { validateBackendApp } from '../../src/api/v1alpha1.js';
import { backendAppOpenAPISchema } from '../../src/crd/generate.js';
import { invalidCases as cases, invalidManifest } from '../support/invalid-manifests.js';

/** The CEL messages the CRD attaches to the field at `path` (e.g. "spec.env[0].valueFrom"). */
function celMessagesAt(path: string): string[] {
  const segments = path.replace(/\[\d+\]/g, '.[*]').split('.');
  const messages: string[] = [];
  let node: V1JSONSchemaProps | undefined = backendAppOpenAPISchema();
  for (let i = 0; node && i <= segments.length; i++) {
    const rest = segments.slice(i).filter((s) => s !== '[*]');
    const rules = (node as Record<string, unknown>)['x-kubernetes-validations'] as { message: string; fieldPath?: string }[] | undefined;
    for (const r of rules ?? []) {
      const target = r.fieldPath ?? '';
      if (target === (rest.length ? `.${rest.join('.')}` : '')) messages.push(r.message);
      // Root rules on metadata.name carry no fieldPath (the CRD declares nothing
      // under metadata); their message starts with the field instead.
      else if (i === 0 && r.fieldPath === undefined && r.message.startsWith(`${path} `)) messages.push(r.message.slice(path.length + 1));
    }
    const seg = segments[i];
    if (seg === undefined) break;
    node = seg === '[*]' ? node.items : node.properties?.[seg];
  }
  return messages;
}

describe('invalid manifests', () => {
  it('has a case for at least twenty mistakes', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)('$name → $path', (c) => {
    const { path, message, cel } = c;
    const result = validateBackendApp(invalidManifest(c));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const at = result.errors.filter((e) => e.path === path);
    expect(
      at.map((e) => e.message),
      `errors: ${JSON.stringify(result.errors)}`,
    ).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
    if (cel) expect(celMessagesAt(path)).toContain(message);
  });

  it('only reports the mistake, not knock-on errors', () => {
    for (const c of cases) {
      const result = validateBackendApp(invalidManifest(c));
      expect(result.ok ? [] : result.errors, c.name).toHaveLength(1);
    }
  });
});
