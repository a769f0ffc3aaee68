import { defineConfig, mergeConfig } from 'vitest/config';
import { defineProjectConfig } from '../vitest.shared.js';

// Manifests, alert rules and the image tree: kubectl, promtool and real service processes.
export default mergeConfig(
  defineProjectConfig(import.meta.dirname),
  defineConfig({ test: { include: ['test/**/*.spec.ts', 'image/**/*.spec.ts'], testTimeout: 120_000, hookTimeout: 600_000 } }),
);
