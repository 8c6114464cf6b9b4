import { describe, expect, it } from 'vitest';
import { isQuantity, parseQuantity } from './quantity.js';

describe('quantities', () => {
  it.each([
    ['500m', 0.5],
    ['2', 2],
    ['1.5', 1.5],
    ['512Mi', 512 * 2 ** 20],
    ['2Gi', 2 * 2 ** 30],
    ['10G', 10e9],
    ['1e3', 1000],
    ['.5', 0.5],
    [3, 3],
  ])('parses %s', (q, value) => {
    expect(isQuantity(q)).toBe(true);
    expect(parseQuantity(q)).toBeCloseTo(value);
  });

  it.each(['', 'lots', '-1', '1.2.3', '5 Gi', '2GB', '1Mib', 'Gi'])('rejects %j', (q) => {
    expect(isQuantity(q)).toBe(false);
    expect(parseQuantity(q)).toBeUndefined();
  });

  it('rejects negative and fractional numbers', () => {
    expect(isQuantity(-1)).toBe(false);
    expect(isQuantity(0.5)).toBe(false);
  });

  it('orders requests against limits across suffixes', () => {
    expect(parseQuantity('500m')! < parseQuantity('1')!).toBe(true);
    expect(parseQuantity('1Gi')! > parseQuantity('1G')!).toBe(true);
    expect(parseQuantity('1024Mi')).toBe(parseQuantity('1Gi'));
  });
});
