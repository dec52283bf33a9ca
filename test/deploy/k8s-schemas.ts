/**
 * Validates rendered manifests against the Kubernetes API schemas, as
 * published by `kubernetes-models` (generated from the Kubernetes OpenAPI
 * spec, compiled to Ajv validators) and its CRD companions for KEDA and the
 * Prometheus Operator.
 *
 * Limit: the upstream OpenAPI schemas do not forbid unknown fields, so a
 * misspelt optional field is not caught here (the tests assert the fields
 * that matter by name instead).
 */
import { ConfigMap, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Pod': Pod,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** A manifest as parsed from YAML. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  [k: string]: unknown;
}

/**
 * @throws Error naming the object and the schema violation, or saying that no
 *   schema is known for its apiVersion/kind (add it to MODELS).
 */
export function validateManifest(m: Manifest): void {
  const key = `${m.apiVersion}/${m.kind}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`${key} ${m.metadata?.name}: no Kubernetes schema known for this kind; add its model to test/deploy/k8s-schemas.ts`);
  try {
    new Model(m as never).validate();
  } catch (err) {
    throw new Error(`${key} ${m.metadata.name}: ${(err as Error).message}`, { cause: err });
  }
}
