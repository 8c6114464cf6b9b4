// Kubernetes resource quantities ("500m", "2", "512Mi", "1.5Gi", "1e3"), enough of
// them to validate user input and compare a request with its limit. The API server
// does the authoritative parsing; this only has to agree with it on what is valid.

/**
 * A non-negative Kubernetes quantity. Mirrors the API server's grammar minus the
 * sign: a negative CPU, memory or volume size is never meaningful here.
 * Written for RE2 as well as JavaScript, since the CRD reuses it as `pattern`.
 */
export const QUANTITY_PATTERN = '^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

const QUANTITY_RE = new RegExp(QUANTITY_PATTERN);

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

export function isQuantity(value: string | number): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0;
  return QUANTITY_RE.test(value);
}

/**
 * The value of a quantity as a float, or undefined when it is not one. Floats are
 * precise enough to order requests against limits; nothing here does arithmetic
 * whose rounding would matter.
 */
export function parseQuantity(value: string | number): number | undefined {
  if (!isQuantity(value)) return undefined;
  if (typeof value === 'number') return value;
  const m = /^([0-9.]+)(.*)$/.exec(value);
  if (!m) return undefined;
  const [, digits = '', suffix = ''] = m;
  const base = Number(digits);
  if (suffix in BINARY) return base * (BINARY[suffix] ?? 1);
  if (suffix in DECIMAL) return base * (DECIMAL[suffix] ?? 1);
  // Exponent form: "1e3", "1.5E-2".
  return Number(value);
}
