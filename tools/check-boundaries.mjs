// Enforces the dependency direction of STYLE.md: services -> libs -> libs/proto, using the Nx tags
// in each project.json (type:service, type:lib, type:proto). @nx/eslint-plugin's
// enforce-module-boundaries does not exist at the pinned Nx version (23.3.1), so this is the check.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const allowed = {
  'type:service': new Set(['type:lib', 'type:proto']),
  'type:lib': new Set(['type:lib', 'type:proto']),
  'type:proto': new Set([]),
};
const projects = new Map();
for (const kind of ['libs', 'services']) {
  for (const name of readdirSync(kind)) {
    const dir = join(kind, name);
    if (!existsSync(join(dir, 'project.json'))) continue;
    const project = JSON.parse(readFileSync(join(dir, 'project.json'), 'utf8'));
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const tag = project.tags.find((t) => t.startsWith('type:'));
    projects.set(pkg.name, {
      dir,
      tag,
      deps: new Set(Object.keys(pkg.dependencies ?? {})),
      devDeps: new Set(Object.keys(pkg.devDependencies ?? {})),
    });
  }
}
const files = (dir) =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'gen' ? [] : files(p);
    return p.endsWith('.ts') ? [p] : [];
  });
const errors = [];
for (const [name, { dir, tag, deps, devDeps }] of projects) {
  for (const file of files(join(dir, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const [, target] of text.matchAll(/from\s+['"](@cdn-sched\/[a-z0-9-]+)['"]/g)) {
      const other = projects.get(target);
      if (!other) errors.push(`${file}: imports unknown project ${target}`);
      else if (target === name) errors.push(`${file}: imports its own package ${target}`);
      else if (!allowed[tag].has(other.tag)) errors.push(`${file}: ${tag} ${name} may not import ${other.tag} ${target}`);
      else if (!deps.has(target)) {
        // Tests and benchmarks may use devDependencies (libs/testing); shipped code may not.
        const devOnly = file.endsWith('.spec.ts') || file.includes('/bench/');
        if (!devOnly || !devDeps.has(target)) errors.push(`${file}: imports ${target}, missing from ${dir}/package.json ${devOnly ? 'devDependencies' : 'dependencies'}`);
      }
    }
  }
}
if (errors.length) {
  console.error(errors.join('\n'));
  process.exit(1);
}
console.log(`module boundaries ok (${projects.size} projects)`);
