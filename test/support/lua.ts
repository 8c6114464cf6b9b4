// Runs an Argo CD health script with a real Lua 5.1 interpreter, the way Argo CD
// does: `obj` is the resource as a Lua table, only the base and table libraries
// (and a time-only os) are open, strings have no methods, and the script returns
// {status = ..., message = ...}. Argo CD embeds gopher-lua, a Lua 5.1; Debian's
// lua5.1 is the reference implementation of the same language.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where hack/install-lua.sh puts Lua 5.1 when it cannot install the Debian package system-wide. */
export function localLuaPath(): string {
  const cache = process.env.BACKENDAPP_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'backendapp-operator');
  return path.join(cache, 'lua5.1', 'bin', 'lua5.1');
}

function isLua51(cmd: string): boolean {
  const res = spawnSync(cmd, ['-v'], { encoding: 'utf8' });
  return res.status === 0 && /^Lua 5\.1\b/.test(`${res.stdout}${res.stderr}`);
}

/** $LUA, `lua5.1` on PATH, or the local install; throws saying how to get one. */
export function findLua51(): string {
  const candidates = [process.env.LUA, 'lua5.1', localLuaPath()].filter((c): c is string => !!c);
  for (const c of candidates) {
    if ((c.includes(path.sep) ? existsSync(c) : true) && isLua51(c)) return c;
  }
  throw new Error(
    `no Lua 5.1 interpreter found (tried ${candidates.join(', ')}); run hack/install-lua.sh (installs Debian's lua5.1), or set LUA to a Lua 5.1 binary`,
  );
}

/** A JSON value as a Lua 5.1 table constructor; arrays become 1-based sequences, as Argo CD converts them. */
export function toLuaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot pass ${value} to Lua`);
    return String(value);
  }
  if (typeof value === 'string') return luaString(value);
  if (value instanceof Date) return luaString(value.toISOString().replace(/\.000Z$/, 'Z'));
  if (Array.isArray(value)) return `{${value.map(toLuaLiteral).join(', ')}}`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `[${luaString(k)}] = ${toLuaLiteral(v)}`)
      .join(', ')}}`;
  }
  throw new Error(`cannot pass a ${typeof value} to Lua`);
}

/** A Lua string literal of the UTF-8 bytes of `s`: printable ASCII as is, the rest as \ddd. */
function luaString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${byte.toString().padStart(3, '0')}`;
  }
  return `${out}"`;
}

// The harness. Argo CD opens package, base, table and a safe os (time functions
// only); everything else (string, io, debug, load from files) is absent there, so
// it is absent here. The string metatable's __index is cleared while the script
// runs: without the string library gopher-lua gives strings no methods.
const DRIVER = `
local script = assert(loadfile(arg[1]))
local obj = assert(loadfile(arg[2]))()
local env = { obj = obj, table = table, _VERSION = _VERSION,
  os = { time = os.time, date = os.date, clock = os.clock, difftime = os.difftime } }
for _, name in ipairs({ "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
    "print", "rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring",
    "type", "unpack", "xpcall" }) do
  env[name] = _G[name]
end
env._G = env
setfenv(script, env)
local stringMeta = getmetatable("")
stringMeta.__index = nil
local ok, hs = pcall(script)
stringMeta.__index = string
if not ok then
  io.stderr:write("health script failed: ", tostring(hs), "\\n")
  os.exit(2)
end
if type(hs) ~= "table" then
  io.stderr:write("health script returned a ", type(hs), ", not a table\\n")
  os.exit(3)
end
io.write(tostring(hs.status), "\\n", hs.message == nil and "" or tostring(hs.message))
`;

export interface HealthStatus {
  status: string;
  message: string;
}

/** Runs `scriptPath` against `obj` (a parsed Kubernetes object) and returns its health. */
export function runHealthScript(lua: string, scriptPath: string, obj: unknown): HealthStatus {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'argocd-health-'));
  try {
    const driver = path.join(dir, 'driver.lua');
    const input = path.join(dir, 'obj.lua');
    writeFileSync(driver, DRIVER);
    writeFileSync(input, `return ${toLuaLiteral(obj)}\n`);
    const res = spawnSync(lua, [driver, scriptPath, input], { encoding: 'utf8', timeout: 10_000 });
    if (res.status !== 0) throw new Error(`${lua} exited ${res.status ?? res.signal}: ${res.stderr}`);
    const newline = res.stdout.indexOf('\n');
    return { status: res.stdout.slice(0, newline), message: res.stdout.slice(newline + 1) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const repoRoot = path.resolve(import.meta.dirname, '../..');

/**
 * The gopher-lua runner (hack/gopher-lua) that hack/build-gopher-lua.sh builds, or $GOPHER_LUA_HEALTH;
 * throws saying how to build it. It runs a script under gopher-lua, set up as Argo CD's util/lua sets it up.
 */
export function findGopherLua(): string {
  if (process.env.GOPHER_LUA_HEALTH) return process.env.GOPHER_LUA_HEALTH;
  const res = spawnSync(path.join(repoRoot, 'hack/build-gopher-lua.sh'), ['--print'], { encoding: 'utf8' });
  const bin = res.stdout.trim();
  if (res.status !== 0 || !bin || !existsSync(bin)) {
    throw new Error(`no gopher-lua runner at ${bin || '(unknown path)'}: run hack/install-lua.sh or hack/build-gopher-lua.sh (needs Go)`);
  }
  return bin;
}

/** A parsed object as the JSON the API server would send: YAML timestamps as RFC 3339, as toLuaLiteral writes them. */
export function toObjectJson(obj: unknown): string {
  return JSON.stringify(obj, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Date ? raw.toISOString().replace(/\.000Z$/, 'Z') : value;
  });
}

/** Runs `scriptPath` against `obj` under gopher-lua, as Argo CD runs a health check, and returns its health. */
export function runHealthScriptGopher(runner: string, scriptPath: string, obj: unknown): HealthStatus {
  const res = spawnSync(runner, [scriptPath], { input: toObjectJson(obj), encoding: 'utf8', timeout: 10_000 });
  if (res.status !== 0) throw new Error(`${runner} exited ${res.status ?? res.signal}: ${res.stderr}`);
  const out = JSON.parse(res.stdout) as { status: string; message: string };
  return { status: out.status, message: out.message };
}
