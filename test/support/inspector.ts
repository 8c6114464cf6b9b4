// Talks to a Node process's inspector (started with --inspect) over its WebSocket.

/** The inspector's WebSocket address, from the line Node prints when --inspect is on. */
export function inspectorUrlIn(line: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1];
}

/**
 * A full, compacting garbage collection of the process behind `inspectorUrl`
 * (HeapProfiler.collectGarbage), so that memory measured right after holds what
 * the process retains rather than what its last burst left for the collector.
 */
export async function collectGarbage(inspectorUrl: string): Promise<void> {
  if (!inspectorUrl) throw new Error('the process was started without --inspect');
  const ws = new WebSocket(inspectorUrl);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    ws.onmessage = (m) => {
      if ((JSON.parse(String(m.data)) as { id?: number }).id === 1) resolve();
    };
    ws.onerror = () => reject(new Error(`inspector ${inspectorUrl}: connection failed`));
    setTimeout(() => reject(new Error('inspector: no answer to collectGarbage in 60 s')), 60_000).unref();
  }).finally(() => ws.close());
}
