#!/usr/bin/env node
// The operator CLI. Built code lives in ../dist (npm run build, or npm start, builds it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('cdnctl is not built yet: run `npm run build` (or `npm start`) at the repository root first.\n');
  process.exit(1);
}
await import(main.href);
