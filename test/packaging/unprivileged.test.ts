// The daemon as rovyd.service runs it: as the system user rovy (made from the repo's
// rovy.sysusers, as installing the package does), with CAP_NET_ADMIN as its only capability,
// ambient so that its `ip` children have it too, and no way to gain more (setpriv does what
// User=, AmbientCapabilities=, CapabilityBoundingSet= and NoNewPrivileges= do). A root node in a
// second namespace is its peer; the private system bus runs the repo's own policy, and polkitd
// the repo's actions, so a change through the API goes through polkit as on a desktop.
//
// The last case adds what setpriv cannot show: in a mount namespace with the unit's file system
// view, under strace, every system call the daemon and its `ip` children make is one the unit's
// SystemCallFilter= allows, and every socket one of RestrictAddressFamilies=.
//
//   private system bus + polkitd ── daemon A (ns uA, uid rovy, CAP_NET_ADMIN; state dir 0700 rovy)
//   ns uA  veth fd00:e7::1/64  <──────────>  veth fd00:e7::2/64  ns uB: daemon B (root, no bus)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { rovyUser, type SystemUser } from '../system-user.js';
import { Lab, ROVY_JS, nsExec, sh, tryRun, until, type Daemon } from '../net/netns.js';
import { isRoot, run, startPolkitd, startSystemBus, type Polkitd, type PrivateBus } from '../desktop/buses.js';

const DEST = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';
/** CAP_NET_ADMIN is capability 12: the only bit set in every capability set of the daemon. */
const NET_ADMIN_ONLY = (1n << 12n).toString(16).padStart(16, '0');
/** systemd's PATH for services; setpriv --reset-env would leave out /usr/sbin. */
const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** /proc/PID/status as fields ("CapEff" → "0000000000001000"). */
function procStatus(pid: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

/** Every entry of `dir` with its owner, mode and modification time: what a run may have written. */
function listing(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const s = statSync(join(dir, name));
      return `${name} ${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8)} ${s.mtimeMs}`;
    });
}

// The unit's view of the file system, as far as the daemon can tell: ProtectSystem=strict (with
// ProtectKernelTunables= and ProtectControlGroups= for /sys) leaves every mount but /dev and
// /proc read-only and the state directory writable; ProtectProc=invisible and ProcSubset=pid
// mount a /proc of the caller's own processes only. Run as root in a new mount namespace, then
// execs its arguments (setpriv and the daemon).
const SANDBOX = `set -e
state=$1; shift
mount --make-rprivate /
mount --bind "$state" "$state"
awk '{print $5}' /proc/self/mountinfo | grep -v -e '^/dev\\(/\\|$\\)' -e '^/proc\\(/\\|$\\)' | while read -r m; do mount -o remount,bind,ro "$m"; done
mount -o remount,bind,rw "$state"
mount -t proc -o subset=pid,hidepid=invisible proc /proc
exec "$@"
`;

const groups = new Map<string, Set<string>>();
/** The system calls of a systemd filter group, its nested groups expanded, as this systemd has them. */
function syscallGroup(group: string): Set<string> {
  let names = groups.get(group);
  if (names) return names;
  names = new Set();
  // The first line is the group's own name; then comments, nested @groups and call names.
  for (const line of sh('systemd-analyze', ['syscall-filter', '--no-pager', group]).split('\n').slice(1)) {
    const item = line.trim();
    if (item === '' || item.startsWith('#')) continue;
    for (const name of item.startsWith('@') ? syscallGroup(item) : [item]) names.add(name);
  }
  groups.set(group, names);
  return names;
}

/**
 * The system calls in an `strace -f` log made from the moment a process executed `start` (where
 * systemd would have applied the unit's filter), by it and everything it started; and the address
 * families of the sockets they made.
 */
