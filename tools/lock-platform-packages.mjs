// Restores package-lock.json entries for platform-specific optional packages (buf, nx, rollup
// binaries for other operating systems and CPUs) that the registry this workplace reaches does not
// serve. `npm install` silently leaves such 404s out of the lock, and `npm ci` then refuses the lock
// as out of sync ("Missing: @nx/nx-darwin-arm64@ from lock file"). Each restored entry carries the
// os/cpu/libc it is for (read from its name), so npm ci skips it on this platform and never fetches
// it. Run after `npm install`; `--check` only reports.
import { readFileSync, writeFileSync } from 'node:fs';

const check = process.argv.includes('--check');
const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'freebsd', 'openbsd', 'android', 'openharmony', 'sunos', 'aix', 'netbsd'];
const CPU = { arm64: 'arm64', aarch64: 'arm64', x64: 'x64', ia32: 'ia32', arm: 'arm', armv7: 'arm', 'arm-eabi': 'arm', loong64: 'loong64', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x' };

function platformOf(name) {
  const base = name.split('/').pop();
  const tokens = base.split('-');
  const os = tokens.find((t) => OS.includes(t));
  let cpu;
  for (let i = 0; i < tokens.length; i++) {
    const two = `${tokens[i]}-${tokens[i + 1]}`;
    if (CPU[two]) cpu = CPU[two];
    else if (CPU[tokens[i]] && !cpu) cpu = CPU[tokens[i]];
  }
  if (!os || !cpu) return undefined;
  const libc = tokens.some((t) => t.startsWith('musl')) ? ['musl'] : os === 'linux' && tokens.some((t) => t.startsWith('gnu')) ? ['glibc'] : undefined;
  return { os: [os], cpu: [cpu], ...(libc ? { libc } : {}) };
}

const added = [];
const problems = [];
for (const [path, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const dir = path === '' ? '' : `${path}/`;
    const candidates = [`${dir}node_modules/${dep}`, `node_modules/${dep}`];
    if (candidates.some((c) => packages[c])) continue;
    const platform = platformOf(dep);
    if (!platform) {
      problems.push(`${dep}@${version} (optional dependency of ${path || 'the root'}) is missing and is not a platform package`);
      continue;
    }
    added.push(`${dep}@${version}`);
    if (!check) packages[`node_modules/${dep}`] = { version, ...(entry.dev ? { dev: true } : {}), optional: true, ...platform };
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
if (check) {
  if (added.length) {
    console.error(`package-lock.json lacks ${added.length} platform packages: run node tools/lock-platform-packages.mjs`);
    process.exit(1);
  }
} else if (added.length) {
  writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
  console.log(`restored ${added.length} platform package entries in package-lock.json`);
}
