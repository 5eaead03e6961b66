#!/usr/bin/env bash
# Builds the rovy .deb from this checkout, offline:   packaging/build-deb.sh [OUTDIR]
# (default OUTDIR: dist/deb). Needs what `scripts/setup.sh --test` installs (dpkg-dev, debhelper,
# meson, ninja-build, Node.js 20 with its headers) and node_modules from its `npm ci` (esbuild).
#
# dpkg-buildpackage wants debian/ at the top of the source tree and writes its results beside
# it, so the build runs in a staged copy in a temp dir: the checkout's files (tracked and
# untracked, not ignored, as they are now), node_modules, and packaging/debian as debian/.
# The checkout gets no debian/, no build tree and no stray results; OUTDIR gets the .deb (and
# the -dbgsym .deb, .buildinfo, .changes), and the path of the .deb is the last line printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/dist/deb}")

cd "$root"
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "build-deb.sh: $root is not a git checkout: the files to build are the ones git knows" >&2
  exit 1
fi
if [[ ! -f node_modules/esbuild/package.json ]]; then
  echo "build-deb.sh: no node_modules/esbuild in $root: run scripts/setup.sh first (npm ci)" >&2
  exit 1
fi
# The package version is the changelog's, which must be the one package.json gives the bundle.
version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
upstream=$(node -p 'require("./package.json").version')
if [[ ${version%%-*} != "$upstream" ]]; then
  echo "build-deb.sh: packaging/debian/changelog is at $version but package.json at $upstream: add a changelog entry (dch -v $upstream)" >&2
  exit 1
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

stage=$(mktemp -d "${TMPDIR:-/tmp}/rovy-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
src=$stage/rovy-$upstream
mkdir "$src"
# A file deleted but not yet committed is listed by git and skipped here.
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done |
  tar --null --no-recursion -T - -cf - | tar -xf - -C "$src"
cp -a node_modules "$src/"
rm -rf "$src/debian"
cp -a packaging/debian "$src/debian"

# No network from here on: npm and meson are told so, and nothing in the build fetches.
(cd "$src" && npm_config_offline=true dpkg-buildpackage -us -uc -b)

mkdir -p "$out"
rm -f "$out"/rovy_*.deb "$out"/rovy-dbgsym_*.deb "$out"/rovy_*.buildinfo "$out"/rovy_*.changes
shopt -s nullglob
results=("$stage"/rovy_"$version"_*.deb "$stage"/rovy-dbgsym_"$version"_*.deb "$stage"/*.buildinfo "$stage"/*.changes)
mv "${results[@]}" "$out/"
echo "$out/rovy_${version}_$arch.deb"
