// Outbound data path: TUN → fcnet → routing → (end-to-end seal → forwarder) → hop seal → UDP.
//
//   1. The TUN becomes readable; up to `capacity` packets are read into the slots of one reused
//      batch, each at TUN_OFFSET (48) so the 16-byte hop transport header fits in front of it.
//   2. Per packet (plain JS over the bytes): a packet longer than the MTU or not well-formed IPv6
//      is dropped; routing maps the destination to a route. No route but a neighbour with that
//      address (routing has not heard of it yet) or an end-to-end peer routing has never heard of
//      that reached us (its reverse route): that way. Nothing: ICMPv6 "no route" on the TUN.
//   3. One hop: the packet is the hop plaintext as it is. Further: it must fit the route (else
//      ICMPv6 "packet too big"), is moved up by the routed header plus the end-to-end header,
//      sealed in place with the end-to-end session (one native call), and the routed header with
//      the label is written in front. A peer with no session yet keeps a copy while its handshake
//      runs; a packet that will run out of hop limit in transit (a traceroute probe) is
//      remembered so the transit's report can be answered with ICMPv6.
//   4. The hop plaintext is zero-padded to a multiple of 16 (never past the MTU), the hop
//      transport header written before it and the neighbour's endpoint into the endpoint area.
//   5. One native call seals the whole batch in place for the hop; one more sends it (sendmmsg).
//   At most MAX_BATCHES_PER_WAKEUP batches are handled before yielding to the event loop, so a
//   flood on one side cannot starve the other side or the timers; the poll fires again.
import { OFF_DST, OFF_HOP_LIMIT, ipv6Length } from '../fcnet/ipv6.js';
import type { AddressTable } from '../fcnet/address-table.js';
import { encodeTransportHeader } from '../noise/messages.js';
import { TRANSPORT_HEADER_SIZE } from '../noise/constants.js';
import type { SessionManager } from '../session/manager.js';
import type { Peer } from '../session/peer.js';
import { sealBatch } from '../session/aead.js';
import type { Counters } from '../util/counters.js';
import type { PacketDevice } from '../tun/device.js';
import { DATAGRAM_OFFSET, TUN_OFFSET, type PacketBatch } from '../transport/batch.js';
import { UdpSocket } from '../transport/udp.js';
import { KIND_MESSAGE, routeLabel, routeLink, routedHeaderLength, routedPacketMtu, writeRoutedHeader } from '../forward/header.js';
import type { Router } from '../routing/router.js';
import type { IcmpReplies } from './icmp-replies.js';
import { isResolverAddress, type Resolver } from './resolver.js';
import type { EndToEnd } from './end-to-end.js';
import type { Links } from './links.js';
import type { DataPathCounters } from './data-path.js';

/** Batches per readiness callback before the event loop gets a turn. */
export const MAX_BATCHES_PER_WAKEUP = 8;

export interface Sockets {
  v4: UdpSocket | null;
  v6: UdpSocket | null;
}

export interface SendContext {
  tun: PacketDevice;
  sockets: Sockets;
  mtu: number;
  /** Neighbours by fc address: the way to a neighbour before routing knows of it. */
  neighbours: AddressTable<Peer>;
  hop: SessionManager;
  links: Links;
  router: Router;
  e2e: EndToEnd;
  icmp: IcmpReplies;
  /** Answers what the TUN sends to fc00::1 (DNS for .rovy). */
  resolver: Resolver;
  counters: Counters;
  dataPath: DataPathCounters;
}

export class SendPipeline {
  constructor(
    private readonly batch: PacketBatch,
    private readonly ctx: SendContext,
  ) {}

  /** Drains the TUN: called whenever it is readable. */
  readonly onReadable = (): void => {
    const { batch } = this;
    const stats = this.ctx.dataPath;
    stats.tunWakeups++;
    for (let round = 0; round < MAX_BATCHES_PER_WAKEUP; round++) {
      const n = this.ctx.tun.readBatch(batch, TUN_OFFSET, batch.capacity);
      if (n === 0) return;
      stats.tunBatches++;
      stats.tunPackets += n;
      this.process(n);
      if (n < batch.capacity) return;
    }
  };

  /**
   * Sends packets that waited for an end-to-end session, as if just read from the TUN. Called when
   * a session comes up, which happens on the receive path or a timer, never inside process():
   * the batch is free.
   */
  sendPackets(packets: Uint8Array[]): void {
    const { data, slotSize, lens, capacity } = this.batch;
    for (let start = 0; start < packets.length; start += capacity) {
      const n = Math.min(capacity, packets.length - start);
      for (let i = 0; i < n; i++) {
        const packet = packets[start + i]!;
        data.set(packet, i * slotSize + TUN_OFFSET);
        lens[i] = packet.length;
      }
      this.process(n);
    }
  }

