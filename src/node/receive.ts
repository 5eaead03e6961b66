// Inbound data path: transport (UDP, TCP, TLS) → hop open → (forwarder → end-to-end open) → fcnet checks → TUN,
// or, at a transit node, UDP → hop open → forwarder → hop-out → UDP.
//
//   in:  datagrams from neighbours (the addon hands out coalesced ones one per slot)
//   out: IPv6 packets for the host, written to rovy0 (a TCP flow's coalesced into one write),
//        and routed frames passed on to the next neighbour, never opened
//
//   1. A UDP socket (or a stream transport's queue) becomes readable; up to `capacity` datagrams fill the slots of one reused
//      batch, each at DATAGRAM_OFFSET (32) with its source in the slot's endpoint area.
//   2. Per datagram: a transport message (type 4) finds its keypair by receiver index and is
//      checked against the keypair's age and replay window before any decryption is spent on
//      it. Handshake messages (types 1–3) are only noted: they run after this batch, because a
//      handshake can retire a keypair that slots of this batch still need.
//   3. One native call opens the whole batch in place (hop plaintext at TUN_OFFSET, 48).
//   4. Per frame: the counter is recorded in the replay window only now that it is authentic,
//      and the session's timers learn of it; the peer's endpoint follows the packet's source
//      (roaming). Then by the plaintext's first byte:
//      - empty: a keepalive (a hello, for routing's link liveness);
//      - 0x6_ or 0x4_, an IPv6 or IPv4 packet from the neighbour itself (checked as below);
//      - 0x01, a routed frame: the forwarding stage (forward/forwarder.ts) decides. Passed on:
//        marked to go on. Expired here, or its label names no live link here: a report goes back
//        to its origin (after the batch). For us: an end-to-end transport message is checked like
//        a hop one and its open staged; handshakes, reports, routing answers (kind 2) and
//        unreachable reports (kind 3) are noted for after the batch;
//      - 0x02, routing control, 0x03, contact records (peer exchange), and 0x04, tree-routed
//        frames (lookups): noted for after the batch.
//   5. One native call opens every staged end-to-end message in place, each at its own offset,
//      and each packet is moved down to TUN_OFFSET if it holds up (below).
//   A packet that comes out of a session (a neighbour's, or an end-to-end one) must be
//   well-formed, and either for our fc address, from the session's own fc address or a routed
//   prefix accepted as its node's, and let in by the inbound filter (fcnet/inbound-filter.ts);
//   or for a routed prefix we announce ourselves (the host routes it on), from the same; or,
//   at an exit, for anywhere else, from a node the exit serves (its fc address, its mesh IPv4
//   address, bound to it for the replies, or its prefix).
//   6. One native call writes the packets for us to the TUN. The frames marked to go on pass
//      through the hop-out stage (hop-out.ts: one seal call and one sendmmsg for all of them): a
//      transit node never copies what it forwards, and never can open it.
//   7. The noted handshakes, control frames and reports run, one at a time.
//   At most MAX_BATCHES_PER_WAKEUP batches are handled before yielding to the event loop.
import { OFF_DST, OFF_HOP_LIMIT, OFF_SRC, equal16, ipv6Length } from '../fcnet/ipv6.js';
import { readTransportCounter, readU32LE } from '../noise/messages.js';
import { TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE } from '../noise/constants.js';
import type { IndexEntry, SessionManager } from '../session/manager.js';
import { INDEX_MASK } from '../session/index-table.js';
import type { Keypair } from '../session/keypair.js';
import type { Peer } from '../session/peer.js';
import { AeadSlots, OPEN_FAILED, openBatch, openSlots } from '../session/aead.js';
import type { Counters } from '../util/counters.js';
import type { PacketDevice } from '../tun/device.js';
import { DATAGRAM_OFFSET, ENDPOINT_BYTES, TUN_OFFSET, type PacketBatch } from '../transport/batch.js';
import type { DatagramSource } from '../transport/transport.js';
import { FRAME_ROUTED, KIND_MESSAGE, KIND_ROUTING_ANSWER, KIND_UNREACHABLE, OFF_HOP_LIMIT as OFF_FRAME_HOP_LIMIT, OFF_KIND, returnSlots, reverseRoute } from '../forward/header.js';
import { FRAME_TREE_ROUTED } from '../routing/tree-frame.js';
import { EXPIRED, FOR_US, FORWARD, Forwarder, NO_LINK } from '../forward/forwarder.js';
import { FRAME_ROUTING } from '../routing/constants.js';
import { FRAME_CONTACTS } from '../discovery/exchange.js';
import { OFF4_DST, OFF4_SRC, ipv4Length } from '../fcnet/ipv4.js';
import type { RoutedPrefixes } from './routed-prefixes.js';
import type { PeerExchange } from './peer-exchange.js';
import type { Routing } from '../routing/routing.js';
import type { EndToEnd } from './end-to-end.js';
import { FRAME_LINK_PROBE, PROBE_ANSWER, type Links } from './links.js';
import type { InboundFilter } from '../fcnet/inbound-filter.js';
import type { IcmpReplies } from './icmp-replies.js';
import type { DataPathCounters } from './data-path.js';
import { HopOut } from './hop-out.js';
import type { Transport } from '../transport/transport.js';
import { MAX_BATCHES_PER_WAKEUP } from './send.js';
import type { Ipv4Bindings } from '../fcnet/ipv4-bindings.js';
import { isMeshIPv4Of } from '../keys/address.js';

