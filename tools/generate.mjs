// `npm run generate`: regenerates libs/proto/src/gen from proto/ with buf and the local
// protoc-gen-es plugin (no network). The output is committed; CI checks it is current.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', '.bin');
execFileSync(join(bin, 'buf'), ['generate'], {
  cwd: root,
  stdio: 'inherit',
  // buf finds `protoc-gen-es` on PATH: put the workspace's own binaries first.
  env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
});
