// BGP at the border (issue 15, 3 and 4): the exit E runs BIRD 2 with the repo's own snippet
// (packaging/bird/rovy.conf), which learns the routes rovyd puts in the kernel for the prefixes E
// accepts, and announces them to its upstream U, another BIRD. A host behind U reaches a host
// behind the mesh node M by that host's own address, and back (M sends the rest of the world
// through E, its exit); a claim E does not accept never reaches U, and one E stops accepting is
// withdrawn there.
//
//   ns HU ── ns U ══ BGP ══ ns E ── mesh ── ns M ── ns HM
//   host     BIRD 65000     BIRD 65001,     node    host 2001:db8:100:5::2, 10.100.5.2
//   2001:db8:200::2         rovy exit               (M's routed prefixes)
//   192.0.2.2
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Lab, isRoot, nsExec, sh, until } from './netns.js';
import { ROOT } from '../repo-root.js';

const WHOAMI = join(ROOT, 'dist', 'test', 'net', 'whoami.tool.js');
const SNIPPET = join(ROOT, 'packaging', 'bird', 'rovy.conf');

test('BIRD at the exit announces the mesh\'s accepted prefixes to its upstream, and hosts on both sides reach each other', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  try {
    const [hu, u, e, m, hm] = ['hu', 'u', 'e', 'm', 'hm'].map((n) => lab.namespace(`g${n}`)) as [string, string, string, string, string];
    const [huVeth, uHost] = lab.link(hu, '2001:db8:200::2', u, '2001:db8:200::1');
    sh('ip', ['-n', hu, 'addr', 'add', '192.0.2.2/24', 'dev', huVeth]);
    sh('ip', ['-n', u, 'addr', 'add', '192.0.2.1/24', 'dev', uHost]);
    const [uUp, eUp] = lab.link(u, '2001:db8:e::1', e, '2001:db8:e::2');
    sh('ip', ['-n', u, 'addr', 'add', '198.51.100.1/24', 'dev', uUp]);
    sh('ip', ['-n', e, 'addr', 'add', '198.51.100.2/24', 'dev', eUp]);
    lab.link(e, 'fd00:17:1::e', m, 'fd00:17:1::f');
    const [mLan, hmVeth] = lab.link(m, '2001:db8:100:5::1', hm, '2001:db8:100:5::2');
    sh('ip', ['-n', m, 'addr', 'add', '10.100.5.1/24', 'dev', mLan]);
    sh('ip', ['-n', hm, 'addr', 'add', '10.100.5.2/24', 'dev', hmVeth]);
    for (const [host, gw6, gw4] of [[hu, '2001:db8:200::1', '192.0.2.1'], [hm, '2001:db8:100:5::1', '10.100.5.1']] as const) {
      sh('ip', ['-n', host, '-6', 'route', 'add', 'default', 'via', gw6]);
      sh('ip', ['-n', host, 'route', 'add', 'default', 'via', gw4]);
    }
    for (const ns of [u, e, m]) {
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }

    // The mesh: M announces its host's networks, and one E grants it nothing for; E accepts the
    // two and offers an exit, which M uses (as `rovy exit use` leaves it in M's state file).
    const ne = lab.initNode('e');
    const nm = lab.initNode('m');
    const base = ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]'];
    const eConfig = (grants: boolean) =>
      [
        ...base,
        '[prefixes]',
        `allow = [${grants ? `"2001:db8:100:5::/64 from ${nm.peerId}", "10.100.5.0/24 from ${nm.peerId}"` : ''}]`,
        '[exit]',
        'offer = true',
        `uplink = "${eUp}"`,
        '[[peer]]',
        `address = "/ip6/fd00:17:1::f/udp/7777/rovy/${nm.peerId}"`,
      ].join('\n');
    lab.file('e/rovy.toml', eConfig(true));
    lab.file('m/rovy.toml', [...base, '[prefixes]', 'announce = ["2001:db8:100:5::/64", "10.100.5.0/24", "2001:db8:300::/64"]', '[[peer]]', `address = "/ip6/fd00:17:1::e/udp/7777/rovy/${ne.peerId}"`].join('\n'));
    lab.file('m/state.json', JSON.stringify({ enabled: true, peers: [], discovery: null, blocked: [], ports: [], exit: { peerId: ne.peerId, killSwitch: false } }));
    const daemonE = lab.start(e, ne.config);
    lab.start(m, nm.config);

    // BIRD at both ends of the BGP sessions.
    const uConf = lab.file('bird/u.conf', [
      'router id 198.51.100.1;',
      'protocol device {}',
      `protocol direct { ipv6; ipv4; interface "${uHost}"; }`,
      'protocol kernel { ipv6 { import none; export where source = RTS_BGP; }; }',
      'protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }',
      'protocol bgp exit6 { local 2001:db8:e::1 as 65000; neighbor 2001:db8:e::2 as 65001; ipv6 { import all; export where source = RTS_DEVICE; }; }',
      'protocol bgp exit4 { local 198.51.100.1 as 65000; neighbor 198.51.100.2 as 65001; ipv4 { import all; export where source = RTS_DEVICE; }; }',
    ].join('\n'));
    const eConf = lab.file('bird/e.conf', [
      'router id 198.51.100.2;',
      `include "${SNIPPET}";`,
      'protocol device {}',
      'protocol bgp upstream6 { local 2001:db8:e::2 as 65001; neighbor 2001:db8:e::1 as 65000; ipv6 { import all; export filter rovy_routed; }; }',
      'protocol bgp upstream4 { local 198.51.100.2 as 65001; neighbor 198.51.100.1 as 65000; ipv4 { import all; export filter rovy_routed; }; }',
    ].join('\n'));
    const bird = (ns: string, conf: string, name: string) => lab.spawn(ns, ['bird', '-f', '-c', conf, '-s', lab.path(`bird/${name}.ctl`), '-P', lab.path(`bird/${name}.pid`)]);
    const birdU = bird(u, uConf, 'u');
    const birdE = bird(e, eConf, 'e');
    const birdc = (name: string, ...args: string[]) => nsExec(name === 'u' ? u : e, 'birdc', ['-s', lab.path(`bird/${name}.ctl`), ...args]).out;

    await t.test('the BGP sessions come up, and U learns the prefixes E accepted from the mesh, and no other', async () => {
      await until('both sessions established', () => (birdc('u', 'show', 'protocols').match(/Established/g) ?? []).length === 2, 30_000).catch((err: Error) =>
        assert.fail(`${err.message}\n${birdc('u', 'show', 'protocols')}\n${birdU.log}\n${birdE.log}`),
      );
      const routesAtU = () => nsExec(u, 'ip', ['-6', 'route']).out + nsExec(u, 'ip', ['-4', 'route']).out;
      await until('U routes M\'s prefixes to E', () => /^2001:db8:100:5::\/64 via 2001:db8:e::2 .*proto bird/m.test(routesAtU()) && /^10\.100\.5\.0\/24 via 198\.51\.100\.2 .*proto bird/m.test(routesAtU()), 30_000).catch(
        (err: Error) => assert.fail(`${err.message}\n${routesAtU()}\n${nsExec(e, 'ip', ['-6', 'route']).out}\n${daemonE.log}`),
      );
      // What E did not accept, the exit's own routes and the mesh's fc00::/8: never announced.
      assert.doesNotMatch(routesAtU(), /2001:db8:300::|fc00::\/8|100\.64\.0\.0|default via 2001:db8:e::2|default via 198\.51\.100\.2/);
      assert.match(birdc('e', 'show', 'route', 'protocol', 'rovy_kernel6'), /2001:db8:100:5::\/64/);
      // E learned U's host network by BGP, and routes to it.
      assert.match(nsExec(e, 'ip', ['-6', 'route']).out, /^2001:db8:200::\/64 via 2001:db8:e::1 .*proto bird/m);
    });

    await t.test('the host behind U reaches the host behind M by its own address, and back, IPv6 and IPv4', async () => {
      await until('HU pings HM over IPv6', () => nsExec(hu, 'ping', ['-6', '-n', '-c', '1', '-W', '1', '2001:db8:100:5::2']).code === 0, 30_000);
      for (const [from, family, to] of [[hu, '-4', '10.100.5.2'], [hm, '-6', '2001:db8:200::2'], [hm, '-4', '192.0.2.2']] as const) {
        await until(`ping ${to}`, () => nsExec(from, 'ping', [family, '-n', '-c', '1', '-W', '1', to]).code === 0, 15_000);
        const r = nsExec(from, 'ping', [family, '-n', '-c', '3', '-i', '0.2', '-W', '1', to]);
        assert.match(r.out, /3 received/, r.out);
      }
      // HM's address is its own all the way: E masquerades only the mesh's own addresses.
      const server = lab.spawn(hu, [process.execPath, WHOAMI, 'serve', '9999', '2001:db8:200::2', '192.0.2.2']);
      await until('the server listens', () => server.log.includes('listening'));
      assert.equal(nsExec(hm, process.execPath, [WHOAMI, 'ask', '2001:db8:200::2', '9999']).out.trim(), '2001:db8:100:5::2');
      assert.equal(nsExec(hm, process.execPath, [WHOAMI, 'ask', '192.0.2.2', '9999']).out.trim(), '10.100.5.2');
    });

    await t.test('a prefix E stops accepting is withdrawn from U', async () => {
      lab.file('e/rovy.toml', eConfig(false));
      daemonE.signal('SIGHUP');
      await until('U forgets M\'s prefixes', () => !/2001:db8:100:5::\/64|10\.100\.5\.0\/24/.test(nsExec(u, 'ip', ['-6', 'route']).out + nsExec(u, 'ip', ['-4', 'route']).out), 30_000);
      assert.equal(nsExec(hu, 'ping', ['-6', '-n', '-c', '1', '-W', '1', '2001:db8:100:5::2']).code === 0, false);
    });
  } finally {
    await lab.cleanup();
  }
});
