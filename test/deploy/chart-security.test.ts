/**
 * The chart's security options (issue #15), rendered by the real Helm engine
 * (helm-java) and validated against the Kubernetes and KEDA schemas:
 * `enableServiceLinks: false` on every pod (and why: a Service named like
 * `cdcv…` would give the pods CDCV_* variables cdc-views refuses), the
 * credentials Secret mounted and wired to the *_FILE settings, /stores and
 * the bind address, the NetworkPolicy, and KEDA's TriggerAuthentication on
 * the same Secret.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { loadEnv } from '../../src/config.ts';
import { HOOK_ANNOTATION, ROOT, helmTemplate, type Rendered, type TemplateRequest } from './helm.ts';
import { validateManifest, type Manifest } from './k8s-schemas.ts';
import { component, configOf, named, ofKind, parseRendered, type ConfigMapManifest, type Obj, type PodManifest, type PodSpec, type Workload } from './rendered.ts';

const SECURITY = join(ROOT, 'test/deploy/values/security.yaml');
const REQUESTS = {
  defaults: {},
  defaultHooks: { hooks: true },
  security: { values: SECURITY },
  securityHooks: { values: SECURITY, hooks: true },
  jobs: { values: join(ROOT, 'test/deploy/values/replay-job.yaml') },
  policyNoEgress: { set: { 'networkPolicy.enabled': 'true', 'networkPolicy.ingressNamespaces[0]': 'monitoring' } },
  kedaPlain: { set: { 'autoscaling.enabled': 'true' } },
  notesDefaults: { notes: true },
  notesSecurity: { values: SECURITY, notes: true },
} satisfies Record<string, TemplateRequest>;
type RequestName = keyof typeof REQUESTS;
const results = new Map<RequestName, Rendered>();

before(() => {
  const names = Object.keys(REQUESTS) as RequestName[];
  helmTemplate(names.map((n) => REQUESTS[n])).forEach((r, i) => results.set(names[i]!, r));
});

const docs = (name: RequestName): Manifest[] => parseRendered(results.get(name), name);
/** Every pod spec of a render: Deployments, Jobs and (with hooks) the test pods. */
function pods(name: RequestName): { where: string; spec: PodSpec }[] {
  const all = docs(name);
  return [
    ...[...ofKind<Workload>(all, 'Deployment'), ...ofKind<Workload>(all, 'Job')].map((w) => ({ where: `${w.kind} ${w.metadata.name}`, spec: w.spec.template.spec })),
    ...ofKind<PodManifest>(all, 'Pod').map((p) => ({ where: `Pod ${p.metadata.name}`, spec: p.spec })),
  ];
}

/**
 * The variables the kubelet gives a container for a Service of its namespace
 * when service links are on (Docker-links style, pkg/kubelet/envvars in Kubernetes).
 */
function serviceLinkEnv(service: string, ports: { name?: string; port: number; protocol?: string }[]): Record<string, string> {
  const base = service.toUpperCase().replaceAll('-', '_');
  const env: Record<string, string> = { [`${base}_SERVICE_HOST`]: '10.0.0.1', [`${base}_SERVICE_PORT`]: String(ports[0]?.port) };
  for (const p of ports) {
    const proto = (p.protocol ?? 'TCP').toUpperCase();
    if (p.name) env[`${base}_SERVICE_PORT_${p.name.toUpperCase().replaceAll('-', '_')}`] = String(p.port);
    const prefix = `${base}_PORT_${p.port}_${proto}`;
    Object.assign(env, { [prefix]: `${proto.toLowerCase()}://10.0.0.1:${p.port}`, [`${prefix}_PROTO`]: proto.toLowerCase(), [`${prefix}_PORT`]: String(p.port), [`${prefix}_ADDR`]: '10.0.0.1' });
  }
  env[`${base}_PORT`] = `${(ports[0]?.protocol ?? 'TCP').toLowerCase()}://10.0.0.1:${ports[0]?.port}`;
  return env;
}

