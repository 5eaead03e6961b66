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
"$(dirname "$0")/trixie-unpack.sh" "$DIR" libc6 libstdc++6 libgcc-s1
echo "$LIB"
