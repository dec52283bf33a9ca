/**
 * The real Helm engine for the deploy tests: helm-java (Helm's Go code as a
 * native library in a jar, from Maven Central) driven by HelmCheck.java.
 *
 * The jars are copied once into `.stack/helm-java/lib` by Maven
 * (`test/deploy/helm/pom.xml`, `dependency:copy-dependencies`; Maven caches the
 * download in ~/.m2), then one JVM runs every lint and template request of a
 * batch: `java -cp '<lib>/*' test/deploy/helm/HelmCheck.java <request>...`
 * (Java's single-file source launcher; nothing to compile by hand).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CHART = join(ROOT, 'helm/cdc-views');
const POM = join(ROOT, 'test/deploy/helm/pom.xml');
const DRIVER = join(ROOT, 'test/deploy/helm/HelmCheck.java');
const LIB = join(ROOT, '.stack/helm-java/lib');

/** Copies the helm-java jars into .stack/helm-java/lib unless they are there. @returns the lib directory */
export function ensureHelmJava(): string {
  const present = existsSync(LIB) && readdirSync(LIB).some((f) => f.startsWith('linux-amd64-'));
  if (!present) {
    if (process.arch !== 'x64' || process.platform !== 'linux') {
      throw new Error(`helm-java's native library is fetched for linux-amd64; this is ${process.platform}-${process.arch}: add the matching artifact to ${POM}`);
    }
    mkdirSync(LIB, { recursive: true });
    execFileSync('mvn', ['-q', '-B', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${LIB}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return LIB;
}

/** What `helm template` gave for one values file: the manifests (or NOTES.txt), or Helm's error. */
export interface Rendered {
  manifests?: string;
  /** The rendered NOTES.txt of a request with `notes`. */
  notes?: string;
  error?: string;
}

/** Result of `helm lint --strict` on the chart with its default values. */
export interface Linted {
  failed: boolean;
  messages: string[];
}

/**
 * Lints the chart and renders it once per values file ('' = the chart's
 * defaults), then runs the `extra` requests, all in one JVM. Release name
 * `cdcv`, namespace `cdcv`, Kubernetes 1.30.
 * @returns the lint result, the renders by values file, and the results of `extra` in order
 */
export function helm(valuesFiles: string[], extra: readonly TemplateRequest[] = []): { lint: Linted; templates: Map<string, Rendered>; extra: Rendered[] } {
  const out = mkdtempSync(join(tmpdir(), 'cdcv-helm-'));
  const results = runHelmCheck(out, [`lint|${CHART}|${join(out, 'lint.txt')}`], [...valuesFiles.map((values) => ({ values })), ...extra]);
  const [status = '', ...messages] = readFileSync(join(out, 'lint.txt'), 'utf8').split('\n');
  const templates = new Map<string, Rendered>();
  valuesFiles.forEach((v, i) => templates.set(v, results[i] ?? {}));
  return { lint: { failed: status !== 'ok', messages: messages.filter((m) => m !== '') }, templates, extra: results.slice(valuesFiles.length) };
}

/** One `helm template` (or `helm install --dry-run` for NOTES.txt): a values file ('' = none), `--set` entries, release name and namespace. */
export interface TemplateRequest {
  values?: string;
  /** `--set key=value` (Helm's type inference: `true` is a boolean); neither may contain `|`. */
  set?: Record<string, string>;
  /** @defaultValue 'cdcv' */
  release?: string;
  /** @defaultValue 'cdcv' */
  namespace?: string;
  /**
   * Render the chart's hooks (the `helm test` pods) too. helm-java's template
   * returns the release manifest only, without hooks, so the chart is copied
   * with the annotation key `helm.sh/hook` renamed to {@link HOOK_ANNOTATION}:
   * the hooks then render as ordinary manifests, that annotation saying what
   * hook they are.
   */
  hooks?: boolean;
  /** Render NOTES.txt instead of the manifests (into `notes`): `helm install --dry-run`, client only. */
  notes?: boolean;
}

/** What `helm.sh/hook` is renamed to in a {@link TemplateRequest} with `hooks`. */
export const HOOK_ANNOTATION = 'rendered-by-test.cdc-views/hook';

/**
 * `helm template <release> helm/cdc-views -n <namespace> -f <values> --set …`
 * once per request, in one JVM (no lint). @returns the results in request order
 */
export function helmTemplate(requests: readonly TemplateRequest[]): Rendered[] {
  return runHelmCheck(mkdtempSync(join(tmpdir(), 'cdcv-helm-')), [], requests);
}

/** The chart copied into `dir` with `helm.sh/hook` renamed (see {@link TemplateRequest.hooks}). @returns the copy's path */
function chartWithHooksRendered(dir: string): string {
  const copy = join(dir, 'chart-with-hooks');
  if (existsSync(copy)) return copy;
  cpSync(CHART, copy, { recursive: true });
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (/\.(yaml|tpl)$/.test(e.name)) writeFileSync(f, readFileSync(f, 'utf8').replaceAll('helm.sh/hook:', `${HOOK_ANNOTATION}:`));
    }
  };
  walk(join(copy, 'templates'));
  return copy;
}

/** Runs HelmCheck.java with `before` (raw requests) and then one request per template request, writing into `out`. */
function runHelmCheck(out: string, before: string[], requests: readonly TemplateRequest[]): Rendered[] {
  const lib = ensureHelmJava();
  const args = requests.map((r, i) => {
    const chart = r.hooks === true ? chartWithHooksRendered(out) : CHART;
    const fields = [r.notes === true ? 'notes' : 'template', chart, r.values ?? '', join(out, `${i}.out`), r.release ?? 'cdcv', r.namespace ?? 'cdcv', ...Object.entries(r.set ?? {}).map(([k, v]) => `${k}=${v}`)];
    if (fields.some((f) => f.includes('|'))) throw new Error(`helm request ${i}: no field may contain '|': ${fields.join(' ')}`);
    return fields.join('|');
  });
  execFileSync('java', ['-cp', `${lib}/*`, DRIVER, ...before, ...args], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
  return requests.map((r, i) => {
    const file = join(out, `${i}.out`);
    if (!existsSync(file)) return { error: readFileSync(`${file}.err`, 'utf8') };
    const text = readFileSync(file, 'utf8');
    return r.notes === true ? { notes: text } : { manifests: text };
  });
}