const HEADER = TUN_OFFSET - DATAGRAM_OFFSET;

/** What slot i holds after the hop open, for the stages that follow. */
const NOTHING = 0;
const FOR_TUN = 1;
const PASS_ON = 2;
const LATER = 3;
const OPEN_E2E = 4;

export interface ReceiveContext {
  tun: PacketDevice;
  transports: readonly Transport[];
  mtu: number;
  hop: SessionManager;
  links: Links;
  routing: Routing;
  e2e: EndToEnd;
  /** Our own fc00::/8 address: the only destination a packet for the TUN may have. */
  localAddress: Uint8Array;
  /** What of the mesh's traffic may reach the host (ports opened, replies, ICMPv6). */
  filter: InboundFilter;
  /** Builds the answer to what the filter refused, and sends a packet of ours to the mesh as if
   *  the host had (the send path). */
  icmp: IcmpReplies;
  sendToMesh(packet: Uint8Array): void;
  /** Which routed prefixes are ours, and which node may send from an address outside fc00::/8. */
  prefixes: RoutedPrefixes;
  /** Whether this node, as an exit, serves the node of a key. */
  servesExit(publicKey: Uint8Array): boolean;
  /** Mesh IPv4 addresses bound to the nodes that send from them through this exit. */
  ipv4Bindings: Ipv4Bindings;
  /** Takes the contact records neighbours pass on (peer-exchange.ts). */
  exchange: PeerExchange;
  counters: Counters;
  dataPath: DataPathCounters;
}

/** A message handled after the batch: copied out, since the batch is reused. */
interface Deferred {
  run(): void;
}

export class ReceivePipeline {
  private readonly entries: (IndexEntry | null)[];
  private readonly keypairs: (Keypair | null)[];
  private readonly fate: Uint8Array;
  /** The neighbour each PASS_ON slot goes to, and its hop plaintext length. */
  private readonly nextHop: (Peer | null)[];
  private readonly frameLens: Uint32Array;
  /** The end-to-end index entry of each OPEN_E2E slot, and the opens staged (key, counter, offset, length). */
  private readonly e2eEntries: (IndexEntry | null)[];
  private readonly e2eOpens: AeadSlots;
  /** Slots of the current batch holding hop handshake messages, handled after the data. */
  private readonly handshakeSlots: Uint16Array;
  private readonly handshakeLens: Uint16Array;
  private readonly deferred: Deferred[] = [];
  private readonly forwarder: Forwarder;
  private readonly hopOut: HopOut;

