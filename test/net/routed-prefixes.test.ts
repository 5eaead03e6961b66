// Routed prefixes between real daemons (issue 15, 1): hosts behind mesh nodes reach each other
// by their own IPv6 and IPv4 addresses, through the mesh.
//
//   ns HA ── ns A ── ns B ── ns C ── ns HC
//   host     node    node    node    host
//   2001:db8:a::2/64, 10.1.0.2/24 behind A;  2001:db8:c::2/64, 10.7.0.2/24 behind C.
//
// A announces its two networks and C grants them; C announces its IPv6 /64 with a delegation from
// a holder A trusts, and its IPv4 /24, which A grants. B claims C's /64 as well, with nothing to
// back the claim: A refuses it and routes to C. A and C forward; the hosts' default routes point
// at their nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, iperf3, isRoot, nsExec, sh, until, type DaemonState } from './netns.js';

interface PrefixState extends DaemonState {
  prefixes: { announced: string[]; claims: { prefix: string; origin: string; verdict: string }[]; accepted: number; refused: number; conflicts: number };
}

test('hosts behind two mesh nodes reach each other by their own IPv6 and IPv4 addresses; an unbacked claim is ignored', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  try {
    const [ha, a, b, c, hc] = ['ha', 'a', 'b', 'c', 'hc'].map((n) => lab.namespace(`r${n}`)) as [string, string, string, string, string];
    // The hosts' networks, IPv6 and IPv4, on one veth each.
    const [haVeth, aLan] = lab.link(ha, '2001:db8:a::2', a, '2001:db8:a::1');
    const [hcVeth, cLan] = lab.link(hc, '2001:db8:c::2', c, '2001:db8:c::1');
    sh('ip', ['-n', ha, 'addr', 'add', '10.1.0.2/24', 'dev', haVeth]);
    sh('ip', ['-n', a, 'addr', 'add', '10.1.0.1/24', 'dev', aLan]);
    sh('ip', ['-n', hc, 'addr', 'add', '10.7.0.2/24', 'dev', hcVeth]);
    sh('ip', ['-n', c, 'addr', 'add', '10.7.0.1/24', 'dev', cLan]);
    for (const [host, gw6, gw4] of [[ha, '2001:db8:a::1', '10.1.0.1'], [hc, '2001:db8:c::1', '10.7.0.1']] as const) {
      sh('ip', ['-n', host, '-6', 'route', 'add', 'default', 'via', gw6]);
      sh('ip', ['-n', host, 'route', 'add', 'default', 'via', gw4]);
    }
    for (const ns of [a, c]) {
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
    // The mesh links: A ── B ── C.
    lab.link(a, 'fd00:15:1::a', b, 'fd00:15:1::b');
    lab.link(b, 'fd00:15:2::b', c, 'fd00:15:2::c');
    const na = lab.initNode('a');
    const nb = lab.initNode('b');
    const nc = lab.initNode('c');
    // The holder of 2001:db8::/32 delegates C's /64 to C.
    const holderKey = lab.path('holder/holder.key');
    const holder = lab.rovy(['prefix', 'key', '--key', holderKey]);
    assert.equal(holder.code, 0, holder.out);
    const holderPublic = holder.out.trim().split('\n').find((l) => /^[A-Za-z0-9+/]{43}=$/.test(l))!;
    const delegated = lab.rovy(['prefix', 'delegate', '2001:db8:c::/64', '--to', nc.peerId, '--key', holderKey, '--days', '1']);
    assert.equal(delegated.code, 0, delegated.out);
    const delegation = delegated.out.trim().split('\n').find((l) => /^[A-Za-z0-9+/]{200,}={0,2}$/.test(l))!;
    const base = ['key_file = "node.key"', 'listen = ["/ip6/::/udp/7777"]'];
    const peer = (address: string, peerId: string) => ['[[peer]]', `address = "/ip6/${address}/udp/7777/rovy/${peerId}"`];
    lab.file('a/rovy.toml', [
      ...base,
      '[prefixes]',
      'announce = ["2001:db8:a::/64", "10.1.0.0/24"]',
      // A grants C all of IPv4 (0.0.0.0/0) as well: C's exit's claim. It must not become A's
      // default route: an exit is used only when chosen (rovy exit use).
      `allow = ["10.7.0.0/24 from ${nc.peerId}", "0.0.0.0/0 from ${nc.peerId}"]`,
      `trust = ["2001:db8::/32 by ${holderPublic}"]`,
      ...peer('fd00:15:1::b', nb.peerId),
    ].join('\n'));
    lab.file('b/rovy.toml', [...base, '[prefixes]', 'announce = ["2001:db8:c::/64"]', ...peer('fd00:15:1::a', na.peerId), ...peer('fd00:15:2::c', nc.peerId)].join('\n'));
    lab.file('c/rovy.toml', [
      ...base,
      '[prefixes]',
      'announce = ["2001:db8:c::/64", "10.7.0.0/24"]',
      `delegations = ["${delegation}"]`,
      `allow = ["2001:db8:a::/64 from ${na.peerId}", "10.1.0.0/24 from ${na.peerId}"]`,
      // C offers an exit too: its default routes are offers, which no grant makes A's routes.
      '[exit]',
      'offer = true',
      ...peer('fd00:15:2::b', nb.peerId),
    ].join('\n'));
    const daemonA = lab.start(a, na.config);
    lab.start(b, nb.config);
    const daemonC = lab.start(c, nc.config);

    await t.test('each node accepts what it allows, refuses the unbacked claim, and routes the accepted prefixes into rovy0', async () => {
      await until('A accepts C\'s two prefixes and hears its exit', async () => {
        const p = ((await daemonA.state()) as PrefixState).prefixes;
        return p.accepted === 2 && p.claims.length === 5;
      }, 30_000).catch((e: Error) =>
        assert.fail(`${e.message}\n${daemonA.log}`),
      );
      const s = (await daemonA.state()) as PrefixState;
      const verdicts = Object.fromEntries(s.prefixes.claims.map((c) => [`${c.prefix} ${c.origin === nc.peerId ? 'C' : c.origin === nb.peerId ? 'B' : c.origin}`, c.verdict]));
      assert.deepEqual(verdicts, { '2001:db8:c::/64 C': 'delegated', '10.7.0.0/24 C': 'granted', '::/0 C': 'exit', '0.0.0.0/0 C': 'exit', '2001:db8:c::/64 B': 'refused' });
      assert.match(daemonA.log, /routed prefix 2001:db8:c::\/64 claimed by \S+: refused/);
      const routes6 = nsExec(a, 'ip', ['-6', 'route', 'show', 'proto', '98']).out;
      const routes4 = nsExec(a, 'ip', ['-4', 'route', 'show', 'proto', '98']).out;
      assert.match(routes6, /^2001:db8:c::\/64 dev rovy0/m, routes6);
      assert.match(routes4, /^10\.7\.0\.0\/24 dev rovy0/m, routes4);
      // The exit's 0.0.0.0/0 is no default route through the mesh: that would carry the mesh's
      // own datagrams into it. (Exits are chosen apart, and routed by rules of their own.)
      assert.doesNotMatch(routes4, /^default/m, routes4);
      assert.doesNotMatch(nsExec(a, 'ip', ['-4', 'route', 'show', 'default']).out, /rovy0/);
      await until('C accepts A\'s two', async () => ((await daemonC.state()) as PrefixState).prefixes.accepted === 2, 30_000);
    });

    await t.test('the host behind A reaches the host behind C over IPv6 and IPv4, and back', async () => {
      const ms = await until('HA pings HC over IPv6', () => nsExec(ha, 'ping', ['-6', '-n', '-c', '1', '-W', '1', '2001:db8:c::2']).code === 0, 30_000);
      t.diagnostic(`first IPv6 reply ${Math.round(ms)} ms after the routes were in`);
      const r6 = nsExec(ha, 'ping', ['-6', '-n', '-c', '3', '-i', '0.2', '-W', '1', '2001:db8:c::2']);
      assert.match(r6.out, /3 received/, r6.out);
      await until('HA pings HC over IPv4', () => nsExec(ha, 'ping', ['-4', '-n', '-c', '1', '-W', '1', '10.7.0.2']).code === 0, 30_000);
      const r4 = nsExec(ha, 'ping', ['-4', '-n', '-c', '3', '-i', '0.2', '-W', '1', '10.7.0.2']);
      assert.match(r4.out, /3 received/, r4.out);
      const back = nsExec(hc, 'ping', ['-4', '-n', '-c', '2', '-i', '0.2', '-W', '1', '10.1.0.2']);
      assert.match(back.out, /2 received/, back.out);
      // TCP, both families (the kernel hands the TUN IPv4 with checksums left to finish, as IPv6).
      for (const address of ['2001:db8:c::2', '10.7.0.2']) {
        const r = await iperf3(ha, hc, address, 2);
        t.diagnostic(`iperf3 to ${address}: ${(r.bitsPerSecond / 1e6).toFixed(0)} Mbit/s, ${r.bytes} bytes`);
        assert.ok(r.bytes > 1_000_000, `less than 1 MB went to ${address}`);
      }
    });

    await t.test('a host on A\'s network using an address that is not A\'s to send from gets nothing through', async () => {
      // HA takes an address of C's network as its own source: A's packets from it are refused at C.
      sh('ip', ['-n', ha, 'addr', 'add', '2001:db8:c::99/128', 'dev', haVeth, 'nodad']);
      const before = ((await daemonC.state()) as PrefixState).counters.spoofedSource ?? 0;
      const r = nsExec(ha, 'ping', ['-6', '-n', '-c', '2', '-i', '0.2', '-W', '1', '-I', '2001:db8:c::99', '2001:db8:c::2']);
      assert.match(r.out, /0 received/, r.out);
      await until('C counted them', async () => (((await daemonC.state()) as PrefixState).counters.spoofedSource ?? 0) >= before + 2);
    });
  } finally {
    await lab.cleanup();
  }
});
