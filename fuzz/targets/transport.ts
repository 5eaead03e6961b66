// Datagrams as a node's receive pipeline reads them from its UDP socket: transport messages
// (type 4) for live and dead indices, handshakes, junk, several to a batch. The node has a live
// session with one peer; when the first byte says so, every transport message is aimed at that
// session's index (so its counter, the replay window and the AEAD are reached; the tag fails).
// Nothing may throw, and no batch may be lost to an internal error.
import { InboundFilter } from '../../src/fcnet/inbound-filter.js';
import { ReceivePipeline } from '../../src/node/receive.js';
import { PacketBatch, DATAGRAM_OFFSET, ENDPOINT_BYTES } from '../../src/transport/batch.js';
import type { UdpSocket } from '../../src/transport/udp.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { fcAddressBytes } from '../../src/keys/address.js';
import { Links } from '../../src/node/links.js';
import { Routing } from '../../src/routing/routing.js';
import { EndToEnd } from '../../src/node/end-to-end.js';
import { IcmpReplies } from '../../src/node/icmp-replies.js';
import { DataPathCounters } from '../../src/node/data-path.js';
import { writeU32LE } from '../../src/noise/messages.js';
import { setup, flush } from '../../test/unit/session-harness.js';
import { invariant } from '../expect.js';
import { PeerExchange } from '../../src/node/peer-exchange.js';
import { Ipv4Bindings } from '../../src/fcnet/ipv4-bindings.js';
import { RoutedPrefixes } from '../../src/node/routed-prefixes.js';
import { PrefixPolicy } from '../../src/routing/prefix-policy.js';

const { a, b, keysB } = setup();
a.manager.initiate(a.peer, a.manager.now());
flush(a, b);
flush(b, a);
const tun = new MemoryTun();
const batch = new PacketBatch(8, 2048);
const links = new Links(b.manager, { linkUp() {}, linkDown() {} });
const routing = new Routing({ identity: keysB, mtu: 1420, send() {}, sendRouted() {}, now: b.manager.now });
const address = fcAddressBytes(keysB.publicKey);
const icmp = new IcmpReplies(tun, address, b.manager.now);
const e2e = new EndToEnd(keysB, b.manager, links, icmp, b.counters, { changed() {}, resend() {}, routeLost() {}, internalError() {} }, 1420, b.manager.now);
const pipeline = new ReceivePipeline(batch, { tun, filter: new InboundFilter([]), transports: [], icmp, sendToMesh() {}, prefixes: new RoutedPrefixes(new PrefixPolicy(), () => {}), servesExit: () => false, ipv4Bindings: new Ipv4Bindings(), exchange: new PeerExchange(keysB, { send: () => false, wallNow: Date.now, random: () => 0 }, 1420), mtu: 1420, hop: b.manager, links, routing, e2e, localAddress: address, counters: b.counters, dataPath: new DataPathCounters() });

let waiting: Uint8Array[] = [];
const socket = {
  readBatch(into: PacketBatch, offset = DATAGRAM_OFFSET, max = into.capacity): number {
    let n = 0;
    for (; n < max && waiting.length > 0; n++) {
      const data = waiting.shift()!;
      const slot = into.slot(n);
      into.data.set(a.endpoint.subarray(0, ENDPOINT_BYTES), slot);
      into.data.set(data, slot + offset);
      into.lens[n] = data.length;
    }
    return n;
  },
} as unknown as UdpSocket;

export function fuzz(data: Buffer): void {
  if (data.length < 2) return;
  const aim = (data[0]! & 1) === 1;
  const count = 1 + (data[1]! % 4);
  const size = Math.min(2000, Math.ceil((data.length - 2) / count));
  waiting = [];
  for (let i = 0; i < count; i++) {
    const datagram = new Uint8Array(data.subarray(2 + i * size, 2 + (i + 1) * size));
    if (aim && datagram.length >= 16 && datagram[0] === 4 && b.peer.current) writeU32LE(datagram, 4, b.peer.current.localIndex);
    waiting.push(datagram);
  }
  pipeline.drain(socket);
  tun.written.length = 0;
  invariant(b.counters.internalErrors === 0, 'a batch lost to an internal error');
}
