#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser: the TypeScript ones with Jazzer.js (fuzz/targets/*.ts:
# handshake messages, transport datagrams, routed headers, routing frames, beacons, DNS queries,
# the config, multiaddrs, the state and names files) and the addon's C parsers with libFuzzer
# under AddressSanitizer and UBSan (fuzz/native/offload.c). Each starts from its seeds
# (fuzz/seeds.ts), the corpus earlier runs grew, and every input that ever crashed it
# (fuzz/regressions/TARGET/: a crash found here is written there, to be kept in git as a
# regression input once fixed). Prints one line of figures per target; exits 1 on any finding.
#   npm run fuzz                        every target, 10^6 inputs each
#   scripts/fuzz.sh [--runs N] [--no-build] [TARGET...]
# FUZZ_WORK (default /var/tmp/rovy-fuzz) keeps the grown corpora between runs. --no-build uses the
# bundles in dist/fuzz as they are (the test suite's short run: its own bundles must stay put).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=1000000
build=1
while [[ ${1:-} == --* ]]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "fuzz: unknown option $1" >&2; exit 2 ;;
  esac
done
work=${FUZZ_WORK:-/var/tmp/rovy-fuzz}
# The targets' scratch files (fuzz/expect.ts), on tmpfs, gone with the run however it ends.
ROVY_FUZZ_SCRATCH=$(mktemp -d /dev/shm/rovy-fuzz.XXXXXX)
export ROVY_FUZZ_SCRATCH
trap 'rm -rf "$ROVY_FUZZ_SCRATCH"' EXIT

((build == 0)) || npm run --silent build
mapfile -t all < <(cd dist/fuzz/targets && ls ./*.js | sed 's|^\./||; s|\.js$||'; echo offload-native)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

# Jazzer.js's prebuilt addon needs a newer C library than Debian 12's: Node runs under Debian 13's.
libc=$(scripts/trixie-libc.sh)
jazzer=(node_modules/@jazzer.js/core/dist/cli.js)

status=0
printf '%-14s %10s %8s %10s %6s %6s %8s  %s\n' target inputs seconds inputs/s cov features corpus result
for t in "${targets[@]}"; do
  corpus=$work/corpus/$t
  regressions=$PWD/fuzz/regressions/$t
  mkdir -p "$corpus" "$regressions"
  log=$work/$t.log
  start=$(date +%s.%N)
  if [[ $t == offload-native ]]; then
    bin=$work/offload-native
    clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined native/offload.c fuzz/native/offload.c -o "$bin"
    set +e
    "$bin" "$corpus" "$regressions" -runs="$runs" -artifact_prefix="$regressions/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
  else
    [[ -f dist/fuzz/targets/$t.js ]] || { echo "fuzz: no target $t (targets: ${all[*]})" >&2; exit 2; }
    node dist/fuzz/write-seeds.js "$t" "$corpus"
    set +e
    "$libc/ld-linux-x86-64.so.2" --library-path "$libc" "$(command -v node)" "${jazzer[@]}" "dist/fuzz/targets/$t.js" "$corpus" "$regressions" --sync \
      -- -runs="$runs" -artifact_prefix="$regressions/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
  fi
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  executed=$(grep -oP 'stat::number_of_executed_units:\s*\K\d+' "$log" | tail -1 || true)
  done_line=$(grep -E '^#[0-9]+\s+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
  cov=$(grep -oP 'cov: \K\d+' <<<"$done_line" || echo -)
  ft=$(grep -oP 'ft: \K\d+' <<<"$done_line" || echo -)
  size=$(find "$corpus" -type f | wc -l)
  if ((rc == 0)); then result=ok; else result="FOUND something (exit $rc): $log"; status=1; fi
  rate=$(node -e 'const [n, s] = process.argv.slice(1).map(Number); console.log(n > 0 ? Math.round(n / s) : "-")' "${executed:-0}" "$seconds")
  printf '%-14s %10s %8.1f %10s %6s %6s %8s  %s\n' "$t" "${executed:--}" "$seconds" "$rate" "$cov" "$ft" "$size" "$result"
done
if ((status)); then
  echo "fuzz: a target crashed; its input is in fuzz/regressions/TARGET/ (the log above says which)" >&2
fi
exit $status
