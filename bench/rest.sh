#!/usr/bin/env bash
# A daemon's cost at rest: node A with PEERS peers (default 10, then 100), every one a real daemon
# in a namespace of its own, all on one bridge; once A reaches every peer (ping over rovy), A's
# CPU over IDLE seconds (default 60) with no traffic but rovy's own (hellos, keepalives, rekeys,
# routing refreshes), and its resident memory. Issue 12's bars: idle < 0.5 % of a core with 10
# peers, RSS < 80 MB with 100 peers.
#
#   ns rsw-PID: bridge br0   ── port<i> ── ns rs<i>-PID: lan0 fd00:ac::<i>/64, rovy daemon
#   node 0 is A: its config lists every other node; each other node's config lists A.
#
# PROFILE=DIR runs A under `node --cpu-prof` and prints where its CPU went (the profile of each
# case stays in DIR/COUNT). Every process is ended by PID and waited for; the namespaces are
# deleted on exit (Ctrl-C too).
# Needs root. Memory: about 60 MB per daemon (6 GB for 100 peers).
set -euo pipefail
cd "$(dirname "$0")/.."
IDLE=${IDLE:-60}
COUNTS=${COUNTS:-10 100}
WORK=$(mktemp -d /tmp/rovy-bench-rest.XXXXXX)
SW=rsw-$$
NSS=()
. bench/lib.sh

stop_all() {
  stop_pids
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  NSS=()
}
cleanup() {
  set +e
  trap - EXIT INT TERM
  stop_all
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) == 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
[[ -f dist/rovy.js ]] || npm run --silent build
rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

declare -A IDLE_PCT=() RSS=() READY=()
run_case() { # COUNT: A and COUNT peers
  local count=$1 i ns ids=() addrs=()
  ip netns add "$SW"; NSS+=("$SW")
  ip -n "$SW" link add br0 type bridge; ip -n "$SW" link set br0 up
  for i in $(seq 0 "$count"); do
    ns=rs$i-$$; ip netns add "$ns"; NSS+=("$ns")
    ip -n "$ns" link set lo up
    ip link add lan0 netns "$ns" type veth peer name "port$i" netns "$SW"
    ip -n "$SW" link set "port$i" master br0 up
    ip -n "$ns" addr add "fd00:ac::$(printf '%x' $((i + 1)))/64" dev lan0 nodad
    ip -n "$ns" link set lan0 up
    mkdir -p "$WORK/$count/$i"
    bin/rovy init --config "$WORK/$count/$i/rovy.toml" >/dev/null
    local id; id=$(bin/rovy id --config "$WORK/$count/$i/rovy.toml" --json)
    ids+=("$(field "$id" peerId)"); addrs+=("$(field "$id" address)")
  done
  # Discovery off: the links are the configured ones, and A's cost is theirs alone.
  local base='key_file = "node.key"\nlisten = ["/ip6/::/udp/7777"]\n[discovery]\npolicy = "off"\n'
  { printf "$base"; for i in $(seq 1 "$count"); do printf '[[peer]]\naddress = "/ip6/fd00:ac::%x/udp/7777/rovy/%s"\n' $((i + 1)) "${ids[$i]}"; done; } >"$WORK/$count/0/rovy.toml"
  for i in $(seq 1 "$count"); do
    { printf "$base"; printf '[[peer]]\naddress = "/ip6/fd00:ac::1/udp/7777/rovy/%s"\n' "${ids[0]}"; } >"$WORK/$count/$i/rovy.toml"
  done
  local start=$SECONDS a
  for i in $(seq 0 "$count"); do
    local prof=()
    if ((i == 0)) && [[ -n ${PROFILE:-} ]]; then rm -rf "$PROFILE/$count"; mkdir -p "$PROFILE/$count"; prof=(--cpu-prof --cpu-prof-dir="$PROFILE/$count"); fi
    ip netns exec "rs$i-$$" env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/rovy-bench-bus \
      node "${prof[@]}" dist/rovy.js daemon --config "$WORK/$count/$i/rovy.toml" >"$WORK/$count/$i.log" 2>&1 &
    PIDS+=($!)
    ((i == 0)) && a=$!
  done
  # A reaches every peer over rovy: each session is up.
  for i in $(seq 1 "$count"); do
    local end=$((SECONDS + 120))
    until ip netns exec "rs0-$$" ping -6 -c1 -W1 "${addrs[$i]}" >/dev/null 2>&1; do
      ((SECONDS < end)) || { log "A cannot reach peer $i"; tail -5 "$WORK/$count/0.log" >&2; exit 1; }
      sleep 0.2
    done
  done
  READY[$count]=$((SECONDS - start))
  log "$count peers: A reaches all of them, ${READY[$count]} s after the daemons started; measuring A for ${IDLE}s"
  local t0 c0; t0=$(date +%s%N); c0=$(cpu_ticks "$a")
  sleep "$IDLE"   # the measurement window itself, not a wait for a state
  local c1 t1; c1=$(cpu_ticks "$a"); t1=$(date +%s%N)
  IDLE_PCT[$count]=$(node -e 'const [t, hz, ns] = process.argv.slice(1).map(Number); console.log((t / hz / (ns / 1e9) * 100).toFixed(3))' "$((c1 - c0))" "$(getconf CLK_TCK)" "$((t1 - t0))")
  RSS[$count]=$(rss_mb "$a")
  stop_all
  if [[ -n ${PROFILE:-} ]]; then
    echo "A with $count peers, from its start (the idle ${IDLE}s included): self time" >&2
    node bench/cpuprofile-top.mjs "$(ls "$PROFILE/$count"/*.cpuprofile)" 15 >&2
  fi
}

for c in $COUNTS; do run_case "$c"; done

echo
echo "rovy at rest: node A and its peers, each a daemon; A measured over ${IDLE}s with no traffic but rovy's own"
for c in $COUNTS; do
  printf '  %4s peers: A idle %7s %% of a core, RSS %6s MB (all sessions up %s s after start)\n' "$c" "${IDLE_PCT[$c]}" "${RSS[$c]}" "${READY[$c]}"
done
fail=0
[[ -n ${IDLE_PCT[10]:-} ]] && bar "idle < 0.5 % of a core with 10 peers" "${IDLE_PCT[10]} < 0.5"
[[ -n ${RSS[100]:-} ]] && bar "RSS < 80 MB with 100 peers" "${RSS[100]} < 80"
exit $fail
