import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadAll } from 'js-yaml';
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { COMMANDS, EXIT, REDACTED, main, type IO } from './main.js';
import { crdYAML } from '../crd/generate.js';

const SAMPLE = readFileSync(new URL('../../config/samples/finwise.yaml', import.meta.url), 'utf8');

function memoryIO(files: Record<string, string> = {}, stdin = '') {
  const out = { stdout: '', stderr: '', written: {} as Record<string, string> };
  const io: IO = {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    readStdin: async () => stdin,
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw new Error(`ENOENT: no such file or directory, open '${p}'`);
      return f;
    },
    writeFile: (p, c) => {
      out.written[p] = c;
    },
  };
  return { io, out };
}

const secretsIn = (yaml: string) => (loadAll(yaml) as KubernetesObject[]).filter((o): o is V1Secret => o?.kind === 'Secret');

describe('render', () => {
  it('prints the rendered objects as multi-document YAML', async () => {
    const { io, out } = memoryIO({ 'app.yaml': SAMPLE });
    expect(await main(['render', '-f', 'app.yaml'], io)).toBe(EXIT.ok);
    const docs = loadAll(out.stdout) as KubernetesObject[];
    expect(docs).toHaveLength(25);
    expect(docs.every((d) => d.apiVersion && d.kind && d.metadata?.name)).toBe(true);
    expect(out.stderr).toBe('');
  });

  it('never prints a credential unless asked', async () => {
    const { io, out } = memoryIO({ 'app.yaml': SAMPLE });
    await main(['render', '-f', 'app.yaml'], io);
    const secrets = secretsIn(out.stdout);
    expect(secrets).toHaveLength(4);
    for (const s of secrets) for (const v of Object.values(s.data ?? {})) expect(v).toBe(REDACTED);
    expect(out.stdout).toContain('--show-secrets');
  });

  it('prints generated credentials with --show-secrets', async () => {
    const { io, out } = memoryIO({ 'app.yaml': SAMPLE });
    await main(['render', '-f', 'app.yaml', '--show-secrets'], io);
    const pg = secretsIn(out.stdout).find((s) => s.metadata?.name === 'finwise-postgres-credentials');
    const password = Buffer.from(pg?.data?.password ?? '', 'base64').toString();
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('reads standard input with -f - and sets the namespace with -n', async () => {
    const { io, out } = memoryIO({}, SAMPLE);
    expect(await main(['render', '-f', '-', '-n', 'money'], io)).toBe(EXIT.ok);
    const docs = loadAll(out.stdout) as KubernetesObject[];
    expect(docs.every((d) => d.metadata?.namespace === 'money')).toBe(true);
  });

  it('prints every field error and exits 1 on an invalid manifest', async () => {
    const bad = SAMPLE.replace('port: 8000', 'port: 80000').replace('concurrency: 2', 'concurrency: 0');
    const { io, out } = memoryIO({ 'app.yaml': bad });
    expect(await main(['render', '-f', 'app.yaml'], io)).toBe(EXIT.invalid);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      [
        'error: app.yaml: BackendApp "finwise" is invalid:',
        '  spec.api.port: must be a port number between 1 and 65535 (got 80000)',
        '  spec.worker.concurrency: must be a whole number from 1 to 256 (got 0)',
        '',
      ].join('\n'),
    );
  });

  it('renders every app of a multi-document file and names the invalid one', async () => {
    const second = SAMPLE.replace('name: finwise', 'name: other');
    const { io, out } = memoryIO({ 'two.yaml': `${SAMPLE}\n---\n${second}` });
    expect(await main(['render', '-f', 'two.yaml'], io)).toBe(EXIT.ok);
    expect((loadAll(out.stdout) as KubernetesObject[]).filter((d) => d.kind === 'Deployment')).toHaveLength(8);

    const broken = memoryIO({ 'two.yaml': `${SAMPLE}\n---\n${second.replace('image: ghcr.io/finwise/backend:1.4.2', 'image: ""')}` });
    expect(await main(['render', '-f', 'two.yaml'], broken.io)).toBe(EXIT.invalid);
    expect(broken.out.stderr).toContain('BackendApp "other" (document 2) is invalid');
  });

  it('exits 1 on YAML that does not parse or holds nothing', async () => {
    const { io, out } = memoryIO({ 'bad.yaml': 'spec: [unclosed', 'empty.yaml': '' });
    expect(await main(['render', '-f', 'bad.yaml'], io)).toBe(EXIT.invalid);
    expect(out.stderr).toContain('bad.yaml is not valid YAML');
    expect(await main(['render', '-f', 'empty.yaml'], io)).toBe(EXIT.invalid);
  });

  it('exits 2 on usage errors', async () => {
    const { io, out } = memoryIO();
    expect(await main(['render'], io)).toBe(EXIT.usage);
    expect(out.stderr).toContain('render needs -f FILE');
    expect(await main(['render', '-f', 'x.yaml', '--frobnicate'], io)).toBe(EXIT.usage);
    expect(await main(['render', '-f', 'missing.yaml'], io)).toBe(EXIT.usage);
    expect(out.stderr).toContain('cannot read missing.yaml');
  });
});

describe('crd', () => {
  it('prints the generated CRD', async () => {
    const { io, out } = memoryIO();
    expect(await main(['crd'], io)).toBe(EXIT.ok);
    expect(out.stdout).toBe(crdYAML());
  });

  it('writes it to a file with -o', async () => {
    const { io, out } = memoryIO();
    expect(await main(['crd', '-o', 'crds/x.yaml'], io)).toBe(EXIT.ok);
    expect(out.written['crds/x.yaml']).toBe(crdYAML());
    expect(out.stdout).toBe('');
  });
});

describe('help and dispatch', () => {
  it('lists every command', async () => {
    const { io, out } = memoryIO();
    expect(await main(['help'], io)).toBe(EXIT.ok);
    for (const name of Object.keys(COMMANDS)) expect(out.stdout).toContain(`  ${name}`);
  });

  it("shows a command's usage with help COMMAND or --help", async () => {
    const a = memoryIO();
    await main(['help', 'render'], a.io);
    const b = memoryIO();
    expect(await main(['render', '--help'], b.io)).toBe(EXIT.ok);
    expect(a.out.stdout).toBe(b.out.stdout);
    expect(a.out.stdout).toContain('--show-secrets');
  });

  it('exits 2 for no command or an unknown one', async () => {
    const { io, out } = memoryIO();
    expect(await main([], io)).toBe(EXIT.usage);
    expect(await main(['deploy'], io)).toBe(EXIT.usage);
    expect(out.stderr).toContain('unknown command "deploy"');
    expect(await main(['help', 'deploy'], io)).toBe(EXIT.usage);
  });
});
