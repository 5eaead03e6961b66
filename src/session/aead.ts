// Transport-data AEAD: ChaCha20-Poly1305 with WireGuard's nonce (4 zero bytes, 64-bit
// little-endian counter) and no associated data, done in place by the native addon over
// Node's own OpenSSL. A key lives in native memory from construction until destroy().
import { native, OPEN_FAILED } from '../native/addon.js';
import type { PacketBatch } from '../transport/batch.js';

export { OPEN_FAILED };

// Keys that are dropped without destroy() are still freed, later, when collected.
const leaked = new FinalizationRegistry<number>((id) => native.aeadFree(id));

export class AeadKey {
  private _id: number;

  /** `key` is 32 bytes and may be wiped by the caller afterwards; `encrypt` picks seal or open. */
  constructor(
    key: Uint8Array,
    readonly encrypt: boolean,
  ) {
    this._id = native.aeadKey(key, encrypt);
    leaked.register(this, this._id, this);
  }

  /** The native key id, for PacketBatch.ids; -1 once destroyed (then rejected by every call). */
  get id(): number {
    return this._id;
  }

  /** Seals buf[off, off+len) in place and appends the 16-byte tag; returns len + 16. */
  seal(counter: number, buf: Uint8Array, off: number, len: number): number {
    return native.aeadSeal(this.liveId(), counter, buf, off, len);
  }

  /** Opens buf[off, off+len) (ciphertext then tag) in place; returns the plaintext length, or -1 if it does not authenticate. */
  open(counter: number, buf: Uint8Array, off: number, len: number): number {
    return native.aeadOpen(this.liveId(), counter, buf, off, len);
  }

  /** Frees and wipes the native key. Idempotent. */
  destroy(): void {
    if (this._id < 0) return;
    leaked.unregister(this);
    native.aeadFree(this._id);
    this._id = -1;
  }

  private liveId(): number {
    if (this._id < 0) throw new Error('AeadKey used after destroy()');
    return this._id;
  }
}

/**
 * A second set of per-slot AEAD arguments over a batch's data, for a layer inside the hop layer
 * (end to end): each slot's key id, counter, length, and where in its slot the payload starts.
 */
export class AeadSlots {
  readonly ids: Uint32Array;
  readonly counters: Float64Array;
  readonly lens: Uint32Array;
  readonly offsets: Uint32Array;

  constructor(capacity: number) {
    this.ids = new Uint32Array(capacity);
    this.counters = new Float64Array(capacity);
    this.lens = new Uint32Array(capacity);
    this.offsets = new Uint32Array(capacity);
  }
}

/** Seals the non-empty slots among the first `count` of `slots` in the batch's data, in one native call. */
export function sealSlots(batch: PacketBatch, slots: AeadSlots, count: number): void {
  native.aeadSealBatch(slots.ids, slots.counters, batch.data, batch.slotSize, 0, slots.lens, count, slots.offsets);
}

/** Opens the first `count` of `slots`; each length becomes the plaintext's, or OPEN_FAILED (slots with nothing staged too). */
export function openSlots(batch: PacketBatch, slots: AeadSlots, count: number): void {
  native.aeadOpenBatch(slots.ids, slots.counters, batch.data, batch.slotSize, 0, slots.lens, count, slots.offsets);
}

/** Seals the first `count` slots of the batch (ids, counters and lens set by the caller; empty slots skipped). */
export function sealBatch(batch: PacketBatch, count: number, offset: number): void {
  native.aeadSealBatch(batch.ids, batch.counters, batch.data, batch.slotSize, offset, batch.lens, count);
}

/** Opens the first `count` slots; each lens[i] becomes the plaintext length or OPEN_FAILED. */
export function openBatch(batch: PacketBatch, count: number, offset: number): void {
  native.aeadOpenBatch(batch.ids, batch.counters, batch.data, batch.slotSize, offset, batch.lens, count);
}
