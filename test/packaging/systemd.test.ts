// The systemd side of the package, checked with systemd's own tools (systemd 252 here, with no
// systemd running: every check below works offline): the unit is clean to `systemd-analyze
// verify`, rated at an exposure of 2.0 or lower by `systemd-analyze security`, runs the daemon
// as rovy with CAP_NET_ADMIN alone in the directories the daemon defaults to; sysusers.d and
// tmpfiles.d make that user and those directories; D-Bus activation goes through the unit.
// test/packaging/unprivileged.test.ts runs the daemon the way this unit does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { tempDir } from '../temp-dir.js';
import { isRoot } from '../wait.js';
import { DEFAULT_CONFIG_PATH, DEFAULT_KEY_FILE } from '../../src/config/defaults.js';

const UNIT = join(ROOT, 'packaging', 'systemd', 'rovyd.service');
const SYSUSERS = join(ROOT, 'packaging', 'systemd', 'rovy.sysusers');
const TMPFILES = join(ROOT, 'packaging', 'systemd', 'rovy.tmpfiles');
const ACTIVATION = join(ROOT, 'dbus', 'net.rovy.Rovy1.service');

/** An INI-style file as section → key → values (a key may be given more than once). */
function parseIni(path: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `${path}: unexpected line ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('systemd-analyze verify finds nothing to say about the unit', (t) => {
  // verify checks that ExecStart='s program exists and that every man page in Documentation=
  // does. /usr/bin/rovy and the man pages exist once installed (test/packaging/meson.test.ts
  // checks that), not in a checkout; so verify a copy whose ExecStart names this checkout's
  // bin/rovy, the same launcher, with the repository's man pages on MANPATH. The unit itself is
  // otherwise unchanged, so everything else verify checks is the shipped text.
  const dir = tempDir(t, 'rovy-verify-');
  const text = readFileSync(UNIT, 'utf8');
  assert.match(text, /^ExecStart=\/usr\/bin\/rovy daemon$/m);
  const copy = join(dir, 'rovyd.service');
  writeFileSync(copy, text.replace(/^ExecStart=\/usr\/bin\/rovy /m, `ExecStart=${join(ROOT, 'bin', 'rovy')} `));
  const docs = parseIni(UNIT).get('Unit')!.get('Documentation')!.join(' ').split(/\s+/);
  for (const doc of docs) {
    const page = /^man:([\w.-]+)\((\d)\)$/.exec(doc);
    assert.ok(page, `Documentation= ${doc}: not a man page`);
    const [, name, section] = page;
    mkdirSync(join(dir, 'man', `man${section}`), { recursive: true });
    copyFileSync(join(ROOT, 'docs', 'man', `${name}.${section}.in`), join(dir, 'man', `man${section}`, `${name}.${section}`));
  }
  const verify = run('systemd-analyze', ['verify', copy], { ...process.env, MANPATH: join(dir, 'man') });
  assert.equal(verify.stdout + verify.stderr, '');
  assert.equal(verify.code, 0);
});

test('systemd-analyze security rates the unit at 2.0 or lower', () => {
  // --threshold is on the scale of 0-100 that the tool prints divided by ten.
  const security = run('systemd-analyze', ['security', '--offline=true', '--threshold=20', '--no-pager', UNIT]);
  const figure = /Overall exposure level for rovyd\.service: (\d+\.\d+)/.exec(security.stdout);
  assert.ok(figure, `no exposure figure in:\n${security.stdout}${security.stderr}`);
  console.log(`rovyd.service: exposure ${figure[1]} (systemd-analyze security --offline=true)`);
  assert.ok(Number(figure[1]) <= 2.0, `exposure ${figure[1]}:\n${security.stdout}`);
  assert.equal(security.code, 0, security.stderr);
  assert.equal(security.stderr, '');
});

test('the unit runs the daemon as rovy, with CAP_NET_ADMIN alone, in its default directories', () => {
  const unit = parseIni(UNIT);
  const service = unit.get('Service')!;
  const one = (key: string): string | undefined => {
    const values = service.get(key);
    assert.ok(values === undefined || values.length === 1, `${key}= is given ${values?.length} times`);
    return values?.[0];
  };
  assert.equal(one('Type'), 'dbus');
  assert.equal(one('BusName'), 'net.rovy.Rovy1');
  assert.equal(one('ExecStart'), '/usr/bin/rovy daemon');
  assert.equal(one('User'), 'rovy');
  assert.equal(one('Group'), 'rovy');
  // The key must keep its owner across restarts, and the bus policy names the user.
  assert.equal(one('DynamicUser'), undefined);
  assert.equal(one('AmbientCapabilities'), 'CAP_NET_ADMIN');
  assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_ADMIN');
  assert.equal(one('NoNewPrivileges'), 'yes');
  // Where the daemon looks with no config and no key_file: /etc/rovy and /var/lib/rovy.
  assert.equal(`/var/lib/${one('StateDirectory')}`, dirname(DEFAULT_KEY_FILE));
  assert.equal(one('StateDirectoryMode'), '0700');
  assert.equal(`/etc/${one('ConfigurationDirectory')}`, dirname(DEFAULT_CONFIG_PATH));
  assert.equal(one('ConfigurationDirectoryMode'), '0755');
  assert.equal(one('DevicePolicy'), 'closed');
  assert.equal(one('DeviceAllow'), '/dev/net/tun rw');
  // V8 compiles to memory it writes and then runs: see the test below.
  assert.equal(one('MemoryDenyWriteExecute'), undefined);
  assert.ok(unit.get('Install')!.get('Alias')!.includes('dbus-net.rovy.Rovy1.service'));
});

test('D-Bus activation goes through the unit', () => {
  const activation = parseIni(ACTIVATION).get('D-BUS Service')!;
  assert.deepEqual(activation.get('Name'), ['net.rovy.Rovy1']);
  assert.deepEqual(activation.get('SystemdService'), ['rovyd.service']);
  // The bus policy lets the unit's user own the name it waits for.
  const policy = readFileSync(join(ROOT, 'dbus', 'net.rovy.Rovy1.conf'), 'utf8');
  assert.match(policy, /<policy user="rovy">\s*<allow own="net\.rovy\.Rovy1"\/>\s*<\/policy>/);
});

test('sysusers.d and tmpfiles.d make the user rovy and its directories', { skip: !isRoot && 'needs root (tmpfiles.d chowns)' }, (t) => {
  // Applied to a scratch root, not the machine: both tools read and write only below --root
  // (the config comes on stdin, which --root does not re-root).
  const root = tempDir(t, 'rovy-sysroot-');
  mkdirSync(join(root, 'etc'));
  execFileSync('systemd-sysusers', [`--root=${root}`, '-'], { input: readFileSync(SYSUSERS), stdio: ['pipe', 'ignore', 'pipe'] });
  const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8').trim().split('\n');
  assert.equal(passwd.length, 1, passwd.join('\n'));
  const [name, , uid, gid, , home, shell] = passwd[0]!.split(':');
  assert.deepEqual([name, home, shell], ['rovy', '/var/lib/rovy', '/usr/sbin/nologin']);
  assert.ok(Number(uid) > 0 && Number(uid) < 1000, `not a system uid: ${uid}`);
  assert.match(readFileSync(join(root, 'etc', 'group'), 'utf8'), new RegExp(`^rovy:x:${gid}:$`, 'm'));

  execFileSync('systemd-tmpfiles', ['--create', `--root=${root}`, '-'], { input: readFileSync(TMPFILES), stdio: ['pipe', 'ignore', 'pipe'] });
  const owner = (path: string): string => {
    const s = statSync(join(root, path));
    return `${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8)}`;
  };
  assert.equal(owner('var/lib/rovy'), `${uid}:${gid} 700`);
  assert.equal(owner('etc/rovy'), '0:0 755');
});

test('MemoryDenyWriteExecute= stays off: Node dies without writable executable memory', () => {
  // PR_SET_MDWE (65) with PR_MDWE_REFUSE_EXEC_GAIN (1) is the kernel's own form of what
  // MemoryDenyWriteExecute= enforces with seccomp, and survives execve. Under it V8 aborts as
  // soon as it compiles a function; with --jitless it runs, which shows that the refusal is the
  // cause (and --jitless would run the daemon's packet loops interpreted).
  const underMdwe = (...nodeArgs: string[]) =>
    run('python3', ['-c', 'import ctypes, os, sys\nif ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0: sys.exit(99)\nos.execv(sys.argv[1], sys.argv[1:])', process.execPath, ...nodeArgs, '-e', 'console.log([1, 2].map((x) => x * 2).join())']);
  const jit = underMdwe();
  assert.notEqual(jit.code, 99, 'this kernel has no PR_SET_MDWE');
  assert.notEqual(jit.code, 0, `node ran under MDWE: ${jit.stdout}`);
  assert.match(jit.stderr, /SetPermissions|Fatal error/);
  const jitless = underMdwe('--jitless');
  assert.equal(jitless.code, 0, jitless.stderr);
  assert.equal(jitless.stdout.trim(), '2,4');
});
