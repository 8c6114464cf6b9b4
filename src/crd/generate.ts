// Builds the BackendApp CustomResourceDefinition from the zod schema.
//
// zod's JSON Schema is not a Kubernetes structural schema: it emits $schema,
// additionalProperties: false, anyOf for unions, const, and integer bounds of
// ±2^53. The converter below rewrites exactly the constructs the API uses and
// throws on anything else, so a new zod feature cannot slip an invalid schema
// into the CRD unnoticed. Strictness comes from the API server instead:
// unknown fields are pruned, and refused under `kubectl --validate=strict`.
import { dump } from 'js-yaml';
import { z } from 'zod';
import type { V1CustomResourceDefinition, V1JSONSchemaProps } from '@kubernetes/client-node';
import {
  API_VERSION,
  BackendAppSpecSchema,
  BackendAppStatusSchema,
  CEL_RULES_KEY,
  GROUP,
  KIND,
  METADATA_NAME_RULES,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from '../api/v1alpha1.js';

/** Where `npm run generate` writes the CRD, relative to the repository root. */
export const CRD_PATH = 'crds/backendapp.io_backendapps.yaml';

/** A JSON Schema node as zod emits it. */
type JsonSchema = Record<string, unknown>;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Keywords copied as they are, in this order (also the order in the YAML). */
const PASSTHROUGH = ['format', 'enum', 'default', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'maxProperties'] as const;

const EXTENSIONS = [
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-preserve-unknown-fields',
  CEL_RULES_KEY,
] as const;

/** Keywords understood and deliberately dropped or rewritten. */
const HANDLED = new Set<string>([
  '$schema',
  'type',
  'description',
  'properties',
  'required',
  'items',
  'additionalProperties',
  'propertyNames',
  'anyOf',
  'const',
  ...PASSTHROUGH,
  ...EXTENSIONS,
]);

export class SchemaConversionError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'SchemaConversionError';
  }
}

/**
 * Convert one zod-emitted JSON Schema node into a structural OpenAPI v3 schema.
 * `path` names the node in errors (".spec.api.port").
 */
export function toStructural(node: JsonSchema, path: string): V1JSONSchemaProps {
  for (const key of Object.keys(node)) {
    if (!HANDLED.has(key)) throw new SchemaConversionError(path, `unsupported JSON Schema keyword "${key}"`);
  }
  const out: Record<string, unknown> = {};
  if (typeof node.description === 'string') out.description = node.description;

  if (node['x-kubernetes-int-or-string'] === true) {
    intOrString(node, path, out);
    copyRules(node, out);
    return out as V1JSONSchemaProps;
  }
  if (node.anyOf !== undefined) {
    throw new SchemaConversionError(path, 'unions are not structural; mark quantities with x-kubernetes-int-or-string');
  }

  const type = node.type;
  if (typeof type !== 'string') throw new SchemaConversionError(path, 'every field needs a single type');
  out.type = type;

  for (const key of PASSTHROUGH) {
    if (node[key] === undefined) continue;
    if ((key === 'minimum' || key === 'maximum') && Math.abs(node[key] as number) >= MAX_SAFE) continue; // zod's int bounds
    // A format (date-time) already says what the pattern spells out, and zod's
    // date-time regex is written for JavaScript, not RE2.
    if (key === 'pattern' && node.format !== undefined) continue;
    out[key] = key === 'pattern' ? re2Pattern(node[key] as string, path) : node[key];
  }
  if (node.const !== undefined) out.enum = [node.const];

  if (type === 'object') {
    const properties = node.properties as Record<string, JsonSchema> | undefined;
    const additional = node.additionalProperties;
    if (properties && Object.keys(properties).length === 0 && node['x-kubernetes-preserve-unknown-fields'] === true) {
      // An object that keeps whatever it is given (z.looseObject({})): no properties to list.
    } else if (properties) {
      const converted: Record<string, V1JSONSchemaProps> = {};
      for (const [name, prop] of Object.entries(properties)) {
        if (typeof prop.description !== 'string' || prop.description === '') {
          throw new SchemaConversionError(`${path}.${name}`, 'missing description (kubectl explain shows it); add .describe()');
        }
        converted[name] = toStructural(prop, `${path}.${name}`);
      }
      out.properties = converted;
      const required = node.required as string[] | undefined;
      if (required && required.length > 0) out.required = [...required];
    } else if (additional !== undefined && typeof additional === 'object' && additional !== null) {
      // A map (z.record): keys are strings already; propertyNames is implied.
      out.additionalProperties = toStructural(additional as JsonSchema, `${path}[*]`);
    } else {
      throw new SchemaConversionError(path, 'objects need properties or a value schema');
    }
  }
  if (type === 'array') {
    if (typeof node.items !== 'object' || node.items === null) throw new SchemaConversionError(path, 'arrays need items');
    out.items = toStructural(node.items as JsonSchema, `${path}[*]`);
  }

  for (const key of EXTENSIONS) {
    if (key === CEL_RULES_KEY || key === 'x-kubernetes-int-or-string') continue;
    if (node[key] !== undefined) out[key] = node[key];
  }
  copyRules(node, out);
  return out as V1JSONSchemaProps;
}

