// rovyd.service under a real systemd: systemd 252 boots as PID 1 of a container
// (systemd-nspawn) whose /usr is the machine's with rovy's files laid over it where a package
// puts them, and whose network is a namespace of this test's with a veth to a root node.
// Nothing is started by hand: the container's systemd-sysusers makes the user rovy from
// rovy.sysusers, the first D-Bus call to net.rovy.Rovy1 has the bus start rovyd.service
// (SystemdService=), and systemd runs the daemon with the unit's whole sandbox: user,
// capabilities, namespaces, seccomp filter. unprivileged.test.ts checks the same daemon piece by
// piece; this test checks that the pieces hold together in the unit as shipped.
//
//   container (systemd, dbus, polkitd, rovyd as rovy) in ns uS  veth fd00:e8::1/64
//        <──────────>  veth fd00:e8::2/64  ns uP: daemon B (root, no bus)
//
// The container's / is a directory of this test's with a copy of /etc; /usr (with rovy, as meson
// installs it, laid over) is mounted read-only, so the machine's own files are never written.
import { test } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { Lab, nsExec, tryRun, until } from '../net/netns.js';
import { isRoot, run } from '../desktop/buses.js';

const DEST = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';
const NET_ADMIN_ONLY = (1n << 12n).toString(16).padStart(16, '0');
const hasNspawn = tryRun('systemd-nspawn', ['--version']).code === 0;

/**
 * rovy installed by meson as the package does (--prefix=/usr, merged /usr: every file under usr/),
 * to lay over the machine's /usr: the real launcher and self-contained bundle, so the service
 * needs nothing of the checkout (whose path may lie under /tmp, which PrivateTmp= hides).
 */
function stageUsr(work: string, dir: string): void {
  const build = join(work, 'meson-build');
  const meson = (...args: string[]): void => {
    const r = tryRun('meson', args, 120_000);
    if (r.code !== 0) throw new Error(`meson ${args.join(' ')} failed:\n${r.out}`);
  };
  meson('setup', build, ROOT, '--prefix=/usr', '-Dsystemdsystemunitdir=/usr/lib/systemd/system', '-Dsysusersdir=/usr/lib/sysusers.d', '-Dtmpfilesdir=/usr/lib/tmpfiles.d');
  meson('install', '-C', build, '--destdir', dir);
}

/** The container's /: a copy of /etc without the user rovy (its sysusers must make it), and
 *  empty mount points; a target that brings up only the basic system and the bus. */
