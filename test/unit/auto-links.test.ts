// A self-maintaining set of links in real nodes (issue 14, 4): nodes in this process, on loopback
// UDP sockets, exchanging signed contact records over their hop sessions. A newcomer that knows
// only one bootstrap node ends with its target of links, to nodes it learned of by peer exchange,
// and when one of them leaves it replaces the link. The keeper's timings are shortened: the
// minutes of the defaults become seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshNode } from '../../src/node/node.js';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { UdpSocket } from '../../src/transport/udp.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { parseMultiaddr, type Multiaddr } from '../../src/transport/multiaddr.js';
import { defaultLinkSettings } from '../../src/config/defaults.js';
import type { LinkSettings, PeerMultiaddr } from '../../src/config/schema.js';
import { PeerExchange } from '../../src/node/peer-exchange.js';
import { encodeContact } from '../../src/discovery/contact.js';
import { encodeContactsFrame, FRAME_CONTACTS } from '../../src/discovery/exchange.js';
import type { Peer } from '../../src/session/peer.js';
import { until } from '../wait.js';

interface Member {
  node: MeshNode;
  socket: UdpSocket;
  keys: ReturnType<typeof generateKeyPair>;
  address: Multiaddr;
  stopped: boolean;
}

function member(links: Partial<LinkSettings>, publish: boolean): Member {
  const keys = generateKeyPair();
  const socket = UdpSocket.open(4, '127.0.0.1', 0);
  const address = parseMultiaddr(`/ip4/127.0.0.1/udp/${socket.port}`);
  const node = new MeshNode({
    identity: keys,
    tun: new MemoryTun(),
    sockets: [socket],
    mtu: 1420,
    peers: [],
    links: { ...defaultLinkSettings(), accept: 'anyone', ...links, publish: publish ? [address] : [] },
    keeper: { tickMs: 200, deadAfterMs: 2000, retryAfterMs: 1000, replaceEveryMs: 1e9, minAgeMs: 1e9 },
  });
  return { node, socket, keys, address, stopped: false };
}

function stop(m: Member): void {
  if (m.stopped) return;
  m.stopped = true;
  m.node.stop();
  m.socket.close();
}

const bootstrapOf = (m: Member): PeerMultiaddr => parseMultiaddr(`/ip4/127.0.0.1/udp/${m.socket.port}/rovy/${m.node.peerId}`, { peer: 'required' }) as PeerMultiaddr;

/** The peers of `m` whose links are up, by origin. */
function upLinks(m: Member): { peerId: string; origin: string }[] {
  return m.node.peerStatus().filter((s) => s.origin !== 'routed' && s.state === 'connected' && s.hops === 1);
}

test('a newcomer that knows one bootstrap node keeps its target of links, learned by peer exchange, never to a blocked node, and replaces one that leaves', async (t) => {
  // The bootstrap node, and seven public nodes that joined through it, each keeping one link.
  const bootstrap = member({}, true);
  const publics = Array.from({ length: 7 }, () => member({ target: 1, bootstrap: [bootstrapOf(bootstrap)] }, true));
  const all = [bootstrap, ...publics];
  t.after(() => all.forEach(stop));
  for (const m of all) m.node.start();
  await until('every public node linked to the bootstrap node', () => publics.every((p) => upLinks(p).some((l) => l.peerId === bootstrap.node.peerId)));
  await until('the bootstrap node holds every public node\'s record', () => bootstrap.node.exchange.book.size === 7);

  // The newcomer: the bootstrap node's address, a target of 3, nothing published. It blocks four
  // of the public nodes: of the eight candidates, only four may be linked to.
  const newcomer = member({ accept: 'known', target: 3, bootstrap: [bootstrapOf(bootstrap)] }, false);
  all.push(newcomer);
  const blocked = new Set(publics.slice(0, 4).map((p) => p.node.peerId));
  for (const peerId of blocked) newcomer.node.block(peerId);
  newcomer.node.start();
  await until('the newcomer has three links up', () => upLinks(newcomer).length === 3, 15_000);
  const first = upLinks(newcomer);
  t.diagnostic(`links: ${first.map((l) => `${l.peerId.slice(0, 12)} ${l.origin}`).join(', ')}`);
  assert.ok(first.every((l) => l.origin === 'auto'), 'a link the keeper did not make');
  assert.ok(!first.some((l) => blocked.has(l.peerId)), 'a link to a blocked node');
  assert.ok(newcomer.node.exchange.book.size >= 7, `only ${newcomer.node.exchange.book.size} records learned`);
  assert.ok(newcomer.node.exchange.book.counters.invalid === 0);
  // Its links carry routes to every node, however it came to know them.
  await until('routes to every node', () => all.every((m) => m === newcomer || (newcomer.node.peerStatus(m.node.peerId)?.hops ?? 0) > 0), 10_000);
  // The newcomer published nothing: no one learned of it, so no one holds its record.
  for (const m of all) if (m !== newcomer) assert.equal(m.node.exchange.book.get(newcomer.keys.publicKey, Date.now()), undefined);
  const report = newcomer.node.linksReport();
  assert.equal(report.keeper.target, 3);
  assert.equal(report.keeper.kept, 3);
  assert.ok(report.exchange.counters.framesReceived! > 0);
  assert.deepEqual(report.exchange.publishing, []);

  // One of its links leaves: within the dead-link time the newcomer links to another node.
  const gone = all.find((m) => m.node.peerId === first.find((l) => l.peerId !== bootstrap.node.peerId)!.peerId)!;
  stop(gone);
  await until('the dead link dropped and replaced', () => {
    const now = upLinks(newcomer);
    return now.length === 3 && !now.some((l) => l.peerId === gone.node.peerId);
  }, 20_000);
  assert.ok(!upLinks(newcomer).some((l) => blocked.has(l.peerId)), 'the replacement is a blocked node');
  assert.equal(newcomer.node.peerStatus(gone.node.peerId)?.origin ?? 'routed', 'routed', 'the dead link is still kept');
  // Degree stays bounded: nobody gained more links than its target plus what linked to it.
  for (const m of all) if (!m.stopped) assert.ok(upLinks(m).length <= all.length - 1);
});

