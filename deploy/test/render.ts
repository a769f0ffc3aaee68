import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** deploy/ (this file is deploy/test/render.ts). */
export const deployRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = join(deployRoot, '..');

/** A rendered Kubernetes object, as plain data. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Renders an overlay with `kubectl kustomize` (kubectl ships kustomize) into plain objects. */
export function renderOverlay(overlay: string): K8sObject[] {
  const dir = join(deployRoot, 'k8s', 'overlays', overlay);
  const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.error) throw new Error(`kubectl is needed to render ${dir} (Debian: apt-get install kubectl): ${run.error.message}`);
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr}`);
  return parseAllDocuments(run.stdout).map((d) => {
    if (d.errors.length > 0) throw new Error(`rendered ${overlay} does not parse: ${d.errors[0]!.message}`);
    return d.toJSON() as K8sObject;
  });
}
