# Shared by the shell benchmarks (sourced): logging, and ending the processes a bench started.
# PIDS holds every process the bench started and has not ended yet.
PIDS=()

log() { echo "bench: $*" >&2; }

# reap PID: wait for a process already sent SIGTERM to end (SIGKILL after 5 s).
reap() {
  local i
  for i in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# stop_pids: SIGTERM every process in PIDS, reap each, forget them.
stop_pids() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do reap "$p"; done
  PIDS=()
}

# stop_one PID: end one process in PIDS and forget it.
stop_one() {
  local p keep=()
  kill "$1" 2>/dev/null || true
  reap "$1"
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }   # utime+stime of PID

wait_ping() { # NS ADDR SECONDS: polls until one ping answers, at most SECONDS
  local end=$((SECONDS + $3))
  while ((SECONDS < end)); do
    ip netns exec "$1" ping -6 -c1 -W1 "$2" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# bar TEXT CONDITION: prints whether a target (a JavaScript condition) is met; sets fail=1 if not.
bar() {
  if node -e "process.exit(($2) ? 0 : 1)"; then echo "  bar $1: met"; else echo "  bar $1: NOT met"; fail=1; fi
}

# field JSON KEY: one field of a JSON object (the output of `rovy id --json`).
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }
# iperf3 -J text → "Gbit/s retransmits" received; fails, saying why, when the report is not JSON,
# carries iperf3's `error` (sometimes with exit 0) or has no receiver's sum.
iperf_rate() {
  node -e '
    let r; try { r = JSON.parse(process.argv[1]); } catch { console.error("iperf3 printed no JSON: " + process.argv[1].slice(0, 200)); process.exit(1); }
    if (r.error !== undefined) { console.error("iperf3: " + r.error); process.exit(1); }
    const got = r.end && r.end.sum_received;
    if (!got || !Number.isFinite(got.bits_per_second)) { console.error("iperf3 reported nothing received"); process.exit(1); }
    console.log((got.bits_per_second / 1e9).toFixed(3), (r.end.sum_sent && r.end.sum_sent.retransmits) ?? "-");
  ' "$1"
}

# The direct topology: namespaces $NA and $NB joined by one veth, vA fd00:be::1/64 in NA and
# vB fd00:be::2/64 in NB; veth_pair_down deletes both namespaces.
veth_pair_up() {
  ip netns add "$NA"; ip netns add "$NB"
  ip -n "$NA" link set lo up; ip -n "$NB" link set lo up
  ip link add vA netns "$NA" type veth peer name vB netns "$NB"
  ip -n "$NA" addr add fd00:be::1/64 dev vA nodad; ip -n "$NB" addr add fd00:be::2/64 dev vB nodad
  ip -n "$NA" link set vA up; ip -n "$NB" link set vB up
}
veth_pair_down() {
  ip netns del "$NA" 2>/dev/null || true
  ip netns del "$NB" 2>/dev/null || true
}
