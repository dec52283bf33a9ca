/**
 * Exact conversions between the lake's value forms (./types.ts `LakeValue`)
 * and the numbers Parquet stores: dates as days since 1970-01-01, timestamps
 * as microseconds since 1970-01-01T00:00:00Z, decimals as unscaled integers
 * (Parquet format, LogicalTypes.md, "DATE", "TIMESTAMP", "DECIMAL"; Delta
 * PROTOCOL.md, "Primitive Types").
 *
 * Everything is integer arithmetic on the proleptic Gregorian calendar (the
 * one Parquet and Delta use); nothing goes through a JS `Date`, so
 * microseconds are never rounded to milliseconds and years 0–99 are not moved
 * to the 1900s. Year forms: `YYYY` for 0000–9999, else ISO 8601's expanded
 * `±YYYYYY` (as `Date.prototype.toISOString` writes them).
 */
import { formatDecimal } from '../cdc/values.ts';

const MICROS_PER_DAY = 86_400_000_000n;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The proleptic Gregorian date of a day number (H. Hinnant's `civil_from_days`). */
function civilFromDays(days: number): [year: number, month: number, day: number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

const pad = (n: number | bigint, width: number): string => n.toString().padStart(width, '0');

function formatYear(year: number): string {
  if (year >= 0 && year <= 9999) return pad(year, 4);
  return `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`;
}

const DATE = /^(\d{4}|[+-]\d{6})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4}|[+-]\d{6})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$/;

/** Days of a valid date's parts, or undefined when the parts are no date (2024-02-30). */
function dayNumber(year: string, month: string, day: string): number | undefined {
  const [y, m, d] = [Number(year), Number(month), Number(day)];
  const days = daysFromCivil(y, m, d);
  const [y2, m2, d2] = civilFromDays(days);
  return m >= 1 && m <= 12 && y2 === y && m2 === m && d2 === d ? days : undefined;
}

/**
 * `YYYY-MM-DD` → days since 1970-01-01 (negative before).
 * @throws {RangeError} when the text is not a valid date in that form.
 */
export function parseDateDays(text: string): number {
  const m = DATE.exec(text);
  const days = m ? dayNumber(m[1]!, m[2]!, m[3]!) : undefined;
  if (days === undefined) throw new RangeError(`${JSON.stringify(text)} is not a date YYYY-MM-DD`);
  return days;
}

/** Days since 1970-01-01 → `YYYY-MM-DD`. */
export function formatDateDays(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${formatYear(y)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/**
 * A UTC timestamp `YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z` (cdc-views' canonical form
 * has exactly 6 fraction digits) → microseconds since the epoch, exactly.
 * @throws {RangeError} when the text is not in that form or names no valid instant.
 */
export function parseTimestampMicros(text: string): bigint {
  const m = TIMESTAMP.exec(text);
  const days = m ? dayNumber(m[1]!, m[2]!, m[3]!) : undefined;
  const [h, min, s] = m ? [Number(m[4]), Number(m[5]), Number(m[6])] : [99, 99, 99];
  if (!m || days === undefined || h > 23 || min > 59 || s > 59) {
    throw new RangeError(`${JSON.stringify(text)} is not a UTC timestamp YYYY-MM-DDTHH:MM:SS.ffffffZ`);
  }
  const fraction = BigInt((m[7] ?? '').padEnd(6, '0'));
  return BigInt(days) * MICROS_PER_DAY + BigInt(h * 3600 + min * 60 + s) * 1_000_000n + fraction;
}

/** Microseconds since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ` (6 fraction digits). */
export function formatTimestampMicros(micros: bigint): string {
  let days = micros / MICROS_PER_DAY;
  let rest = micros % MICROS_PER_DAY;
  if (rest < 0n) {
    rest += MICROS_PER_DAY;
    days -= 1n;
  }
  const seconds = Number(rest / 1_000_000n);
  const time = `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}`;
  return `${formatDateDays(Number(days))}T${time}.${pad(rest % 1_000_000n, 6)}Z`;
}

/** Precision and scale of a `decimal(p,s)` lake type; undefined for other types. */
export function decimalParams(type: string): { precision: number; scale: number } | undefined {
  const m = /^decimal\((\d+),(\d+)\)$/.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d*))?$/;

/**
 * An exact decimal string → its unscaled value at `scale` ("12.5" at scale 2
 * → 1250n). More fraction digits than `scale` are accepted only when the extra
 * ones are zeros: nothing is ever rounded.
 * @throws {RangeError} when the text is not a plain decimal (no exponent, NaN
 *   or Infinity), needs more than `scale` fraction digits, or has more than
 *   `precision − scale` integer digits.
 */
export function parseDecimalUnscaled(text: string, precision: number, scale: number): bigint {
  const m = DECIMAL.exec(text);
  if (!m) throw new RangeError(`${JSON.stringify(text)} is not a decimal number`);
  const [, sign, int = '', fraction = ''] = m;
  if (/[^0]/.test(fraction.slice(scale))) throw new RangeError(`${text} has more than ${scale} fraction digits (decimal(${precision},${scale}))`);
  const integer = int.replace(/^0+/, '');
  if (integer.length > precision - scale) throw new RangeError(`${text} has more than ${precision - scale} integer digits (decimal(${precision},${scale}))`);
  const unscaled = BigInt(`${integer}${fraction.slice(0, scale).padEnd(scale, '0')}` || '0');
  return sign === '-' ? -unscaled : unscaled;
}

/** An unscaled value and a scale → exact decimal string with exactly `scale` fraction digits. */
export function formatDecimalUnscaled(unscaled: bigint, scale: number): string {
  return formatDecimal(unscaled, scale);
}

/**
 * The shortest decimal that denotes the same float32 as `value`: a Parquet
 * FLOAT read back as a double (3.140000104904175) becomes 3.14 again, the
 * number a `real` column was written from.
 */
export function shortestFloat32(value: number): number {
  const f = Math.fround(value);
  if (!Number.isFinite(f) || f === 0) return f;
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}
