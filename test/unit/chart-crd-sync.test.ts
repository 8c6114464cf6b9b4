// The CRD and the RBAC rules each have one source and copies that Helm and
// kustomize can reach (hack/sync-generated.ts writes them). These tests fail when
// a copy drifts, and hold the rules to least privilege.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import {
  CHART_CRD,
  CHART_RULES,
  CRD_SOURCE,
  FORBIDDEN_VERBS,
  KUSTOMIZE_ROLE,
  ROOT,
  RULES_SOURCE,
  crdCopies,
  parseRules,
  rulesCopies,
  type Copy,
} from '../../hack/sync-generated.js';

function expectUpToDate(copies: Copy[]): void {
  for (const { path: p, source, content } of copies) {
    let actual: string | undefined;
    try {
      actual = readFileSync(path.join(ROOT, p), 'utf8');
    } catch {
      actual = undefined;
    }
    expect(actual, `${p} is ${actual === undefined ? 'missing' : 'out of date'}: it must be a copy of ${source}; run \`npm run generate\``).toBe(content);
  }
}

const rules = () => parseRules(readFileSync(path.join(ROOT, RULES_SOURCE), 'utf8'));

describe('generated copies', () => {
  it(`the chart's crds/ and config/crd/bases/ hold ${CRD_SOURCE} as generated`, () => {
    expectUpToDate(crdCopies());
  });

  it(`the chart's files/rbac-rules.yaml and config/rbac/role.yaml come from ${RULES_SOURCE}`, () => {
    expectUpToDate(rulesCopies());
  });

  it("the chart's crds/ holds nothing else Helm would install", () => {
    const manifests = readdirSync(path.join(ROOT, path.dirname(CHART_CRD))).filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(manifests).toEqual([path.basename(CHART_CRD)]);
  });

  it('config/rbac/role.yaml and the chart rules parse to the same rules as the source', () => {
    const role = load(readFileSync(path.join(ROOT, KUSTOMIZE_ROLE), 'utf8')) as { kind: string; rules: unknown };
    expect(role.kind).toBe('ClusterRole');
    expect(role.rules).toEqual(rules());
    expect(load(readFileSync(path.join(ROOT, CHART_RULES), 'utf8'))).toEqual(rules());
  });
});

describe('the operator RBAC rules', () => {
  // What the operator may do, in one table, so a change to its permissions is a
  // deliberate, reviewed change of this test too.
  it('grant exactly the verbs the operator uses', () => {
    const granted: Record<string, string[]> = {};
    for (const rule of rules()) {
      for (const group of rule.apiGroups) {
        for (const resource of rule.resources) {
          const key = `${group === '' ? 'core' : group}/${resource}`;
          granted[key] = [...new Set([...(granted[key] ?? []), ...rule.verbs])].sort();
        }
      }
    }
    // Read from watch caches, written by server-side apply (PATCH, and create for a
    // new object), deleted when turned off; see the header of config/rbac/rules.yaml.
    const applied = ['create', 'delete', 'list', 'patch', 'watch'];
    expect(granted).toEqual({
      'backendapp.io/backendapps': ['list', 'patch', 'watch'],
      'backendapp.io/backendapps/status': ['patch'],
      'backendapp.io/backendapps/finalizers': ['update'],
      'apps/deployments': applied,
      'apps/statefulsets': applied,
      'core/services': applied,
      'core/secrets': [...applied, 'get'].sort(),
      'core/persistentvolumeclaims': applied,
      // Read only, to say in status why a component's pods do not run.
      'core/pods': ['list', 'watch'],
      // Migration Jobs: created once (never applied), read by name after a create
      // that found one, deleted past the last three releases.
      'batch/jobs': ['create', 'delete', 'get', 'list', 'watch'],
      'autoscaling/horizontalpodautoscalers': applied,
      'policy/poddisruptionbudgets': applied,
      'networking.k8s.io/networkpolicies': applied,
      'events.k8s.io/events': ['create', 'patch'],
    });
  });

  it('never grant deletecollection on anything, nor create or delete BackendApps', () => {
    const all = rules();
    expect(all.flatMap((r) => r.verbs)).not.toContain('deletecollection');
    const apps = all.filter((r) => r.apiGroups.includes('backendapp.io') && r.resources.includes('backendapps'));
    expect(apps.flatMap((r) => r.verbs)).not.toContain('create');
    expect(apps.flatMap((r) => r.verbs)).not.toContain('delete');
  });

  it('give every rule its reason as a comment', () => {
    const lines = readFileSync(path.join(ROOT, RULES_SOURCE), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.startsWith('- apiGroups:')) expect(lines[i - 1], `${RULES_SOURCE}:${i + 1} has no comment saying why`).toMatch(/^#/);
    });
  });

  const refused: [what: string, text: string, message: RegExp][] = [
    ['a wildcard verb', '- {apiGroups: [apps], resources: [deployments], verbs: ["*"]}', /wildcards are not allowed/],
    ['a wildcard resource', '- {apiGroups: [""], resources: ["*"], verbs: [get]}', /wildcards are not allowed/],
    ['a wildcard group', '- {apiGroups: ["*"], resources: [pods], verbs: [get]}', /wildcards are not allowed/],
    ...FORBIDDEN_VERBS.map((v): [string, string, RegExp] => [
      `the ${v} verb`,
      `- {apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [${v}]}`,
      new RegExp(`"${v}" is not allowed`),
    ]),
    ['pods/exec', '- {apiGroups: [""], resources: [pods/exec], verbs: [create]}', /"pods\/exec" is not allowed/],
    ['a misspelt field', '- {apiGroup: [apps], resources: [deployments], verbs: [get]}', /\[0\]/],
  ];
  it.each(refused)('refuse %s, naming the rule', (_what, text, message) => {
    expect(() => parseRules(text)).toThrow(message);
  });
});
