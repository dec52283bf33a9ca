/**
 * The exact version strings of src/cdc/source-position.ts (layout documented in
 * its module comment: `P` + A(20) + class(1) + B(20) + read(1); `M` + file
 * index(10) + pos(20) + row(10) + read(1); `S` + commit(25) + change(25) +
 * serial(20) + read(1), an LSN `vvvvvvvv:bbbbbbbb:ssss` hex as 10 + 10 + 5
 * decimal digits; `K` + offset(20)), how `source.snapshot` (string, boolean,
 * absent) selects a read or a change, the range limits of positions
 * (0 … 2^64 − 1, row ≤ 9_999_999_999) and the exact DECODE_BAD_ENVELOPE
 * messages for malformed positions. Pure: no Redis (the ordering itself is
 * tested against the store in source-position.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kafkaOffsetVersion, sourceVersion, versionKind } from '../../../src/cdc/source-position.ts';
import type { Op } from '../../../src/cdc/types.ts';
import { DecodeError, DecodeErrorCode } from '../../../src/errors.ts';

const version = (connector: string, op: Op, source: Record<string, unknown>, offset = '42'): string => sourceVersion({ connector, op, source, offset }).version;
const z = (n: number): string => '0'.repeat(n);
const U64_MAX = '18446744073709551615'; // 2^64 − 1: exactly 20 digits
const RANGE = '(a JSON number only up to 2^53)';

function assertBad(connector: string, source: Record<string, unknown>, message: string, offset = '42'): void {
  assert.throws(() => sourceVersion({ connector, op: 'c', source, offset }), (e: unknown) => {
    assert.ok(e instanceof DecodeError, `DecodeError, got ${String(e)}`);
    assert.equal(e.code, DecodeErrorCode.BadEnvelope);
    assert.equal(e.message, message);
    return true;
  });
}

void test('PostgreSQL: source.snapshot (string, boolean or absent) and op select snapshot read, change or incremental read', () => {
  // lsn 1234 without sequence: a change is class 1 (no previous commit) with A = B = L
  const change = `P${z(16)}12341${z(16)}12341`;
  const read = `P${z(16)}12340${z(16)}12340`;
  for (const snapshot of [undefined, null, false, 'false']) {
    assert.equal(version('postgresql', 'c', { lsn: 1234, snapshot }), change, `c with snapshot ${String(snapshot)}`);
    assert.equal(version('postgresql', 'r', { lsn: 1234, snapshot }), read, `r with snapshot ${String(snapshot)}`);
  }
  for (const snapshot of [true, 'true', 'first', 'last']) assert.equal(version('postgresql', 'c', { lsn: 1234, snapshot }), read, `snapshot ${String(snapshot)}`);
  // incremental: ranks as a change at its position, read digit 0
  assert.equal(version('postgresql', 'r', { lsn: 1234, snapshot: 'incremental' }), `P${z(16)}12341${z(16)}12340`);
  // sequence [P, L] (string or already-parsed array): class 2, A = P, B = L
  assert.equal(version('postgresql', 'u', { sequence: '["100","200"]', lsn: 1 }), `P${z(17)}1002${z(17)}2001`);
  assert.equal(version('postgresql', 'u', { sequence: ['100', '200'] }), `P${z(17)}1002${z(17)}2001`);
  assert.equal(version('postgresql', 'u', { sequence: '[null,"200"]' }), `P${z(17)}2001${z(17)}2001`);
});

void test('PostgreSQL: sequence in Debezium\'s exact form and in any other valid form (spaces, leading zeros, 20 digits) give the same version', () => {
  const cases: [string, string][] = [
    ['["100","200"]', '[ "100", "200" ]'],
    ['["0000000000000000100","200"]', '["100","200"]'], // leading zeros
    ['["00000000000000000100","200"]', '["100","200"]'], // 20 digits with leading zeros
    ['[null,"9999999999999999999"]', '[null, "9999999999999999999"]'], // 19 nines
    ['["10000000000000000000","1"]', '["10000000000000000000", "1"]'], // 20 digits, below 2^64
    ['[null,null]', '[ null, null ]'],
  ];
  for (const [a, b] of cases) {
    for (const snapshot of [undefined, 'incremental']) {
      const source = (sequence: string): Record<string, unknown> => ({ sequence, lsn: 7, ...(snapshot ? { snapshot } : {}) });
      assert.equal(version('postgresql', 'u', source(a)), version('postgresql', 'u', source(b)), `${a} vs ${b}, snapshot ${String(snapshot)}`);
    }
  }
  assert.equal(version('postgresql', 'u', { sequence: '["0000000000000000100","0000000000000000200"]' }), `P${z(17)}1002${z(17)}2001`);
  assert.equal(version('postgresql', 'r', { sequence: '[null,"9999999999999999999"]', snapshot: 'true' }), `P0${'9'.repeat(19)}00${'9'.repeat(19)}0`);
  assert.equal(version('postgresql', 'u', { sequence: '[null,null]', lsn: 5 }), `P${z(19)}51${z(19)}51`, 'no LSN in the sequence: source.lsn');
});

void test('positions: 0 and 2^64 − 1 are valid (number, string, bigint); beyond, negative or not digits is refused', () => {
  assert.equal(version('postgresql', 'c', { lsn: 0n }), `P${z(20)}1${z(20)}1`);
  assert.equal(version('postgresql', 'c', { lsn: 0 }), `P${z(20)}1${z(20)}1`);
  assert.equal(version('postgresql', 'c', { lsn: BigInt(U64_MAX) }), `P${U64_MAX}1${U64_MAX}1`);
  assert.equal(version('postgresql', 'c', { sequence: `["${U64_MAX}","${U64_MAX}"]` }), `P${U64_MAX}2${U64_MAX}1`);
  const expected = `expected an unsigned integer up to ${U64_MAX} ${RANGE}`;
  assertBad('postgresql', { lsn: 18_446_744_073_709_551_616n }, `source.lsn is 18446744073709551616, ${expected}`); // bigint rendered as digits
  assertBad('postgresql', { lsn: -1n }, `source.lsn is -1, ${expected}`);
  assertBad('postgresql', { lsn: -1 }, `source.lsn is -1, ${expected}`);
  assertBad('postgresql', { lsn: 2 ** 53 }, `source.lsn is 9007199254740992, ${expected}`); // not a safe integer
  assertBad('postgresql', { lsn: 'abc' }, `source.lsn is "abc", ${expected}`);
  assertBad('postgresql', { sequence: '["1","2x"]' }, `source.sequence[1] is "2x", ${expected}`);
  assertBad('postgresql', { sequence: '["x1","2"]' }, `source.sequence[0] is "x1", ${expected}`);
  assertBad('postgresql', { sequence: `["1","${U64_MAX}0"]` }, `source.sequence[1] is "${U64_MAX}0", ${expected}`); // 21 digits
  assertBad('postgresql', { sequence: '["1","18446744073709551616"]' }, `source.sequence[1] is "18446744073709551616", ${expected}`); // 20 digits, > max
});

void test('PostgreSQL: a malformed sequence names the field and the expected form', () => {
  const form = 'expected a JSON array ["lastCommitLsn","lsn"]';
  assertBad('postgresql', { sequence: 'nope' }, `source.sequence is "nope", ${form}`);
  assertBad('postgresql', { sequence: '["1"]' }, `source.sequence is "[\\"1\\"]", ${form}`);
  assertBad('postgresql', { sequence: '{"a":1}' }, `source.sequence is "{\\"a\\":1}", ${form}`);
});

void test('MySQL/MariaDB: M + file index(10) + pos(20) + row(10) + read; row up to 10 digits', () => {
  const src = { file: 'mysql-bin.000003', pos: 154, row: 2, snapshot: 'false' };
  assert.equal(version('mysql', 'c', src), `M0000000003${z(17)}1540000000002` + '1');
  assert.equal(version('mariadb', 'c', src), `M0000000003${z(17)}1540000000002` + '1');
  assert.equal(sourceVersion({ connector: 'mariadb', op: 'c', source: src, offset: '0' }).kind, 'mysql');
  assert.equal(version('mysql', 'r', { ...src, snapshot: 'true' }), `M0000000003${z(17)}1540000000002` + '0');
  assert.equal(version('mysql', 'r', { ...src, snapshot: 'incremental' }), `M0000000003${z(17)}1540000000002` + '0');
  assert.equal(version('mysql', 'c', { file: 'mysql-bin.000003', pos: 154 }), `M0000000003${z(17)}154${z(10)}1`); // no row → 0
  assert.equal(version('mysql', 'c', { file: 'b.1', pos: 1, row: 9_999_999_999 }), `M0000000001${z(19)}19999999999` + '1');
  assertBad('mysql', { file: 'b.1', pos: 1, row: 10_000_000_000 }, `source.row is 10000000000, expected an unsigned integer up to 9999999999 ${RANGE}`);
  assertBad('mysql', { file: 'b.1', pos: 'x' }, `source.pos is "x", expected an unsigned integer up to ${U64_MAX} ${RANGE}`);
  const fileForm = 'expected a binlog file name <base>.<index>';
  assertBad('mysql', { file: 'mysql-bin', pos: 1 }, `source.file is "mysql-bin", ${fileForm}`);
  assertBad('mysql', { file: 'mysql-bin.000003x', pos: 1 }, `source.file is "mysql-bin.000003x", ${fileForm}`);
  assertBad('mysql', { file: 1.5, pos: 1 }, `source.file is 1.5, ${fileForm}`); // a number is not a file name
  // file without pos (or pos without file): no position → Kafka offset
  assert.deepEqual(sourceVersion({ connector: 'mysql', op: 'c', source: { file: 'b.1' }, offset: '42' }), { kind: 'kafka-offset', version: `K${z(18)}42` });
  assert.deepEqual(sourceVersion({ connector: 'mysql', op: 'c', source: { pos: 4 }, offset: '42' }), { kind: 'kafka-offset', version: `K${z(18)}42` });
});

void test('SQL Server: LSN hex parts as 10 + 10 + 5 decimal digits, zeros without change_lsn', () => {
  // 0x27 = 39, 0x758 = 1880, 0x5 = 5; 0x2A = 42 (upper-case hex accepted)
  const commit = `${z(8)}39${z(6)}1880${z(4)}5`;
  assert.equal(version('sqlserver', 'c', { commit_lsn: '00000027:00000758:0005', change_lsn: '0000002A:00000758:0003', event_serial_no: 2, snapshot: 'false' }), `S${commit}${z(8)}42${z(6)}1880${z(4)}3${z(19)}2` + '1');
  assert.equal(version('sqlserver', 'r', { commit_lsn: '00000027:00000758:0005', snapshot: 'true' }), `S${commit}${z(25)}${z(20)}0`);
  assert.equal(sourceVersion({ connector: 'sqlserver', op: 'c', source: {}, offset: '7' }).kind, 'kafka-offset');
  const lsnForm = 'expected an LSN like 00000027:00000758:0005';
  assertBad('sqlserver', { commit_lsn: 'x00000027:00000758:0005' }, `source.commit_lsn is "x00000027:00000758:0005", ${lsnForm}`);
  assertBad('sqlserver', { commit_lsn: '00000027:00000758:0005x' }, `source.commit_lsn is "00000027:00000758:0005x", ${lsnForm}`);
  assertBad('sqlserver', { commit_lsn: 39 }, `source.commit_lsn is 39, ${lsnForm}`);
  assertBad('sqlserver', { commit_lsn: '00000027:00000758:0005', change_lsn: '1:2:3' }, `source.change_lsn is "1:2:3", ${lsnForm}`);
  assertBad('sqlserver', { commit_lsn: '00000027:00000758:0005', event_serial_no: -1 }, `source.event_serial_no is -1, expected an unsigned integer up to ${U64_MAX} ${RANGE}`);
});

void test('fallback: K + the Kafka offset in 20 digits; a bad offset names "the Kafka offset"', () => {
  assert.deepEqual(sourceVersion({ connector: 'oracle', op: 'c', source: { scn: '1' }, offset: '42' }), { kind: 'kafka-offset', version: `K${z(18)}42` });
  assert.equal(kafkaOffsetVersion(7n), `K${z(19)}7`);
  assertBad('oracle', {}, `the Kafka offset is "-1", expected an unsigned integer up to ${U64_MAX} ${RANGE}`, '-1');
});

void test('versionKind reads the kind from the first letter', () => {
  assert.equal(versionKind(`P${z(42)}`), 'postgresql');
  assert.equal(versionKind(`M${z(41)}`), 'mysql');
  assert.equal(versionKind(`S${z(71)}`), 'sqlserver');
  assert.equal(versionKind(`K${z(20)}`), 'kafka-offset');
  assert.equal(versionKind('X1'), null);
  assert.equal(versionKind(''), null);
});
