import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { APPLIED_HASH_ANNOTATION, appliedHash, canonicalJSON, divergentLists, isSubset, needsApply, withAppliedHash } from './drift.js';

const desired = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'ns', labels: { app: 'web' } },
  spec: {
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'api', image: 'acme:1', resources: { limits: { cpu: '0.5', memory: '1Gi' } } }] },
    },
  },
};

/** What the API server returns: our fields plus defaults, status and an HPA-written replica count. */
function liveOf(obj: typeof desired) {
  const sent = withAppliedHash(obj);
  return {
    ...sent,
    metadata: { ...sent.metadata, uid: 'u1', resourceVersion: '7', generation: 3 },
    spec: {
      ...sent.spec,
      replicas: 5,
      template: {
        ...sent.spec.template,
        spec: {
          ...sent.spec.template.spec,
          dnsPolicy: 'ClusterFirst',
          containers: [{ ...sent.spec.template.spec.containers[0]!, resources: { limits: { cpu: '500m', memory: '1Gi' } }, imagePullPolicy: 'IfNotPresent' }],
        },
      },
    },
    status: { replicas: 5 },
  };
}

describe('needsApply', () => {
  it('is false when the live object holds everything we set, plus defaults and an autoscaled replica count', () => {
    expect(needsApply(desired, liveOf(desired))).toBe(false);
  });

  it('is true when the object does not exist', () => {
    expect(needsApply(desired, undefined)).toBe(true);
  });

  it('is true after a hand edit of a field we manage', () => {
    const live = liveOf(desired);
    live.spec.template.spec.containers[0]!.image = 'acme:hacked';
    expect(needsApply(desired, live)).toBe(true);
  });

  it('is true when the spec dropped a field, which only the hash shows', () => {
    const live = liveOf(desired);
    const { labels: _dropped, ...metadata } = desired.metadata;
    const next = { ...desired, metadata };
    expect(isSubset(next, live)).toBe(true);
    expect(needsApply(next, live)).toBe(true);
  });

  it('is true when the hash annotation was removed by hand', () => {
    const live = liveOf(desired);
    delete (live.metadata as unknown as { annotations: Record<string, string> }).annotations[APPLIED_HASH_ANNOTATION];
    expect(needsApply(desired, live)).toBe(true);
  });
});

describe('divergentLists', () => {
  const desired = { spec: { ports: [{ name: 'http', port: 8000 }], template: { containers: [{ name: 'api', env: [{ name: 'A', value: '1' }] }] } } };
  it('finds lists whose items differ, or only those with a different number of items', () => {
    const renumbered = {
      spec: { ports: [{ name: 'http', port: 31337, protocol: 'TCP' }], template: { containers: [{ name: 'api', env: [{ name: 'A', value: '1' }] }] } },
    };
    expect(divergentLists(desired, renumbered)).toEqual([{ path: '/spec/ports', value: [{ name: 'http', port: 8000 }] }]);
    expect(divergentLists(desired, renumbered, true)).toEqual([]);
    const added = {
      spec: {
        ports: [{ name: 'http', port: 8000 }],
        template: {
          containers: [
            {
              name: 'api',
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
          ],
        },
      },
    };
    expect(divergentLists(desired, added, true)).toEqual([{ path: '/spec/template/containers/0/env', value: [{ name: 'A', value: '1' }] }]);
  });
  it('is empty when the live object holds our lists (defaults added), and escapes keys as JSON pointers', () => {
    expect(divergentLists(desired, { spec: { ports: [{ name: 'http', port: 8000, protocol: 'TCP' }], template: desired.spec.template } })).toEqual([]);
    expect(divergentLists({ metadata: { 'a/b~c': [1] } }, { metadata: { 'a/b~c': [1, 2] } })).toEqual([{ path: '/metadata/a~1b~0c', value: [1] }]);
  });
});

describe('isSubset', () => {
  it('compares quantities by value and arrays by length', () => {
    expect(isSubset({ cpu: '0.5' }, { cpu: '500m' })).toBe(true);
    expect(isSubset({ cpu: 2 }, { cpu: '2' })).toBe(true);
    expect(isSubset({ cpu: '1' }, { cpu: '500m' })).toBe(false);
    expect(isSubset({ a: [1] }, { a: [1, 2] })).toBe(false);
    expect(isSubset({ a: true }, { a: 'true' })).toBe(false);
  });
});

describe('appliedHash', () => {
  it('ignores key order', () => {
    expect(appliedHash({ kind: 'A', apiVersion: 'v1', metadata: { name: 'x' } } as never)).toBe(
      appliedHash({ apiVersion: 'v1', metadata: { name: 'x' }, kind: 'A' } as never),
    );
    expect(canonicalJSON({ b: 1, a: { d: 1, c: 2 } })).toBe('{"a":{"c":2,"d":1},"b":1}');
  });
});

describe('drift, at the edges', () => {
  it('stamps a short hash: 16 hex digits, the same for the same object', () => {
    // The annotation's name is what a live object carries from older versions: it must not change.
    expect(APPLIED_HASH_ANNOTATION).toBe('backendapp.io/applied-hash');
    const hash = withAppliedHash<KubernetesObject>(desired).metadata?.annotations?.[APPLIED_HASH_ANNOTATION];
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(hash).toBe(appliedHash(desired));
  });

  it('applies over an object that exists without annotations (made by hand before the app)', () => {
    const live = { ...liveOf(desired), metadata: { name: 'web', namespace: 'ns', labels: { app: 'web' } } };
    expect(needsApply(desired, live)).toBe(true);
  });

  it('sees no drift in a field the desired object leaves undefined (replicas under an HPA) that the live one sets', () => {
    const autoscaled = { ...desired, spec: { ...desired.spec, replicas: undefined } };
    const live = { ...liveOf(desired), metadata: withAppliedHash(autoscaled).metadata };
    expect(isSubset(autoscaled, live)).toBe(true);
    expect(needsApply(autoscaled, live)).toBe(false);
  });

  it('compares lists item by item, and an object field against whatever the live object holds there', () => {
    expect(isSubset({ args: ['a', 'b'] }, { args: ['a', 'c'] })).toBe(false);
    expect(isSubset({ args: ['a', 'b'] }, { args: ['a', 'b'] })).toBe(true);
    expect(isSubset({ resources: { limits: { cpu: '1' } } }, { resources: null })).toBe(false);
    expect(isSubset({ resources: {} }, { resources: 'x' })).toBe(false);
    expect(isSubset({ resources: {} }, { resources: {} })).toBe(true);
  });

  it('takes a number for the same string, and a quantity for its value, but nothing else across types', () => {
    expect(isSubset({ cpu: '2' }, { cpu: 2 })).toBe(true);
    expect(isSubset({ port: 8000 }, { port: '8000' })).toBe(true);
    expect(isSubset({ memory: '1Gi' }, { memory: 1073741824 })).toBe(true);
    expect(isSubset({ enabled: 'true' }, { enabled: true })).toBe(false);
    expect(isSubset({ image: 'acme:1' }, { image: 'acme:2' })).toBe(false);
  });

  it('finds no divergent list where the live object lacks the list or its parent: apply adds those', () => {
    expect(divergentLists({ spec: { ports: [{ port: 1 }] } }, { spec: {} })).toEqual([]);
    expect(divergentLists({ spec: { ports: [{ port: 1 }] } }, {})).toEqual([]);
    expect(divergentLists({ spec: { ports: [{ port: 1 }] } }, { spec: { ports: 'x' } })).toEqual([]);
  });
});
