// The second half of `npm run generate`: copies the generated CRD and the RBAC rules
// to the places that cannot read them where they live. Helm packages only the
// chart's own folder, and kustomize refuses files outside a kustomization's tree,
// so both get copies; test/unit/chart-crd-sync.test.ts fails when one is stale.
//
//   npx tsx hack/sync-generated.ts           write the copies
//   npx tsx hack/sync-generated.ts --check   write nothing; exit 1 naming each stale copy
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { load } from 'js-yaml';
import { z } from 'zod';

export const ROOT = path.resolve(import.meta.dirname, '..');

/** Written by the CRD generator (src/crd/generate.ts). */
export const CRD_SOURCE = 'crds/backendapp.io_backendapps.yaml';
/** The operator's RBAC rules, written by hand: the single source. */
export const RULES_SOURCE = 'config/rbac/rules.yaml';

export const CHART_CRD = 'charts/backendapp-operator/crds/backendapp.io_backendapps.yaml';
export const KUSTOMIZE_CRD = 'config/crd/bases/backendapp.io_backendapps.yaml';
export const CHART_RULES = 'charts/backendapp-operator/files/rbac-rules.yaml';
export const KUSTOMIZE_ROLE = 'config/rbac/role.yaml';

/** A file that must hold exactly `content`, derived from `source`. */
export interface Copy {
  path: string;
  source: string;
  content: string;
}

export interface Stale {
  path: string;
  source: string;
  problem: 'missing' | 'differs';
}

const PolicyRuleSchema = z
  .object({
    apiGroups: z.array(z.string()).min(1),
    resources: z.array(z.string().min(1)).min(1),
    verbs: z.array(z.string().min(1)).min(1),
    resourceNames: z.array(z.string().min(1)).optional(),
  })
  .strict();

export type PolicyRule = z.infer<typeof PolicyRuleSchema>;

/** Verbs that let a subject grant itself or others more than it has. */
export const FORBIDDEN_VERBS: readonly string[] = ['escalate', 'bind', 'impersonate'];
/** Subresources that run code in or reach into pods. */
export const FORBIDDEN_RESOURCES: readonly string[] = ['pods/exec', 'pods/attach', 'pods/portforward', 'pods/proxy', 'services/proxy', 'nodes/proxy'];

/**
 * Parses the rules file and enforces the policy: a list of namespaced-style
 * PolicyRules (no nonResourceURLs), no "*" anywhere, no privilege-granting verbs,
 * no exec-like subresources. Errors name the rule and field.
 */
export function parseRules(text: string, file = RULES_SOURCE): PolicyRule[] {
  const parsed = z.array(PolicyRuleSchema).min(1).safeParse(load(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') : '';
    throw new Error(
      `${file}${where}: ${issue?.message ?? 'invalid'}; expected a list of PolicyRules with apiGroups, resources and verbs (and optionally resourceNames)`,
    );
  }
  const problems: string[] = [];
  parsed.data.forEach((rule, i) => {
    const at = `${file}[${i}]`;
    for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames'] as const) {
      if (rule[field]?.some((v) => v.includes('*')))
        problems.push(`${at}.${field}: wildcards are not allowed; list each ${field.slice(0, -1)} the operator uses`);
    }
    for (const verb of rule.verbs) {
      if (FORBIDDEN_VERBS.includes(verb)) problems.push(`${at}.verbs: "${verb}" is not allowed (it lets the operator grant itself more than it has)`);
    }
    for (const resource of rule.resources) {
      if (FORBIDDEN_RESOURCES.includes(resource)) problems.push(`${at}.resources: "${resource}" is not allowed (the operator never reaches into pods)`);
    }
  });
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return parsed.data;
}

/**
 * The rules file without its header (the comment block up to the first blank
 * line): the rules with their reasons.
 */
function rulesBody(text: string): string {
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]?.startsWith('#')) i++;
  while (i < lines.length && lines[i]?.trim() === '') i++;
  return lines.slice(i).join('\n');
}

function readSource(root: string, source: string): string {
  const file = path.join(root, source);
  if (!existsSync(file)) {
    throw new Error(`${source} does not exist; run \`npm run generate\` (it writes ${source} and then its copies)`);
  }
  return readFileSync(file, 'utf8');
}

/** The chart's and kustomize's copies of the generated CRD. */
export function crdCopies(root = ROOT): Copy[] {
  const crd = readSource(root, CRD_SOURCE);
  return [
    { path: CHART_CRD, source: CRD_SOURCE, content: crd },
    { path: KUSTOMIZE_CRD, source: CRD_SOURCE, content: crd },
  ];
}

/** The chart's rules file and kustomize's ClusterRole, from the rules source. */
export function rulesCopies(root = ROOT): Copy[] {
  const rulesText = readSource(root, RULES_SOURCE);
  parseRules(rulesText);
  const body = rulesBody(rulesText);
  const role = [
    `# Generated by \`npm run generate\` from ${RULES_SOURCE}. Do not edit.`,
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: ClusterRole',
    'metadata:',
    '  name: manager-role',
    '  labels:',
    '    app.kubernetes.io/name: backendapp-operator',
    '    app.kubernetes.io/managed-by: kustomize',
    'rules:',
    body,
  ].join('\n');
  return [
    { path: CHART_RULES, source: RULES_SOURCE, content: `# Copied by \`npm run generate\` from ${RULES_SOURCE}. Do not edit.\n${body}` },
    { path: KUSTOMIZE_ROLE, source: RULES_SOURCE, content: role },
  ];
}

/** Copies under `root` that are missing or differ from what the sources say. */
export function staleCopies(copies: readonly Copy[], root = ROOT): Stale[] {
  return copies.flatMap(({ path: p, source, content }): Stale[] => {
    const file = path.join(root, p);
    if (!existsSync(file)) return [{ path: p, source, problem: 'missing' }];
    return readFileSync(file, 'utf8') === content ? [] : [{ path: p, source, problem: 'differs' }];
  });
}

export function writeCopies(copies: readonly Copy[], root = ROOT): string[] {
  const written: string[] = [];
  for (const { path: p, content } of copies) {
    const file = path.join(root, p);
    if (existsSync(file) && readFileSync(file, 'utf8') === content) continue;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    written.push(p);
  }
  return written;
}

function main(args: string[]): number {
  const check = args.includes('--check');
  let failed = false;
  // Each source on its own, so a missing CRD does not hold back the RBAC copies.
  for (const copies of [rulesCopies, crdCopies]) {
    try {
      const expected = copies();
      if (check) {
        const stale = staleCopies(expected);
        for (const s of stale)
          console.error(`${s.path} is ${s.problem === 'missing' ? 'missing' : 'out of date'}; it must be a copy of ${s.source}: run \`npm run generate\``);
        failed ||= stale.length > 0;
      } else {
        for (const p of writeCopies(expected)) console.log(`wrote ${p}`);
      }
    } catch (err) {
      console.error(err instanceof Error ? err.message : String(err));
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
