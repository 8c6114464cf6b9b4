// Compares V8 heap snapshots (from `npm run bench -- --scenarios memory --heap-snapshots`):
// live bytes by constructor in each, and what grew from the first to the last.
//
//   npx tsx bench/heap.ts bench/results/tmp/<run>/heap/memory/*.heapsnapshot [--limit 25]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { limit: { type: 'string', default: '25' } } });
const limit = Number(values.limit);
if (positionals.length === 0) {
  process.stderr.write('usage: npx tsx bench/heap.ts FILE.heapsnapshot [FILE2.heapsnapshot ...] [--limit N]\n');
  process.exit(2);
}

function summarise(file: string): { total: number; by: Map<string, { bytes: number; count: number }> } {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const by = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType] as number] ?? '?';
    const size = s.nodes[i + iSize] as number;
    total += size;
    // Objects by constructor; strings, arrays, code and the rest by type.
    const name = type === 'object' || type === 'closure' ? `${type === 'closure' ? 'closure ' : ''}${s.strings[s.nodes[i + iName] as number]}` : `(${type})`;
    const e = by.get(name) ?? { bytes: 0, count: 0 };
    e.bytes += size;
    e.count += 1;
    by.set(name, e);
  }
  return { total, by };
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1).padStart(7)} MB`;
const summaries = positionals.map((p) => ({ file: p, ...summarise(p) }));
for (const s of summaries) {
  process.stdout.write(`\n${path.basename(s.file)}: ${mb(s.total)} live (self sizes)\n`);
  for (const [k, v] of [...s.by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, limit)) {
    process.stdout.write(`  ${mb(v.bytes)} ${String(v.count).padStart(9)}  ${k}\n`);
  }
}
if (summaries.length >= 2) {
  const a = summaries[0] as (typeof summaries)[number];
  const b = summaries[summaries.length - 1] as (typeof summaries)[number];
  process.stdout.write(`\ngrowth from ${path.basename(a.file)} to ${path.basename(b.file)}: ${mb(b.total - a.total)}\n`);
  const keys = new Set([...a.by.keys(), ...b.by.keys()]);
  const rows = [...keys].map((k) => ({
    k,
    bytes: (b.by.get(k)?.bytes ?? 0) - (a.by.get(k)?.bytes ?? 0),
    count: (b.by.get(k)?.count ?? 0) - (a.by.get(k)?.count ?? 0),
  }));
  for (const r of rows.sort((x, y) => y.bytes - x.bytes).slice(0, limit)) {
    process.stdout.write(`  ${mb(r.bytes)} ${String(r.count).padStart(9)}  ${r.k}\n`);
  }
}
