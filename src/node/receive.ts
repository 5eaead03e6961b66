// Inbound data path: UDP → hop open → (forwarder → end-to-end open) → fcnet checks → TUN,
// or, at a transit node, UDP → hop open → forwarder → hop seal → UDP.
//
//   1. A UDP socket becomes readable; recvmmsg fills up to `capacity` slots of one reused batch,
//      each datagram at DATAGRAM_OFFSET (32) with its source in the slot's endpoint area.
//   2. Per datagram: a transport message (type 4) finds its keypair by receiver index and is
//      checked against the keypair's age and replay window before any decryption is spent on
//      it. Handshake messages (types 1–3) are only noted: they run after this batch, because a
//      handshake can retire a keypair that slots of this batch still need.
//   3. One native call opens the whole batch in place (hop plaintext at TUN_OFFSET, 48).
//   4. Per frame: the counter is recorded in the replay window only now that it is authentic,
//      and the session's timers learn of it; the peer's endpoint follows the packet's source
//      (roaming). Then by the plaintext's first byte:
//      - empty: a keepalive (a hello, for routing's link liveness);
//      - 0x6_, an IPv6 packet from the neighbour itself: it must be well-formed, come from the
//        neighbour's address and be for us;
//      - 0x01, a routed frame (forward/header.ts): malformed headers are dropped and counted. Not
//        for us yet: its hop limit is decremented (at zero a report goes back to its origin),
//        the next slot of its label names the neighbour to pass it to — unknown or back where it
//        came from is dropped — and is replaced by the index it came in by; the frame is marked to
//        go on. For us: an end-to-end transport message is checked like a hop one and opened in
//        place (one native call), must carry an IPv6 packet from the session's own address to
//        ours, and is moved down to TUN_OFFSET; handshakes and reports are noted for later;
//      - 0x02, routing control: noted for later.
//   5. One native call writes the packets for us to the TUN. The frames marked to go on get the
//      next neighbour's hop header and endpoint, one native call seals them all in place and one
//      more sends them: a transit node never copies what it forwards, and never can open it.
//   6. The noted handshakes, control frames and reports run, one at a time.
//   At most MAX_BATCHES_PER_WAKEUP batches are handled before yielding to the event loop.
import { OFF_DST, OFF_HOP_LIMIT, OFF_SRC, equal16, ipv6Length } from '../fcnet/ipv6.js';
import { readTransportCounter, readU32LE, encodeTransportHeader } from '../noise/messages.js';
import { TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE } from '../noise/constants.js';
import type { IndexEntry, SessionManager } from '../session/manager.js';
import { INDEX_MASK } from '../session/index-table.js';
import type { Keypair } from '../session/keypair.js';
import type { Peer } from '../session/peer.js';
import { OPEN_FAILED, openBatch, sealBatch } from '../session/aead.js';
import type { Counters } from '../util/counters.js';
import type { PacketDevice } from '../tun/device.js';
import { DATAGRAM_OFFSET, ENDPOINT_BYTES, TUN_OFFSET, type PacketBatch } from '../transport/batch.js';
import { UdpSocket } from '../transport/udp.js';
import {
  FRAME_ROUTED,
  KIND_MESSAGE,
  OFF_COUNT,
  OFF_HOP_LIMIT as OFF_FRAME_HOP_LIMIT,
  OFF_KIND,
  OFF_POINTER,
  checkRoutedHeader,
  payloadLength,
  readSlot,
  reverseRoute,
  writeSlot,
} from '../forward/header.js';
import { FRAME_ROUTING } from '../routing/constants.js';
import type { Router } from '../routing/router.js';
import type { EndToEnd } from './end-to-end.js';
import type { Links } from './links.js';
import type { DataPathCounters } from './data-path.js';
import { MAX_BATCHES_PER_WAKEUP, type Sockets } from './send.js';

const HEADER = TUN_OFFSET - DATAGRAM_OFFSET;

/** What slot i holds after the open, for the stages that follow. */
const NOTHING = 0;
const FOR_TUN = 1;
const FORWARD = 2;
const LATER = 3;

