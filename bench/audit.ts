// Counting one user's requests in the API server's audit log (JSON lines, batched
// at most 1 s, rotated at 200 MB by the local control plane). A mark records where
// the log stands; reading from a mark follows a rotation.
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const MUTATING_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export interface AuditMark {
  file: string;
  ino: number;
  offset: number;
  atMs: number;
}

export interface AuditEntry {
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code?: number;
  receivedMs: number;
}

export function markAudit(file: string): AuditMark {
  const st = existsSync(file) ? statSync(file) : undefined;
  return { file, ino: st?.ino ?? -1, offset: st?.size ?? 0, atMs: Date.now() };
}

/**
 * The requests `user` sent between the mark and `untilMs` (by the time the API
 * server received them), one entry per request (audit ID), optionally only those
 * in the given namespaces.
 */
export async function readAudit(mark: AuditMark, user: string, untilMs: number, namespaces?: ReadonlySet<string>): Promise<AuditEntry[]> {
  const dir = path.dirname(mark.file);
  const base = path.basename(mark.file, '.log');
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(base) && f.endsWith('.log'))
    .map((f) => path.join(dir, f));
  const seen = new Set<string>();
  const out: AuditEntry[] = [];
  const needle = `"username":"${user}"`;
  for (const f of files) {
    const st = statSync(f);
    let start: number;
    if (st.ino === mark.ino) start = mark.offset;
    else if (st.mtimeMs >= mark.atMs - 1000) start = 0;
    else continue;
    if (start >= st.size) continue;
    const rl = createInterface({ input: createReadStream(f, { start, encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line.includes(needle)) continue;
      let e: {
        auditID: string;
        verb: string;
        user?: { username?: string };
        requestReceivedTimestamp: string;
        objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
        responseStatus?: { code?: number };
      };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue; // a line cut by rotation
      }
      if (e.user?.username !== user) continue;
      const received = Date.parse(e.requestReceivedTimestamp);
      if (received < mark.atMs || received > untilMs) continue;
      if (namespaces && !namespaces.has(e.objectRef?.namespace ?? '')) continue;
      if (seen.has(e.auditID)) continue;
      seen.add(e.auditID);
      const entry: AuditEntry = { verb: e.verb, resource: e.objectRef?.resource ?? '', receivedMs: received };
      if (e.objectRef?.subresource) entry.subresource = e.objectRef.subresource;
      if (e.objectRef?.namespace) entry.namespace = e.objectRef.namespace;
      if (e.objectRef?.name) entry.name = e.objectRef.name;
      if (e.responseStatus?.code !== undefined) entry.code = e.responseStatus.code;
      out.push(entry);
    }
  }
  return out;
}

export function countBy(entries: readonly AuditEntry[], key: (e: AuditEntry) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) out[key(e)] = (out[key(e)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** "patch backendapps/status": how requests are grouped in the results. */
export function verbResource(e: AuditEntry): string {
  return `${e.verb} ${e.resource}${e.subresource ? `/${e.subresource}` : ''}`;
}