/** What each branch of an int-or-string union may say, and the CRD keeps. */
const INT_OR_STRING_BRANCH: Record<'string' | 'integer', readonly string[]> = {
  string: ['minLength', 'maxLength', 'pattern'],
  integer: ['minimum', 'maximum'],
};

/**
 * Structural form of int-or-string: no type, no anyOf. The bounds of both branches
 * are kept on the one node: the API server applies string keywords (pattern,
 * maxLength) only to string values and numeric ones (minimum) only to integers, as
 * for resource quantities in core types. Dropping a branch's bounds would let the
 * server accept what zod refuses (a quantity of -1).
 */
function intOrString(node: JsonSchema, path: string, out: Record<string, unknown>): void {
  const branches = node.anyOf;
  const fail = (problem: string) => new SchemaConversionError(path, `int-or-string ${problem}`);
  if (!Array.isArray(branches)) throw fail('must come from a union');
  for (const key of Object.keys(node)) {
    if (!['anyOf', 'description', 'default', 'x-kubernetes-int-or-string', CEL_RULES_KEY].includes(key)) {
      throw fail(`cannot take "${key}" on the union; put it on the string or integer branch`);
    }
  }
  const byType = new Map<string, JsonSchema>();
  for (const branch of branches as JsonSchema[]) {
    const type = branch.type;
    if ((type !== 'string' && type !== 'integer') || byType.has(type)) throw fail('must be a union of one string and one integer');
    for (const key of Object.keys(branch)) {
      if (key !== 'type' && !INT_OR_STRING_BRANCH[type].includes(key)) throw fail(`cannot express "${key}" on its ${type} branch`);
    }
    byType.set(type, branch);
  }
  if (byType.size !== 2) throw fail('must be a union of one string and one integer');
  out['x-kubernetes-int-or-string'] = true;
  if (node.default !== undefined) out.default = node.default;
  const int = byType.get('integer') as JsonSchema;
  for (const key of INT_OR_STRING_BRANCH.integer) {
    const v = int[key];
    if (typeof v === 'number' && Math.abs(v) < MAX_SAFE) out[key] = v; // not zod's int bounds
  }
  const str = byType.get('string') as JsonSchema;
  for (const key of INT_OR_STRING_BRANCH.string) {
    if (str[key] !== undefined) out[key] = key === 'pattern' ? re2Pattern(str[key] as string, path) : str[key];
  }
}

/**
 * JavaScript's \s, the whitespace zod's patterns refuse, spelled for RE2: RE2's \s is
 * only [\t\n\f\r ], JavaScript's adds \v, U+FEFF and every Unicode space separator
 * (U+00A0 no-break space, U+2028, ...), which RE2 names \pZ.
 */
const JS_WHITESPACE_IN_RE2 = '\\s\\v\\pZ\\x{feff}';

