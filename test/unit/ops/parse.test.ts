/**
 * The operator's input values (src/ops/parse.ts): topic scopes, datetimes,
 * durations, offset files, and durations printed back. Expected values are
 * written out by hand; instants are given as Date.UTC(...) of the same
 * wall-clock time in UTC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { durationMs, formatDuration, parseDatetime, parseOffsetsCsv, parseTopicScope, readOffsetsCsv } from '../../../src/ops/parse.ts';

test('parseTopicScope: a topic alone means all its partitions; dots, dashes and underscores are topic characters', () => {
  assert.deepEqual(parseTopicScope('demo.public.orders'), { topic: 'demo.public.orders' });
  assert.deepEqual(parseTopicScope('my-app_2.public.order-lines:0,2'), { topic: 'my-app_2.public.order-lines', partitions: [0, 2] });
  assert.deepEqual(parseTopicScope('t:7'), { topic: 't', partitions: [7] });
  assert.deepEqual(parseTopicScope('t:10,3,10'), { topic: 't', partitions: [10, 3, 10] });
});

test('parseTopicScope: refuses a malformed scope, naming --topic and the value', () => {
  assert.throws(() => parseTopicScope('orders:'), {
    name: 'ConfigError',
    code: 'CONFIG_INVALID',
    field: '--topic',
    message: '--topic: "orders:": expected <topic> or <topic>:<partition>[,<partition>…], e.g. demo.public.orders:0,2',
  });
  for (const bad of ['', 'orders:1,', 'orders:x', 'orders:-1', 'has space', 'a/b', ':0', 'orders:0:1']) {
    assert.throws(() => parseTopicScope(bad), { code: 'CONFIG_INVALID', field: '--topic' }, JSON.stringify(bad));
  }
});

test('parseDatetime: ISO-8601 with Z or an offset, with or without seconds and fractions', () => {
  const may1 = Date.UTC(2026, 4, 1, 0, 0, 0);
  assert.equal(parseDatetime('2026-05-01T00:00:00Z', '--to-datetime'), may1);
  assert.equal(parseDatetime('2026-05-01T02:00:00.000+02:00', '--to-datetime'), may1);
  assert.equal(parseDatetime('2026-05-01T02:00:00+0200', '--to-datetime'), may1);
  assert.equal(parseDatetime('2026-04-30T21:30:00-02:30', '--to-datetime'), may1);
  assert.equal(parseDatetime('2026-05-01T02:05Z', '--from'), Date.UTC(2026, 4, 1, 2, 5));
  assert.equal(parseDatetime('2026-05-01T00:00:00.250Z', '--from'), may1 + 250);
});

test('parseDatetime: a leap day is a day, a day past the month\'s end is refused (Date.parse would roll it over)', () => {
  assert.equal(parseDatetime('2024-02-29T00:00:00Z', '--from'), Date.UTC(2024, 1, 29));
  assert.equal(parseDatetime('2026-04-30T23:59:59Z', '--from'), Date.UTC(2026, 3, 30, 23, 59, 59));
});

test('parseDatetime: refuses a datetime without a zone or in another shape, naming the flag', () => {
  assert.throws(() => parseDatetime('2026-05-01T00:00:00', '--from'), {
    name: 'ConfigError',
    field: '--from',
    message: '--from: "2026-05-01T00:00:00" is not an ISO-8601 datetime with a zone, e.g. 2026-05-01T00:00:00Z or 2026-05-01T02:00:00.000+02:00',
  });
  for (const bad of ['2026-05-01 00:00:00Z', '2026-05-01', '2026-05-01T00:00:00+02', '2026-13-01T00:00:00Z', 'yesterday', ' 2026-05-01T00:00:00Z', '+002026-05-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-04-31T12:00:00Z', '2025-02-29T00:00:00Z']) {
    assert.throws(() => parseDatetime(bad, '--to-datetime'), { code: 'CONFIG_INVALID', field: '--to-datetime' }, bad);
  }
});

test('durationMs: days, hours, minutes, seconds, weeks and a fraction of the smallest unit', () => {
  assert.equal(durationMs('P1D'), 86_400_000);
  assert.equal(durationMs('PT2H30M'), 9_000_000); // 2.5 h
  assert.equal(durationMs('P1DT12H'), 129_600_000); // 36 h
  assert.equal(durationMs('PT1.5H'), 5_400_000);
  assert.equal(durationMs('PT90S'), 90_000);
  assert.equal(durationMs('P1W'), 604_800_000);
});

test('durationMs: refuses a zero, empty or malformed duration, naming --by-duration', () => {
  assert.throws(() => durationMs('P0D'), {
    name: 'ConfigError',
    field: '--by-duration',
    message: '--by-duration: "P0D" is not a positive ISO-8601 duration, e.g. P1D, PT2H, P1DT12H',
  });
  for (const bad of ['', 'P', 'PT', '1D', 'one day', 'PT0S', 'xP1Dy', 'P1D junk', '1P1D', 'P1DT']) assert.throws(() => durationMs(bad), { field: '--by-duration' }, bad);
});

test('parseOffsetsCsv: the --export format, header and blank lines skipped, CRLF and surrounding spaces accepted', () => {
  const text = 'topic,partition,offset\r\nshop-eu.public.orders,0,120\r\n\n  shop-eu.public.orders,12,0  \n   \nshop_eu.public.order-lines,1,18446744073709551615\n';
  assert.deepEqual(parseOffsetsCsv(text, 'plan.csv'), [
    { topic: 'shop-eu.public.orders', partition: 0, offset: 120n },
    { topic: 'shop-eu.public.orders', partition: 12, offset: 0n },
    { topic: 'shop_eu.public.order-lines', partition: 1, offset: 18_446_744_073_709_551_615n },
  ]);
  assert.deepEqual(parseOffsetsCsv('a,1,2', 'f'), [{ topic: 'a', partition: 1, offset: 2n }], 'no header');
  assert.deepEqual(parseOffsetsCsv('', 'f'), []);
});

test('parseOffsetsCsv: a bad line names the file and its 1-based line number', () => {
  assert.throws(() => parseOffsetsCsv('topic,partition,offset\nt,0,5\nt,1\n', 'plan.csv'), {
    name: 'ConfigError',
    field: '--from-file',
    message: '--from-file: plan.csv line 3: expected topic,partition,offset, got "t,1"',
  });
  assert.throws(() => parseOffsetsCsv('t,0,-5', 'f'), { message: '--from-file: f line 1: expected topic,partition,offset, got "t,0,-5"' });
  assert.throws(() => parseOffsetsCsv('t,0,5\r\nt,1\r\n', 'f'), { message: '--from-file: f line 2: expected topic,partition,offset, got "t,1"' }, 'CRLF: the line is quoted without its CR');
  for (const bad of ['t,x,5', 't,-1,5', 't,1x,5', 't,0,5x', 't,0,x5']) assert.throws(() => parseOffsetsCsv(bad, 'f'), { field: '--from-file' }, bad);
  assert.throws(() => parseOffsetsCsv('t,0,1.5', 'f'), { field: '--from-file' });
  // The header is skipped on the first line only.
  assert.throws(() => parseOffsetsCsv('t,0,5\ntopic,partition,offset', 'f'), { message: '--from-file: f line 2: expected topic,partition,offset, got "topic,partition,offset"' });
});

test('readOffsetsCsv: reads the file and names it in errors', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cdcv-offsets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'plan.csv');
  writeFileSync(file, 'topic,partition,offset\nx.y.z,3,9\n');
  assert.deepEqual(readOffsetsCsv(file), [{ topic: 'x.y.z', partition: 3, offset: 9n }]);
  writeFileSync(file, 'x.y.z;3;9\n');
  assert.throws(() => readOffsetsCsv(file), { message: `--from-file: ${file} line 1: expected topic,partition,offset, got "x.y.z;3;9"` });
  assert.throws(() => readOffsetsCsv(join(dir, 'missing.csv')), { name: 'ConfigError', message: `--from-file: cannot read ${join(dir, 'missing.csv')}: ENOENT; give the CSV that \`rewind --export\` wrote` });
});

test('formatDuration: days, hours, minutes, seconds; zero parts left out; rounded to the second', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(499), '0s');
  assert.equal(formatDuration(500), '1s');
  assert.equal(formatDuration(59_000), '59s');
  assert.equal(formatDuration(60_000), '1m');
  assert.equal(formatDuration(3_600_000), '1h');
  assert.equal(formatDuration(3_660_000), '1h 1m');
  assert.equal(formatDuration(86_399_000), '23h 59m 59s');
  assert.equal(formatDuration(86_400_000), '1d');
  assert.equal(formatDuration(90_061_000), '1d 1h 1m 1s');
  assert.equal(formatDuration(259_201_000), '3d 1s');
  assert.equal(formatDuration(1_000 * 86_400 * 400), '400d');
});
