#!/usr/bin/env bash
# Routed TCP throughput, A → B → C (B forwards): rovy beside yggdrasil and wireguard-go, same run.
#
#   ns rrA-PID                    ns rrB-PID                        ns rrC-PID
#   vA fd00:ab::1/64 <-- veth --> vBa fd00:ab::2/64
#                                 vBc fd00:bc::1/64 <-- veth -->   vC fd00:bc::2/64
#   (A and C share no link: everything between them crosses B)
#
#   rovy        daemons in A, B, C, TUN MTU 1420; A's only peer is B, C's only peer is B, B peers
#               with both. iperf3 from A to C's fc00::/8 address: B's rovy must route it.
#   yggdrasil   a chain the same way (B listens, A and C peer with B only), iperf3 A → C's 200::/7
#               address, once per IfMTU in YGG_MTUS: 65535 is yggdrasil's default (0.5 gives its
#               TUN that MTU, so each packet carries ~46x the data of a 1420 one: that, not its
#               forwarding, is why it looks fast), 1420 the same TUN MTU rovy and wg-go use.
#   wg-go hub   wireguard-go in A, B, C; B has one interface with peers A and C and the kernel
#               forwards between them (IPv6 forwarding on in B, in and out of the same TUN).
#   rovy exit   A uses B as its exit (issue 15): C is "the Internet", no rovy there, reached by
#               B's uplink vBc (IPv6 fd00:bc::/64 and IPv4 198.51.100.0/24), B masquerading with
#               nftables; iperf3 from A to C's underlay addresses, IPv6 and IPv4, beside the routed
#               case (the same two rovy hops' worth of work at B, plus the kernel's forwarding).
#   over TLS    the rovy and yggdrasil chains again with their links over TLS on TCP (rovy: B
#               listens on /tcp/9443/tls and accepts anyone, A and C list only that address;
#               yggdrasil: tls:// listen and peers), the way both cross networks that pass no UDP.
#
# yggdrasil and wireguard-go are the current ones, Debian 13's (scripts/modern-peers.sh unpacks
# them beside the system's packages): yggdrasil 0.5 and wireguard-go with its offloads, not
# Debian 12's older builds.
#
# Each case runs in fresh namespaces (IPv6 forwarding off in B except for the wg-go hub): iperf3
# TCP, RUNS runs of T seconds (default 3 × 10 s), median reported with each daemon's CPU (% of a
# core, and per packet and per MB through its veths: for B per packet forwarded), then the ratios
# rovy / yggdrasil and rovy / wireguard-go hub (over TLS: rovy's TLS / yggdrasil's TLS), and issue 12's bars for the routed case. The exit
# code is 1 if a selected case produced no result or a bar was not met. CASES picks cases
# (default "rovy ygg wg rovy-tls ygg-tls rovy-exit"). Traffic stays inside the three namespaces; every process is ended by
# PID and waited for, and the namespaces are deleted on exit (Ctrl-C included).
# Needs root, iperf3, wireguard-tools (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${T:-10}
RUNS=${RUNS:-3}
# OFFLOAD=false runs rovy without TUN segmentation offloads (tun.offload), to measure them.
OFFLOAD=${OFFLOAD:-true}
CASES=${CASES:-rovy ygg wg rovy-tls ygg-tls rovy-exit}
YGG_MTUS=${YGG_MTUS:-65535 1420}
ROVY_WAIT=${ROVY_WAIT:-60}   # seconds to wait for A to reach C through B
YGG_WAIT=${YGG_WAIT:-120}  # yggdrasil retries a refused first dial only a minute later
NA=rrA-$$ NB=rrB-$$ NC=rrC-$$
WORK=$(mktemp -d /tmp/rovy-bench-routed.XXXXXX)
WGIFS=()
. bench/lib.sh

# teardown: end the case's processes, delete its namespaces and wireguard-go sockets.
teardown() {
  stop_pids
  ip netns del "$NA" 2>/dev/null || true
  ip netns del "$NB" 2>/dev/null || true
  ip netns del "$NC" 2>/dev/null || true
  local w
  for w in "${WGIFS[@]}"; do rm -f "/var/run/wireguard/$w.sock"; done
  WGIFS=()
}

