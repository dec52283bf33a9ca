/**
 * Row generators for the sample commerce database (schemas/shop.sql) and SQL
 * literal rendering, shared by the seeding code and the workload generator.
 * Every generator draws only from the given {@link Rng}, so rows are a pure
 * function of the seed and the call sequence.
 */
import pg from 'pg';
import type { Rng } from './random.ts';

/**
 * A value to render into SQL: JS scalars, `{ json }` for a JSONB value,
 * `{ raw }` for an SQL expression inserted verbatim (trusted, e.g. `now()`).
 */
export type SqlValue = string | number | boolean | null | { json: unknown } | { raw: string };

/** One row to insert: column name → value. */
export type SqlRow = Record<string, SqlValue>;

/**
 * Renders one value as an SQL literal (strings with {@link pg.escapeLiteral}).
 * @throws Error for a non-finite number.
 */
export function sqlLiteral(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return pg.escapeLiteral(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`sqlLiteral: non-finite number ${v}`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if ('raw' in v) return v.raw;
  return `${pg.escapeLiteral(JSON.stringify(v.json))}::jsonb`;
}

/**
 * `INSERT INTO <table> (<cols>) VALUES (...), (...)` for rows that all have the
 * columns of the first row (in that order). `suffix` is appended (e.g. an
 * `ON CONFLICT` clause).
 * @throws Error when `rows` is empty.
 */
export function insertSql(table: string, rows: readonly SqlRow[], suffix = ''): string {
  const first = rows[0];
  if (first === undefined) throw new Error(`insertSql(${table}): no rows`);
  const cols = Object.keys(first);
  const values = rows.map((r) => `(${cols.map((c) => sqlLiteral(r[c] ?? null)).join(', ')})`);
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values.join(', ')}${suffix ? ` ${suffix}` : ''}`;
}

/** Renders integer cents as a NUMERIC(12,2) literal string, e.g. 1250 → "12.50". */
export function money(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** Parses a NUMERIC text value (as node-pg returns it) into integer cents. */
export function cents(numeric: string): number {
  return Math.round(Number(numeric) * 100);
}

// --- vocabularies (non-ASCII on purpose: accents, CJK, Cyrillic, Arabic, emoji, quotes) ---

/** Names the first seeded customers get verbatim (ids 1..n). */
export const FEATURED_NAMES: readonly string[] = [
  'Zoë Ødegård',
  '李雷',
  'José Müller',
  "Renée O'Brien 🌸",
  'Дмитрий Иванов',
  'محمد علي',
  '山田 太郎',
  'Łukasz Żółć',
  'Nguyễn Thị Minh Khai',
  'Back\\slash "Quote" Person',
];
const FIRST_NAMES = ['Zoë', 'José', 'Ana', 'Søren', 'Łukasz', 'Renée', 'Chloé', 'Mateo', 'Aiko', 'Olúwaseun', 'Björn', 'Noah', 'Emma', 'Ngozi', 'Siobhán', 'François', 'Priya', 'Ελένη', 'Игорь', '美咲', 'Ana 🌸', 'Kai 🦊'];
const LAST_NAMES = ['Ødegård', 'Müller', 'Silva', "O'Brien", 'Nguyễn', 'Kowalski', 'Smith', 'García', 'Dubois', 'Łęcka', 'Straße', 'Åberg', 'Papadopoulos', 'Петрова', '王', 'Okafor', 'Hernández-López'];
const TIERS = ['bronze', 'silver', 'gold'] as const;
const LANGS = ['en', 'de', 'fr', 'ja', 'zh', 'pl', 'pt', 'ar'] as const;
const STREETS = ['Königstraße', "Rue de l'Église", 'Calle Mayor', 'Main Street', 'ul. Świętokrzyska', 'Østergade', '銀座通り', 'Невский проспект', 'Rua Augusta'];
const CITIES: readonly (readonly [string, string])[] = [
  ['München', 'DE'], ['Paris', 'FR'], ['Madrid', 'ES'], ['Springfield', 'US'], ['Warszawa', 'PL'],
  ['København', 'DK'], ['東京', 'JP'], ['Санкт-Петербург', 'RU'], ['Lisboa', 'PT'], ['Zürich', 'CH'],
];
/** The address kinds (second part of the addresses primary key). */
export const ADDRESS_KINDS = ['billing', 'shipping', 'office'] as const;
const PRODUCT_WORDS = ['Café mug ☕', 'Müsli 500 g', 'Crème brûlée set', 'Smørrebrød board', 'Matcha 抹茶', 'Jalapeño sauce', 'Piñata', 'Fahrrad-Schloß', 'Teapot 🫖', 'Notebook', 'Wool scarf', 'Señorita hat'];
const COLORS = ['red', 'blue', 'grün', 'noir', '黒', 'white'];
/** Order statuses, in their normal progression. */
export const ORDER_STATUSES = ['new', 'paid', 'shipped', 'delivered', 'cancelled'] as const;
const NOTES = ['Bitte klingeln 🔔', 'Leave at the door', "Don't bend", '请放在门口', 'Fragile — handle with care', 'Cadeau 🎁, pas de facture'];

/** A display name: featured names, or random first + last name. */
export function personName(rng: Rng): string {
  if (rng.chance(0.1)) return rng.pick(FEATURED_NAMES);
  return `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
}

