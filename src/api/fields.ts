// Building blocks of the API schema: strict objects whose errors name the allowed
// fields, whole numbers in a range, quantities, ports, images, and cross-field rules
// written once with a TypeScript check and its CEL twin. Patterns are RE2-compatible:
// the CRD reuses them verbatim.
import { z } from 'zod';
import { QUANTITY_PATTERN } from './quantity.js';

// ---------------------------------------------------------------------------
// Cross-field rules: one definition, two enforcers.

/** Key under which the CRD generator finds CEL rules in a schema's metadata. */
export const CEL_RULES_KEY = 'x-kubernetes-validations';

export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
}

export interface CrossFieldRule<T> {
  /** CEL run by the API server with `self` bound to this object (after defaulting). */
  rule: string;
  /** What was wrong and what is allowed; the field is named by fieldPath. */
  message: string;
  /** The offending field relative to this object, JSONPath style (".maxReplicas"). */
  fieldPath?: string;
  /**
   * The same rule in TypeScript, run on the parsed value (defaults applied). Absent
   * for transition rules (oldSelf), which only the API server can check.
   */
  holds?: (value: T) => boolean;
}

export function withRules<S extends z.ZodType>(schema: S, rules: readonly CrossFieldRule<z.output<S>>[]) {
  const refined = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      if (r.holds && !r.holds(value)) {
        ctx.addIssue({ code: 'custom', message: r.message, path: fieldPathToZod(r.fieldPath) });
      }
    }
  });
  return addCelRules(
    refined,
    rules.map(({ rule, message, fieldPath }) => (fieldPath === undefined ? { rule, message } : { rule, message, fieldPath })),
  );
}

/** Attach CEL rules for the CRD, keeping rules attached earlier (zod metadata merges by key, last wins). */
export function addCelRules<S extends z.ZodType>(schema: S, rules: readonly CelRule[]): S {
  const existing = schema.meta()?.[CEL_RULES_KEY];
  const before = Array.isArray(existing) ? (existing as CelRule[]) : [];
  return schema.meta({ [CEL_RULES_KEY]: [...before, ...rules] });
}

function fieldPathToZod(fieldPath: string | undefined): string[] {
  return fieldPath ? fieldPath.split('.').filter((s) => s !== '') : [];
}

/** Server-side only: a field that may be set once and never changed. */
export function immutable<S extends z.ZodType>(schema: S, message: string): S {
  return addCelRules(schema, [{ rule: 'self == oldSelf', message }]);
}

/**
 * Default an absent object to the object with all its field defaults, not `{}`:
 * the API server checks a default against the CEL rules as written, without
 * applying the nested defaults first, so `{}` would fail rules that read them.
 */
export function defaultsToFilled<S extends z.ZodType<object>>(schema: S) {
  return schema.default(() => schema.parse({}) as z.core.util.NoUndefined<z.output<S>>);
}

/**
 * A strict object (unknown fields are errors, as with `kubectl --validate=strict`)
 * whose error names the fields that are allowed, plus optional hints for fields
 * people commonly try.
 */
export function strict<T extends z.core.$ZodLooseShape>(shape: T, hints: Record<string, string> = {}) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code !== 'unrecognized_keys') return undefined;
      const hint = iss.keys.map((k) => hints[k]).find((h) => h !== undefined);
      return hint ?? `unknown field; the fields allowed here are: ${allowed}`;
    },
  });
}

// ---------------------------------------------------------------------------
// Reusable field types. Patterns are RE2-compatible: the CRD reuses them verbatim.

export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** What the API server itself requires of every object name; "[.]" rather than a backslash, which a CEL string would need escaped. */
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const objectName = (what: string) =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(DNS1123_SUBDOMAIN, {
      error: 'must be a Kubernetes object name: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit',
    })
    .describe(what);

