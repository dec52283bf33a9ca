/**
 * The output of `cdc-views config print`: the effective configuration with the
 * source of each value, secrets masked (`*****`); or, with `--reveal-none`,
 * a configuration file without any credential: secret settings and URL
 * passwords are left out entirely (not masked), so the output can be given
 * back as `--config` as it is, the credentials coming from the environment
 * or the `*File` settings (which are paths, not secrets, and are kept).
 */
import { stringify } from 'yaml';
import { isSecretSetting, type describeConfig } from '../config.ts';

type Row = ReturnType<typeof describeConfig>[number];

/** A URL without its password (the user name kept); anything else unchanged. */
export function withoutPassword(value: unknown): unknown {
  if (typeof value !== 'string' || !URL.canParse(value)) return value;
  const u = new URL(value);
  if (u.password === '') return value;
  u.password = '';
  return u.toString();
}

/** The rows to print: with `revealNone`, no secret setting and no URL password. */
function shown(rows: readonly Row[], revealNone: boolean): { row: Row; omitted: boolean }[] {
  return rows.map((row) => {
    if (!revealNone) return { row, omitted: false };
    if (isSecretSetting(row.key) && row.value !== undefined) return { row, omitted: true };
    return { row: { ...row, value: withoutPassword(row.value) }, omitted: false };
  });
}

/**
 * `config print` as YAML: every key with its value and, in a comment, its
 * source and environment variable; itself a valid `--config` file.
 */
export function configYaml(rows: readonly Row[], revealNone: boolean): string {
  const lines = [
    `# cdc-views effective configuration: flag > environment > config file > default; ${revealNone ? 'credentials left out (--reveal-none)' : 'secrets masked'}.`,
    '# Usable as a --config file (the keys below); every key also has an environment variable.',
  ];
  for (const { row: r, omitted } of shown(rows, revealNone)) {
    if (omitted) lines.push(`# ${r.key}:  # set (${r.source}), left out by --reveal-none: give it through ${r.env} or ${r.key}File`);
    else if (r.value === undefined) lines.push(`# ${r.key}:  # not set (${r.env})`);
    else lines.push(`${stringify({ [r.key]: r.value }).trimEnd()}  # ${r.source === 'default' ? 'default' : r.source} (${r.env})`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `config print --json`: `{ key: { value, env, source } }`; with
 * `revealNone`, a configuration file `{ key: value }` of the settings that
 * are set, without credentials (usable as `--config`).
 */
export function configJson(rows: readonly Row[], revealNone: boolean): string {
  const doc = revealNone
    ? Object.fromEntries(
        shown(rows, true)
          .filter(({ row, omitted }) => !omitted && row.value !== undefined)
          .map(({ row }) => [row.key, row.value]),
      )
    : Object.fromEntries(rows.map((r) => [r.key, { value: r.value ?? null, env: r.env, source: r.source }]));
  return `${JSON.stringify(doc, null, 2)}\n`;
}