/** A non-null customer tier. */
export function tier(rng: Rng): string {
  return rng.pick(TIERS);
}

/** A JSONB preferences document (nested objects, arrays, numbers, non-ASCII). */
export function preferences(rng: Rng): unknown {
  const prefs: Record<string, unknown> = {
    lang: rng.pick(LANGS),
    newsletter: rng.chance(0.5),
  };
  if (rng.chance(0.6)) prefs.tags = Array.from({ length: rng.int(0, 3) }, () => rng.pick(['vip', 'früh', 'café', '🎉', 'b2b']));
  if (rng.chance(0.4)) prefs.sizes = { shoe: rng.int(36, 47) + (rng.chance(0.5) ? 0.5 : 0), shirt: rng.pick(['S', 'M', 'L', 'XL']) };
  if (rng.chance(0.3)) prefs.nickname = rng.pick(FIRST_NAMES);
  if (rng.chance(0.1)) prefs.nothing = null;
  return prefs;
}

/** `YYYY-MM-DD HH:MM:SS.ffffff+00` between 2023-01-01 and 2024-12-31 (µs precision). */
export function timestamptz(rng: Rng): string {
  return `${wallClock(rng)}+00`;
}

/** `YYYY-MM-DD HH:MM:SS.ffffff` (no zone) between 2023-01-01 and 2024-12-31. */
export function wallClock(rng: Rng): string {
  const ms = Date.UTC(2023, 0, 1) + rng.int(0, 730 * 86400 - 1) * 1000;
  const iso = new Date(ms).toISOString(); // 2023-05-06T07:08:09.000Z
  const micros = rng.chance(0.2) ? 0 : rng.int(0, 999_999);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(micros).padStart(6, '0')}`;
}

/** `YYYY-MM-DD` between `fromYear`-01-01 and `toYear`-12-28. */
export function date(rng: Rng, fromYear: number, toYear: number): string {
  const y = rng.int(fromYear, toYear);
  return `${y}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`;
}

/**
 * A customers row. `createdAt` defaults to a random past timestamp; the
 * workload passes `{ raw: 'now()' }`.
 */
export function customerRow(rng: Rng, id: number, name: string, createdAt?: SqlValue): SqlRow {
  const created = createdAt ?? timestamptz(rng);
  return {
    id,
    email: `customer${id}.${rng.int(100, 999)}@example.com`,
    name,
    tier: rng.chance(0.3) ? null : tier(rng),
    preferences: { json: preferences(rng) },
    marketing_opt_in: rng.chance(0.4),
    external_ref: rng.uuid(),
    birth_date: rng.chance(0.2) ? null : date(rng, 1950, 2005),
    created_at: created,
    updated_at: created,
  };
}

/** An addresses row for (customerId, kind). */
export function addressRow(rng: Rng, customerId: number, kind: string, updatedAt?: SqlValue): SqlRow {
  const [city, country] = rng.pick(CITIES);
  return {
    customer_id: customerId,
    kind,
    line1: `${rng.pick(STREETS)} ${rng.int(1, 250)}`,
    line2: rng.chance(0.6) ? null : `${rng.pick(['Apt', 'Etage', 'c/o', '号室'])} ${rng.int(1, 40)}`,
    city,
    postal_code: rng.chance(0.1) ? null : String(rng.int(1000, 99999)),
    country,
    updated_at: updatedAt ?? timestamptz(rng),
  };
}

/** The sku of the n-th seeded product (1-based): `SKU-0001`. */
export function skuOf(n: number): string {
  return `SKU-${String(n).padStart(4, '0')}`;
}

/** A product price in cents: mostly 0.99–999.99, sometimes very large. */
export function priceCents(rng: Rng): number {
  return rng.chance(0.02) ? rng.int(100_000_00, 9_999_999_99) : rng.int(99, 99_999);
}

/** A products row; `priceInCents` is rendered as NUMERIC(12,2). */
export function productRow(rng: Rng, sku: string, priceInCents: number): SqlRow {
  return {
    sku,
    name: `${rng.pick(PRODUCT_WORDS)} ${rng.int(1, 99)}`,
    description: rng.chance(0.3) ? null : `${rng.pick(PRODUCT_WORDS)} — ${rng.pick(['handmade', 'fair trade', 'édition limitée', '限定版'])}`,
    price: money(priceInCents),
    active: rng.chance(0.9),
    attributes: rng.chance(0.2) ? null : { json: { color: rng.pick(COLORS), weight_g: rng.int(10, 5000), dims_cm: [rng.int(1, 50), rng.int(1, 50), rng.int(1, 50)] } },
    updated_at: timestamptz(rng),
  };
}

/** One order line as the generators and the workload model see it. */
export interface LineSpec {
  lineNo: number;
  sku: string;
  quantity: number;
  unitCents: number;
  /** Discount in cents for the whole line, or null. */
  discountCents: number | null;
}

/** Net amount of a line in cents: quantity × unit price − discount. */
export function lineNet(l: LineSpec): number {
  return l.quantity * l.unitCents - (l.discountCents ?? 0);
}

/** 1–4 new lines numbered 1.., for skus picked from `skus` with their prices. */
export function orderLines(rng: Rng, pickSku: () => [string, number]): LineSpec[] {
  const n = rng.int(1, 4);
  const lines: LineSpec[] = [];
  for (let i = 1; i <= n; i++) {
    const [sku, unitCents] = pickSku();
    const quantity = rng.int(1, 5);
    const discountCents = rng.chance(0.7) ? null : Math.floor((quantity * unitCents * rng.int(1, 15)) / 100);
    lines.push({ lineNo: i, sku, quantity, unitCents, discountCents });
  }
  return lines;
}

/** An order_lines row. */
export function lineRow(orderId: number, l: LineSpec): SqlRow {
  return {
    order_id: orderId,
    line_no: l.lineNo,
    sku: l.sku,
    quantity: l.quantity,
    unit_price: money(l.unitCents),
    discount: l.discountCents === null ? null : money(l.discountCents),
  };
}

/**
 * An orders row. `placedAt` / `placedLocal` default to a random past time; the
 * workload passes `now()` expressions.
 */
export function orderRow(rng: Rng, id: number, customerId: number, status: string, totalCents: number, placedAt?: SqlValue, placedLocal?: SqlValue): SqlRow {
  const wall = wallClock(rng);
  return {
    id,
    customer_id: customerId,
    status,
    total: money(totalCents),
    currency: rng.chance(0.9) ? 'EUR' : rng.pick(['USD', 'PLN', 'JPY']),
    placed_at: placedAt ?? `${wall}+00`,
    placed_local: placedLocal ?? wall,
    ship_by: rng.chance(0.3) ? null : date(rng, 2024, 2026),
    note: rng.chance(0.7) ? null : rng.pick(NOTES),
    updated_at: placedAt ?? `${wall}+00`,
  };
}

/** A note for an order update (nullable). */
export function orderNote(rng: Rng): string | null {
  return rng.chance(0.5) ? null : rng.pick(NOTES);
}

/** First id of seeded orders; order ids are beyond the int4 range on purpose (bigint). */
export const ORDER_ID_BASE = 5_000_000_000;
