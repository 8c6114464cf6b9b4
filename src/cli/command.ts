// What every CLI command is: its usage, how it runs, and the exit codes and errors
// it may end with. Apart from main.ts so commands in their own files need not import it.

export const EXIT = { ok: 0, invalid: 1, usage: 2 } as const;

/** Everything a command touches outside itself, so tests can run commands in memory. */
export interface IO {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  readFile(path: string): string;
  writeFile(path: string, content: string): void;
}

export interface Command {
  /** One line for `help`. */
  summary: string;
  /** Full usage text for `help <command>` and usage errors. */
  usage: string;
  /** Returns the exit code. */
  run(args: string[], io: IO): Promise<number>;
}

export class UsageError extends Error {}
