// The daemon as rovyd.service runs it: as the system user rovy (made from the repo's
// rovy.sysusers, as installing the package does), with CAP_NET_ADMIN as its only capability,
// ambient so that its `ip` children have it too, and no way to gain more (setpriv does what
// User=, AmbientCapabilities=, CapabilityBoundingSet= and NoNewPrivileges= do). A root node in a
// second namespace is its peer; the private system bus runs the repo's own policy, and polkitd
// the repo's actions, so a change through the API goes through polkit as on a desktop.
//
//   private system bus + polkitd ── daemon A (ns uA, uid rovy, CAP_NET_ADMIN; state dir 0700 rovy)
//   ns uA  veth fd00:e7::1/64  <──────────>  veth fd00:e7::2/64  ns uB: daemon B (root, no bus)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
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

test('the daemon runs as the system user rovy with CAP_NET_ADMIN alone', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  let polkitd: Polkitd | null = null;
  let nsA = '';
  try {
    // The project's way to make the user (idempotent: a second run keeps the first's ids).
    const sysusers = tryRun('systemd-sysusers', [join(ROOT, 'packaging', 'systemd', 'rovy.sysusers')]);
    assert.equal(sysusers.code, 0, sysusers.out);
    const uid = Number(sh('id', ['-u', 'rovy']));
    const gid = Number(sh('id', ['-g', 'rovy']));
    assert.ok(uid > 0 && uid < 1000, `rovy is no system user: uid ${uid}`);

    // The config is root's and readable (as /etc/rovy is); the state directory is rovy's alone,
    // as StateDirectory=rovy with StateDirectoryMode=0700 makes /var/lib/rovy.
    chmodSync(lab.dir, 0o755);
    const stateDir = join(lab.dir, 'state');
    mkdirSync(stateDir);
    chownSync(stateDir, uid, gid);
    chmodSync(stateDir, 0o700);

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
    const startA = (caps: boolean): Daemon => {
      const set = caps ? '-all,+net_admin' : '-all';
      return lab.spawn(nsA, [
        'setpriv', '--reuid=rovy', '--regid=rovy', '--init-groups',
        `--inh-caps=${set}`, `--ambient-caps=${set}`, `--bounding-set=${set}`, '--no-new-privs', '--reset-env', '--',
        'env', `PATH=${SERVICE_PATH}`, `DBUS_SYSTEM_BUS_ADDRESS=${bus!.address}`,
        process.execPath, '--enable-source-maps', ROVY_JS, 'daemon', '--config', configA,
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
    const idA = lab.rovy(['id', '--config', configA, '--json']);
    assert.equal(idA.code, 0, idA.out);
    const a = JSON.parse(idA.out) as { peerId: string; address: string };
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
      assert.match(denied.log, /error: TUN rovy0: .*(not permitted|EPERM)/);
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
  } finally {
    if (nsA) tryRun('ip', ['-n', nsA, 'tuntap', 'del', 'dev', 'rovy0', 'mode', 'tun']);
    await lab.cleanup();
    await polkitd?.stop();
    await bus?.stop();
  }
});
