import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PickSet, Rng } from '../../support/sample/random.ts';
import { insertSql, money, cents, sqlLiteral } from '../../support/sample/data.ts';
import { sampleRows } from '../../support/sample/database.ts';

void test('Rng is deterministic per seed', () => {
  const a = new Rng(5);
  const b = new Rng(5);
  const xs = Array.from({ length: 20 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 20 }, () => b.next()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.match(new Rng(1).uuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

void test('PickSet add/delete/pick', () => {
  const s = new PickSet([1, 2, 3]);
  assert.equal(s.delete(2), true);
  assert.equal(s.delete(2), false);
  assert.deepEqual([...s.values()].sort(), [1, 3]);
  const rng = new Rng(1);
  for (let i = 0; i < 10; i++) assert.ok([1, 3].includes(s.pick(rng) as number));
  assert.equal(new PickSet<number>().pick(rng), undefined);
});

void test('money and SQL literals', () => {
  assert.equal(money(1250), '12.50');
  assert.equal(money(5), '0.05');
  assert.equal(money(-105), '-1.05');
  assert.equal(cents('12.50'), 1250);
  assert.equal(sqlLiteral("Renée O'Brien"), "'Renée O''Brien'");
  assert.equal(sqlLiteral(null), 'NULL');
  assert.equal(sqlLiteral({ json: { a: 'ü' } }), `'{"a":"ü"}'::jsonb`);
  assert.equal(insertSql('t', [{ a: 1, b: true }, { a: 2, b: null }]), 'INSERT INTO t (a, b) VALUES (1, true), (2, NULL)');
});

void test('sample rows are deterministic and sized as documented', () => {
  const a = sampleRows({});
  assert.deepEqual(a, sampleRows({}));
  assert.equal(a.customers?.length, 200);
  assert.equal(a.products?.length, 50);
  assert.equal(a.orders?.length, 300);
  assert.equal(a.customers?.[0]?.name, 'Zoë Ødegård');
  const lines = a.order_lines?.length ?? 0;
  assert.ok(lines >= 300 && lines <= 1200);
});
