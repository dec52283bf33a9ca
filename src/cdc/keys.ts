import type { Row } from './types.ts';

/**
 * Canonical, stable string form of a primary key: JSON of the key columns with
 * the field names sorted, values in canonical form. Single and composite keys
 * use the same form, e.g. `{"id":42}` and `{"kind":"billing","customer_id":7}`
 * → `{"customer_id":7,"kind":"billing"}`. Independent of the column order in
 * the key schema, so a user can type a key in any order.
 */
export function canonicalKeyString(key: Row): string {
  const names = Object.keys(key);
  // One column (most keys): already in canonical order.
  if (names.length === 1) return JSON.stringify(key);
  const sorted: Row = {};
  for (const name of names.sort()) sorted[name] = key[name];
  return JSON.stringify(sorted);
}
