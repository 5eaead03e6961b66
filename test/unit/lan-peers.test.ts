// LAN discovery policy (src/node/lan-peers.ts) against a host that records what it is asked to
// do. Most of the policy needs no socket. Where a node on the LAN must be present, discovery runs
// for real on [::]:0 with no interface, and a real signed beacon is handed to its message handler
// as the socket would hand it over, from a link-local source on a stand-in interface (or, to show
// what is refused unread, from elsewhere): no datagram crosses a network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIPv6 } from '../../src/keys/address.js';
import { generateKeyPair, type KeyPair } from '../../src/keys/keypair.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { encodeBeacon } from '../../src/discovery/beacon.js';
import { NEIGHBOR_LIFETIME_MS } from '../../src/discovery/constants.js';
import type { DiscoveryPolicy } from '../../src/config/schema.js';
import { LanPeers, type LanPeersHost } from '../../src/node/lan-peers.js';
import { untilFast } from '../wait.js';

const own = generateKeyPair();
const alice = generateKeyPair();
const bob = generateKeyPair();
const ALICE = encodePeerId(alice.publicKey);
const BOB = encodePeerId(bob.publicKey);
const CAROL = encodePeerId(generateKeyPair().publicKey);
const DAVE = encodePeerId(generateKeyPair().publicKey);
const T0 = 1_735_689_600_000;
const LL = 'fe80::1';
/** The stand-in interface beacons "arrive" on; no such interface exists on the host. */
const IFACE = 'rovytest0';
const IFINDEX = 4242;

/** A host like the node's: peers it connected (origin "discovered") and whether each is up. */
class FakeHost implements LanPeersHost {
  /** What LanPeers asked for and told, in order. */
  readonly calls: string[] = [];
  readonly connected: Parameters<LanPeersHost['connect']>[0][] = [];
  /** Neighbours of origin "discovered" → session up. */
  readonly discoveredPeers = new Map<string, boolean>();
  /** Neighbours of any other origin (config, runtime). */
  readonly otherPeers = new Set<string>();
  /** The node's monotonic clock, ms; tick() is given the same. */
  clock = 100_000;
  readonly events: LanPeersHost['events'] = {
    neighborAdded: (id) => this.calls.push(`added ${id}`),
    neighborChanged: (id) => this.calls.push(`changed ${id}`),
    neighborRemoved: (id) => this.calls.push(`removed ${id}`),
    discoveryChanged: () => this.calls.push('discoveryChanged'),
  };

  isNeighbour(peerId: string): boolean {
    return this.discoveredPeers.has(peerId) || this.otherPeers.has(peerId);
  }
  connect(n: Parameters<LanPeersHost['connect']>[0]): void {
    this.calls.push(`connect ${n.peerId}`);
    this.connected.push(n);
    this.discoveredPeers.set(n.peerId, false);
  }
  moved(n: Parameters<LanPeersHost['moved']>[0]): void {
    this.calls.push(`moved ${n.peerId} ${n.endpoint.port}`);
  }
  discovered(): { peerId: string; up: boolean }[] {
    return [...this.discoveredPeers].map(([peerId, up]) => ({ peerId, up }));
  }
  forget(peerId: string): void {
    this.calls.push(`forget ${peerId}`);
    this.discoveredPeers.delete(peerId);
  }
  now(): number {
    return this.clock;
  }
  log(): void {}

  /** The calls since the last take(), which are then cleared. */
  take(): string[] {
    return this.calls.splice(0);
  }
}

interface Lan {
  lan: LanPeers;
  host: FakeHost;
  /** Discovery's wall clock (beacon timestamps are checked against it), ms since the epoch. */
  wall: { now: number };
}

function lanPeers(t: { after: (fn: () => void) => void }, policy: DiscoveryPolicy): Lan {
  const host = new FakeHost();
  const wall = { now: T0 };
  const lan = new LanPeers({ identity: own, listen: [], interfaces: [], exclude: [], policy, port: 0, now: () => wall.now }, host);
  t.after(() => lan.stop());
  return { lan, host, wall };
}

/** Starts discovery and waits until its socket is bound. */
async function started(l: Lan): Promise<void> {
  l.lan.start();
  assert.equal(l.lan.active, true);
  await untilFast('discovery to start', () => l.host.calls.includes('discoveryChanged'));
  assert.deepEqual(l.host.take(), ['discoveryChanged']);
  assert.deepEqual(l.lan.interfaceNames, []);
}

/** A new beacon of `keys`, listing LL:port. */
function beaconOf(l: Lan, keys: KeyPair, port = 7777): Uint8Array {
  l.wall.now += 10; // each beacon newer than the last
  return encodeBeacon(keys, l.wall.now, [{ family: 6, address: parseIPv6(LL), port }]);
}

