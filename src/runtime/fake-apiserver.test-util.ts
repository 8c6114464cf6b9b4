// A tiny HTTP server standing in for the API server in transport tests: each
// test supplies the handler, the helper gives a KubeConfig pointing at it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';

export interface FakeApiServer {
  kc: KubeConfig;
  requests: Array<{ method: string; url: URL; body: string; headers: IncomingMessage['headers'] }>;
  close(): Promise<void>;
  server: Server;
}

export type Handler = (req: IncomingMessage, url: URL, body: string, res: ServerResponse) => void;

export async function startFakeApiServer(handler: Handler): Promise<FakeApiServer> {
  const requests: FakeApiServer['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method ?? '', url, body, headers: req.headers });
      handler(req, url, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('fake API server has no TCP address');
  const { port } = addr;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'fake', token: 'test-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
    currentContext: 'fake',
  });
  return {
    kc,
    requests,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJSON(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}