describe('service links', () => {
  test('every pod (Deployments, Jobs, helm test pods) has enableServiceLinks: false', () => {
    for (const name of ['defaultHooks', 'securityHooks', 'jobs'] as const) {
      const all = pods(name);
      assert.ok(all.length >= 2, name);
      for (const p of all) assert.equal(p.spec.enableServiceLinks, false, `${name}: ${p.where}`);
    }
  });

  test('why: this chart\'s own Services in release "cdcv" would inject CDCV_* variables that stop start-up; with links off the pods get only the ConfigMap', () => {
    const all = docs('defaults');
    const services = ofKind<Manifest & { spec: { ports: { name?: string; port: number; protocol?: string }[] } }>(all, 'Service');
    assert.ok(services.length > 0);
    const deployment = ofKind<Workload>(all, 'Deployment')[0];
    assert.ok(deployment);
    const env = configOf(all, deployment.spec.template.spec.containers[0]!);
    assert.doesNotThrow(() => loadEnv(env), 'the ConfigMap alone is accepted');
    for (const s of services) {
      const links = serviceLinkEnv(s.metadata.name, s.spec.ports);
      assert.ok(Object.keys(links).every((k) => k.startsWith('CDCV_')), `Service ${s.metadata.name} yields CDCV_* link variables: ${Object.keys(links).join(', ')}`);
      assert.throws(() => loadEnv({ ...env, ...links }), /unknown setting/, 'cdc-views refuses them: with service links on, every pod would fail to start');
    }
    // A Service named exactly `cdcv` (e.g. another team's) would do the same.
    assert.throws(() => loadEnv({ ...env, ...serviceLinkEnv('cdcv', [{ port: 80 }]) }), /CDCV_SERVICE_HOST: unknown setting/);
    assert.equal(deployment.spec.template.spec.enableServiceLinks, false);
  });
});

describe('credentials, /stores and the bind address', () => {
  test('the Secret is mounted read-only at /etc/cdc-views/secrets in every Deployment and Job, each *_FILE setting pointing at its key', () => {
    const workloads = [...ofKind<Workload>(docs('security'), 'Deployment'), ...ofKind<Workload>(docs('security'), 'Job')];
    assert.ok(workloads.some((w) => w.kind === 'Job'), 'the rewind Job is rendered');
    for (const w of workloads) {
      const spec = w.spec.template.spec;
      const volume = spec.volumes?.find((v) => v.name === 'credentials') as (Obj & { secret?: { secretName: string; defaultMode: number } }) | undefined;
      assert.deepEqual(volume?.secret, { secretName: 'cdc-views-credentials', defaultMode: 0o440 }, `${w.metadata.name}: the Secret volume`);
      const c = spec.containers[0]!;
      assert.deepEqual(c.volumeMounts?.find((m) => m.name === 'credentials'), { name: 'credentials', mountPath: '/etc/cdc-views/secrets', readOnly: true });
      assert.deepEqual(c.env?.find((e) => e.name === 'CDCV_STORES_TOKEN_FILE'), { name: 'CDCV_STORES_TOKEN_FILE', value: '/etc/cdc-views/secrets/stores-token' });
      const env = { ...configOf(docs('security'), c), ...Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? ''])) };
      const cfg = loadEnv(env);
      assert.equal(cfg.CDCV_STORES_ENABLED, true);
      assert.equal(cfg.CDCV_HTTP_HOST, '0.0.0.0');
    }
  });

  test('defaults: /stores off, no credentials volume, every interface bound (probes and Prometheus reach the pod)', () => {
    const all = docs('defaults');
    for (const cm of ofKind<ConfigMapManifest>(all, 'ConfigMap').filter((m) => component(m) !== '')) {
      assert.equal(cm.data.CDCV_STORES_ENABLED, 'false');
      assert.equal(cm.data.CDCV_HTTP_HOST, '0.0.0.0');
    }
    for (const p of pods('defaults')) assert.equal(p.spec.volumes?.some((v) => v.name === 'credentials'), false, p.where);
    assert.equal(ofKind(all, 'NetworkPolicy').length, 0);
    assert.equal(ofKind(all, 'TriggerAuthentication').length, 0);
  });
});

