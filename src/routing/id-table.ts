// Small integer ids for the addresses the link-state database numbers (lsdb.ts): the origins it
// holds, and the addresses its owner names (a router's own, its live links' neighbours).
// Everything here is packed in typed arrays — the addresses, 16 bytes an id, their reference
// counts, and an open-addressing hash table from address to id — because a map near a hub holds
// hundreds of nodes, and a map entry, an object and a 16-byte array per address took some 250
// bytes of heap for 16 of data.
//
// Ids are reused lowest first, the table's end drops as its highest ids go free, and once the
// range has grown past twice the ids in use its owner numbers them anew (renumber), so the id
// range (and with it every array indexed by id, SPF's included) follows the addresses numbered
// now rather than the most ever numbered (in a cold start a node holds many nodes that it
// forgets within seconds, as its map settles to its radius, and the ids that stay are spread
// over the range).
import { getRandomValues } from 'node:crypto';
import { equal16 } from '../fcnet/ipv6.js';

const ADDRESS_SIZE = 16;
/** The hash table's slot for "no id" (slots hold id + 1). */
const EMPTY = 0;
/** The fewest ids and slots room is kept for: a node on a line names a dozen addresses. */
const MIN_IDS = 16;
const MIN_SLOTS = 32;

export class IdTable {
  /** Address of id i at [16 i, 16 i + 16). */
  private bytes = new Uint8Array(MIN_IDS * ADDRESS_SIZE);
  private refs = new Int32Array(MIN_IDS);
  /** Bit i set: id i is free (below `end`). */
  private freeBits = new Uint32Array(Math.ceil(MIN_IDS / 32));
  /** No free id is below this. */
  private lowestFree = 0;
  /** Every id in use is below this. */
  private end = 0;
  private used = 0;
  /** Linear probing, id + 1 per slot; a power of two, at most half full. */
  private slots = new Int32Array(MIN_SLOTS);

  /** Every id in use is below this. */
  get capacity(): number {
    return this.end;
  }

  /** Ids in use. */
  get size(): number {
    return this.used;
  }

  /** The id of the 16-byte address at buf[off], if it has one. */
  idOf(buf: Uint8Array, off: number): number | undefined {
    const mask = this.slots.length - 1;
    for (let s = hashAt(buf, off) & mask; ; s = (s + 1) & mask) {
      const slot = this.slots[s]!;
      if (slot === EMPTY) return undefined;
      if (equal16(this.bytes, (slot - 1) * ADDRESS_SIZE, buf, off)) return slot - 1;
    }
  }

  /** The id of the 16-byte address at buf[off], given one (with no reference) if it has none. */
  intern(buf: Uint8Array, off: number): number {
    const known = this.idOf(buf, off);
    if (known !== undefined) return known;
    const id = this.takeFreeId();
    this.bytes.set(buf.subarray(off, off + ADDRESS_SIZE), id * ADDRESS_SIZE);
    this.refs[id] = 0;
    this.used++;
    if (2 * this.used > this.slots.length) this.rehash(2 * this.slots.length);
    else this.insertSlot(id);
    return id;
  }

  /** Whether `id` is in use. */
  has(id: number): boolean {
    return id >= 0 && id < this.end && !this.isFree(id);
  }

  ref(id: number): void {
    this.refs[id]!++;
  }

  /** Drops a reference; returns true if that was the last, and the id is free now. */
  unref(id: number): boolean {
    // A reference dropped twice would free an id still in use, or one given to another address.
    if (!this.has(id) || this.refs[id]! <= 0) throw new Error(`IdTable.unref: id ${id} holds no reference`);
    if (--this.refs[id]! > 0) return false;
    this.deleteSlot(id);
    this.used--;
    this.freeBits[id >>> 5]! |= 1 << (id & 31);
    if (id < this.lowestFree) this.lowestFree = id;
    // The end drops past every free id at the top.
    while (this.end > 0 && this.isFree(this.end - 1)) {
      this.end--;
      this.freeBits[this.end >>> 5]! &= ~(1 << (this.end & 31));
    }
    if (this.lowestFree > this.end) this.lowestFree = this.end;
    if (this.refs.length > 4 * MIN_IDS && this.end < this.refs.length / 4) this.resize(powerOfTwoAtLeast(Math.max(MIN_IDS, 2 * this.end)));
    if (this.slots.length > 4 * MIN_SLOTS && 8 * this.used < this.slots.length) this.rehash(powerOfTwoAtLeast(Math.max(MIN_SLOTS, 4 * this.used)));
    return true;
  }

  /** Whether the id range has grown past twice the ids in use (renumber would halve it). */
  get sparse(): boolean {
    return this.end > 2 * this.used + MIN_IDS;
  }

