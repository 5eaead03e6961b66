// The real send and receive pipelines of two in-process nodes: in-memory TUNs, and between the
// nodes the in-memory transport's hub, whose tap the test controls: it records what each side
// sends, and can hold datagrams back or inject its own.
//
//   MemoryTun A ─ node A ─ hub fd00::a ──tap──> fd00::b ─ node B ─ MemoryTun B
//                                      <──tap──
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { parseIPv6 } from '../../src/keys/address.js';
import { MeshNode } from '../../src/node/node.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { MemoryHub, type MemoryTransport } from '../../src/transport/memory.js';
import { tai64nAfter, tai64nNow } from '../../src/noise/tai64n.js';
import { untilFast as until } from '../wait.js';
import { ipv6Packet } from './packets.js';

const packet = ipv6Packet;

interface Pair {
  a: MeshNode;
  b: MeshNode;
  tunA: MemoryTun;
  tunB: MemoryTun;
  /** Every datagram A and B sent, as the hub saw it. */
  fromA: Uint8Array[];
  fromB: Uint8Array[];
  /** Datagrams the hub handed to A. */
  readonly relayedToA: number;
  /** Held back instead of delivered while set: the test's to look at. */
  hold: Uint8Array[] | null;
  /** Sends a datagram to B as if from A. */
  relayToB(datagram: Uint8Array): void;
  close(): void;
}

async function pair(mtu = 1420): Promise<Pair> {
  const keysA = generateKeyPair();
  const keysB = generateKeyPair();
  const hub = new MemoryHub();
  const memA: MemoryTransport = hub.attach('fd00::a');
  const memB: MemoryTransport = hub.attach('fd00::b');
  const fromA: Uint8Array[] = [];
  const fromB: Uint8Array[] = [];
  const state = { hold: null as Uint8Array[] | null };
  hub.tap = (from, _to, datagram) => {
    (from === memA.address ? fromA : fromB).push(datagram);
    if (state.hold && from === memA.address) {
      state.hold.push(datagram);
      return 'drop';
    }
    return 'deliver';
  };
  const tunA = new MemoryTun();
  const tunB = new MemoryTun();
  // These tests are about the data path, not the inbound filter (inbound-filter.test.ts): off.
  const ports = { filter: false, rules: [] };
  const a = new MeshNode({ identity: keysA, tun: tunA, sockets: [], transports: [memA], mtu, ports, peers: [{ publicKey: keysB.publicKey, endpoint: memB.endpoint }] });
  const b = new MeshNode({ identity: keysB, tun: tunB, sockets: [], transports: [memB], mtu, ports, peers: [{ publicKey: keysA.publicKey, endpoint: memA.endpoint }] });
  a.start();
  b.start();
  return {
    a,
    b,
    tunA,
    tunB,
    fromA,
    fromB,
    get relayedToA() {
      return hub.delivered.get(memA.address) ?? 0;
    },
    get hold() {
      return state.hold;
    },
    set hold(h) {
      state.hold = h;
    },
    relayToB: (d) => hub.inject(memA, memB.address, d),
    close: () => {
      a.stop();
      b.stop();
      memA.close();
      memB.close();
    },
  };
}

test('a packet written to one TUN comes out of the other, byte for byte', async (t) => {
  const p = await pair();
  t.after(() => p.close());
  const sent = packet(p.a.address, p.b.address, 1000);
  p.tunA.inject(sent); // staged until the handshake completes, then sent
  await until('delivery', () => p.tunB.written.length === 1);
  assert.deepEqual(p.tunB.written[0], sent);
  const back = packet(p.b.address, p.a.address, 1380, 0xcd); // full size: 1420 bytes
  p.tunB.inject(back);
  await until('reply', () => p.tunA.written.length === 1);
  assert.deepEqual(p.tunA.written[0], back);
});

test('a full-size packet fits the MTU on the wire: padding stops at the MTU', async (t) => {
  const p = await pair();
  t.after(() => p.close());
  p.tunA.inject(packet(p.a.address, p.b.address, 8));
  await until('session', () => p.tunB.written.length === 1);
  p.fromA.length = 0;
  p.tunA.inject(packet(p.a.address, p.b.address, 1420 - 40 - 2)); // 1418 bytes
  await until('delivery', () => p.tunB.written.length === 2);
  const datagram = p.fromA.find((d) => d[0] === 4)!;
  assert.equal(datagram.length, 16 + 1420 + 16, 'padded beyond the MTU');
});