export interface ReceiveContext {
  tun: PacketDevice;
  sockets: Sockets;
  mtu: number;
  hop: SessionManager;
  links: Links;
  router: Router;
  e2e: EndToEnd;
  /** Our own fc00::/8 address: the only destination a packet for the TUN may have. */
  localAddress: Uint8Array;
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
  /** The neighbour each FORWARD slot goes to, and its hop plaintext length. */
  private readonly nextHop: (Peer | null)[];
  private readonly frameLens: Uint32Array;
  /** Slots of the current batch holding hop handshake messages, handled after the data. */
  private readonly handshakeSlots: Uint16Array;
  private readonly handshakeLens: Uint16Array;
  private readonly deferred: Deferred[] = [];

  constructor(
    private readonly batch: PacketBatch,
    private readonly ctx: ReceiveContext,
  ) {
    const n = batch.capacity;
    this.entries = new Array<IndexEntry | null>(n).fill(null);
    this.keypairs = new Array<Keypair | null>(n).fill(null);
    this.nextHop = new Array<Peer | null>(n).fill(null);
    this.fate = new Uint8Array(n);
    this.frameLens = new Uint32Array(n);
    this.handshakeSlots = new Uint16Array(n);
    this.handshakeLens = new Uint16Array(n);
  }

  /** Drains one UDP socket: called whenever it is readable. */
  drain(socket: UdpSocket): void {
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
    let forwards = 0;
    for (let i = 0; i < n; i++) {
      fate[i] = NOTHING;
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
      // authenticated message; what is inside decides only where it goes.
      this.ctx.hop.receivedAuthenticated(entry, kp, plain > 0, now);
      if (plain === 0) continue; // keepalive
      const p = base + TUN_OFFSET;
      const first = data[p]!;
      if (first >> 4 === 6) {
        const len = this.fromNeighbour(p, plain, peer);
        if (len > 0) {
          peer.rxBytes += len;
          lens[i] = len;
          fate[i] = FOR_TUN;
          writable++;
        }
      } else if (first === FRAME_ROUTED) {
        fate[i] = this.routed(i, p, plain, peer, now);
        if (fate[i] === FOR_TUN) writable++;
        else if (fate[i] === FORWARD) forwards++;
      } else if (first === FRAME_ROUTING) {
        const frame = data.slice(p, p + plain);
        const link = peer.link;
        this.deferred.push({ run: () => this.ctx.router.receive(link, frame) });
      } else stats.malformed++;
    }
    if (writable > 0) this.ctx.tun.writeBatch(this.batch, n, TUN_OFFSET);
    if (forwards > 0) this.forward(n, now);
  }

  /** Length of the IPv6 packet at p that a neighbour sent us itself, or 0 if it is not acceptable. */
  private fromNeighbour(p: number, plain: number, peer: Peer): number {
    const { data } = this.batch;
    const len = ipv6Length(data, p, plain);
    if (len < 0 || !equal16(data, p + OFF_DST, this.ctx.localAddress, 0)) {
      this.ctx.counters.invalidPacket++;
      return 0;
    }
    if (!equal16(data, p + OFF_SRC, peer.address, 0)) {
      this.ctx.counters.spoofedSource++;
      return 0;
    }
    return len;
  }

  /** Handles the routed frame at data[p, p+plain) that `from` passed us; returns the slot's fate. */
  private routed(i: number, p: number, plain: number, from: Peer, now: number): number {
    const { data } = this.batch;
    const stats = this.ctx.counters;
    const header = checkRoutedHeader(data, p, plain);
    if (header < 0) {
      stats.malformed++;
      return NOTHING;
    }
    const pointer = data[p + OFF_POINTER]!;
    const q = p + header;
    const payload = payloadLength(data, p);
    if (pointer === data[p + OFF_COUNT]!) return this.forUs(i, p, q, payload, from, now);

    const hopLimit = data[p + OFF_FRAME_HOP_LIMIT]!;
    if (hopLimit <= 1) {
      stats.hopLimitExceeded++;
      // Only end-to-end messages are reported: a report about a report could loop.
      if (data[p + OFF_KIND] === KIND_MESSAGE && payload >= TRANSPORT_HEADER_SIZE) {
        const back = reverseRoute(data, p, from.link);
        const messageHeader = data.slice(q, q + TRANSPORT_HEADER_SIZE);
        this.deferred.push({ run: () => this.ctx.e2e.reportTimeExceeded(back, messageHeader) });
      }
      return NOTHING;
    }
    const next = this.ctx.links.peer(readSlot(data, p, pointer));
    if (!next || next === from || !this.ctx.links.isUp(next)) {
      stats.badLabel++;
      return NOTHING;
    }
    writeSlot(data, p, pointer, from.link);
    data[p + OFF_POINTER] = pointer + 1;
    data[p + OFF_FRAME_HOP_LIMIT] = hopLimit - 1;
    this.nextHop[i] = next;
    this.frameLens[i] = plain;
    return FORWARD;
  }

