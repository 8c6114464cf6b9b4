// Summarises a V8 CPU profile (node --cpu-prof, e.g. from `npm run bench -- --cpu-prof`):
// self time by function and by package, the quickest way to see where the
// operator's CPU goes.
//
//   npx tsx bench/top.ts bench/results/tmp/<run>/profiles/<scenario>/*.cpuprofile [--limit 30]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { limit: { type: 'string', default: '25' } } });
const limit = Number(values.limit);

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  // Self time per node from the sample deltas (µs).
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  for (const n of p.nodes) {
    const t = self.get(n.id) ?? 0;
    if (!t) continue;
    const f = n.callFrame;
    const where = f.url ? `${shorten(f.url)}:${f.lineNumber + 1}` : '';
    const name = `${f.functionName || '(anonymous)'} ${where}`.trim();
    byFn.set(name, (byFn.get(name) ?? 0) + t);
    byPkg.set(pkgOf(f.url, f.functionName), (byPkg.get(pkgOf(f.url, f.functionName)) ?? 0) + t);
  }
  const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
  const ms = (t: number) => `${(t / 1000).toFixed(0).padStart(7)} ms`;
  process.stdout.write(`\n${file}\n  wall ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s, sampled ${(total / 1e6).toFixed(1)} s\n\n  by package\n`);
  for (const [k, t] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`  ${ms(t)} ${pct(t)}  ${k}\n`);
  process.stdout.write('\n  by function (self)\n');
  for (const [k, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, limit)) process.stdout.write(`  ${ms(t)} ${pct(t)}  ${k}\n`);
}

function shorten(url: string): string {
  const i = url.indexOf('node_modules/');
  if (i >= 0) return url.slice(i + 'node_modules/'.length);
  const j = url.search(/\/(src|bench|dist)\//);
  return j >= 0 ? url.slice(j + 1) : url.replace(/^file:\/\//, '');
}

function pkgOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  if (url.startsWith('node:')) return url;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m?.[1]) return m[1];
  const s = /\/(src\/[^/]+)\//.exec(url);
  return s?.[1] ?? shorten(url);
}
