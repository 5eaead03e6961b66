#!/usr/bin/env bash
# Installs rovy from this checkout into /usr with meson and starts it, as root; safe to run again.
# Run scripts/setup.sh first (meson, ninja, esbuild in node_modules).
#   1. meson setup (or reconfigure) build/meson --prefix=/usr, compile, install
#   2. the rovy user and /var/lib/rovy (systemd-sysusers, systemd-tmpfiles), where those exist
#   3. a running system bus rereads its policy, so the daemon may own net.rovy.Rovy1
#   4. with systemd as PID 1: systemctl enable --now rovyd (restarted if it was running, so the
#      new build runs); otherwise the daemon runs here in the foreground
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

if [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  # enable --now, but restart: a daemon already running from an earlier install runs this one.
  systemctl enable rovyd
  systemctl restart rovyd
else
  exec /usr/bin/rovy daemon
fi
