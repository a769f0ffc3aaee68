import type { K8sObject } from './render.js';

type ModelClass = new (data: unknown) => { validate(): void };

// Where the schema of each API group lives: Kubernetes' own groups in `kubernetes-models`, the
// Prometheus operator's and cert-manager's CRDs in their @kubernetes-models packages.
const MODULES: Readonly<Record<string, string>> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'autoscaling/v2': 'kubernetes-models/autoscaling/v2',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
  'cert-manager.io/v1': '@kubernetes-models/cert-manager/cert-manager.io/v1',
};

/**
 * Validates `object` against the JSON schema of its apiVersion and kind; returns the problems
 * (empty when valid). An apiVersion or kind without a schema here is a problem too: nothing
 * ships unvalidated.
 */
export async function schemaProblems(object: K8sObject): Promise<string[]> {
  const where = `${object.kind}/${object.metadata?.name}`;
  const module = MODULES[object.apiVersion];
  if (!module) return [`${where}: no schema for apiVersion ${object.apiVersion}`];
  const models = (await import(module)) as Record<string, ModelClass | undefined>;
  const Model = models[object.kind];
  if (!Model) return [`${where}: no schema for kind ${object.kind} in ${object.apiVersion}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${where}: ${error instanceof Error ? error.message : String(error)}`];
  }
}
