// A reusable batch of packet slots: the unit every native data-plane call works on. A pipeline
// allocates one at start-up and reuses it for every batch, so nothing is allocated per packet.
// Slot i is data[i * slotSize, (i + 1) * slotSize): endpoint area, then header room, then packet.
import { TAG_SIZE } from '../util/protocol.js';

/** Bytes at the start of each slot for a UDP endpoint (format in transport/udp.ts). */
export const ENDPOINT_BYTES = 32;
/** Where a datagram starts in its slot: right after the endpoint area. */
export const DATAGRAM_OFFSET = 32;
/** Where a TUN packet starts: 16 bytes after the datagram, so a transport header fits before it. */
export const TUN_OFFSET = 48;

export class PacketBatch {
  /** All slots, back to back. */
  readonly data: Uint8Array;
  /** Packet length per slot. */
  readonly lens: Uint32Array;
  /** AEAD key id per slot (AeadKey.id), for sealBatch/openBatch. */
  readonly ids: Uint32Array;
  /** AEAD nonce counter per slot (an integer below 2^53). */
  readonly counters: Float64Array;

  constructor(
    readonly capacity = 64,
    readonly slotSize = 2048,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(slotSize) || slotSize <= TUN_OFFSET + TAG_SIZE) {
      throw new RangeError(`slotSize must be an integer above ${TUN_OFFSET + TAG_SIZE}, got ${slotSize}`);
    }
    this.data = new Uint8Array(capacity * slotSize);
    this.lens = new Uint32Array(capacity);
    this.ids = new Uint32Array(capacity);
    this.counters = new Float64Array(capacity);
  }

  /** Byte offset of slot i in data. */
  slot(i: number): number {
    return i * this.slotSize;
  }

  /** A view of slot i's packet at `offset` (allocates a view: for tests and control paths). */
  packet(i: number, offset: number): Uint8Array {
    const start = i * this.slotSize + offset;
    return this.data.subarray(start, start + this.lens[i]);
  }
}