  constructor(
    private readonly batch: PacketBatch,
    private readonly ctx: ReceiveContext,
  ) {
    const n = batch.capacity;
    this.entries = new Array<IndexEntry | null>(n).fill(null);
    this.keypairs = new Array<Keypair | null>(n).fill(null);
    this.nextHop = new Array<Peer | null>(n).fill(null);
    this.e2eEntries = new Array<IndexEntry | null>(n).fill(null);
    this.e2eOpens = new AeadSlots(n);
    this.fate = new Uint8Array(n);
    this.frameLens = new Uint32Array(n);
    this.handshakeSlots = new Uint16Array(n);
    this.handshakeLens = new Uint16Array(n);
    this.forwarder = new Forwarder((link) => ctx.links.upPeer(link) !== undefined, ctx.counters);
    this.hopOut = new HopOut(batch, ctx.hop, ctx.transports, ctx.mtu);
  }

  /** Drains one source of datagrams (a UDP socket, a stream transport): called whenever it is readable. */
  drain(socket: DatagramSource): void {
    const { batch } = this;
    const stats = this.ctx.dataPath;
    stats.udpWakeups++;
    for (let round = 0; round < MAX_BATCHES_PER_WAKEUP; round++) {
      const n = socket.readBatch(batch, DATAGRAM_OFFSET, batch.capacity);
      if (n === 0) return;
      stats.udpBatches++;
      stats.udpDatagrams += n;
      this.process(n);
      if (n < batch.capacity) return;
    }
  }

  private process(n: number): void {
    const { data, slotSize, lens, ids, counters } = this.batch;
    const { entries, keypairs } = this;
    const hop = this.ctx.hop;
    const now = hop.now();
    let pending = 0;
    let handshakes = 0;
    for (let i = 0; i < n; i++) {
      entries[i] = keypairs[i] = null;
      const d = i * slotSize + DATAGRAM_OFFSET;
      const len = lens[i]!;
      lens[i] = 0;
      if (len === 0) {
        this.ctx.counters.malformed++;
        continue;
      }
      const type = data[d];
      if (type !== 4) {
        if (type === 1 || type === 2 || type === 3) {
          this.handshakeSlots[handshakes] = i;
          this.handshakeLens[handshakes++] = len;
        } else this.ctx.counters.malformed++;
        continue;
      }
      const entry = this.transportEntry(hop, data, d, len, now);
      if (!entry) continue;
      const kp = entry.keypair!;
      entries[i] = entry;
      keypairs[i] = kp;
      ids[i] = kp.receive.id;
      counters[i] = readTransportCounter(data, d + 8);
      lens[i] = len - HEADER;
      pending++;
    }
    if (pending > 0) this.openAndDeliver(n, now);
    for (let h = 0; h < handshakes; h++) {
      const base = this.handshakeSlots[h]! * slotSize;
      const d = base + DATAGRAM_OFFSET;
      hop.handleHandshake(data.subarray(d, d + this.handshakeLens[h]!), data.subarray(base, base + ENDPOINT_BYTES));
    }
    this.runDeferred();
  }

  /**
   * The index entry (with its keypair) for the transport message at data[d, d+len) of `sessions`,
   * if its index is live and its counter could still be accepted — decided before any decryption
   * is spent on it.
   */
  private transportEntry(sessions: SessionManager, data: Uint8Array, d: number, len: number, now: number): IndexEntry | null {
    if (len < TRANSPORT_MIN_SIZE || data[d + 1] !== 0 || data[d + 2] !== 0 || data[d + 3] !== 0) {
      this.ctx.counters.malformed++;
      return null;
    }
    // Our indices are below 2^30 (small integers: the lookup allocates nothing); a larger one
    // is nobody's and is not even looked up.
    const index = readU32LE(data, d + 4);
    const entry = index <= INDEX_MASK ? sessions.indices.get(index) : undefined;
    const kp = entry?.keypair;
    if (!entry || !kp || !kp.receivable(now)) {
      this.ctx.counters.unknownIndex++;
      return null;
    }
    const counter = readTransportCounter(data, d + 8);
    if (counter < 0 || !kp.replay.mayAccept(counter)) {
      this.ctx.counters.replayed++;
      return null;
    }
    return entry;
  }

