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

describe('every suffix the API server knows', () => {
  it.each([
    ['1Ki', 2 ** 10],
    ['1Mi', 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1Ti', 2 ** 40],
    ['1Pi', 2 ** 50],
    ['1Ei', 2 ** 60],
    ['1n', 1e-9],
    ['1u', 1e-6],
    ['1m', 1e-3],
    ['1k', 1e3],
    ['1M', 1e6],
    ['1G', 1e9],
    ['1T', 1e12],
    ['1P', 1e15],
    ['1E', 1e18],
    ['1.5E-2', 0.015],
    ['2e+3', 2000],
  ])('values %s at %d', (q, value) => {
    expect(parseQuantity(q)! / value).toBeCloseTo(1, 12);
  });

  it('takes whole numbers from zero up, as strings too', () => {
    expect(isQuantity(0)).toBe(true);
    expect(parseQuantity(0)).toBe(0);
    expect(parseQuantity('0')).toBe(0);
    expect(parseQuantity(-1)).toBeUndefined();
  });
});
