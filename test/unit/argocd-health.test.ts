// Argo CD's health check for BackendApp, run the way Argo CD runs it (Lua 5.1,
// base and table libraries only) against every case in its health_test.yaml,
// the same file Argo CD's own tests read for its built-in checks. Every case runs
// twice: under Debian's lua5.1, and under gopher-lua itself (hack/gopher-lua, the
// version Argo CD pins, its libraries and its conversion of the object).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { findGopherLua, findLua51, runHealthScript, runHealthScriptGopher, toLuaLiteral, toObjectJson } from '../support/lua.js';

const root = path.resolve(import.meta.dirname, '../..');
const checkDir = path.join(root, 'argocd/resource_customizations/backendapp.io/BackendApp');
const script = path.join(checkDir, 'health.lua');

interface HealthTest {
  healthStatus: { status: string; message: string };
  inputPath: string;
}

const { tests } = load(readFileSync(path.join(checkDir, 'health_test.yaml'), 'utf8')) as { tests: HealthTest[] };

function readObject(inputPath: string): unknown {
  return load(readFileSync(path.join(checkDir, inputPath), 'utf8'));
}

describe('argocd health.lua for backendapp.io/BackendApp', () => {
  it('has a Lua 5.1 interpreter to run it with', () => {
    expect(findLua51()).toBeTruthy();
  });

  it('has the gopher-lua runner to run it with', () => {
    expect(findGopherLua()).toBeTruthy();
  });

  it.each(tests.map((t) => [t.inputPath, t] as const))('lua5.1: %s', (_name, t) => {
    expect(runHealthScript(findLua51(), script, readObject(t.inputPath))).toEqual(t.healthStatus);
  });

  it.each(tests.map((t) => [t.inputPath, t] as const))('gopher-lua: %s', (_name, t) => {
    expect(runHealthScriptGopher(findGopherLua(), script, readObject(t.inputPath))).toEqual(t.healthStatus);
  });

  it('covers every file in testdata/, and every case has one', () => {
    const files = readdirSync(path.join(checkDir, 'testdata'))
      .map((f) => `testdata/${f}`)
      .sort();
    expect(tests.map((t) => t.inputPath).sort()).toEqual(files);
  });

  it('gives each health status Argo CD knows at least one case', () => {
    expect(new Set(tests.map((t) => t.healthStatus.status))).toEqual(new Set(['Healthy', 'Progressing', 'Degraded']));
  });

  it('is the same script as the argocd-cm snippet in docs/argocd.md', () => {
    const doc = readFileSync(path.join(root, 'docs/argocd.md'), 'utf8');
    const key = '  resource.customizations.health.backendapp.io_BackendApp: |\n';
    const start = doc.indexOf(key);
    expect(start, 'docs/argocd.md has no argocd-cm snippet for the health check').toBeGreaterThan(-1);
    const lines: string[] = [];
    for (const line of doc.slice(start + key.length).split('\n')) {
      if (line !== '' && !line.startsWith('    ')) break;
      lines.push(line.slice(4));
    }
    const snippet = `${lines.join('\n').trimEnd()}\n`;
    expect(snippet, 'docs/argocd.md differs from health.lua; paste health.lua into it, indented 4 spaces').toBe(readFileSync(script, 'utf8'));
  });
});

describe('the Lua harness', () => {
  it('converts objects as Argo CD does: maps to tables, arrays to 1-based sequences, bytes escaped', () => {
    expect(toLuaLiteral({ a: [1, 'x'], b: null, c: true, 'd"e': 'é\n' })).toBe('{["a"] = {1, "x"}, ["b"] = nil, ["c"] = true, ["d\\"e"] = "\\195\\169\\010"}');
  });

  it('refuses what Argo CD does not offer: the string library and string methods', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lua-sandbox-'));
    try {
      for (const [name, body] of [
        ['global.lua', 'return {status = string.upper("healthy")}'],
        ['method.lua', 'return {status = ("healthy"):upper()}'],
        ['io.lua', 'io.write("x") return {status = "Healthy"}'],
      ] as const) {
        writeFileSync(path.join(dir, name), body);
        expect(() => runHealthScript(findLua51(), path.join(dir, name), {}), name).toThrow(/health script failed/);
        expect(() => runHealthScriptGopher(findGopherLua(), path.join(dir, name), {}), `gopher-lua: ${name}`).toThrow(/health script failed/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes objects to gopher-lua as JSON: YAML timestamps as RFC 3339, as the API server sends them', () => {
    expect(toObjectJson({ t: new Date('2026-01-02T03:04:05Z'), a: [1, 'x'], b: null })).toBe('{"t":"2026-01-02T03:04:05Z","a":[1,"x"],"b":null}');
  });

  it('gives gopher-lua scripts what Argo CD gives them: obj with 1-based arrays and numbers; no os, string or io library', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lua-sandbox-'));
    try {
      const file = path.join(dir, 'env.lua');
      writeFileSync(
        file,
        'return {status = "Healthy", message = table.concat({obj.a[1], obj.a[2], tostring(obj.n + 1), type(obj.b), type(os), type(string), type(io)}, ",")}',
      );
      expect(runHealthScriptGopher(findGopherLua(), file, { a: ['x', 'y'], n: 41, b: true })).toEqual({
        status: 'Healthy',
        message: 'x,y,42,boolean,nil,nil,nil',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
