// One-off helper that writes the boilerplate of a workspace project (package.json, project.json,
// tsconfigs, vitest config). Usage: node tools/scaffold.mjs <libs|services> <name> <type-tag> [dep...]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [kind, name, tag, ...deps] = process.argv.slice(2);
if (!kind || !name || !tag) throw new Error('usage: scaffold <libs|services> <name> <tag> [deps]');
const root = join(kind, name);
mkdirSync(join(root, 'src'), { recursive: true });
const write = (file, content) => {
  const path = join(root, file);
  if (!existsSync(path)) writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n');
};
const internal = deps.filter((d) => !d.startsWith('@') || d.startsWith('@cdn-sched/'));
write('package.json', {
  name: `@cdn-sched/${name}`,
  version: '0.1.0',
  private: true,
  type: 'module',
  exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
  dependencies: Object.fromEntries(internal.map((d) => [d.startsWith('@') ? d : `@cdn-sched/${d}`, '*'])),
});
write('project.json', {
  name,
  $schema: '../../node_modules/nx/schemas/project-schema.json',
  sourceRoot: `${root}/src`,
  projectType: kind === 'libs' ? 'library' : 'application',
  tags: [tag],
  targets: {
    build: { command: 'tsc -b tsconfig.lib.json', options: { cwd: '{projectRoot}' } },
    typecheck: { command: 'tsc -p tsconfig.spec.json --noEmit', options: { cwd: '{projectRoot}' } },
    lint: { command: 'eslint src', options: { cwd: '{projectRoot}' } },
    // Unit tests run in parallel with other projects' targets; integration tests one project at a time.
    test: { command: 'vitest run --exclude "**/*.int.spec.ts" --passWithNoTests', options: { cwd: '{projectRoot}' } },
    'test-int': { command: 'vitest run .int.spec.ts --passWithNoTests', options: { cwd: '{projectRoot}' } },
  },
});
const refs = internal.map((d) => ({ path: `../../libs/${d.replace('@cdn-sched/', '')}/tsconfig.lib.json` }));
write('tsconfig.lib.json', {
  extends: '../../tsconfig.base.json',
  compilerOptions: { composite: true, rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/tsconfig.lib.tsbuildinfo' },
  include: ['src/**/*.ts'],
  exclude: ['src/**/*.spec.ts'],
  references: refs,
});
write('tsconfig.spec.json', {
  extends: '../../tsconfig.base.json',
  compilerOptions: { noEmit: true },
  include: ['src/**/*.ts', 'vitest.config.ts'],
});
write('vitest.config.ts', `import { defineProjectConfig } from '../../vitest.shared.js';\n\nexport default defineProjectConfig(import.meta.dirname);\n`);
console.log(`scaffolded ${root}`);