function rootTree(dir: string, configA: string): void {
  for (const d of ['usr', 'var', 'run', 'tmp', 'proc', 'sys', 'dev', 'root']) mkdirSync(join(dir, d));
  for (const d of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${d}`, join(dir, d));
  cpSync('/etc', join(dir, 'etc'), { recursive: true, verbatimSymlinks: true });
  for (const db of ['passwd', 'group', 'shadow', 'gshadow']) {
    const path = join(dir, 'etc', db);
    writeFileSync(path, readFileSync(path, 'utf8').split('\n').filter((l) => !l.startsWith('rovy:')).join('\n'));
  }
  // nspawn looks for os-release before it mounts /usr, where /etc's symlink points.
  rmSync(join(dir, 'etc', 'os-release'));
  writeFileSync(join(dir, 'etc', 'os-release'), readFileSync('/usr/lib/os-release'));
  writeFileSync(join(dir, 'etc', 'systemd', 'system', 'rovy-test.target'), '[Unit]\nDescription=the basic system and the bus\nWants=sysinit.target dbus.socket\nAfter=sysinit.target dbus.socket\n');
  mkdirSync(join(dir, 'etc', 'rovy'), { recursive: true });
  writeFileSync(join(dir, 'etc', 'rovy', 'rovy.toml'), configA);
}

test('rovyd.service as systemd runs it: activated by the bus, as rovy, sandboxed, on the mesh', { skip: (!isRoot && 'needs root') || (!hasNspawn && 'needs systemd-nspawn (systemd-container)') }, async (t) => {
  const lab = new Lab();
  let container: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let init = 0;
  try {
    const nsS = lab.namespace('uS');
    const nsP = lab.namespace('uP');
    lab.link(nsS, 'fd00:e8::1', nsP, 'fd00:e8::2');
    const b = lab.initNode('b');
    const root = lab.path('root');
    mkdirSync(root);
    const stage = lab.path('stage');
    mkdirSync(stage);
    stageUsr(lab.dir, stage);
    rootTree(root, ['[[peer]]', `address = "/ip6/fd00:e8::2/udp/7777/rovy/${b.peerId}"`].join('\n'));

    // The container joins ns uS's network, and keeps CAP_NET_ADMIN for it (nspawn keeps it
    // only with a network it made itself); no machined or scope unit, as this machine runs no
    // systemd. Not under `ip netns exec`, whose fresh /sys has no cgroup file systems.
    const nspawn = spawn('systemd-nspawn', [
      '--quiet', '--register=no', '--keep-unit', `--directory=${root}`, '--console=pipe',
      `--network-namespace-path=/run/netns/${nsS}`, '--capability=CAP_NET_ADMIN',
      `--overlay-ro=/usr:${join(stage, 'usr')}:/usr`,
      '--boot', 'systemd.unit=rovy-test.target',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    container = nspawn;
    let log = '';
    nspawn.stdout.on('data', (d: Buffer) => (log += d.toString()));
    nspawn.stderr.on('data', (d: Buffer) => (log += d.toString()));
    exited = new Promise((resolve) => nspawn.once('exit', () => resolve()));
    await until('the container to boot', () => {
      if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited: ${log}`);
      const children = readFileSync(`/proc/${nspawn.pid}/task/${nspawn.pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
      init = children.find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'systemd') ?? 0;
      return init > 0 && tryRun('nsenter', ['-t', String(init), '-a', 'systemctl', 'is-active', 'rovy-test.target']).code === 0;
    }, 30_000);
    const inside = (...cmd: string[]) => run('nsenter', ['-t', String(init), '-a', ...cmd]);
    const show = async (...props: string[]): Promise<Record<string, string>> => {
      const out = (await inside('systemctl', 'show', 'rovyd.service', ...props.map((p) => `--property=${p}`))).stdout;
      return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    };

    await t.test('the first call on the bus starts rovyd.service, which runs the daemon as rovy', async () => {
      assert.equal((await show('ActiveState')).ActiveState, 'inactive', 'rovyd started before anyone asked for it');
      let state = { code: -1, stdout: '', stderr: '' };
      await until('net.rovy.Rovy1 to answer', async () => {
        state = await inside('busctl', 'get-property', DEST, ROOT_PATH, DEST, 'State');
        return state.code === 0;
      }, 30_000).catch(async (e: Error) => assert.fail(`${e.message}: ${state.stderr}\n${(await inside('journalctl', '--no-pager', '-o', 'cat', '-u', 'rovyd.service', '-u', 'dbus.service')).stdout}`));
      const unit = await show('ActiveState', 'SubState', 'User', 'MainPID');
      assert.deepEqual([unit.ActiveState, unit.SubState, unit.User], ['active', 'running', 'rovy']);
      const bus = await inside('journalctl', '--no-pager', '-o', 'cat', '-u', 'dbus.service');
      // (The bus's words differ by whether it has handed a start to systemd before.)
      assert.match(bus.stdout, /Activating (via systemd|systemd to hand-off): service name='net\.rovy\.Rovy1' unit='rovyd\.service'/);

      // The user came from rovy.sysusers, in the container's own /etc.
      const passwd = (await inside('getent', 'passwd', 'rovy')).stdout.trim().split(':');
      assert.deepEqual([passwd[0], passwd[5], passwd[6]], ['rovy', '/var/lib/rovy', '/usr/sbin/nologin']);
      const uid = passwd[2]!;
      const status = Object.fromEntries((await inside('cat', `/proc/${unit.MainPID}/status`)).stdout.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
      assert.equal(status.Uid, `${uid}\t${uid}\t${uid}\t${uid}`);
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(status[set], NET_ADMIN_ONLY, set);
      assert.equal(status.NoNewPrivs, '1');
      assert.equal(status.Seccomp, '2', 'no seccomp filter on the daemon');
      const owner = await inside('busctl', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetConnectionUnixUser', 's', DEST);
      assert.equal(owner.stdout.trim(), `u ${uid}`);
    });

    // A's key is the daemon's own, made at its first start: B learns who A is from it.
    const keyConfig = lab.file('a-key.toml', `key_file = "${join(root, 'var', 'lib', 'rovy', 'node.key')}"\n`);
    const a = lab.id(keyConfig);
    lab.file('b/rovy.toml', ['key_file = "node.key"', '[[peer]]', `address = "/ip6/fd00:e8::1/udp/7777/rovy/${a.peerId}"`].join('\n'));
    const daemonB = lab.start(nsP, b.config);
    const mesh = async (): Promise<void> => {
      await until('ping from A to B over the mesh', () => nsExec(nsS, 'ping', ['-6', '-c', '1', '-W', '1', b.address]).code === 0, 20_000).catch(async (e: Error) =>
        assert.fail(`${e.message}\nA: ${(await inside('journalctl', '--no-pager', '-o', 'cat', '-u', 'rovyd.service')).stdout}\nB: ${daemonB.log}`),
      );
      assert.equal(nsExec(nsP, 'ping', ['-6', '-c', '1', '-W', '2', a.address]).code, 0, 'no ping from B to A');
    };

    await t.test('its TUN carries the mesh', async () => {
      assert.match(nsExec(nsS, 'ip', ['-6', 'addr', 'show', 'dev', 'rovy0']).out, new RegExp(`inet6 ${a.address}/8 `));
      await mesh();
    });

    await t.test('changes pass polkit and land in /var/lib/rovy as rovy, 0600; /etc/rovy stays root', async () => {
      for (const args of [['down'], ['up'], ['name', 'set', 'bob', b.peerId]]) {
        const r = await inside('/usr/bin/rovy', ...args);
        assert.equal(r.code, 0, `rovy ${args.join(' ')}: ${r.stderr}`);
      }
      const uid = Number((await inside('id', '-u', 'rovy')).stdout);
      const state = join(root, 'var', 'lib', 'rovy');
      const mode = (path: string): string => {
        const s = statSync(path);
        return `${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8)}`;
      };
      assert.equal(mode(state), `${uid}:${uid} 700`);
      assert.deepEqual(readdirSync(state).sort(), ['names.json', 'node.key', 'state.json']);
      for (const name of readdirSync(state)) assert.equal(mode(join(state, name)), `${uid}:${uid} 600`, name);
      assert.equal(mode(join(root, 'etc', 'rovy')), '0:0 755');
      await mesh();
    });

    await t.test('systemctl reload re-reads the config; stop ends it cleanly and takes the TUN away', async () => {
      assert.equal((await inside('systemctl', 'reload', 'rovyd.service')).code, 0);
      await until('the reload in the journal', async () => /SIGHUP: reloaded 1 peer/.test((await inside('journalctl', '--no-pager', '-o', 'cat', '-u', 'rovyd.service')).stdout));
      await mesh();
      assert.equal((await inside('systemctl', 'stop', 'rovyd.service')).code, 0);
      const unit = await show('ActiveState', 'Result', 'ExecMainStatus');
      assert.deepEqual(unit, { ActiveState: 'inactive', Result: 'success', ExecMainStatus: '0' });
      assert.notEqual(nsExec(nsS, 'ip', ['link', 'show', 'dev', 'rovy0']).code, 0, 'rovy0 outlived the daemon');
    });
  } finally {
    // SIGTERM has nspawn shut the container down in order; killing its init ends every process
    // in it if that does not happen.
    if (container && container.exitCode === null && container.signalCode === null) {
      container.kill('SIGTERM');
      await until('the container to stop', () => container!.exitCode !== null || container!.signalCode !== null, 30_000).catch(async () => {
        if (init > 0) process.kill(init, 'SIGKILL');
        await exited;
      });
    }
    await lab.cleanup();
  }
});