/** A whole number in [min, max]; `noun` names it in the error ("a whole number of seconds"). */
export function intRange(min: number, max: number, noun: string) {
  const error = `must be ${noun} from ${min} to ${max}`;
  return z.number().int().min(min, { error }).max(max, { error });
}

const QUANTITY_ERROR = 'must be a Kubernetes quantity such as "500m", "2", "512Mi" or "10Gi"';

export const quantity = (what: string) =>
  z
    .union([z.string().max(64).regex(new RegExp(QUANTITY_PATTERN), { error: QUANTITY_ERROR }), z.number().int().min(0, { error: QUANTITY_ERROR })], {
      error: QUANTITY_ERROR,
    })
    // Numbers are accepted as in Pod specs (`cpu: 2`); the CRD marks this int-or-string
    // and keeps each branch's bounds (the pattern for strings, >= 0 for numbers).
    .meta({ 'x-kubernetes-int-or-string': true })
    .describe(what);

export const port = (what: string) =>
  z
    .number()
    .int()
    .min(1, { error: 'must be a port number between 1 and 65535' })
    .max(65535, {
      error: 'must be a port number between 1 and 65535',
    })
    .describe(what);

export const image = (what: string) =>
  z
    .string()
    .min(1, { error: 'must not be empty: give an image reference such as "ghcr.io/acme/backend:1.4.2"' })
    .max(1024)
    .regex(/^\S+$/, { error: 'must be an image reference without spaces, e.g. "ghcr.io/acme/backend:1.4.2"' })
    .describe(what);

export const command = (what: string) =>
  z.array(z.string().max(4096)).min(1, { error: 'must not be empty; omit the field to use the image default' }).max(128).describe(what);

export const httpPath = z
  .string()
  .max(1024)
  .regex(/^\/\S*$/, { error: 'must be an HTTP path starting with "/", e.g. "/health"' })
  .describe('HTTP path probed with GET on the container port; any status from 200 to 399 counts as success.');

export const seconds = (what: string, def: number, max = 3600) => intRange(1, max, 'a whole number of seconds').default(def).describe(what);

export const PYTHON_APP = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_.]*)?$/;
export const celeryApp = (what: string) =>
  z
    .string()
    .max(256)
    .regex(PYTHON_APP, { error: 'must be a Python module path as given to `celery -A`, e.g. "app.celery" or "proj.celery:app"' })
    .describe(what);

export const logLevel = z.enum(['debug', 'info', 'warning', 'error', 'critical']).default('info').describe('Celery log level (--loglevel).');

export const replicas = (what: string) => intRange(0, 1000, 'a whole number').default(1).describe(what);

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
export const dbIdentifier = (what: string) =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(IDENTIFIER, { error: 'must be lowercase letters, digits and "_", starting with a letter or "_" (at most 63 characters)' })
    .default('app')
    .describe(what);

export const imageTag = (what: string) =>
  z
    .string()
    .min(1, { error: 'must not be empty: give the image tag, e.g. "15"' })
    .max(64)
    .regex(/^[0-9]+(\.[0-9]+)*(-[A-Za-z0-9][A-Za-z0-9._-]*)?$/, {
      error: 'must be an image tag that starts with the version number, e.g. "15", "7.2" or "16-alpine"; quote it in YAML so 7.0 stays "7.0"',
    })
    .describe(what);

/**
 * A map of strings (labels, annotations, a nodeSelector) with at most `maxEntries`
 * keys of at most 317 characters (a 253-character prefix, "/" and a 63-character
 * name): bounded, so the API server can cost the CEL rules that read it.
 */
export const stringMap = (what: string, maxEntries: number, maxValueLength?: number) =>
  z
    .record(z.string().min(1).max(317), (maxValueLength === undefined ? z.string() : z.string().max(maxValueLength)).describe('The value of the key.'))
    .refine((m) => Object.keys(m).length <= maxEntries, { error: `must have at most ${maxEntries} entries` })
    .meta({ maxProperties: maxEntries })
    .describe(what);
