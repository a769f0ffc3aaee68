#!/usr/bin/env bash
# Builds the application tree of the cdn-sched container image: every service's and library's
# compiled `dist/`, the shipped IP database, and production dependencies only.
#
#   deploy/image/build-app-tree.sh <source-dir> <output-dir>
#
# The Dockerfile's build stage runs exactly this script, and `nx run deploy:image` runs it on a
# fresh copy of the repository and starts services from the output, so the tree the image ships is
# the tree the test proves (there is no container engine on the CI machines).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <source-dir> <output-dir>" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
out=$2
if [[ -e "$out" && -n "$(ls -A "$out" 2>/dev/null)" ]]; then
  echo "build-app-tree: $out is not empty; give a new or empty directory" >&2
  exit 2
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

cd "$src"
# 1. All dependencies (the TypeScript compiler is a dev dependency), exactly as locked.
npm ci --no-audit --no-fund --ignore-scripts
# 2. Compile every library and service. `tsc -b` follows the project references, the same graph
#    `nx run-many -t build` builds, without needing Nx's native binary in the build stage.
npx --no-install tsc -b libs/*/tsconfig.lib.json services/*/tsconfig.lib.json

# 3. The tree: the workspace manifests (npm ci checks the lockfile against every one of them), the
#    compiled code without tests or benchmarks, and the data files code reads at run time.
cp package.json package-lock.json .npmrc "$out/"
for dir in libs/* services/* test; do
  [[ -f "$dir/package.json" ]] || continue
  mkdir -p "$out/$dir"
  cp "$dir/package.json" "$out/$dir/"
  if [[ -d "$dir/dist" && "$dir" != test ]]; then
    # JavaScript only (no declarations, source maps or build info); benchmarks stay out.
    tar -C "$dir" -cf - --exclude='./dist/bench' --exclude='*.d.ts' --exclude='*.map' \
      --exclude='*.tsbuildinfo' ./dist | tar -C "$out/$dir" -xf -
  fi
  if [[ -d "$dir/bin" ]]; then cp -R "$dir/bin" "$out/$dir/"; fi
done
cp -R libs/geoip/data "$out/libs/geoip/"

# 4. Production dependencies only, from the same lockfile. No install scripts: nothing here needs
#    one, and a build must not run code it was not asked to.
cd "$out"
npm ci --omit=dev --no-audit --no-fund --ignore-scripts
# npm's cache and logs are not part of the image.
rm -rf "$out/.npm"
echo "build-app-tree: $(find "$out" -type f | wc -l) files in $out"
