// Multi-hop meshes of real daemons in network namespaces: nodes configured only with their own
// links find routes to every other node, and real tools see a routed network.
//
//   line:  n0 ── n1 ── n2 ── n3 ── n4          (ping, traceroute6, packet-too-big, restarts of n2 and n4, twice)
//   ring:  r0 ── r1 ── r2 ── r3 ── r4 ── r5 ── r0   (a link cut under a ping flow)
//   line:  p0 ── p1 ── p2                        (p0's one-way flow to p1 cut: p1 notices)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Lab, iperf3, isRoot, nsExec, sh, until } from './netns.js';
import { buildMesh, ping, type MeshNode } from './mesh.js';

/** The hop addresses traceroute6 printed, one per line it numbered. */
function traceHops(out: string): string[] {
  const hops: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)/.exec(line);
    if (m) hops[Number(m[1]) - 1] = m[2]!;
  }
  return hops;
}

test('a line of five nodes routes end to end', { skip: !isRoot && 'needs root for namespaces and TUN' }, async (t) => {
  const lab = new Lab();
  try {
    const { nodes } = buildMesh(lab, 'l', 5, [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
    const daemons = nodes.map((n) => lab.start(n.ns, n.config));
    const [n0, , n2, , n4] = nodes as [MeshNode, MeshNode, MeshNode, MeshNode, MeshNode];

    await t.test('ping -6 from one end to the other, four hops', async () => {
      const ms = await until('n0 reaches n4', () => ping(n0, n4).code === 0, 30_000);
      console.log(`# line of 5: first end-to-end reply ${Math.round(ms)} ms after the daemons started`);
      const r = nsExec(n0.ns, 'ping', ['-6', '-n', '-c', '5', '-i', '0.2', '-W', '1', n4.address]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /5 received/);
      // Four hops: three transits each take one off the hop limit.
      assert.match(r.out, /ttl=61/);
      const back = ping(n4, n0);
      assert.equal(back.code, 0, back.out);
    });

    await t.test('traceroute6 -n lists the three nodes in between, in order', () => {
      const r = nsExec(n0.ns, 'traceroute6', ['-n', '-q', '1', '-w', '2', '-m', '8', n4.address], 60_000);
      assert.equal(r.code, 0, r.out);
      const hops = traceHops(r.out);
      assert.deepEqual(hops, [nodes[1]!.address, nodes[2]!.address, nodes[3]!.address, n4.address], r.out);
    });

    await t.test('a packet larger than the route carries gets ICMPv6 packet-too-big', () => {
      // 1420 on every hop, less the routed header with 3 slots (13) and the end-to-end header and tag (32).
      const r = ping(n0, n4, ['-s', '1360', '-M', 'do']);
      assert.notEqual(r.code, 0);
      assert.match(r.out, /mtu[ =:]+1375/i, r.out);
      const fits = ping(n0, n4, ['-s', String(1375 - 48), '-M', 'do']);
      assert.equal(fits.code, 0, fits.out);
    });

    await t.test('iperf3 TCP over four hops: the end-to-end seals and opens of a batch are one native call each', async () => {
      const before = [await daemons[0]!.state(), await daemons[4]!.state()];
      const report = await iperf3(n0.ns, n4.ns, n4.address);
      t.diagnostic(`iperf3 over four hops: ${(report.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
      assert.ok(report.bytes > 1_000_000, 'less than 1 MB went through');
      const after = [await daemons[0]!.state(), await daemons[4]!.state()];
      // Every packet is sealed (or opened) twice, hop and end to end: one call per packet for
      // either layer would make this at most 2.
      const perCall = (i: number) =>
        (after[i]!.dataPath.aead.packets - before[i]!.dataPath.aead.packets) / (after[i]!.dataPath.aead.calls - before[i]!.dataPath.aead.calls);
      t.diagnostic(`AEAD packets per call: sender ${perCall(0).toFixed(1)}, receiver ${perCall(1).toFixed(1)}`);
      assert.ok(perCall(0) > 4, `the sender sealed ${perCall(0)} packets per call`);
      assert.ok(perCall(1) > 4, `the receiver opened ${perCall(1)} packets per call`);
    });

    await t.test('a node restarted in the middle of the line: traffic resumes through it', async () => {
      const before = daemons[2]!;
      assert.equal(await before.stop(), 0, before.log);
      // Once routing has withdrawn n2's links, n0 has no route to n4 and says so at once.
      await until('n0 answers "no route" for n4', () => /Destination unreachable: No route/i.test(ping(n0, n4).out), 20_000);
      const started = performance.now();
      daemons[2] = lab.start(n2.ns, n2.config);
      await until('n0 reaches n4 again', () => ping(n0, n4).code === 0, 30_000);
      console.log(`# line of 5: n2 restarted, end-to-end again after ${Math.round(performance.now() - started)} ms`);
      const r = nsExec(n0.ns, 'ping', ['-6', '-n', '-c', '3', '-i', '0.2', '-W', '1', n4.address]);
      assert.match(r.out, /3 received/, r.out);
    });

    await t.test('an end node restarted quicker than its link times out has every route again at once', async () => {
      await until('n4 reaches n0', () => ping(n4, n0).code === 0, 30_000);
      // Stopped and started again within n3's 4 s of silence: n3 never sees the link go down,
      // so only n4's database request gets n3's database, with the routes beyond, to it.
      const stopped = performance.now();
      assert.equal(await daemons[4]!.stop(), 0, daemons[4]!.log);
      daemons[4] = lab.start(n4.ns, n4.config);
      await until('n4 reaches n0, four hops away, from its own routes', () => ping(n4, n0).code === 0, 10_000);
      console.log(`# line of 5: n4 restarted, routes to n0 again ${Math.round(performance.now() - stopped)} ms after it stopped`);
    });

    await t.test('an end node away until routing withdrew it: the far end handshakes with it again as soon as it has a route, not after 15 s of silence', async () => {
      await until('n0 reaches n4', () => ping(n0, n4).code === 0, 30_000);
      assert.equal(await daemons[4]!.stop(), 0, daemons[4]!.log);
      await until('n0 answers "no route" for n4', () => /Destination unreachable: No route/i.test(ping(n0, n4).out), 20_000);
      daemons[4] = lab.start(n4.ns, n4.config);
      const started = performance.now();
      // n0's session with n4 died with n4: what n0 seals under it n4 cannot open, and WireGuard's
      // timers would start a new handshake only after 15 s of sending unanswered.
      await until('n0 reaches n4 again', () => ping(n0, n4).code === 0, 10_000);
      console.log(`# line of 5: n4 away past its link's timeout, end-to-end again ${Math.round(performance.now() - started)} ms after it started`);
    });
  } finally {
    await lab.cleanup();
  }
});

test('a ring of six reroutes around a cut link', { skip: !isRoot && 'needs root for namespaces and TUN' }, async () => {
  const lab = new Lab();
  try {
    const edges: [number, number][] = [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
      [0, 5],
    ];
    const { nodes, veths } = buildMesh(lab, 'r', 6, edges);
    const daemons = nodes.map((n) => lab.start(n.ns, n.config));
    const [r0, r1, r2] = nodes as [MeshNode, MeshNode, MeshNode];
    const trace = (): string => nsExec(r0.ns, 'traceroute6', ['-n', '-q', '1', '-w', '2', '-m', '8', r2.address], 60_000).out;
    const names = nodes.map((n, i) => `r${i} ${n.address}`).join('\n');
    // The whole ring settled first: every node routes to every other by its map, the short way.
    // Routes between r0 and r2 alone held while r5, started last, was still coming up; cut then,
    // before r0's link to r5 was up and r0's announcement naming it had reached r2 through r1,
    // the long way round did not exist yet at r2, and r2 found r0 by a lookup while the trees
    // re-formed around the cut: 2.6–5.7 s (r2's map, dumped when it noticed the cut, held r0
    // naming r1 alone, and r5 naming r0 signed after the cut). A pair's route by the map needs
    // the announcement of each node between, naming both its links, at the source: r1 → r5 is
    // r0's whole announcement at r1, which r1 passes on to r2 at its next tick.
    const ringHops = (i: number, j: number): number => Math.min((i - j + nodes.length) % nodes.length, (j - i + nodes.length) % nodes.length);
    let unsettled: string[] = [];
    await until('every node routes to every other by its map, the short way', async () => {
      unsettled = [];
      for (let i = 0; i < nodes.length; i++) {
        const peers = (await daemons[i]!.state()).peers;
        for (let j = 0; j < nodes.length; j++) {
          if (i === j) continue;
          const peer = peers.find((p) => p.address === nodes[j]!.address);
          const route = `${peer?.routeSource}/${peer?.hops}`;
          if (route !== `${ringHops(i, j) === 1 ? 'link' : 'map'}/${ringHops(i, j)}`) unsettled.push(`r${i}→r${j} ${route}`);
        }
      }
      return unsettled.length === 0;
    }, 30_000).catch((err: Error) => assert.fail(`${err.message}: ${unsettled.join(', ')}`));
    const before = trace();
    assert.deepEqual(traceHops(before), [r1.address, r2.address], `${before}\n${names}`);

    // A flow of pings, timestamped (-D), runs while the link r1–r2 on the short way is cut. It
    // is bounded by a count, not a deadline: with -w, ping quits at the first ICMP error.
    const flow = lab.spawn(r0.ns, ['ping', '-6', '-n', '-D', '-i', '0.1', '-W', '1', '-c', '400', r2.address]);
    await until('the flow is answered', () => /icmp_seq=\d+ ttl/.test(flow.log), 10_000);
    const [v12] = veths.get('1-2')!;
    const cutAt = Date.now() / 1000;
    nsExec(r1.ns, 'ip', ['link', 'set', v12, 'down']);
    const replyAfterCut = (): number | undefined => {
      for (const m of flow.log.matchAll(/^\[(\d+\.\d+)\] .*icmp_seq=\d+ ttl=(\d+)/gm)) {
        if (Number(m[1]) > cutAt + 0.2 && Number(m[2]) === 61) return Number(m[1]);
      }
      return undefined;
    };
    // The long way round, r0–r5–r4–r3–r2, is four hops: ttl 61 says the flow took it.
    await until('the flow is answered the long way round', () => replyAfterCut() !== undefined, 30_000);
    const recoveredMs = Math.round((replyAfterCut()! - cutAt) * 1000);
    const noRoute = flow.log.match(/Destination unreachable: No route/g)?.length ?? 0;
    console.log(`# ring of 6: link cut to first reply on the new path: ${recoveredMs} ms (${noRoute} pings answered "no route" meanwhile)`);
    // Both ends route round by their maps once the cut is noticed (0.8 s, by the missing echo):
    // 0.79–0.97 s in 25 runs here beside two busy cores. Issue 16's bound, detection included.
    assert.ok(recoveredMs <= 3000, `the flow came back ${recoveredMs} ms after the cut`);
    const after = trace();
    assert.deepEqual(traceHops(after), [nodes[5]!.address, nodes[4]!.address, nodes[3]!.address, r2.address], `${after}\n${names}`);
    flow.signal('SIGINT');
    await flow.exited;
  } finally {
    await lab.cleanup();
  }
});

test('the receiving end of a one-way flow notices its link fail within 1.2 s (0.8–0.9 s measured)', { skip: !isRoot && 'needs root for namespaces and TUN' }, async () => {
  // p0 sends p1 a stream of UDP datagrams and p1 sends nothing back (a listener swallows them:
  // no ICMP). Then what p0 sends p1 is lost and what p1 sends p0 still arrives, so only p1 can
  // notice, and p2 sees it: p1 withdraws the link p0–p1, and p2's only route to p0 goes.
  const lab = new Lab();
  try {
    const { nodes, veths } = buildMesh(lab, 'p', 3, [
      [0, 1],
      [1, 2],
    ]);
    const [p0, p1, p2] = nodes as [MeshNode, MeshNode, MeshNode];
    // The flow's port open at p1 (its inbound filter would answer it as a closed port: traffic back).
    writeFileSync(p1.config, readFileSync(p1.config, 'utf8').replace('allow = ["5201/tcp"]', 'allow = ["5201/tcp", "9999/udp"]'));
    const daemons = nodes.map((n) => lab.start(n.ns, n.config));
    // Watched without traffic of its own (a ping's session would send p1 frames for p0, and p1
    // would notice by their missing echo).
    const routeToP0 = async () => (await daemons[2]!.state()).peers.some((p) => p.address === p0.address && p.hops > 0);
    await until('p2 has a route to p0', routeToP0, 30_000);
    const listener = lab.spawn(p1.ns, [process.execPath, '-e', "const s = require('node:dgram').createSocket('udp6'); s.once('message', () => console.log('receiving')); s.bind(9999);"]);
    lab.spawn(p0.ns, [process.execPath, '-e', `const s = require('node:dgram').createSocket('udp6'); const t = setInterval(() => s.send(Buffer.alloc(64), 9999, '${p1.address}'), 50); setTimeout(() => { clearInterval(t); s.close(); }, 60000);`]);
    await until('the flow arrives at p1', () => listener.log.includes('receiving'), 10_000);
    assert.ok(await routeToP0(), 'p2 lost its route to p0 before the cut');
    // Dropped as they come in at p1 (dropped on the way out, p0's sends would fail, which it
    // would notice itself).
    const [, v10] = veths.get('0-1')!;
    sh('ip', ['netns', 'exec', p1.ns, 'nft', '-f', '-'], [
      'table inet cut {',
      `  chain in { type filter hook input priority 0; policy accept; iifname "${v10}" meta l4proto udp drop; }`,
      '}',
    ].join('\n') + '\n');
    const cutAt = performance.now();
    await until('p2 loses its route to p0', async () => !(await routeToP0()), 15_000);
    const ms = performance.now() - cutAt;
    console.log(`# one-way flow: p1 noticed the cut, and p2 lost its route to p0, ${Math.round(ms)} ms after it`);
    // The probe 250 ms after the last datagram, unanswered for 500 ms (p0 answered the probe its
    // link came up with at once): 0.75 s; 0.80–0.90 s measured in six runs. Waited for as long
    // as for a neighbour that does not answer at once, 1 s, p1 noticed in 1.56 s here; with no
    // probe at all, in 1.9 s; and, in one run of three, in 1.7–1.8 s when a routing frame of
    // p1's went into the silence first and the probe waited for its answer (it no longer does).
    // The rules themselves are checked in test/unit/links.test.ts.
    assert.ok(ms < 1200, `p1 took ${Math.round(ms)} ms to notice`);
    sh('ip', ['netns', 'exec', p1.ns, 'nft', 'delete', 'table', 'inet', 'cut']);
    await until('p2 reaches p0 again', () => ping(p2, p0).code === 0, 30_000);
  } finally {
    await lab.cleanup();
  }
});
