import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { sampleManifest } from '../render/fixtures.test-util.js';
import { formatFieldErrors, formatFieldErrorsInline, genericMessage, toFieldErrors } from './errors.js';
import { validateBackendApp } from './v1alpha1.js';

// How a schema error reads to the person who wrote the manifest: the messages the CLI
// prints and the API server's twin rules echo.

type RawIssue = z.core.$ZodRawIssue;
type Issue = z.core.$ZodIssue;
const raw = (iss: Record<string, unknown>) => genericMessage({ path: [], input: undefined, ...iss } as unknown as RawIssue);
const issue = (iss: Record<string, unknown>) => ({ message: 'bad', ...iss }) as unknown as Issue;

/** A loose view of the sample manifest, for edits that break it on purpose. */
type Manifest = { spec: Record<string, unknown> & { api: Record<string, unknown> } };

function errorsFor(edit: (m: Manifest) => void): string {
  const m = sampleManifest() as unknown as Manifest;
  edit(m);
  const result = validateBackendApp(m);
  return result.ok ? '' : formatFieldErrors(result.errors);
}

describe('genericMessage', () => {
  it('says what type was wanted and what was given, and how to fix a number that should be a string', () => {
    expect(raw({ code: 'invalid_type', expected: 'object', input: null })).toBe('must be a mapping, not null');
    expect(raw({ code: 'invalid_type', expected: 'object', input: [1] })).toBe('must be a mapping, not a list');
    expect(raw({ code: 'invalid_type', expected: 'array', input: { a: 1 } })).toBe('must be a list, not a mapping');
    expect(raw({ code: 'invalid_type', expected: 'string', input: 15 })).toBe('must be a string, not a number; quote it in YAML');
    expect(raw({ code: 'invalid_type', expected: 'number', input: 'x' })).toBe('must be a number, not a string');
    expect(raw({ code: 'invalid_type', expected: 'string', input: true })).toBe('must be a string, not a boolean');
    expect(raw({ code: 'invalid_type', expected: 'int', input: 'x' })).toBe('must be an int, not a string');
    expect(raw({ code: 'invalid_type', expected: 'object', input: 5 })).toBe('must be a mapping, not a number');
    expect(raw({ code: 'invalid_type', expected: 'object', input: undefined })).toBe('is required (a mapping)');
  });

  it('words bounds by what is bounded', () => {
    expect(raw({ code: 'too_small', origin: 'string', minimum: 1 })).toBe('must not be empty');
    expect(raw({ code: 'too_small', origin: 'string', minimum: 3 })).toBe('must be at least 3 characters long');
    expect(raw({ code: 'too_big', origin: 'string', maximum: 1 })).toBe('must be at most 1 characters long');
    expect(raw({ code: 'too_small', origin: 'array', minimum: 1 })).toBe('must have at least 1 item');
    expect(raw({ code: 'too_big', origin: 'array', maximum: 128 })).toBe('must have at most 128 items');
    expect(raw({ code: 'too_small', origin: 'number', minimum: 0 })).toBe('must be at least 0');
    expect(raw({ code: 'too_big', origin: 'number', maximum: 10 })).toBe('must be at most 10');
  });

  it('lists the allowed values, names an unknown field, and leaves other issues to their schema', () => {
    expect(raw({ code: 'invalid_value', values: ['Retain', 'Delete'] })).toBe('must be one of "Retain", "Delete"');
    expect(raw({ code: 'unrecognized_keys', keys: ['x'] })).toBe('unknown field');
    expect(raw({ code: 'invalid_format', format: 'regex' })).toBeUndefined();
  });
});

