// A network that passes no UDP (issue 14, 3): a node whose firewall (nftables) drops every UDP
// datagram on its network joins the mesh over TLS on TCP 443, and reaches a node two hops away by
// address and by name.
//
//   ns C (firewalled: no UDP)  ── veth ──  ns P (public node)  ── veth ──  ns F (far node)
//   lists P at UDP 7777 and,               listens on UDP 7777 and         lists P over UDP
//   second, at TLS 443                     TLS on TCP 443; accepts anyone
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, isRoot, nsExec, sh, until } from './netns.js';

test('a node behind a firewall that drops all UDP joins over TLS on 443 and reaches a node two hops away', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  try {
    const nsC = lab.namespace('hc');
    const nsP = lab.namespace('hp');
    const nsF = lab.namespace('hf');
    const [vethC] = lab.link(nsC, 'fd00:443:1::c', nsP, 'fd00:443:1::1');
    lab.link(nsP, 'fd00:443:2::1', nsF, 'fd00:443:2::f');
    // No UDP in or out on the network, as in a hotel that passes only the web. What stays inside
    // the host (the TUN, where the resolver at fc00::1 answers, and loopback) is not the network.
    sh('ip', ['netns', 'exec', nsC, 'nft', '-f', '-'], [
      'table inet hostile {',
      `  chain in { type filter hook input priority 0; policy accept; iifname "${vethC}" meta l4proto udp counter drop; }`,
      `  chain out { type filter hook output priority 0; policy accept; oifname "${vethC}" meta l4proto udp counter drop; }`,
      '}',
    ].join('\n') + '\n');

    const c = lab.initNode('c');
    const p = lab.initNode('p');
    const f = lab.initNode('f');
    lab.file('c/rovy.toml', [
      'key_file = "node.key"',
      'listen = ["/ip6/::/udp/7777"]',
      '[[peer]]',
      // UDP first, as a node would list a public node: here it never answers, and the node moves on.
      `address = ["/ip6/fd00:443:1::1/udp/7777/rovy/${p.peerId}", "/ip6/fd00:443:1::1/tcp/443/tls/rovy/${p.peerId}"]`,
    ].join('\n'));
    lab.file('p/rovy.toml', ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777", "/ip6/::/tcp/443/tls"]', '[links]', 'accept = "anyone"'].join('\n'));
    lab.file('f/rovy.toml', ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]', '[[peer]]', `address = "/ip6/fd00:443:2::1/udp/7777/rovy/${p.peerId}"`].join('\n'));
    lab.resolvConf(nsC, 'nameserver fc00::1\n');
    const daemons = [lab.start(nsC, c.config), lab.start(nsP, p.config), lab.start(nsF, f.config)];
    const [daemonC, daemonP] = daemons as [(typeof daemons)[0], (typeof daemons)[0]];

    await t.test('it reaches the far node by address, through the public node, over TLS', async () => {
      const ping = () => nsExec(nsC, 'ping', ['-6', '-n', '-c', '1', '-W', '1', f.address]).code === 0;
      const ms = await until('C reaches F', ping, 60_000).catch((e: Error) => assert.fail(`${e.message}\n${daemons.map((d) => d.log).join('\n---\n')}`));
      t.diagnostic(`first reply ${Math.round(ms)} ms after the daemons started (the UDP address is given up after 11 s without an answer)`);
      const r = nsExec(nsC, 'ping', ['-6', '-n', '-c', '3', '-i', '0.2', '-W', '1', f.address]);
      assert.match(r.out, /3 received/, r.out);
      assert.match(r.out, /ttl=63/, 'not two hops');
      const stateC = await daemonC.state();
      const toP = stateC.peers.find((x) => x.peerId === p.peerId);
      assert.equal(toP?.endpoint, '[fd00:443:1::1]:443 tls', 'C does not reach P over TLS');
      const stateP = await daemonP.state();
      const fromC = stateP.peers.find((x) => x.peerId === c.peerId);
      assert.equal(fromC?.origin, 'inbound');
      assert.match(fromC?.endpoint ?? '', /^\[fd00:443:1::c\]:\d+ tls$/);
      // The firewall really dropped C's UDP attempts.
      const rules = nsExec(nsC, 'nft', ['list', 'table', 'inet', 'hostile']).out;
      assert.match(rules, /oifname "[^"]+" meta l4proto udp counter packets [1-9]\d* bytes \d+ drop/, rules);
      assert.match(daemonC.log, /no answer at \/ip6\/fd00:443:1::1\/udp\/7777\/rovy\/\S+; trying \/ip6\/fd00:443:1::1\/tcp\/443\/tls/);
    });

    await t.test('and by name: <peer ID>.rovy through the resolver at fc00::1', () => {
      const r = nsExec(nsC, 'ping', ['-6', '-n', '-c', '1', '-W', '2', `${f.peerId}.rovy`]);
      assert.equal(r.code, 0, r.out);
      assert.ok(r.out.includes(`from ${f.address}`), r.out);
    });
  } finally {
    await lab.cleanup();
  }
});
