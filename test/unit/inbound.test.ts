// Who may link to a node without being its peer (node/inbound.ts): the policy and allow-list,
// blocked keys, the rate of new links per address, the cap and how room is made, and forgetting
// links that stay down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { INBOUND_FORGET_MS, InboundLinks } from '../../src/node/inbound.js';
import type { LinkSettings } from '../../src/config/schema.js';
import type { Peer } from '../../src/session/peer.js';
import { MeshNode } from '../../src/node/node.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { UdpSocket } from '../../src/transport/udp.js';
import { MemoryHub } from '../../src/transport/memory.js';
import { until } from '../wait.js';
import { createSocket, type Socket } from 'node:dgram';
import { strangerInitiation } from './session-harness.js';
import { defaultLinkSettings } from '../../src/config/defaults.js';

function harness(settings: Partial<LinkSettings> = {}) {
  const added: string[] = [];
  const forgotten: string[] = [];
  /** Links each node announces, as routing would say. */
  const degrees = new Map<string, number>();
  const links = new InboundLinks(
    { ...defaultLinkSettings(), accept: 'anyone', maxInbound: 3, inboundRate: 1, ...settings },
    {
      add: (peerId) => {
        added.push(peerId);
        return { peerId } as unknown as Peer;
      },
      forget: (peerId) => {
        forgotten.push(peerId);
        links.removed(peerId); // as the node does when it forgets a peer
      },
      degreeOf: (peerId) => degrees.get(peerId) ?? 0,
      log: () => {},
    },
  );
  const source = new Uint8Array(32);
  /** A new key initiating from address bucket `from` at `now`: its peer ID if accepted. */
  const initiate = (from = 'a', now = 0): string | undefined => {
    const key = generateKeyPair().publicKey;
    const peerId = encodePeerId(key);
    return links.accept(key, peerId, source, from, now) ? peerId : undefined;
  };
  return { links, added, forgotten, degrees, initiate };
}

test('"known" accepts nobody, "allowed" only the allow-list, "anyone" anyone', () => {
  const known = harness({ accept: 'known' });
  assert.equal(known.initiate(), undefined);
  assert.equal(known.links.counters.notAllowed, 1);
  assert.deepEqual(known.added, []);

  const listed = generateKeyPair().publicKey;
  const allowed = harness({ accept: 'allowed', allow: [encodePeerId(listed)] });
  assert.equal(allowed.initiate(), undefined, 'a key not on the allow-list was accepted');
  assert.ok(allowed.links.accept(listed, encodePeerId(listed), new Uint8Array(32), 'a', 0));
  assert.deepEqual(allowed.links.counters.snapshot(), { accepted: 1, notAllowed: 1, blocked: 0, full: 0, rateLimited: 0, dropped: 0 });

  const anyone = harness();
  assert.ok(anyone.initiate());
  assert.equal(anyone.links.count, 1);
});

test('the blocked list: each key once, sorted, until unblocked', () => {
  const { links } = harness();
  const ids = [generateKeyPair(), generateKeyPair()].map((k) => encodePeerId(k.publicKey));
  assert.equal(links.block(ids[1]!), true);
  assert.equal(links.block(ids[0]!), true);
  assert.equal(links.block(ids[0]!), false, 'blocked twice');
  assert.deepEqual(links.blocked(), [...ids].sort());
  assert.equal(links.unblock(ids[0]!), true);
  assert.equal(links.unblock(ids[0]!), false);
  assert.deepEqual(links.blocked(), [ids[1]]);
});

