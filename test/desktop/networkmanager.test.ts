// The daemon and the real NetworkManager share one switch: the `rovy` profile. NetworkManager
// runs in node A's namespace on a private system bus whose policy is the repo's own; B is a
// second node without a bus. Checked with nmcli, busctl, the rovy CLI and ping -6.
//
//   private system bus ── NetworkManager (ns A) ── daemon A (ns A)
//   ns A  veth fd00:e7::1/64  <──────────>  veth fd00:e7::2/64  ns B: daemon B, no bus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { rovyUser } from '../system-user.js';
import { Lab, ROVY_JS, nsExec, until, type Daemon } from '../net/netns.js';
import { isRoot, run, startMonitor, startPolkitd, startSystemBus, type Polkitd, type PrivateBus } from './buses.js';
import { NetworkManager } from './network-manager.js';

const DEST = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';
const UUID = '3d5f6a1e-9c2b-4e7a-8f10-726f76790001';
/** How soon each side must follow the other (issue 10: within 2 s). */
const FOLLOW_MS = 2000;

/** UDP datagrams the namespace has sent, IPv4 and IPv6 together (the kernel's own counters). */
function udpSent(ns: string): number {
  const v6 = Number(/Udp6OutDatagrams\s+(\d+)/.exec(nsExec(ns, 'cat', ['/proc/net/snmp6']).out)![1]);
  // /proc/net/snmp: a line of names, then a line of values, per protocol.
  const [names, values] = nsExec(ns, 'cat', ['/proc/net/snmp']).out.split('\n').filter((l) => l.startsWith('Udp: ')).map((l) => l.split(' '));
  const v4 = Number(values![names!.indexOf('OutDatagrams')]);
  assert.ok(Number.isFinite(v6) && Number.isFinite(v4));
  return v6 + v4;
}

