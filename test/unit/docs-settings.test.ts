import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SETTINGS } from '../../src/config.ts';
import { DOC, withTable } from '../../scripts/settings-table.ts';

test('docs/configuration.md lists every setting as src/config.ts declares it (npx tsx scripts/settings-table.ts --write)', () => {
  const text = readFileSync(DOC, 'utf8');
  assert.equal(text, withTable(text), 'the settings table is out of date: run npx tsx scripts/settings-table.ts --write');
  for (const [key, s] of Object.entries(SETTINGS)) assert.ok(text.includes(`| \`${key}\` | \`${s.env}\` |`), key);
});
