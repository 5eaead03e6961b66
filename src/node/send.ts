// Outbound data path: TUN → fcnet → routing → (end-to-end seal → routed header) → hop-out → UDP.
//
//   in:  packets the host sends into rovy0 (the addon cuts large TCP/UDP segments to the MTU)
//   out: datagrams to neighbours, sealed for the hop (and, beyond one hop, end to end inside)
//
//   1. The TUN becomes readable; up to `capacity` packets are read into the slots of one reused
//      batch, each at TUN_OFFSET (48) so the 16-byte hop transport header fits in front of it.
//   2. Per packet (plain JS over the bytes): a packet longer than the MTU or not well-formed IPv6
//      or IPv4 is dropped. A destination outside fc00::/8 (every IPv4 one) goes to the node whose
//      routed prefix holds it, by longest match (routed-prefixes.ts; the chosen exit's default
//      route the shortest), or, at an exit, to the client bound to a mesh IPv4 address, as a
//      packet for that node would; none holds it: dropped (multicast and link-local chatter stays home). For an fc
//      address, its flow is noted for the inbound filter (replies to it may come in); routing
//      maps the destination to a route. No route but a neighbour with that
//      address (routing has not heard of it yet) or an end-to-end peer routing has never heard of
//      that reached us (its reverse route): that way. Nothing: ICMPv6 "no route" on the TUN.
//   3. One hop: the packet is the hop plaintext as it is. Further: it must fit the route (else
//      ICMPv6 "packet too big"), is moved up by the routed header plus the end-to-end header,
//      zero-padded, and its end-to-end seal is staged (key, counter, where, how long); the routed
//      header with the label goes in front, its length known since a seal adds 16 bytes. A peer
//      with no session yet keeps a copy while its handshake runs; a packet that will run out of
//      hop limit in transit (a traceroute probe) is remembered so the transit's report can be
//      answered with ICMPv6.
//   4. The hop-out stage (hop-out.ts) stages each packet for its neighbour.
//   5. One native call seals every staged end-to-end payload in place, each at its own offset;
//      then the hop-out stage seals the batch for the hops (one call) and sends it (sendmmsg).
//   At most MAX_BATCHES_PER_WAKEUP batches are handled before yielding to the event loop, so a
//   flood on one side cannot starve the other side or the timers.
import { OFF_DST, OFF_HOP_LIMIT, ipv6Length } from '../fcnet/ipv6.js';
import { OFF4_DST, OFF4_TTL, ipv4Length } from '../fcnet/ipv4.js';
import type { RoutedPrefixes } from './routed-prefixes.js';
import type { Ipv4Bindings } from '../fcnet/ipv4-bindings.js';
import { isMeshIPv4 } from '../keys/address.js';
import type { Route } from '../routing/spf.js';
import type { AddressTable } from '../fcnet/address-table.js';
import { encodeTransportHeader } from '../noise/messages.js';
import { TRANSPORT_HEADER_SIZE } from '../noise/constants.js';
import type { SessionManager } from '../session/manager.js';
import type { Peer } from '../session/peer.js';
import { AeadSlots, sealSlots } from '../session/aead.js';
import type { Counters } from '../util/counters.js';
import { TAG_SIZE, paddedLength } from '../util/protocol.js';
import type { PacketDevice } from '../tun/device.js';
import { TUN_OFFSET, type PacketBatch } from '../transport/batch.js';
import { KIND_MESSAGE, routeLabel, routeLink, routedHeaderLength, routedPacketMtu, writeRoutedHeader } from '../forward/header.js';
import type { Routing } from '../routing/routing.js';
import type { LookupQueue } from './lookup-queue.js';
import type { IcmpReplies } from './icmp-replies.js';
import { isResolverAddress, type Resolver } from './resolver.js';
import type { EndToEnd } from './end-to-end.js';
import type { Links } from './links.js';
import type { InboundFilter } from '../fcnet/inbound-filter.js';
import type { DataPathCounters } from './data-path.js';
import { HopOut } from './hop-out.js';
import type { Transport } from '../transport/transport.js';

/** Batches per readiness callback before the event loop gets a turn. */
export const MAX_BATCHES_PER_WAKEUP = 8;

export interface SendContext {
  tun: PacketDevice;
  transports: readonly Transport[];
  mtu: number;
  /** Neighbours by fc address: the way to a neighbour before routing knows of it. */
  neighbours: AddressTable<Peer>;
  hop: SessionManager;
  links: Links;
  routing: Routing;
  /** Packets for addresses routing is still looking for. */
  lookups: LookupQueue;
  e2e: EndToEnd;
  icmp: IcmpReplies;
  /** Answers what the TUN sends to fc00::1 (DNS for .rovy). */
  resolver: Resolver;
  /** Notes the flows the host starts, so that their replies are let in. */
  filter: InboundFilter;
  /** Which node a destination outside fc00::/8 belongs to. */
  prefixes: RoutedPrefixes;
  /** Mesh IPv4 addresses of the nodes that use this node as their exit (receive.ts binds them). */
  ipv4Bindings: Ipv4Bindings;
  counters: Counters;
  dataPath: DataPathCounters;
}

