/**
 * How a setting is declared (src/config.ts `SETTINGS`): its environment
 * variable, flag, zod schema, doc and fix, and whether it is a credential.
 */
import { z } from 'zod';

/** One setting of the configuration. */
export interface SettingSpec<E extends string, S extends z.ZodType> {
  /** The environment variable. */
  env: E;
  /**
   * The CLI flag, commander syntax: `run` and `config print` take every flag;
   * the other commands the connection flags (src/cli/options.ts).
   */
  flag?: string;
  schema: S;
  /** One line for `--help`, the README and `config print`. */
  doc: string;
  /** What a valid value looks like, appended to an error. */
  fix: string;
  /**
   * A credential: `config print` shows `*****` (or nothing with
   * `--reveal-none`), and code reads it through src/secrets.ts's `Secret`.
   * Each secret setting `x` has a sibling `xFile` (env `…_FILE`) naming a file
   * that holds it, re-read on rotation.
   */
  secret?: true;
}

/** Declares a setting, keeping its literal env name and schema type. */
export const setting = <const E extends string, S extends z.ZodType>(s: SettingSpec<E, S>): SettingSpec<E, S> => s;

/** A TCP port 0–65535 (from a string or a number). */
export const port = z.coerce.number().int().min(0).max(65535);
/** An http(s) URL whose scheme matches, e.g. `url(/^https?:\/\//, 'http://')`. */
export const url = (scheme: RegExp, example: string) => z.string().trim().regex(scheme, `must start with ${example.split('//')[0]}//`).refine((v) => URL.canParse(v), 'not a valid URL');
