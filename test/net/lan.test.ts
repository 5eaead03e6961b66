// Nodes on one LAN segment find each other, and names work: three namespaces plugged into one
// bridge, configs with no peers at all, real daemons, real ping, dig and the rovy CLI.
//
//   ns a ──lan0──┐
//   ns b ──lan0──┼── br0 (its own namespace)       only link-local addresses on lan0
//   ns c ──lan0──┘
//
// "auto": every node connects to every other by itself, and the resolver at fc00::1 answers.
// "manual": the nodes list each other (A and B each on a private system bus, so the CLI can ask)
// and stay unconnected until both sides `rovy connect` each other; petnames resolve, also for
// ping through resolv.conf, and survive a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, ROVY_JS, nsExec, until, type Daemon } from './netns.js';
import { isRoot, run, startMonitor, startSystemBus, type PrivateBus } from '../desktop/buses.js';

/** Discovery answers a newcomer at once, then the handshake: well inside this. */
const FIND_MS = 20_000;

interface Node {
  ns: string;
  config: string;
  peerId: string;
  address: string;
}

/** Three namespaces on one bridge, each with a fresh node whose config sets only the policy. */
function lanOfThree(lab: Lab, policy: 'auto' | 'manual'): Node[] {
  const nodes = ['a', 'b', 'c'].map((name) => ({ ns: lab.namespace(`${policy[0]}${name}`), ...lab.initNode(`${policy}-${name}`) }));
  lab.lan(nodes.map((n) => n.ns));
  for (const [i, n] of nodes.entries()) {
    lab.file(`${policy}-${'abc'[i]}/rovy.toml`, ['key_file = "node.key"', '[discovery]', `policy = "${policy}"`].join('\n'));
    n.config = lab.path(`${policy}-${'abc'[i]}/rovy.toml`);
  }
  return nodes;
}

function ping(from: Node, to: string): boolean {
  return nsExec(from.ns, 'ping', ['-6', '-n', '-c', '1', '-W', '1', to]).code === 0;
}

/** dig's answer section and status line for a query from `from` to fc00::1. */
function dig(from: Node, ...args: string[]): { status: string; answers: string[]; out: string } {
  const { out } = nsExec(from.ns, 'dig', ['@fc00::1', '+tries=1', '+time=2', ...args]);
  const status = /status: ([A-Z]+)/.exec(out)?.[1] ?? `no reply: ${out}`;
  const section = out.split(';; ANSWER SECTION:\n')[1]?.split('\n\n')[0] ?? '';
  const answers = section
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.split(/\s+/).filter(Boolean))
    .filter((f) => f.length >= 5)
    .map((f) => `${f[3]} ${f[4]}`);
  return { status, answers, out };
}

test('policy auto: nodes on one LAN connect to each other with no peers configured', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  try {
    const nodes = lanOfThree(lab, 'auto');
    // C has blocked A (rovy block, as kept in its state file): neither links to the other, and
    // they reach each other through B.
    lab.file('auto-c/state.json', JSON.stringify({ enabled: true, peers: [], discovery: null, blocked: [nodes[0]!.peerId] }));
    const daemons = nodes.map((n) => lab.start(n.ns, n.config));
    const started = performance.now();
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        await until(`${from.ns} pings ${to.ns}`, () => ping(from, to.address), FIND_MS).catch((e: Error) =>
          assert.fail(`${e.message}\n${daemons.map((d) => d.log).join('\n---\n')}`),
        );
      }
    }
    t.diagnostic(`all six directions answered ${Math.round(performance.now() - started)} ms after the daemons started`);
    // Each found the other two by discovery: their configs name no peer.
    for (const [i, d] of daemons.entries()) {
      for (const other of nodes) {
        if (other !== nodes[i]) await until(`${nodes[i]!.ns} logs ${other.ns} discovered`, () => d.log.includes(`discovered ${other.peerId} on lan0`));
      }
    }

    const [a, b, c] = nodes as [Node, Node, Node];
    // C's pings to A went back over A's end-to-end session; its own route to A comes with its map
    // (A's announcement, by B), which may still be on its way.
    let stateC = await daemons[2]!.state();
    await until('C holds a route to A', async () => {
      stateC = await daemons[2]!.state();
      return stateC.peers.some((p) => p.peerId === a.peerId && p.hops > 0);
    });
    assert.deepEqual(
      stateC.peers.filter((p) => p.peerId === a.peerId).map((p) => `${p.origin} ${p.hops}`),
      ['routed 2'],
      'C linked to the node it blocked',
    );
    assert.ok(stateC.links.counters.blocked! > 0, 'A never asked C for a link: the block was not put to the test');
    assert.deepEqual(stateC.links.blocked, [a.peerId]);

    // The resolver at fc00::1 on every node, from inside the TUN.
    const aaaa = dig(a, 'AAAA', `${b.peerId}.rovy`);
    assert.equal(aaaa.status, 'NOERROR', aaaa.out);
    assert.deepEqual(aaaa.answers, [`AAAA ${b.address}`]);
    assert.match(aaaa.out, /flags: qr aa/);
    // Any well-formed peer ID resolves, upper case too: its address is derived from it.
    assert.deepEqual(dig(c, 'AAAA', `${a.peerId.toUpperCase()}.ROVY`).answers, [`AAAA ${a.address}`]);
    const reverse = dig(a, '-x', c.address);
    assert.equal(reverse.status, 'NOERROR', reverse.out);
    assert.deepEqual(reverse.answers, [`PTR ${c.peerId}.rovy.`]);
    assert.equal(dig(a, 'AAAA', 'nobody.rovy').status, 'NXDOMAIN');
    assert.equal(dig(a, 'AAAA', 'example.com').status, 'REFUSED');
    assert.equal(dig(a, '-x', '2001:db8::1').status, 'REFUSED');
    // Nothing but DNS listens at fc00::1: TCP is refused at once, ping is answered.
    assert.match(nsExec(a.ns, 'dig', ['@fc00::1', '+tcp', '+tries=1', '+time=2', 'AAAA', `${b.peerId}.rovy`]).out, /connection refused/i);
    assert.ok(ping(a, 'fc00::1'), 'fc00::1 does not answer ping');
  } finally {
    await lab.cleanup();
  }
});

