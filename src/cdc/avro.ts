/**
 * Decoding of Debezium change events written by a Kafka Connect Avro converter
 * in the Confluent wire format (Confluent Schema Registry documentation, "Wire format"):
 *
 * ```
 * byte 0      magic 0
 * bytes 1–4   schema id, big-endian (the registry's id; Apicurio: the content id)
 * bytes 5–    Avro binary of the key or value, written with that schema
 * ```
 *
 * Schemas are fetched by id from a Confluent-compatible registry through
 * @kafkajs/confluent-schema-registry (once per id; concurrent misses share one
 * request) and parsed by avsc. The Avro schema's `connect.*` properties (which
 * the Connect AvroData mapping writes: `connect.name`, `connect.parameters`)
 * are turned back into a Kafka Connect schema, and the envelope goes through the
 * same conversion as the JSON path (debezium-json.ts `decodeEnvelope`,
 * values.ts), so both encodings give identical {@link ChangeEvent}s.
 *
 * Errors:
 * - registry unreachable, timing out or answering 5xx → {@link RegistryUnavailableError}
 *   (`REGISTRY_UNAVAILABLE`, retriable: the processor pauses the partition and retries);
 * - registry refusing the credentials (401) or the user (403) → `REGISTRY_AUTH_FAILED`
 *   (./registry-auth.ts: retriable, needs an operator; never taken for an unknown id);
 * - the registry answers but has no schema with that id → `DECODE_UNKNOWN_SCHEMA_ID` (DLQ);
 * - bytes that do not match the writer schema, or a schema that is not Avro →
 *   `DECODE_BAD_AVRO` (DLQ).
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avsc from 'avsc';
import { CdcViewsError, ConfigError, DecodeError, DecodeErrorCode } from '../errors.ts';
import { decodeDebeziumJson, decodeEnvelope, tableFromTopic, type RawRecord, type RecordDecoder } from './debezium-json.ts';
import { canonicalKeyString } from './keys.ts';
import { authorizationHeader, displayUrl, splitUrl, type HttpCredentials } from '../http-auth.ts';
import { Secret } from '../secrets.ts';
import { RegistryAuthError, authMiddleware, registryHeaders } from './registry-auth.ts';
import type { DecodedRecord, KafkaPosition, Row } from './types.ts';
import { convertValue, type ConnectSchema } from './values.ts';

/** Error codes of the Avro path (metric labels; unique across cdc-views). */
export const AvroErrorCode = {
  /** The registry has no schema with the record's id. DLQ. */
  UnknownSchemaId: 'DECODE_UNKNOWN_SCHEMA_ID',
  /** The bytes do not decode with the writer schema, or the schema is not Avro. DLQ. */
  BadAvro: 'DECODE_BAD_AVRO',
  /** The registry cannot be asked right now. Retriable. */
  RegistryUnavailable: 'REGISTRY_UNAVAILABLE',
} as const;

/** A record that can never decode as Confluent-framed Avro. Not retriable: the record goes to the DLQ. */
export class AvroDecodeError extends CdcViewsError {
  constructor(code: typeof AvroErrorCode.UnknownSchemaId | typeof AvroErrorCode.BadAvro, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** The schema registry did not answer usefully; retry later (the partition waits). */
export class RegistryUnavailableError extends CdcViewsError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(AvroErrorCode.RegistryUnavailable, message, { ...options, retriable: true });
  }
}

/** An Avro schema as JSON (the subset the Connect AvroData mapping produces). */
export type AvroSchema = string | AvroSchema[] | AvroComplex;
interface AvroComplex {
  type: AvroSchema;
  name?: string;
  namespace?: string;
  fields?: { name: string; type: AvroSchema; default?: unknown }[];
  items?: AvroSchema;
  values?: AvroSchema;
  symbols?: string[];
  'connect.name'?: string;
  'connect.parameters'?: Record<string, string>;
  'connect.type'?: string;
  [attr: string]: unknown;
}

const MAGIC = 0;
const HEADER = 5;

/** True when bytes start like the Confluent wire format (JSON never starts with a 0 byte). */
export function isConfluentFramed(bytes: Buffer | null): bytes is Buffer {
  return bytes !== null && bytes.length >= HEADER && bytes[0] === MAGIC;
}

const PRIMITIVE_TO_CONNECT: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'int32',
  long: 'int64',
  float: 'float32',
  double: 'float64',
  bytes: 'bytes',
  string: 'string',
  enum: 'string',
  fixed: 'bytes',
};

