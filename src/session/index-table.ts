// Local session indices: the random 32-bit numbers a peer puts in the receiver field of every
// message it sends us. One table for the node, so an incoming datagram finds its handshake or
// keypair with one Map lookup, and indices never collide between peers.
import { randomBytes } from 'node:crypto';

/** Indices are below 2^30 (see nextRandom). */
export const INDEX_MASK = 0x3fffffff;

export class IndexTable<T> {
  private readonly entries = new Map<number, T>();
  private readonly random = new Uint32Array(64);
  private randomLeft = 0;

  /** Reserves a fresh random index for `value`. */
  add(value: T): number {
    for (;;) {
      const index = this.nextRandom();
      if (!this.entries.has(index)) {
        this.entries.set(index, value);
        return index;
      }
    }
  }

  get(index: number): T | undefined {
    return this.entries.get(index);
  }

  delete(index: number): void {
    this.entries.delete(index);
  }

  get size(): number {
    return this.entries.size;
  }

  private nextRandom(): number {
    if (this.randomLeft === 0) {
      const bytes = randomBytes(this.random.byteLength);
      new Uint8Array(this.random.buffer).set(bytes);
      this.randomLeft = this.random.length;
    }
    // 30 bits: every index is a small integer V8 keeps unboxed, so looking one up allocates nothing.
    return this.random[--this.randomLeft]! & INDEX_MASK;
  }
}