  private openAndDeliver(n: number, now: number): void {
    const { data, slotSize, lens, counters } = this.batch;
    const { entries, keypairs, fate } = this;
    const stats = this.ctx.counters;
    openBatch(this.batch, n, TUN_OFFSET);
    let writable = 0;
    let passOn = 0;
    let e2e = 0;
    for (let i = 0; i < n; i++) {
      fate[i] = NOTHING;
      this.e2eOpens.lens[i] = 0;
      const kp = keypairs[i];
      const plain = lens[i]!;
      lens[i] = 0;
      if (!kp) continue;
      if (plain === OPEN_FAILED) {
        stats.decryptFailed++;
        continue;
      }
      if (!kp.replay.accept(counters[i]!)) {
        stats.replayed++; // a duplicate within this very batch
        continue;
      }
      const entry = entries[i]!;
      const peer = entry.peer;
      const base = i * slotSize;
      if (peer.endpoint && !equal20(peer.endpoint, data, base)) peer.endpoint.set(data.subarray(base, base + ENDPOINT_BYTES));
      // The session's bookkeeping (timers, promoting a "next" keypair) follows every
      // authenticated message; what is inside decides only where it goes. (A probe's answer, like
      // a keepalive, is owed no echo.)
      const p = base + TUN_OFFSET;
      const first = plain > 0 ? data[p]! : -1;
      const answer = first === FRAME_LINK_PROBE && plain > 1 && data[p + 1] === PROBE_ANSWER;
      this.ctx.hop.receivedAuthenticated(entry, kp, plain > 0 && !answer, now);
      if (plain === 0) continue; // keepalive
      // Packets and routed messages (kind 0) are traffic, for the link's liveness (links.ts); the
      // routing's own answers and reports are not: their askers time them out themselves.
      if (first >> 4 === 6 || first >> 4 === 4) {
        peer.trafficReceivedAt = now;
        const len = this.admit(p, plain, peer, now);
        if (len > 0) {
          peer.rxBytes += len;
          lens[i] = len;
          fate[i] = FOR_TUN;
          writable++;
        }
      } else if (first === FRAME_ROUTED) {
        if (data[p + OFF_KIND] === KIND_MESSAGE) peer.trafficReceivedAt = now;
        fate[i] = this.routed(i, p, plain, peer, now);
        if (fate[i] === PASS_ON) passOn++;
        else if (fate[i] === OPEN_E2E) e2e++;
      } else if (first === FRAME_ROUTING) {
        const frame = data.slice(p, p + plain);
        const link = peer.link;
        this.deferred.push({ run: () => this.ctx.routing.receive(link, frame) });
      } else if (first === FRAME_TREE_ROUTED) {
        const frame = data.slice(p, p + plain);
        const link = peer.link;
        this.deferred.push({ run: () => this.ctx.routing.receiveTreeFrame(link, frame) });
      } else if (first === FRAME_CONTACTS) {
        const frame = data.slice(p, p + plain);
        this.deferred.push({ run: () => this.ctx.exchange.receive(peer, frame, now) });
      } else if (answer) this.ctx.links.answerReceived(peer);
      else if (first === FRAME_LINK_PROBE) this.deferred.push({ run: () => this.ctx.links.probeReceived(peer, now) });
      else stats.malformed++;
    }
    if (e2e > 0) writable += this.openEndToEnd(n, now);
    if (writable > 0) this.ctx.tun.writeBatch(this.batch, n, TUN_OFFSET);
    if (passOn > 0) this.passOn(n, now);
  }

  /** Counts a packet the inbound filter refused, and answers it as a closed port would (after the batch). */
  private refuse(p: number, len: number): void {
    this.ctx.counters.filtered++;
    const refusal = this.ctx.icmp.refusal(this.batch.data, p, len, this.ctx.filter.protocol);
    if (refusal) this.deferred.push({ run: () => this.ctx.sendToMesh(refusal) });
  }

