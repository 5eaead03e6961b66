#!/usr/bin/env bash
# Direct-link TCP throughput: rovy beside wireguard-go, same topology, same run.
#
#   ns rbA-PID                                   ns rbB-PID
#   overlay  (rovy0 fc…/8 | wg0 fd01::1/64)      overlay  (rovy0 fc…/8 | wg0 fd01::2/64)
#   vA  fd00:be::1/64  <-------- veth -------->  vB  fd00:be::2/64
#
# For each overlay: iperf3 TCP, RUNS runs of T seconds (default 3 × 10 s), median reported with
# each daemon's CPU time per packet and per MB through its veth (in and out), then the ping RTT
# the overlay adds to the bare veth's, idle and under a running iperf3, and the ratios rovy /
# wireguard-go. Both overlays use TUN MTU 1420. wireguard-go is the current one, Debian 13's
# (scripts/modern-peers.sh: with its TUN and UDP offloads), not Debian 12's older build. Traffic
# stays inside the two namespaces; every process is ended by PID and the namespaces deleted on exit.
# Needs root, iperf3, wireguard-tools (scripts/setup.sh --test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${T:-10}
RUNS=${RUNS:-3}
# OFFLOAD=false runs rovy without TUN segmentation offloads (tun.offload), to measure them.
OFFLOAD=${OFFLOAD:-true}
NA=rbA-$$ NB=rbB-$$
WORK=$(mktemp -d /tmp/rovy-bench.XXXXXX)
. bench/lib.sh

