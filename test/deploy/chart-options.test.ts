/**
 * The chart's options beyond one Deployment per topology, rendered by the
 * real Helm engine (helm-java): topology files from a ConfigMap (content,
 * volume, mount, CDCV_TOPOLOGY pointing at the mounted file, a checksum that
 * rolls the pods), the usual chart conventions, operator Job names, the
 * backfill Job's arguments and database session, the Grafana dashboard and PrometheusRule on the metrics the application
 * really exports, the `helm test` pod and NOTES.txt; and values.schema.json
 * refusing a wrong type for every option.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { Registry } from 'prom-client';
import { LAKE_METRIC_NAMES, LakeMetrics } from '../../src/lake/metrics.ts';
import { METRIC_NAMES, createMetrics } from '../../src/metrics/catalogue.ts';
import { CHART, HOOK_ANNOTATION, ROOT, helmTemplate, type Rendered, type TemplateRequest } from './helm.ts';
import { validateManifest, type Manifest } from './k8s-schemas.ts';
import { configOf, effectiveValues, named, ofKind, parseRendered, type ConfigMapManifest, type Container, type Obj, type PodManifest, type Workload } from './rendered.ts';

const values = (f: string): string => join(ROOT, 'test/deploy/values', f);
const TOPO = values('topology-configmap.yaml');
const CONV = values('conventions.yaml');
const REPLAY = values('replay-job.yaml');
const BACKFILL = values('backfill-job.yaml');
const MOUNT = '/etc/cdc-views/topologies';

const REQUESTS = {
  defaults: {},
  topo: { values: TOPO },
  topoChanged: { values: TOPO, set: { 'topologySources.files.authors\\.ts': 'export const changed = true;' } },
  conv: { values: CONV },
  convHooks: { values: CONV, hooks: true },
  defaultHooks: { hooks: true },
  observed: { set: { 'prometheusRule.enabled': 'true', 'grafanaDashboard.enabled': 'true' } },
  noStartupProbe: { set: { 'startupProbe.enabled': 'false', nameOverride: 'cdcx' } },
  jobs: { values: REPLAY },
  jobsAgain: { values: REPLAY },
  jobsRunId: { values: REPLAY, set: { 'jobs.replay.runId': '2', 'jobs.rewind.runId': '2', 'jobs.promote.runId': '2' } },
  jobsImage: { values: REPLAY, set: { 'image.tag': '0.2.0' } },
  jobsLong: { values: REPLAY, set: { fullnameOverride: 'a-release-name-of-forty-characters-abcde', 'jobs.replay.version': 'v2.0.1.release.candi', 'jobs.promote.version': 'v2.0.1.release.candi' } },
  backfill: { values: BACKFILL },
  backfillAgain: { values: BACKFILL },
  backfillRunId: { values: BACKFILL, set: { 'jobs.backfill.runId': '2' } },
  backfillOtherSecret: { values: BACKFILL, set: { 'jobs.backfill.databaseUrlSecret.name': 'other-db' } },
  backfillPlain: { values: BACKFILL, set: { 'jobs.backfill.where': '', 'jobs.backfill.chunkSize': '0', 'jobs.backfill.databaseUrlSecret.name': '' } },
  backfillKafka: { values: BACKFILL, set: { 'jobs.backfill.channel': 'kafka', 'jobs.backfill.detach': 'true' } },
  notesDefaults: { notes: true },
  notesConv: { values: CONV, notes: true },
} satisfies Record<string, TemplateRequest>;
type RequestName = keyof typeof REQUESTS;

const results = new Map<RequestName, Rendered>();
/** Every metric name /metrics serves: the catalogue plus the default process metrics, and the lake orchestrator's, with their types. */
const exported = new Map<string, string>();

before(async () => {
  const names = Object.keys(REQUESTS) as RequestName[];
  helmTemplate(names.map((n) => REQUESTS[n])).forEach((r, i) => results.set(names[i]!, r));
  const registry = new Registry();
  createMetrics(registry);
  new LakeMetrics(registry);
  for (const m of await registry.getMetricsAsJSON()) exported.set(m.name, String(m.type));
});

