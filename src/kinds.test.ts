import { describe, expect, it } from 'vitest';
import { BACKENDAPP, CHILD_KINDS, JOB, PERSISTENT_VOLUME_CLAIM, POD, childSelector, kindKey, kindOf, labelOf, nameOf, namespaceOf } from './kinds.js';

describe('the kind table', () => {
  // Written out: the REST paths the writer and the caches use, and the RBAC rules
  // (config/rbac/rules.yaml), must name exactly these resources.
  it('names each kind’s group, version and plural as the API server serves them', () => {
    const rows = [BACKENDAPP, ...CHILD_KINDS, POD].map((k) => `${k.apiVersion} ${k.kind} ${k.group || 'core'}/${k.plural} ${k.namespaced}`);
    expect(rows).toEqual([
      'backendapp.io/v1alpha1 BackendApp backendapp.io/backendapps true',
      'networking.k8s.io/v1 NetworkPolicy networking.k8s.io/networkpolicies true',
      'v1 Secret core/secrets true',
      'v1 PersistentVolumeClaim core/persistentvolumeclaims true',
      'v1 Service core/services true',
      'apps/v1 StatefulSet apps/statefulsets true',
      'apps/v1 Deployment apps/deployments true',
      'batch/v1 Job batch/jobs true',
      'autoscaling/v2 HorizontalPodAutoscaler autoscaling/horizontalpodautoscalers true',
      'policy/v1 PodDisruptionBudget policy/poddisruptionbudgets true',
      'v1 Pod core/pods true',
    ]);
  });

  it('applies and prunes every child but Jobs (created once) and claims (data)', () => {
    expect(CHILD_KINDS.filter((k) => k.createOnly).map((k) => k.kind)).toEqual(['Job']);
    expect(CHILD_KINDS.filter((k) => !k.prunable).map((k) => k.kind)).toEqual(['PersistentVolumeClaim', 'Job']);
    expect(JOB.prunable).toBe(false);
    expect(PERSISTENT_VOLUME_CLAIM.createOnly).toBe(false);
  });

  it('finds a kind by cache key or object, and refuses one it does not know', () => {
    expect(kindKey({ apiVersion: 'apps/v1', kind: 'Deployment' })).toBe('apps/v1/Deployment');
    expect(kindOf('batch/v1/Job')).toBe(JOB);
    expect(kindOf({ apiVersion: 'v1', kind: 'Pod' })).toBe(POD);
    expect(() => kindOf('v1/ConfigMap')).toThrow('unknown kind v1/ConfigMap');
  });
});

describe('childSelector', () => {
  it('caches what the operator made, and of the claims only the app volumes’', () => {
    expect(childSelector(JOB)).toBe('app.kubernetes.io/managed-by=backendapp-operator');
    expect(childSelector(PERSISTENT_VOLUME_CLAIM)).toBe('app.kubernetes.io/managed-by=backendapp-operator,app.kubernetes.io/component=volume');
  });
});

describe('object accessors', () => {
  it('read name, namespace and a label, with empty or undefined for what is missing', () => {
    const o = { metadata: { name: 'web-api', namespace: 'shop', labels: { a: 'b' } } };
    expect([nameOf(o), namespaceOf(o), labelOf(o, 'a'), labelOf(o, 'c')]).toEqual(['web-api', 'shop', 'b', undefined]);
    expect([nameOf({}), namespaceOf({}), labelOf({}, 'a')]).toEqual(['', '', undefined]);
  });
});