cleanup() {
  set +e
  trap - EXIT INT TERM
  teardown
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) == 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
for c in $CASES; do [[ $c == rovy || $c == ygg || $c == wg || $c == rovy-tls || $c == ygg-tls || $c == rovy-exit ]] || { echo "bench: unknown case '$c' in CASES (rovy ygg wg rovy-tls ygg-tls rovy-exit)" >&2; exit 1; }; done
has() { [[ " $CASES " == *" $1 "* ]]; }
need=(iperf3 node)
if has wg || has ygg || has ygg-tls; then
  PEERS=$(scripts/modern-peers.sh) || { echo "bench: could not fetch the current wireguard-go and yggdrasil (scripts/modern-peers.sh)" >&2; exit 1; }
  export PATH="$PEERS/usr/bin:$PEERS/usr/sbin:$PATH"
fi
has wg && need+=(wireguard-go wg)
has rovy-exit && need+=(nft)
(has ygg || has ygg-tls) && need+=(yggdrasil)
for tool in "${need[@]}"; do command -v "$tool" >/dev/null || { echo "bench: $tool missing: run scripts/setup.sh --test" >&2; exit 1; }; done
if has rovy || has rovy-tls || has rovy-exit; then [[ -f dist/rovy.js ]] || npm run --silent build; fi

# chain_up: namespaces A, B, C; veths A–B and B–C; IPv6 forwarding off everywhere.
chain_up() {
  local n
  for n in "$NA" "$NB" "$NC"; do
    ip netns add "$n"
    ip -n "$n" link set lo up
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.forwarding=0
  done
  ip link add vA netns "$NA" type veth peer name vBa netns "$NB"
  ip link add vBc netns "$NB" type veth peer name vC netns "$NC"
  ip -n "$NA" addr add fd00:ab::1/64 dev vA nodad; ip -n "$NB" addr add fd00:ab::2/64 dev vBa nodad
  ip -n "$NB" addr add fd00:bc::1/64 dev vBc nodad; ip -n "$NC" addr add fd00:bc::2/64 dev vC nodad
  ip -n "$NA" link set vA up; ip -n "$NB" link set vBa up; ip -n "$NB" link set vBc up; ip -n "$NC" link set vC up
}

# bg NS LOG cmd...: starts cmd in NS (ip netns exec execs it, so $! is the command's PID).
bg() {
  local ns=$1 lf=$2; shift 2
  ip netns exec "$ns" "$@" >"$lf" 2>&1 &
  BG_PID=$!; PIDS+=("$BG_PID")
}


reach_c() { # LABEL WHAT ADDR SECONDS LOG...: A pings C at ADDR within SECONDS, or the case has no result
  local label=$1 what=$2 addr=$3 wait=$4; shift 4
  log "$what: waiting (at most ${wait}s) until A pings C's $addr through B"
  wait_ping "$NA" "$addr" "$wait" && return 0
  log "$what: A could not reach C ($addr) through B within ${wait}s; no result"
  tails "$@"
  MEDIANS[$label]=""; DETAILS[$label]="no result: C unreachable from A within ${wait}s"
  teardown; return 1
}

# node_traffic NODE: "PACKETS BYTES" in plus out on the node's veths (B's halved: each packet it
# forwards goes in and out once).
node_traffic() {
  local ns devs f p=0 b=0 d rp rb tp tb
  case $1 in A) ns=$NA devs="vA" ;; B) ns=$NB devs="vBa vBc" ;; C) ns=$NC devs="vC" ;; esac
  for d in $devs; do
    f=/sys/class/net/$d/statistics
    { read -r rp; read -r rb; read -r tp; read -r tb; } < <(ip netns exec "$ns" cat "$f/rx_packets" "$f/rx_bytes" "$f/tx_packets" "$f/tx_bytes")
    p=$((p + rp + tp)); b=$((b + rb + tb))
  done
  [[ $1 == B ]] && { p=$((p / 2)); b=$((b / 2)); }
  echo "$p $b"
}

