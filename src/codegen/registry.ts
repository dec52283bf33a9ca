/**
 * Reads a table's row type from the latest value schema of a subject in a
 * Confluent-compatible schema registry (`GET {url}/subjects/{subject}/versions/latest`,
 * Confluent Schema Registry API; Apicurio serves it under `/apis/ccompat/v7`).
 *
 * The schema is the Debezium envelope written by an Avro converter: it goes
 * through src/cdc/avro.ts `avroToConnectSchema` (the decoder's own mapping of
 * `connect.*` properties back to Kafka Connect logical types), and the
 * envelope's `after` struct through ./connect-types.ts, so a column gets the
 * type of the value the Avro decoder produces for it.
 */
import { avroToConnectSchema, RegistryUnavailableError, type AvroSchema } from '../cdc/avro.ts';
import { tableFromTopic } from '../cdc/debezium-json.ts';
import type { ConnectSchema } from '../cdc/values.ts';
import { CdcViewsError } from '../errors.ts';
import { RegistryAuthError, registryHeaders } from '../cdc/registry-auth.ts';
import { displayUrl, splitUrl, type HttpCredentials } from '../http-auth.ts';
import { Secret } from '../secrets.ts';
import { connectToTs, nullable, valueNote } from './connect-types.ts';
import type { ColumnModel, TableModel } from './model.ts';

/** The registry's answer for one subject version. */
interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  schema: string;
  schemaType?: string;
}

/** A column's TSDoc line from its Connect schema, e.g. "Avro `io.debezium.time.MicroTimestamp` (int64), NOT NULL." */
function describe(field: ConnectSchema): string {
  const what = field.name ? `\`${field.name}\` (${field.type})` : `\`${field.type}\``;
  const note = valueNote(field);
  return `Connect ${what}${field.optional ? '' : ', NOT NULL'}${note === undefined ? '' : `: ${note}`}.`;
}

/**
 * The row type of a Debezium envelope schema (Avro, with connect.* properties).
 * @param table `schema.table` the type is for
 * @throws {CdcViewsError} CODEGEN_NOT_ENVELOPE when the schema is not a Debezium envelope with an `after` record
 */
export function envelopeToTable(avro: AvroSchema, table: string, origin: string): TableModel {
  let envelope: ConnectSchema;
  try {
    envelope = avroToConnectSchema(avro);
  } catch (err) {
    throw new CdcViewsError('CODEGEN_NOT_ENVELOPE', `${origin}: cannot be mapped to a Kafka Connect schema: ${(err as Error).message}`, { cause: err });
  }
  const after = envelope.fields?.find((f) => f.field === 'after');
  if (envelope.type !== 'struct' || !after || after.type !== 'struct' || !envelope.fields?.some((f) => f.field === 'op')) {
    throw new CdcViewsError('CODEGEN_NOT_ENVELOPE', `${origin}: not a Debezium change-event envelope (a record with \`after\` and \`op\`); give the subject of a Debezium topic's values, e.g. <prefix>.public.orders-value`);
  }
  const columns: ColumnModel[] = (after.fields ?? []).map((f) => ({ name: f.field ?? '', ts: nullable(connectToTs(f), f.optional), doc: describe(f) }));
  const dot = table.indexOf('.');
  return { schema: table.slice(0, dot), table: table.slice(dot + 1), origin, columns };
}

/** `<topic>-value` → the table (`schema.table`) its topic carries, as the decoder names it. */
export function tableOfSubject(subject: string): string {
  const topic = subject.replace(/-value$/, '');
  const table = tableFromTopic(topic);
  if (!/^[^.]+\.[^.]+$/.test(table)) {
    throw new CdcViewsError('CODEGEN_BAD_SUBJECT', `subject ${subject}: its topic ${topic} does not name a table (<prefix>.<schema>.<table>); use the TopicNameStrategy subject <topic>-value`);
  }
  return table;
}

/**
 * Fetches the latest version of a subject and maps it to a table model.
 * @param timeoutMs per request @defaultValue 10000
 * @param credentials basic auth or a bearer token @defaultValue the URL's user info, else none
 * @throws {RegistryUnavailableError} REGISTRY_UNAVAILABLE when the registry does not answer (or answers 5xx)
 * @throws {RegistryAuthError} REGISTRY_AUTH_FAILED when it answers 401 or 403
 * @throws {CdcViewsError} CODEGEN_BAD_SUBJECT (its topic names no table), CODEGEN_NOT_FOUND (no such subject),
 *   CODEGEN_NOT_ENVELOPE (not Avro, or not an envelope)
 */
export async function readSubject(registryUrlWithCredentials: string, subject: string, timeoutMs = 10_000, credentials?: HttpCredentials): Promise<TableModel> {
  const table = tableOfSubject(subject);
  // The URL's user info works as basic auth; messages show the URL without it.
  const split = splitUrl(registryUrlWithCredentials);
  const registryUrl = displayUrl(split.url);
  const auth = credentials ?? (split.credentials ? { kind: 'basic' as const, username: split.credentials.username, password: Secret.of('schemaRegistryUrl', split.credentials.password, undefined)! } : undefined);
  const url = `${split.url.replace(/\/$/, '')}/subjects/${encodeURIComponent(subject)}/versions/latest`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/vnd.schemaregistry.v1+json, application/json', ...registryHeaders(auth) } });
  } catch (err) {
    throw new RegistryUnavailableError(`schema registry at ${registryUrl} did not answer (${(err as Error).message}); check --schema-registry-url (the Confluent-compatible API, e.g. http://localhost:8081/apis/ccompat/v7)`, { cause: err });
  }
  const body = await res.text();
  if (res.status === 401 || res.status === 403) throw new RegistryAuthError(`schema registry at ${registryUrl} ${res.status === 401 ? 'refuses the credentials (401): check schemaRegistryUsername/Password or schemaRegistryToken' : 'denies the user (403): grant it read access to the subjects'}`);
  if (res.status === 404) throw new CdcViewsError('CODEGEN_NOT_FOUND', `schema registry at ${registryUrl} has no subject ${subject}; value subjects are named <topic>-value`);
  if (!res.ok) throw new RegistryUnavailableError(`schema registry at ${registryUrl} answered ${res.status} for subject ${subject}: ${body.slice(0, 200)}`);
  const version = JSON.parse(body) as SubjectVersion;
  if (version.schemaType !== undefined && version.schemaType !== 'AVRO') {
    throw new CdcViewsError('CODEGEN_NOT_ENVELOPE', `subject ${subject} holds a ${version.schemaType} schema; only Avro is supported`);
  }
  return envelopeToTable(JSON.parse(version.schema) as AvroSchema, table, `schema registry subject \`${subject}\` version ${version.version} (id ${version.id})`);
}
