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

/** Seals the first `count` slots of the batch (ids, counters and lens set by the caller; empty slots skipped). */
export function sealBatch(batch: PacketBatch, count: number, offset: number): void {
  native.aeadSealBatch(batch.ids, batch.counters, batch.data, batch.slotSize, offset, batch.lens, count);
}

/** Opens the first `count` slots; each lens[i] becomes the plaintext length or OPEN_FAILED. */
export function openBatch(batch: PacketBatch, count: number, offset: number): void {
  native.aeadOpenBatch(batch.ids, batch.counters, batch.data, batch.slotSize, offset, batch.lens, count);
}
