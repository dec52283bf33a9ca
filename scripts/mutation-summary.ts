/**
 * `npx tsx scripts/mutation-summary.ts [report.json] [--by-file]`
 *
 * Prints the mutation score of the last `npm run test:mutation` per source
 * folder (src/state, src/runtime, src/cdc, src/ops, … : the first two path
 * segments), so that every run is reported the same way. Reads StrykerJS's
 * JSON report (default reports/mutation/mutation.json, format:
 * mutation-testing-report-schema) and only counts the status Stryker gave each
 * mutant; it decides nothing about a mutant itself.
 *
 * Score (Stryker's "mutation score", the same number as its HTML report):
 *
 *   score         = (killed + timeout) / (total − ignored − compile errors − runtime errors)
 *                 = (killed + timeout) / (killed + timeout + survived + no coverage)
 *   covered score = (killed + timeout) / (killed + timeout + survived)
 *
 * Runtime errors (a mutant that crashed the test process outright) are left out
 * of the denominator like compile errors; with none, this is
 * (killed + timeout) / (total − ignored − compile errors).
 *
 * `--by-file` adds one row per file under its folder. Exit code 0, or 1 (one
 * line on stderr) when the report is missing or is not such a report.
 */
import { readFileSync } from 'node:fs';

const STATUSES = ['Killed', 'Survived', 'NoCoverage', 'CompileError', 'RuntimeError', 'Timeout', 'Ignored', 'Pending'] as const;
type Status = (typeof STATUSES)[number];

interface Report {
  schemaVersion: string;
  files: Record<string, { mutants: { status: Status }[] }>;
}

type Counts = Record<Status, number>;

const COLUMNS: [string, (c: Counts) => string][] = [
  ['mutants', (c) => String(total(c))],
  ['killed', (c) => String(c.Killed)],
  ['survived', (c) => String(c.Survived)],
  ['no cov', (c) => String(c.NoCoverage)],
  ['timeout', (c) => String(c.Timeout)],
  ['errors', (c) => String(c.CompileError + c.RuntimeError)],
  ['ignored', (c) => String(c.Ignored)],
  ['score %', (c) => percent(c.Killed + c.Timeout, c.Killed + c.Timeout + c.Survived + c.NoCoverage)],
  ['covered %', (c) => percent(c.Killed + c.Timeout, c.Killed + c.Timeout + c.Survived)],
];

function emptyCounts(): Counts {
  return Object.fromEntries(STATUSES.map((s) => [s, 0])) as Counts;
}

function total(c: Counts): number {
  return STATUSES.reduce((n, s) => n + c[s], 0);
}

function percent(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : ((100 * part) / whole).toFixed(2);
}

function add(into: Counts, from: Counts): void {
  for (const s of STATUSES) into[s] += from[s];
}

function readReport(file: string): Report {
  const report = JSON.parse(readFileSync(file, 'utf8')) as Partial<Report>;
  if (typeof report.schemaVersion !== 'string' || typeof report.files !== 'object' || report.files === null) {
    throw new Error(`${file} is not a mutation-testing-report-schema report (no schemaVersion or files)`);
  }
  for (const [name, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      if (!(STATUSES as readonly string[]).includes(m.status)) throw new Error(`${file}: ${name} has a mutant with unknown status ${String(m.status)}`);
    }
  }
  return report as Report;
}

function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : parts.slice(0, -1).join('/') || '.';
}

function main(argv: string[]): void {
  const byFile = argv.includes('--by-file');
  const file = argv.find((a) => !a.startsWith('--')) ?? 'reports/mutation/mutation.json';
  const report = readReport(file);

  const folders = new Map<string, { counts: Counts; files: Map<string, Counts> }>();
  const all = emptyCounts();
  for (const [name, { mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
    const counts = emptyCounts();
    for (const m of mutants) counts[m.status]++;
    const folder = folderOf(name);
    const entry = folders.get(folder) ?? { counts: emptyCounts(), files: new Map<string, Counts>() };
    add(entry.counts, counts);
    entry.files.set(name, counts);
    folders.set(folder, entry);
    add(all, counts);
  }

  const rows: [string, Counts][] = [];
  for (const [folder, { counts, files }] of [...folders].sort(([a], [b]) => a.localeCompare(b))) {
    rows.push([folder, counts]);
    if (byFile) for (const [name, c] of files) rows.push([`  ${name.slice(folder.length + 1)}`, c]);
  }
  rows.push(['all', all]);

  const header = ['folder', ...COLUMNS.map(([h]) => h)];
  const cells = rows.map(([label, c]) => [label, ...COLUMNS.map(([, f]) => f(c))]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of cells) console.log(line(r));
  if (all.Pending > 0) console.log(`note: ${all.Pending} mutants are still Pending: the run did not finish`);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  console.error(`mutation-summary: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
