// Inbound data path: UDP → session open → fcnet checks → TUN.
//
//   1. A UDP socket becomes readable; recvmmsg fills up to `capacity` slots of one reused batch,
//      each datagram at DATAGRAM_OFFSET (32) with its source in the slot's endpoint area.
//   2. Per datagram: a transport message (type 4) finds its keypair by receiver index and is
//      checked against the keypair's age and replay window before any decryption is spent on
//      it. Handshake messages (types 1–3) are only noted: they run after this batch, because a
//      handshake can retire a keypair that slots of this batch still need.
//   3. One native call opens the whole batch in place (plaintext at TUN_OFFSET, 48).
//   4. Per packet: the counter is recorded in the replay window only now that it is authentic,
//      and the session's timers learn of it; the peer's endpoint follows the packet's source
//      (roaming). An empty plaintext is a keepalive; otherwise the IPv6 packet must be
//      well-formed, come from the address that belongs to the session's key, and be for us.
//   5. One native call writes the surviving packets to the TUN; then the handshakes run.
//   At most MAX_BATCHES_PER_WAKEUP batches are handled before yielding to the event loop.
import { OFF_DST, OFF_SRC, equal16, ipv6Length } from '../fcnet/ipv6.js';
import { readTransportCounter, readU32LE } from '../noise/messages.js';
import { TRANSPORT_MIN_SIZE } from '../noise/constants.js';
import type { IndexEntry, SessionManager } from '../session/manager.js';
import { INDEX_MASK } from '../session/index-table.js';
import type { Keypair } from '../session/keypair.js';
import { OPEN_FAILED, openBatch } from '../session/aead.js';
import type { Counters } from '../util/counters.js';
import type { PacketDevice } from '../tun/device.js';
import { DATAGRAM_OFFSET, ENDPOINT_BYTES, TUN_OFFSET, type PacketBatch } from '../transport/batch.js';
import type { UdpSocket } from '../transport/udp.js';
import { MAX_BATCHES_PER_WAKEUP } from './send.js';

const HEADER = TUN_OFFSET - DATAGRAM_OFFSET;

export class ReceivePipeline {
  private readonly entries: (IndexEntry | null)[];
  private readonly keypairs: (Keypair | null)[];
  /** Slots of the current batch holding handshake messages, handled after the data. */
  private readonly handshakeSlots: Uint16Array;
  private readonly handshakeLens: Uint16Array;

  constructor(
    private readonly tun: PacketDevice,
    private readonly batch: PacketBatch,
    private readonly sessions: SessionManager,
    /** Our own fc00::/8 address: the only destination a one-hop packet may have. */
    private readonly localAddress: Uint8Array,
    private readonly counters: Counters,
  ) {
    this.entries = new Array<IndexEntry | null>(batch.capacity).fill(null);
    this.keypairs = new Array<Keypair | null>(batch.capacity).fill(null);
    this.handshakeSlots = new Uint16Array(batch.capacity);
    this.handshakeLens = new Uint16Array(batch.capacity);
  }

  /** Drains one UDP socket: called whenever it is readable. */
  drain(socket: UdpSocket): void {
    const { batch } = this;
    for (let round = 0; round < MAX_BATCHES_PER_WAKEUP; round++) {
      const n = socket.readBatch(batch, DATAGRAM_OFFSET, batch.capacity);
      if (n === 0) return;
      this.process(n);
      if (n < batch.capacity) return;
    }
  }

  private process(n: number): void {
    const { data, slotSize, lens, ids, counters } = this.batch;
    const { entries, keypairs } = this;
    const now = this.sessions.now();
    let pending = 0;
    let handshakes = 0;
    for (let i = 0; i < n; i++) {
      entries[i] = keypairs[i] = null;
      const d = i * slotSize + DATAGRAM_OFFSET;
      const len = lens[i]!;
      lens[i] = 0;
      if (len === 0) {
        this.counters.malformed++;
        continue;
      }
      const type = data[d];
      if (type !== 4) {
        if (type === 1 || type === 2 || type === 3) {
          this.handshakeSlots[handshakes] = i;
          this.handshakeLens[handshakes++] = len;
        } else this.counters.malformed++;
        continue;
      }
      if (len < TRANSPORT_MIN_SIZE || data[d + 1] !== 0 || data[d + 2] !== 0 || data[d + 3] !== 0) {
        this.counters.malformed++;
        continue;
      }
      // Our indices are below 2^30 (small integers: the lookup allocates nothing); a larger one
      // is nobody's and is not even looked up.
      const index = readU32LE(data, d + 4);
      const entry = index <= INDEX_MASK ? this.sessions.indices.get(index) : undefined;
      const kp = entry?.keypair;
      if (!entry || !kp || !kp.receivable(now)) {
        this.counters.unknownIndex++;
        continue;
      }
      const counter = readTransportCounter(data, d + 8);
      if (counter < 0 || !kp.replay.mayAccept(counter)) {
        this.counters.replayed++;
        continue;
      }
      entries[i] = entry;
      keypairs[i] = kp;
      ids[i] = kp.receive.id;
      counters[i] = counter;
      lens[i] = len - HEADER;
      pending++;
    }
    if (pending > 0) this.openAndDeliver(n, now);
    for (let h = 0; h < handshakes; h++) {
      const base = this.handshakeSlots[h]! * slotSize;
      const d = base + DATAGRAM_OFFSET;
      this.sessions.handleHandshake(data.subarray(d, d + this.handshakeLens[h]!), data.subarray(base, base + ENDPOINT_BYTES));
    }
  }

  private openAndDeliver(n: number, now: number): void {
    const { data, slotSize, lens, counters } = this.batch;
    const { entries, keypairs } = this;
    openBatch(this.batch, n, TUN_OFFSET);
    let writable = 0;
    for (let i = 0; i < n; i++) {
      const kp = keypairs[i];
      const plain = lens[i]!;
      lens[i] = 0;
      if (!kp) continue;
      if (plain === OPEN_FAILED) {
        this.counters.decryptFailed++;
        continue;
      }
      if (!kp.replay.accept(counters[i]!)) {
        this.counters.replayed++; // a duplicate within this very batch
        continue;
      }
      const entry = entries[i]!;
      const peer = entry.peer;
      const base = i * slotSize;
      if (peer.endpoint && !equal20(peer.endpoint, data, base)) peer.endpoint.set(data.subarray(base, base + ENDPOINT_BYTES));
      // The session's bookkeeping (timers, promoting a "next" keypair) follows every
      // authenticated message; what is inside decides only whether it reaches the TUN.
      const p = base + TUN_OFFSET;
      const len = plain === 0 ? 0 : ipv6Length(data, p, plain);
      const forUs = len > 0 && equal16(data, p + OFF_DST, this.localAddress, 0);
      const fromPeer = forUs && equal16(data, p + OFF_SRC, peer.address, 0);
      this.sessions.receivedAuthenticated(entry, kp, fromPeer, now);
      if (plain === 0) continue; // keepalive
      if (!forUs) {
        this.counters.invalidPacket++;
        continue;
      }
      if (!fromPeer) {
        this.counters.spoofedSource++;
        continue;
      }
      peer.rxBytes += len;
      lens[i] = len;
      writable++;
    }
    if (writable > 0) this.tun.writeBatch(this.batch, n, TUN_OFFSET);
  }
}

/** Same family, port and address (the first 20 bytes of two endpoint areas). */
function equal20(a: Uint8Array, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 20; i++) if (a[i] !== b[bo + i]) return false;
  return true;
}