function fullName(name: string, namespace: string | undefined): string {
  return name.includes('.') || !namespace ? name : `${namespace}.${name}`;
}

/**
 * Avro schema (with the `connect.*` properties of Kafka Connect's AvroData) →
 * Kafka Connect schema as the JsonConverter writes it. Unions `[null, T]` /
 * `[T, null]` become an optional T. Named types are resolved in the Avro way
 * (full name, or the name in the enclosing namespace).
 */
export function avroToConnectSchema(schema: AvroSchema, named = new Map<string, ConnectSchema>(), namespace?: string): ConnectSchema {
  if (typeof schema === 'string') {
    const primitive = PRIMITIVE_TO_CONNECT[schema];
    if (primitive) return { type: primitive };
    const ref = named.get(fullName(schema, namespace)) ?? named.get(schema);
    if (!ref) throw new Error(`unknown Avro type name ${schema}`);
    return ref;
  }
  if (Array.isArray(schema)) {
    const branches = schema.filter((b) => b !== 'null');
    if (branches.length !== 1) throw new Error(`unsupported Avro union of ${branches.length} non-null branches`);
    return { ...avroToConnectSchema(branches[0]!, named, namespace), optional: schema.length > 1 };
  }
  const connect = (base: ConnectSchema): ConnectSchema => ({
    ...base,
    ...(schema['connect.name'] ? { name: schema['connect.name'] } : {}),
    ...(schema['connect.parameters'] ? { parameters: schema['connect.parameters'] } : {}),
  });
  switch (schema.type) {
    case 'record': {
      const ns = schema.name?.includes('.') ? schema.name.slice(0, schema.name.lastIndexOf('.')) : (schema.namespace ?? namespace);
      const out: ConnectSchema = { type: 'struct', fields: [] };
      if (schema.name) named.set(fullName(schema.name, ns), out); // before the fields: a record may refer to itself
      for (const f of schema.fields ?? []) out.fields!.push({ ...avroToConnectSchema(f.type, named, ns), field: f.name });
      // Connect struct names (e.g. io.debezium.data.VariableScaleDecimal) are the record's full name unless connect.name says otherwise.
      if (schema.name) out.name = fullName(schema.name, ns);
      return Object.assign(out, connect(out));
    }
    case 'array':
      return connect({ type: 'array', items: avroToConnectSchema(schema.items ?? 'null', named, namespace) });
    case 'map':
      return connect({ type: 'map' });
    case 'enum':
    case 'fixed': {
      const s = connect({ type: PRIMITIVE_TO_CONNECT[schema.type]! });
      if (schema.name) named.set(fullName(schema.name, schema.namespace ?? namespace), s);
      return s;
    }
    default: {
      if (typeof schema.type !== 'string' || !(schema.type in PRIMITIVE_TO_CONNECT)) return avroToConnectSchema(schema.type, named, namespace);
      return connect({ type: schema['connect.type'] ?? PRIMITIVE_TO_CONNECT[schema.type]! });
    }
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * avsc's decoded value → the shape the JsonConverter gives for the same data:
 * bytes as base64 strings, int64 as numbers (bigint beyond ±(2^53 − 1), which
 * values.ts renders as an exact string), records as plain objects.
 */
export function toConnectPayload(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value > MAX_SAFE || value < -MAX_SAFE ? value : Number(value);
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(toConnectPayload);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toConnectPayload(v);
    return out;
  }
  return value;
}

/** Avro `long` as bigint: avsc's default JS number would silently round int8 values beyond 2^53. */
const BIGINT_LONG = avsc.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as number),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

/**
 * An avsc type for a writer schema as the decoder reads it: every `long` as
 * bigint (the registry covers `"long"`, the hook `{"type":"long",…}` with
 * connect.* properties), `[null, T]` unions unwrapped.
 */
export function parseAvroSchema(raw: AvroSchema): avsc.Type {
  return avsc.Type.forSchema(raw as avsc.Schema, {
    registry: { long: BIGINT_LONG },
    wrapUnions: 'auto',
    typeHook: (s) => (typeof s === 'object' && !Array.isArray(s) && (s as { type?: unknown }).type === 'long' && !('logicalType' in s) ? BIGINT_LONG : undefined),
  });
}