function tracedCalls(log: string, start: string): { calls: Set<string>; families: Set<string> } {
  type Line = { pid: number; name: string; resumed: boolean; rest: string };
  const lines: Line[] = [];
  for (const text of log.split('\n')) {
    const m = /^(\d+) +(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$/.exec(text);
    if (m) lines.push({ pid: Number(m[1]), name: (m[2] ?? m[3])!, resumed: m[2] !== undefined, rest: m[4]! });
  }
  const result = (l: Line): number | null => {
    const r = / = (-?\d+)(?: [A-Z]\w* \(.*\))?$/.exec(l.rest);
    return r ? Number(r[1]) : null;
  };
  // From which line each process counts: its exec of `start`, or its birth from one that counts.
  const from = new Map<number, number>();
  const execPath = new Map<number, string>();
  // Until nothing changes: a child may clone before its own birth is logged.
  for (let known = -1; known !== from.size; ) {
    known = from.size;
    lines.forEach((l, i) => {
      if (l.name === 'execve' && !l.resumed) execPath.set(l.pid, /^"([^"]*)"/.exec(l.rest)?.[1] ?? '');
      if (l.name === 'execve' && result(l) === 0 && execPath.get(l.pid) === start && !from.has(l.pid)) from.set(l.pid, i);
      if (['clone', 'clone3', 'fork', 'vfork'].includes(l.name) && from.has(l.pid) && from.get(l.pid)! <= i) {
        const child = result(l);
        // A child's first lines may be logged before its parent's clone returns: it counts whole.
        if (child !== null && child > 0 && !from.has(child)) from.set(child, -1);
      }
    });
  }
  const calls = new Set<string>();
  const families = new Set<string>();
  lines.forEach((l, i) => {
    const since = from.get(l.pid);
    if (since === undefined || i < since || l.resumed) return;
    calls.add(l.name);
    if (l.name === 'socket' || l.name === 'socketpair') families.add(/^(AF_\w+|\d+)/.exec(l.rest)?.[1] ?? l.rest);
  });
  return { calls, families };
}

