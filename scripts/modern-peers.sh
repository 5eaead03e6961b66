#!/usr/bin/env bash
# The overlays the benchmarks measure rovy against, in their current versions: wireguard-go and
# yggdrasil as Debian 13 (trixie) packages them. Debian 12's builds are a generation older
# (wireguard-go without its TUN and UDP offloads, yggdrasil 0.4) and would flatter rovy. Both are
# static Go binaries, so trixie's run here; they are unpacked into a directory of their own, and
# neither apt's configuration nor the installed packages change. Safe to run again: an existing
# unpack is kept.
#   scripts/modern-peers.sh [DIR]     (default /var/tmp/rovy-peers)
# prints DIR; the programs are DIR/usr/bin/wireguard-go and DIR/usr/sbin/yggdrasil.
set -euo pipefail
DIR=${1:-/var/tmp/rovy-peers}
if [[ -x $DIR/usr/bin/wireguard-go && -x $DIR/usr/sbin/yggdrasil ]]; then echo "$DIR"; exit 0; fi
"$(dirname "$0")/trixie-unpack.sh" "$DIR" wireguard-go yggdrasil
echo "$DIR"