test('NetworkManager shows and switches the mesh', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  const resolvConf = createHash('sha256').update(readFileSync('/etc/resolv.conf')).digest('hex');
  try {
    bus = await startSystemBus();
    const env = bus.env;
    const monitor = await startMonitor(bus);
    t.after(() => monitor.stop());
    const busctl = (...args: string[]) => run('busctl', ['--system', ...args], env);
    const rovy = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], env);
    const enabled = async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim();
    const state = async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'State')).stdout.trim();

    const nsA = lab.namespace('NA');
    const nsB = lab.namespace('NB');
    lab.link(nsA, 'fd00:e7::1', nsB, 'fd00:e7::2');
    const a = lab.initNode('a');
    const b = lab.initNode('b');
    // B offers an exit, which A uses for a while: its part of the profile reaches NetworkManager.
    lab.file('b/rovy.toml', ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[exit]', 'offer = true', '[[peer]]', `address = "/ip6/fd00:e7::1/udp/7777/rovy/${a.peerId}"`].join('\n'));
    lab.file('a/rovy.toml', ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[[peer]]', `address = "/ip6/fd00:e7::2/udp/7777/rovy/${b.peerId}"`].join('\n'));

    const nm = new NetworkManager(lab, bus, nsA);
    await nm.start();
    const nmcli = (...args: string[]) => nm.nmcli(...args);
    /** The profile's fields, as nmcli reads them back. */
    const profile = async (fields: string) => (await nmcli('-g', fields, 'connection', 'show', 'rovy')).stdout.trim().split('\n');
    /** Profiles NetworkManager has with id rovy (there must only ever be one). */
    const rovyProfiles = async () => (await nmcli('-g', 'NAME,UUID', 'connection', 'show')).stdout.split('\n').filter((l) => l.startsWith('rovy:'));
    const profileActive = async () => (await nmcli('-g', 'GENERAL.STATE', 'connection', 'show', 'rovy')).stdout.trim();
    const ping = (to: string) => nsExec(nsA, 'ping', ['-6', '-c', '1', '-W', '1', to]).code === 0;

    const startA = (): Daemon => lab.spawn(nsA, ['env', `DBUS_SYSTEM_BUS_ADDRESS=${bus!.address}`, process.execPath, '--enable-source-maps', ROVY_JS, 'daemon', '--config', a.config]);
    let daemonA = startA();
    lab.spawn(nsB, [process.execPath, ROVY_JS, 'daemon', '--config', b.config]);
    await until('A registered with NetworkManager', () => /profile rovy \(.*\) registered, active/.test(daemonA.log), 15_000);
    await until('A reaches B across the mesh', () => ping(b.address), 15_000);

    await t.test('the daemon owns one tun profile "rovy" with the mesh settings', async () => {
      assert.deepEqual(await rovyProfiles(), [`rovy:${UUID}`]);
      const [type, iface, autoconnect, owner, mode, pi, v4, v6, addresses, routes, dns, search] = await profile(
        'connection.type,connection.interface-name,connection.autoconnect,tun.owner,tun.mode,tun.pi,ipv4.method,ipv6.method,ipv6.addresses,ipv6.routes,ipv6.dns,ipv6.dns-search',
      );
      assert.equal(type, 'tun');
      assert.equal(iface, 'rovy0');
      assert.equal(autoconnect, 'no');
      assert.equal(owner, String(process.getuid!()), 'tun.owner is the daemon uid');
      assert.equal(mode, '1');
      assert.equal(pi, 'no');
      assert.equal(v4, 'disabled');
      assert.equal(v6, 'manual');
      assert.equal(addresses, `${a.address.replace(/:/g, '\\:')}/8`);
      assert.equal(routes, 'fc00\\:\\:/8');
      assert.equal(dns, 'fc00\\:\\:1');
      assert.equal(search, '~rovy');
      assert.equal(await profileActive(), 'activated');
    });

    await t.test('NetworkManager is spoken to over D-Bus through the one D-Bus module, never through nmcli', () => {
      const sources = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
      for (const file of [...sources(join(ROOT, 'service')), ...sources(join(ROOT, 'src'))]) {
        const text = readFileSync(file, 'utf8');
        assert.doesNotMatch(text, /(exec|spawn)\w*\(\s*['"`]nmcli/, `${file} runs nmcli`);
        if (!file.endsWith(join('service', 'dbus', 'bus.ts'))) assert.doesNotMatch(text, /from ['"]dbus-next['"]/, `${file} imports dbus-next`);
      }
    });

    await t.test("the DNS settings reach NetworkManager's DNS configuration", async () => {
      const r = await nm.busctl('get-property', 'org.freedesktop.NetworkManager', '/org/freedesktop/NetworkManager/DnsManager', 'org.freedesktop.NetworkManager.DnsManager', 'Configuration', '--json=short');
      const config = JSON.parse(r.stdout) as { data: Record<string, { data: unknown }>[] };
      const entry = config.data.find((e) => e.interface?.data === 'rovy0');
      assert.ok(entry, r.stdout);
      assert.deepEqual(entry.nameservers!.data, ['fc00::1']);
      assert.deepEqual(entry.domains!.data, ['~rovy']);
    });

    await t.test('with an exit in use, NetworkManager gives rovy0 the mesh IPv4 address and sends every name to fc00::1; off, as before', async () => {
      const dnsOfRovy = async () => {
        const r = await nm.busctl('get-property', 'org.freedesktop.NetworkManager', '/org/freedesktop/NetworkManager/DnsManager', 'org.freedesktop.NetworkManager.DnsManager', 'Configuration', '--json=short');
        const entry = (JSON.parse(r.stdout) as { data: Record<string, { data: unknown }>[] }).data.find((e) => e.interface?.data === 'rovy0');
        return { domains: entry?.domains?.data, priority: entry?.priority?.data };
      };
      const ipv4 = () => nsExec(nsA, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'rovy0']).out;
      await until('A hears B\'s exit', async () => ((JSON.parse((await rovy('exit', '--json')).stdout) as { offers: unknown[] }).offers.length === 1), 15_000);
      const used = await rovy('exit', 'use', b.peerId);
      assert.equal(used.code, 0, used.stderr);
      const address = (JSON.parse((await rovy('exit', '--json')).stdout) as { address: string }).address;
      // The profile routes every name ("~.") to rovy0's server, and the negative priority makes
      // NetworkManager use no other server meanwhile (its DNS configuration shows the priority).
      await until('every name to fc00::1', async () => (await dnsOfRovy()).priority === -50, 15_000).catch(async (e: Error) =>
        assert.fail(`${e.message}: ${JSON.stringify(await dnsOfRovy())}\n${daemonA.log}`),
      );
      assert.deepEqual(await profile('ipv6.dns-search,ipv6.dns-priority'), ['~rovy,~.', '-50']);
      assert.deepEqual(await profile('ipv4.method,ipv4.addresses,ipv4.never-default'), ['manual', `${address}/32`, 'yes']);
      assert.match(ipv4(), new RegExp(`inet ${address.replace(/\./g, '\\.')}/32`));
      assert.equal(await profileActive(), 'activated', 'applied without taking the link down');
      assert.ok(ping(b.address), 'the mesh still carries A\'s traffic');
      const off = await rovy('exit', 'off');
      assert.equal(off.code, 0, off.stderr);
      await until('only .rovy to fc00::1 again', async () => JSON.stringify(await dnsOfRovy()) === JSON.stringify({ domains: ['~rovy'], priority: 100 }), 15_000).catch(async (e: Error) =>
        assert.fail(`${e.message}: ${JSON.stringify(await dnsOfRovy())}`),
      );
      assert.deepEqual(await profile('ipv6.dns-search,ipv6.dns-priority'), ['~rovy', '0']);
      assert.deepEqual(await profile('ipv4.method'), ['disabled']);
      await until('no IPv4 address on rovy0', () => ipv4() === '', 5000);
    });

    await t.test('nmcli connection down rovy switches the mesh off, and nothing is sent', async () => {
      const r = await nmcli('connection', 'down', 'rovy');
      assert.equal(r.code, 0, r.stderr);
      const ms = await until('Enabled false on D-Bus', async () => (await enabled()) === 'b false', FOLLOW_MS);
      t.diagnostic(`nmcli down → Enabled false on D-Bus in ${ms.toFixed(0)} ms`);
      assert.equal(await state(), 's "disabled"');
      assert.ok(
        monitor.messages().some((m) => m.member === 'PropertiesChanged' && m.path === ROOT_PATH && JSON.stringify(m.payload).includes('"Enabled":{"type":"b","data":false}')),
        'PropertiesChanged carried Enabled false',
      );
      assert.match(readFileSync(lab.path('a/state.json'), 'utf8'), /"enabled": false/, 'the choice is saved');
      // A daemon that is on sends a hello every second and LAN beacons: three quiet seconds mean off.
      const before = udpSent(nsA);
      const start = Date.now();
      await until('three seconds to pass', () => Date.now() - start >= 3000, 5000, 100);
      assert.equal(udpSent(nsA) - before, 0, 'no datagram left A while switched off');
      assert.equal(ping(b.address), false);
    });

    await t.test('nmcli connection up rovy switches it on, and A reaches B again', async () => {
      const r = await nmcli('connection', 'up', 'rovy');
      assert.equal(r.code, 0, r.stderr);
      const ms = await until('Enabled true on D-Bus', async () => (await enabled()) === 'b true', FOLLOW_MS);
      t.diagnostic(`nmcli up → Enabled true on D-Bus in ${ms.toFixed(0)} ms`);
      await until('A reaches B again', () => ping(b.address), 15_000);
    });

    await t.test('rovy down and rovy up drive the profile', async () => {
      let r = await rovy('down');
      assert.equal(r.code, 0, r.stderr);
      let ms = await until('the profile inactive in nmcli', async () => (await profileActive()) === '', FOLLOW_MS);
      t.diagnostic(`rovy down → profile inactive in nmcli in ${ms.toFixed(0)} ms`);
      assert.equal(await enabled(), 'b false');
      r = await rovy('up');
      assert.equal(r.code, 0, r.stderr);
      ms = await until('the profile active in nmcli', async () => (await profileActive()) === 'activated', FOLLOW_MS);
      t.diagnostic(`rovy up → profile activated in nmcli in ${ms.toFixed(0)} ms`);
      await until('A reaches B', () => ping(b.address), 15_000);
      // Switched back and forth at once: the states NetworkManager passes through on the way
      // must not switch the mesh against the last word, which was off.
      for (const word of ['down', 'up', 'down']) assert.equal((await rovy(word)).code, 0);
      const start = Date.now();
      await until('three quiet seconds', async () => {
        assert.equal(await enabled(), 'b false', 'the mesh was switched on against the last word');
        return Date.now() - start > 3000;
      }, 5000, 100);
      assert.equal(await profileActive(), '');
      assert.equal((await rovy('up')).code, 0);
      await until('A reaches B', () => ping(b.address), 15_000);
    });

    await t.test("a restart keeps exactly one profile, rewrites rovy's fields and keeps the user's", async () => {
      // The user's own changes, and changes to fields rovy owns.
      const r = await nmcli('connection', 'modify', 'rovy', 'ipv6.route-metric', '123', '+ipv6.routes', 'fd99::/16', 'connection.autoconnect', 'yes', 'ipv6.addresses', 'fd00:bad::1/64');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await daemonA.stop(), 0);
      daemonA = startA();
      await until('A registered again', () => /profile rovy \(.*\) registered, active/.test(daemonA.log), 15_000);
      assert.deepEqual(await rovyProfiles(), [`rovy:${UUID}`]);
      const [metric, routes, autoconnect, method, addresses] = await profile('ipv6.route-metric,ipv6.routes,connection.autoconnect,ipv6.method,ipv6.addresses');
      assert.equal(metric, '123', "the user's route metric survives");
      assert.equal(routes, 'fc00\\:\\:/8, fd99\\:\\:/16', "the user's route survives beside rovy's");
      assert.equal(autoconnect, 'no');
      assert.equal(method, 'manual');
      assert.equal(addresses, `${a.address.replace(/:/g, '\\:')}/8`);
      await until('A reaches B after the restart', () => ping(b.address), 15_000);
    });

    await t.test('a daemon that starts switched off leaves the profile down, and nmcli up still switches it on', async () => {
      assert.equal((await rovy('down')).code, 0);
      assert.equal(await daemonA.stop(), 0);
      daemonA = startA();
      await until('A registered, inactive', () => /profile rovy \(.*\) registered, inactive/.test(daemonA.log), 15_000);
      assert.equal(await enabled(), 'b false');
      assert.equal(await profileActive(), '');
      // The daemon's TUN is down and NetworkManager did not create it: only a device made managed is found for the profile.
      const r = await nmcli('connection', 'up', 'rovy');
      assert.equal(r.code, 0, r.stderr);
      await until('Enabled true', async () => (await enabled()) === 'b true', FOLLOW_MS);
      await until('A reaches B', () => ping(b.address), 15_000);
    });

    await t.test('a NetworkManager restart under a running mesh is survived', async () => {
      await nm.stop();
      await until('the daemon notices NetworkManager left', () => /NetworkManager left the bus/.test(daemonA.log));
      assert.ok(ping(b.address), 'the mesh keeps running without NetworkManager');
      assert.equal(await enabled(), 'b true');
      const registered = (daemonA.log.match(/registered, active/g) ?? []).length;
      await nm.start();
      await until('A registered with the new NetworkManager', () => (daemonA.log.match(/registered, active/g) ?? []).length > registered, 15_000);
      assert.deepEqual(await rovyProfiles(), [`rovy:${UUID}`]);
      assert.equal(await profileActive(), 'activated');
      assert.ok(ping(b.address));
      // Still one switch: NetworkManager's down still reaches the daemon.
      await nmcli('connection', 'down', 'rovy');
      await until('Enabled false after the restart', async () => (await enabled()) === 'b false', FOLLOW_MS);
      await nmcli('connection', 'up', 'rovy');
      await until('Enabled true again', async () => (await enabled()) === 'b true', FOLLOW_MS);
      await until('A reaches B', () => ping(b.address), 15_000);
    });

    await t.test('a TUN the daemon created stays when NetworkManager lets it go', async () => {
      // Since the start the daemon's own rovy0 is the one NetworkManager manages. (This runs before
      // NetworkManager creates a rovy0 itself: for the rest of its run it then treats every rovy0
      // as its own and deletes it on down, and the daemon attaches to the next one, as below.)
      assert.match(nsExec(nsA, 'ip', ['-d', 'link', 'show', 'rovy0']).out, /persist off/);
      const index = nsExec(nsA, 'cat', ['/sys/class/net/rovy0/ifindex']).out.trim();
      await nmcli('connection', 'down', 'rovy');
      await until('Enabled false', async () => (await enabled()) === 'b false', FOLLOW_MS);
      assert.equal(nsExec(nsA, 'cat', ['/sys/class/net/rovy0/ifindex']).out.trim(), index, 'the same rovy0 is still there');
      await nmcli('connection', 'up', 'rovy');
      await until('Enabled true', async () => (await enabled()) === 'b true', FOLLOW_MS);
      await until('A reaches B', () => ping(b.address), 15_000);
      assert.equal(nsExec(nsA, 'cat', ['/sys/class/net/rovy0/ifindex']).out.trim(), index);
    });

    await t.test('a TUN NetworkManager created is deleted on down and attached to anew on up', async () => {
      // With the daemon stopped its TUN is gone; NetworkManager creates a persistent one of its own.
      assert.equal(await daemonA.stop(), 0);
      let r = await nmcli('connection', 'up', 'rovy');
      assert.equal(r.code, 0, r.stderr);
      assert.match(nsExec(nsA, 'ip', ['-d', 'link', 'show', 'rovy0']).out, /persist on/);
      // tun.owner: no other local user may attach to it while the daemon is away.
      const stranger = nsExec(nsA, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '-e',
        `try { require(${JSON.stringify(join(ROOT, 'build', 'Release', 'rovy_native.node'))}).tunOpen('rovy0', true); console.log('attached'); } catch (e) { console.log(e.code); }`]);
      assert.equal(stranger.out.trim(), 'EPERM', stranger.out);
      daemonA = startA();
      await until('A registered', () => /registered, active/.test(daemonA.log), 15_000);
      await until('A reaches B over the TUN NetworkManager made', () => ping(b.address), 15_000);
      r = await nmcli('connection', 'down', 'rovy');
      await until('Enabled false', async () => (await enabled()) === 'b false', FOLLOW_MS);
      assert.notEqual(nsExec(nsA, 'ip', ['link', 'show', 'rovy0']).code, 0, 'NetworkManager deleted its TUN');
      r = await nmcli('connection', 'up', 'rovy');
      assert.equal(r.code, 0, r.stderr);
      await until('Enabled true', async () => (await enabled()) === 'b true', FOLLOW_MS);
      await until('the daemon attached to the new TUN', () => /attached to rovy0 anew/.test(daemonA.log));
      await until('A reaches B again', () => ping(b.address), 15_000);
    });

    await t.test('a signal only NetworkManager may send is ignored from anyone else', async () => {
      const reply = await nm.busctl('call', 'org.freedesktop.NetworkManager', '/org/freedesktop/NetworkManager/Settings', 'org.freedesktop.NetworkManager.Settings', 'GetConnectionByUuid', 's', UUID);
      const path = /^o "(.*)"$/.exec(reply.stdout.trim())?.[1] ?? '';
      assert.match(path, /^\/org\/freedesktop\/NetworkManager\/Settings\/\d+$/, reply.stdout + reply.stderr);
      const forged = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'dbus-send', '--system', '--type=signal', '/org/freedesktop/NetworkManager/Settings', 'org.freedesktop.NetworkManager.Settings.ConnectionRemoved', `objpath:${path}`], env);
      assert.equal(forged.code, 0, forged.stderr);
      // The daemon's answer to a real one is at once: a ping after it has round-tripped the bus is late enough.
      await busctl('get-property', DEST, ROOT_PATH, DEST, 'State');
      assert.doesNotMatch(daemonA.log, /was deleted/);
    });

    await t.test('a deleted profile comes back, and the mesh stays as it was', async () => {
      const r = await nmcli('connection', 'delete', 'rovy');
      assert.equal(r.code, 0, r.stderr);
      await until('the profile back and active', async () => (await rovyProfiles()).length === 1 && (await profileActive()) === 'activated', 10_000);
      assert.deepEqual(await rovyProfiles(), [`rovy:${UUID}`]);
      assert.equal(await enabled(), 'b true');
      await until('A reaches B', () => ping(b.address), 15_000);
    });

    await t.test('/etc/resolv.conf is never edited', () => {
      assert.equal(createHash('sha256').update(readFileSync('/etc/resolv.conf')).digest('hex'), resolvConf);
    });
  } finally {
    await lab.cleanup();
    await bus?.stop();
  }
});

