#!/usr/bin/env bash
# Direct-link TCP throughput: rovy beside wireguard-go, same topology, same run.
#
#   ns rbA-PID                                   ns rbB-PID
#   overlay  (rovy0 fc…/8 | wg0 fd01::1/64)      overlay  (rovy0 fc…/8 | wg0 fd01::2/64)
#   vA  fd00:be::1/64  <-------- veth -------->  vB  fd00:be::2/64
#
# For each overlay: iperf3 TCP, RUNS runs of T seconds (default 3 × 10 s), median reported,
# then the ratio rovy / wireguard-go. Both overlays use TUN MTU 1420. Traffic stays inside the
# two namespaces; every process is ended by PID and the namespaces deleted on exit.
# Needs root, iperf3, wireguard-go, wireguard-tools (scripts/setup.sh --test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${T:-10}
RUNS=${RUNS:-3}
NA=rbA-$$ NB=rbB-$$
WORK=$(mktemp -d /tmp/rovy-bench.XXXXXX)
PIDS=()

cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$NA" 2>/dev/null
  ip netns del "$NB" 2>/dev/null
  rm -f /var/run/wireguard/wgb$$a.sock /var/run/wireguard/wgb$$b.sock
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

log() { echo "bench: $*" >&2; }

[[ $(id -u) == 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
for tool in iperf3 wireguard-go wg; do command -v "$tool" >/dev/null || { echo "bench: $tool missing: run scripts/setup.sh --test" >&2; exit 1; }; done
[[ -f dist/rovy.js ]] || npm run --silent build

ip netns add "$NA"; ip netns add "$NB"
ip -n "$NA" link set lo up; ip -n "$NB" link set lo up
ip link add vA netns "$NA" type veth peer name vB netns "$NB"
ip -n "$NA" addr add fd00:be::1/64 dev vA nodad; ip -n "$NB" addr add fd00:be::2/64 dev vB nodad
ip -n "$NA" link set vA up; ip -n "$NB" link set vB up

wait_ping() { # NS ADDR
  local i
  for i in $(seq 1 100); do ip netns exec "$1" ping -6 -c1 -W1 "$2" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "no ping to $2 from $1"; return 1
}

# iperf_median LABEL DST: prints the median Gbit/s of RUNS runs, logs each run.
iperf_median() {
  local label=$1 dst=$2 i out rates=()
  ip netns exec "$NB" iperf3 -s -B "$dst" >"$WORK/iperf3-server-$label.log" 2>&1 &
  local srv=$!; PIDS+=("$srv")
  for i in $(seq 1 50); do ip netns exec "$NA" iperf3 -c "$dst" -n 1K >/dev/null 2>&1 && break; sleep 0.1; done
  for i in $(seq 1 "$RUNS"); do
    out=$(ip netns exec "$NA" iperf3 -c "$dst" -t "$T" -J)
    rates+=("$(node -e 'const r=JSON.parse(process.argv[1]).end; console.log((r.sum_received.bits_per_second/1e9).toFixed(3))' "$out")")
    log "$label run $i: ${rates[-1]} Gbit/s"
  done
  kill "$srv"; wait "$srv" 2>/dev/null || true
  printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

# --- wireguard-go ---------------------------------------------------------------------------
mkdir -p /var/run/wireguard
(umask 077; wg genkey >"$WORK/wa.key"; wg genkey >"$WORK/wb.key")
WGA=wgb$$a WGB=wgb$$b
WGA=${WGA:0:15} WGB=${WGB:0:15}
ip netns exec "$NA" env LOG_LEVEL=error wireguard-go -f "$WGA" >"$WORK/wg-a.log" 2>&1 & PIDS+=($!)
ip netns exec "$NB" env LOG_LEVEL=error wireguard-go -f "$WGB" >"$WORK/wg-b.log" 2>&1 & PIDS+=($!)
for i in $(seq 1 50); do [[ -S /var/run/wireguard/$WGA.sock && -S /var/run/wireguard/$WGB.sock ]] && break; sleep 0.1; done
ip netns exec "$NA" wg set "$WGA" private-key "$WORK/wa.key" listen-port 51820 peer "$(wg pubkey <"$WORK/wb.key")" allowed-ips fd01::2/128 endpoint '[fd00:be::2]:51820'
ip netns exec "$NB" wg set "$WGB" private-key "$WORK/wb.key" listen-port 51820 peer "$(wg pubkey <"$WORK/wa.key")" allowed-ips fd01::1/128 endpoint '[fd00:be::1]:51820'
ip -n "$NA" addr add fd01::1/64 dev "$WGA" nodad; ip -n "$NA" link set "$WGA" mtu 1420 up
ip -n "$NB" addr add fd01::2/64 dev "$WGB" nodad; ip -n "$NB" link set "$WGB" mtu 1420 up
wait_ping "$NA" fd01::2
WG=$(iperf_median wireguard-go fd01::2)
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; PIDS=()

# --- rovy -----------------------------------------------------------------------------------
for n in a b; do mkdir -p "$WORK/$n"; bin/rovy init --config "$WORK/$n/rovy.toml" >/dev/null; done
ida=$(bin/rovy id --config "$WORK/a/rovy.toml" --json); idb=$(bin/rovy id --config "$WORK/b/rovy.toml" --json)
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }
cfg() { # KEYDIR PEERID UNDERLAY
  printf 'key_file = "node.key"\nlisten = ["/ip6/::/udp/7777"]\n[tun]\nname = "rovy0"\nmtu = 1420\n[[peer]]\naddress = "/ip6/%s/udp/7777/rovy/%s"\n' "$3" "$2"
}
cfg a "$(field "$idb" peerId)" fd00:be::2 >"$WORK/a/rovy.toml"
cfg b "$(field "$ida" peerId)" fd00:be::1 >"$WORK/b/rovy.toml"
# --trace-gc prints one line per collection on stdout: the data path should cause (almost) none.
ip netns exec "$NA" node --trace-gc dist/rovy.js daemon --config "$WORK/a/rovy.toml" >"$WORK/gc-a.log" 2>"$WORK/rovy-a.log" & PIDS+=($!)
ip netns exec "$NB" node --trace-gc dist/rovy.js daemon --config "$WORK/b/rovy.toml" >"$WORK/gc-b.log" 2>"$WORK/rovy-b.log" & PIDS+=($!)
wait_ping "$NA" "$(field "$idb" address)"
gc0=$(cat "$WORK"/gc-*.log | wc -l)
packets() { local rx tx; read -r rx < <(ip netns exec "$NA" cat /sys/class/net/rovy0/statistics/rx_packets); read -r tx < <(ip netns exec "$NA" cat /sys/class/net/rovy0/statistics/tx_packets); echo $((rx + tx)); }
pk0=$(packets)
ROVY=$(iperf_median rovy "$(field "$idb" address)")
pk1=$(packets)
# Young-generation garbage freed by the scavenges during the runs, per packet through node A.
GC=$(tail -q -n +$((gc0 + 1)) "$WORK"/gc-*.log 2>/dev/null | node -e '
  const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.includes("Scavenge"));
  let freed = 0;
  for (const l of lines) { const m = l.match(/Scavenge ([\d.]+) \([\d.]+\) -> ([\d.]+)/); if (m) freed += (m[1] - m[2]) * 1048576; }
  const packets = +process.argv[1];
  console.log(`${lines.length} scavenges in both daemons, ${(freed / Math.max(1, packets)).toFixed(1)} bytes of garbage per packet (${packets} packets through A)`);
' "$((pk1 - pk0))")

echo
echo "iperf3 TCP, direct link, TUN MTU 1420, median of $RUNS × ${T}s"
printf '  %-14s %8s Gbit/s\n' wireguard-go "$WG" rovy "$ROVY"
printf '  %-14s %8s\n' "rovy/wg-go" "$(node -e "console.log(($ROVY/$WG).toFixed(2)+'x')")"
echo "  rovy GC during the runs: $GC"
# The bar (issue: rovy at least 1.0x wireguard-go, direct): the exit code says whether it held.
if node -e "process.exit($ROVY >= $WG ? 0 : 1)"; then echo "  bar rovy >= 1.0x wireguard-go: met"; else echo "  bar rovy >= 1.0x wireguard-go: NOT met"; exit 1; fi
