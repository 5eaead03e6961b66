// Exits (issue 15, 2 and 4): a client two mesh hops from an exit reaches a host on "the Internet"
// through it over IPv4 and IPv6, its own links to the mesh keeping their path; without the kill
// switch it falls back to its own uplink when the exit stops, with it nothing leaves; `rovy exit
// off` puts its routing back exactly; an exit that does not serve a node lets nothing of it out.
//
//             ┌────────────── ns I: "the Internet" (a router, and the host 203.0.113.5, 2001:db8:5::5)
//             │         │          │
//   ns C ─────┘   ns M ─┘   ns E ──┘      C's own uplink, M's underlay, E's uplink: all through I
//   client        mid       exit
//      └── mesh link ──┘└─ mesh link ─┘   C lists M (reached through I, by C's default route);
//                                         M lists E (a veth of their own). C ── M ── E: two hops.
//
// The client's daemon has the API on a private system bus; `rovy exit` drives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, ROVY_JS, isRoot, nsExec, sh, until, type Daemon } from '../net/netns.js';
import { ROOT } from '../repo-root.js';
import { run, startSystemBus, type PrivateBus } from './buses.js';

const WHOAMI = join(ROOT, 'dist', 'test', 'net', 'whoami.tool.js');
const PORT = '9999';
const HOST4 = '203.0.113.5';
const HOST6 = '2001:db8:5::5';

interface ExitStatus {
  state: string;
  node: string | null;
  killSwitch: boolean;
  address: string;
  offering: boolean;
  offers: { peerId: string; ipv4: boolean; ipv6: boolean; hops: number | null }[];
}

