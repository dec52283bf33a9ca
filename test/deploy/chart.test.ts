/**
 * The Helm chart, rendered by the real Helm engine (helm-java) for several
 * values files; every manifest validated against the Kubernetes API schemas;
 * the properties that matter asserted on the rendered objects.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { SETTINGS, isSecretSetting, loadEnv, type SettingKey } from '../../src/config.ts';
import { CHART, ROOT, helm, type Linted, type Rendered } from './helm.ts';
import { validateManifest, type Manifest } from './k8s-schemas.ts';
import { component, configOf, effectiveValues, ofKind, parseRendered, type ConfigMapManifest, type Obj, type Workload } from './rendered.ts';

const VALUES_DIR = join(ROOT, 'test/deploy/values');
const GOOD = ['', ...['multi-topology.yaml', 'autoscaling.yaml', 'replay-job.yaml', 'promote-migration.yaml', 'topology-configmap.yaml', 'conventions.yaml', 'security.yaml', 'backfill-job.yaml', 'lake.yaml', 'lake-cronjob.yaml'].map((f) => join(VALUES_DIR, f))];
const BAD = readdirSync(join(VALUES_DIR, 'bad')).sort().map((f) => join(VALUES_DIR, 'bad', f));
const label = (file: string): string => (file === '' ? 'default values' : file.slice(VALUES_DIR.length + 1));

/** Settings the chart derives from its own keys (topologies[], httpPort, httpHost, stores.enabled, shutdownTimeoutMs, lake). */
const CHART_SET = ['CDCV_APPLICATION_ID', 'CDCV_TOPICS', 'CDCV_TOPOLOGY', 'CDCV_HTTP_PORT', 'CDCV_HTTP_HOST', 'CDCV_STORES_ENABLED', 'CDCV_SHUTDOWN_TIMEOUT_MS', 'CDCV_LAKE_URL', 'CDCV_LAKE_S3_ENDPOINT', 'CDCV_LAKE_S3_REGION', 'CDCV_LAKE_S3_ACCESS_KEY_ID', 'CDCV_LAKE_SLICE_INTERVAL_MS'];
/** Credential settings (`secret: true`): only through secretEnv, never in a ConfigMap. */
const SECRET_KEYS: string[] = (Object.keys(SETTINGS) as SettingKey[]).filter(isSecretSetting).map((k) => SETTINGS[k].env);
/** Every environment variable cdc-views reads (src/config.ts SETTINGS). */
const ENV_KEYS: string[] = Object.values(SETTINGS).map((s) => s.env);

/** Whether a manifest belongs to the lake sink (label cdc-views/lake; test/deploy/chart-lake.test.ts checks those). */
const isLake = (m: Manifest): boolean => ((m.metadata.labels ?? {}) as Record<string, string>)['cdc-views/lake'] !== undefined;

interface Topology { name: string; applicationId?: string; partitions: number; replicas?: number; autoscaling?: Obj }

let lint: Linted;
let templates: Map<string, Rendered>;
const rendered = new Map<string, Manifest[]>();

before(() => {
  ({ lint, templates } = helm([...GOOD, ...BAD]));
  for (const file of GOOD) {
    if (templates.get(file)?.manifests !== undefined) rendered.set(file, parseRendered(templates.get(file), label(file)));
  }
});

function manifests(file: string): Manifest[] {
  const docs = rendered.get(file);
  return docs ?? parseRendered(templates.get(file), label(file));
}

test('the Kubernetes schema check rejects an invalid manifest (so a pass means something)', () => {
  const broken = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { selector: {}, template: { spec: { containers: [{ name: 'c', ports: [{ containerPort: '9464' }] }] } } } };
  assert.throws(() => validateManifest(broken), /containerPort must be integer/);
  assert.throws(() => validateManifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } }), /no Kubernetes schema known/);
});

test('helm lint --strict passes with the default values', () => {
  assert.equal(lint.failed, false, lint.messages.join('\n'));
  const serious = lint.messages.filter((m) => /\[(ERROR|WARNING)\]/.test(m));
  assert.deepEqual(serious, []);
});

