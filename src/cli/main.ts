// The backendapp-operator command line. Each subcommand is an entry in COMMANDS;
// adding one (the operator's `run`) means adding an entry, nothing else.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dump, loadAll } from 'js-yaml';
import type { KubernetesObject } from '@kubernetes/client-node';
import { formatFieldErrors, validateBackendApp, type BackendApp } from '../api/v1alpha1.js';
import { crdYAML } from '../crd/generate.js';
import { renderApp } from '../render/index.js';
import { EXIT, UsageError, type Command, type IO } from './command.js';
import { run } from './run.js';

export { EXIT, UsageError, type Command, type IO } from './command.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

export const processIO: IO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readStdin: () => readAll(process.stdin),
  readFile: (p) => readFileSync(p, 'utf8'),
  writeFile: (p, c) => writeFileSync(p, c),
};

export function toYAMLStream(objects: readonly unknown[]): string {
  return objects.map((o) => dump(o, { noRefs: true, lineWidth: -1 })).join('---\n');
}

export const REDACTED = '<redacted>';

/** Secret values replaced, so credentials reach a terminal or a log only when asked for. */
export function redactSecrets(objects: readonly KubernetesObject[]): KubernetesObject[] {
  return objects.map((o) => {
    const data = (o as { data?: Record<string, string> }).data;
    if (o.kind !== 'Secret' || !data) return o;
    return { ...o, data: Object.fromEntries(Object.keys(data).map((k) => [k, REDACTED])) };
  });
}

const render: Command = {
  summary: 'Print the Kubernetes objects a BackendApp manifest becomes',
  usage: `Usage: backendapp-operator render -f FILE [-n NAMESPACE] [--show-secrets]

Validates every BackendApp in FILE (YAML, several documents allowed; "-" reads
standard input) and prints the objects the operator would apply, as multi-document
YAML. On an invalid manifest it prints each field error and exits 1.

Options:
  -f, --filename FILE   the manifest to render ("-" for standard input)
  -n, --namespace NS    set the namespace of the app and its objects
      --show-secrets    print credential values. They are freshly generated here,
                        not the ones in any cluster. Without this flag they are
                        printed as "${REDACTED}".`,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        filename: { type: 'string', short: 'f' },
        namespace: { type: 'string', short: 'n' },
        'show-secrets': { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    const file = values.filename;
    if (!file) throw new UsageError('render needs -f FILE (use "-f -" to read standard input)');
    let text: string;
    try {
      text = file === '-' ? await io.readStdin() : io.readFile(file);
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
    }
    const source = file === '-' ? '<stdin>' : file;

    let docs: unknown[];
    try {
      docs = loadAll(text).filter((d) => d !== null && d !== undefined);
    } catch (err) {
      io.stderr(`error: ${source} is not valid YAML: ${(err as Error).message}\n`);
      return EXIT.invalid;
    }
    if (docs.length === 0) {
      io.stderr(`error: ${source} contains no BackendApp\n`);
      return EXIT.invalid;
    }

    const apps: BackendApp[] = [];
    let invalid = false;
    docs.forEach((doc, i) => {
      const result = validateBackendApp(doc);
      if (result.ok) {
        apps.push(result.app);
        return;
      }
      invalid = true;
      io.stderr(`error: ${source}: ${describeDoc(doc, i, docs.length)} is invalid:\n${formatFieldErrors(result.errors)}\n`);
    });
    if (invalid) return EXIT.invalid;

    const objects = apps.flatMap((app) => {
      if (values.namespace) app.metadata.namespace = values.namespace;
      return renderApp(app, { existingSecrets: {} });
    });
    const shown = values['show-secrets'] ? objects : redactSecrets(objects);
    const note = values['show-secrets']
      ? '# Credentials below are freshly generated, not read from a cluster.\n'
      : `# Secret values are shown as ${REDACTED}; pass --show-secrets to print generated ones.\n`;
    io.stdout(note + toYAMLStream(shown));
    return EXIT.ok;
  },
};

function describeDoc(doc: unknown, index: number, count: number): string {
  const name = (doc as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  const where = count > 1 ? ` (document ${index + 1})` : '';
  return typeof name === 'string' ? `BackendApp "${name}"${where}` : `document ${index + 1}`;
}

const crd: Command = {
  summary: 'Print the BackendApp CustomResourceDefinition',
  usage: `Usage: backendapp-operator crd [-o FILE]

Prints the CRD generated from the BackendApp schema, or writes it to FILE.

Options:
  -o, --output FILE   write to FILE instead of standard output`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { output: { type: 'string', short: 'o' } }, strict: true, allowPositionals: false });
    const yaml = crdYAML();
    if (values.output) io.writeFile(values.output, yaml);
    else io.stdout(yaml);
    return EXIT.ok;
  },
};

const help: Command = {
  summary: 'Show help for a command',
  usage: 'Usage: backendapp-operator help [COMMAND]',
  async run(args, io) {
    const name = args[0];
    if (name === undefined) {
      io.stdout(overview());
      return EXIT.ok;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command "${name}"`);
    io.stdout(`${command.usage}\n`);
    return EXIT.ok;
  },
};

/** The subcommands, by name. Add new ones here. */
export const COMMANDS: Record<string, Command> = { run, render, crd, help };

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `Usage: backendapp-operator COMMAND [OPTIONS]\n\nCommands:\n${lines.join('\n')}\n\nRun "backendapp-operator help COMMAND" for a command's options.\n`;
}

export async function main(argv: readonly string[], io: IO = processIO): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.stderr(overview());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h') {
    io.stdout(overview());
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`error: unknown command "${name}"\n\n${overview()}`);
    return EXIT.usage;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(`${command.usage}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    // parseArgs reports unknown or malformed options with a TypeError and a code.
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      io.stderr(`error: ${(err as Error).message}\n\n${command.usage}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}
