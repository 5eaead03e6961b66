// The Debian package as a Debian 13 user gets it. packaging/build-deb.sh builds the .deb in a
// network namespace with no network (so the build is offline), apt installs it into a clean
// trixie chroot (so every dependency comes from trixie, and a missing one shows), and then:
// `rovy --help` and `rovy id` run, the rovy user and its 0700 state directory exist, the files are
// where meson put them, the unit is enabled, trixie's lintian reports no error, `apt-get remove`
// keeps the node key and `apt-get purge` deletes it.
//
// The chroot is built once and cached (test/debian-chroot.ts): each run mounts an overlay on
// the pristine root/, and apt's downloads stay in archives/, so a second run needs no download.
//
// Everything in the chroot runs under `unshare --mount --pid --fork`: the overlay, /proc and
// the bind mounts vanish with the mount namespace, and any process a maintainer script might
// start dies with the PID namespace. Needs root, mmdebstrap and what build-deb.sh needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { tempDir } from '../temp-dir.js';
import { cachedChroot, type Chroot, type ChrootSpec } from '../debian-chroot.js';

// lintian is in the base chroot because it checks the .deb, not because rovy needs it; rovy's
// own dependencies are left for apt to resolve from the package, so a missing one shows.
// The archive snapshot here is older than the clock, so its Release files count as expired.
// The package lists are kept so that installing the .deb needs no `apt-get update`.
const CHROOT: ChrootSpec = {
  name: 'trixie',
  suite: 'trixie',
  options: [
    '--variant=apt',
    '--mode=root',
    '--include=lintian',
    '--aptopt=Acquire::Check-Valid-Until "false"',
    '--skip=cleanup/apt/lists',
  ],
};
const STEP_TIMEOUT_MS = 15 * 60_000;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Run {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 256 << 20, timeout: STEP_TIMEOUT_MS, killSignal: 'SIGKILL' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function seconds(since: bigint): string {
  return `${(Number(process.hrtime.bigint() - since) / 1e9).toFixed(1)} s`;
}

function ok(r: Run, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Runs a shell script in the chroot: an overlay on the cached base (writes go to `upper`,
 * which keeps the state between calls), /proc of a private PID namespace, apt's download cache,
 * and the directory with the .deb read-only at /mnt.
 */
function chrootRunner(base: Chroot, dir: string, debs: string) {
  const upper = join(dir, 'upper');
  const work = join(dir, 'work');
  const merged = join(dir, 'merged');
  for (const d of [upper, work, merged]) mkdirSync(d);
  const setup = [
    'set -e',
    'mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$UPPER,workdir=$WORK" "$M"',
    'mount -t proc proc "$M/proc"',
    'mount --bind "$ARCHIVES" "$M/var/cache/apt/archives"',
    'mount --bind -o ro "$DEBS" "$M/mnt"',
    'exec chroot "$M" /bin/sh -ec "$1"',
  ].join('\n');
  const env = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LC_ALL: 'C.UTF-8',
    DEBIAN_FRONTEND: 'noninteractive',
    LOWER: base.root,
    UPPER: upper,
    WORK: work,
    M: merged,
    ARCHIVES: base.archives,
    DEBS: debs,
  };
  return (script: string): Run =>
    run('unshare', ['--mount', '--pid', '--fork', '--kill-child', '/bin/sh', '-c', setup, 'sh', script], env);
}

test('the .deb builds offline, installs on Debian 13, passes lintian, and remove/purge keep/delete the key', { timeout: 4 * STEP_TIMEOUT_MS, skip: process.getuid?.() !== 0 && 'needs root (mmdebstrap, chroot, mounts)' }, async (t) => {
  const tmp = tempDir(t, 'rovy-deb-test-');
  const debs = join(tmp, 'debs');
  const version = ok(run('dpkg-parsechangelog', ['-l', join(ROOT, 'packaging/debian/changelog'), '-S', 'Version']), 'dpkg-parsechangelog').trim();
  const arch = ok(run('dpkg-architecture', ['-qDEB_HOST_ARCH']), 'dpkg-architecture').trim();
  const multiarch = ok(run('dpkg-architecture', ['-qDEB_HOST_MULTIARCH']), 'dpkg-architecture').trim();
  const deb = join(debs, `rovy_${version}_${arch}.deb`);

  // The later steps need the .deb, and then rovy installed: without them they would only fail
  // again, for that reason.
  let built = false;
  let installed = false;
  await t.test('build-deb.sh builds the .deb with no network and leaves the checkout clean', () => {
    const start = process.hrtime.bigint();
    const out = ok(run('unshare', ['--net', join(ROOT, 'packaging/build-deb.sh'), debs]), 'build-deb.sh');
    t.diagnostic(`.deb built in ${seconds(start)}`);
    assert.equal(out.trim().split('\n').at(-1), deb);
    assert.ok(existsSync(deb), `no ${deb}`);
    built = true;
    assert.equal(ok(run('dpkg-deb', ['-f', deb, 'Package', 'Architecture']), 'dpkg-deb'), `Package: rovy\nArchitecture: ${arch}\n`);
    for (const debris of ['debian', `obj-${multiarch}`]) assert.ok(!existsSync(join(ROOT, debris)), `build-deb.sh left ${debris} in the checkout`);
    assert.deepEqual(readdirSync(join(ROOT, '..')).filter((f) => /^rovy[-_].*\.(deb|buildinfo|changes)$/.test(f)), [], 'results beside the checkout');
  });

  assert.ok(built, 'no .deb was built');
  const base = cachedChroot(CHROOT, (msg) => t.diagnostic(msg));
  const chroot = chrootRunner(base, tmp, debs);

  await t.test('apt installs it into a clean Debian 13 chroot, with no systemd running', () => {
    assert.ok(!existsSync(join(base.root, 'usr/bin/node')), 'the base chroot already has node: the dependency would go untested');
    const start = process.hrtime.bigint();
    const out = ok(chroot(`
      test ! -d /run/systemd/system
      # apt's and the maintainer scripts' chatter goes to stderr, where a failure shows it.
      apt-get install -y -q -o Dpkg::Use-Pty=0 /mnt/${basename(deb)} >&2
      dpkg-query -W -f '\${Status} \${Version}\\n' rovy
      dpkg-query -W -f '\${Status} \${Version}\\n' nodejs 2>/dev/null || echo 'no nodejs'
      # Nothing the maintainer scripts started may still run (a chroot has no init to start it).
      for c in /proc/[0-9]*/comm; do cat "$c"; done | sort -u | tr '\\n' ' '`), 'apt-get install');
    t.diagnostic(`installed with apt in ${seconds(start)}`);
    const [rovy, nodejs, processes] = out.trim().split('\n');
    assert.equal(rovy, `install ok installed ${version}`);
    installed = true;
    assert.match(nodejs ?? '', /^install ok installed 20\./, 'nodejs (20 in trixie) came with rovy');
    // This script's own shell and its pipeline are all that may run in the PID namespace.
    const others = (processes ?? '').trim().split(' ').filter((c) => !['sh', 'cat', 'sort', 'tr'].includes(c));
    assert.deepEqual(others, [], 'processes the maintainer scripts left running');
  });

  assert.ok(installed, 'rovy did not install');

  await t.test('the rovy user, its state directory and /etc/rovy exist', () => {
    const out = ok(chroot(`
      getent passwd rovy || echo
      getent group rovy || echo
      for d in /var/lib/rovy /etc/rovy; do stat -c '%n %a %U %G' "$d" 2>/dev/null || echo "no $d"; done`), 'user and directories');
    const [passwd = '', group = '', state, config] = out.trim().split('\n');
    const [name, , uid, gid, , home, shell] = passwd.split(':');
    // One comparison of everything, so a failure shows every difference at once.
    assert.deepEqual(
      { name, systemUid: Number(uid) > 0 && Number(uid) < 1000, ownGroup: group.split(':')[2] === gid, home, shell, state, config },
      { name: 'rovy', systemUid: true, ownGroup: true, home: '/var/lib/rovy', shell: '/usr/sbin/nologin', state: '/var/lib/rovy 700 rovy rovy', config: '/etc/rovy 755 root root' },
      `passwd: ${passwd}, group: ${group}`,
    );
  });

  await t.test('files are where meson put them, and the unit is enabled', () => {
    const out = ok(chroot(`
      dpkg -L rovy
      echo ---
      cat /usr/share/gnome-shell/extensions/rovy@rovy.net/metadata.json
      echo ---
      for l in multi-user.target.wants/rovyd.service dbus-net.rovy.Rovy1.service; do
        echo "$l -> $(readlink "/etc/systemd/system/$l")"
      done
      echo ---
      dpkg -L rovy | while read -r f; do test -e "$f" || echo "missing $f"; done`), 'dpkg -L');
    const [listing = '', metadata = '{}', links = '', missing = ''] = out.split('---\n');
    const files = new Set(listing.trim().split('\n'));
    // Every check adds what it finds wrong here, so a failure shows all of them at once.
    const problems: string[] = [];
    for (const f of [
      '/usr/bin/rovy',
      `/usr/lib/${multiarch}/rovy/rovy.mjs`,
      `/usr/lib/${multiarch}/rovy/rovy_native.node`,
      '/usr/lib/systemd/system/rovyd.service',
      '/usr/lib/sysusers.d/rovy.conf',
      '/usr/lib/tmpfiles.d/rovy.conf',
      '/usr/share/dbus-1/system.d/net.rovy.Rovy1.conf',
      '/usr/share/dbus-1/system-services/net.rovy.Rovy1.service',
      '/usr/share/dbus-1/interfaces/net.rovy.Rovy1.xml',
      '/usr/share/polkit-1/actions/net.rovy.policy',
      '/usr/share/polkit-1/rules.d/net.rovy.rules',
      '/usr/share/man/man1/rovy.1.gz',
      '/usr/share/man/man5/rovy.toml.5.gz',
      '/usr/share/man/man8/rovyd.8.gz',
      '/usr/share/bash-completion/completions/rovy',
      '/usr/share/rovy/bird/rovy.conf',
      '/usr/share/doc/rovy/copyright',
      ...['extension.js', 'metadata.json', 'stylesheet.css', 'locale/de/LC_MESSAGES/gnome-shell-extension-rovy.mo'].map((f) => `/usr/share/gnome-shell/extensions/rovy@rovy.net/${f}`),
    ]) if (!files.has(f)) problems.push(`the package has no ${f}`);
    // The extension in the format Debian 13's GNOME Shell 48 loads.
    const shellVersions = (JSON.parse(metadata) as { 'shell-version'?: string[] })['shell-version'] ?? [];
    if (!shellVersions.includes('48')) problems.push(`the extension's shell-version is ${JSON.stringify(shellVersions)}, not for GNOME 48`);
    // Debian 13 has /bin, /lib, /sbin as links into /usr: a file shipped there is an error.
    for (const f of files) if (f !== '/.' && f !== '/usr' && !f.startsWith('/usr/')) problems.push(`outside /usr: ${f}`);
    problems.push(...missing.trim().split('\n').filter((l) => l !== ''));
    // dh_installsystemd's postinst enabled the unit (and its bus alias) without systemd running.
    const unit = '/usr/lib/systemd/system/rovyd.service';
    for (const link of ['multi-user.target.wants/rovyd.service', 'dbus-net.rovy.Rovy1.service']) {
      if (!links.split('\n').includes(`${link} -> ${unit}`)) problems.push(`/etc/systemd/system/${link} does not point at ${unit}`);
    }
    assert.deepEqual(problems, []);
  });

  let peerId = '';
  await t.test('rovy --help and rovy id work, as root and as the rovy user with the defaults', () => {
    const help = ok(chroot('rovy --help'), 'rovy --help');
    assert.match(help, /^usage: rovy COMMAND/);
    assert.match(help, /^ {2}daemon {2,}run the node/m);
    const out = ok(chroot(`
      mkdir /root/t
      rovy init --config /root/t/rovy.toml >/dev/null
      rovy id --config /root/t/rovy.toml --json
      # The key where the daemon keeps it, as the daemon would have written it.
      install -o rovy -g rovy -m 0600 /root/t/node.key /var/lib/rovy/node.key
      setpriv --reuid=rovy --regid=rovy --clear-groups --reset-env rovy id --json`), 'rovy id');
    const [asRoot, asRovy] = out.trim().split('\n').map((l) => JSON.parse(l) as { peerId: string; address: string });
    assert.match(asRoot?.peerId ?? '', /^bafzqai[a-z2-7]{52}$/);
    assert.match(asRoot?.address ?? '', /^fc[0-9a-f]{2}(:[0-9a-f]{0,4}){1,7}$/);
    assert.deepEqual(asRovy, asRoot, 'the rovy user reads the same key from /var/lib/rovy');
    peerId = asRoot?.peerId ?? '';
  });

  await t.test("trixie's lintian reports no errors", () => {
    const start = process.hrtime.bigint();
    const r = chroot(`lintian --allow-root --fail-on error --display-info --tag-display-limit 0 /mnt/${basename(deb)}`);
    t.diagnostic(`lintian ran in ${seconds(start)}`);
    const tags = r.stdout.trim().split('\n').filter((l) => /^[EWIPXNO]: /.test(l));
    for (const tag of tags) t.diagnostic(`lintian ${tag}`);
    assert.deepEqual(tags.filter((l) => l.startsWith('E: ')), [], 'lintian errors');
    // Also what shows a lintian that did not run at all (no tags, exit 127) or died.
    assert.equal(r.status, 0, `lintian exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  });

  await t.test('apt-get remove keeps /var/lib/rovy and the key; apt-get purge deletes them', () => {
    const keyHash = 'sha256sum /var/lib/rovy/node.key | cut -d" " -f1';
    const before = ok(chroot(keyHash), 'sha256sum').trim();
    const removed = ok(chroot(`
      apt-get remove -y -q -o Dpkg::Use-Pty=0 rovy >&2
      dpkg-query -W -f '\${Status}\\n' rovy
      test ! -e /usr/bin/rovy && echo "no /usr/bin/rovy"
      ${keyHash} 2>/dev/null || echo "no key"
      stat -c '%a %U' /var/lib/rovy /var/lib/rovy/node.key
      getent passwd rovy | cut -d: -f1`), 'apt-get remove');
    assert.deepEqual(removed.trim().split('\n'), ['deinstall ok config-files', 'no /usr/bin/rovy', before, '700 rovy', '600 rovy', 'rovy']);

    const purged = ok(chroot(`
      apt-get purge -y -q -o Dpkg::Use-Pty=0 rovy >&2
      dpkg-query -W -f '\${Status}\\n' rovy 2>/dev/null || echo "not known to dpkg"
      for f in /var/lib/rovy /etc/rovy /etc/systemd/system/multi-user.target.wants/rovyd.service /etc/systemd/system/dbus-net.rovy.Rovy1.service; do
        if test -e "$f" || test -L "$f"; then echo "still there: $f"; fi
      done`), 'apt-get purge');
    assert.deepEqual(purged.trim().split('\n'), ['not known to dpkg'], `after purge (key of ${peerId})`);
  });
});