test('the daemon runs as the system user rovy with CAP_NET_ADMIN alone', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  let polkitd: Polkitd | null = null;
  let nsA = '';
  let user: SystemUser | null = null;
  try {
    // The project's way to make the user (idempotent: a second run keeps the first's ids).
    user = rovyUser();
    const { uid, gid } = user;
    assert.ok(uid > 0 && uid < 1000, `rovy is no system user: uid ${uid}`);

    // The config is root's and readable (as /etc/rovy is); the state directory is rovy's alone,
    // as StateDirectory=rovy with StateDirectoryMode=0700 makes /var/lib/rovy.
    const stateDir = user.stateDir(lab.dir);

    bus = await startSystemBus();
    polkitd = await startPolkitd(bus);
    const env = bus.env;
    const rovy = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], env);
    const busctl = (...args: string[]) => run('busctl', [`--address=${bus!.address}`, ...args]);

    nsA = lab.namespace('uA');
    const nsB = lab.namespace('uB');
    lab.link(nsA, 'fd00:e7::1', nsB, 'fd00:e7::2');
    const b = lab.initNode('b');
    const configA = lab.file('a/rovy.toml', [`key_file = "${join(stateDir, 'node.key')}"`, '[[peer]]', `address = "/ip6/fd00:e7::2/udp/7777/rovy/${b.peerId}"`].join('\n'));

    /** Daemon A as the unit starts it: uid and gid rovy, a clean environment, and `caps` only. */
    const startA = (caps: boolean, prefix: string[] = [], program = [process.execPath, '--enable-source-maps', ROVY_JS]): Daemon => {
      const set = caps ? '-all,+net_admin' : '-all';
      return lab.spawn(nsA, [
        ...prefix,
        'setpriv', '--reuid=rovy', '--regid=rovy', '--init-groups',
        `--inh-caps=${set}`, `--ambient-caps=${set}`, `--bounding-set=${set}`, '--no-new-privs', '--reset-env', '--',
        'env', `PATH=${SERVICE_PATH}`, `DBUS_SYSTEM_BUS_ADDRESS=${bus!.address}`,
        ...program, 'daemon', '--config', configA,
      ]);
    };
    const onBus = async (): Promise<boolean> => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'State')).code === 0;

    /** Waits for A to answer on the bus; fails with its log if it exits or never does. */
    const upOnBus = (daemon: Daemon): Promise<number> =>
      until('A up on the bus', async () => {
        if (daemon.child.exitCode !== null) throw new Error('A exited');
        return await onBus();
      }, 15_000).catch((e: Error) => assert.fail(`${e.message}\nA: ${daemon.log}\nbus: ${bus!.log()}`));

    let daemonA = startA(true);
    // The daemon makes its key on first start, as rovy; B learns who A is from it.
    await upOnBus(daemonA);
    const a = lab.id(configA);
    lab.file('b/rovy.toml', ['key_file = "node.key"', '[[peer]]', `address = "/ip6/fd00:e7::1/udp/7777/rovy/${a.peerId}"`].join('\n'));
    const daemonB = lab.start(nsB, b.config);
    const mesh = async (): Promise<void> => {
      await until('ping from A to B over the mesh', () => nsExec(nsA, 'ping', ['-6', '-c', '1', '-W', '1', b.address]).code === 0, 20_000).catch((e: Error) =>
        assert.fail(`${e.message}\nA: ${daemonA.log}\nB: ${daemonB.log}`),
      );
      assert.equal(nsExec(nsB, 'ping', ['-6', '-c', '1', '-W', '2', a.address]).code, 0, 'no ping from B to A');
    };

    await t.test('it runs as rovy with exactly CAP_NET_ADMIN, effective and ambient', () => {
      const status = procStatus(daemonA.child.pid!);
      assert.equal(status.Uid, `${uid}\t${uid}\t${uid}\t${uid}`);
      assert.equal(status.Gid, `${gid}\t${gid}\t${gid}\t${gid}`);
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(status[set], NET_ADMIN_ONLY, `${set} of the daemon`);
      assert.equal(status.NoNewPrivs, '1');
    });

    await t.test('it creates its TUN, sets it up with `ip`, and peers with B', async () => {
      const link = nsExec(nsA, 'ip', ['-6', 'addr', 'show', 'dev', 'rovy0']);
      assert.equal(link.code, 0, link.out);
      assert.match(link.out, new RegExp(`inet6 ${a.address}/8 `));
      assert.match(link.out, /mtu 1420 .*state UNKNOWN/);
      await mesh();
    });

    await t.test('it owns net.rovy.Rovy1 as rovy and answers there', async () => {
      const owner = await busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetConnectionUnixUser', 's', DEST);
      assert.equal(owner.stdout.trim(), `u ${uid}`, owner.stderr);
      await until('A online', async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'State')).stdout.trim() === 's "online"');
      const status = await rovy('status', '--json');
      assert.equal(status.code, 0, status.stderr);
      const s = JSON.parse(status.stdout) as { peerId: string; address: string; connectedPeers: number };
      assert.deepEqual([s.peerId, s.address, s.connectedPeers], [a.peerId, a.address, 1]);
    });

    await t.test('changes through the API pass polkit and are written as rovy, 0600', async () => {
      // As root, through polkitd: polkit answers rovy about root's call only because the actions
      // name rovy as their owner (dbus/net.rovy.policy).
      const down = await rovy('down');
      assert.equal(down.code, 0, `${down.stderr}\n${polkitd!.log()}`);
      assert.equal((await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim(), 'b false');
      assert.equal((await rovy('up')).code, 0);
      const named = await rovy('name', 'set', 'bob', b.peerId);
      assert.equal(named.code, 0, named.stderr);
      assert.deepEqual(JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')).enabled, true);
      assert.match(readFileSync(join(stateDir, 'names.json'), 'utf8'), new RegExp(b.peerId));
      for (const name of ['node.key', 'state.json', 'names.json']) {
        const s = statSync(join(stateDir, name));
        assert.deepEqual([s.uid, s.gid, (s.mode & 0o7777).toString(8)], [uid, gid, '600'], name);
      }
      // Nothing else was left there (no temporary file of an atomic write).
      assert.deepEqual(readdirSync(stateDir).sort(), ['names.json', 'node.key', 'state.json']);
      await mesh();
    });

    assert.equal(await daemonA.stop(), 0, daemonA.log);

    await t.test('without CAP_NET_ADMIN it stops with a clear error and writes nothing', async () => {
      const before = listing(stateDir);
      const denied = startA(false);
      await until('the start without CAP_NET_ADMIN to end', () => denied.child.exitCode !== null).catch((e: Error) => assert.fail(`${e.message}: ${denied.log}`));
      assert.equal(denied.child.exitCode, 1, denied.log);
      // The key, names and state load first; the TUN is the first thing that needs the capability.
      // (In an empty state directory the key would be made before that: it is the node's identity,
      // made on first start whatever follows.)
      assert.match(denied.log, /error: TUN rovy0: .*(not permitted|EPERM) \(a TUN needs CAP_NET_ADMIN: run the daemon as root, or as rovyd.service/);
      assert.deepEqual(listing(stateDir), before);
      assert.notEqual(nsExec(nsA, 'ip', ['link', 'show', 'dev', 'rovy0']).code, 0, 'a TUN was left behind');
      assert.equal(await onBus(), false);
    });

    await t.test('it attaches to a persistent TUN made for rovy', async () => {
      const made = tryRun('ip', ['-n', nsA, 'tuntap', 'add', 'dev', 'rovy0', 'mode', 'tun', 'user', 'rovy']);
      assert.equal(made.code, 0, made.out);
      const index = (): string => sh('ip', ['-n', nsA, '-o', 'link', 'show', 'dev', 'rovy0']).split(':')[0]!;
      const before = index();
      daemonA = startA(true);
      await upOnBus(daemonA);
      // The same device (same index), now set up by the daemon.
      assert.equal(index(), before);
      assert.match(nsExec(nsA, 'ip', ['-6', 'addr', 'show', 'dev', 'rovy0']).out, new RegExp(`inet6 ${a.address}/8 `));
      await mesh();
      assert.equal(await daemonA.stop(), 0, daemonA.log);
      // A persistent device outlives the daemon, as it would a NetworkManager-made one.
      assert.equal(index(), before);
    });

    await t.test('seen as the unit sees the file system, it calls only what SystemCallFilter= and RestrictAddressFamilies= allow', async (st) => {
      assert.equal(tryRun('ip', ['-n', nsA, 'tuntap', 'del', 'dev', 'rovy0', 'mode', 'tun']).code, 0);
      const sandbox = lab.file('sandbox.sh', SANDBOX);
      const trace = lab.path('strace.log');
      // The checkout's launcher stands for /usr/bin/rovy: a shell script that execs node, as
      // meson installs it; the filter applies from its exec on.
      const launcher = join(ROOT, 'bin', 'rovy');
      const traced = startA(true, ['strace', '-f', '-qq', '-s', '256', '-o', trace, '--', 'unshare', '--mount', 'sh', sandbox, stateDir], [launcher]);
      // strace's one child execs its way down to node: that PID is the daemon's.
      const daemonPid = async (): Promise<number> => {
        let pid = 0;
        await until('the traced daemon', () => {
          if (traced.child.exitCode !== null) throw new Error(`strace exited: ${traced.log}`);
          const children = readFileSync(`/proc/${traced.child.pid}/task/${traced.child.pid}/children`, 'utf8').trim();
          pid = Number(children.split(' ')[0]);
          return pid > 0 && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node';
        });
        return pid;
      };
      const pid = await daemonPid();
      // strace leaves its tracees running when it is stopped: the daemon is ended by its own PID.
      st.after(async () => {
        if (traced.child.exitCode !== null) return;
        process.kill(pid, 'SIGTERM');
        await until('the traced daemon to stop', () => traced.child.exitCode !== null).catch(() => process.kill(pid, 'SIGKILL'));
      });
      // The daemon sees / read-only and a /proc of its own processes only.
      const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' '));
      assert.match(mounts.find((m) => m[4] === '/')?.[5] ?? '', /^ro,/);
      assert.match(mounts.find((m) => m[4] === stateDir)?.[5] ?? '', /^rw,/);
      assert.match(mounts.filter((m) => m[4] === '/proc').at(-1)?.join(' ') ?? '', /subset=pid/);
      await upOnBus(traced);
      await mesh();
      // What runs `ip` again (switching off and on), writes state.json and names.json, reloads.
      assert.equal((await rovy('down')).code, 0);
      assert.equal((await rovy('up')).code, 0);
      assert.equal((await rovy('name', 'set', 'bobby', b.peerId)).code, 0);
      process.kill(pid, 'SIGHUP');
      await until('the reload', () => /SIGHUP: reloaded/.test(traced.log));
      await mesh();
      process.kill(pid, 'SIGTERM');
      await until('the traced daemon to stop', () => traced.child.exitCode !== null, 10_000);
      assert.equal(traced.child.exitCode, 0, traced.log);

      const { calls, families } = tracedCalls(readFileSync(trace, 'utf8'), launcher);
      assert.ok(calls.has('execve') && calls.has('sendmmsg') && calls.has('ioctl'), `the trace missed the daemon: ${[...calls].join(' ')}`);
      // The unit's filter: what its allow lines name, less what its ~ lines name.
      const unit = readFileSync(join(ROOT, 'packaging', 'systemd', 'rovyd.service'), 'utf8');
      const filters = [...unit.matchAll(/^SystemCallFilter=(.*)$/gm)].map((m) => m[1]!);
      assert.ok(filters.length > 0 && !filters[0]!.startsWith('~'), 'the unit has no allow list');
      const expand = (items: string[]): Set<string> => new Set(items.flatMap((i) => (i.startsWith('@') ? [...syscallGroup(i)] : [i])));
      const denied = expand(filters.filter((f) => f.startsWith('~')).flatMap((f) => f.slice(1).split(' ')));
      const allowed = [...expand(filters.filter((f) => !f.startsWith('~')).flatMap((f) => f.split(' ')))].filter((c) => !denied.has(c));
      assert.deepEqual([...calls].filter((c) => !allowed.includes(c)).sort(), [], `outside the filter (of ${[...calls].sort().join(' ')})`);
      const addressFamilies = /^RestrictAddressFamilies=(.*)$/m.exec(unit)![1]!.split(' ');
      assert.deepEqual([...families].filter((f) => !addressFamilies.includes(f)), [], `families used: ${[...families].join(' ')}`);
    });
  } finally {
    if (nsA) tryRun('ip', ['-n', nsA, 'tuntap', 'del', 'dev', 'rovy0', 'mode', 'tun']);
    await lab.cleanup();
    await polkitd?.stop();
    await bus?.stop();
    user?.remove();
  }
});
