#!/usr/bin/env node
// Builds one project as it was at an earlier commit, into `<project>/dist-before`, so that a bench
// can be run from that build and from the current one in turn (this VM's speed moves by up to 1.5×
// between runs, more than most changes do: only alternating runs compare two builds).
//
//   node tools/build-previous.mjs <rev> <project-dir>      e.g. node tools/build-previous.mjs HEAD~1 services/resolver
//
// The project's sources are checked out at <rev>, built with `nx build` (its libraries stay as they
// are now: compare changes of one project at a time), copied to `<project>/dist-before`, and put
// back; then the current sources are built again. It refuses to run while the project has
// uncommitted changes, since those would be overwritten. `dist-before/` is ignored by git.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const [rev, projectDir] = process.argv.slice(2);
if (!rev || !projectDir) {
  console.error('usage: node tools/build-previous.mjs <rev> <project-dir>   (e.g. HEAD~1 services/resolver)');
  process.exit(2);
}
const root = resolve(import.meta.dirname, '..');
const dir = resolve(root, projectDir);
const projectFile = join(dir, 'project.json');
if (!existsSync(projectFile)) {
  console.error(`${projectDir}: no project.json there; give a project directory such as services/resolver`);
  process.exit(2);
}
const project = JSON.parse(readFileSync(projectFile, 'utf8')).name;
const src = join(projectDir, 'src');
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' });
const build = () => {
  // tsc -b skips a build whose inputs it has seen: start from an empty dist.
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  execFileSync('npx', ['nx', 'run', `${project}:build`, '--skip-nx-cache', '--outputStyle=static'], { cwd: root, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false' } });
};

if (git('status', '--porcelain', '--', src).trim() !== '') {
  console.error(`${src} has uncommitted changes; commit or stash them first (this checks out other sources there)`);
  process.exit(1);
}
const commit = git('rev-parse', '--short', rev).trim();
// Files added since <rev> are not part of its build: remove them (the checkout below brings them back).
for (const file of git('diff', '--name-only', '--diff-filter=A', rev, 'HEAD', '--', src).split('\n').filter(Boolean)) rmSync(join(root, file));
git('checkout', rev, '--', src);
try {
  build();
  const before = join(dir, 'dist-before');
  rmSync(before, { recursive: true, force: true });
  cpSync(join(dir, 'dist'), before, { recursive: true });
} finally {
  // Back to the current sources (also after a failed build), then their build.
  git('checkout', 'HEAD', '--', src);
  // Files that exist only at <rev> are left behind by the checkout: remove what HEAD does not track.
  git('clean', '-fdq', '--', src);
}
build();
console.log(`${projectDir}/dist-before: ${project} built at ${commit}; ${projectDir}/dist: HEAD. Run a bench from each in turn, e.g.`);
console.log(`  node ${projectDir}/dist-before/bench/<bench>.js   and   node ${projectDir}/dist/bench/<bench>.js`);