interface ParsedSchema {
  type: avsc.Type;
  connect: ConnectSchema;
}

/** Options of {@link AvroDecoder}. */
export interface AvroDecoderOptions {
  /** Confluent-compatible API, e.g. Apicurio's `http://localhost:8081/apis/ccompat/v7` (CDCV_SCHEMA_REGISTRY_URL). */
  registryUrl: string;
  /** Basic auth or a bearer token (./registry-auth.ts `registryConnection`). @defaultValue none, or the URL's user info as basic auth */
  credentials?: HttpCredentials;
  /** Per-request timeout of the registry, ms. @defaultValue 5000 */
  timeoutMs?: number;
}

/**
 * Decodes Confluent-framed Avro records (key and value). Schemas are cached
 * per id for the decoder's lifetime (ids are immutable in a registry).
 */
export class AvroDecoder implements RecordDecoder {
  private readonly registry: SchemaRegistry;
  /** Raw schema JSON of every avsc type the registry client built, to read its `connect.*` properties. */
  private readonly raw = new WeakMap<avsc.Type, AvroSchema>();
  private readonly parsed = new WeakMap<avsc.Type, ParsedSchema>();
  private readonly timeoutMs: number;
  /** The registry's URL without user info nor trailing slash. */
  private readonly url: string;
  /** The URL for messages. */
  private readonly shown: string;
  private readonly credentials: HttpCredentials | undefined;