for (const file of GOOD) {
  describe(`rendered with ${label(file)}`, () => {
    test('every manifest is valid against the Kubernetes API schemas', () => {
      for (const m of manifests(file)) validateManifest(m);
    });

    test('every CDCV_* variable the chart sets is a cdc-views setting, with a valid value', () => {
      const docs = manifests(file);
      // the topologies' ConfigMaps (the chart-wide ones hold topology files and the dashboard)
      for (const cm of ofKind<ConfigMapManifest>(docs, 'ConfigMap').filter((m) => component(m) !== '')) {
        for (const name of Object.keys(cm.data)) {
          assert.ok(ENV_KEYS.includes(name), `ConfigMap ${cm.metadata.name} sets ${name}, which is not a setting of src/config.ts (SETTINGS)`);
        }
        assert.doesNotThrow(() => loadEnv(cm.data), `ConfigMap ${cm.metadata.name} holds a value cdc-views rejects`);
      }
      for (const w of [...ofKind<Workload>(docs, 'Deployment'), ...ofKind<Workload>(docs, 'Job')]) {
        for (const c of w.spec.template.spec.containers) {
          for (const e of c.env ?? []) {
            if (e.name.startsWith('CDCV_')) assert.ok(ENV_KEYS.includes(e.name), `${w.kind} ${w.metadata.name} sets ${e.name}, which is not a setting of src/config.ts`);
          }
        }
      }
    });

    test('probes: liveness GET /healthz, readiness GET /readyz, on the port the app listens on (CDCV_HTTP_PORT)', () => {
      const docs = manifests(file);
      // the lake's slice writers serve no HTTP (no probes): test/deploy/chart-lake.test.ts
      const deployments = ofKind<Workload>(docs, 'Deployment').filter((d) => (d.metadata.labels as Record<string, string>)['cdc-views/lake'] !== 'slices');
      assert.ok(deployments.length > 0);
      for (const d of deployments) {
        for (const c of d.spec.template.spec.containers) {
          const port = Number(configOf(docs, c).CDCV_HTTP_PORT);
          const resolve = (p: number | string | undefined): number | undefined => (typeof p === 'number' ? p : c.ports?.find((x) => x.name === p)?.containerPort);
          assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${d.metadata.name}: liveness path`);
          assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${d.metadata.name}: readiness path`);
          assert.equal(resolve(c.livenessProbe?.httpGet?.port), port, `${d.metadata.name}: liveness port must be CDCV_HTTP_PORT ${port}`);
          assert.equal(resolve(c.readinessProbe?.httpGet?.port), port, `${d.metadata.name}: readiness port must be CDCV_HTTP_PORT ${port}`);
        }
      }
      for (const s of ofKind<Manifest & { spec: { ports: { port: number; targetPort: string | number }[] } }>(docs, 'Service')) {
        const httpPort = s.spec.ports.find((p) => p.targetPort === 'http');
        assert.ok(httpPort, `Service ${s.metadata.name} targets the named port http`);
      }
    });

    test('no container runs as root; restricted security context', () => {
      for (const w of [...ofKind<Workload>(manifests(file), 'Deployment'), ...ofKind<Workload>(manifests(file), 'Job')]) {
        const pod = w.spec.template.spec;
        const where = `${w.kind} ${w.metadata.name}`;
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp`);
        for (const c of pod.containers) {
          const sc = c.securityContext ?? {};
          const uid = sc.runAsUser ?? pod.securityContext?.runAsUser;
          assert.ok(typeof uid === 'number' && uid > 0, `${where}/${c.name}: runs as uid ${String(uid)}`);
          assert.notEqual(sc.runAsNonRoot, false, `${where}/${c.name}: runAsNonRoot`);
          assert.equal(sc.allowPrivilegeEscalation, false, `${where}/${c.name}: allowPrivilegeEscalation`);
          assert.equal(sc.readOnlyRootFilesystem, true, `${where}/${c.name}: readOnlyRootFilesystem`);
          assert.notEqual(sc.privileged, true, `${where}/${c.name}: privileged`);
          assert.ok(sc.capabilities?.drop?.includes('ALL'), `${where}/${c.name}: drops ALL capabilities`);
        }
      }
    });

    test('terminationGracePeriodSeconds is longer than CDCV_SHUTDOWN_TIMEOUT_MS', () => {
      const docs = manifests(file);
      for (const w of [...ofKind<Workload>(docs, 'Deployment'), ...ofKind<Workload>(docs, 'Job')]) {
        const pod = w.spec.template.spec;
        for (const c of pod.containers) {
          const timeoutMs = loadEnv(configOf(docs, c)).CDCV_SHUTDOWN_TIMEOUT_MS;
          assert.ok((pod.terminationGracePeriodSeconds ?? 30) * 1000 > timeoutMs, `${w.kind} ${w.metadata.name}: grace ${pod.terminationGracePeriodSeconds}s ≤ shutdown timeout ${timeoutMs} ms`);
        }
      }
    });

    test('one Deployment, ConfigMap, Service and PodDisruptionBudget per topology; replicas ≤ partitions', () => {
      const docs = manifests(file);
      const values = effectiveValues(file);
      const topologies = values.topologies as Topology[];
      const autoscaling = values.autoscaling as Obj;
      for (const kind of ['Deployment', 'ConfigMap', 'Service', 'PodDisruptionBudget']) {
        assert.deepEqual(ofKind(docs, kind).filter((m) => !isLake(m)).map(component).filter((c) => c !== '').sort(), topologies.map((t) => t.name).sort(), `${kind} per topology`);
      }
      for (const d of ofKind<Workload>(docs, 'Deployment').filter((m) => !isLake(m))) {
        const t = topologies.find((x) => x.name === component(d));
        assert.ok(t);
        const c = d.spec.template.spec.containers[0];
        assert.ok(c);
        const env = configOf(docs, c);
        assert.equal(env.CDCV_APPLICATION_ID, t.applicationId ?? `${t.name}-v1`, 'a topology runs as version v1 unless told otherwise');
        const scaled = ofKind<Manifest & { spec: { maxReplicaCount: number; minReplicaCount: number; triggers: { type: string; metadata: Record<string, string> }[] } }>(docs, 'ScaledObject').find((s) => component(s) === t.name);
        if ({ ...autoscaling, ...t.autoscaling }.enabled === true) {
          assert.ok(scaled, `ScaledObject for ${t.name}`);
          assert.equal(d.spec.replicas, undefined, 'replicas are left to KEDA');
          assert.ok(scaled.spec.maxReplicaCount <= t.partitions, `${t.name}: maxReplicaCount ${scaled.spec.maxReplicaCount} > partitions ${t.partitions}`);
          const trigger = scaled.spec.triggers[0];
          assert.equal(trigger?.type, 'kafka');
          assert.equal(trigger.metadata.consumerGroup, env.CDCV_APPLICATION_ID, 'scales on the lag of the application\'s consumer group');
          assert.equal(trigger.metadata.bootstrapServers, env.CDCV_KAFKA_BROKERS);
        } else {
          assert.equal(scaled, undefined);
          assert.ok((d.spec.replicas ?? 1) <= t.partitions, `${t.name}: replicas ${d.spec.replicas} > partitions ${t.partitions}`);
        }
      }
    });
  });
}

test('multi-topology: credentials come from Secret references, never from values; ServiceMonitor scrapes /metrics', () => {
  const docs = manifests(GOOD[1] ?? '');
  for (const d of ofKind<Workload>(docs, 'Deployment')) {
    const env = d.spec.template.spec.containers[0]?.env ?? [];
    assert.deepEqual(env.map((e) => [e.name, e.valueFrom?.secretKeyRef?.name]).sort(), [['CDCV_OPENSEARCH_URL', 'cdc-views-opensearch'], ['CDCV_REDIS_URL', 'cdc-views-redis']]);
    assert.ok(env.every((e) => e.value === undefined), 'no literal values next to Secret references');
  }
  assert.equal(ofKind(docs, 'Secret').length, 0, 'the chart creates no Secret');
  const [sm] = ofKind<Manifest & { spec: { endpoints: { port: string; path: string }[] } }>(docs, 'ServiceMonitor');
  assert.deepEqual(sm?.spec.endpoints.map((e) => [e.port, e.path]), [['http', '/metrics']]);
});

test('replay job values: rewind, replay and promote Jobs run the documented commands with the topology\'s configuration', () => {
  const docs = manifests(GOOD[3] ?? '');
  const jobs = new Map(ofKind<Workload>(docs, 'Job').map((j) => [j.spec.template.spec.containers[0]?.name, j.spec.template.spec.containers[0]]));
  assert.deepEqual(jobs.get('replay')?.args, ['replay', 'dist/topologies/customer-cache.js', '--version', 'v2', '--from', 'clone', '--topics', '^shop\\.public\\.', '--clone-app', 'customer-cache-v1', '--until-caught-up']);
  assert.deepEqual(jobs.get('promote')?.args, ['promote', 'customer-cache', '--version', 'v2']);
  const migration = ofKind<Workload>(manifests(GOOD[4] ?? ''), 'Job').map((j) => j.spec.template.spec.containers[0]?.args);
  assert.deepEqual(migration, [['promote', 'customer-cache', '--version', 'v1', '--replace-index']], 'jobs.promote.replaceIndex adds --replace-index');
  assert.deepEqual(jobs.get('rewind')?.args, ['rewind', '--app', 'customer-cache-v1', '--to-datetime', '2025-06-01T00:00:00Z', '--topology', 'dist/topologies/customer-cache.js', '--execute']);
  for (const c of jobs.values()) {
    assert.ok(c);
    assert.equal(configOf(docs, c).CDCV_APPLICATION_ID, 'customer-cache-v1');
  }
  assert.equal(ofKind(manifests(''), 'Job').length, 0, 'no Job unless enabled');
});

describe('bad values fail at install time', () => {
  for (const file of BAD) {
    test(label(file), () => {
      const r = templates.get(file);
      const expected = /^# expect: (.+)$/m.exec(readFileSync(file, 'utf8'))?.[1];
      assert.ok(expected, `${label(file)} starts with "# expect: <part of Helm's error>"`);
      assert.equal(r?.manifests, undefined, `helm template accepted ${label(file)}`);
      assert.ok(r?.error?.includes(expected), `helm's error for ${label(file)} should include ${JSON.stringify(expected)}, got: ${r?.error}`);
    });
  }
});