export class SendPipeline {
  private readonly hopOut: HopOut;
  /** End-to-end seals staged per slot, done in one native call after the batch is framed. */
  private readonly e2eSeals: AeadSlots;
  private e2eStaged = 0;

  constructor(
    private readonly batch: PacketBatch,
    private readonly ctx: SendContext,
  ) {
    this.hopOut = new HopOut(batch, ctx.hop, ctx.transports, ctx.mtu);
    this.e2eSeals = new AeadSlots(batch.capacity);
  }

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
    const e2eLens = this.e2eSeals.lens;
    const now = this.ctx.hop.now();
    for (let i = 0; i < n; i++) {
      const p = i * slotSize + TUN_OFFSET;
      const read = lens[i]!;
      lens[i] = 0;
      e2eLens[i] = 0;
      const version = data[p]! >> 4;
      const len = read > mtu ? -1 : version === 6 ? ipv6Length(data, p, read) : version === 4 ? ipv4Length(data, p, read) : -1;
      if (len < 0) {
        counters.invalidPacket++;
        continue;
      }
      if (version === 4) {
        this.toPrefix(i, p, len, 4, p + OFF4_DST, data[p + OFF4_TTL]!, now);
        continue;
      }
      if (data[p + OFF_DST] !== 0xfc) {
        this.toPrefix(i, p, len, 6, p + OFF_DST, data[p + OFF_HOP_LIMIT]!, now);
        continue;
      }
      if (data[p + OFF_DST + 1] === 0 && isResolverAddress(data, p + OFF_DST)) {
        this.ctx.resolver.handle(data, p, len);
        continue;
      }
      this.ctx.filter.noteOutbound(data, p, len, now); // a reply to it may come in
      this.dispatch(i, p, len, now);
    }
    if (this.e2eStaged > 0) {
      this.e2eStaged = 0;
      sealSlots(this.batch, this.e2eSeals, n);
    }
    this.hopOut.send(n);
  }

  /**
   * The packet in slot i (at p, its destination at data[dst], of `family`) for a routed prefix:
   * to the node that holds it, routed as a packet for that node is. IPv4 gets no ICMP answer
   * (nodes have no IPv4 address to send one from).
   */
  private toPrefix(i: number, p: number, len: number, family: 4 | 6, dst: number, hopLimit: number, now: number): void {
    const { data } = this.batch;
    // A mesh IPv4 address bound to a client of our exit is its own /32, before any prefix.
    const bound = family === 4 && isMeshIPv4(data, dst) ? this.ctx.ipv4Bindings.lookup(data, dst) : undefined;
    const key = bound ?? this.ctx.prefixes.lookup(family, data, dst);
    if (!key) return; // no node's: multicast, broadcast, or nothing routed there
    // A reply may come back to our fc address, through the filter (which guards only that).
    if (family === 6) this.ctx.filter.noteOutbound(data, p, len, now);
    const route = this.ctx.routing.routeTo(key);
    if (route) {
      this.along(i, len, route, family, hopLimit, now);
      return;
    }
    // A client of our exit that routing has not told us of yet (its packets came): to it as a
    // neighbour, or back along the way they came, as for an fc address (dispatch).
    if (bound) {
      const fc = this.ctx.ipv4Bindings.fcAddressOf(data, dst)!;
      const neighbour = this.ctx.neighbours.lookup(fc, 0);
      if (neighbour) {
        this.oneHop(i, len, neighbour, now);
        return;
      }
      const e2ePeer = this.ctx.e2e.lookup(fc, 0);
      const back = e2ePeer?.endpoint;
      if (e2ePeer && back) {
        this.routed(i, len, routeLink(back), routeLabel(back), this.ctx.mtu, e2ePeer, now, 4, hopLimit);
        return;
      }
    }
    this.ctx.counters.noRoute++;
    if (family === 6) this.ctx.icmp.noRoute(data, p, len);
  }

  /** The packet in slot i along `route`: to the neighbour as it is, or routed end to end. */
  private along(i: number, len: number, route: Route, family: 4 | 6, hopLimit: number, now: number): void {
    if (route.hops > 1) {
      const e2ePeer = this.ctx.e2e.peerFor(route);
      if (e2ePeer) this.routed(i, len, route.link, route.label, route.mtu, e2ePeer, now, family, hopLimit);
      return;
    }
    const neighbour = this.ctx.links.peer(route.link);
    if (neighbour) this.oneHop(i, len, neighbour, now);
    else this.ctx.counters.noSession++;
  }

  /** Stages the packet in slot i (at p) the way its destination is reached. */
  private dispatch(i: number, p: number, len: number, now: number): void {
    const { data } = this.batch;
    const { routing, e2e } = this.ctx;
    const route = routing.lookup(data, p + OFF_DST);
    if (route && route.hops > 1) {
      const e2ePeer = e2e.peerFor(route);
      if (e2ePeer) this.routed(i, len, route.link, route.label, route.mtu, e2ePeer, now, 6, data[p + OFF_HOP_LIMIT]!);
      return;
    }
    const neighbour = route ? this.ctx.links.peer(route.link) : this.ctx.neighbours.lookup(data, p + OFF_DST);
    if (neighbour) {
      this.oneHop(i, len, neighbour, now);
      return;
    }
    // Someone routing has not told us of reached us: answer along their reverse route. (A node
    // routing knows but has no route to is unreachable, its links gone, or held by the map past
    // its radius, with no route the map trusts: either way a lookup finds it.)
    const e2ePeer = e2e.lookup(data, p + OFF_DST);
    const back = e2ePeer?.endpoint;
    if (e2ePeer && back && !routing.knows(data, p + OFF_DST)) {
      this.routed(i, len, routeLink(back), routeLabel(back), this.ctx.mtu, e2ePeer, now, 6, data[p + OFF_HOP_LIMIT]!);
      return;
    }
    // Beyond what routing knows: the packet waits for a lookup (or one just found nothing).
    if (this.ctx.lookups.hold(data, p, len, now)) return;
    this.ctx.counters.noRoute++;
    this.ctx.icmp.noRoute(data, p, len);
  }

  /** The packet in slot i goes to a neighbour as it is. */
  private oneHop(i: number, len: number, peer: Peer, now: number): void {
    if (this.hopOut.stage(i, len, peer, now)) {
      peer.txBytes += len;
      return;
    }
    const p = i * this.batch.slotSize + TUN_OFFSET;
    peer.stage(this.batch.data.subarray(p, p + len));
  }

  /** The packet in slot i (IPv6 or IPv4, with `hopLimit` left) is framed with `label` for the
   *  neighbour at `link`, its seal for `e2ePeer` staged. */
  private routed(i: number, len: number, link: number, label: ArrayLike<number>, routeMtu: number, e2ePeer: Peer, now: number, family: 4 | 6, hopLimit: number): void {
    const { data } = this.batch;
    const { e2e, counters } = this.ctx;
    const p = i * this.batch.slotSize + TUN_OFFSET;
    const header = routedHeaderLength(label.length);
    const fits = routedPacketMtu(routeMtu, label.length);
    if (len > fits) {
      counters.tooBig++;
      if (family === 6) this.ctx.icmp.packetTooBig(data, p, len, fits);
      else this.ctx.icmp.fragmentationNeeded(data, p, len, fits);
      return;
    }
    const ekp = e2e.sessions.sendingKeypair(e2ePeer, now);
    if (!ekp) {
      e2e.hold(e2ePeer, data.subarray(p, p + len));
      return;
    }
    const neighbour = this.ctx.links.peer(link);
    if (!neighbour) {
      counters.noSession++;
      return;
    }
    // Move the packet up to make room in front; its seal waits for the batch's.
    const inner = p + header + TRANSPORT_HEADER_SIZE;
    const padded = paddedLength(len, fits);
    const sealed = padded + TAG_SIZE;
    if (!this.hopOut.stage(i, header + TRANSPORT_HEADER_SIZE + sealed, neighbour, now)) {
      counters.noSession++;
      return;
    }
    if (family === 6 && hopLimit <= label.length) e2e.probes.remember(ekp.remoteIndex, ekp.sendCounter, data, p, len, now);
    data.copyWithin(inner, p, p + len);
    data.fill(0, inner + len, inner + padded);
    encodeTransportHeader(data, ekp.remoteIndex, ekp.sendCounter, p + header);
    const seals = this.e2eSeals;
    seals.ids[i] = ekp.send.id;
    seals.counters[i] = ekp.sendCounter++;
    seals.offsets[i] = inner - i * this.batch.slotSize;
    seals.lens[i] = padded;
    this.e2eStaged++;
    e2ePeer.txBytes += len;
    e2e.sessions.sentData(e2ePeer, now);
    writeRoutedHeader(data, p, KIND_MESSAGE, hopLimit, label, TRANSPORT_HEADER_SIZE + sealed);
  }
}