  private process(n: number): void {
    const { data, slotSize, lens } = this.batch;
    const { mtu, counters } = this.ctx;
    const now = this.ctx.hop.now();
    let ready = 0;
    for (let i = 0; i < n; i++) {
      const base = i * slotSize;
      const p = base + TUN_OFFSET;
      const read = lens[i]!;
      lens[i] = 0;
      const len = read <= mtu ? ipv6Length(data, p, read) : -1;
      if (len < 0) {
        counters.invalidPacket++;
        continue;
      }
      if (data[p + OFF_DST] !== 0xfc) continue; // multicast and link-local chatter stays home
      if (data[p + OFF_DST + 1] === 0 && isResolverAddress(data, p + OFF_DST)) {
        this.ctx.resolver.handle(data, p, len);
        continue;
      }
      if (this.dispatch(i, p, len, now)) ready++;
    }
    if (ready === 0) return;
    sealBatch(this.batch, n, TUN_OFFSET);
    for (let i = 0; i < n; i++) if (lens[i] !== 0) lens[i] += TUN_OFFSET - DATAGRAM_OFFSET;
    UdpSocket.sendBatch(this.ctx.sockets.v4, this.ctx.sockets.v6, this.batch, n, DATAGRAM_OFFSET);
  }

  /** Sends the packet in slot i (at p) the way its destination is reached; true if it is ready for the seal. */
  private dispatch(i: number, p: number, len: number, now: number): boolean {
    const { data } = this.batch;
    const { router, e2e } = this.ctx;
    const route = router.lookup(data, p + OFF_DST);
    if (route && route.hops > 1) {
      const e2ePeer = e2e.peerFor(route);
      return e2ePeer !== undefined && this.routed(i, len, route.link, route.label, route.mtu, e2ePeer, now);
    }
    const neighbour = route ? this.ctx.links.peer(route.link) : this.ctx.neighbours.lookup(data, p + OFF_DST);
    if (neighbour) return this.oneHop(i, len, neighbour, now);
    // Someone routing has not told us of reached us: answer along their reverse route. (A node
    // routing knows but has no route to is unreachable: its links are gone.)
    const e2ePeer = e2e.lookup(data, p + OFF_DST);
    const back = e2ePeer?.endpoint;
    if (e2ePeer && back && !router.keyOf(data.subarray(p + OFF_DST, p + OFF_DST + 16))) {
      return this.routed(i, len, routeLink(back), routeLabel(back), this.ctx.mtu, e2ePeer, now);
    }
    this.ctx.counters.noRoute++;
    this.ctx.icmp.noRoute(data, p, len);
    return false;
  }

  /** The packet in slot i goes to a neighbour as it is. */
  private oneHop(i: number, len: number, peer: Peer, now: number): boolean {
    const p = i * this.batch.slotSize + TUN_OFFSET;
    const kp = this.ctx.hop.sendingKeypair(peer, now);
    if (!kp || !peer.endpoint) {
      peer.stage(this.batch.data.subarray(p, p + len));
      return false;
    }
    peer.txBytes += len;
    return this.hopFrame(i, len, peer, now);
  }

  /** The packet in slot i is sealed for `e2ePeer` and framed with `label` for the neighbour at `link`. */
  private routed(i: number, len: number, link: number, label: ArrayLike<number>, routeMtu: number, e2ePeer: Peer, now: number): boolean {
    const { data } = this.batch;
    const { e2e, counters } = this.ctx;
    const p = i * this.batch.slotSize + TUN_OFFSET;
    const header = routedHeaderLength(label.length);
    const fits = routedPacketMtu(routeMtu, label.length);
    if (len > fits) {
      counters.tooBig++;
      this.ctx.icmp.packetTooBig(data, p, len, fits);
      return false;
    }
    const ekp = e2e.sessions.sendingKeypair(e2ePeer, now);
    if (!ekp) {
      e2e.hold(e2ePeer, data.subarray(p, p + len));
      return false;
    }
    const neighbour = this.ctx.links.peer(link);
    if (!neighbour || !neighbour.endpoint || !this.ctx.hop.sendingKeypair(neighbour, now)) {
      counters.noSession++;
      return false;
    }
    const hopLimit = data[p + OFF_HOP_LIMIT]!;
    if (hopLimit <= label.length) e2e.probes.remember(ekp.remoteIndex, ekp.sendCounter, data, p, len, now);
    // Move the packet up to make room in front, then seal it where it lands.
    const inner = p + header + TRANSPORT_HEADER_SIZE;
    data.copyWithin(inner, p, p + len);
    const padded = Math.min((len + 15) & ~15, fits);
    data.fill(0, inner + len, inner + padded);
    encodeTransportHeader(data, ekp.remoteIndex, ekp.sendCounter, p + header);
    const sealed = ekp.send.seal(ekp.sendCounter++, data, inner, padded);
    e2ePeer.txBytes += len;
    e2e.sessions.sentData(e2ePeer, now);
    writeRoutedHeader(data, p, KIND_MESSAGE, hopLimit, label, TRANSPORT_HEADER_SIZE + sealed);
    return this.hopFrame(i, header + TRANSPORT_HEADER_SIZE + sealed, neighbour, now);
  }

  /** Slot i's hop plaintext (len bytes at TUN_OFFSET) is made ready for the batch seal to `peer`. */
  private hopFrame(i: number, len: number, peer: Peer, now: number): boolean {
    const { data, ids, counters, lens } = this.batch;
    const base = i * this.batch.slotSize;
    const kp = peer.current!;
    data.set(peer.endpoint!, base);
    encodeTransportHeader(data, kp.remoteIndex, kp.sendCounter, base + DATAGRAM_OFFSET);
    const padded = Math.min((len + 15) & ~15, this.ctx.mtu);
    data.fill(0, base + TUN_OFFSET + len, base + TUN_OFFSET + padded);
    ids[i] = kp.send.id;
    counters[i] = kp.sendCounter++;
    lens[i] = padded;
    this.ctx.hop.sentData(peer, now);
    return true;
  }
}
