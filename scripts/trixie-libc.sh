#!/usr/bin/env bash
# Debian 13's C and C++ runtime (libc6, libstdc++6, libgcc-s1), unpacked into a directory of their
# own for the fuzzer: @jazzer.js's prebuilt addon needs glibc 2.38 and libstdc++ 3.4.32, newer than
# Debian 12's. scripts/fuzz.sh runs Node under this runtime's dynamic loader (the libraries are
# backward compatible, so Node and rovy's addon run on them unchanged); nothing on the system
# changes. Safe to run again: an existing unpack is kept.
#   scripts/trixie-libc.sh [DIR]     (default /var/tmp/rovy-trixie-libc)
# prints the directory holding ld-linux-x86-64.so.2 and the libraries.
set -euo pipefail
DIR=${1:-/var/tmp/rovy-trixie-libc}
LIB=$DIR/usr/lib/x86_64-linux-gnu
if [[ -x $LIB/ld-linux-x86-64.so.2 && -e $LIB/libstdc++.so.6 ]]; then echo "$LIB"; exit 0; fi
[[ $(uname -m) == x86_64 ]] || { echo "trixie-libc.sh: x86_64 only" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "trixie-libc.sh: needs root (apt-get download as the _apt sandbox user)" >&2; exit 1; }

apt=$(mktemp -d /tmp/rovy-trixie-libc-apt.XXXXXX)
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
(cd "$apt" && apt-get "${opts[@]}" download libc6 libstdc++6 libgcc-s1 >/dev/null)
# Unpacked next to the target and moved into place whole, so an interrupted run leaves nothing half done.
mkdir -p "$(dirname "$DIR")"
stage=$(mktemp -d "$(dirname "$DIR")/.rovy-trixie-libc.XXXXXX")
for deb in "$apt"/*.deb; do dpkg-deb -x "$deb" "$stage"; done
rm -rf "$DIR"
mv "$stage" "$DIR"
echo "$LIB"
