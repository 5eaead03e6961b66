// The contact records a node holds (contact.ts): its link keeper's candidates, and what it passes
// on to its neighbours. Bounded: a neighbour that hands over records of ever-new keys fills the
// book at most, and a full book keeps the records that last longest.
import { CounterSet } from '../util/counters.js';
import { CONTACT_HEADER_SIZE, contactExpiry, decodeContact, type Contact } from './contact.js';
import { hexOf } from '../util/bytes.js';

/** Records held at most. */
export const MAX_CONTACTS = 512;

export class ContactCounters extends CounterSet {
  /** Records taken in, new or newer than the one held. */
  stored = 0;
  /** Records refused: malformed, expired, too long-lived, not a rovy key, or a bad signature. */
  invalid = 0;
  /** Records no newer than the one held for their key (nothing to do). */
  known = 0;
  /** Records refused because the book was full of records that last longer. */
  full = 0;
}

export class ContactBook {
  readonly counters = new ContactCounters();
  private readonly byKey = new Map<string, Contact>();

  /** Takes a record a neighbour passed on (or our own); whether it was stored. */
  offer(bytes: Uint8Array, now: number): boolean {
    // A record no newer than the one held is turned away before its signature is checked: most
    // of what neighbours pass on is known already, and turning it away stores nothing.
    const held = bytes.length >= CONTACT_HEADER_SIZE ? this.byKey.get(hexOf(bytes.subarray(1, 33))) : undefined;
    if (held && held.expires >= contactExpiry(bytes)) {
      this.counters.known++;
      return false;
    }
    const contact = decodeContact(bytes, now);
    if (!contact) {
      this.counters.invalid++;
      return false;
    }
    const key = hexOf(contact.publicKey);
    if (!held && this.byKey.size >= MAX_CONTACTS && !this.evictBefore(contact.expires, now)) {
      this.counters.full++;
      return false;
    }
    this.byKey.set(key, contact);
    this.counters.stored++;
    return true;
  }

  /** Every unexpired record (the expired ones are dropped here). */
  contacts(now: number): Contact[] {
    const out: Contact[] = [];
    for (const [key, c] of this.byKey) {
      if (c.expires <= now) this.byKey.delete(key);
      else out.push(c);
    }
    return out;
  }

  /** The record of a key, if held and unexpired. */
  get(publicKey: Uint8Array, now: number): Contact | undefined {
    const c = this.byKey.get(hexOf(publicKey));
    return c && c.expires > now ? c : undefined;
  }

  /** Up to `n` records chosen at random (`random(k)` in [0, k)), none of the key `except`. */
  sample(n: number, now: number, random: (k: number) => number, except?: Uint8Array): Contact[] {
    const skip = except ? hexOf(except) : '';
    const pool = this.contacts(now).filter((c) => hexOf(c.publicKey) !== skip);
    const out: Contact[] = [];
    while (out.length < n && pool.length > 0) {
      const i = random(pool.length);
      out.push(pool[i]!);
      pool[i] = pool[pool.length - 1]!;
      pool.pop();
    }
    return out;
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Makes room for a record expiring at `expires`: drops an expired record, or the one that
   *  expires first if that is sooner. */
  private evictBefore(expires: number, now: number): boolean {
    let soonest: string | null = null;
    let soonestAt = Infinity;
    for (const [key, c] of this.byKey) {
      if (c.expires <= now) {
        this.byKey.delete(key);
        return true;
      }
      if (c.expires < soonestAt) {
        soonest = key;
        soonestAt = c.expires;
      }
    }
    if (soonest === null || soonestAt >= expires) return false;
    this.byKey.delete(soonest);
    return true;
  }
}