  /** A routed frame whose label is used up: its payload at data[q, q+len) is for us. */
  private forUs(i: number, p: number, q: number, len: number, from: Peer, now: number): number {
    const { data, lens } = this.batch;
    const stats = this.ctx.counters;
    const e2e = this.ctx.e2e;
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
      stats.malformed++;
      return NOTHING;
    }
    const entry = this.transportEntry(e2e.sessions, data, q, len, now);
    if (!entry) return NOTHING;
    const kp = entry.keypair!;
    const counter = readTransportCounter(data, q + 8);
    const plain = kp.receive.open(counter, data, q + TRANSPORT_HEADER_SIZE, len - TRANSPORT_HEADER_SIZE);
    if (plain < 0) {
      stats.decryptFailed++;
      return NOTHING;
    }
    if (!kp.replay.accept(counter)) {
      stats.replayed++;
      return NOTHING;
    }
    const source = entry.peer;
    const inner = q + TRANSPORT_HEADER_SIZE;
    const packet = plain === 0 ? 0 : ipv6Length(data, inner, plain);
    const forUs = packet > 0 && equal16(data, inner + OFF_DST, this.ctx.localAddress, 0);
    const fromSource = forUs && equal16(data, inner + OFF_SRC, source.address, 0);
    e2e.sessions.receivedAuthenticated(entry, kp, fromSource, now);
    if (plain === 0) return NOTHING; // end-to-end keepalive
    if (!forUs) {
      stats.invalidPacket++;
      return NOTHING;
    }
    if (!fromSource) {
      stats.spoofedSource++;
      return NOTHING;
    }
    // The packet arrives with the hop limit the transits left it, as from any routed path.
    const left = data[p + OFF_FRAME_HOP_LIMIT]!;
    if (left < data[inner + OFF_HOP_LIMIT]!) data[inner + OFF_HOP_LIMIT] = left;
    data.copyWithin(p, inner, inner + packet);
    source.rxBytes += packet;
    lens[i] = packet;
    return FOR_TUN;
  }

  /** Seals the FORWARD slots for their next hops and sends them, all in two native calls. */
  private forward(n: number, now: number): void {
    const { data, slotSize, lens, ids, counters } = this.batch;
    const hop = this.ctx.hop;
    let ready = 0;
    for (let i = 0; i < n; i++) {
      lens[i] = 0;
      if (this.fate[i] !== FORWARD) continue;
      const next = this.nextHop[i]!;
      this.nextHop[i] = null;
      const kp = hop.sendingKeypair(next, now);
      if (!kp || !next.endpoint) {
        this.ctx.counters.noSession++;
        continue;
      }
      const base = i * slotSize;
      data.set(next.endpoint, base);
      encodeTransportHeader(data, kp.remoteIndex, kp.sendCounter, base + DATAGRAM_OFFSET);
      ids[i] = kp.send.id;
      counters[i] = kp.sendCounter++;
      lens[i] = this.frameLens[i]!;
      hop.sentData(next, now);
      ready++;
    }
    if (ready === 0) return;
    this.ctx.counters.forwarded += ready;
    sealBatch(this.batch, n, TUN_OFFSET);
    for (let i = 0; i < n; i++) if (lens[i] !== 0) lens[i] += TUN_OFFSET - DATAGRAM_OFFSET;
    UdpSocket.sendBatch(this.ctx.sockets.v4, this.ctx.sockets.v6, this.batch, n, DATAGRAM_OFFSET);
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