describe('toFieldErrors', () => {
  it('puts one error at each unknown key, where the typo is', () => {
    expect(toFieldErrors([issue({ code: 'unrecognized_keys', path: ['spec', 'api'], keys: ['prot', 'replica'], message: 'unknown field' })])).toEqual([
      { path: 'spec.api.prot', message: 'unknown field' },
      { path: 'spec.api.replica', message: 'unknown field' },
    ]);
  });

  it('says what was given, except for a missing field and a cross-field rule', () => {
    expect(
      toFieldErrors([
        issue({ code: 'invalid_type', path: ['a'], input: undefined, message: 'is required' }),
        issue({ code: 'custom', path: ['b'], input: 'v5', message: 'must be 6 or later' }),
        issue({ code: 'too_small', path: ['c'], input: 0, message: 'must be at least 1' }),
        issue({ code: 'invalid_type', path: ['d'], input: false, message: 'must be a string' }),
        issue({ code: 'invalid_type', path: ['e'], input: { x: 1 }, message: 'must be a list' }),
      ]),
    ).toEqual([
      { path: 'a', message: 'is required' },
      { path: 'b', message: 'must be 6 or later' },
      { path: 'c', message: 'must be at least 1 (got 0)' },
      { path: 'd', message: 'must be a string (got false)' },
      { path: 'e', message: 'must be a list' },
    ]);
  });

  it('says an empty string once, however many rules it breaks', () => {
    const errors = toFieldErrors([
      issue({ code: 'too_small', path: ['spec', 'image'], input: '', message: 'must not be empty' }),
      issue({ code: 'invalid_format', path: ['spec', 'image'], input: '', message: 'must be an image reference' }),
      issue({ code: 'too_small', path: ['spec', 'api', 'args', 0], input: '', message: 'must not be empty' }),
    ]);
    expect(errors).toEqual([
      { path: 'spec.api.args[0]', message: 'must not be empty (got "")' },
      { path: 'spec.image', message: 'must not be empty (got "")' },
    ]);
  });

  it("sorts by path and keeps the schema's order within one path", () => {
    const errors = toFieldErrors([
      issue({ code: 'custom', path: ['spec', 'worker'], message: 'second' }),
      issue({ code: 'custom', path: ['spec', 'api'], message: 'first' }),
      issue({ code: 'custom', path: ['spec', 'worker'], message: 'third' }),
      issue({ code: 'custom', path: ['spec', 'api', 'port'], message: 'after api' }),
    ]);
    expect(errors.map((e) => `${e.path}: ${e.message}`)).toEqual(['spec.api: first', 'spec.api.port: after api', 'spec.worker: second', 'spec.worker: third']);
  });
});

describe('errors as the CLI prints them', () => {
  it('names the root when the manifest is not a mapping at all', () => {
    const printed = (input: unknown) => {
      const result = validateBackendApp(input);
      return result.ok ? '' : formatFieldErrors(result.errors);
    };
    expect(printed(null)).toBe('  (root): must be a mapping, not null');
    expect(printed('BackendApp')).toBe('  (root): must be a mapping, not a string (got "BackendApp")');
  });

  it('quotes a given string whole up to 80 characters, and cuts a longer one', () => {
    const eighty = `a b${'x'.repeat(77)}`;
    expect(errorsFor((m) => (m.spec.image = eighty))).toContain(`(got "${eighty}")`);
    const longer = `a b${'x'.repeat(78)}`;
    expect(errorsFor((m) => (m.spec.image = longer))).toContain(`(got "${longer.slice(0, 77)}...")`);
  });

  it('says what a wrong value was, number or boolean, and nothing for a mapping', () => {
    expect(errorsFor((m) => (m.spec.api.replicas = 2000))).toBe('  spec.api.replicas: must be a whole number from 0 to 1000 (got 2000)');
    expect(errorsFor((m) => (m.spec.image = false))).toBe('  spec.image: must be a string, not a boolean (got false)');
    expect(errorsFor((m) => (m.spec.env = { A: '1' }))).toBe('  spec.env: must be a list, not a mapping');
  });
});

describe('formatFieldErrors', () => {
  const errors = [
    { path: 'spec.api.port', message: 'must be at most 65535' },
    { path: '', message: 'must be a mapping' },
  ];
  it('lists one error per indented line for a terminal', () => {
    expect(formatFieldErrors(errors)).toBe('  spec.api.port: must be at most 65535\n  (root): must be a mapping');
  });
  it('puts them on one line for a condition message or an event', () => {
    expect(formatFieldErrorsInline(errors)).toBe('spec.api.port: must be at most 65535; (root): must be a mapping');
  });
});