  /**
   * Length of the packet (IPv6 or IPv4) at data[p, p + plain) that came out of `source`'s session,
   * or 0, counted, if it may not reach the host: malformed; for neither our fc address nor a
   * prefix of ours (at an exit: anywhere, from a node it serves); from neither the session's fc
   * address nor a prefix accepted as its node's (nor, through our exit, its mesh IPv4 address,
   * then bound to it); or (for our fc address) refused by the inbound filter. Allocates nothing.
   */
  private admit(p: number, plain: number, source: Peer, now: number): number {
    const { data } = this.batch;
    const { prefixes, counters } = this.ctx;
    const key = source.publicKey;
    if (data[p]! >> 4 === 4) {
      const len = ipv4Length(data, p, plain);
      const to = len < 0 ? undefined : prefixes.ownKind(4, data, p + OFF4_DST);
      if (to === undefined) {
        counters.invalidPacket++;
        return 0;
      }
      if (to === 'exit' && !this.ctx.servesExit(key)) {
        counters.exitRefused++;
        return 0;
      }
      if (prefixes.isFrom(4, data, p + OFF4_SRC, key)) return len;
      if (to === 'exit' && isMeshIPv4Of(data, p + OFF4_SRC, source.address)) {
        if (this.ctx.ipv4Bindings.bind(data, p + OFF4_SRC, key, source.address, now)) return len;
        counters.exitRefused++;
        return 0;
      }
      counters.spoofedSource++;
      return 0;
    }
    const len = ipv6Length(data, p, plain);
    const forUs = len >= 0 && equal16(data, p + OFF_DST, this.ctx.localAddress, 0);
    const to = forUs || len < 0 ? undefined : prefixes.ownKind(6, data, p + OFF_DST);
    if (len < 0 || (!forUs && to === undefined)) {
      counters.invalidPacket++;
      return 0;
    }
    if (to === 'exit' && !this.ctx.servesExit(key)) {
      counters.exitRefused++;
      return 0;
    }
    if (!equal16(data, p + OFF_SRC, source.address, 0) && !prefixes.isFrom(6, data, p + OFF_SRC, key)) {
      counters.spoofedSource++;
      return 0;
    }
    // The filter guards this host's own address; what is for a prefix behind it, the host routes
    // on, under its own forwarding rules.
    if (forUs && !this.ctx.filter.admits(data, p, len, now)) {
      this.refuse(p, len);
      return 0;
    }
    return len;
  }

  /** The routed frame at data[p, p+plain) that `from` passed us, through the forwarding stage; returns the slot's fate. */
  private routed(i: number, p: number, plain: number, from: Peer, now: number): number {
    const { data } = this.batch;
    const forwarder = this.forwarder;
    const verdict = forwarder.decide(data, p, plain, from.link);
    if (verdict === FORWARD) {
      this.nextHop[i] = this.ctx.links.upPeer(forwarder.nextLink)!;
      this.frameLens[i] = plain;
      return PASS_ON;
    }
    const q = forwarder.payloadStart;
    const len = forwarder.payloadLength;
    if (verdict === EXPIRED) {
      // Only end-to-end messages are reported: a report about a report could loop.
      if (data[p + OFF_KIND] === KIND_MESSAGE && len >= TRANSPORT_HEADER_SIZE) {
        const back = reverseRoute(data, p, from.link);
        const messageHeader = data.slice(q, q + TRANSPORT_HEADER_SIZE);
        this.deferred.push({ run: () => this.ctx.e2e.reportTimeExceeded(back, messageHeader) });
      }
      return NOTHING;
    }
    if (verdict === NO_LINK) {
      // The route is broken here: its origin is told which index failed, so that it takes
      // another route at once. Only for end-to-end messages: a report about a report could loop.
      if (data[p + OFF_KIND] === KIND_MESSAGE) {
        const back = reverseRoute(data, p, from.link);
        const failed = forwarder.nextLink;
        this.deferred.push({ run: () => this.ctx.e2e.reportUnreachable(back, failed) });
      }
      return NOTHING;
    }
    if (verdict !== FOR_US) return NOTHING;
    return this.forUs(i, p, q, len, from, now);
  }

