#!/usr/bin/env bash
# Installs rovy from this checkout into /usr with meson and starts it, as root; safe to run again.
# Run scripts/setup.sh first (meson, ninja, esbuild in node_modules).
#   1. meson setup (or reconfigure) build/meson --prefix=/usr, compile, install
#   2. the rovy user and /var/lib/rovy (systemd-sysusers, systemd-tmpfiles), where those exist
#   3. a running system bus rereads its policy, so the daemon may own net.rovy.Rovy1
#   4. with systemd as PID 1: systemctl enable --now rovyd (restarted if it was running, so the
#      new build runs); with a system bus but no systemd: the bus starts the daemon (activation,
#      after stopping one from an earlier install); with no bus at all: the daemon runs here in
#      the foreground and says how to get its API
set -euo pipefail
cd "$(dirname "$0")/.."

if ((EUID != 0)); then
  echo "scripts/install.sh installs into /usr and starts a system service: run it as root" >&2
  exit 1
fi

# Inside build/ (ignored by git) but not build/Release, node-gyp's; a `node-gyp rebuild` that
# removes build/ only costs a fresh setup here.
builddir=build/meson
if [[ -f $builddir/build.ninja ]]; then
  meson setup --reconfigure "$builddir" --prefix=/usr
else
  meson setup "$builddir" --prefix=/usr
fi
meson compile -C "$builddir"
meson install -C "$builddir"

# Our files only: given a bare name, both tools look for it in their own directories.
if command -v systemd-sysusers >/dev/null; then systemd-sysusers rovy.conf; fi
if command -v systemd-tmpfiles >/dev/null; then systemd-tmpfiles --create rovy.conf; fi

# Without a running system bus there is nothing to tell; the daemon will say its API is off.
dbus-send --system --type=method_call --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig 2>/dev/null || true

# A method of the bus itself: bus METHOD [SIGNATURE ARGUMENTS...]
bus() {
  local method=$1
  shift
  busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus "$method" "$@"
}

if [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  # enable --now, but restart: a daemon already running from an earlier install runs this one.
  systemctl enable rovyd
  systemctl restart rovyd
elif bus GetId >/dev/null 2>&1; then
  # A daemon from an earlier install runs the old build: stop it, by the PID the bus knows.
  if pid=$(bus GetConnectionUnixProcessID s net.rovy.Rovy1 2>/dev/null); then
    kill -TERM "${pid#u }"
    for _ in $(seq 100); do
      bus NameHasOwner s net.rovy.Rovy1 | grep -q false && break
      sleep 0.1
    done
  fi
  # The bus runs the activation file's Exec= (as root: without systemd nothing else could give
  # the daemon CAP_NET_ADMIN) and answers once the daemon owns its name.
  bus StartServiceByName su net.rovy.Rovy1 0 >/dev/null
  /usr/bin/rovy status
else
  exec /usr/bin/rovy daemon
fi
