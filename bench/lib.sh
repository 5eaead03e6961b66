# Shared by the shell benchmarks (sourced): logging, and ending the processes a bench started.
# PIDS holds every process the bench started and has not ended yet.
PIDS=()

log() { echo "bench: $*" >&2; }

# stop_pids: SIGTERM every process in PIDS, wait for each (SIGKILL after 5 s), forget them.
stop_pids() {
  local p i
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  PIDS=()
}

# field JSON KEY: one field of a JSON object (the output of `rovy id --json`).
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }

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