test('policy manual: listed until told to connect; petnames resolve and survive a restart', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  const buses: PrivateBus[] = [];
  try {
    const [busA, busB] = [await startSystemBus(), await startSystemBus()];
    buses.push(busA, busB);
    const rovy = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], busA.env);
    const rovyB = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], busB.env);
    const nodes = lanOfThree(lab, 'manual');
    const [a, b, c] = nodes as [Node, Node, Node];
    const startOnBus = (n: Node, bus: PrivateBus): Daemon =>
      lab.spawn(n.ns, ['env', `DBUS_SYSTEM_BUS_ADDRESS=${bus.address}`, process.execPath, '--enable-source-maps', ROVY_JS, 'daemon', '--config', n.config]);
    let daemonA = startOnBus(a, busA);
    startOnBus(b, busB);
    lab.start(c.ns, c.config);

    interface Listing {
      policy: string;
      enabled: boolean;
      interfaces: string[];
      neighbors: { peerId: string; address: string; interface: string; endpoint: string; endpoints: string[]; connected: boolean; peer: string }[];
    }
    let last = '';
    const discovery = async (): Promise<Listing | null> => {
      const r = await rovy('discovery', '--json');
      last = r.stdout + r.stderr;
      return r.code === 0 ? (JSON.parse(r.stdout) as Listing) : null;
    };
    const peers = async () => JSON.parse((await rovy('peers', '--json')).stdout) as { peerId: string; origin: string; state: string; petname: string }[];
    /** What the daemon on `bus` says of itself (Describe()), or null while it is not on the bus. */
    interface Described {
      peers: { peerId: string }[];
      discovery: { neighbors: { peerId: string; lastSeen: number }[] };
      counters: { unknownPeer: number };
    }
    const describe = async (bus: PrivateBus): Promise<Described | null> => {
      const r = await run('busctl', ['--system', '--json=short', 'call', 'net.rovy.Rovy1', '/net/rovy/Rovy1', 'net.rovy.Rovy1', 'Describe'], bus.env);
      return r.code === 0 ? (JSON.parse((JSON.parse(r.stdout) as { data: [string] }).data[0]) as Described) : null;
    };
    /** When the node described last heard `peerId`'s beacon (µs), 0 if it does not list it. */
    const lastSeen = (d: Described | null, peerId: string): number => d?.discovery.neighbors.find((n) => n.peerId === peerId)?.lastSeen ?? 0;

    // 1. A lists B and C, and is connected to neither.
    await until('A lists B and C', async () => (await discovery())?.neighbors.length === 2, FIND_MS).catch((e: Error) => assert.fail(`${e.message}\n${last}\n${daemonA.log}`));
    const listing = (await discovery())!;
    assert.equal(listing.policy, 'manual');
    assert.equal(listing.enabled, true);
    assert.deepEqual(listing.interfaces, ['lan0']);
    assert.deepEqual(listing.neighbors.map((n) => n.peerId).sort(), [b.peerId, c.peerId].sort());
    for (const n of listing.neighbors) {
      assert.equal(n.interface, 'lan0');
      assert.equal(n.connected, false);
      assert.equal(n.peer, '/');
      assert.match(n.endpoint, /^\[fe80::[0-9a-f:]+%lan0\]:7777$/);
      assert.ok(n.endpoints.some((e) => /^\/ip6zone\/lan0\/ip6\/fe80::[0-9a-f:]+\/udp\/7777$/.test(e)), n.endpoints.join(' '));
    }
    assert.deepEqual(await peers(), []);
    assert.equal(ping(a, b.address), false, 'A reached B before being told to connect');
    // A wrong auto-connect starts its handshake as the node is listed, and that takes a round
    // trip: so far it may just not have finished. Once A and B have each heard the other's next
    // beacon (at least an answer delay later), it would have; nobody may have tried.
    const seenByA = lastSeen(await describe(busA), b.peerId);
    await until('B to list A', async () => lastSeen(await describe(busB), a.peerId) > 0, FIND_MS);
    const seenByB = lastSeen(await describe(busB), a.peerId);
    await until('A and B to hear each other again', async () => lastSeen(await describe(busA), b.peerId) > seenByA && lastSeen(await describe(busB), a.peerId) > seenByB, FIND_MS);
    assert.deepEqual(await peers(), [], 'A connected to a node it was not told to connect to');
    const [stillA, stillB] = [(await describe(busA))!, (await describe(busB))!];
    assert.deepEqual(stillB.peers, [], 'B connected to a node it was not told to connect to');
    // A refuses (and counts) whatever initiation B or C sends it; B likewise for A and C.
    assert.equal(stillA.counters.unknownPeer, 0, 'a node of the LAN initiated a session with A');
    assert.equal(stillB.counters.unknownPeer, 0, 'a node of the LAN initiated a session with B');
    t.diagnostic(`rovy discovery on A:\n${(await rovy('discovery')).stdout}`);

    // 2. A connects to B (by peer ID): B, asked by no user of its own, does not answer yet. Once B
    // connects to A too, they are linked; C stays a mere neighbour.
    const connected = await rovy('connect', b.peerId);
    assert.equal(connected.code, 0, connected.stderr);
    // B refuses A's initiations (a key that is not its peer), rather than just not having seen one yet.
    const refusedByB = async (): Promise<number> => (await describe(busB))?.counters.unknownPeer ?? 0;
    await until("B refusing A's initiation", async () => (await refusedByB()) > 0, FIND_MS);
    assert.equal(ping(a, b.address), false, 'B accepted A without its own consent');
    await until('B lists A', async () => (await rovyB('discovery', '--json')).stdout.includes(a.peerId), FIND_MS);
    const consent = await rovyB('connect', a.peerId);
    assert.equal(consent.code, 0, consent.stderr);
    await until('A pings B', () => ping(a, b.address), FIND_MS);
    const asPeer = (await peers()).find((p) => p.peerId === b.peerId);
    assert.equal(asPeer?.origin, 'discovered');
    const after = (await discovery())!;
    assert.deepEqual(
      after.neighbors.map((n) => [n.peerId, n.connected]).sort(),
      [
        [b.peerId, true],
        [c.peerId, false],
      ].sort(),
    );
    assert.equal(ping(a, c.address), false, 'A reached C, which it was not told to connect to');
    const unknown = await rovy('connect', 'bafzqaid3jr5g373j6icl4bdknm7h73llslnpdu7vzcerfbhguegxodu7nq');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /not on the local network/);

    // 3. Petnames: set, refused when taken or invalid, listed, resolved both ways.
    assert.equal((await rovy('name', 'set', 'Alice', b.peerId)).code, 0);
    const taken = await rovy('name', 'set', 'alice', c.peerId);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /"alice" is already the name of peer/);
    const invalid = await rovy('name', 'set', 'not_a_label', c.peerId);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /not a DNS label/);
    // C is only a neighbour, no peer: its Neighbor object still signals its new Petname.
    const monitor = await startMonitor(busA);
    try {
      assert.equal((await rovy('name', 'set', 'carol', c.address)).code, 0, 'naming by fc address');
      await until("C's Neighbor Petname signalled", () =>
        monitor.messages().some((m) => m.member === 'PropertiesChanged' && m.path?.startsWith('/net/rovy/Rovy1/neighbor/') && JSON.stringify(m.payload).includes('"Petname":{"type":"s","data":"carol"}')),
      );
    } finally {
      await monitor.stop();
    }
    assert.deepEqual(JSON.parse((await rovy('name', 'list', '--json')).stdout), [
      { name: 'alice', peerId: b.peerId, source: 'petname' },
      { name: 'carol', peerId: c.peerId, source: 'petname' },
    ]);
    assert.equal((await peers()).find((p) => p.peerId === b.peerId)?.petname, 'alice');
    assert.deepEqual(dig(a, 'AAAA', 'alice.rovy').answers, [`AAAA ${b.address}`]);
    assert.deepEqual(dig(a, 'AAAA', 'CAROL.rovy').answers, [`AAAA ${c.address}`]);
    assert.deepEqual(dig(a, '-x', b.address).answers, ['PTR alice.rovy.']);
    assert.deepEqual(dig(a, '-x', c.address).answers, ['PTR carol.rovy.']);
    assert.equal(dig(a, 'A', 'alice.rovy').status, 'NOERROR');
    assert.deepEqual(dig(a, 'A', 'alice.rovy').answers, []);

    // 4. Applications resolve names through the system resolver when it names fc00::1.
    lab.resolvConf(a.ns, 'nameserver fc00::1\n');
    const byName = nsExec(a.ns, 'ping', ['-6', '-c', '1', '-W', '2', 'alice.rovy']);
    assert.equal(byName.code, 0, byName.out);
    // The reply's source is named by reverse lookup through fc00::1 as well.
    assert.ok(byName.out.includes(`bytes from alice.rovy (${b.address})`), byName.out);

    // 5. A restart keeps the names.
    assert.equal(await daemonA.stop(), 0);
    daemonA = startOnBus(a, busA);
    await until('A back on the bus', async () => (await rovy('name', 'list', '--json')).code === 0, FIND_MS);
    assert.deepEqual(
      (JSON.parse((await rovy('name', 'list', '--json')).stdout) as { name: string }[]).map((n) => n.name),
      ['alice', 'carol'],
    );
    await until('alice.rovy resolves after the restart', () => dig(a, 'AAAA', 'alice.rovy').answers[0] === `AAAA ${b.address}`, FIND_MS);
    assert.equal((await rovy('name', 'rm', 'carol')).code, 0);
    assert.equal(dig(a, 'AAAA', 'carol.rovy').status, 'NXDOMAIN');

    // 6. Switched off, nothing is listed; on again, the neighbours come back.
    assert.equal((await rovy('discovery', 'off')).code, 0);
    const off = (await discovery())!;
    assert.deepEqual([off.policy, off.enabled, off.neighbors.length], ['off', false, 0]);
    assert.equal((await rovy('discovery', 'on')).code, 0);
    await until('neighbours back after discovery on', async () => (await discovery())?.neighbors.length === 2, FIND_MS);
    assert.equal((await discovery())!.policy, 'manual');

    // 7. A policy chosen at run time survives a restart; a policy changed in the config file and
    // reloaded wins over it.
    // Under "auto", a node the user disconnected is not taken back from the LAN, whichever way it
    // came: here B, a runtime peer by its multiaddr (since the restart B is no peer of A's, and
    // A has refused nobody).
    const bOnLan = (await discovery())!.neighbors.find((n) => n.peerId === b.peerId)!;
    const multiaddr = `${bOnLan.endpoints.find((e) => e.startsWith('/ip6zone/'))}/rovy/${b.peerId}`;
    assert.equal((await rovy('connect', multiaddr)).code, 0, multiaddr);
    await until('B a runtime peer of A, connected', async () => {
      const p = (await peers()).find((x) => x.peerId === b.peerId);
      return p?.origin === 'runtime' && p.state === 'connected';
    }, FIND_MS);
    assert.equal((await rovy('discovery', 'auto')).code, 0);
    assert.equal((await rovy('disconnect', b.peerId)).code, 0);
    const refusedByA = (await describe(busA))!.counters.unknownPeer;
    // B asks again at once: it drops A and connects to it anew.
    assert.equal((await rovyB('disconnect', a.peerId)).code, 0);
    assert.equal((await rovyB('connect', a.peerId)).code, 0);
    await until("A refusing B's initiation", async () => ((await describe(busA))?.counters.unknownPeer ?? 0) > refusedByA, FIND_MS);
    assert.equal((await peers()).find((p) => p.peerId === b.peerId), undefined, 'A took B back after the user disconnected it');
    assert.equal(await daemonA.stop(), 0);
    daemonA = startOnBus(a, busA);
    await until('A back with policy auto', async () => (await discovery())?.policy === 'auto', FIND_MS);
    lab.file('manual-a/rovy.toml', ['key_file = "node.key"', '[discovery]', 'policy = "off"'].join('\n'));
    daemonA.signal('SIGHUP');
    await until('policy off after SIGHUP', async () => (await discovery())?.policy === 'off', FIND_MS);
    assert.equal((await discovery())!.neighbors.length, 0);
    assert.doesNotMatch(daemonA.log, /error/i, "A's log has errors");
  } finally {
    await lab.cleanup();
    for (const bus of buses) await bus.stop();
  }
});