/** The running LanDiscovery receives `bytes` from `from` (Node's text of the source, with its
 *  zone), as from its socket, while IFACE is in use. */
function deliver(l: Lan, bytes: Uint8Array, from: string): void {
  const discovery = (l.lan as unknown as { discovery: { ifaces: Map<string, unknown>; onMessage(msg: Uint8Array, from: string): void } | null }).discovery;
  assert.ok(discovery, 'discovery is not running');
  discovery.ifaces.set(IFACE, { name: IFACE, index: IFINDEX, endpoints: [] });
  try {
    discovery.onMessage(bytes, from);
  } finally {
    discovery.ifaces.delete(IFACE);
  }
}

/** The running LanDiscovery receives `keys`' beacon from LL on IFACE, as from its socket; or
 *  `again`, a beacon heard before. Returns the beacon. */
function hear(l: Lan, keys: KeyPair, port = 7777, again?: Uint8Array): Uint8Array {
  const beacon = again ?? beaconOf(l, keys, port);
  deliver(l, beacon, `${LL}%${IFACE}`);
  return beacon;
}

/** The counters that moved from `before` to `after`, by how much. */
function moved(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const diff: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== before[k]) diff[k] = v - (before[k] ?? 0);
  return diff;
}

// --- Policy, without a socket ----------------------------------------------------------------

test('switched off and on, the policy returns to the one it had', (t) => {
  for (const policy of ['auto', 'manual'] as const) {
    const { lan, host } = lanPeers(t, policy);
    assert.equal(lan.policy, policy);
    lan.setEnabled(false);
    assert.equal(lan.policy, 'off');
    lan.setEnabled(true);
    assert.equal(lan.policy, policy);
    assert.deepEqual(host.take(), ['discoveryChanged', 'discoveryChanged']);
    assert.equal(lan.active, false, 'a socket was opened before start()');
  }
});

test('"on" remembers the last policy set, and is "manual" when the config said off', (t) => {
  const { lan, host } = lanPeers(t, 'off');
  lan.setEnabled(true);
  assert.equal(lan.policy, 'manual', 'a node configured off connects to strangers when switched on');
  lan.setPolicy('auto');
  lan.setPolicy('off');
  lan.setEnabled(true);
  assert.equal(lan.policy, 'auto');
  lan.setPolicy('manual');
  lan.setEnabled(false);
  lan.setEnabled(true);
  assert.equal(lan.policy, 'manual');
  assert.equal(host.take().filter((c) => c === 'discoveryChanged').length, 7);
});

test('setting the policy it has changes nothing and says nothing', (t) => {
  const { lan, host } = lanPeers(t, 'auto');
  lan.setPolicy('auto');
  lan.setEnabled(true);
  assert.deepEqual(host.take(), []);
  lan.setPolicy('off');
  lan.setEnabled(false);
  assert.deepEqual(host.take(), ['discoveryChanged']);
});

test('policy "off" forgets every discovered neighbour, up or not, and no other', (t) => {
  const { lan, host } = lanPeers(t, 'manual');
  host.discoveredPeers.set(ALICE, true);
  host.discoveredPeers.set(BOB, false);
  host.otherPeers.add(CAROL);
  lan.setPolicy('off');
  assert.deepEqual(host.take(), [`forget ${ALICE}`, `forget ${BOB}`, 'discoveryChanged']);
  assert.deepEqual(host.discovered(), []);
  assert.equal(host.isNeighbour(CAROL), true);
});

test('while discovery is not running, tick forgets no discovered neighbour', (t) => {
  const { lan, host } = lanPeers(t, 'auto');
  host.discoveredPeers.set(ALICE, false);
  for (const now of [5000, 100_000, 1_000_000]) lan.tick(now);
  assert.deepEqual(host.take(), []);
  assert.deepEqual(host.discovered(), [{ peerId: ALICE, up: false }]);
});

// --- With discovery running ------------------------------------------------------------------

test('"auto": a node heard on the LAN is connected at once and may knock; a refresh does nothing', async (t) => {
  const l = lanPeers(t, 'auto');
  const { lan, host } = l;
  await started(l);
  hear(l, alice);
  assert.deepEqual(host.take(), [`added ${ALICE}`, `connect ${ALICE}`]);
  assert.deepEqual(host.connected[0]!.endpoint, { family: 6, address: LL, port: 7777, scopeId: IFINDEX });
  assert.equal(host.connected[0]!.interfaceName, IFACE);
  assert.equal(lan.acceptable(ALICE), lan.neighbor(ALICE));
  assert.equal(lan.acceptable(ALICE)!.peerId, ALICE);
  assert.equal(lan.acceptable(BOB), undefined, 'a node not on the LAN is acceptable');

  hear(l, alice); // the same place: a refresh
  assert.deepEqual(host.take(), []);
  hear(l, alice, 8888); // a new port: moved, not connected twice
  assert.deepEqual(host.take(), [`moved ${ALICE} 8888`, `changed ${ALICE}`]);
  assert.equal(host.connected.length, 1);
});

