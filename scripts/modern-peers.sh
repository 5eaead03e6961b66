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
[[ $(id -u) == 0 ]] || { echo "modern-peers.sh: needs root (apt-get download as the _apt sandbox user)" >&2; exit 1; }

apt=$(mktemp -d /tmp/rovy-peers-apt.XXXXXX)
trap 'rm -rf "$apt"' EXIT
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
# The mirror this machine's apt uses (deb822 or one-line format), suite trixie, main only.
mirror=$(grep -h -m1 -oP '^URIs:\s*\K\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null ||
  grep -h -m1 -oP '^deb\s+(\[[^]]*\]\s+)?\K\S+' /etc/apt/sources.list 2>/dev/null || echo http://deb.debian.org/debian)
echo "deb $mirror trixie main" >"$apt/sources.list"
opts=(-o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
  -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o APT::Sandbox::User=root
  -o Acquire::Check-Valid-Until=false)
apt-get "${opts[@]}" update -qq
(cd "$apt" && apt-get "${opts[@]}" download wireguard-go yggdrasil >/dev/null)
# Unpacked next to the target and moved into place whole, so an interrupted run leaves nothing half done.
stage=$(mktemp -d "$(dirname "$DIR")/.rovy-peers.XXXXXX")
for deb in "$apt"/*.deb; do dpkg-deb -x "$deb" "$stage"; done
rm -rf "$DIR"
mv "$stage" "$DIR"
chmod 755 "$DIR"
echo "$DIR"