describe('NetworkPolicy', () => {
  type Peer = { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: { matchLabels?: Record<string, string> } };
  type Policy = Manifest & { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { ports: { port: number; protocol: string }[]; from: Peer[] }[]; egress?: unknown[] } };
  const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

  test('selects every pod of the release; ingress only to the HTTP port, from the named namespaces, peers and the helm test pods; egress as given', () => {
    const all = docs('securityHooks');
    const [policy, ...more] = ofKind<Policy>(all, 'NetworkPolicy');
    assert.ok(policy && more.length === 0, 'one NetworkPolicy per release');
    validateManifest(policy);
    for (const w of [...ofKind<Workload>(all, 'Deployment'), ...ofKind<Workload>(all, 'Job')]) {
      assert.ok(matches(policy.spec.podSelector.matchLabels, w.spec.template.metadata?.labels), `${w.metadata.name} is selected`);
    }
    assert.deepEqual(policy.spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(policy.spec.ingress.length, 1);
    const [rule] = policy.spec.ingress;
    assert.deepEqual(rule?.ports, [{ port: 9464, protocol: 'TCP' }], 'the HTTP port only');
    assert.ok(rule?.from.some((p) => p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring' && !p.podSelector));
    assert.ok(rule?.from.some((p) => p.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'orders-api'));
    const testPods = ofKind<PodManifest>(all, 'Pod').filter((p) => (p.metadata.annotations as Record<string, string>)[HOOK_ANNOTATION] === 'test');
    assert.ok(testPods.length > 0);
    for (const p of testPods) {
      assert.ok(rule?.from.some((peer) => !peer.namespaceSelector && peer.podSelector?.matchLabels && matches(peer.podSelector.matchLabels, p.metadata.labels as Record<string, string>)), `helm test pod ${p.metadata.name} is admitted`);
    }
    assert.equal(rule?.from.length, 3, 'no other peer');
    assert.deepEqual(policy.spec.egress, [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kafka' } } }], ports: [{ port: 9093, protocol: 'TCP' }] }]);
  });

  test('without egress rules egress is left open (policyTypes Ingress only)', () => {
    const [policy] = ofKind<Policy>(docs('policyNoEgress'), 'NetworkPolicy');
    assert.ok(policy);
    validateManifest(policy);
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    assert.equal(policy.spec.egress, undefined);
  });
});

describe('KEDA on a secured Kafka', () => {
  type Scaled = Manifest & { spec: { triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[] } };
  type TriggerAuth = Manifest & { spec: { secretTargetRef: { parameter: string; name: string; key: string }[] } };

  test('a TriggerAuthentication per topology on the pods\' Secret (or autoscaling.kafka.authSecret), referenced by the trigger; sasl and tls in its metadata', () => {
    const all = docs('security');
    for (const [topology, secret] of [['customer-cache', 'cdc-views-credentials'], ['orders-search', 'keda-kafka']] as const) {
      const name = `cdcv-cdc-views-${topology}`;
      const auth = named<TriggerAuth>(all, 'TriggerAuthentication', name);
      validateManifest(auth);
      assert.deepEqual(
        auth.spec.secretTargetRef.map((r) => [r.parameter, r.name, r.key]),
        [['ca', secret, 'kafka-ca.pem'], ['password', secret, 'kafka-sasl-password'], ['username', secret, 'kafka-sasl-username']],
      );
      const [trigger] = named<Scaled>(all, 'ScaledObject', name).spec.triggers;
      assert.equal(trigger?.authenticationRef?.name, name);
      assert.equal(trigger?.metadata.sasl, 'scram_sha512');
      assert.equal(trigger?.metadata.tls, 'enable');
      assert.equal(trigger?.metadata.bootstrapServers, 'kafka-0.kafka:9093,kafka-1.kafka:9093');
    }
  });

  test('without secretKeys: no TriggerAuthentication, no authenticationRef, no sasl/tls (a plaintext Kafka)', () => {
    const all = docs('kedaPlain');
    assert.equal(ofKind(all, 'TriggerAuthentication').length, 0);
    for (const s of ofKind<Scaled>(all, 'ScaledObject')) {
      const [trigger] = s.spec.triggers;
      assert.equal(trigger?.authenticationRef, undefined);
      assert.equal(trigger?.metadata.sasl, undefined);
      assert.equal(trigger?.metadata.tls, undefined);
    }
  });
});

test('NOTES.txt: /stores off by default; with the security values, the bearer-token query and the NetworkPolicy', () => {
  const plain = results.get('notesDefaults')?.notes ?? `(error) ${results.get('notesDefaults')?.error}`;
  assert.match(plain, /Interactive queries \(\/stores\) are off; see stores\.enabled/);
  assert.doesNotMatch(plain, /NetworkPolicy/);
  const secured = results.get('notesSecurity')?.notes ?? `(error) ${results.get('notesSecurity')?.error}`;
  assert.match(secured, /-H "Authorization: Bearer \$\(cat <the stores token file>\)" localhost:9464\/stores\//);
  assert.match(secured, /NetworkPolicy cdcv-cdc-views: only namespaces monitoring, the peers of networkPolicy\.ingressFrom and helm test reach port 9464/);
});