  constructor(opts: AvroDecoderOptions) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    const split = splitUrl(opts.registryUrl);
    this.url = split.url.replace(/\/$/, '');
    this.shown = displayUrl(this.url);
    // Credentials in the URL keep working (as basic auth), never shown.
    this.credentials = opts.credentials ?? (split.credentials ? { kind: 'basic', username: split.credentials.username, password: Secret.of('schemaRegistryUrl', split.credentials.password, undefined)! } : undefined);
    const raw = this.raw;
    this.registry = new SchemaRegistry(
      // The processor retries with backoff while the partition waits; the client itself retries once.
      {
        host: this.url,
        clientId: 'cdc-views',
        retry: { retries: 1, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 1 },
        ...(this.credentials ? { middlewares: [authMiddleware(this.credentials)] } : {}),
      },
      {
        forSchemaOptions: {
          // Takes over parsing of the root schema to keep its raw JSON (avsc drops unknown
          // properties such as connect.name), and reads `long` as bigint.
          // (Called first for the root schema; returning a type ends the client's own parsing.)
          typeHook: (schema) => {
            const type = parseAvroSchema(schema as AvroSchema);
            raw.set(type, schema as AvroSchema);
            return type;
          },
        },
      },
    );
  }

  /** The writer schema of an id: fetched once, then cached. */
  private async schema(id: number, what: 'key' | 'value'): Promise<ParsedSchema> {
    let type: avsc.Type;
    try {
      // The secret read before the request: the client would wrap a failure of its middleware as a parse error.
      if (this.credentials) authorizationHeader(this.credentials);
      type = (await withTimeout(this.registry.getSchema(id), this.timeoutMs, `schema registry at ${this.shown} did not answer within ${this.timeoutMs} ms`)) as avsc.Type;
    } catch (err) {
      throw await this.classify(err, id, what);
    }
    let parsed = this.parsed.get(type);
    if (!parsed) {
      const raw = this.raw.get(type);
      if (raw === undefined || !(type instanceof avsc.Type)) throw new AvroDecodeError(AvroErrorCode.BadAvro, `record ${what}: schema id ${id} is not an Avro schema`);
      try {
        parsed = { type, connect: avroToConnectSchema(raw) };
      } catch (err) {
        throw new AvroDecodeError(AvroErrorCode.BadAvro, `record ${what}: schema id ${id} cannot be mapped to a Connect schema: ${(err as Error).message}`, { cause: err });
      }
      this.parsed.set(type, parsed);
    }
    return parsed;
  }

  /** Unknown id (the registry answers, but not for this id) → DLQ; anything else about the registry → retriable. */
  private async classify(err: unknown, id: number, what: 'key' | 'value'): Promise<CdcViewsError> {
    // The secret file cannot be read (being rotated, unmounted): wait for it, never dead-letter.
    if (err instanceof ConfigError) return new RegistryAuthError(`schema registry credentials: ${err.message}`, { cause: err });
    if (err instanceof CdcViewsError) return err;
    const status = (err as { status?: unknown }).status;
    const message = (err as Error).message ?? String(err);
    if (status === 401 || status === 403) {
      const what401 = status === 401 ? 'refuses the credentials (401): check schemaRegistryUsername/Password or schemaRegistryToken (rotated? the secret file is re-read at each retry)' : 'denies the user (403): grant it read access to the schemas';
      return new RegistryAuthError(`schema registry at ${this.shown} ${what401}; schema id ${id} not fetched`, { cause: err });
    }
    if (status === 404 && (await this.answers())) {
      return new AvroDecodeError(AvroErrorCode.UnknownSchemaId, `record ${what}: schema id ${id} does not exist in the registry at ${this.shown} (${message})`, { cause: err });
    }
    if (typeof status !== 'number') {
      // Not an HTTP answer: avsc refused the schema text (the client parses it as it fetches).
      return new AvroDecodeError(AvroErrorCode.BadAvro, `record ${what}: schema id ${id} is not a valid Avro schema: ${message}`, { cause: err });
    }
    return new RegistryUnavailableError(`schema registry at ${this.shown} unavailable fetching schema id ${id}: ${message}`, { cause: err });
  }

  /** True when the registry's Confluent-compatible API answers (so a 404 means the id, not a wrong URL). */
  private async answers(): Promise<boolean> {
    try {
      // With the credentials: a registry that requires them answers 401 to an anonymous probe.
      const res = await fetch(`${this.url}/subjects`, { headers: registryHeaders(this.credentials), signal: AbortSignal.timeout(this.timeoutMs) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  private async decodePart(bytes: Buffer, what: 'key' | 'value'): Promise<{ connect: ConnectSchema; payload: unknown }> {
    const id = bytes.readUInt32BE(1);
    const { type, connect } = await this.schema(id, what);
    let value: unknown;
    try {
      value = type.fromBuffer(bytes.subarray(HEADER));
    } catch (err) {
      throw new AvroDecodeError(AvroErrorCode.BadAvro, `record ${what}: bytes do not match Avro schema id ${id}: ${(err as Error).message}`, { cause: err });
    }
    return { connect, payload: toConnectPayload(value) };
  }

  /**
   * Decodes one record whose key and/or value is Confluent-framed Avro.
   * @throws {AvroDecodeError} (DLQ), {@link RegistryUnavailableError} (retriable), DecodeError (bad envelope).
   */
  async decode(record: RawRecord): Promise<DecodedRecord> {
    const position: KafkaPosition = { topic: record.topic, partition: record.partition, offset: record.offset, timestamp: Number(record.timestamp) };
    let key: Row | null = null;
    if (record.key !== null && record.key.length > 0) {
      if (!isConfluentFramed(record.key)) throw new DecodeError(DecodeErrorCode.BadKey, 'record key is not Confluent-framed Avro although its value is');
      const k = await this.decodePart(record.key, 'key');
      if (k.payload !== null && (typeof k.payload !== 'object' || Array.isArray(k.payload))) {
        throw new DecodeError(DecodeErrorCode.BadKey, 'record key is not a struct of primary-key columns');
      }
      key = k.payload === null ? null : (convertValue(k.payload, k.connect, 'key') as Row);
    }
    if (record.value === null || record.value.length === 0) {
      return { kind: 'tombstone', table: tableFromTopic(record.topic), key, keyString: key === null ? null : canonicalKeyString(key), position };
    }
    if (!isConfluentFramed(record.value)) throw new AvroDecodeError(AvroErrorCode.BadAvro, 'record value is not Confluent-framed Avro (no magic byte 0)');
    const v = await this.decodePart(record.value, 'value');
    return decodeEnvelope(v.payload, v.connect, key, position);
  }
}

/**
 * A decoder for topics written by either converter, detected per record: a
 * value (or, for a tombstone, a key) starting with the magic byte 0 is
 * Confluent-framed Avro; anything else goes to the JSON decoder.
 */
export function autoDecoder(opts: AvroDecoderOptions): RecordDecoder & { avro: AvroDecoder } {
  const avro = new AvroDecoder(opts);
  return {
    avro,
    decode: (record) => {
      const tombstone = record.value === null || record.value.length === 0;
      const isAvro = tombstone ? isConfluentFramed(record.key) : isConfluentFramed(record.value);
      return isAvro ? avro.decode(record) : decodeDebeziumJson(record);
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RegistryUnavailableError(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
