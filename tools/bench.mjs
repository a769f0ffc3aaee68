// `npm run bench`: runs every benchmark (built files `dist/bench/*.bench.js` of each project), one
// process each, sequentially (the machine has 2 cores: running them together would measure the
// contention, not the code), collects their JSON lines and prints one table.
// Filter with `npm run bench -- <substring>`; results are also written to tools/bench-results.json.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const filter = process.argv[2] ?? '';
const files = [];
for (const kind of ['libs', 'services']) {
  for (const name of readdirSync(join(root, kind))) {
    const dir = join(root, kind, name, 'dist', 'bench');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.bench.js')) files.push(join(dir, f));
  }
}
const selected = files.filter((f) => relative(root, f).includes(filter));
if (selected.length === 0) {
  console.error(`no benchmarks${filter ? ` matching "${filter}"` : ''} (did the build run?)`);
  process.exit(1);
}

const rows = [];
let failed = 0;
for (const file of selected) {
  const name = relative(root, file);
  process.stderr.write(`\n== ${name}\n`);
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', file], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        try {
          const row = JSON.parse(line);
          if (row && typeof row === 'object' && 'metric' in row) {
            rows.push(row);
            process.stderr.write(`   ${row.bench} ${row.metric}: ${row.value} ${row.unit ?? ''}${row.ratio !== undefined ? ` (ratio ${row.ratio})` : ''}\n`);
            continue;
          }
        } catch {
          // not a result line
        }
        process.stderr.write(`   ${line}\n`);
      }
    });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    failed++;
    rows.push({ bench: name, metric: 'exit code', value: code, unit: '' });
  }
}

const fmt = (v) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3)) : String(v ?? ''));
const header = ['bench', 'metric', 'value', 'unit', 'baseline', 'ratio', 'target'];
const table = rows.map((r) => [r.bench, r.metric, fmt(r.value), r.unit ?? '', r.baseline === undefined ? '' : fmt(r.baseline), r.ratio === undefined ? '' : fmt(r.ratio), r.target ?? '']);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => String(row[i]).length)));
const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
for (const row of table) console.log(line(row));
writeFileSync(join(root, 'tools', 'bench-results.json'), JSON.stringify({ at: new Date().toISOString(), rows }, null, 2) + '\n');
process.exit(failed > 0 ? 1 : 0);