test('a replayed transport datagram is dropped and counted', async (t) => {
  const p = await pair();
  t.after(() => p.close());
  p.tunA.inject(packet(p.a.address, p.b.address, 100));
  await until('delivery', () => p.tunB.written.length === 1);
  const data = p.fromA.filter((d) => d[0] === 4 && d.length > 32);
  assert.ok(data.length >= 1);
  p.relayToB(data[data.length - 1]!);
  await until('replay counted', () => p.b.counters.replayed === 1);
  assert.equal(p.tunB.written.length, 1, 'the replay was delivered');
});

test('a tampered transport datagram is dropped and counted', async (t) => {
  const p = await pair();
  t.after(() => p.close());
  p.tunA.inject(packet(p.a.address, p.b.address, 100));
  await until('delivery', () => p.tunB.written.length === 1);
  // A fresh packet, held back by the test, corrupted, then passed on.
  const held: Uint8Array[] = [];
  p.hold = held;
  p.tunA.inject(packet(p.a.address, p.b.address, 100));
  await until('held', () => held.some((d) => d[0] === 4 && d.length > 32));
  const datagram = held.find((d) => d[0] === 4 && d.length > 32)!;
  datagram[datagram.length - 1]! ^= 1;
  p.relayToB(datagram);
  await until('failure counted', () => p.b.counters.decryptFailed === 1);
  assert.equal(p.tunB.written.length, 1);
});

test('a packet whose source is not the sender\'s address is dropped and counted', async (t) => {
  const p = await pair();
  t.after(() => p.close());
  p.tunA.inject(packet(p.a.address, p.b.address, 10));
  await until('session', () => p.tunB.written.length === 1);
  p.tunA.inject(packet(parseIPv6('fc11::1'), p.b.address, 10));
  await until('spoof counted', () => p.b.counters.spoofedSource === 1);
  assert.equal(p.tunB.written.length, 1);
});

test('a packet to an unknown fc address gets ICMPv6 no-route on the TUN', async (t) => {
  const p = await pair();
  t.after(() => p.close());
  const lost = packet(p.a.address, parseIPv6('fc00::1234'), 16);
  p.tunA.inject(lost);
  await until('icmp', () => p.tunA.written.length === 1);
  const icmp = p.tunA.written[0]!;
  assert.equal(icmp[6], 58);
  assert.deepEqual(icmp.subarray(8, 24), p.a.address, 'not from our address');
  assert.deepEqual(icmp.subarray(24, 40), p.a.address, 'not to the sender');
  assert.equal(icmp[40], 1);
  assert.equal(icmp[41], 0);
  assert.deepEqual(icmp.subarray(48), lost);
  assert.equal(p.a.counters.noRoute, 1);
});

test('packets longer than the MTU or not well-formed IP are dropped and counted', async (t) => {
  const p = await pair(1280);
  t.after(() => p.close());
  p.tunA.inject(packet(p.a.address, p.b.address, 1300)); // 1340 > 1280
  const v4 = packet(p.a.address, p.b.address, 20);
  v4[0] = 0x45;
  p.tunA.inject(v4);
  await until('drops counted', () => p.a.counters.invalidPacket === 2);
  assert.equal(p.fromA.filter((d) => d[0] === 4 && d.length > 32).length, 0);
});