test('a node that accepts anyone: an unknown key links as "inbound"; blocked, it is dropped and refused until unblocked', async (t) => {
  const keysA = generateKeyPair();
  const keysB = generateKeyPair();
  const hub = new MemoryHub();
  const memA = hub.attach('fd00::a');
  const memB = hub.attach('fd00::b');
  const a = new MeshNode({ identity: keysA, tun: new MemoryTun(), sockets: [], transports: [memA], mtu: 1420, peers: [] });
  const b = new MeshNode({ identity: keysB, tun: new MemoryTun(), sockets: [], transports: [memB], mtu: 1420, peers: [], links: { ...defaultLinkSettings(), accept: 'anyone', maxInbound: 8, inboundRate: 100 } });
  a.start();
  b.start();
  t.after(() => {
    a.stop();
    b.stop();
    memA.close();
    memB.close();
  });
  const toB = { publicKey: keysB.publicKey, endpoint: memB.endpoint };
  const bSeesA = () => b.peerStatus(a.peerId);
  a.connectPeer(toB);
  await until('A linked to B', () => a.peerStatus(b.peerId)?.state === 'connected' && bSeesA()?.state === 'connected');
  assert.equal(bSeesA()?.origin, 'inbound');
  assert.equal(bSeesA()?.endpoint, '[fd00::a]:1 memory', 'the inbound link answers where the initiation came from');

  assert.equal(b.block(a.peerId), true);
  assert.equal(bSeesA(), undefined, 'the blocked node is still a neighbour');
  // A tries again at once (a new connect starts a handshake): refused, as blocked.
  a.disconnectPeer(b.peerId);
  a.connectPeer(toB);
  await until('the blocked key refused', () => b.inbound.counters.blocked === 1);
  assert.equal(bSeesA(), undefined);
  assert.equal(b.inbound.counters.accepted, 1);
  assert.throws(() => b.connectPeer({ publicKey: keysA.publicKey, endpoint: memA.endpoint }), /is blocked/);

  b.unblock(a.peerId);
  a.disconnectPeer(b.peerId);
  a.connectPeer(toB);
  await until('A linked again once unblocked', () => bSeesA()?.state === 'connected');
  assert.throws(() => b.block(b.peerId), /this node itself/);
});

test('new links from one address are limited to the rate (burst 4×), other addresses are not held up', () => {
  const { links, initiate } = harness({ maxInbound: 100, inboundRate: 1 });
  for (let i = 0; i < 4; i++) assert.ok(initiate('flood', 0), `burst link ${i}`);
  assert.equal(initiate('flood', 0), undefined, 'a fifth new key from one address at once');
  assert.equal(links.counters.rateLimited, 1);
  assert.ok(initiate('other', 0), 'another address was held up by the flood');
  assert.ok(initiate('flood', 1000), 'a second later the address may link again');
  assert.equal(initiate('flood', 1000), undefined);
});

test('at the cap, the link down longest makes room; with every link up, a new key is refused', () => {
  const { links, initiate, forgotten } = harness({ maxInbound: 2, inboundRate: 1000 });
  const first = initiate('a', 0)!;
  const second = initiate('b', 1)!;
  links.sessionUp(first);
  links.sessionUp(second);
  assert.equal(initiate('c', 2), undefined, 'a third link past a cap of two');
  assert.equal(links.counters.full, 1);
  links.sessionDown(second, 3);
  links.sessionDown(first, 4);
  const third = initiate('c', 5);
  assert.ok(third, 'no room was made');
  assert.deepEqual(forgotten, [second], 'the link down longest goes first');
  assert.equal(links.count, 2);
  assert.equal(links.counters.dropped, 1);

  const zero = harness({ maxInbound: 0 });
  assert.equal(zero.initiate(), undefined, 'max_inbound 0 took a link');
});

test('at the cap with every link up, the node best linked elsewhere (3 links or more) makes room for a newcomer', () => {
  const { links, initiate, forgotten, degrees } = harness({ maxInbound: 2, inboundRate: 1000 });
  const first = initiate('a', 0)!;
  const second = initiate('b', 1)!;
  links.sessionUp(first);
  links.sessionUp(second);
  degrees.set(first, 2);
  degrees.set(second, 2);
  assert.equal(initiate('c', 2), undefined, 'a node with two links was let go: it could be cut off');
  degrees.set(first, 5);
  degrees.set(second, 3);
  assert.ok(initiate('d', 3), 'no room made though both are linked elsewhere');
  assert.deepEqual(forgotten, [first], 'not the best-linked one went');
});

test('a link down for three minutes is forgotten, unless a handshake is bringing it back', () => {
  const { links, initiate, forgotten } = harness();
  const peerId = initiate('a', 0)!;
  links.sessionUp(peerId);
  links.sessionDown(peerId, 1000);
  links.tick(1000 + INBOUND_FORGET_MS - 1, () => false);
  assert.deepEqual(forgotten, []);
  links.tick(1000 + INBOUND_FORGET_MS, () => true);
  assert.deepEqual(forgotten, [], 'forgotten while its handshake ran');
  links.tick(1000 + INBOUND_FORGET_MS, () => false);
  assert.deepEqual(forgotten, [peerId]);
  // A link accepted but never up is forgotten the same way.
  const never = initiate('b', 2000)!;
  links.tick(2000 + INBOUND_FORGET_MS, () => false);
  assert.deepEqual(forgotten, [peerId, never]);
});