test('a client two hops from an exit reaches the Internet through it, falls back or holds when it stops, and gets its routes back', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  try {
    bus = await startSystemBus();
    const rovy = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], bus!.env);
    const exitStatus = async (): Promise<ExitStatus> => {
      const r = await rovy('exit', '--json');
      if (r.code !== 0) throw new Error(`rovy exit --json: ${r.stdout}${r.stderr}`);
      return JSON.parse(r.stdout) as ExitStatus;
    };

    const [inet, c, m, e] = ['i', 'c', 'm', 'e'].map((n) => lab.namespace(`x${n}`)) as [string, string, string, string];
    sh('ip', ['-n', inet, 'addr', 'add', `${HOST4}/32`, 'dev', 'lo']);
    sh('ip', ['-n', inet, 'addr', 'add', `${HOST6}/128`, 'dev', 'lo']);
    sh('ip', ['netns', 'exec', inet, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    sh('ip', ['netns', 'exec', inet, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // Each of C, M and E has an uplink to I, IPv6 and IPv4, and its default routes through it.
    const uplinks: Record<string, string> = {};
    for (const [ns, net, v4] of [[c, 'c', '192.0.2'], [m, 'b', '198.18.0'], [e, 'a', '198.51.100']] as const) {
      const [inside, outside] = lab.link(inet, `2001:db8:${net}::1`, ns, `2001:db8:${net}::2`);
      sh('ip', ['-n', inet, 'addr', 'add', `${v4}.1/24`, 'dev', inside]);
      sh('ip', ['-n', ns, 'addr', 'add', `${v4}.2/24`, 'dev', outside]);
      sh('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', `2001:db8:${net}::1`]);
      sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', `${v4}.1`]);
      uplinks[ns] = outside;
    }
    lab.link(m, 'fd00:16:1::b', e, 'fd00:16:1::e');
    sh('ip', ['netns', 'exec', e, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    sh('ip', ['netns', 'exec', e, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);

    const host = lab.spawn(inet, [process.execPath, WHOAMI, 'serve', PORT, HOST4, HOST6]);
    // The Internet's name server, which the exit's machine uses (and the client's does not).
    const names = lab.spawn(inet, [process.execPath, WHOAMI, 'dns', '53', HOST4]);
    lab.resolvConf(e, `nameserver ${HOST4}\n`);
    await until('the Internet host and name server listen', () => host.log.includes('listening') && names.log.includes('listening'));
    /** What the client's resolver at fc00::1 says of a name outside .rovy: the TXT record (the
     *  address the query reached the name server from), or dig's status line. */
    const lookup = (): string => {
      const r = nsExec(c, 'dig', ['@fc00::1', '+time=4', '+tries=1', 'whoami.example', 'TXT']);
      return /^whoami\.example\.\s+\d+\s+IN\s+TXT\s+"([^"]*)"/m.exec(r.out)?.[1] ?? /status: (\w+)/.exec(r.out)?.[1] ?? r.out;
    };
    const ask = (address: string): string => nsExec(c, process.execPath, [WHOAMI, 'ask', address, PORT]).out.trim();

    const nc = lab.initNode('c');
    const nm = lab.initNode('m');
    const ne = lab.initNode('e');
    const base = ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]'];
    const peer = (address: string, peerId: string) => ['[[peer]]', `address = "/ip6/${address}/udp/7777/rovy/${peerId}"`];
    lab.file('c/rovy.toml', [...base, ...peer('2001:db8:b::2', nm.peerId)].join('\n'));
    lab.file('m/rovy.toml', [...base, ...peer('2001:db8:c::2', nc.peerId), ...peer('fd00:16:1::e', ne.peerId)].join('\n'));
    const exitConfig = (clients: string[] | null) =>
      [...base, '[exit]', 'offer = true', `uplink = "${uplinks[e]}"`, ...(clients ? [`clients = [${clients.map((id) => `"${id}"`).join(', ')}]`] : []), ...peer('fd00:16:1::b', nm.peerId)].join('\n');
    lab.file('e/rovy.toml', exitConfig(null));
    const daemonC = lab.spawn(c, ['env', `DBUS_SYSTEM_BUS_ADDRESS=${bus.address}`, process.execPath, '--enable-source-maps', ROVY_JS, 'daemon', '--config', nc.config]);
    lab.start(m, nm.config);
    let daemonE: Daemon = lab.start(e, ne.config);

    // The client's routing as it was before any exit: what `rovy exit off` must give back.
    const routing = (): string =>
      ['rule', '-6 rule', '-4 route show table all', '-6 route show table all', '-4 addr show'].map((what) => nsExec(c, 'ip', what.split(' ')).out).join('\n---\n');

    await t.test('the client hears the exit\'s offer, two hops away, and its own uplink carries its traffic', async () => {
      // (The daemon may not be on the bus yet: rovy exit fails until it is.)
      const hears = async () => (await exitStatus().catch(() => null))?.offers.some((o) => o.peerId === ne.peerId && o.hops === 2) === true;
      await until('the client hears the exit', hears, 30_000).catch((err: Error) =>
        assert.fail(`${err.message}\n${daemonC.log}`),
      );
      const s = await exitStatus();
      assert.equal(s.state, 'off');
      assert.deepEqual(s.offers, [{ peerId: ne.peerId, ipv4: true, ipv6: true, hops: 2, name: null }]);
      assert.match(s.address, /^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.\d+\.\d+$/);
      assert.equal(ask(HOST4), '192.0.2.2');
      assert.equal(ask(HOST6), '2001:db8:c::2');
      // No exit: fc00::1 answers .rovy only.
      assert.equal(lookup(), 'REFUSED');
      // An exit is never a route by itself: no default through the mesh before one is chosen.
      assert.doesNotMatch(nsExec(c, 'ip', ['-4', 'route', 'show', 'table', 'all']).out, /rovy0.*default|default.*rovy0/);
    });
    const before = routing();

    await t.test('with the exit in use, the client reaches the Internet host through it over IPv4 and IPv6', async () => {
      const used = await rovy('exit', 'use', ne.peerId);
      assert.equal(used.code, 0, used.stdout + used.stderr);
      await until('the exit is active', async () => (await exitStatus()).state === 'active', 15_000);
      // The host sees the exit's uplink addresses: masqueraded there.
      await until('IPv4 leaves by the exit', () => ask(HOST4) === '198.51.100.2', 15_000).catch(async () =>
        assert.fail(`IPv4 answer: ${ask(HOST4)}\nexit's counters: ${JSON.stringify((await daemonE.state()).counters)}\n${nsExec(e, 'nft', ['list', 'ruleset']).out}\n${nsExec(e, 'ip', ['-4', 'route']).out}\n${daemonE.log}\nclient's counters: ${JSON.stringify((await daemonC.state()).counters)}\n${daemonC.log}`),
      );
      await until('IPv6 leaves by the exit', () => ask(HOST6) === '2001:db8:a::2', 15_000).catch(() => assert.fail(`IPv6 answer: ${ask(HOST6)}`));
      for (const [family, address] of [['-4', HOST4], ['-6', HOST6]] as const) {
        const r = nsExec(c, 'ping', [family, '-n', '-c', '3', '-i', '0.2', '-W', '1', address]);
        assert.match(r.out, /3 received/, r.out);
      }
      // Names beyond .rovy are looked up through the exit: the name server sees the exit's address.
      assert.equal(lookup(), '198.51.100.2');
      // The daemon's own datagrams to M keep the underlay's path (they carry the mark); anything
      // else for M's underlay address would go into the mesh.
      assert.match(nsExec(c, 'ip', ['-6', 'route', 'get', '2001:db8:b::2', 'mark', '0x7279']).out, new RegExp(`dev ${uplinks[c]}`));
      assert.match(nsExec(c, 'ip', ['-6', 'route', 'get', '2001:db8:b::2']).out, /dev rovy0/);
      // The link to M stays up while everything else goes through the mesh: rovy peers says so.
      const peers = JSON.parse((await rovy('peers', '--json')).stdout) as { peerId: string; state: string }[];
      assert.equal(peers.find((p) => p.peerId === nm.peerId)?.state, 'connected');
      assert.match(daemonC.log, /exit routing on: rules 29300 and 29301, table 29305/);
    });

    await t.test('the exit stops: without the kill switch the client\'s own uplink carries its traffic again', async () => {
      await daemonE.stop();
      await until('the exit is unavailable', async () => (await exitStatus()).state === 'unavailable', 60_000);
      await until('IPv4 leaves by the client\'s own uplink', () => ask(HOST4) === '192.0.2.2', 15_000);
      assert.equal(ask(HOST6), '2001:db8:c::2');
      assert.equal(lookup(), 'REFUSED');
    });

    await t.test('with the kill switch on, nothing leaves outside the mesh while the exit is away', async () => {
      const used = await rovy('exit', 'use', ne.peerId, '--kill-switch');
      assert.equal(used.code, 0, used.stdout + used.stderr);
      const s = await exitStatus();
      assert.equal(s.state, 'blocked');
      assert.equal(s.killSwitch, true);
      assert.equal(ask(HOST4), 'no answer');
      assert.equal(ask(HOST6), 'no answer');
      assert.match(nsExec(c, 'ping', ['-4', '-n', '-c', '1', '-W', '1', HOST4]).out, /0 received/);
      assert.equal(lookup(), 'REFUSED');
      // The exit back: traffic flows through it again.
      daemonE = lab.start(e, ne.config);
      await until('the exit is active again', async () => (await exitStatus()).state === 'active', 60_000);
      // "active" is said once names beyond .rovy go to the exit again, not before.
      assert.equal(lookup(), '198.51.100.2');
      // The exit's restart lost its sessions: the client handshakes again as soon as it has a
      // route to it (EndToEnd.routesChanged), not after WireGuard's 15 s of unanswered sending.
      const ms = await until('IPv4 leaves by the exit again', () => ask(HOST4) === '198.51.100.2', 10_000).catch(async (err: Error) => assert.fail(`${err.message}: ${JSON.stringify((await daemonE.state()).counters)}`));
      t.diagnostic(`IPv4 through the exit again ${Math.round(ms)} ms after it was active`);
    });

    await t.test('an exit that does not serve the client lets nothing of it out, and counts it', async () => {
      lab.file('e/rovy.toml', exitConfig([nm.peerId]));
      daemonE.signal('SIGHUP');
      await until('the exit refuses the client', async () => {
        ask(HOST6);
        return ((await daemonE.state()).counters as Record<string, number>).exitRefused > 0;
      }, 15_000);
      assert.equal(ask(HOST4), 'no answer');
      // Its name server is closed to the client too: the client's resolver gives up (SERVFAIL).
      assert.equal(lookup(), 'SERVFAIL');
      lab.file('e/rovy.toml', exitConfig([nc.peerId]));
      daemonE.signal('SIGHUP');
      await until('the exit serves the client again', () => ask(HOST4) === '198.51.100.2', 15_000);
    });

    await t.test('rovy exit off puts the client\'s routing back exactly as it was', async () => {
      const off = await rovy('exit', 'off');
      assert.equal(off.code, 0, off.stdout + off.stderr);
      assert.equal((await exitStatus()).state, 'off');
      assert.equal(routing(), before);
      assert.equal(ask(HOST4), '192.0.2.2');
      assert.equal(ask(HOST6), '2001:db8:c::2');
      assert.equal(lookup(), 'REFUSED');
      // The choice is gone from the state file, and stays gone when something else is saved.
      const allowed = await rovy('ports', 'allow', '22/tcp');
      assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
      const saved = JSON.parse(readFileSync(lab.path('c/state.json'), 'utf8')) as { exit: unknown; ports: string[] };
      assert.deepEqual([saved.exit, saved.ports], [null, ['22/tcp']]);
    });
  } finally {
    await lab.cleanup();
    await bus?.stop();
  }
});
