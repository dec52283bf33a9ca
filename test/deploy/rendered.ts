/**
 * Reading what the chart rendered, for the deploy tests: manifests parsed
 * from `helm template` output, looked up by kind and topology, and the values
 * a render used (values.yaml overlaid with a values file as Helm merges them).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { CHART, type Rendered } from './helm.ts';
import type { Manifest } from './k8s-schemas.ts';

export type Obj = Record<string, unknown>;

/** A container of a rendered pod template (the fields the tests read). */
export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Obj & { httpGet?: { path: string; port: number | string } };
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  securityContext?: Obj & { capabilities?: { drop?: string[] }; seccompProfile?: { type: string } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

/** A rendered pod spec (the fields the tests read). */
export interface PodSpec {
  containers: Container[];
  securityContext?: Obj & { seccompProfile?: { type: string } };
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
  priorityClassName?: string;
  volumes?: (Obj & { name: string; configMap?: { name: string } })[];
  topologySpreadConstraints?: (Obj & { labelSelector?: { matchLabels?: Record<string, string> } })[];
}

/** A Deployment or Job. */
export interface Workload extends Manifest {
  spec: { replicas?: number; template: { metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> }; spec: PodSpec } };
}

/** A bare Pod (the `helm test` hook). */
export interface PodManifest extends Manifest {
  spec: PodSpec;
}

/** A ConfigMap. */
export type ConfigMapManifest = Manifest & { data: Record<string, string> };

/** The manifests of a render. @throws AssertionError when Helm failed or rendered nothing */
export function parseRendered(r: Rendered | undefined, what: string): Manifest[] {
  assert.equal(r?.error, undefined, `helm template with ${what} failed: ${r?.error}`);
  const docs = parseAllDocuments(r?.manifests ?? '')
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
  assert.ok(docs.length > 0, `nothing rendered for ${what}`);
  return docs;
}

/** The manifests of one kind. */
export const ofKind = <T extends Manifest = Manifest>(docs: Manifest[], kind: string): T[] => docs.filter((m) => m.kind === kind) as T[];

/** The one manifest of `kind` named `name`. @throws AssertionError when absent */
export function named<T extends Manifest = Manifest>(docs: Manifest[], kind: string, name: string): T {
  const found = docs.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(found, `${kind} ${name} is rendered (rendered: ${ofKind(docs, kind).map((m) => m.metadata.name).join(', ') || 'none'})`);
  return found as T;
}

/** The topology (app.kubernetes.io/component) a manifest belongs to; '' for the chart-wide ones. */
export const component = (m: Manifest): string => ((m.metadata.labels ?? {}) as Record<string, string>)['app.kubernetes.io/component'] ?? '';

/** The ConfigMap data a workload's container takes its environment from. */
export function configOf(docs: Manifest[], c: Container): Record<string, string> {
  const name = c.envFrom?.find((e) => e.configMapRef)?.configMapRef?.name;
  const cm = ofKind<ConfigMapManifest>(docs, 'ConfigMap').find((m) => m.metadata.name === name);
  assert.ok(cm, `container ${c.name} takes its environment from ConfigMap ${name}, which is not rendered`);
  return cm.data;
}

/** values.yaml overlaid with a values file the way Helm merges them (maps deep, lists replaced). */
export function effectiveValues(file: string): Obj {
  const merge = (a: Obj, b: Obj): Obj => {
    const out: Obj = { ...a };
    for (const [k, v] of Object.entries(b)) {
      const cur = out[k];
      out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? merge(cur as Obj, v as Obj) : v;
    }
    return out;
  };
  const defaults = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;
  return file === '' ? defaults : merge(defaults, (parse(readFileSync(file, 'utf8')) ?? {}) as Obj);
}
