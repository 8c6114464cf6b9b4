// Every example in config/samples/ is a valid BackendApp whose pods meet Pod
// Security "restricted": what the README points new users at must work as written.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubernetesObject, V1PodSpec } from '@kubernetes/client-node';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { formatFieldErrors, validateBackendApp } from '../../src/api/v1alpha1.js';
import { renderApp } from '../../src/render/index.js';
import { restrictedViolations } from '../../src/render/pod.js';

const dir = path.resolve(import.meta.dirname, '../../config/samples');
const samples = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');

describe('config/samples', () => {
  it('lists every sample in its kustomization', () => {
    const kustomization = readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8');
    expect(samples.length).toBeGreaterThan(1);
    for (const f of samples) expect(kustomization, f).toContain(`- ${f}`);
  });

  it.each(samples)('%s is valid and renders restricted pods', (file) => {
    const docs = loadAll(readFileSync(path.join(dir, file), 'utf8')) as unknown[];
    for (const doc of docs) {
      const result = validateBackendApp({ ...(doc as object), metadata: { ...(doc as { metadata: object }).metadata, namespace: 'samples', uid: 'u' } });
      if (!result.ok) throw new Error(`${file} is invalid:\n${formatFieldErrors(result.errors)}`);
      const objects = renderApp(result.app, { existingSecrets: {} });
      const pods = objects.flatMap((o: KubernetesObject & { spec?: { template?: { spec?: V1PodSpec } } }) =>
        o.spec?.template?.spec ? [[`${o.kind}/${o.metadata?.name}`, o.spec.template.spec] as const] : [],
      );
      expect(pods.length, file).toBeGreaterThan(0);
      for (const [id, spec] of pods) expect(restrictedViolations(spec), id).toEqual([]);
    }
  });
});