// As installed: rovyd runs as the system user rovy, outside any session, and NetworkManager asks
// polkit about each of its calls. dbus/net.rovy.rules grants it its own profile; without the
// rule it is refused, and the daemon runs its interface itself.
test('the daemon as user rovy keeps its profile through polkit', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  const polkit: { current: Polkitd | null } = { current: null };
  const user = rovyUser();
  try {
    const { uid } = user;
    const stateDir = user.stateDir(lab.dir);
    bus = await startSystemBus();
    const env = bus.env;
    const busctl = (...args: string[]) => run('busctl', ['--system', ...args], env);
    const nsA = lab.namespace('NRA');
    const nsB = lab.namespace('NRB');
    lab.link(nsA, 'fd00:e8::1', nsB, 'fd00:e8::2');
    const b = lab.initNode('b');
    const configA = lab.file('a/rovy.toml', [`key_file = "${join(stateDir, 'node.key')}"`, 'listen = ["/ip6/::/udp/7777"]', '[[peer]]', `address = "/ip6/fd00:e8::2/udp/7777/rovy/${b.peerId}"`].join('\n'));
    const nm = new NetworkManager(lab, bus, nsA);
    await nm.start();
    const startA = (): Daemon =>
      lab.spawn(nsA, [
        'setpriv', '--reuid=rovy', '--regid=rovy', '--init-groups',
        '--inh-caps=-all,+net_admin', '--ambient-caps=-all,+net_admin', '--bounding-set=-all,+net_admin', '--no-new-privs', '--',
        'env', `DBUS_SYSTEM_BUS_ADDRESS=${bus!.address}`, process.execPath, '--enable-source-maps', ROVY_JS, 'daemon', '--config', configA,
      ]);
    // A copy: polkitd's private actions directory hides the original.
    const nmActions = lab.path('org.freedesktop.NetworkManager.policy');
    copyFileSync('/usr/share/polkit-1/actions/org.freedesktop.NetworkManager.policy', nmActions);

    await t.test('without the rule NetworkManager refuses it, and it configures rovy0 itself', async () => {
      polkit.current = await startPolkitd(bus!, { actions: [join(ROOT, 'dbus', 'net.rovy.policy'), nmActions], rules: [] });
      const daemonA = startA();
      await until('A refused by NetworkManager', () => /cannot register the rovy profile: .*(not authorized|Insufficient privileges)/i.test(daemonA.log), 15_000).catch((e: Error) => assert.fail(`${e.message}\n${daemonA.log}`));
      assert.equal((await nm.nmcli('-g', 'NAME', 'connection', 'show')).stdout.split('\n').includes('rovy'), false);
      const id = lab.id(configA);
      assert.match(nsExec(nsA, 'ip', ['-6', 'addr', 'show', 'dev', 'rovy0']).out, new RegExp(`${id.address}/8`));
      assert.equal(await daemonA.stop(), 0);
      await polkit.current.stop();
    });

    await t.test('with the rule it creates, activates and follows its profile', async () => {
      polkit.current = await startPolkitd(bus!, { actions: [join(ROOT, 'dbus', 'net.rovy.policy'), nmActions], rules: [join(ROOT, 'dbus', 'net.rovy.rules')] });
      const daemonA = startA();
      const id = lab.id(configA);
      // B offers an exit, which A uses for a while: its part of the profile reaches NetworkManager.
    lab.file('b/rovy.toml', ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[exit]', 'offer = true', '[[peer]]', `address = "/ip6/fd00:e8::1/udp/7777/rovy/${id.peerId}"`].join('\n'));
      lab.spawn(nsB, [process.execPath, ROVY_JS, 'daemon', '--config', b.config]);
      await until('A registered, as rovy', () => /profile rovy \(.*\) registered, active/.test(daemonA.log), 15_000).catch((e: Error) => assert.fail(`${e.message}\n${daemonA.log}`));
      assert.equal((await nm.nmcli('-g', 'tun.owner', 'connection', 'show', 'rovy')).stdout.trim(), String(uid));
      await until('A reaches B', () => nsExec(nsA, 'ping', ['-6', '-c', '1', '-W', '1', b.address]).code === 0, 15_000);
      await nm.nmcli('connection', 'down', 'rovy');
      await until('Enabled false', async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim() === 'b false', FOLLOW_MS);
      const up = await nm.nmcli('connection', 'up', 'rovy');
      assert.equal(up.code, 0, up.stderr);
      await until('Enabled true', async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim() === 'b true', FOLLOW_MS);
      await until('A reaches B again', () => nsExec(nsA, 'ping', ['-6', '-c', '1', '-W', '1', b.address]).code === 0, 15_000);
    });
  } finally {
    await lab.cleanup();
    await polkit.current?.stop();
    await bus?.stop();
    user.remove();
  }
});
