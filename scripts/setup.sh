#!/usr/bin/env bash
# Installs what rovy needs on Debian 12, as root, and builds it. Safe to run again.
#   scripts/setup.sh          the daemon: build tools for the native addon, iproute2, npm packages
#   scripts/setup.sh --test   and what the tests and benchmarks use (ping, traceroute6, iperf3, dig,
#                             wireguard-go and yggdrasil for the side-by-side benchmarks and the
#                             WireGuard interop test, in Debian 13's versions too (Debian's
#                             yggdrasil.service stays disabled); nftables and BIRD 2 for the
#                             exit and BGP tests (which run their own, in namespaces); dbus-daemon, busctl,
#                             gdbus, dbus-send and polkitd for the D-Bus tests; NetworkManager,
#                             which the tests run in a namespace of their own, never on the host;
#                             meson, debhelper and mmdebstrap for the packaging tests; GNOME
#                             Shell 43 for the extension's tests; clang and Debian 13's C library
#                             for the fuzzers)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(iproute2 make gcc g++ python3 ca-certificates)
# scripts/install.sh builds and installs with meson; pkg-config tells it systemd's and
# bash-completion's directories.
pkgs+=(meson ninja-build pkg-config bash-completion)
# The GNOME Shell extension's translations are compiled with msgfmt; its zip is made with python3.
pkgs+=(gettext)
if [[ ${1:-} == --test ]]; then
  pkgs+=(iputils-ping iputils-tracepath traceroute iperf3 wireguard-go wireguard-tools yggdrasil procps bind9-dnsutils)
  # test/net/udp-hostile.test.ts: a namespace whose firewall drops all UDP; the exits' masquerading
  pkgs+=(nftables)
  # test/net/bgp.test.ts: BIRD 2 at an exit and at its upstream router (Debian's bird2.service
  # stays as the package leaves it: the test runs its own, in namespaces)
  pkgs+=(bird2)
  pkgs+=(dbus-daemon dbus-bin libglib2.0-bin systemd polkitd util-linux)
  # test/desktop/networkmanager.test.ts: NetworkManager and nmcli (Debian's package does not
  # start it where systemd is not PID 1; the tests start their own, in a network namespace)
  pkgs+=(network-manager)
  # test/packaging: renders the man pages
  pkgs+=(groff-base)
  # packaging/build-deb.sh (dpkg-buildpackage, debhelper); test/packaging/debian.test.ts builds a
  # Debian 13 chroot with mmdebstrap to install the .deb in (lintian runs inside it)
  pkgs+=(dpkg-dev debhelper build-essential fakeroot mmdebstrap)
  # test/desktop/gnome-shell-*.test.ts: GNOME Shell 43, headless (GNOME 48 and 50 come in Debian
  # chroots the tests build with mmdebstrap); the font and loaders its wallpaper and UI use
  pkgs+=(gnome-shell fonts-cantarell at-spi2-core webp-pixbuf-loader)
  # ...and a German locale, to see the extension's translation in a German session
  pkgs+=(locales)
  # test/packaging/unprivileged.test.ts traces the daemon's system calls against the unit's
  # filter; test/packaging/rovyd.test.ts runs the unit under systemd in a systemd-nspawn container
  pkgs+=(strace systemd-container)
  # scripts/fuzz.sh and test/unit/fuzz.test.ts: libFuzzer, ASan and UBSan for the addon's C parsers
  pkgs+=(clang libclang-rt-14-dev bc)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -q
  # The test tools' services are started by the tests themselves, in namespaces and on buses of
  # their own: on a machine that runs systemd none is started here, and NetworkManager, which
  # would take over the host's network, is not enabled either.
  guard=
  if [[ ${1:-} == --test && -d /run/systemd/system && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# scripts/setup.sh --test: start no service while it installs\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    guard=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
  if [[ -n $guard ]] && printf '%s\n' "${missing[@]}" | grep -qx network-manager; then
    systemctl disable NetworkManager.service NetworkManager-wait-online.service NetworkManager-dispatcher.service 2>/dev/null || true
  fi
fi

# The current wireguard-go and yggdrasil (Debian 13's), for the benchmarks and
# test/net/wireguard-interop.test.ts, unpacked beside the system's, which stay as they are.
if [[ ${1:-} == --test ]]; then scripts/modern-peers.sh >/dev/null; fi
# Debian 13's C library, which Jazzer.js's prebuilt addon needs (scripts/fuzz.sh runs Node under it).
if [[ ${1:-} == --test ]]; then scripts/trixie-libc.sh >/dev/null; fi

if [[ ${1:-} == --test ]] && ! locale -a 2>/dev/null | grep -qx 'de_DE.utf8'; then
  localedef -i de_DE -f UTF-8 de_DE.UTF-8
fi

if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
  echo "rovy needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm ci builds the native addon (binding.gyp, against the installed Node's headers) and then
# bundles the code (the prepare script), so bin/rovy works when it returns.
npm ci --no-audit --no-fund