  /** A routed frame whose label is used up: its payload at data[q, q+len) is for us. */
  private forUs(i: number, p: number, q: number, len: number, from: Peer, now: number): number {
    const { data } = this.batch;
    const e2e = this.ctx.e2e;
    const kind = data[p + OFF_KIND];
    if (kind === KIND_ROUTING_ANSWER || kind === KIND_UNREACHABLE) {
      const payload = data.slice(q, q + len);
      const link = from.link;
      const back = returnSlots(data, p);
      this.deferred.push({
        run: () => {
          if (kind === KIND_ROUTING_ANSWER) return this.ctx.routing.receiveAnswer(link, back, payload);
          this.ctx.routing.receiveUnreachable(link, back, payload);
        },
      });
      return LATER;
    }
    if (data[p + OFF_KIND] !== KIND_MESSAGE) {
      const report = data.slice(q, q + len);
      this.deferred.push({ run: () => e2e.receiveReport(report) });
      return LATER;
    }
    const type = len > 0 ? data[q] : 0;
    if (type === 1 || type === 2 || type === 3) {
      const message = data.slice(q, q + len);
      const back = reverseRoute(data, p, from.link);
      this.deferred.push({ run: () => e2e.sessions.handleHandshake(message, back) });
      return LATER;
    }
    if (type !== 4) {
      this.ctx.counters.malformed++;
      return NOTHING;
    }
    const entry = this.transportEntry(e2e.sessions, data, q, len, now);
    if (!entry) return NOTHING;
    const opens = this.e2eOpens;
    this.e2eEntries[i] = entry;
    opens.ids[i] = entry.keypair!.receive.id;
    opens.counters[i] = readTransportCounter(data, q + 8);
    opens.offsets[i] = q + TRANSPORT_HEADER_SIZE - i * this.batch.slotSize;
    opens.lens[i] = len - TRANSPORT_HEADER_SIZE;
    return OPEN_E2E;
  }

  /**
   * Opens the staged end-to-end messages (one native call) and moves each packet that is for us,
   * from its session's own address, down to TUN_OFFSET; returns how many are for the TUN.
   */
  private openEndToEnd(n: number, now: number): number {
    const { data, slotSize, lens } = this.batch;
    const { fate, e2eEntries } = this;
    const opens = this.e2eOpens;
    const stats = this.ctx.counters;
    const sessions = this.ctx.e2e.sessions;
    openSlots(this.batch, opens, n);
    let writable = 0;
    for (let i = 0; i < n; i++) {
      if (fate[i] !== OPEN_E2E) continue;
      fate[i] = NOTHING;
      const entry = e2eEntries[i]!;
      e2eEntries[i] = null;
      const kp = entry.keypair!;
      const plain = opens.lens[i]!;
      if (plain === OPEN_FAILED) {
        stats.decryptFailed++;
        continue;
      }
      if (!kp.replay.accept(opens.counters[i]!)) {
        stats.replayed++;
        continue;
      }
      const base = i * slotSize;
      const p = base + TUN_OFFSET;
      const inner = base + opens.offsets[i]!;
      const source = entry.peer;
      const packet = plain === 0 ? 0 : this.admit(inner, plain, source, now);
      sessions.receivedAuthenticated(entry, kp, packet > 0, now);
      if (packet === 0) continue; // a keepalive, or refused (counted)
      // An IPv6 packet arrives with the hop limit the transits left it, as from any routed path.
      // (IPv4's TTL is left as sent: changing it would mean its header checksum too.)
      const left = data[p + OFF_FRAME_HOP_LIMIT]!;
      if (data[inner]! >> 4 === 6 && left < data[inner + OFF_HOP_LIMIT]!) data[inner + OFF_HOP_LIMIT] = left;
      data.copyWithin(p, inner, inner + packet);
      source.rxBytes += packet;
      lens[i] = packet;
      fate[i] = FOR_TUN;
      writable++;
    }
    return writable;
  }

  /** Passes the PASS_ON slots to their next hops through the hop-out stage. */
  private passOn(n: number, now: number): void {
    const { lens } = this.batch;
    for (let i = 0; i < n; i++) {
      lens[i] = 0;
      if (this.fate[i] !== PASS_ON) continue;
      const next = this.nextHop[i]!;
      this.nextHop[i] = null;
      if (!this.hopOut.stage(i, this.frameLens[i]!, next, now, false)) this.ctx.counters.noSession++;
    }
    this.ctx.counters.forwarded += this.hopOut.send(n);
  }

  private runDeferred(): void {
    if (this.deferred.length === 0) return;
    const deferred = this.deferred.splice(0);
    for (const task of deferred) task.run();
  }
}

/** Same family, port and address (the first 20 bytes of two endpoint areas). */
function equal20(a: Uint8Array, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 20; i++) if (a[i] !== b[bo + i]) return false;
  return true;
}
