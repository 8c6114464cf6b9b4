// How a schema error reads to a person: at the field's path as kubectl writes it,
// saying what was wrong and what was given, sorted by path.
import type { z } from 'zod';

export interface FieldError {
  /** Where, e.g. "spec.api.autoscaling.maxReplicas" or "spec.env[2].name". */
  path: string;
  /** What was wrong and what is allowed. */
  message: string;
}

export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `  ${fieldError(e)}`).join('\n');
}

/** The errors on one line, for a condition message or an event. */
export function formatFieldErrorsInline(errors: readonly FieldError[]): string {
  return errors.map(fieldError).join('; ');
}

function fieldError(e: FieldError): string {
  return `${e.path || '(root)'}: ${e.message}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

export function toFieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  const errors: FieldError[] = [];
  const emptyAt = new Set<string>();
  for (const iss of issues) {
    // An empty string fails its pattern too; "must not be empty" says it all.
    if (iss.input === '') {
      const where = formatPath(iss.path);
      if (emptyAt.has(where)) continue;
      emptyAt.add(where);
    }
    if (iss.code === 'unrecognized_keys') {
      // One error per unknown key, at the key itself, so the path points at the typo.
      for (const key of iss.keys) errors.push({ path: formatPath([...iss.path, key]), message: iss.message });
      continue;
    }
    // Cross-field messages describe a relation, not a value; the rest say what they got
    // (a missing value shows nothing: got(undefined) is '').
    const suffix = iss.code === 'custom' ? '' : got(iss.input);
    errors.push({ path: formatPath(iss.path), message: `${iss.message}${suffix}` });
  }
  // Stable order for people and tests: by path; sort is stable, so zod's order stays within a path.
  return errors.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function genericMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return `is required (${article(iss.expected)})`;
      const hint = iss.expected === 'string' && typeof iss.input === 'number' ? '; quote it in YAML' : '';
      return `must be ${article(iss.expected)}, not ${typeName(iss.input)}${hint}`;
    }
    case 'too_small':
      return bound(iss.origin, 'at least', iss.minimum);
    case 'too_big':
      return bound(iss.origin, 'at most', iss.maximum);
    case 'invalid_value':
      return `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return 'unknown field';
    default:
      return undefined;
  }
}

function bound(origin: string, relation: string, n: number | bigint): string {
  switch (origin) {
    case 'string':
      return n === 1 && relation === 'at least' ? 'must not be empty' : `must be ${relation} ${n} characters long`;
    case 'array':
      return `must have ${relation} ${n} item${n === 1 ? '' : 's'}`;
    default:
      return `must be ${relation} ${n}`;
  }
}

function article(type: string): string {
  const name = type === 'object' ? 'mapping' : type === 'array' ? 'list' : type;
  return /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return article(typeof v);
}

function got(input: unknown): string {
  if (typeof input === 'string') return ` (got ${JSON.stringify(input.length > 80 ? `${input.slice(0, 77)}...` : input)})`;
  if (typeof input === 'number' || typeof input === 'boolean') return ` (got ${String(input)})`;
  return '';
}