test('peer exchange: each neighbour gets this node\'s record and others, and may send only a few frames a minute', () => {
  const self = generateKeyPair();
  const sent: { to: string; frame: Uint8Array }[] = [];
  let wall = 1_800_000_000_000;
  const exchange = new PeerExchange(self, { send: (peer, frame) => (sent.push({ to: peer.peerId, frame }), true), wallNow: () => wall, random: () => 0 }, 1420, { everyMs: 60_000, lifetimeMs: 3_600_000 });
  const neighbour = (keys = generateKeyPair()) => ({ peerId: encodePeerId(keys.publicKey), publicKey: keys.publicKey }) as unknown as Peer;
  const a = neighbour();

  // Nothing published and nothing known: no frame at all.
  exchange.linkUp(a, 0);
  assert.equal(sent.length, 0);
  exchange.publish([parseMultiaddr('/ip4/192.0.2.7/udp/7777')]);
  exchange.linkUp(a, 0);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.frame[0], FRAME_CONTACTS);

  // Records from b: stored, checked, our own ignored; then passed on to a at its turn, but b's
  // own record never back to b.
  const other = generateKeyPair();
  const bKeys = generateKeyPair();
  const bPeer = neighbour(bKeys);
  const record = (keys: typeof other, expires = wall + 600_000) => encodeContact(keys, expires, [parseMultiaddr('/ip4/192.0.2.9/udp/7777')]);
  const forged = record(generateKeyPair());
  forged[50] ^= 1; // an address byte: the signature no longer holds
  exchange.receive(bPeer, encodeContactsFrame([record(other), record(bKeys), exchange.ownRecord!, forged], 1420)!, 1000);
  assert.equal(exchange.book.size, 2);
  assert.equal(exchange.book.counters.invalid, 1);
  exchange.tick(60_000, [a, bPeer]);
  const toB = sent.filter((s) => s.to === bPeer.peerId).at(-1)!.frame;
  assert.ok(!Buffer.from(toB).includes(Buffer.from(bKeys.publicKey)), 'b was sent its own record');
  const toA = sent.filter((s) => s.to === a.peerId).at(-1)!.frame;
  assert.ok(Buffer.from(toA).includes(Buffer.from(other.publicKey)), 'a was not told of the node b told us of');
  // Not again before its turn.
  const count = sent.length;
  exchange.tick(90_000, [a, bPeer]);
  assert.equal(sent.length, count);

  // A burst of 3 frames, then one per 20 s; the rest dropped and counted, the book untouched.
  const flood = neighbour();
  const frame = encodeContactsFrame([record(generateKeyPair())], 1420)!;
  for (let i = 0; i < 10; i++) exchange.receive(flood, frame, 200_000);
  assert.equal(exchange.counters.framesLimited, 7);
  assert.equal(exchange.counters.framesReceived, 4); // b's, and the flood's first three
  exchange.receive(flood, frame, 220_000);
  assert.equal(exchange.counters.framesLimited, 7);
  // A frame that is not one is dropped whole.
  const bad = frame.slice(0, frame.length - 1);
  exchange.receive(neighbour(), bad, 220_000);
  assert.equal(exchange.counters.framesMalformed, 1);

  // Our own record is signed anew half way through its life.
  const before = exchange.ownRecord!;
  wall += 1_800_000;
  exchange.tick(300_000, []);
  assert.notDeepEqual(exchange.ownRecord, before);
  exchange.publish([]);
  assert.equal(exchange.ownRecord, null);
});
