#!/usr/bin/env bash
# npm run bench:mutation: mutation testing of the code behind rovy's security promises, one area
# at a time (each a Stryker run with its own report, reports/mutation/AREA.json), then the score
# of each and of all. An area's run is whole or absent: a run cut short still leaves the areas
# done before it. AREAS (space-separated names below) picks some.
set -euo pipefail
cd "$(dirname "$0")/../.."
declare -A GLOB=(
  [noise]='src/noise/**/*.ts'
  [forward]='src/forward/**/*.ts'
  [session]='src/session/**/*.ts'
  [receive]='src/node/receive.ts'
  [api]='service/api.ts'
)
AREAS=${AREAS:-noise forward session receive api}
mkdir -p reports/mutation
for area in $AREAS; do
  [[ -n ${GLOB[$area]:-} ]] || { echo "mutation: no area $area (areas: ${!GLOB[*]})" >&2; exit 2; }
  echo "mutation: $area (${GLOB[$area]})" >&2
  MUTATE=${GLOB[$area]} MUTATION_REPORT=reports/mutation/$area.json npx stryker run bench/mutation/stryker.config.mjs >"reports/mutation/$area.log" 2>&1 ||
    { echo "mutation: the $area run failed: reports/mutation/$area.log" >&2; exit 1; }
done
node bench/mutation/score.mjs reports/mutation/*.json
