// The receive pipeline fed batches the test composes exactly, from a queue that stands in for
// a UDP socket, with session managers from session-harness.ts behind it.
import { InboundFilter } from '../../src/fcnet/inbound-filter.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReceivePipeline } from '../../src/node/receive.js';
import { PacketBatch, DATAGRAM_OFFSET, ENDPOINT_BYTES } from '../../src/transport/batch.js';
import type { UdpSocket } from '../../src/transport/udp.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { fcAddressBytes } from '../../src/keys/address.js';
import * as c from '../../src/session/constants.js';
import { Counters } from '../../src/util/counters.js';
import type { SessionManager } from '../../src/session/manager.js';
import type { KeyPair } from '../../src/keys/x25519.js';
import { FRAME_LINK_PROBE, Links, PROBE_ANSWER } from '../../src/node/links.js';
import { FRAME_ROUTING, KIND_DATABASE_REQUEST } from '../../src/routing/constants.js';
import { KIND_ROUTING_ANSWER, writeRoutedHeader } from '../../src/forward/header.js';
import { Routing } from '../../src/routing/routing.js';
import { EndToEnd } from '../../src/node/end-to-end.js';
import { IcmpReplies } from '../../src/node/icmp-replies.js';
import { DataPathCounters } from '../../src/node/data-path.js';
import { setup, flush, types, sealData, endpointArea } from './session-harness.js';
import { PeerExchange } from '../../src/node/peer-exchange.js';
import { Ipv4Bindings } from '../../src/fcnet/ipv4-bindings.js';
import { RoutedPrefixes } from '../../src/node/routed-prefixes.js';
import { PrefixPolicy } from '../../src/routing/prefix-policy.js';

/** The receive pipeline of a node whose hop sessions are `hop`, with the real layers above it. */
function pipelineFor(hop: SessionManager, keys: KeyPair, counters: Counters, tun: MemoryTun, batch: PacketBatch, links = new Links(hop, { linkUp() {}, linkDown() {} })): ReceivePipeline {
  const routing = new Routing({ identity: keys, mtu: 1420, send() {}, sendRouted() {}, now: hop.now });
  const address = fcAddressBytes(keys.publicKey);
  const icmp = new IcmpReplies(tun, address, hop.now);
  const e2e = new EndToEnd(keys, hop, links, icmp, counters, { changed() {}, resend() {}, routeLost() {}, internalError() {} }, 1420, hop.now);
  return new ReceivePipeline(batch, { tun, filter: new InboundFilter([], false), transports: [], icmp, sendToMesh() {}, prefixes: new RoutedPrefixes(new PrefixPolicy(), () => {}), servesExit: () => false, ipv4Bindings: new Ipv4Bindings(), exchange: new PeerExchange(keys, { send: () => false, wallNow: Date.now, random: () => 0 }, 1420), mtu: 1420, hop, links, routing, e2e, localAddress: address, counters, dataPath: new DataPathCounters() });
}

/** Datagrams waiting to be "received", handed out by readBatch as recvmmsg would. */
class DatagramQueue {
  readonly waiting: { data: Uint8Array; from: Uint8Array }[] = [];
  reads = 0;

  readBatch(batch: PacketBatch, offset = DATAGRAM_OFFSET, max = batch.capacity): number {
    this.reads++;
    let n = 0;
    while (n < max && this.waiting.length > 0) {
      const { data, from } = this.waiting.shift()!;
      const slot = batch.slot(n);
      batch.data.set(from.subarray(0, ENDPOINT_BYTES), slot);
      batch.data.set(data, slot + offset);
      batch.lens[n++] = data.length;
    }
    return n;
  }

  asSocket(): UdpSocket {
    return this as unknown as UdpSocket;
  }
}

test('a handshake in the same batch as data for the keypair it retires runs after that data', () => {
  const { a, b, clock, keysB } = setup();
  const tun = new MemoryTun();
  const pipeline = pipelineFor(b.manager, keysB, b.counters, tun, new PacketBatch(8, 2048));
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b); // B answers; its keypair waits as "next"
  flush(b, a); // A has the session and confirms with a keepalive
  const [confirm] = a.outbox.splice(0);
  assert.equal(confirm![0], 4);
  const pending = b.peer.next!;
  clock.mono += c.REKEY_TIMEOUT_MS;
  clock.wall += c.REKEY_TIMEOUT_MS;
  a.manager.initiate(a.peer, a.manager.now());
  const [initiation] = a.outbox.splice(0);
  assert.equal(initiation![0], 1);

  const queue = new DatagramQueue();
  queue.waiting.push({ data: confirm!, from: a.endpoint }, { data: initiation!, from: a.endpoint });
  pipeline.drain(queue.asSocket()); // would throw if the initiation retired `pending` mid-batch
  assert.equal(b.peer.current, pending, 'the confirmation was lost');
  assert.ok(!pending.isDestroyed);
  assert.ok(b.peer.next && b.peer.next !== pending, 'the initiation was not answered');
  assert.deepEqual(types(b.outbox), [2]);
  assert.equal(b.counters.decryptFailed + b.counters.unknownIndex, 0);
});

test('one wakeup handles at most eight batches, then yields', () => {
  const { b, keysB } = setup();
  const pipeline = pipelineFor(b.manager, keysB, b.counters, new MemoryTun(), new PacketBatch(4, 256));
  const queue = new DatagramQueue();
  for (let i = 0; i < 4 * 12; i++) queue.waiting.push({ data: Uint8Array.of(9, 0, 0, 0), from: b.endpoint });
  pipeline.drain(queue.asSocket());
  assert.equal(queue.reads, 8);
  assert.equal(queue.waiting.length, 4 * 4);
  assert.equal(b.counters.malformed, 4 * 8);
  pipeline.drain(queue.asSocket());
  assert.equal(queue.waiting.length, 0);
});