test('values.schema.json: every setting name it accepts is a cdc-views setting, and every setting is accepted or set by the chart; credentials only from Secrets', () => {
  type Names = { enum: string[] };
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as { definitions: { settingName: Names; secretSettingName: Names; fileSettingName: Names } };
  const { settingName, secretSettingName, fileSettingName } = schema.definitions;
  for (const name of [...settingName.enum, ...secretSettingName.enum, ...fileSettingName.enum]) assert.ok(ENV_KEYS.includes(name), `${name} is not a setting of src/config.ts`);
  assert.deepEqual([...settingName.enum, ...secretSettingName.enum, ...CHART_SET].sort(), [...ENV_KEYS].sort(), 'a new setting in src/config.ts must be added to values.schema.json (settingName, or secretSettingName for a credential) or set by the chart');
  assert.deepEqual([...secretSettingName.enum].sort(), [...SECRET_KEYS].sort(), 'secretSettingName lists exactly the credential settings (secret: true), which config (a ConfigMap) must not accept');
  assert.deepEqual([...fileSettingName.enum].sort(), ENV_KEYS.filter((e) => e.endsWith('_FILE')).sort(), 'fileSettingName (credentials.files) lists every *_FILE setting, so each can be wired to the Secret');
});

test('values.schema.json is valid JSON Schema (Ajv, strict) and accepts the chart\'s defaults and the example values', () => {
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Obj;
  const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  for (const file of GOOD) {
    assert.ok(validate(effectiveValues(file)), `${label(file)}: ${ajv.errorsText(validate.errors)}`);
  }
});

test('Chart appVersion is the package version (the default image tag)', () => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(chart.appVersion, pkg.version);
});
