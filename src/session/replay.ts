// Sliding replay window over transport counters (RFC 6479's bitmap ring, as WireGuard uses it).
// A counter is accepted once, if it is newer than the highest seen or at most WINDOW_SIZE − 1
// behind it. mayAccept() is checked before decryption (cheap refusal), accept() after
// authentication (so forged packets never move the window). No allocation per packet.
import { REJECT_AFTER_COUNTER } from '../noise/constants.js';

/** Counters tracked behind (and including) the highest accepted one. */
export const WINDOW_SIZE = 8192;
const WORD_BITS = 32;
/** One word more than the window needs, so that advancing into a new word never clears a word
 *  still inside the window (RFC 6479 §2). */
const RING_WORDS = WINDOW_SIZE / WORD_BITS + 1;

export class ReplayWindow {
  private readonly ring = new Uint32Array(RING_WORDS);
  /** Highest accepted counter; −1 before the first. */
  private top = -1;

  /** `limit`: counters at or above it are refused (the key must be retired before then). */
  constructor(private readonly limit: number = REJECT_AFTER_COUNTER) {}

  /** The highest counter accepted so far, or −1. */
  get highest(): number {
    return this.top;
  }

  /** Whether `counter` would be accepted now. Changes nothing. */
  mayAccept(counter: number): boolean {
    if (!Number.isInteger(counter) || counter < 0 || counter >= this.limit) return false;
    if (counter > this.top) return true;
    if (this.top - counter >= WINDOW_SIZE) return false;
    const word = Math.floor(counter / WORD_BITS) % RING_WORDS;
    return (this.ring[word]! & (1 << counter % WORD_BITS)) === 0;
  }

  /** Records `counter` as received; false (and nothing recorded) when it is a duplicate, too
   *  old, or past the limit. Call only once the packet has been authenticated. */
  accept(counter: number): boolean {
    if (!this.mayAccept(counter)) return false;
    const block = Math.floor(counter / WORD_BITS);
    if (counter > this.top) {
      // Clear the words the window slides over; a jump of a whole ring or more clears them all.
      const topBlock = this.top < 0 ? -1 : Math.floor(this.top / WORD_BITS);
      const advance = Math.min(block - topBlock, RING_WORDS);
      for (let i = 1; i <= advance; i++) this.ring[(topBlock + i) % RING_WORDS] = 0;
      this.top = counter;
    }
    this.ring[block % RING_WORDS]! |= 1 << counter % WORD_BITS;
    return true;
  }

  /** Forgets every counter (for a new key). */
  reset(): void {
    this.ring.fill(0);
    this.top = -1;
  }
}
