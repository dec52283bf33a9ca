/**
 * The chart's lake sink (values `lake`, templates/lake.yaml), rendered by the
 * real Helm engine (helm-java) and validated against the Kubernetes schemas:
 * one `lake slices` Deployment per table (one replica, Recreate, a grace
 * period for the graceful stop), the orchestrator Deployment with every
 * table, its Service and probes, or `lake work` CronJobs (Forbid); the S3
 * secret key only from a Secret; the lake alerts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadEnv } from '../../src/config.ts';
import { ROOT, helmTemplate, type Rendered, type TemplateRequest } from './helm.ts';
import { validateManifest, type Manifest } from './k8s-schemas.ts';
import { component, configOf, effectiveValues, named, ofKind, parseRendered, type ConfigMapManifest, type Container, type PodSpec, type Workload } from './rendered.ts';

const LAKE = join(ROOT, 'test/deploy/values/lake.yaml');
const CRON = join(ROOT, 'test/deploy/values/lake-cronjob.yaml');
const REQUESTS = {
  lake: { values: LAKE },
  cron: { values: CRON },
  defaults: {},
  longTable: { values: LAKE, set: { 'lake.tables[0].table': 'public.a_table_name_long_enough_to_be_cut_by_the_name_limit' } },
} satisfies Record<string, TemplateRequest>;
type RequestName = keyof typeof REQUESTS;
const results = new Map<RequestName, Rendered>();

before(() => {
  const names = Object.keys(REQUESTS) as RequestName[];
  helmTemplate(names.map((n) => REQUESTS[n])).forEach((r, i) => results.set(names[i]!, r));
});

const docs = (name: RequestName): Manifest[] => parseRendered(results.get(name), name);
const lakeRole = (m: Manifest): string | undefined => ((m.metadata.labels ?? {}) as Record<string, string>)['cdc-views/lake'];
const tablesOf = (file: string): string[] => ((effectiveValues(file).lake as { tables: { table: string }[] }).tables).map((t) => t.table);
type Deployment = Workload & { spec: { strategy?: { type: string } } };
type CronJob = Manifest & { spec: { schedule: string; concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: PodSpec } } } } };

test('every lake manifest is valid against the Kubernetes API schemas; nothing of the lake without lake.enabled', () => {
  for (const name of ['lake', 'cron', 'longTable'] as const) for (const m of docs(name)) validateManifest(m);
  assert.deepEqual(docs('defaults').filter((m) => lakeRole(m) !== undefined), []);
});

test('each table gets exactly one slices Deployment: replicas 1, Recreate, `lake slices --table <t>`, a grace period for the graceful stop', () => {
  for (const [name, file] of [['lake', LAKE], ['cron', CRON]] as const) {
    const slices = ofKind<Deployment>(docs(name), 'Deployment').filter((d) => lakeRole(d) === 'slices');
    const tables = tablesOf(file);
    assert.deepEqual(slices.map((d) => container(d).args?.slice(3)[0]).sort(), [...tables].sort(), `${name}: one slices Deployment per table`);
    for (const d of slices) {
      const c = container(d);
      assert.deepEqual(c.args?.slice(0, 3), ['lake', 'slices', '--table']);
      assert.equal(d.spec.replicas, 1, `${d.metadata.name}: one writer`);
      assert.equal(d.spec.strategy?.type, 'Recreate', `${d.metadata.name}: the old writer stops before the new one starts`);
      assert.ok((d.spec.template.spec.terminationGracePeriodSeconds ?? 30) >= 120, `${d.metadata.name}: grace for writing the open slices`);
      assert.equal(c.livenessProbe, undefined, 'the slice writer serves no HTTP');
      assert.equal(d.spec.template.spec.enableServiceLinks, false);
    }
  }
  const items = named<Deployment>(docs('lake'), 'Deployment', 'cdcv-cdc-views-lake-slices-public-order-items');
  assert.deepEqual((container(items) as Container & { resources?: unknown }).resources, { requests: { cpu: '200m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } }, 'a table\'s resources override lake.slices.resources');
});

test('a long table name is cut to a valid resource name, still one Deployment per table', () => {
  const slices = ofKind<Deployment>(docs('longTable'), 'Deployment').filter((d) => lakeRole(d) === 'slices');
  assert.equal(slices.length, 2);
  for (const d of slices) assert.ok(d.metadata.name.length <= 63 && component(d).length <= 63, d.metadata.name);
});

test('the orchestrator Deployment runs `lake orchestrate` with every table as --table, probes and a Service on the metrics port', () => {
  const all = docs('lake');
  const o = named<Deployment>(all, 'Deployment', 'cdcv-cdc-views-lake-orchestrator');
  const c = container(o);
  const args = c.args ?? [];
  assert.deepEqual(args.slice(0, 2), ['lake', 'orchestrate']);
  const tables = args.flatMap((a, i) => (args[i - 1] === '--table' ? [a] : []));
  assert.deepEqual(tables, tablesOf(LAKE));
  assert.deepEqual(args.slice(2 + 2 * tables.length), ['--every', 'PT30S', '--max-slices', '50', '--retention', 'P14D']);
  assert.equal(o.spec.replicas, 1);
  const env = configOf(all, c);
  const port = Number(env.CDCV_HTTP_PORT);
  assert.deepEqual(c.ports?.map((p) => [p.name, p.containerPort]), [['http', port]]);
  assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
  const svc = named<Manifest & { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] } }>(all, 'Service', 'cdcv-cdc-views-lake-orchestrator');
  assert.deepEqual(svc.spec.selector, o.spec.template.metadata?.labels && Object.fromEntries(Object.entries(o.spec.template.metadata.labels).filter(([k]) => k.startsWith('app.kubernetes.io/'))));
  const [sm] = ofKind<Manifest & { spec: { selector: { matchLabels: Record<string, string> } } }>(all, 'ServiceMonitor');
  assert.ok(sm);
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal((svc.metadata.labels as Record<string, string>)[k], v, 'the ServiceMonitor selects the orchestrator\'s Service');
  assert.equal(ofKind(all, 'CronJob').length, 0, 'no CronJob in deployment mode');
});

test('the lake ConfigMap holds the lake settings cdc-views accepts, and every lake pod reads it', () => {
  const all = docs('lake');
  const cm = named<ConfigMapManifest>(all, 'ConfigMap', 'cdcv-cdc-views-lake');
  const env = loadEnv(cm.data);
  assert.equal(env.CDCV_LAKE_URL, 's3://analytics-lake/cdc');
  assert.equal(env.CDCV_LAKE_S3_ENDPOINT, 'http://minio.storage:9000');
  assert.equal(env.CDCV_LAKE_S3_REGION, 'eu-west-1');
  assert.equal(env.CDCV_LAKE_S3_ACCESS_KEY_ID, 'AKIAEXAMPLELAKE');
  assert.equal(env.CDCV_LAKE_SLICE_INTERVAL_MS, 30000);
  assert.equal(cm.data.CDCV_LOG_LEVEL, 'debug', 'lake.config');
  for (const d of ofKind<Workload>(all, 'Deployment').filter((m) => lakeRole(m) !== undefined)) assert.equal(configOf(all, container(d)), cm.data);
});

test('the S3 secret key is never in a ConfigMap: secretEnv (secretKeyRef) or credentials.files (a mounted file)', () => {
  for (const name of ['lake', 'cron'] as const) {
    for (const cm of ofKind<ConfigMapManifest>(docs(name), 'ConfigMap')) {
      assert.equal(cm.data.CDCV_LAKE_S3_SECRET_ACCESS_KEY, undefined, `${name}: ConfigMap ${cm.metadata.name}`);
      assert.doesNotMatch(JSON.stringify(cm.data), /wJalr|secret-access-key/, `${name}: ConfigMap ${cm.metadata.name}`);
    }
  }
  for (const d of ofKind<Workload>(docs('lake'), 'Deployment').filter((m) => lakeRole(m) !== undefined)) {
    const e = container(d).env?.find((x) => x.name === 'CDCV_LAKE_S3_SECRET_ACCESS_KEY');
    assert.deepEqual(e, { name: 'CDCV_LAKE_S3_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'cdc-views-lake', key: 'secret-access-key' } } }, d.metadata.name);
  }
  for (const cj of ofKind<CronJob>(docs('cron'), 'CronJob')) {
    const c = cj.spec.jobTemplate.spec.template.spec.containers[0]!;
    assert.deepEqual(c.env?.find((x) => x.name === 'CDCV_LAKE_S3_SECRET_ACCESS_KEY_FILE'), { name: 'CDCV_LAKE_S3_SECRET_ACCESS_KEY_FILE', value: '/etc/cdc-views/secrets/lake-secret-access-key' });
    assert.ok(c.volumeMounts?.some((m) => m.name === 'credentials' && m.readOnly === true));
  }
});

test('cronjob mode: one `lake work --table <t>` CronJob per table, concurrencyPolicy Forbid, restricted pods; no orchestrator, no lake alerts', () => {
  const all = docs('cron');
  const jobs = ofKind<CronJob>(all, 'CronJob');
  assert.deepEqual(jobs.map((j) => j.spec.jobTemplate.spec.template.spec.containers[0]?.args?.slice(0, 4)), tablesOf(CRON).map((t) => ['lake', 'work', '--table', t]));
  for (const j of jobs) {
    assert.equal(j.spec.concurrencyPolicy, 'Forbid', j.metadata.name);
    assert.equal(j.spec.schedule, '*/5 * * * *');
    assert.ok(j.metadata.name.length <= 52, `${j.metadata.name}: the CronJob controller appends 11 characters`);
    const pod = j.spec.jobTemplate.spec.template.spec;
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(pod.enableServiceLinks, false);
  }
  assert.equal(ofKind(all, 'Deployment').some((d) => lakeRole(d) === 'orchestrator'), false);
  assert.equal(ofKind(all, 'Service').some((s) => lakeRole(s) !== undefined), false);
  const rules = ofKind<Manifest & { spec: { groups: { rules: { alert: string }[] }[] } }>(all, 'PrometheusRule')[0]?.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)) ?? [];
  assert.ok(rules.length > 0 && !rules.some((a) => a.startsWith('CdcViewsLake')), 'no lake metrics without the orchestrator');
});