const docs = (name: RequestName): Manifest[] => parseRendered(results.get(name), name);
const deployment = (name: RequestName, topology: string): Workload => named<Workload>(docs(name), 'Deployment', topology);
const container = (w: { spec: { template: { spec: { containers: Container[] } } } }): Container => {
  const [c] = w.spec.template.spec.containers;
  assert.ok(c, 'one container');
  return c;
};
const job = (name: RequestName, operation: string): Workload => {
  const found = ofKind<Workload>(docs(name), 'Job').filter((j) => (j.metadata.labels as Record<string, string>)['cdc-views/operation'] === operation);
  assert.equal(found.length, 1, `one ${operation} Job in ${name}`);
  return found[0]!;
};

/** Metric names a PromQL expression uses, histogram series (_bucket, _sum, _count) as their histogram. */
function metricsIn(expr: string): string[] {
  const names = expr.match(/\b(cdc_views|kube)_[a-z0-9_]+/g) ?? [];
  return names.map((n) => {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return base !== n && exported.get(base) === 'histogram' ? base : n;
  });
}

describe('topology files from a ConfigMap', () => {
  test('topologySources.files become a chart-owned ConfigMap holding each file byte for byte', () => {
    const cm = named<ConfigMapManifest>(docs('topo'), 'ConfigMap', 'cdcv-cdc-views-topology-files');
    const files = (effectiveValues(TOPO).topologySources as { files: Record<string, string> }).files;
    assert.deepEqual(cm.data, files);
    assert.equal(cm.data['authors.ts'], '  // leading spaces and no trailing newline are kept');
    assert.match(cm.data['books.ts'] ?? '', /from 'cdc-views';\n/);
  });

  for (const kind of ['Deployment', 'Job'] as const) {
    test(`the books ${kind} mounts it read-only at ${MOUNT} and runs the mounted file`, () => {
      const w = kind === 'Deployment' ? deployment('topo', 'cdcv-cdc-views-books') : job('topo', 'replay');
      const pod = w.spec.template.spec;
      const c = container(w);
      const volume = pod.volumes?.find((v) => v.configMap?.name === 'cdcv-cdc-views-topology-files');
      assert.ok(volume, 'a volume of the topology-files ConfigMap');
      assert.deepEqual(c.volumeMounts?.find((m) => m.name === volume.name), { name: volume.name, mountPath: MOUNT, readOnly: true });
      const env = configOf(docs('topo'), c);
      assert.equal(env.CDCV_TOPOLOGY, `${MOUNT}/books.ts`);
      const file = env.CDCV_TOPOLOGY.slice(MOUNT.length + 1);
      assert.ok(file in named<ConfigMapManifest>(docs('topo'), 'ConfigMap', 'cdcv-cdc-views-topology-files').data, 'CDCV_TOPOLOGY names a file of the mounted ConfigMap');
      if (kind === 'Job') assert.equal(c.args?.[1], `${MOUNT}/books.ts`, 'replay loads the mounted file');
    });
  }

  test('a change of the files rolls the pods that load them (checksum/topologies), and only those', () => {
    const sum = (name: RequestName, d: string): string | undefined => deployment(name, d).spec.template.metadata?.annotations?.['checksum/topologies'];
    const before = sum('topo', 'cdcv-cdc-views-books');
    assert.match(before ?? '', /^[0-9a-f]{64}$/);
    assert.notEqual(sum('topoChanged', 'cdcv-cdc-views-books'), before);
    assert.equal(sum('topo', 'cdcv-cdc-views-customer-cache'), undefined, 'a topology from the image does not roll on topology files');
    assert.deepEqual(deployment('topoChanged', 'cdcv-cdc-views-customer-cache').spec.template, deployment('topo', 'cdcv-cdc-views-customer-cache').spec.template);
    const image = deployment('topo', 'cdcv-cdc-views-customer-cache');
    assert.equal(container(image).volumeMounts?.some((m) => m.mountPath === MOUNT), false, 'nothing mounted where the topology is in the image');
    assert.notEqual(job('topoChanged', 'replay').metadata.name, job('topo', 'replay').metadata.name, 'a Job running other files is another Job');
  });

  test('existingConfigMap: mounted by name, no chart-owned ConfigMap', () => {
    const d = deployment('conv', 'views-orders-search');
    assert.ok(d.spec.template.spec.volumes?.some((v) => v.configMap?.name === 'my-topologies'));
    assert.match(d.spec.template.metadata?.annotations?.['checksum/topologies'] ?? '', /^[0-9a-f]{64}$/);
    assert.equal(ofKind(docs('conv'), 'ConfigMap').some((m) => m.metadata.name.endsWith('-topology-files')), false);
  });
});

