// Inbound data path: UDP → session open → fcnet checks → TUN.
//
//   1. A UDP socket becomes readable; recvmmsg fills up to BATCH slots of one reused batch, each
//      datagram at offset 32 with its source in the slot's endpoint area.
//   2. Per datagram: handshake messages (types 1–3) go to the session manager one by one;
//      a transport message (type 4) finds its keypair by receiver index and is checked against
//      the replay window before any decryption is spent on it.
//   3. One native call opens the whole batch in place (plaintext at offset 48).
//   4. Per packet: the counter is recorded in the replay window only now that it is
//      authentic; an empty plaintext is a keepalive; otherwise the IPv6 packet must be
//      well-formed, come from the address that belongs to the session's key and be for us.
//      The peer's endpoint follows the packet's source (roaming).
//   5. One native call writes the surviving packets to the TUN.
import { OFF_DST, OFF_SRC, equal16, ipv6Length } from '../fcnet/ipv6.js';
import type { IndexEntry, SessionManager } from '../session/manager.js';
import { readU32 } from '../session/manager.js';
import type { Keypair } from '../session/keypair.js';
import type { Counters } from '../util/counters.js';
import { native, OPEN_FAILED } from '../native/addon.js';
import { DATAGRAM_OFFSET as SLOT_DATAGRAM, TUN_OFFSET as SLOT_PACKET, type PacketBatch } from '../transport/batch.js';

const TRANSPORT_MIN = 32; // header 16 + tag 16: an empty (keepalive) message

export class ReceivePipeline {
  private readonly entries: (IndexEntry | null)[];
  private readonly keypairs: (Keypair | null)[];

  constructor(
    private readonly tunFd: number,
    private readonly batch: PacketBatch,
    private readonly sessions: SessionManager,
    /** Our own fc00::/8 address: the only destination a one-hop packet may have. */
    private readonly localAddress: Uint8Array,
    private readonly counters: Counters,
  ) {
    this.entries = new Array<IndexEntry | null>(batch.capacity).fill(null);
    this.keypairs = new Array<Keypair | null>(batch.capacity).fill(null);
  }

  /** Drains one UDP socket: called whenever it is readable. */
  drain(fd: number): void {
    const { data, slotSize, lens, capacity } = this.batch;
    for (;;) {
      const n = native.udpRecvBatch(fd, data, slotSize, SLOT_DATAGRAM, lens, capacity);
      if (n === 0) return;
      this.process(n);
      if (n < capacity) return;
    }
  }

  private process(n: number): void {
    const { data, slotSize, lens, ids, counters } = this.batch;
    const { entries, keypairs } = this;
    let pending = 0;
    for (let i = 0; i < n; i++) {
      entries[i] = keypairs[i] = null;
      const base = i * slotSize;
      const d = base + SLOT_DATAGRAM;
      const len = lens[i]!;
      lens[i] = 0;
      if (len === 0) {
        this.counters.malformed++;
        continue;
      }
      const type = data[d];
      if (type !== 4) {
        if (type === 1 || type === 2 || type === 3) this.sessions.handleHandshake(data.subarray(d, d + len), data.subarray(base, base + 32));
        else this.counters.malformed++;
        continue;
      }
      if (len < TRANSPORT_MIN || data[d + 1] !== 0 || data[d + 2] !== 0 || data[d + 3] !== 0) {
        this.counters.malformed++;
        continue;
      }
      const entry = this.sessions.indices.get(readU32(data, d + 4));
      const kp = entry?.keypair;
      if (!entry || !kp || kp.isDestroyed) {
        this.counters.unknownIndex++;
        continue;
      }
      const counter = readU32(data, d + 8) + readU32(data, d + 12) * 0x1_0000_0000;
      if (!kp.replay.mayAccept(counter)) {
        this.counters.replayed++;
        continue;
      }
      entries[i] = entry;
      keypairs[i] = kp;
      ids[i] = kp.receive.id;
      counters[i] = counter;
      lens[i] = len - (SLOT_PACKET - SLOT_DATAGRAM);
      pending++;
    }
    if (pending === 0) return;
    native.aeadOpenBatch(ids, counters, data, slotSize, SLOT_PACKET, lens, n);

    const now = this.sessions.now();
    let writable = 0;
    for (let i = 0; i < n; i++) {
      const kp = keypairs[i];
      if (!kp) {
        lens[i] = 0;
        continue;
      }
      const entry = entries[i]!;
      const plain = lens[i]!;
      lens[i] = 0;
      if (plain === OPEN_FAILED) {
        this.counters.decryptFailed++;
        continue;
      }
      if (!kp.replay.accept(counters[i]!)) {
        this.counters.replayed++;
        continue;
      }
      const peer = entry.peer;
      const base = i * slotSize;
      if (peer.endpoint && !equal20(peer.endpoint, data, base)) peer.endpoint.set(data.subarray(base, base + 32));
      if (plain === 0) {
        this.sessions.receivedAuthenticated(entry, kp, false, now);
        continue;
      }
      const p = base + SLOT_PACKET;
      const len = ipv6Length(data, p, plain);
      if (len < 0 || !equal16(data, p + OFF_DST, this.localAddress, 0)) {
        this.counters.invalidPacket++;
        continue;
      }
      if (!equal16(data, p + OFF_SRC, peer.address, 0)) {
        this.counters.spoofedSource++;
        peer.droppedSpoofed++;
        continue;
      }
      this.sessions.receivedAuthenticated(entry, kp, true, now);
      peer.rxBytes += len;
      lens[i] = len;
      writable++;
    }
    if (writable > 0) native.tunWriteBatch(this.tunFd, data, slotSize, SLOT_PACKET, lens, n);
  }
}

/** Same family, port and address (the first 20 bytes of two endpoint areas). */
function equal20(a: Uint8Array, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 20; i++) if (a[i] !== b[bo + i]) return false;
  return true;
}
