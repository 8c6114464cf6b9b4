// JSON logs via pino. The runtime logs keys (namespace/name), never object
// contents; redaction is the second line of defence for the fields where a
// secret would sit if someone logged an object or a request by mistake.
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Paths censored in every log line. `data`/`stringData` are where Secrets keep
 * their values; pino's `*` matches one level, so both the top level and one
 * level down are listed (e.g. `{ secret: { data } }`).
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  'token',
  '*.token',
  'data',
  '*.data',
  'stringData',
  '*.stringData',
  'authorization',
  '*.authorization',
  'Authorization',
  '*.Authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'req.headers.cookie',
];

export interface LoggerOptions {
  level?: LogLevel;
  /** Fields on every line, e.g. `{ name: 'my-operator' }`. */
  base?: Record<string, string>;
  /** Where to write; stdout by default. Tests pass a stream to read lines back. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? 'info',
    base: opts.base ?? {},
    // ISO time reads better in `kubectl logs` than epoch milliseconds.
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level as a word ("info"), as most log pipelines expect.
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything, for tests and optional wiring. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** The message of an error without its stack or attached response bodies. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