test('switched off, a node closes its sessions and sends nothing; switched on, it reconnects', async (t) => {
  const p = await pair();
  t.after(() => p.close());
  const states: string[] = [];
  p.tunA.inject(packet(p.a.address, p.b.address, 10));
  await until('session', () => p.tunB.written.length === 1);
  assert.equal(p.a.state, 'online');
  const keypair = p.a.sessions.getPeer(p.b.sessions.identity.publicKey)!.current!;

  p.a.setEnabled(false);
  const offAt = performance.now();
  const lastTimestamp = tai64nNow();
  states.push(p.a.state);
  assert.ok(keypair.isDestroyed, 'keys survived switching off');
  assert.equal(p.a.peerStatus()[0]!.state, 'disconnected');
  // B still has its session and sends to A; A must not answer, nor deliver.
  const sentBefore = p.fromA.length;
  p.tunB.inject(packet(p.b.address, p.a.address, 10));
  await until('B sent', () => p.fromB.length > 0);
  await until('the datagram to be at A', () => p.relayedToA >= p.fromB.length);
  await new Promise((r) => setImmediate(r));
  assert.equal(p.fromA.length, sentBefore, 'a switched-off node sent something');
  assert.equal(p.tunA.written.length, 0, 'a switched-off node delivered something');

  // B refuses an initiation within 20 ms of the last one, or in the same TAI64N step (2^24 ns),
  // as WireGuard does: switch on once both have passed.
  await until('the initiation guards to pass', () => performance.now() - offAt > 25 && tai64nAfter(tai64nNow(), lastTimestamp));
  p.a.setEnabled(true);
  await until('reconnected', () => p.a.state === 'online');
  states.push(p.a.state);
  const again = packet(p.a.address, p.b.address, 12);
  p.tunA.inject(again);
  await until('delivery after switching on', () => p.tunB.written.some((w) => w.length === again.length));
  assert.deepEqual(states, ['disabled', 'online']);
});

test('peers added and removed at run time, with events', async (t) => {
  const p = await pair();
  t.after(() => p.close());
  const events: string[] = [];
  const keysC = generateKeyPair();
  // A node with A's peer list empty but for B; C is added, then removed.
  const nodeA = p.a as unknown as { events: { peerAdded?: (id: string) => void; peerRemoved?: (id: string) => void } };
  nodeA.events.peerAdded = (id) => events.push(`added ${id}`);
  nodeA.events.peerRemoved = (id) => events.push(`removed ${id}`);
  const id = p.a.connectPeer({ publicKey: keysC.publicKey, endpoint: { family: 6, address: '::1', port: 9 } });
  assert.throws(() => p.a.connectPeer({ publicKey: keysC.publicKey, endpoint: null }), /already a peer/);
  assert.equal(p.a.peerStatus(id)!.origin, 'runtime');
  p.a.setPeers([{ publicKey: p.b.sessions.identity.publicKey, endpoint: { family: 6, address: '::1', port: 9 } }]);
  assert.ok(p.a.peerStatus(id), 'a config reload removed a run-time peer');
  assert.equal(p.a.disconnectPeer(id), true);
  assert.equal(p.a.disconnectPeer(id), false);
  assert.equal(p.a.peerStatus(id), undefined);
  assert.deepEqual(events, [`added ${id}`, `removed ${id}`]);
});

test('at rest the timers wake once a second and the hellos keep flowing; a change brings back full pace', async (t) => {
  const p = await pair();
  t.after(() => p.close());
  p.tunA.inject(packet(p.a.address, p.b.address, 10));
  await until('session', () => p.tunB.written.length === 1);
  // Settling: SETTLE_MS after the session came up, until routing has announced the link, and
  // past the lookups' first publishing rounds (at 0, 2 and 10 s after A's first locator).
  await until('A has published its locator thrice', () => p.a.routing.lookups.counters.publishes >= 3, 30_000);
  await until('A at rest', () => p.a.dataPath().timers.intervalMs === 1000, 10_000);
  const wakeups = p.a.dataPath().timers.wakeups;
  const sent = p.fromA.length;
  const start = performance.now();
  // A window of three seconds is what is measured here, not a wait for a state.
  await until('three seconds at rest', () => performance.now() - start >= 3000, 5000);
  const woke = p.a.dataPath().timers.wakeups - wakeups;
  assert.ok(woke <= 4, `A's timers woke ${woke} times in 3 s at rest`);
  assert.ok(p.fromA.length - sent >= 2, `A sent ${p.fromA.length - sent} datagrams in 3 s at rest: its hellos stopped`);
  assert.equal(p.a.peerStatus()[0]!.hops, 1);
  assert.equal(p.a.routing.routes().length, 1, 'the link went down at rest');

  // B falls silent: A's link goes down when the silence is four seconds long, and the routing
  // change puts A's timers back to full pace.
  p.b.setEnabled(false);
  await until('A withdraws the link', () => p.a.routing.routes().length === 0, 10_000);
  assert.equal(p.a.dataPath().timers.intervalMs, 100);
});
