// Keeps each project's tsconfig.lib.json `references` equal to its @cdn-sched/* dependencies, so
// the TypeScript project graph and the npm/Nx graph cannot drift apart.
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const check = process.argv.includes('--check');
let drift = 0;
for (const kind of ['libs', 'services']) {
  for (const name of readdirSync(kind)) {
    const dir = join(kind, name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const tsPath = join(dir, 'tsconfig.lib.json');
    const ts = JSON.parse(readFileSync(tsPath, 'utf8'));
    const refs = [...new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})])]
      .filter((d) => d.startsWith('@cdn-sched/'))
      .sort()
      .map((d) => ({ path: `../../libs/${d.slice('@cdn-sched/'.length)}/tsconfig.lib.json` }));
    if (JSON.stringify(refs) !== JSON.stringify(ts.references ?? [])) {
      drift++;
      if (check) console.error(`${tsPath}: references differ from package.json dependencies`);
      ts.references = refs;
      if (!check) writeFileSync(tsPath, JSON.stringify(ts, null, 2) + '\n');
    }
  }
}
if (check && drift) process.exit(1);
