#!/usr/bin/env bash
# Where a rovy daemon's CPU goes under load: the direct topology of bench/throughput.sh (two
# namespaces, one veth), both daemons run with `node --cpu-prof`, one iperf3 TCP run of T seconds
# (default 10) from A to B; then each daemon's profile as the functions with the most self time.
# Time in the addon (and the kernel's share of its system calls) counts to the JS method that
# calls it: TunDevice.readBatch is TUN reads, UdpSocket.sendBatch is sendmmsg. Profiles are kept in OUT (default dist/bench/profile) for Chrome's
# DevTools. Needs root, iperf3.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${T:-10}
# OFFLOAD=false profiles rovy without TUN segmentation offloads (tun.offload).
OFFLOAD=${OFFLOAD:-true}
TOP=${TOP:-15}
OUT=${OUT:-dist/bench/profile}
NA=rpA-$$ NB=rpB-$$
WORK=$(mktemp -d /tmp/rovy-bench-profile.XXXXXX)
. bench/lib.sh
cleanup() {
  set +e
  stop_pids
  veth_pair_down
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

[[ $(id -u) == 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "bench: iperf3 missing: run scripts/setup.sh --test" >&2; exit 1; }
[[ -f dist/rovy.js ]] || npm run --silent build
rm -rf "$OUT"; mkdir -p "$OUT"

veth_pair_up

for n in a b; do mkdir -p "$WORK/$n"; bin/rovy init --config "$WORK/$n/rovy.toml" >/dev/null; done
ida=$(bin/rovy id --config "$WORK/a/rovy.toml" --json); idb=$(bin/rovy id --config "$WORK/b/rovy.toml" --json)
# iperf3's port open to the mesh (the inbound filter keeps every other one closed).
cfg() { printf 'key_file = "node.key"\nlisten = ["/ip6/::/udp/7777"]\n[tun]\noffload = %s\n[ports]\nallow = ["5201/tcp"]\n[[peer]]\naddress = "/ip6/%s/udp/7777/rovy/%s"\n' "$OFFLOAD" "$2" "$1"; }
cfg "$(field "$idb" peerId)" fd00:be::2 >"$WORK/a/rovy.toml"
cfg "$(field "$ida" peerId)" fd00:be::1 >"$WORK/b/rovy.toml"
for n in a b; do
  ns=$NA; [[ $n == b ]] && ns=$NB
  mkdir -p "$OUT/$n"
  ip netns exec "$ns" env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/rovy-bench-bus \
    node --cpu-prof --cpu-prof-dir="$OUT/$n" dist/rovy.js daemon --config "$WORK/$n/rovy.toml" >"$WORK/$n.log" 2>&1 &
  PIDS+=($!)
done
dst=$(field "$idb" address)
up=0
for i in $(seq 1 100); do ip netns exec "$NA" ping -6 -c1 -W1 "$dst" >/dev/null 2>&1 && { up=1; break; }; sleep 0.1; done
((up)) || { log "A cannot reach B over rovy"; tail -5 "$WORK"/*.log >&2; exit 1; }
ip netns exec "$NB" iperf3 -s -B "$dst" >/dev/null 2>&1 & srv=$!; PIDS+=("$srv")
for i in $(seq 1 50); do ip netns exec "$NA" iperf3 -c "$dst" -n 1K >/dev/null 2>&1 && break; sleep 0.1; done
timeout --foreground $((T + 30)) ip netns exec "$NA" iperf3 -c "$dst" -t "$T" -J >"$WORK/iperf.json" 2>/dev/null || { log "iperf3 failed"; exit 1; }
read -r rate _ < <(iperf_rate "$(cat "$WORK/iperf.json")") || { log "iperf3 gave no result"; exit 1; }
# SIGTERM: the daemons stop cleanly and node writes the profiles as it exits.
stop_pids

echo "rovy direct, one iperf3 run of ${T}s: $rate Gbit/s; where each daemon's CPU went (self time):"
for n in a b; do
  f=$(ls "$OUT/$n"/*.cpuprofile)
  echo "  node ${n^^} (A sends, B receives) — $f"
  node bench/cpuprofile-top.mjs "$f" "$TOP"
done
