import { resolve } from 'node:path';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

const workspaceRoot = import.meta.dirname;

/**
 * One vitest configuration for every project. Workspace libraries resolve to their TypeScript
 * sources, so a test never runs against a stale `dist/`.
 */
export function defineProjectConfig(projectRoot: string): ViteUserConfig {
  return defineConfig({
    root: projectRoot,
    resolve: {
      alias: [
        { find: /^@cdn-sched\/([a-z0-9-]+)$/, replacement: resolve(workspaceRoot, 'libs/$1/src/index.ts') },
      ],
    },
    test: {
      include: ['src/**/*.spec.ts', 'test/**/*.spec.ts'],
      testTimeout: 120_000,
      // Integration suites start etcd and service processes in beforeAll: a loaded 2-core machine can
      // take minutes (a deadline, not a delay: passing runs are not slower).
      hookTimeout: 180_000,
      pool: 'forks',
      fileParallelism: false,
      reporters: ['default'],
    },
  });
}
