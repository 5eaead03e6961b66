// Random bytes handed out from a pool that the system's CSPRNG fills a few kilobytes at a time.
// Asking it for each small value (a lookup's request id, a cookie reply's nonce) costs a call
// into the system and a buffer each, and a node on the way of many lookups asks for thousands
// a second: on powerlaw-10000 the simulator spent 35 s of its run there.
import { randomFillSync } from 'node:crypto';

export class RandomPool {
  private readonly pool: Uint8Array;
  private used: number;

  constructor(size = 4096) {
    this.pool = new Uint8Array(size);
    this.used = size;
  }

  /** `n` (at most the pool's size) fresh random bytes: a copy, never handed out again. */
  take(n: number): Uint8Array {
    if (this.used + n > this.pool.length) {
      randomFillSync(this.pool);
      this.used = 0;
    }
    const out = this.pool.slice(this.used, this.used + n);
    this.used += n;
    return out;
  }
}