/** An IPv6 packet of `size` bytes from `src` to `dst` (UDP, payload all 0x5a). */
function ipv6(src: Uint8Array, dst: Uint8Array, size: number): Uint8Array {
  const p = new Uint8Array(size).fill(0x5a);
  p.set([0x60, 0, 0, 0, (size - 40) >> 8, (size - 40) & 0xff, 17, 64]);
  p.set(src, 8);
  p.set(dst, 24);
  return p;
}

/** A and B with a session, and B's receive pipeline. */
function connected() {
  const session = setup();
  const { a, b, keysB } = session;
  const tun = new MemoryTun();
  const links = new Links(b.manager, { linkUp() {}, linkDown() {} });
  const pipeline = pipelineFor(b.manager, keysB, b.counters, tun, new PacketBatch(8, 2048), links);
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  flush(b, a);
  pipeline.drain(queueOf(a.outbox.splice(0), a.endpoint).asSocket()); // the confirming keepalive
  assert.ok(a.peer.isUp && b.peer.isUp);
  const packetFromA = (size: number) => ipv6(b.peer.address, a.peer.address, size);
  return { ...session, tun, pipeline, links, packetFromA };
}

function queueOf(datagrams: Uint8Array[], from: Uint8Array): DatagramQueue {
  const queue = new DatagramQueue();
  for (const data of datagrams) queue.waiting.push({ data, from });
  return queue;
}

test('a datagram duplicated within one receive batch is delivered once, and counted', () => {
  const { a, b, tun, pipeline, packetFromA } = connected();
  const message = sealData(a, packetFromA(100));
  const queue = queueOf([message, message.slice(), sealData(a, packetFromA(120))], a.endpoint);
  pipeline.drain(queue.asSocket());
  assert.equal(queue.reads, 1, 'the three came in more than one batch');
  assert.deepEqual(tun.written.map((p) => p.length), [100, 120]);
  assert.equal(b.counters.replayed, 1);
});

test('a peer\'s endpoint moves only with a datagram that authenticates (roaming after the tag check)', () => {
  const { a, b, tun, pipeline, packetFromA } = connected();
  const home = b.peer.endpoint!.slice();
  const elsewhere = endpointArea(77);
  const forged = sealData(a, packetFromA(100));
  forged[forged.length - 1]! ^= 1; // the tag
  pipeline.drain(queueOf([forged], elsewhere).asSocket());
  assert.equal(b.counters.decryptFailed, 1);
  assert.deepEqual(b.peer.endpoint, home, 'a datagram that failed its tag moved the peer');
  // The genuine article from the new address does move it: the check could have seen a move.
  pipeline.drain(queueOf([sealData(a, packetFromA(100))], elsewhere).asSocket());
  assert.deepEqual(b.peer.endpoint!.subarray(0, 20), elsewhere.subarray(0, 20));
  assert.equal(tun.written.length, 1);
});

test('a link probe is answered at once, and its answer marks the neighbour as answering so, owing nothing; packets mark the link as carrying traffic, control frames, routed answers and probes do not', () => {
  const { a, b, clock, pipeline, links, packetFromA } = connected();
  const malformed = b.counters.malformed;
  clock.mono += 10;
  b.outbox.length = 0;
  pipeline.drain(queueOf([sealData(a, Uint8Array.of(FRAME_LINK_PROBE))], a.endpoint).asSocket());
  assert.equal(b.counters.malformed, malformed, 'the probe was counted as malformed');
  assert.equal(b.outbox.length, 1, 'the probe was not answered at once');
  assert.equal(b.peer.owesKeepaliveSince, -Infinity, 'the probe is owed an echo after its answer');
  assert.equal(b.peer.awaitingReplySince, -Infinity, 'the answer awaits a reply');
  // A's answer to a probe of B's: B owes it nothing, and waits for its answers no longer.
  assert.equal(links.answersAtOnce(b.peer), false);
  pipeline.drain(queueOf([sealData(a, Uint8Array.of(FRAME_LINK_PROBE, PROBE_ANSWER))], a.endpoint).asSocket());
  assert.equal(b.counters.malformed, malformed, 'the answer was counted as malformed');
  assert.equal(b.peer.owesKeepaliveSince, -Infinity, 'an answer is owed an echo');
  assert.equal(links.answersAtOnce(b.peer), true, 'the answer was not noted');
  // A routing control frame (a database request) is not traffic either, nor a routed answer.
  pipeline.drain(queueOf([sealData(a, Uint8Array.of(FRAME_ROUTING, KIND_DATABASE_REQUEST))], a.endpoint).asSocket());
  const answer = new Uint8Array(7 + 12);
  writeRoutedHeader(answer, 0, KIND_ROUTING_ANSWER, 64, [], 12);
  pipeline.drain(queueOf([sealData(a, answer)], a.endpoint).asSocket());
  assert.equal(b.peer.trafficReceivedAt, -Infinity, 'a probe, control frame or routed answer marked as traffic');
  clock.mono += 10;
  pipeline.drain(queueOf([sealData(a, packetFromA(100))], a.endpoint).asSocket());
  assert.equal(b.peer.trafficReceivedAt, clock.mono, 'a packet did not mark the link as carrying traffic');
});