describe('chart conventions', () => {
  test('fullnameOverride and nameOverride name the resources and the app.kubernetes.io/name label', () => {
    assert.ok(docs('conv').every((m) => m.metadata.name.startsWith('views')), docs('conv').map((m) => m.metadata.name).join(', '));
    const d = deployment('noStartupProbe', 'cdcv-cdcx-customer-cache');
    assert.equal(d.spec.template.metadata?.labels?.['app.kubernetes.io/name'], 'cdcx');
  });

  test('extraEnv, extraEnvFrom, extraVolumes, extraVolumeMounts and priorityClassName reach Deployments and Jobs', () => {
    for (const w of [deployment('conv', 'views-orders-search'), job('conv', 'promote')]) {
      const c = container(w);
      assert.deepEqual(c.env?.map((e) => e.name), ['NODE_OPTIONS', 'CDCV_PG_USER']);
      assert.deepEqual(c.envFrom?.[1], { secretRef: { name: 'cdc-views-env' } });
      assert.deepEqual(c.volumeMounts?.find((m) => m.name === 'ca'), { name: 'ca', mountPath: '/etc/ssl/internal', readOnly: true });
      assert.deepEqual(w.spec.template.spec.volumes?.find((v) => v.name === 'ca'), { name: 'ca', secret: { secretName: 'internal-ca' } });
      assert.equal(w.spec.template.spec.priorityClassName, 'data-pipelines');
    }
  });

  test('topologySpreadConstraints: the topology\'s pod labels as labelSelector unless one is given', () => {
    const [zone, host] = deployment('conv', 'views-orders-search').spec.template.spec.topologySpreadConstraints ?? [];
    assert.deepEqual(zone?.labelSelector?.matchLabels, { 'app.kubernetes.io/name': 'cdc-views', 'app.kubernetes.io/instance': 'cdcv', 'app.kubernetes.io/component': 'orders-search' });
    assert.deepEqual(host?.labelSelector?.matchLabels, { team: 'data' });
    assert.equal(deployment('defaults', 'cdcv-cdc-views-customer-cache').spec.template.spec.topologySpreadConstraints, undefined);
  });

  test('service and service-account annotations', () => {
    assert.deepEqual(named(docs('conv'), 'Service', 'views-orders-search').metadata.annotations, { 'prometheus.io/scrape': 'true' });
    assert.deepEqual(named(docs('conv'), 'ServiceAccount', 'views').metadata.annotations, { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/cdc-views' });
    assert.equal(named(docs('defaults'), 'Service', 'cdcv-cdc-views-customer-cache').metadata.annotations, undefined);
  });

  test('security contexts: overridden keys change, the other secure defaults stay', () => {
    const d = deployment('conv', 'views-orders-search');
    assert.deepEqual(d.spec.template.spec.securityContext, { runAsNonRoot: true, runAsUser: 2000, runAsGroup: 2000, fsGroup: 2000, seccompProfile: { type: 'RuntimeDefault' } });
    assert.deepEqual(container(d).securityContext, { runAsNonRoot: true, runAsUser: 2000, runAsGroup: 2000, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
  });

  test('startupProbe: GET /healthz on the http port with the values\' budget; off when disabled', () => {
    assert.deepEqual(container(deployment('conv', 'views-orders-search')).startupProbe, { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 90 });
    assert.equal(container(deployment('noStartupProbe', 'cdcv-cdcx-customer-cache')).startupProbe, undefined);
  });
});

describe('operator Job names', () => {
  const names = (name: RequestName): string[] => ofKind(docs(name), 'Job').map((j) => j.metadata.name).sort();

  test('<fullname>-<topology>-<job>[-<version>]-<hash of what it runs>: the same settings give the same names', () => {
    const jobs = names('jobs');
    assert.deepEqual(jobs.map((n) => n.replace(/-[0-9a-f]{8}$/, '')), ['cdcv-cdc-views-customer-cache-promote-v2', 'cdcv-cdc-views-customer-cache-replay-v2', 'cdcv-cdc-views-customer-cache-rewind']);
    assert.deepEqual(names('jobsAgain'), jobs, 'deterministic: applying the same render again is a no-op');
  });

  test('a new runId or another image is a new Job (a Job\'s spec is immutable)', () => {
    const jobs = names('jobs');
    for (const other of ['jobsRunId', 'jobsImage'] as const) {
      for (const n of names(other)) assert.ok(!jobs.includes(n), `${other}: ${n} collides with a Job of the first render`);
    }
  });

  test('at most 63 characters (the job-name label), a valid name, even for long release and version names', () => {
    for (const n of names('jobsLong')) {
      assert.ok(n.length <= 63, `${n}: ${n.length} characters`);
      assert.match(n, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?-[0-9a-f]{8}$/);
    }
    assert.equal(new Set(names('jobsLong')).size, 3);
  });

  test('the rendered Job starts with the kubectl wait line naming it', () => {
    const name = job('jobs', 'replay').metadata.name;
    assert.ok(results.get('jobs')?.manifests?.includes(`# kubectl -n cdcv wait --for=condition=complete job/${name}\n`));
  });
});

describe('backfill Job', () => {
  const args = (name: RequestName): string[] | undefined => container(job(name, 'backfill')).args;

  test('runs backfill start on the connector\'s tables for the topology\'s applicationId, with --execute', () => {
    assert.deepEqual(args('backfill'), [
      'backfill', 'start', '--connector', 'shop', '--table', 'public.customers', '--table', 'public.addresses',
      '--where', "tenant_id = 7 AND country IN ('DE', 'FR')", '--chunk-size', '1000000', '--app', 'customer-cache-v1', '--execute',
    ]);
    assert.equal(configOf(docs('backfill'), container(job('backfill', 'backfill'))).CDCV_CONNECT_URL, 'http://connect:8083', 'Kafka Connect\'s URL from the topology\'s ConfigMap');
  });

  test('empty where and chunk size 0 add no flag; channel kafka and detach add theirs', () => {
    assert.deepEqual(args('backfillPlain'), ['backfill', 'start', '--connector', 'shop', '--table', 'public.customers', '--table', 'public.addresses', '--app', 'customer-cache-v1', '--execute']);
    assert.deepEqual(args('backfillKafka'), [
      'backfill', 'start', '--connector', 'shop', '--table', 'public.customers', '--table', 'public.addresses', '--where', "tenant_id = 7 AND country IN ('DE', 'FR')", '--chunk-size', '1000000',
      '--channel', 'kafka', '--app', 'customer-cache-v1', '--execute', '--detach',
    ]);
  });

  test('DATABASE_URL comes from the Secret\'s key when databaseUrlSecret.name is set, and is absent otherwise', () => {
    const env = container(job('backfill', 'backfill')).env ?? [];
    assert.deepEqual(env.filter((e) => e.name === 'DATABASE_URL'), [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'shop-db', key: 'url' } } }]);
    assert.equal(container(job('backfillPlain', 'backfill')).env?.some((e) => e.name === 'DATABASE_URL') ?? false, false, 'no DATABASE_URL: the connector\'s database.* settings');
  });

  test('<fullname>-<topology>-backfill-<hash>: deterministic, another for a new runId or another Secret', () => {
    const name = job('backfill', 'backfill').metadata.name;
    assert.match(name, /^cdcv-cdc-views-customer-cache-backfill-[0-9a-f]{8}$/);
    assert.equal(job('backfillAgain', 'backfill').metadata.name, name, 'applying the same render again is a no-op');
    for (const other of ['backfillRunId', 'backfillOtherSecret', 'backfillPlain'] as const) assert.notEqual(job(other, 'backfill').metadata.name, name, other);
    assert.ok(results.get('backfill')?.manifests?.includes(`# kubectl -n cdcv wait --for=condition=complete job/${name}\n`));
  });

  test('backoffLimit 1, the topology\'s pod settings, and a valid Job (Kubernetes API schema)', () => {
    for (const name of ['backfill', 'backfillPlain', 'backfillKafka'] as const) {
      const j = job(name, 'backfill') as Workload & { spec: { backoffLimit?: number } };
      validateManifest(j);
      assert.equal(j.spec.backoffLimit, 1);
      assert.equal(container(j).name, 'backfill');
      assert.equal(configOf(docs(name), container(j)).CDCV_APPLICATION_ID, 'customer-cache-v1');
    }
    assert.equal(ofKind(docs('jobs'), 'Job').some((j) => (j.metadata.labels as Record<string, string>)['cdc-views/operation'] === 'backfill'), false, 'not rendered unless enabled');
  });
});

describe('observability', () => {
  test('off by default: no dashboard ConfigMap, no PrometheusRule', () => {
    assert.equal(ofKind(docs('defaults'), 'PrometheusRule').length, 0);
    assert.equal(ofKind(docs('defaults'), 'ConfigMap').some((m) => m.metadata.name.endsWith('-grafana-dashboard')), false);
  });

  test('Grafana dashboard: a ConfigMap with the sidecar\'s label, on metrics /metrics serves, every catalogue metric on a panel', () => {
    const cm = named<ConfigMapManifest>(docs('conv'), 'ConfigMap', 'views-grafana-dashboard');
    assert.equal((cm.metadata.labels as Record<string, string>).grafana_dashboard, '1');
    assert.deepEqual(cm.metadata.annotations, { grafana_folder: 'CDC' });
    const dashboard = JSON.parse(cm.data['cdc-views.json'] ?? '') as { uid: string; panels: { title: string; targets?: { expr: string }[] }[] };
    assert.equal(dashboard.uid, 'cdc-views');
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    assert.ok(exprs.length > 10);
    for (const e of exprs) for (const m of metricsIn(e)) assert.ok(exported.has(m), `dashboard query uses ${m}, which cdc-views does not export: ${e}`);
    const used = new Set(exprs.flatMap(metricsIn));
    for (const m of Object.values(METRIC_NAMES)) assert.ok(used.has(m), `${m} (src/metrics/catalogue.ts) is on no panel of helm/cdc-views/dashboards/cdc-views.json`);
    for (const m of Object.values(LAKE_METRIC_NAMES)) assert.ok(used.has(m), `${m} (src/lake/metrics.ts) is on no panel of helm/cdc-views/dashboards/cdc-views.json`);
    assert.equal(cm.data['cdc-views.json'], readFileSync(join(CHART, 'dashboards/cdc-views.json'), 'utf8'));
  });

  type Rule = { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> };
  const rules = (name: RequestName): Map<string, Rule> => {
    const [pr] = ofKind<Manifest & { spec: { groups: { rules: Rule[] }[] } }>(docs(name), 'PrometheusRule');
    assert.ok(pr, `a PrometheusRule in ${name}`);
    validateManifest(pr);
    return new Map(pr.spec.groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
  };

  test('PrometheusRule with default values: the ten alerts, thresholds and windows from values.yaml, on exported metrics', () => {
    const r = rules('observed');
    const all = (effectiveValues('').prometheusRule as { alerts: Record<string, { threshold: number; for: string; window?: string; severity: string }> }).alerts;
    // the lake's alerts need lake.enabled (test/deploy/chart-lake.test.ts)
    const alerts = Object.fromEntries(Object.entries(all).filter(([key]) => !key.startsWith('lake')));
    const byValue: Record<string, string> = { lag: 'CdcViewsLagHigh', lagSeconds: 'CdcViewsLagSecondsHigh', rendersPending: 'CdcViewsRendersPending', latency: 'CdcViewsEndToEndLatencyHigh', deadLetters: 'CdcViewsDeadLetters', pausedPartitions: 'CdcViewsPartitionsPaused', stateRollbacks: 'CdcViewsStateRollback', renderFailures: 'CdcViewsRenderFailures', historyLost: 'CdcViewsHistoryLost', crashLoop: 'CdcViewsCrashLooping' };
    assert.deepEqual([...r.keys()].sort(), Object.values(byValue).sort());
    for (const [key, a] of Object.entries(alerts)) {
      const rule = r.get(byValue[key] ?? '');
      assert.ok(rule, key);
      assert.ok(rule.expr.endsWith(` > ${a.threshold}`), `${rule.alert}: ${rule.expr}`);
      assert.equal(rule.for, a.for);
      assert.equal(rule.labels.severity, a.severity);
      if (a.window) assert.ok(rule.expr.includes(`[${a.window}]`), `${rule.alert} counts over ${a.window}: ${rule.expr}`);
      for (const m of metricsIn(rule.expr)) assert.ok(exported.has(m) || m === 'kube_pod_container_status_restarts_total', `${rule.alert} uses ${m}, which is neither a cdc-views metric nor kube-state-metrics' restarts`);
    }
    assert.match(r.get('CdcViewsLagHigh')?.expr ?? '', /cdc_views_lag_records\{application_id=~"customer-cache-v1"\}/);
  });

  test('PrometheusRule with conventions: overridden thresholds, a disabled alert left out, alert labels, this release\'s applications and pods', () => {
    const r = rules('conv');
    assert.equal(r.has('CdcViewsEndToEndLatencyHigh'), false);
    assert.equal(r.get('CdcViewsLagHigh')?.for, '15m');
    assert.ok(r.get('CdcViewsLagHigh')?.expr.endsWith(' > 5000'));
    for (const rule of r.values()) assert.equal(rule.labels.team, 'data');
    const crash = r.get('CdcViewsCrashLooping')?.expr ?? '';
    assert.match(crash, /increase\(kube_pod_container_status_restarts_total\{namespace="cdcv", container="cdc-views", pod=~"([^"]+)"\}\[1h\]\)\) > 5$/);
    const podRegex = new RegExp(`^${/pod=~"([^"]+)"/.exec(crash)?.[1] ?? ''}$`);
    assert.ok(podRegex.test('views-orders-search-7d9f8b6c5d-x2x7q'), 'matches the Deployment\'s pods');
    assert.ok(!podRegex.test('views-orders-search-promote-v2-3f3ea25b-abcde'), 'not a Job\'s pods');
    const app = configOf(docs('conv'), container(deployment('conv', 'views-orders-search'))).CDCV_APPLICATION_ID;
    assert.ok(r.get('CdcViewsDeadLetters')?.expr.includes(`application_id=~"${app}"`));
    const [pr] = ofKind(docs('conv'), 'PrometheusRule');
    assert.equal((pr?.metadata.labels as Record<string, string>).release, 'prometheus');
  });
});

describe('helm test and NOTES.txt', () => {
  test('one test Pod per topology GETs /healthz of its Service; a hook, so not part of the release manifest', () => {
    assert.equal(ofKind(docs('conv'), 'Pod').length, 0, 'helm template leaves hooks out: the test pod is a hook');
    for (const name of ['defaultHooks', 'convHooks'] as const) {
      const all = docs(name);
      const services = ofKind<Manifest & { spec: { ports: { port: number }[] } }>(all, 'Service');
      const pods = ofKind<PodManifest>(all, 'Pod');
      assert.equal(pods.length, services.length);
      for (const s of services) {
        const url = `http://${s.metadata.name}.cdcv.svc:${s.spec.ports[0]?.port}/healthz`;
        const pod = pods.find((p) => p.spec.containers[0]?.command?.includes(url));
        assert.ok(pod, `a test pod GETs ${url}`);
        validateManifest(pod);
        assert.equal((pod.metadata.annotations as Record<string, string>)[HOOK_ANNOTATION], 'test');
        assert.equal((pod.metadata.annotations as Record<string, string>)['helm.sh/hook-delete-policy'], 'before-hook-creation,hook-succeeded');
        const c = pod.spec.containers[0];
        assert.deepEqual(c?.command?.slice(0, 2), ['wget', '-q']);
        assert.equal(c?.securityContext?.readOnlyRootFilesystem, true);
        assert.equal(c?.securityContext?.allowPrivilegeEscalation, false);
        assert.equal(pod.spec.securityContext?.runAsNonRoot, true);
      }
    }
  });

  test('NOTES.txt names the Deployments, the rollout and helm test commands, and what the options installed', () => {
    const notes = results.get('notesDefaults')?.notes ?? `(error) ${results.get('notesDefaults')?.error}`;
    assert.match(notes, /cdcv-cdc-views-customer-cache: applicationId customer-cache-v1, topology dist\/topologies\/customer-cache\.js/);
    assert.match(notes, /kubectl -n cdcv rollout status deployment\/cdcv-cdc-views-customer-cache/);
    assert.match(notes, /helm test cdcv -n cdcv/);
    assert.doesNotMatch(notes, /Grafana|PrometheusRule|Topology files/);
    const conv = results.get('notesConv')?.notes ?? `(error) ${results.get('notesConv')?.error}`;
    assert.match(conv, /Topology files come from ConfigMap my-topologies, mounted read-only at \/etc\/cdc-views\/topologies/);
    assert.match(conv, /rollout restart/);
    assert.match(conv, /ConfigMap views-grafana-dashboard/);
    assert.match(conv, /PrometheusRule views \(labels \{"release":"prometheus"\}/);
  });
});

test('helm/cdc-views/README.md documents every value of values.yaml', () => {
  /** Keys whose value is free-form (a map of settings, labels, a security context) or one documented object. */
  const whole = new Set(['config', 'resources', 'podSecurityContext', 'securityContext', 'labels']);
  const leaves = (o: Obj, prefix: string): string[] =>
    Object.entries(o).flatMap(([k, v]) => {
      const key = prefix + k;
      const nested = v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0 && !whole.has(k) && !prefix.startsWith('prometheusRule.alerts.');
      return nested ? leaves(v as Obj, `${key}.`) : [key];
    });
  const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
  const documented = new Set([...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] ?? ''));
  const keys = leaves(effectiveValues(''), '');
  assert.ok(keys.length > 60);
  assert.deepEqual(keys.filter((k) => !documented.has(k)), [], 'values without a row in the README\'s Values table');
  assert.deepEqual([...documented].filter((k) => /^[a-z]/.test(k) && !keys.includes(k) && !k.includes(' ') && !k.startsWith('CdcViews')), [], 'rows of values that do not exist');
});

describe('values.schema.json refuses a wrong type for every option', () => {
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Obj;
  const validate = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true }).compile(schema);
  /** path → a value of the wrong type */
  const WRONG: [string, unknown][] = [
    ['nameOverride', 1], ['fullnameOverride', 'Not_A_Name'], ['topologySources.files', ['books.ts']], ['topologySources.files.books\\.ts', 1], ['topologySources.existingConfigMap', true],
    ['service.annotations', 'a'], ['serviceAccount.annotations', { a: 1 }], ['podSecurityContext', 'restricted'], ['podSecurityContext.runAsUser', '1000'], ['securityContext', []], ['securityContext.readOnlyRootFilesystem', 'yes'],
    ['extraEnv', {}], ['extraEnv.0', { value: 'no name' }], ['extraEnvFrom', {}], ['extraEnvFrom.0', { secretRef: {} }], ['extraVolumes', {}], ['extraVolumes.0', { secret: {} }], ['extraVolumeMounts', {}], ['extraVolumeMounts.0', { name: 'x', mountPath: 'relative' }],
    ['priorityClassName', 1], ['topologySpreadConstraints', {}], ['topologySpreadConstraints.0', { maxSkew: '1', topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    ['startupProbe.enabled', 'true'], ['startupProbe.failureThreshold', 0], ['startupProbe.path', '/healthz'],
    ['jobs.replay.runId', 1.5], ['jobs.rewind.runId', false], ['jobs.promote.runId', {}],
    ['jobs.backfill.enabled', 'yes'], ['jobs.backfill.runId', 1.5], ['jobs.backfill.topology', 1], ['jobs.backfill.connector', ['shop']], ['jobs.backfill.tables', 'public.orders'],
    ['jobs.backfill.tables.0', 'orders'], ['jobs.backfill.tables.0', 'shop.public.orders'], ['jobs.backfill.tables.0', 'public. orders'], ['jobs.backfill.tables.0', 1],
    ['jobs.backfill.where', 7], ['jobs.backfill.chunkSize', '1024'], ['jobs.backfill.chunkSize', -1], ['jobs.backfill.chunkSize', 1.5], ['jobs.backfill.channel', 'table'], ['jobs.backfill.detach', 'no'],
    ['jobs.backfill.databaseUrlSecret', 'shop-db'], ['jobs.backfill.databaseUrlSecret.name', 1], ['jobs.backfill.databaseUrlSecret.key', 'a/b'], ['jobs.backfill.databaseUrlSecret.url', 'postgres://u:p@db/shop'], ['jobs.backfill.databaseUrl', 'postgres://u:p@db/shop'],
    ['grafanaDashboard.enabled', 'yes'], ['grafanaDashboard.labels', { grafana_dashboard: 1 }], ['grafanaDashboard.annotations', []], ['grafanaDashboard.namespace', 1],
    ['httpHost', 1], ['httpHost', 'a b'], ['stores.enabled', 'yes'], ['stores.token', 'x'], ['credentials.existingSecret', false], ['credentials.files', ['x']], ['credentials.files.CDCV_STORES_TOKEN_FILE', 1], ['credentials.files.CDCV_STORES_TOKEN_FILE', 'a/b'],
    ['networkPolicy.enabled', 'true'], ['networkPolicy.ingressNamespaces', 'monitoring'], ['networkPolicy.ingressNamespaces.0', 'Monitoring'], ['networkPolicy.ingressFrom.0', {}], ['networkPolicy.ingressFrom.0', { ipBlock: {} }], ['networkPolicy.egress', {}],
    ['autoscaling.kafka.sasl', 'gssapi'], ['autoscaling.kafka.tls', 'enable'], ['autoscaling.kafka.authSecret', 1], ['autoscaling.kafka.secretKeys', { token: 'x' }], ['autoscaling.kafka.secretKeys', { password: '' }],
    ['prometheusRule.enabled', 1], ['prometheusRule.labels', []], ['prometheusRule.alertLabels', { team: 1 }], ['prometheusRule.alerts.lag.threshold', '10k'], ['prometheusRule.alerts.crashLoop.window', 30], ['prometheusRule.alerts.latency.for', '10 minutes'], ['prometheusRule.alerts.dlq', {}],
  ];
  const withValue = (path: string, value: unknown): Obj => {
    const root = structuredClone(effectiveValues(TOPO));
    const keys = path.split(/(?<!\\)\./).map((k) => k.replaceAll('\\.', '.'));
    let at: Obj = root;
    for (const k of keys.slice(0, -1)) {
      at[k] ??= {};
      at = at[k] as Obj;
    }
    at[keys.at(-1)!] = value;
    return root;
  };

  test('the values used here are accepted as they are', () => {
    assert.ok(validate(effectiveValues(TOPO)), JSON.stringify(validate.errors));
    assert.ok(validate(effectiveValues(BACKFILL)), JSON.stringify(validate.errors));
    assert.ok(validate(withValue('jobs.backfill.chunkSize', 0)), JSON.stringify(validate.errors));
    assert.ok(validate(withValue('jobs.backfill.channel', 'kafka')), JSON.stringify(validate.errors));
    assert.ok(validate(withValue('extraEnv', [{ name: 'A', value: 'b' }])), JSON.stringify(validate.errors));
    assert.ok(validate(withValue('topologySpreadConstraints', [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway' }])), JSON.stringify(validate.errors));
  });
  for (const [path, value] of WRONG) {
    test(`${path} = ${JSON.stringify(value)}`, () => {
      const v = path.includes('.0') ? withValue(path.slice(0, path.indexOf('.0')), [value]) : withValue(path, value);
      assert.equal(validate(v), false, `${path} = ${JSON.stringify(value)} accepted`);
    });
  }
});
