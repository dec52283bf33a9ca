/**
 * `cdc-views types generate` without the command line: reads tables from the
 * PostgreSQL catalog and/or schema-registry subjects and renders one module.
 */
import { CdcViewsError } from '../errors.ts';
import { readCatalog, type Queryable } from './catalog.ts';
import { renderModule } from './emit.ts';
import type { TableModel } from './model.ts';
import { readSubject } from './registry.ts';
import type { HttpCredentials } from '../http-auth.ts';

/** Where to read tables from. At least one table must come out of it. */
export interface GenerateOptions {
  /** A connected PostgreSQL client; required when `schemas` or `tables` is not empty. */
  db?: Queryable;
  /** Every table of these schemas. @defaultValue [] */
  schemas?: readonly string[];
  /** These tables, `schema.table`. @defaultValue [] */
  tables?: readonly string[];
  /** Confluent-compatible registry API; required when `subjects` is not empty. */
  registryUrl?: string;
  /** Credentials of the registry (src/cdc/registry-auth.ts). @defaultValue none, or the URL's user info */
  registryCredentials?: HttpCredentials;
  /** Value subjects of Avro topics (`<topic>-value`), latest version each. @defaultValue [] */
  subjects?: readonly string[];
  /** The command line printed in the header as the way to regenerate. */
  regenerate: string;
}

/**
 * The generated module's text.
 * @throws {CdcViewsError} CODEGEN_NOT_FOUND, CODEGEN_BAD_SUBJECT, CODEGEN_NOT_ENVELOPE, CODEGEN_NAME_CLASH (see ./catalog.ts,
 *   ./registry.ts, ./emit.ts), CODEGEN_NO_SOURCE when nothing is selected; RegistryUnavailableError
 */
export async function generateTypes(options: GenerateOptions): Promise<string> {
  const schemas = options.schemas ?? [];
  const tables = options.tables ?? [];
  const subjects = options.subjects ?? [];
  if (schemas.length + tables.length + subjects.length === 0) {
    throw new CdcViewsError('CODEGEN_NO_SOURCE', 'nothing to generate: give --schema, --table or --subject');
  }
  const models: TableModel[] = [];
  if (schemas.length + tables.length > 0) {
    if (!options.db) throw new CdcViewsError('CODEGEN_NO_SOURCE', '--schema and --table read the PostgreSQL catalog: give --database-url (or DATABASE_URL, or the PG* variables)');
    models.push(...(await readCatalog(options.db, { schemas, tables })));
  }
  if (subjects.length > 0) {
    if (!options.registryUrl) throw new CdcViewsError('CODEGEN_NO_SOURCE', '--subject reads the schema registry: give --schema-registry-url');
    for (const subject of subjects) models.push(await readSubject(options.registryUrl, subject, undefined, options.registryCredentials));
  }
  return renderModule(models, options.regenerate);
}