test('"auto" leaves a node already a neighbour by another way alone', async (t) => {
  const l = lanPeers(t, 'auto');
  await started(l);
  l.host.otherPeers.add(ALICE);
  hear(l, alice);
  assert.deepEqual(l.host.take(), [`added ${ALICE}`]);
  hear(l, alice, 8888);
  assert.deepEqual(l.host.take(), [`changed ${ALICE}`], 'a config peer was moved by a beacon');
});

test('a refused node is not connected nor accepted by "auto" until the user connects it', async (t) => {
  const l = lanPeers(t, 'auto');
  const { lan, host } = l;
  await started(l);
  hear(l, alice);
  assert.deepEqual(host.take(), [`added ${ALICE}`, `connect ${ALICE}`]);
  // The user disconnects it: the node refuses it, then forgets the peer.
  lan.refuse(ALICE);
  host.discoveredPeers.delete(ALICE);
  assert.equal(lan.acceptable(ALICE), undefined);
  hear(l, alice, 8888);
  assert.deepEqual(host.take(), [`changed ${ALICE}`]);
  lan.setPolicy('manual');
  lan.setPolicy('auto'); // re-considers every neighbour
  assert.deepEqual(host.take(), ['discoveryChanged', 'discoveryChanged']);

  assert.equal(lan.connect(ALICE), true);
  assert.deepEqual(host.take(), [`connect ${ALICE}`]);
  assert.equal(host.connected.at(-1)!.endpoint.port, 8888);
  assert.equal(lan.acceptable(ALICE)?.peerId, ALICE, 'still refused after the user connected it');
});

test('"manual": nodes are listed, not connected nor accepted; connect() and "auto" connect them', async (t) => {
  const l = lanPeers(t, 'manual');
  const { lan, host } = l;
  await started(l);
  hear(l, alice);
  hear(l, bob);
  assert.deepEqual(host.take(), [`added ${ALICE}`, `added ${BOB}`]);
  assert.deepEqual(lan.neighbors().map((n) => n.peerId).sort(), [ALICE, BOB].sort());
  assert.equal(lan.acceptable(ALICE), undefined, 'a stranger was accepted under "manual"');

  assert.equal(lan.connect(ALICE), true);
  assert.equal(lan.connect(CAROL), false, 'connected a node not on the LAN');
  assert.deepEqual(host.take(), [`connect ${ALICE}`]);

  lan.setPolicy('auto');
  assert.deepEqual(host.take(), [`connect ${BOB}`, 'discoveryChanged']);
  assert.equal(lan.acceptable(BOB)?.peerId, BOB);
});

test('a datagram from a source that is not link-local, or on an interface not in use, is counted and dropped unread', async (t) => {
  const l = lanPeers(t, 'manual');
  const { lan, host } = l;
  await started(l);
  const cases = [
    { keys: alice, from: '2001:db8::1', counter: 'malformed' }, // Node gives no zone: not link-local
    { keys: bob, from: `${LL}%rovytest1`, counter: 'otherInterface' },
  ];
  for (const { keys, from, counter } of cases) {
    const peerId = encodePeerId(keys.publicKey);
    const beacon = beaconOf(l, keys);
    let before = lan.counters();
    deliver(l, beacon, from);
    assert.deepEqual(moved(before, lan.counters()), { received: 1, [counter]: 1 }, from);
    assert.equal(lan.neighbor(peerId), undefined, `a beacon from ${from} listed its node`);
    assert.deepEqual(host.take(), []);

    // Control: the very same beacon, from LL on the interface in use, is accepted.
    before = lan.counters();
    deliver(l, beacon, `${LL}%${IFACE}`);
    assert.deepEqual(moved(before, lan.counters()), { received: 1, accepted: 1 }, `after ${from}`);
    assert.deepEqual(host.take(), [`added ${peerId}`]);
  }
});

