/**
 * `cdc-views types generate`: TypeScript row types in cdc-views' canonical
 * value mapping, from the PostgreSQL catalog (`--schema`, `--table`) and/or the
 * schema registry (`--subject`, for Avro topics), for `builder.table<R>()`.
 * The mapping and its sources: src/codegen/connect-types.ts, src/codegen/pg-types.ts.
 *
 * Connection to PostgreSQL: `--database-url`, else `DATABASE_URL`, else the
 * libpq variables the `pg` library reads (`PGHOST`, `PGPORT`, `PGUSER`,
 * `PGPASSWORD`, `PGDATABASE`). Registry: `--schema-registry-url`, else
 * CDCV_SCHEMA_REGISTRY_URL (its default, the local Apicurio). Errors exit 2
 * with one line (CdcViewsError), never printing a password.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, maskSecret } from '../config.ts';
import type { Queryable } from '../codegen/catalog.ts';
import { generateTypes } from '../codegen/generate.ts';
import { COMMAND_TIMEOUT_MS } from './connections.ts';
import { connectPg } from './source-db.ts';

/** The `--database-url` session (PG* variables without one). */
const connectPgUrl = (url: string | undefined): Promise<Queryable & { end(): Promise<void> }> => connectPg(url === undefined ? {} : { connectionString: url }, COMMAND_TIMEOUT_MS);
import { registryConnection } from '../cdc/registry-auth.ts';
import type { HttpCredentials } from '../http-auth.ts';

/** The options of `types generate` as commander parses them. */
export interface TypesGenerateOptions {
  schema: string[];
  table: string[];
  subject: string[];
  databaseUrl?: string;
  schemaRegistryUrl?: string;
  out?: string;
}

/** Repeatable option: every value given, in order (no default, so `--help` shows none). */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const shellWord = (s: string): string => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

/** The command line that regenerates the same file, without the database URL (it may hold a password). */
export function regenerateCommand(o: TypesGenerateOptions): string {
  const words = ['cdc-views', 'types', 'generate'];
  for (const s of o.schema) words.push('--schema', s);
  for (const t of o.table) words.push('--table', t);
  if (o.schemaRegistryUrl !== undefined) words.push('--schema-registry-url', String(maskSecret(o.schemaRegistryUrl)));
  for (const s of o.subject) words.push('--subject', s);
  if (o.out !== undefined) words.push('--out', o.out);
  return words.map(shellWord).join(' ');
}

/** The registry of `--subject`: `--schema-registry-url` or the setting, with the credential settings (env, config file). */
function registryOf(o: TypesGenerateOptions, env: NodeJS.ProcessEnv): { registryUrl: string; registryCredentials?: HttpCredentials } {
  const config = loadConfig({ env }).config;
  const { registryUrl, credentials } = registryConnection({ ...config, schemaRegistryUrl: o.schemaRegistryUrl ?? config.schemaRegistryUrl });
  return { registryUrl, ...(credentials ? { registryCredentials: credentials } : {}) };
}

/**
 * Runs `types generate` with parsed options: writes the module to `out`
 * (creating its folder) or stdout. Schema `public` when nothing is selected.
 * @throws {CdcViewsError} see src/codegen/generate.ts; PG_UNREACHABLE
 */
export async function runTypesGenerate(o: TypesGenerateOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const opts: TypesGenerateOptions = o.schema.length + o.table.length + o.subject.length === 0 ? { ...o, schema: ['public'] } : o;
  const fromCatalog = opts.schema.length + opts.table.length > 0;
  const db = fromCatalog ? await connectPgUrl(opts.databaseUrl ?? (env.DATABASE_URL || undefined)) : undefined;
  let text: string;
  try {
    text = await generateTypes({
      schemas: opts.schema,
      tables: opts.table,
      subjects: opts.subject,
      ...(db ? { db } : {}),
      ...(opts.subject.length > 0 ? registryOf(opts, env) : {}),
      regenerate: regenerateCommand(opts),
    });
  } finally {
    await db?.end();
  }
  if (opts.out === undefined) {
    process.stdout.write(text);
    return;
  }
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, text);
  process.stderr.write(`cdc-views: wrote ${opts.out}\n`);
}

/** Registers `types generate` on the program. */
export function registerTypesCommand(program: Command): void {
  const types = program.command('types').description('TypeScript row types for typed topologies');
  types
    .command('generate')
    .description("Write TypeScript row types (cdc-views' canonical values) from the PostgreSQL catalog or the schema registry")
    .option('--schema <name>', 'every table of a schema (repeatable); public when no --schema, --table or --subject is given', collect)
    .option('--table <schema.table>', 'one table, e.g. public.orders (repeatable)', collect)
    .option('--database-url <url>', 'PostgreSQL of --schema/--table (env DATABASE_URL; else PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)')
    .option('--subject <name>', 'value subject of an Avro topic, e.g. shop.public.orders-value (repeatable); its latest version', collect)
    .option('--schema-registry-url <url>', 'Confluent-compatible schema registry API of --subject (env CDCV_SCHEMA_REGISTRY_URL)')
    .option('--out <file>', 'write the module to this file (default: stdout)')
    .addHelpText('after', '\nOne `export type` per table (PascalCase schema + table: public.order_lines → PublicOrderLines) and\n`export type Tables` mapping each `schema.table` to its row type. Generate from the registry for Avro\ntopics: Avro field names are adjusted (a column "Mixed Case" arrives as Mixed_Case).')
    .action(async (opts: Partial<TypesGenerateOptions>) => {
      await runTypesGenerate({ ...opts, schema: opts.schema ?? [], table: opts.table ?? [], subject: opts.subject ?? [] });
    });
}
