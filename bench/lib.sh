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
