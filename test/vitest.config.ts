import { defineConfig, mergeConfig } from 'vitest/config';
import { defineProjectConfig } from '../vitest.shared.js';

// End-to-end and chaos tests start every service as a process: longer timeouts (a mesh start on a
// loaded 2-core machine can take a minute), one file at a time.
export default mergeConfig(
  defineProjectConfig(import.meta.dirname),
  defineConfig({ test: { include: ['e2e/**/*.spec.ts', 'chaos/**/*.spec.ts'], testTimeout: 240_000, hookTimeout: 300_000 } }),
);
