/**
 * `npx tsx scripts/check-doc-links.ts [file.md …]`
 *
 * Checks the links between the repository's Markdown files: every relative
 * link `[text](path)` or `[text](path#anchor)` / `[text](#anchor)` must name a
 * file or folder that exists and, with an anchor, a heading of that Markdown
 * file (GitHub's slugs: lower case, punctuation dropped, spaces → `-`, `-1`,
 * `-2` … for repeated headings). Links in code blocks and inline code, and
 * absolute URLs, are not checked. Without arguments: README.md, docs/, bench/
 * and helm/. Prints one line per broken link and exits 1 when there is any.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');

function markdownFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name.startsWith('.') ? [] : markdownFiles(p);
    return e.name.endsWith('.md') ? [p] : [];
  });
}

/** The text outside fenced code blocks, one entry per line (fenced lines blanked, line numbers kept). */
function proseLines(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading keeps its text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (!anchors) {
    anchors = new Set();
    const seen = new Map<string, number>();
    for (const line of proseLines(readFileSync(file, 'utf8'))) {
      const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
      if (!m?.[1]) continue;
      const base = slug(m[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    anchorCache.set(file, anchors);
  }
  return anchors;
}

const args = process.argv.slice(2);
const files = args.length > 0 ? args.map((f) => resolve(f)) : [join(root, 'README.md'), ...['docs', 'bench', 'helm'].flatMap((d) => markdownFiles(join(root, d)))];

let links = 0;
const broken: string[] = [];
for (const file of files) {
  proseLines(readFileSync(file, 'utf8')).forEach((line, i) => {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1] ?? '';
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      links++;
      const [path = '', anchor] = target.split('#', 2);
      const where = `${relative(root, file)}:${i + 1}: ${target}`;
      const dest = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      if (!existsSync(dest)) {
        broken.push(`${where}: no file ${relative(root, dest)}`);
        continue;
      }
      if (anchor === undefined) continue;
      if (statSync(dest).isDirectory() || !dest.endsWith('.md')) broken.push(`${where}: an anchor on a file that is not Markdown`);
      else if (!anchorsOf(dest).has(anchor)) broken.push(`${where}: no heading #${anchor} in ${relative(root, dest)}`);
    }
  });
}

for (const b of broken) console.log(b);
console.log(`${files.length} files, ${links} links, ${broken.length} broken`);
process.exitCode = broken.length > 0 ? 1 : 0;
