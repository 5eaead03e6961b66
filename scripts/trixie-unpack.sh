#!/usr/bin/env bash
# Downloads Debian 13 (trixie) packages from the mirror this machine's apt uses and unpacks them
# into DIR, without touching apt's configuration or the installed packages: for programs and
# libraries newer than Debian 12's that the benchmarks and tests need (scripts/modern-peers.sh,
# scripts/trixie-libc.sh). DIR is replaced whole, so an interrupted run leaves nothing half done.
#   scripts/trixie-unpack.sh DIR PACKAGE...
set -euo pipefail
(($# >= 2)) || { echo "usage: trixie-unpack.sh DIR PACKAGE..." >&2; exit 2; }
DIR=$1; shift
[[ $(id -u) == 0 ]] || { echo "trixie-unpack.sh: needs root (apt-get download as the _apt sandbox user)" >&2; exit 1; }

apt=$(mktemp -d /tmp/rovy-trixie-apt.XXXXXX)
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
(cd "$apt" && apt-get "${opts[@]}" download "$@" >/dev/null)
mkdir -p "$(dirname "$DIR")"
stage=$(mktemp -d "$(dirname "$DIR")/.rovy-trixie.XXXXXX")
for deb in "$apt"/*.deb; do dpkg-deb -x "$deb" "$stage"; done
rm -rf "$DIR"
mv "$stage" "$DIR"
chmod 755 "$DIR"