test('tick forgets discovered neighbours that are down and off the LAN, once a second at most', async (t) => {
  const l = lanPeers(t, 'auto');
  const { lan, host } = l;
  const opened = host.clock;
  await started(l);
  hear(l, alice); // on the LAN, its session down
  host.discoveredPeers.set(BOB, false); // discovered earlier, gone from the LAN
  host.discoveredPeers.set(CAROL, true); // gone from the LAN, its session up
  host.otherPeers.add(DAVE);
  host.take();

  // For a neighbour lifetime after discovery opened, nobody has had the time to be heard again.
  lan.tick(opened + NEIGHBOR_LIFETIME_MS - 1);
  assert.deepEqual(host.take(), [], 'forgot a peer before it could be heard again');
  lan.tick(opened + NEIGHBOR_LIFETIME_MS + 1000);
  assert.deepEqual(host.take(), [`forget ${BOB}`]);
  assert.deepEqual(host.discovered(), [{ peerId: ALICE, up: false }, { peerId: CAROL, up: true }]);

  host.discoveredPeers.set(CAROL, false); // its session went down
  lan.tick(opened + NEIGHBOR_LIFETIME_MS + 1999);
  assert.deepEqual(host.take(), [], 'swept again within a second');
  lan.tick(opened + NEIGHBOR_LIFETIME_MS + 2000);
  assert.deepEqual(host.take(), [`forget ${CAROL}`]);

  // Alice stops announcing herself: discovery expires her on its next round, then she goes.
  l.wall.now += NEIGHBOR_LIFETIME_MS;
  await untilFast('alice to expire', () => host.calls.includes(`removed ${ALICE}`));
  assert.deepEqual(host.take(), [`removed ${ALICE}`]);
  assert.equal(lan.acceptable(ALICE), undefined);
  lan.tick(opened + NEIGHBOR_LIFETIME_MS + 3000);
  assert.deepEqual(host.take(), [`forget ${ALICE}`]);
  assert.equal(host.isNeighbour(DAVE), true);
});

test('after the mesh was off, discovered neighbours get a neighbour lifetime to be heard again', async (t) => {
  const l = lanPeers(t, 'auto');
  const { lan, host } = l;
  await started(l);
  host.discoveredPeers.set(ALICE, false);
  lan.stop(); // the mesh is switched off: its neighbours are kept
  assert.equal(lan.active, false);
  host.take();
  host.clock += 10 * NEIGHBOR_LIFETIME_MS;
  lan.tick(host.clock);
  assert.deepEqual(host.take(), [], 'forgot a peer while discovery was off');

  const reopened = host.clock;
  await started(l);
  lan.tick(reopened + 1000);
  lan.tick(reopened + NEIGHBOR_LIFETIME_MS - 1);
  assert.deepEqual(host.take(), [], 'forgot a peer right after discovery restarted');
  lan.tick(reopened + NEIGHBOR_LIFETIME_MS + 999); // the next sweep, a second after the last
  assert.deepEqual(host.take(), [`forget ${ALICE}`]);
});

test('"off" while running closes discovery and forgets its neighbours; counters and replay memory survive a restart', async (t) => {
  const l = lanPeers(t, 'auto');
  const { lan, host } = l;
  await started(l);
  const captured = hear(l, alice);
  assert.equal(lan.counters().accepted, 1);
  assert.equal(lan.counters().received, 1);
  host.take();

  lan.setEnabled(false);
  assert.equal(lan.active, false);
  assert.deepEqual(lan.neighbors(), []);
  const calls = host.take();
  assert.deepEqual(calls.filter((c) => c !== 'discoveryChanged'), [`removed ${ALICE}`, `forget ${ALICE}`]);
  assert.ok(calls.includes('discoveryChanged'));
  assert.equal(lan.counters().accepted, 1, 'counters lost when discovery closed');

  lan.setEnabled(true);
  assert.equal(lan.policy, 'auto');
  assert.equal(lan.active, true);
  await untilFast('discovery to restart', () => host.calls.filter((c) => c === 'discoveryChanged').length === 2);
  assert.deepEqual(lan.neighbors(), []);
  assert.equal(lan.counters().accepted, 1, 'counters lost when discovery restarted');
  // Alice's old beacon, sent again after the restart, is still known for what it is.
  hear(l, alice, 7777, captured);
  assert.equal(lan.counters().replayed, 1, 'a replay after the restart was not refused');
  assert.deepEqual(lan.neighbors(), []);
  hear(l, bob);
  assert.equal(lan.counters().accepted, 2);
});

test('stop() closes discovery; start() opens it again unless the policy is off', async (t) => {
  const l = lanPeers(t, 'manual');
  await started(l);
  l.lan.stop();
  assert.equal(l.lan.active, false);
  assert.equal(l.lan.policy, 'manual', 'stopping changed the policy');
  l.lan.setPolicy('off');
  l.lan.start();
  assert.equal(l.lan.active, false, 'discovery opened under policy "off"');
  l.lan.setPolicy('auto');
  assert.equal(l.lan.active, true);
});
