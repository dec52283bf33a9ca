/**
 * Secrets (passwords, tokens, private keys) as values that cannot leak by
 * accident: a {@link Secret} prints as `*****` in logs, errors, JSON and
 * template strings, and is read only where it is handed to a client.
 *
 * A secret setting comes in two forms (src/config.ts): the value itself
 * (`CDCV_<NAME>`, for local use) or a file holding it (`CDCV_<NAME>_FILE`,
 * what Kubernetes Secrets mount). A file is read again whenever its
 * modification time or size changes, so a rotated credential is picked up on
 * the next connection or authentication without a restart.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from './errors.ts';

/** What a secret prints as, everywhere. */
export const MASK = '*****';

/** A credential read from a setting's value or from a file. */
export class Secret {
  private cached: { value: string; mtimeMs: number; size: number } | undefined;

  private constructor(
    private readonly literal: string | undefined,
    /** The file it is read from, when it comes from one (not secret: shown by `config print`). */
    readonly file: string | undefined,
    /** The setting it comes from, for errors, e.g. `kafkaSaslPassword`. */
    readonly setting: string,
  ) {}

  /**
   * The secret of a setting: its value, else its file, else undefined.
   * @param setting the setting's config-file key, for errors
   * @throws {ConfigError} when both a value and a file are given
   */
  static of(setting: string, value: string | undefined, file: string | undefined): Secret | undefined {
    if (value !== undefined && file !== undefined) throw new ConfigError(setting, `give the value or ${setting}File, not both`);
    if (value !== undefined) return new Secret(value, undefined, setting);
    if (file !== undefined) return new Secret(undefined, file, setting);
    return undefined;
  }

  /**
   * The current value: the literal, or the file's content without a trailing
   * newline (re-read when the file changed).
   * @throws {ConfigError} naming the setting and the file when it cannot be read
   */
  reveal(): string {
    if (this.literal !== undefined) return this.literal;
    const file = this.file!;
    try {
      const st = statSync(file);
      if (!this.cached || this.cached.mtimeMs !== st.mtimeMs || this.cached.size !== st.size) {
        this.cached = { value: readFileSync(file, 'utf8').replace(/\r?\n$/, ''), mtimeMs: st.mtimeMs, size: st.size };
      }
      return this.cached.value;
    } catch (err) {
      throw new ConfigError(`${this.setting}File`, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): mount the secret there or fix the path`);
    }
  }

  /** `*****`: a secret never prints. */
  toString(): string {
    return MASK;
  }

  /** `*****`: a secret never serializes. */
  toJSON(): string {
    return MASK;
  }

  /** `*****` in `util.inspect` (console.log, pino's fallback). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return MASK;
  }
}

/**
 * Replaces every occurrence of the given secrets' current values in a text
 * (an error message from a client that echoed a URL or a header) by `*****`.
 */
export function redact(text: string, secrets: readonly (Secret | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (!s) continue;
    let value: string;
    try {
      value = s.reveal();
    } catch {
      continue;
    }
    if (value.length >= 4) out = out.split(value).join(MASK).split(encodeURIComponent(value)).join(MASK);
  }
  return out;
}