# iperf_case LABEL DST: iperf3 server in C, RUNS client runs from A. Sets MEDIAN (empty if no run
# gave a result), RATES and RETRANS (each run) and CPU (each daemon in DAEMONS, % of one core during the runs).
declare -A MEDIANS=() DETAILS=() DAEMONS=()
iperf_case() {
  local label=$1 dst=$2 i out rate rtx start=0 elapsed=0 t0 d p b
  local -A c0=() used=() p0=() b0=()
  ip netns exec "$NC" iperf3 -s -B "$dst" >"$WORK/iperf3-server-$label.log" 2>&1 &
  local srv=$!; PIDS+=("$srv")
  for i in $(seq 1 50); do ip netns exec "$NA" iperf3 -c "$dst" -n 1K >/dev/null 2>&1 && break; sleep 0.1; done
  RATES=() RETRANS=()
  for d in "${!DAEMONS[@]}"; do used[$d]=0; read -r p0[$d] b0[$d] < <(node_traffic "$d"); done
  for i in $(seq 1 "$RUNS"); do
    for d in "${!DAEMONS[@]}"; do c0[$d]=$(cpu_ticks "${DAEMONS[$d]}"); done
    start=$(date +%s%N)
    if out=$(timeout --foreground $((T + 30)) ip netns exec "$NA" iperf3 -c "$dst" -t "$T" --connect-timeout 5000 -J 2>&1) &&
      read -r rate rtx < <(iperf_rate "$out" 2>/dev/null); then
      RATES+=("$rate"); RETRANS+=("$rtx")
      log "$label run $i: $rate Gbit/s, $rtx retransmits"
    else
      log "$label run $i: no result ($(node -e 'try{console.log(JSON.parse(process.argv[1]).error)}catch{console.log(process.argv[1].slice(0,200))}' "$out"))"
    fi
    t0=$(date +%s%N); elapsed=$((elapsed + (t0 - start) / 1000000))
    for d in "${!DAEMONS[@]}"; do used[$d]=$((used[$d] + $(cpu_ticks "${DAEMONS[$d]}") - c0[$d])); done
  done
  stop_one "$srv"
  MEDIAN=""
  if ((${#RATES[@]})); then MEDIAN=$(printf '%s\n' "${RATES[@]}" | sort -n | sed -n "$(((${#RATES[@]} + 1) / 2))p"); fi
  CPU=""
  local hz; hz=$(getconf CLK_TCK)
  for d in A B C; do
    [[ -n ${DAEMONS[$d]:-} ]] || continue
    read -r p b < <(node_traffic "$d")
    CPU+="$d $((used[$d] * 100000 / hz / (elapsed > 0 ? elapsed : 1)))% $(node -e '
      const [ticks, hz, packets, bytes] = process.argv.slice(1).map(Number);
      const us = ticks * 1e6 / hz;
      console.log(`(${(us / Math.max(1, packets)).toFixed(2)} µs/packet, ${(us / Math.max(1, bytes / 1e6)).toFixed(0)} µs/MB)`);' \
      "${used[$d]}" "$hz" "$((p - p0[$d]))" "$((b - b0[$d]))") "
  done
  MEDIANS[$label]=$MEDIAN
  DETAILS[$label]="runs ${RATES[*]:-none} (${#RATES[@]}/$RUNS), retransmits ${RETRANS[*]:--}; daemon CPU (1 core = 100%): ${CPU% }"
}


tails() { # LOG...: each log's first error lines and its end, for a failed case
  local f
  for f in "$@"; do
    echo "--- $(basename "$f")" >&2
    { grep -m 3 -i 'error' "$f"; echo '...'; tail -n 5 "$f"; } >&2 || true
  done
}

ORDER=()
ROVY_LABEL="rovy, MTU 1420"
ROVY_TLS_LABEL="rovy over TLS, MTU 1420"

# --- rovy -----------------------------------------------------------------------------------
case_rovy() { # [tls]: links over TLS on TCP 9443 instead of UDP
  local tls=${1:-} label=$ROVY_LABEL n
  [[ -n $tls ]] && label=$ROVY_TLS_LABEL
  ORDER+=("$label")
  chain_up
  for n in a b c; do mkdir -p "$WORK/$n"; bin/rovy init --config "$WORK/$n/rovy.toml" >/dev/null; done
  local ida idb idc
  ida=$(bin/rovy id --config "$WORK/a/rovy.toml" --json)
  idb=$(bin/rovy id --config "$WORK/b/rovy.toml" --json)
  idc=$(bin/rovy id --config "$WORK/c/rovy.toml" --json)
  cfg() { # [UNDERLAY PEERID]...: a node listening on 7777 with these peers, iperf3's port open
    printf 'key_file = "node.key"\nlisten = ["/ip6/::/udp/7777"]\n[tun]\nname = "rovy0"\nmtu = 1420\noffload = %s\n[ports]\nallow = ["5201/tcp"]\n' "$OFFLOAD"
    while (($#)); do printf '[[peer]]\naddress = "/ip6/%s/udp/7777/rovy/%s"\n' "$1" "$2"; shift 2; done
  }
  if [[ -n $tls ]]; then
    tls_cfg() { # UNDERLAY PEERID, or nothing for B: it listens on TLS and accepts anyone
      printf 'key_file = "node.key"\nlisten = ["/ip6/::/udp/7777", "/ip6/::/tcp/9443/tls"]\n[tun]\nname = "rovy0"\nmtu = 1420\noffload = %s\n[ports]\nallow = ["5201/tcp"]\n' "$OFFLOAD"
      if (($#)); then printf '[[peer]]\naddress = "/ip6/%s/tcp/9443/tls/rovy/%s"\n' "$1" "$2"; else printf '[links]\naccept = "anyone"\n'; fi
    }
    tls_cfg fd00:ab::2 "$(field "$idb" peerId)" >"$WORK/a/rovy.toml"
    tls_cfg >"$WORK/b/rovy.toml"
    tls_cfg fd00:bc::1 "$(field "$idb" peerId)" >"$WORK/c/rovy.toml"
  else
    cfg fd00:ab::2 "$(field "$idb" peerId)" >"$WORK/a/rovy.toml"
    cfg fd00:ab::1 "$(field "$ida" peerId)" fd00:bc::2 "$(field "$idc" peerId)" >"$WORK/b/rovy.toml"
    cfg fd00:bc::1 "$(field "$idb" peerId)" >"$WORK/c/rovy.toml"
  fi
  local addr_c; addr_c=$(field "$idc" address)
  # --trace-gc prints one line per collection on stdout: the data path should cause (almost) none.
  # The daemons never reach the machine's system bus (as in test/net/netns.ts).
  declare -gA DAEMONS=()
  for n in A B C; do
    ip netns exec "rr$n-$$" env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/rovy-bench-bus \
      node --trace-gc dist/rovy.js daemon --config "$WORK/${n,}/rovy.toml" >"$WORK/gc-$n.log" 2>"$WORK/rovy-$n.log" &
    PIDS+=($!); DAEMONS[$n]=$!
  done
  reach_c "$label" rovy "$addr_c" "$ROVY_WAIT" "$WORK"/rovy-{A,B,C}.log || return 0
  local gc0 pk0 pk1
  gc0=$(wc -l <"$WORK/gc-B.log")
  fwd() { # packets B received on its two links
    local a b
    read -r a < <(ip netns exec "$NB" cat /sys/class/net/vBa/statistics/rx_packets)
    read -r b < <(ip netns exec "$NB" cat /sys/class/net/vBc/statistics/rx_packets)
    echo $((a + b))
  }
  pk0=$(fwd)
  iperf_case "$label" "$addr_c"
  pk1=$(fwd)
  # Young-generation garbage freed by B's scavenges during the runs, per packet B received on its
  # two links (nearly all forwarded: data one way, ACKs the other). Forwarding should make (almost) none.
  [[ -n $tls ]] && { teardown; return 0; }
  GC=$(tail -q -n +$((gc0 + 1)) "$WORK/gc-B.log" 2>/dev/null | node -e '
    const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.includes("Scavenge"));
    let freed = 0;
    for (const l of lines) { const m = l.match(/Scavenge ([\d.]+) \([\d.]+\) -> ([\d.]+)/); if (m) freed += (m[1] - m[2]) * 1048576; }
    const packets = +process.argv[1];
    console.log(`${lines.length} scavenges in B, ${(freed / Math.max(1, packets)).toFixed(1)} bytes of garbage per packet B forwarded (${packets} packets)`);
  ' "$((pk1 - pk0))")
  teardown
}

# --- rovy through an exit ---------------------------------------------------------------------
ROVY_EXIT6_LABEL="rovy through an exit, IPv6"
ROVY_EXIT4_LABEL="rovy through an exit, IPv4"
case_rovy_exit() {
  ORDER+=("$ROVY_EXIT6_LABEL" "$ROVY_EXIT4_LABEL")
  chain_up
  ip -n "$NB" addr add 198.51.100.1/24 dev vBc
  ip -n "$NC" addr add 198.51.100.2/24 dev vC
  ip netns exec "$NB" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
  local n ida idb
  for n in a b; do mkdir -p "$WORK/$n"; bin/rovy init --config "$WORK/$n/rovy.toml" >/dev/null; done
  ida=$(bin/rovy id --config "$WORK/a/rovy.toml" --json)
  idb=$(bin/rovy id --config "$WORK/b/rovy.toml" --json)
  local head='key_file = "node.key"\nlisten = ["/ip6/::/udp/7777"]\n[tun]\nname = "rovy0"\nmtu = 1420\noffload = %s\n'
  printf "$head"'[[peer]]\naddress = "/ip6/fd00:ab::2/udp/7777/rovy/%s"\n' "$OFFLOAD" "$(field "$idb" peerId)" >"$WORK/a/rovy.toml"
  printf "$head"'[exit]\noffer = true\nuplink = "vBc"\n[[peer]]\naddress = "/ip6/fd00:ab::1/udp/7777/rovy/%s"\n' "$OFFLOAD" "$(field "$ida" peerId)" >"$WORK/b/rovy.toml"
  # A uses B as its exit, as `rovy exit use` leaves it in A's state file.
  printf '{"enabled":true,"peers":[],"discovery":null,"blocked":[],"ports":[],"exit":{"peerId":"%s","killSwitch":false}}\n' "$(field "$idb" peerId)" >"$WORK/a/state.json"
  declare -gA DAEMONS=()
  for n in A B; do
    ip netns exec "rr$n-$$" env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/rovy-bench-bus \
      node dist/rovy.js daemon --config "$WORK/${n,}/rovy.toml" >"$WORK/rovy-exit-$n.log" 2>&1 &
    PIDS+=($!); DAEMONS[$n]=$!
  done
  reach_c "$ROVY_EXIT6_LABEL" "rovy exit" fd00:bc::2 "$ROVY_WAIT" "$WORK"/rovy-exit-{A,B}.log || { MEDIANS[$ROVY_EXIT4_LABEL]=""; return 0; }
  iperf_case "$ROVY_EXIT6_LABEL" fd00:bc::2
  iperf_case "$ROVY_EXIT4_LABEL" 198.51.100.2
  teardown
}

# --- yggdrasil chain ------------------------------------------------------------------------
ygg_conf() { # NAME MTU LISTEN_JSON PEERS_JSON: a fresh key and config, no multicast, no admin socket
  (umask 077; yggdrasil -genconf -json | node -e '
    const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const [listen, peers, mtu] = process.argv.slice(1);
    Object.assign(d, { Listen: JSON.parse(listen), Peers: JSON.parse(peers), MulticastInterfaces: [],
      AdminListen: "none", IfName: "ygg0", IfMTU: +mtu, NodeInfoPrivacy: true });
    console.log(JSON.stringify(d, null, 1));
  ' "$3" "$4" "$2" >"$WORK/ygg-$1.json")
}
case_ygg() { # MTU [tls]
  local mtu=$1 scheme=${2:-tcp} label n tunmtu over=""
  [[ $scheme == tls ]] && over=" over TLS"
  if [[ $mtu == 65535 ]]; then label="yggdrasil$over, IfMTU 65535 (default)"; else label="yggdrasil$over, IfMTU $mtu"; fi
  ORDER+=("$label")
  chain_up
  ygg_conf B "$mtu" "[\"$scheme://[fd00:ab::2]:9001\",\"$scheme://[fd00:bc::1]:9001\"]" '[]'
  ygg_conf A "$mtu" '[]' "[\"$scheme://[fd00:ab::2]:9001\"]"
  ygg_conf C "$mtu" '[]' "[\"$scheme://[fd00:bc::1]:9001\"]"
  local addr_c; addr_c=$(yggdrasil -useconffile "$WORK/ygg-C.json" -address)
  declare -gA DAEMONS=()
  bg "$NB" "$WORK/yggdrasil-B.log" yggdrasil -useconffile "$WORK/ygg-B.json" -logto stdout
  DAEMONS[B]=$BG_PID
  # A and C must find B listening: a refused first dial is retried only a minute later.
  for i in $(seq 1 50); do
    [[ $(ip netns exec "$NB" ss -Hltn 'sport = :9001' | wc -l) -ge 2 ]] && break
    sleep 0.1
  done
  for n in A C; do
    bg "rr$n-$$" "$WORK/yggdrasil-$n.log" yggdrasil -useconffile "$WORK/ygg-$n.json" -logto stdout
    DAEMONS[$n]=$BG_PID
  done
  reach_c "$label" "yggdrasil IfMTU $mtu" "$addr_c" "$YGG_WAIT" "$WORK"/yggdrasil-{A,B,C}.log || return 0
  tunmtu=$(ip -n "$NA" -o link show ygg0 | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
  iperf_case "$label" "$addr_c"
  DETAILS[$label]="TUN MTU $tunmtu; ${DETAILS[$label]}"
  teardown
}

# --- wireguard-go hub -----------------------------------------------------------------------
case_wg() {
  local label="wireguard-go hub, MTU 1420" n
  ORDER+=("$label")
  chain_up
  ip netns exec "$NB" sysctl -qw net.ipv6.conf.all.forwarding=1
  mkdir -p /var/run/wireguard
  declare -gA DAEMONS=() WGIF=() WGPUB=()
  for n in A B C; do
    WGIF[$n]=wgr$$${n,}; WGIF[$n]=${WGIF[$n]:0:15}; WGIFS+=("${WGIF[$n]}")
    (umask 077; wg genkey >"$WORK/wg-$n.key")
    WGPUB[$n]=$(wg pubkey <"$WORK/wg-$n.key")
    bg "rr$n-$$" "$WORK/wireguard-go-$n.log" env LOG_LEVEL=error wireguard-go -f "${WGIF[$n]}"
    DAEMONS[$n]=$BG_PID
  done
  for i in $(seq 1 50); do
    [[ -S /var/run/wireguard/${WGIF[A]}.sock && -S /var/run/wireguard/${WGIF[B]}.sock && -S /var/run/wireguard/${WGIF[C]}.sock ]] && break
    sleep 0.1
  done
  # A and C send all of fd01::/64 to B; B knows each by its /128 and forwards between them.
  ip netns exec "$NA" wg set "${WGIF[A]}" private-key "$WORK/wg-A.key" listen-port 51820 peer "${WGPUB[B]}" allowed-ips fd01::/64 endpoint '[fd00:ab::2]:51820'
  ip netns exec "$NC" wg set "${WGIF[C]}" private-key "$WORK/wg-C.key" listen-port 51820 peer "${WGPUB[B]}" allowed-ips fd01::/64 endpoint '[fd00:bc::1]:51820'
  ip netns exec "$NB" wg set "${WGIF[B]}" private-key "$WORK/wg-B.key" listen-port 51820 \
    peer "${WGPUB[A]}" allowed-ips fd01::1/128 endpoint '[fd00:ab::1]:51820' \
    peer "${WGPUB[C]}" allowed-ips fd01::3/128 endpoint '[fd00:bc::2]:51820'
  ip -n "$NA" addr add fd01::1/64 dev "${WGIF[A]}" nodad; ip -n "$NA" link set "${WGIF[A]}" mtu 1420 up
  ip -n "$NB" addr add fd01::2/64 dev "${WGIF[B]}" nodad; ip -n "$NB" link set "${WGIF[B]}" mtu 1420 up
  ip -n "$NC" addr add fd01::3/64 dev "${WGIF[C]}" nodad; ip -n "$NC" link set "${WGIF[C]}" mtu 1420 up
  reach_c "$label" wireguard-go fd01::3 20 "$WORK"/wireguard-go-{A,B,C}.log || return 0
  iperf_case "$label" fd01::3
  teardown
}

GC=""
if has rovy; then case_rovy; fi
if has ygg; then for m in $YGG_MTUS; do case_ygg "$m"; done; fi
if has wg; then case_wg; fi
if has rovy-tls; then case_rovy tls; fi
if has ygg-tls; then for m in $YGG_MTUS; do case_ygg "$m" tls; done; fi
if has rovy-exit; then case_rovy_exit; fi

ratio() { # NUM DEN
  if [[ -n $1 && -n $2 ]]; then node -e "console.log(($1/$2).toFixed(2)+'x')"; else echo "n/a"; fi
}
echo
echo "iperf3 TCP A → C through B (A and C peer only with B; or B is A's exit and C is beyond it), median of $RUNS × ${T}s, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
versions=()
(has ygg || has ygg-tls) && versions+=("yggdrasil $(yggdrasil -version | sed -n 's/^Build version: //p')")
has wg && versions+=("wireguard-go $(wireguard-go --version | head -1 | awk '{print $2}')")
((${#versions[@]})) && echo "  peers: ${versions[*]}"
missing=0
for l in "${ORDER[@]}"; do
  printf '  %-46s %8s Gbit/s   %s\n' "$l" "${MEDIANS[$l]:--}" "${DETAILS[$l]:-}"
  [[ -n ${MEDIANS[$l]:-} ]] || missing=1
done
rovy=${MEDIANS[$ROVY_LABEL]:-}
rovy_tls=${MEDIANS[$ROVY_TLS_LABEL]:-}
if has rovy || has rovy-tls; then
  for l in "${ORDER[@]}"; do
    [[ $l == rovy* ]] && continue
    # Like with like: a TLS link beside a TLS link.
    if [[ $l == *"over TLS"* ]]; then
      has rovy-tls && printf '  %-46s %8s\n' "rovy over TLS / $l" "$(ratio "$rovy_tls" "${MEDIANS[$l]:-}")"
    elif has rovy; then
      printf '  %-46s %8s\n' "rovy / $l" "$(ratio "$rovy" "${MEDIANS[$l]:-}")"
    fi
  done
  if [[ -n $GC ]]; then echo "  rovy GC during the runs: $GC"; fi
fi
if has rovy-exit && has rovy; then
  printf '  %-46s %8s\n' "$ROVY_EXIT6_LABEL / routed" "$(ratio "${MEDIANS[$ROVY_EXIT6_LABEL]:-}" "$rovy")"
  printf '  %-46s %8s\n' "$ROVY_EXIT4_LABEL / routed" "$(ratio "${MEDIANS[$ROVY_EXIT4_LABEL]:-}" "$rovy")"
fi
if has ygg && [[ " $YGG_MTUS " == *" 65535 "* ]]; then
  echo "  (yggdrasil's default IfMTU gives its TUN the MTU in its row, tens of times the data per packet of the 1420 rows: compare like with like)"
fi
# The bars (issue 12): routed, rovy at least 1.5x yggdrasil at its default MTU, and 1.0 Gbit/s.
fail=0
ygg_default=${MEDIANS["yggdrasil, IfMTU 65535 (default)"]:-}
if has rovy && [[ -n $rovy ]]; then
  bar "rovy >= 1.0 Gbit/s routed" "$rovy >= 1.0"
  [[ -n $ygg_default ]] && bar "rovy >= 1.5x yggdrasil at its default MTU" "$rovy >= 1.5 * $ygg_default"
fi
if ((missing)); then echo "  some case produced no result (see above)"; exit 1; fi
exit $fail