/**
 * A zod (JavaScript) pattern rewritten for the API server's RE2, with the same
 * meaning. The constructs whose meaning differs between the two are rewritten (\s,
 * \S, \uXXXX) or refused (., lookaround, backreferences, \p in a non-Unicode
 * pattern), so a pattern can never mean one thing to the CLI and another to the
 * API server.
 */
export function re2Pattern(js: string, path: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < js.length; i++) {
    const c = js[i] as string;
    if (c === '\\') {
      const e = js[++i];
      if (e === undefined) throw new SchemaConversionError(path, `pattern ${js} ends with a lone backslash`);
      if (e === 's') out += inClass ? JS_WHITESPACE_IN_RE2 : `[${JS_WHITESPACE_IN_RE2}]`;
      else if (e === 'S') {
        if (inClass) throw new SchemaConversionError(path, `pattern ${js}: \\S inside a character class has no RE2 equivalent; use [^\\s...]`);
        out += `[^${JS_WHITESPACE_IN_RE2}]`;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(js.slice(i + 1, i + 5))) {
        out += `\\x{${js.slice(i + 1, i + 5)}}`;
        i += 4;
      } else if (/[1-9kpPcu]/.test(e)) {
        throw new SchemaConversionError(path, `pattern ${js}: \\${e} means something else (or nothing) in RE2`);
      } else {
        out += `\\${e}`;
      }
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      // "[]" and "[^]" are classes in JavaScript; in RE2 the "]" is a literal.
      if (/^\^?\]/.test(js.slice(i + 1))) throw new SchemaConversionError(path, `pattern ${js}: "[]" and "[^]" differ in RE2`);
      inClass = true;
    } else if (c === '.') {
      throw new SchemaConversionError(path, `pattern ${js}: "." excludes \\r and U+2028/9 in JavaScript but not in RE2; write the class`);
    } else if (c === '(' && js[i + 1] === '?' && js[i + 2] !== ':') {
      throw new SchemaConversionError(path, `pattern ${js}: lookaround and named groups are not RE2 (or differ)`);
    }
    out += c;
  }
  return out;
}

function copyRules(node: JsonSchema, out: Record<string, unknown>): void {
  const rules = node[CEL_RULES_KEY];
  if (Array.isArray(rules) && rules.length > 0) out[CEL_RULES_KEY] = rules;
}

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  // io: 'input' so fields with defaults are optional, as a user writes them.
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw', reused: 'inline', cycles: 'throw' }) as JsonSchema;
}

/** The openAPIV3Schema of the BackendApp CRD. */
export function backendAppOpenAPISchema(): V1JSONSchemaProps {
  return {
    description: 'BackendApp runs a Python backend (an HTTP API, Celery worker and beat, Flower, PostgreSQL, Redis and MongoDB) from one resource.',
    type: 'object',
    properties: {
      apiVersion: {
        description:
          'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
        type: 'string',
      },
      kind: {
        description:
          'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to.',
        type: 'string',
      },
      // Nothing declared under metadata (see METADATA_NAME_RULES): converters that
      // close every object with properties would then refuse namespace and labels.
      metadata: { type: 'object' },
      spec: toStructural(jsonSchemaOf(BackendAppSpecSchema), '.spec'),
      status: toStructural(jsonSchemaOf(BackendAppStatusSchema), '.status'),
    },
    required: ['spec'],
    [CEL_RULES_KEY]: METADATA_NAME_RULES.map((r) => ({ ...r })),
  } as V1JSONSchemaProps;
}

export function buildCRD(): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: [...SHORT_NAMES] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: backendAppOpenAPISchema() },
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Whether every component is ready.' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'One-word summary of the state.' },
            {
              name: 'Migration',
              type: 'string',
              jsonPath: '.status.release.migration.phase',
              description: "Phase of the release's migration, with spec.migrations.",
            },
            { name: 'Summary', type: 'string', jsonPath: '.status.summary', priority: 1, description: 'Ready and desired pods per component.' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}

const HEADER = `# Generated by \`npm run generate\` from src/api/v1alpha1.ts (${API_VERSION} ${KIND}). Do not edit.\n`;

export function crdYAML(): string {
  return HEADER + dump(buildCRD(), { noRefs: true, lineWidth: -1 });
}