test('a reload changes whom to accept; links kept stay', () => {
  const { links, initiate } = harness();
  const kept = initiate()!;
  links.configure({ ...defaultLinkSettings(), accept: 'known', maxInbound: 3, inboundRate: 1 });
  assert.equal(initiate('b'), undefined);
  assert.equal(links.count, 1);
  assert.equal(links.report().accept, 'known');
  assert.ok(kept);
});

test('a public node flooded by new keys from twenty addresses keeps its inbound links bounded, and an honest link working', async (t) => {
  const keysA = generateKeyPair();
  const keysB = generateKeyPair();
  const udpA = UdpSocket.open(4, '127.0.0.1', 0);
  const udpB = UdpSocket.open(4, '127.0.0.1', 0);
  const tunA = new MemoryTun();
  const tunB = new MemoryTun();
  const a = new MeshNode({ identity: keysA, tun: tunA, sockets: [udpA], mtu: 1420, peers: [{ publicKey: keysB.publicKey, endpoint: { family: 4, address: '127.0.0.1', port: udpB.port } }] });
  // Its handshake budget never spent: every new key gets its Diffie-Hellman and reaches the link
  // policy, as keys that answer cookie replies would under load (the handshake flood test).
  const b = new MeshNode({
    identity: keysB,
    tun: tunB,
    sockets: [udpB],
    mtu: 1420,
    peers: [],
    links: { ...defaultLinkSettings(), accept: 'anyone', maxInbound: 16, inboundRate: 2 },
    session: { underLoadBudgetMs: 1e9 },
  });
  const flooders = await Promise.all(
    Array.from({ length: 20 }, (_, i) => {
      const s = createSocket('udp4');
      return new Promise<Socket>((resolve) => s.bind(0, `127.0.0.${10 + i}`, () => resolve(s)));
    }),
  );
  a.start();
  b.start();
  t.after(() => {
    a.stop();
    b.stop();
    udpA.close();
    udpB.close();
    for (const s of flooders) s.close();
  });
  await until('the honest link', () => b.peerStatus(a.peerId)?.state === 'connected');
  const flood = (count: number) => {
    for (let i = 0; i < count; i++) flooders[i % flooders.length]!.send(strangerInitiation(keysB.publicKey, Date.now()), udpB.port, '127.0.0.1');
  };
  const inboundPeers = () => b.peerStatus().filter((s) => s.origin === 'inbound').length;
  let most = 0;
  const timer = setInterval(() => (most = Math.max(most, inboundPeers())), 5);
  t.after(() => clearInterval(timer));
  const started = performance.now();
  flood(2000);
  const counters = b.inbound.counters;
  await until('the flood handled', () => b.counters.unknownPeer + counters.accepted >= 2000, 20_000);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  most = Math.max(most, inboundPeers());
  t.diagnostic(`inbound counters ${JSON.stringify(counters.snapshot())}; at most ${most} inbound links at once`);
  assert.ok(most <= 16, `${most} inbound links kept, past max_inbound 16`);
  assert.ok(counters.rateLimited > 0, 'no address was held to inbound_rate');
  assert.ok(counters.dropped > 0, 'no inbound link gave its place to a newer one');
  // Per address: a burst of 4 × inbound_rate, then inbound_rate a second.
  const allowed = 20 * Math.ceil(4 * 2 + 2 * seconds);
  assert.ok(counters.accepted <= allowed, `${counters.accepted} accepted in ${seconds.toFixed(2)} s: more than the bursts and rates allow (${allowed})`);
  assert.equal(b.peerStatus(a.peerId)?.state, 'connected', 'the honest link was pushed out');
  // It still carries packets.
  const packet = new Uint8Array(48); // an ICMPv6 echo request: the inbound filter lets it in
  packet[0] = 0x60;
  packet[5] = 8;
  packet[6] = 58;
  packet[7] = 64;
  packet[40] = 128;
  packet.set(a.address, 8);
  packet.set(b.address, 24);
  tunA.inject(packet);
  await until('a packet over the honest link', () => tunB.written.length === 1);
});
