/**
 * The encodings of values stored in Redis, in one place on the TypeScript side
 * (the Lua side is lua/include/stored-row.lua).
 *
 * - Stored row (a field of a table hash): three lines
 *   `<version>\n<origin>\n<payload>`. `version` is the source version of the
 *   change that wrote it (fixed-width: versions compare as strings; see
 *   src/cdc/source-position.ts); `origin` is
 *   `<incarnation>:<partition>:<offset>` of the change's record in the table's
 *   topic (the incarnation counts re-creations of the topic found so far);
 *   `payload` is the row JSON, or
 *   `~<ms>` for a delete marker (a deleted row keeps its version so an older
 *   replayed event cannot resurrect it; `<ms>` is when it was deleted, for
 *   the markers' retention).
 * - Contribution (a field of an incremental aggregate's `contrib` hash): the
 *   member row counted in its group, three lines
 *   `<version>\n<group key string>\n<row JSON>`; `version` is the member's
 *   stored version that row had.
 * - Stored aggregate (a field of an incremental aggregate's table): a stored
 *   row whose version is the aggregate's revision (20 digits), whose origin
 *   is the group's member count, and whose payload is the aggregate JSON.
 * - Partition field (a field of the positions and epochs hashes):
 *   `<topic>:<partition>`; topics never contain `:` (Kafka allows
 *   `[a-zA-Z0-9._-]`), so the last `:` separates them.
 */
import type { Row } from '../cdc/types.ts';

/** A stored table row. */
export interface StoredRow {
  /** The source version of the change that wrote it. */
  version: string;
  /** `<incarnation>:<partition>:<offset>` of that change's record in the table's topic. */
  origin: string;
  /** The row; null for a delete marker. */
  row: Row | null;
  /** For a delete marker: when the row was deleted, ms since the epoch. */
  deletedAtMs: number | null;
}

/** The payload part of a stored row as apply-chunk receives it: row JSON, or '' for a delete. */
export function encodePayload(row: Row | null): string {
  return row === null ? '' : JSON.stringify(row);
}

/** Where a change's record sits: the topic's incarnation, the partition and the offset. */
export interface Origin {
  incarnation: number;
  partition: number;
  offset: bigint;
}

/** The origin field of a stored row. */
export function encodeOrigin(incarnation: number, partition: number, offset: string | bigint): string {
  return `${incarnation}:${partition}:${offset}`;
}

/** Parses an origin field. @returns null when it is not `<incarnation>:<partition>:<offset>` (e.g. `snapshot`) */
export function parseOrigin(origin: string): Origin | null {
  const m = /^(\d+):(\d+):(\d+)$/.exec(origin);
  return m ? { incarnation: Number(m[1]), partition: Number(m[2]), offset: BigInt(m[3]!) } : null;
}

/** Encodes a stored row; `row` null encodes a delete marker deleted at `deletedAtMs`. */
export function encodeStored(version: string, origin: string, row: Row | null, deletedAtMs = 0): string {
  return `${version}\n${origin}\n${row === null ? `~${deletedAtMs}` : JSON.stringify(row)}`;
}

/** Parses a stored row. @throws {SyntaxError} when the value is not in the stored-row form */
export function parseStored(value: string): StoredRow {
  const first = value.indexOf('\n');
  const second = first < 0 ? -1 : value.indexOf('\n', first + 1);
  if (second < 0) throw new SyntaxError(`not a stored row (version and origin lines expected): ${value.slice(0, 40)}`);
  const payload = value.slice(second + 1);
  const deleted = payload.startsWith('~');
  return {
    version: value.slice(0, first),
    origin: value.slice(first + 1, second),
    row: deleted ? null : (JSON.parse(payload) as Row),
    deletedAtMs: deleted ? Number(payload.slice(1)) : null,
  };
}

/** The version of a stored row, as stored; '' when there is no stored row. */
export function storedVersion(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const nl = value.indexOf('\n');
  return nl < 0 ? '' : value.slice(0, nl);
}

/** The row of a stored value; null for a delete marker or no value. */
export function storedRow(value: string | null | undefined): Row | null {
  return value === null || value === undefined ? null : parseStored(value).row;
}

/** The member row an incremental aggregate counted in a group. */
export interface Contribution {
  /** The member's stored version when it was counted. */
  version: string;
  /** The group key string it was counted in. */
  group: string;
  row: Row;
}

/** Encodes a contribution. */
export function encodeContribution(c: Contribution): string {
  return `${c.version}\n${c.group}\n${JSON.stringify(c.row)}`;
}

/** Parses a contribution. @throws {SyntaxError} when the value is not in the contribution form */
export function parseContribution(value: string): Contribution {
  const first = value.indexOf('\n');
  const second = first < 0 ? -1 : value.indexOf('\n', first + 1);
  if (second < 0) throw new SyntaxError(`not a contribution (version and group lines expected): ${value.slice(0, 40)}`);
  return { version: value.slice(0, first), group: value.slice(first + 1, second), row: JSON.parse(value.slice(second + 1)) as Row };
}

/** One Kafka partition. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** The field naming one partition in the positions and epochs hashes. */
export function partitionField(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/**
 * Parses a partition field.
 * @throws {SyntaxError} when it has no topic or no `:<partition>` suffix of decimal digits
 *   (`topic:` is not partition 0, though `Number('')` is 0)
 */
export function parsePartitionField(field: string): TopicPartition {
  const sep = field.lastIndexOf(':');
  const digits = field.slice(sep + 1);
  if (sep <= 0 || !/^\d+$/.test(digits) || !Number.isSafeInteger(Number(digits))) throw new SyntaxError(`not a <topic>:<partition> field: ${field}`);
  return { topic: field.slice(0, sep), partition: Number(digits) };
}

/**
 * Stored positions of an application: the next offset to consume per
 * partition. Read-only view over the positions hash.
 */
export class Positions {
  private readonly byField: ReadonlyMap<string, bigint>;

  constructor(entries: Iterable<[field: string, offset: bigint]>) {
    this.byField = new Map(entries);
  }

  /** From the raw hash (`HGETALL`). */
  static fromHash(hash: Record<string, string>): Positions {
    return new Positions(Object.entries(hash).map(([k, v]) => [k, BigInt(v)]));
  }

  /** From per-partition offsets. */
  static of(entries: Iterable<TopicPartition & { offset: bigint }>): Positions {
    return new Positions([...entries].map((e) => [partitionField(e.topic, e.partition), e.offset]));
  }

  get size(): number {
    return this.byField.size;
  }

  /** The stored position of a partition; null when none is stored. */
  get(topic: string, partition: number): bigint | null {
    return this.byField.get(partitionField(topic, partition)) ?? null;
  }

  has(topic: string, partition: number): boolean {
    return this.byField.has(partitionField(topic, partition));
  }

  /** Every stored position. */
  *entries(): IterableIterator<TopicPartition & { offset: bigint }> {
    for (const [field, offset] of this.byField) yield { ...parsePartitionField(field), offset };
  }

  /** Topics with a stored position, sorted. */
  topics(): string[] {
    return [...new Set([...this.entries()].map((e) => e.topic))].sort();
  }

  /** The raw hash fields, for HSET. */
  toHash(): Record<string, string> {
    return Object.fromEntries([...this.byField].map(([k, v]) => [k, v.toString()]));
  }
}
