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
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
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

/** What `helm template` gave for one values file: the manifests, or Helm's error. */
export interface Rendered {
  manifests?: string;
  error?: string;
}

/** Result of `helm lint --strict` on the chart with its default values. */
export interface Linted {
  failed: boolean;
  messages: string[];
}

/**
 * Lints the chart and renders it once per values file ('' = the chart's
 * defaults), in one JVM. Release name `cdcv`, namespace `cdcv`, Kubernetes 1.30.
 */
export function helm(valuesFiles: string[]): { lint: Linted; templates: Map<string, Rendered> } {
  const lib = ensureHelmJava();
  const out = mkdtempSync(join(tmpdir(), 'cdcv-helm-'));
  const requests = [`lint|${CHART}|${join(out, 'lint.txt')}`, ...valuesFiles.map((v, i) => `template|${CHART}|${v}|${join(out, `${i}.yaml`)}`)];
  execFileSync('java', ['-cp', `${lib}/*`, DRIVER, ...requests], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
  const [status = '', ...messages] = readFileSync(join(out, 'lint.txt'), 'utf8').split('\n');
  const templates = new Map<string, Rendered>();
  valuesFiles.forEach((v, i) => {
    const file = join(out, `${i}.yaml`);
    templates.set(v, existsSync(file) ? { manifests: readFileSync(file, 'utf8') } : { error: readFileSync(`${file}.err`, 'utf8') });
  });
  return { lint: { failed: status !== 'ok', messages: messages.filter((m) => m !== '') }, templates };
}

/** One `helm template`: a values file ('' = none), `--set` entries, release name and namespace. */
export interface TemplateRequest {
  values?: string;
  /** `--set key=value` (Helm's type inference: `true` is a boolean); neither may contain `|`. */
  set?: Record<string, string>;
  /** @defaultValue 'cdcv' */
  release?: string;
  /** @defaultValue 'cdcv' */
  namespace?: string;
}

/**
 * `helm template <release> helm/cdc-views -n <namespace> -f <values> --set …`
 * once per request, in one JVM (no lint). @returns the results in request order
 */
export function helmTemplate(requests: readonly TemplateRequest[]): Rendered[] {
  const lib = ensureHelmJava();
  const out = mkdtempSync(join(tmpdir(), 'cdcv-helm-'));
  const args = requests.map((r, i) => {
    const fields = ['template', CHART, r.values ?? '', join(out, `${i}.yaml`), r.release ?? 'cdcv', r.namespace ?? 'cdcv', ...Object.entries(r.set ?? {}).map(([k, v]) => `${k}=${v}`)];
    if (fields.some((f) => f.includes('|'))) throw new Error(`helm template request ${i}: no field may contain '|': ${fields.join(' ')}`);
    return fields.join('|');
  });
  execFileSync('java', ['-cp', `${lib}/*`, DRIVER, ...args], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
  return requests.map((_r, i) => {
    const file = join(out, `${i}.yaml`);
    return existsSync(file) ? { manifests: readFileSync(file, 'utf8') } : { error: readFileSync(`${file}.err`, 'utf8') };
  });
}
