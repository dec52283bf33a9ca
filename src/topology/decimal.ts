/**
 * Exact decimal arithmetic for the aggregates' `sum()`: numbers and decimal
 * strings (PostgreSQL `numeric` arrives as a decimal string, see
 * src/cdc/values.ts) are summed as scaled bigints, never as doubles.
 */

/** The negation of a number or decimal string (null stays null). */
export function negateDecimal(v: number | string | null): number | string | null {
  if (v === null) return null;
  if (typeof v === 'number') return -v;
  return v.startsWith('-') ? v.slice(1) : `-${v}`;
}

/** Exact sum of numbers and decimal strings, as a decimal string with the largest scale seen. */
export function decimalSum(values: readonly (number | string | null)[]): string {
  let scale = 0;
  const parsed: [bigint, number][] = [];
  for (const v of values) {
    if (v === null) continue;
    const s = typeof v === 'number' ? String(v) : v;
    const m = /^(-?)(\d*)(?:\.(\d+))?$/.exec(s);
    if (!m) throw new Error(`not a decimal: ${JSON.stringify(v)}`);
    const frac = m[3] ?? '';
    parsed.push([BigInt(`${m[1]}${m[2] || '0'}${frac}`), frac.length]);
    scale = Math.max(scale, frac.length);
  }
  let total = 0n;
  for (const [unscaled, s] of parsed) total += unscaled * 10n ** BigInt(scale - s);
  const neg = total < 0n;
  let digits = (neg ? -total : total).toString().padStart(scale + 1, '0');
  if (scale > 0) digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return neg ? `-${digits}` : digits;
}
