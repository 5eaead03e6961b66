#!/usr/bin/env bash
# Soak: ten daemons with churn for MINUTES (default 30). Each node is a daemon in a namespace of its
# own on one bridge, configured with the two nearest each way around a ring, so most pairs are
# routed over other nodes. Every CHURN seconds (default 20) one of the eight churned nodes (all but 0 and 5)
# is stopped and started again, the one after it in turn; node 0 pings node 5 five times a second
# throughout, and every node once a minute. Nodes 0 and 5 are never restarted: their resident
# memory and open file descriptors are sampled every minute and must stay flat; no daemon may log
# an error or exit unasked. Prints the samples, the figures and the bars; docs/PERFORMANCE.md
# keeps the last run's.
#
#   ns ksw-PID: bridge br0 ── port<i> ── ns k<i>-PID: lan0 fd00:ad::<i+1>/64, rovy daemon
#
# Every process is ended by PID and waited for; the namespaces are deleted on exit (Ctrl-C too).
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-30}
CHURN=${CHURN:-20}
N=10
WORK=$(mktemp -d /tmp/rovy-bench-soak.XXXXXX)
SW=ksw-$$
NSS=()
. bench/lib.sh

cleanup() {
  set +e
  trap - EXIT INT TERM
  stop_pids
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) == 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
[[ -f dist/rovy.js ]] || npm run --silent build
rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

ip netns add "$SW"; NSS+=("$SW")
ip -n "$SW" link add br0 type bridge; ip -n "$SW" link set br0 up
ids=() addrs=()
for i in $(seq 0 $((N - 1))); do
  ns=k$i-$$; ip netns add "$ns"; NSS+=("$ns")
  ip -n "$ns" link set lo up
  ip link add lan0 netns "$ns" type veth peer name "port$i" netns "$SW"
  ip -n "$SW" link set "port$i" master br0 up
  ip -n "$ns" addr add "fd00:ad::$(printf '%x' $((i + 1)))/64" dev lan0 nodad
  ip -n "$ns" link set lan0 up
  mkdir -p "$WORK/$i"
  bin/rovy init --config "$WORK/$i/rovy.toml" >/dev/null
  id=$(bin/rovy id --config "$WORK/$i/rovy.toml" --json)
  ids+=("$(field "$id" peerId)"); addrs+=("$(field "$id" address)")
done
# A ring with chords: node i and the nodes one and two away each way list each other (a hop
# session needs both ends to know the other). Discovery off: the links are these.
for i in $(seq 0 $((N - 1))); do
  {
    printf 'key_file = "node.key"\nlisten = ["/ip6/::/udp/7777"]\n[discovery]\npolicy = "off"\n'
    for d in 1 2 $((N - 2)) $((N - 1)); do j=$(((i + d) % N)); printf '[[peer]]\naddress = "/ip6/fd00:ad::%x/udp/7777/rovy/%s"\n' $((j + 1)) "${ids[$j]}"; done
  } >"$WORK/$i/rovy.toml"
done

declare -A PID_OF=()
start_node() { # I
  ip netns exec "k$1-$$" env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/rovy-bench-bus \
    node dist/rovy.js daemon --config "$WORK/$1/rovy.toml" >>"$WORK/$1.log" 2>&1 &
  PID_OF[$1]=$!
  PIDS+=($!)
}
for i in $(seq 0 $((N - 1))); do start_node "$i"; done
for i in $(seq 1 $((N - 1))); do
  wait_ping "k0-$$" "${addrs[$i]}" 120 || { log "node 0 cannot reach node $i"; tail -5 "$WORK/0.log" >&2; exit 1; }
done
log "all $N nodes reach each other; soaking for $MINUTES min, a restart every ${CHURN}s"

ip netns exec "k0-$$" ping -6 -i 0.2 -W 2 "${addrs[5]}" >"$WORK/ping.log" 2>&1 &
pinger=$!; PIDS+=("$pinger")

churned=(1 2 3 4 6 7 8 9)
restarts=0 unreached=0 next=0
samples=()
end=$((SECONDS + MINUTES * 60))
next_sample=$SECONDS next_churn=$((SECONDS + CHURN))
printf '%6s %12s %9s %12s %9s\n' minute "node0 RSS" "node0 fds" "node5 RSS" "node5 fds" >&2
while ((SECONDS < end)); do
  if ((SECONDS >= next_sample)); then
    line="$(((SECONDS - end + MINUTES * 60) / 60)) $(rss_mb "${PID_OF[0]}") $(fds "${PID_OF[0]}") $(rss_mb "${PID_OF[5]}") $(fds "${PID_OF[5]}")"
    samples+=("$line")
    printf '%6s %9s MB %9s %9s MB %9s\n' $line >&2
    # Every node, once a minute, must answer within 30 s. A node restarted lately has lost its
    # end-to-end session with node 0, whose packets it cannot read; as in WireGuard, node 0 starts
    # a new handshake once it has heard nothing back for 15 s.
    for i in $(seq 1 $((N - 1))); do wait_ping "k0-$$" "${addrs[$i]}" 30 || unreached=$((unreached + 1)); done
    next_sample=$((next_sample + 60))
  fi
  if ((SECONDS >= next_churn)); then
    i=${churned[$((next % ${#churned[@]}))]}; next=$((next + 1))
    stop_one "${PID_OF[$i]}"
    start_node "$i"
    restarts=$((restarts + 1))
    next_churn=$((next_churn + CHURN))
  fi
  for i in 0 5; do kill -0 "${PID_OF[$i]}" 2>/dev/null || { log "node $i exited"; tail -5 "$WORK/$i.log" >&2; exit 1; }; done
  sleep 1   # the loop's pace; every wait for a state above polls with a bound
done
samples+=("$MINUTES $(rss_mb "${PID_OF[0]}") $(fds "${PID_OF[0]}") $(rss_mb "${PID_OF[5]}") $(fds "${PID_OF[5]}")")
printf '%6s %9s MB %9s %9s MB %9s\n' ${samples[-1]} >&2
kill -INT "$pinger" 2>/dev/null || true
wait "$pinger" 2>/dev/null || true

errors=$(cat "$WORK"/[0-9]*.log | grep -c 'rovy: error:' || true)
pings=$(grep -oP '\d+ packets transmitted, \d+ received' "$WORK/ping.log" || echo '0 packets transmitted, 0 received')
read -r first_rss0 first_fd0 first_rss5 first_fd5 < <(echo "${samples[$(( ${#samples[@]} > 1 ? 1 : 0 ))]#* }")
read -r last_rss0 last_fd0 last_rss5 last_fd5 < <(echo "${samples[-1]#* }")

echo
echo "soak: $N daemons, $MINUTES min, $restarts restarts (one every ${CHURN}s), node 0 → node 5: $pings"
echo "  node 0: RSS ${first_rss0} → ${last_rss0} MB, fds ${first_fd0} → ${last_fd0} (from minute 1 to the end)"
echo "  node 5: RSS ${first_rss5} → ${last_rss5} MB, fds ${first_fd5} → ${last_fd5}"
echo "  errors logged: $errors; nodes not reached within 30 s at the minute checks: $unreached"
fail=0
bar "RSS flat (within 10 MB from minute 1)" "$last_rss0 - $first_rss0 <= 10 && $last_rss5 - $first_rss5 <= 10"
bar "open file descriptors flat" "$last_fd0 === $first_fd0 && $last_fd5 === $first_fd5"
bar "no error logged" "$errors === 0"
bar "every node reached at every minute check" "$unreached === 0"
exit $fail