cleanup() {
  set +e
  stop_pids
  veth_pair_down
  rm -f /var/run/wireguard/wgb$$a.sock /var/run/wireguard/wgb$$b.sock
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

[[ $(id -u) == 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
PEERS=$(scripts/modern-peers.sh) || { echo "bench: could not fetch the current wireguard-go (scripts/modern-peers.sh)" >&2; exit 1; }
export PATH="$PEERS/usr/bin:$PEERS/usr/sbin:$PATH"
for tool in iperf3 wireguard-go wg; do command -v "$tool" >/dev/null || { echo "bench: $tool missing: run scripts/setup.sh --test" >&2; exit 1; }; done
WG_VERSION=$(wireguard-go --version | head -1 | awk '{print $2}')
[[ -f dist/rovy.js ]] || npm run --silent build

veth_pair_up

veth_count() { # NS DEV: "PACKETS BYTES", in plus out
  local f=/sys/class/net/$2/statistics
  ip netns exec "$1" sh -c "echo \$((\$(cat $f/rx_packets) + \$(cat $f/tx_packets))) \$((\$(cat $f/rx_bytes) + \$(cat $f/tx_bytes)))"
}

# iperf_median LABEL DST PID_A PID_B: sets MEDIAN[LABEL], the median Gbit/s of RUNS runs (each
# run logged), and PER_PACKET[LABEL], each daemon's CPU µs per packet through its veth.
declare -A MEDIAN=() PER_PACKET=()
iperf_median() {
  local label=$1 dst=$2 pa=$3 pb=$4 i out rates=() ca cb pka pkb ba bb
  ip netns exec "$NB" iperf3 -s -B "$dst" >"$WORK/iperf3-server-$label.log" 2>&1 &
  local srv=$!; PIDS+=("$srv")
  for i in $(seq 1 50); do ip netns exec "$NA" iperf3 -c "$dst" -n 1K >/dev/null 2>&1 && break; sleep 0.1; done
  ca=$(cpu_ticks "$pa"); cb=$(cpu_ticks "$pb"); read -r pka ba < <(veth_count "$NA" vA); read -r pkb bb < <(veth_count "$NB" vB)
  for i in $(seq 1 "$RUNS"); do
    out=$(ip netns exec "$NA" iperf3 -c "$dst" -t "$T" -J)
    local rate; read -r rate _ < <(iperf_rate "$out") || { log "$label run $i: no result"; exit 1; }
    rates+=("$rate")
    log "$label run $i: ${rates[-1]} Gbit/s"
  done
  local hz pka1 ba1 pkb1 bb1; hz=$(getconf CLK_TCK)
  read -r pka1 ba1 < <(veth_count "$NA" vA); read -r pkb1 bb1 < <(veth_count "$NB" vB)
  # Per packet on the veth, and per MB through it: with segmentation offloads a veth packet may
  # be one 64 KB segment rather than 1500 bytes, so the second is the one to compare.
  PER_PACKET[$label]=$(node -e '
    const [hz, ca, pa, ba, cb, pb, bb] = process.argv.slice(1).map(Number);
    const cost = (ticks, packets, bytes) => { const us = ticks * 1e6 / hz; return `${(us / Math.max(1, packets)).toFixed(2)} µs/packet, ${(us / Math.max(1, bytes / 1e6)).toFixed(0)} µs/MB`; };
    console.log(`A ${cost(ca, pa, ba)}; B ${cost(cb, pb, bb)}`);' \
    "$hz" "$(($(cpu_ticks "$pa") - ca))" "$((pka1 - pka))" "$((ba1 - ba))" "$(($(cpu_ticks "$pb") - cb))" "$((pkb1 - pkb))" "$((bb1 - bb))")
  kill "$srv"; wait "$srv" 2>/dev/null || true
  MEDIAN[$label]=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
}

# rtt_ms DST: the average RTT of 100 pings from A, 20 ms apart.
rtt_ms() {
  ip netns exec "$NA" ping -6 -n -q -c 100 -i 0.02 -W 1 "$1" | sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p'
}

# rtt_loaded_ms DST: the same, while an iperf3 of 6 s (longer than the 2 s of pings) runs over
# the same path.
rtt_loaded_ms() {
  local dst=$1 srv cli rtt i
  ip netns exec "$NB" iperf3 -s -B "$dst" >/dev/null 2>&1 & srv=$!; PIDS+=("$srv")
  for i in $(seq 1 50); do ip netns exec "$NA" iperf3 -c "$dst" -n 1K >/dev/null 2>&1 && break; sleep 0.1; done
  ip netns exec "$NA" iperf3 -c "$dst" -t 6 >/dev/null 2>&1 & cli=$!
  rtt=$(rtt_ms "$dst")
  wait "$cli" 2>/dev/null || true
  kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true
  echo "$rtt"
}

# --- the bare veth: the RTT the overlays add to --------------------------------------------
wait_ping "$NA" fd00:be::2 10 || { log "no ping to fd00:be::2 from A"; exit 1; }
VETH_IDLE=$(rtt_ms fd00:be::2); VETH_LOAD=$(rtt_loaded_ms fd00:be::2)
log "veth RTT: idle $VETH_IDLE ms, under iperf3 $VETH_LOAD ms"

# --- wireguard-go ---------------------------------------------------------------------------
mkdir -p /var/run/wireguard
(umask 077; wg genkey >"$WORK/wa.key"; wg genkey >"$WORK/wb.key")
WGA=wgb$$a WGB=wgb$$b
WGA=${WGA:0:15} WGB=${WGB:0:15}
ip netns exec "$NA" env LOG_LEVEL=error wireguard-go -f "$WGA" >"$WORK/wg-a.log" 2>&1 & DA=$!; PIDS+=("$DA")
ip netns exec "$NB" env LOG_LEVEL=error wireguard-go -f "$WGB" >"$WORK/wg-b.log" 2>&1 & DB=$!; PIDS+=("$DB")
for i in $(seq 1 50); do [[ -S /var/run/wireguard/$WGA.sock && -S /var/run/wireguard/$WGB.sock ]] && break; sleep 0.1; done
ip netns exec "$NA" wg set "$WGA" private-key "$WORK/wa.key" listen-port 51820 peer "$(wg pubkey <"$WORK/wb.key")" allowed-ips fd01::2/128 endpoint '[fd00:be::2]:51820'
ip netns exec "$NB" wg set "$WGB" private-key "$WORK/wb.key" listen-port 51820 peer "$(wg pubkey <"$WORK/wa.key")" allowed-ips fd01::1/128 endpoint '[fd00:be::1]:51820'
ip -n "$NA" addr add fd01::1/64 dev "$WGA" nodad; ip -n "$NA" link set "$WGA" mtu 1420 up
ip -n "$NB" addr add fd01::2/64 dev "$WGB" nodad; ip -n "$NB" link set "$WGB" mtu 1420 up
wait_ping "$NA" fd01::2 10 || { log "no ping to fd01::2 from A"; exit 1; }
iperf_median wireguard-go fd01::2 "$DA" "$DB"; WG=${MEDIAN[wireguard-go]}
WG_IDLE=$(rtt_ms fd01::2); WG_LOAD=$(rtt_loaded_ms fd01::2)
stop_pids

# --- rovy -----------------------------------------------------------------------------------
for n in a b; do mkdir -p "$WORK/$n"; bin/rovy init --config "$WORK/$n/rovy.toml" >/dev/null; done
ida=$(bin/rovy id --config "$WORK/a/rovy.toml" --json); idb=$(bin/rovy id --config "$WORK/b/rovy.toml" --json)
cfg() { # KEYDIR PEERID UNDERLAY: iperf3's port open to the mesh (the inbound filter keeps the rest closed)
  printf 'key_file = "node.key"\nlisten = ["/ip6/::/udp/7777"]\n[tun]\nname = "rovy0"\nmtu = 1420\noffload = %s\n[ports]\nallow = ["5201/tcp"]\n[[peer]]\naddress = "/ip6/%s/udp/7777/rovy/%s"\n' "$OFFLOAD" "$3" "$2"
}
cfg a "$(field "$idb" peerId)" fd00:be::2 >"$WORK/a/rovy.toml"
cfg b "$(field "$ida" peerId)" fd00:be::1 >"$WORK/b/rovy.toml"
# --trace-gc prints one line per collection on stdout: the data path should cause (almost) none.
ip netns exec "$NA" node --trace-gc dist/rovy.js daemon --config "$WORK/a/rovy.toml" >"$WORK/gc-a.log" 2>"$WORK/rovy-a.log" & DA=$!; PIDS+=("$DA")
ip netns exec "$NB" node --trace-gc dist/rovy.js daemon --config "$WORK/b/rovy.toml" >"$WORK/gc-b.log" 2>"$WORK/rovy-b.log" & DB=$!; PIDS+=("$DB")
wait_ping "$NA" "$(field "$idb" address)" 10 || { log "no ping from A to B over rovy"; exit 1; }
gc0=$(cat "$WORK"/gc-*.log | wc -l)
packets() { local rx tx; read -r rx < <(ip netns exec "$NA" cat /sys/class/net/rovy0/statistics/rx_packets); read -r tx < <(ip netns exec "$NA" cat /sys/class/net/rovy0/statistics/tx_packets); echo $((rx + tx)); }
pk0=$(packets)
iperf_median rovy "$(field "$idb" address)" "$DA" "$DB"; ROVY=${MEDIAN[rovy]}
pk1=$(packets)
ROVY_IDLE=$(rtt_ms "$(field "$idb" address)"); ROVY_LOAD=$(rtt_loaded_ms "$(field "$idb" address)")
# Young-generation garbage freed by the scavenges during the runs, per packet through node A.
GC=$(tail -q -n +$((gc0 + 1)) "$WORK"/gc-*.log 2>/dev/null | node -e '
  const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.includes("Scavenge"));
  let freed = 0;
  for (const l of lines) { const m = l.match(/Scavenge ([\d.]+) \([\d.]+\) -> ([\d.]+)/); if (m) freed += (m[1] - m[2]) * 1048576; }
  const packets = +process.argv[1];
  console.log(`${lines.length} scavenges in both daemons, ${(freed / Math.max(1, packets)).toFixed(1)} bytes of garbage per packet (${packets} packets through A)`);
' "$((pk1 - pk0))")

added() { node -e 'console.log(Math.max(0, process.argv[1] - process.argv[2]).toFixed(3))' "$1" "$2"; }
WG_ADD_IDLE=$(added "$WG_IDLE" "$VETH_IDLE"); WG_ADD_LOAD=$(added "$WG_LOAD" "$VETH_LOAD")
ROVY_ADD_IDLE=$(added "$ROVY_IDLE" "$VETH_IDLE"); ROVY_ADD_LOAD=$(added "$ROVY_LOAD" "$VETH_LOAD")

echo
echo "iperf3 TCP, direct link, TUN MTU 1420, median of $RUNS × ${T}s; wireguard-go $WG_VERSION"
printf '  %-14s %8s Gbit/s   daemon CPU through its veth: %s\n' wireguard-go "$WG" "${PER_PACKET[wireguard-go]}" rovy "$ROVY" "${PER_PACKET[rovy]}"
printf '  %-14s %8s\n' "rovy/wg-go" "$(node -e "console.log(($ROVY/$WG).toFixed(2)+'x')")"
echo "  rovy GC during the runs: $GC"
echo "ping RTT, ms (average of 100): bare veth idle $VETH_IDLE, under iperf3 $VETH_LOAD; added by the overlay:"
printf '  %-14s idle %7s   under iperf3 %7s\n' wireguard-go "$WG_ADD_IDLE" "$WG_ADD_LOAD" rovy "$ROVY_ADD_IDLE" "$ROVY_ADD_LOAD"
# The bars (issue 12): direct throughput at least 1.5x wireguard-go's, and no more than twice the
# RTT it adds, idle and loaded. The exit code says whether they held.
fail=0
bar "rovy >= 1.5x wireguard-go" "$ROVY >= 1.5 * $WG"
bar "rovy's added RTT <= 2x wireguard-go's, idle" "$ROVY_ADD_IDLE <= 2 * Math.max($WG_ADD_IDLE, 0.001)"
bar "rovy's added RTT <= 2x wireguard-go's, under iperf3" "$ROVY_ADD_LOAD <= 2 * Math.max($WG_ADD_LOAD, 0.001)"
exit $fail