  /** Numbers the ids in use 0, 1, 2, … in their order; returns each old id's new one (-1: it
   *  was free), for everything that holds ids. */
  renumber(): Int32Array {
    const renumbered = new Int32Array(this.end).fill(-1);
    // Each id in use moves down to the next number, so the move is in place.
    let next = 0;
    for (let id = 0; id < this.end; id++) {
      if (this.isFree(id)) continue;
      this.bytes.copyWithin(next * ADDRESS_SIZE, id * ADDRESS_SIZE, (id + 1) * ADDRESS_SIZE);
      this.refs[next] = this.refs[id]!;
      renumbered[id] = next++;
    }
    this.freeBits.fill(0);
    this.end = next;
    this.lowestFree = next;
    this.resize(powerOfTwoAtLeast(Math.max(MIN_IDS, this.used)));
    this.rehash(this.slots.length);
    return renumbered;
  }

  /** The address of `id` (in use), in an array of its own. */
  address(id: number): Uint8Array {
    return this.bytes.slice(id * ADDRESS_SIZE, (id + 1) * ADDRESS_SIZE);
  }

  /** Whether id a's address is below id b's, byte by byte. */
  lower(a: number, b: number): boolean {
    const bytes = this.bytes;
    const ao = a * ADDRESS_SIZE;
    const bo = b * ADDRESS_SIZE;
    for (let i = 0; i < ADDRESS_SIZE; i++) {
      const x = bytes[ao + i]!;
      const y = bytes[bo + i]!;
      if (x !== y) return x < y;
    }
    return false;
  }

  private isFree(id: number): boolean {
    return (this.freeBits[id >>> 5]! & (1 << (id & 31))) !== 0;
  }

  private takeFreeId(): number {
    for (let id = this.lowestFree; id < this.end; ) {
      const word = this.freeBits[id >>> 5]! >>> (id & 31);
      if (word === 0) {
        id = ((id >>> 5) + 1) << 5;
        continue;
      }
      const found = id + (31 - Math.clz32(word & -word));
      if (found >= this.end) break;
      this.freeBits[found >>> 5]! &= ~(1 << (found & 31));
      this.lowestFree = found + 1;
      return found;
    }
    this.lowestFree = this.end + 1;
    if (this.end === this.refs.length) this.resize(2 * this.refs.length);
    return this.end++;
  }

  private resize(ids: number): void {
    const bytes = new Uint8Array(ids * ADDRESS_SIZE);
    bytes.set(this.bytes.subarray(0, this.end * ADDRESS_SIZE));
    this.bytes = bytes;
    const refs = new Int32Array(ids);
    refs.set(this.refs.subarray(0, this.end));
    this.refs = refs;
    const freeBits = new Uint32Array(Math.ceil(ids / 32));
    freeBits.set(this.freeBits.subarray(0, Math.min(this.freeBits.length, freeBits.length)));
    this.freeBits = freeBits;
  }

  private insertSlot(id: number): void {
    const mask = this.slots.length - 1;
    let s = hashAt(this.bytes, id * ADDRESS_SIZE) & mask;
    while (this.slots[s] !== EMPTY) s = (s + 1) & mask;
    this.slots[s] = id + 1;
  }

  // Linear probing's deletion: later entries of the run that hashed at or before the hole move
  // back into it, so no lookup stops early at a hole and no tombstones build up.
  private deleteSlot(id: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let hole = hashAt(this.bytes, id * ADDRESS_SIZE) & mask;
    while (slots[hole] !== id + 1) {
      if (slots[hole] === EMPTY) return;
      hole = (hole + 1) & mask;
    }
    for (let s = (hole + 1) & mask; slots[s] !== EMPTY; s = (s + 1) & mask) {
      const home = hashAt(this.bytes, (slots[s]! - 1) * ADDRESS_SIZE) & mask;
      // Movable if its home is not within (hole, s], cyclically.
      if (hole <= s ? home <= hole || home > s : home <= hole && home > s) {
        slots[hole] = slots[s]!;
        hole = s;
      }
    }
    slots[hole] = EMPTY;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let id = 0; id < this.end; id++) if (!this.isFree(id)) this.insertSlot(id);
  }
}

function powerOfTwoAtLeast(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

// Where an address goes in the hash table: all 16 bytes mixed with secrets of this process. The
// addresses an announcement names as links are whatever its origin writes, so nobody must be
// able to make many land in one run of slots (hashing the last four bytes alone, 12,000 such
// addresses took 860 ms to take in and as long again to look up at every new sequence).
const SEEDS = getRandomValues(new Int32Array(4));

function hashAt(buf: Uint8Array, off: number): number {
  let h = 0;
  for (let i = 0; i < 4; i++) {
    const o = off + 4 * i;
    const word = (buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
    h = Math.imul(h ^ word ^ SEEDS[i]!, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
