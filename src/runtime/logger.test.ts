import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, isLogLevel } from './logger.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('writes JSON with a textual level and ISO time', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream, base: { name: 'op' } });
    log.info({ controller: 'backendapp' }, 'hello');
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'hello', name: 'op', controller: 'backendapp' });
    expect(String(lines[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('honours the level', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'warn', destination: stream });
    log.info('dropped');
    log.debug('dropped');
    log.warn('kept');
    expect(lines.map((l) => l.msg)).toEqual(['kept']);
  });

  it('redacts secret values at the top level, one level down, and in child bindings', () => {
    const { lines, stream } = capture();
    const log = createLogger({ destination: stream });
    log.info(
      {
        password: 'p1',
        token: 't1',
        data: { key: 'c2VjcmV0' },
        secret: { data: { key: 'c2VjcmV0' }, stringData: { key: 'plain' } },
        db: { password: 'p2' },
        req: { headers: { authorization: 'Bearer abc' } },
        headers: { Authorization: 'Bearer def' },
      },
      'x',
    );
    log.child({ token: 't2' }).info('y');
    const text = JSON.stringify(lines);
    for (const secret of ['p1', 'p2', 't1', 't2', 'c2VjcmV0', 'plain', 'Bearer abc', 'Bearer def']) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]?.password).toBe('[REDACTED]');
  });

  it('validates level names', () => {
    expect(isLogLevel('debug')).toBe(true);
    expect(isLogLevel('verbose')).toBe(false);
  });
});