test('lake alerts: lag and gap partitions on this release\'s tables, thresholds and durations from values; the lake pods count for crash loops', () => {
  const [pr] = ofKind<Manifest & { spec: { groups: { rules: { alert: string; expr: string; for: string; labels: Record<string, string> }[] }[] } }>(docs('lake'), 'PrometheusRule');
  assert.ok(pr);
  const r = new Map(pr.spec.groups.flatMap((g) => g.rules).map((x) => [x.alert, x]));
  const lag = r.get('CdcViewsLakeLagHigh');
  assert.equal(lag?.expr, 'max by (table) (cdc_views_lake_lag_seconds{namespace="cdcv", table=~"public\\\\.orders|public\\\\.order_items"}) > 600');
  assert.equal(lag.for, '10m');
  const gaps = r.get('CdcViewsLakeGapPartitions');
  assert.ok(gaps, 'CdcViewsLakeGapPartitions');
  assert.ok(gaps.expr.startsWith('max by (table) (cdc_views_lake_gap_partitions{') && gaps.expr.endsWith('> 0'), gaps.expr);
  assert.equal(gaps.for, '15m');
  assert.equal(gaps.labels.severity, 'critical');
  assert.match(r.get('CdcViewsCrashLooping')?.expr ?? '', /cdcv-cdc-views-lake-orchestrator\|cdcv-cdc-views-lake-slices-public-orders\|/);
});

function container(w: Workload): Container {
  const [c] = w.spec.template.spec.containers;
  assert.ok(c, `${w.metadata.name}: one container`);
  return c;
}
