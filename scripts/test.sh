#!/usr/bin/env bash
# The whole suite: type check, build, unit tests (in-process), network tests (namespaces, root).
set -euo pipefail
cd "$(dirname "$0")/.."
# The addon is built by npm install; rebuild it here when its sources changed since.
addon=build/Release/rovy_native.node
if [[ ! -f $addon || -n $(find native binding.gyp -newer "$addon" -print -quit) ]]; then npm run --silent install; fi
npm run --silent check
npm run --silent build
mapfile -t unit < <(find dist/test/unit -name '*.test.js' | sort)
mapfile -t net < <(find dist/test/net dist/test/desktop dist/test/packaging -name '*.test.js' 2>/dev/null | sort)
# Network, desktop and packaging tests build namespaces, TUN devices, private buses and meson
# trees: one file at a time.
# A run that skipped tests is not a pass: run as non-root, every namespace and D-Bus test would
# skip and the run would still say ok. ROVY_TEST_ALLOW_SKIP=1 asks for it on purpose.
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
node --enable-source-maps --test --test-concurrency=1 "${unit[@]}" "${net[@]}" | tee "$tap"
skipped=$(awk '/^# skipped [0-9]+$/ { n = $3 } END { print n + 0 }' "$tap")
if ((skipped > 0)) && [[ ${ROVY_TEST_ALLOW_SKIP:-} != 1 ]]; then
  echo "test: $skipped test(s) skipped (see \"# SKIP\" above); run as root, or set ROVY_TEST_ALLOW_SKIP=1 to accept skips" >&2
  exit 1
fi
