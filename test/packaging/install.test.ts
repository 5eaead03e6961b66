// README's first line, `scripts/setup.sh && scripts/install.sh`, on a machine with a system bus
// and no systemd (as these machines are): after install.sh returns, `rovy status` and
// `rovy peers` answer, and a second run is as good as the first (the daemon restarted on the new
// build). (With systemd, install.sh hands over to `systemctl enable --now rovyd`, which
// rovyd.test.ts covers; with no bus at all, api.test.ts checks the daemon's one line on how to
// get its API.)
//
// It runs in namespaces of its own (mount, network, PID): /usr, /etc and /var are overlays whose
// changes land in a temp dir, /run is a fresh tmpfs holding the system bus Debian's own
// system.conf describes, and the network is empty but for lo. When the script ends, its PID
// namespace ends every process in it; nothing of the machine is changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../repo-root.js';
import { isRoot } from '../wait.js';
import { tempDir } from '../temp-dir.js';

const SANDBOX = `set -euo pipefail
work=$1; checkout=$2
for d in usr etc var; do
  mkdir -p "$work/$d.upper" "$work/$d.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/$d.upper,workdir=$work/$d.work" "/$d"
done
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/dbus
ip link set lo up
dbus-daemon --system --nofork --nopidfile &
for _ in $(seq 100); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.05; done
cd "$checkout"
echo "== install 1"
scripts/install.sh
pid1=$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetConnectionUnixProcessID s net.rovy.Rovy1)
echo "== peers"
rovy peers
echo "== install 2"
scripts/install.sh
pid2=$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetConnectionUnixProcessID s net.rovy.Rovy1)
echo "== daemons $pid1 $pid2"
echo "== user $(id -u rovy) $(stat -c '%U %a' /var/lib/rovy) $(stat -c '%U %a' /var/lib/rovy/node.key)"
`;

test('README line one on a machine with a system bus: install.sh installs, starts the daemon, and rovy status answers; twice', { skip: !isRoot && 'needs root', timeout: 300_000 }, (t) => {
  const work = tempDir(t, 'rovy-install-');
  // The machine's system bus address, not any private one a caller may have set.
  const env = { ...process.env };
  delete env.DBUS_SYSTEM_BUS_ADDRESS;
  // On a timeout unshare is killed, and with it (--kill-child) the namespace's first process,
  // whose end ends every other process in the PID namespace.
  const r = spawnSync('unshare', ['--mount', '--net', '--pid', '--fork', '--kill-child', '--propagation', 'private', 'bash', '-c', SANDBOX, 'bash', work, ROOT], {
    encoding: 'utf8',
    timeout: 240_000,
    killSignal: 'SIGKILL',
    env,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  const section = (name: string): string => (new RegExp(`== ${name}\\n([\\s\\S]*?)(?=\\n== |$)`).exec(r.stdout)?.[1] ?? '');
  // rovy status, as install.sh prints it once the daemon answers on the bus.
  for (const run of ['install 1', 'install 2']) {
    assert.match(section(run), /^peer id +bafzqai[a-z2-7]{52}$/m, `${run}:\n${out}`);
    assert.match(section(run), /^state +offline$/m, `${run}:\n${out}`);
  }
  assert.equal(section('peers'), 'no peers', out);
  const [, pid1, pid2] = /== daemons u (\d+) u (\d+)/.exec(r.stdout) ?? [];
  assert.ok(pid1 && pid2 && pid1 !== pid2, `the second install restarts the daemon on the new build:\n${out}`);
  // The daemon ran as root (bus activation without systemd), in the rovy user's state directory.
  assert.match(r.stdout, /== user \d+ rovy 700 rovy 600/, out);
});
