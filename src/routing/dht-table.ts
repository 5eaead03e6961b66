// The lookup table: what a node knows of the rest of the mesh beyond its neighbours, as Kademlia
// keeps it. The space is the fc00::/8 addresses (their 120 bits after the prefix), distance is
// XOR, and contacts are kept in buckets by how many leading bits they share with this node: at
// most DHT_BUCKET_SIZE in each, so a node knows many nodes near itself in the space and a few at
// every distance, about DHT_BUCKET_SIZE · log2(n) in a mesh of n. A contact is a node's signed
// locator (locator.ts) and when it was last heard from; the locators are what answers carry. They
// are held packed, their trees' roots once for the table (held-locators.ts).
import { bytesKey } from '../util/bytes.js';
import { TREE_COUNT } from './constants.js';
import { MAX_ROOT_NUMBERS, RootPrefixes, heldLocator, heldSequence, holdLocator, releaseLocator } from './held-locators.js';
import { addressOf, type Locator } from './locator.js';

const ADDRESS_SIZE = 16;
/** Bits of the address that vary (the first byte is always 0xfc). */
const BITS = 120;

export class Contact {
  /** Monotonic ms when it last answered us or asked us something. */
  heardAt: number;
  /** Requests to it that went unanswered since it was last heard. */
  failures = 0;

  constructor(
    readonly address: Uint8Array,
    /** Its locator as held (held-locators.ts). */
    private held: string,
    private readonly roots: RootPrefixes,
    heardAt: number,
  ) {
    this.heardAt = heardAt;
  }

  /** Its locator, decoded anew: read it once where it is used more than once. */
  get locator(): Locator {
    return heldLocator(this.held, this.roots);
  }

  get sequence(): number {
    return heldSequence(this.held);
  }

  /** Bytes held for it: its locator, its address, when it was heard and its failures. */
  get bytes(): number {
    return this.held.length + ADDRESS_SIZE + 16;
  }

  replace(locator: Locator): void {
    const held = holdLocator(locator, this.roots);
    releaseLocator(this.held, this.roots);
    this.held = held;
  }

  release(): void {
    releaseLocator(this.held, this.roots);
  }
}

/** Leading bits shared by two addresses past the 0xfc prefix (BITS when equal). */
export function sharedBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 1; i < ADDRESS_SIZE; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return (i - 1) * 8 + Math.clz32(x) - 24;
  }
  return BITS;
}

/** Negative if a is nearer to target than b (XOR distance), 0 if equally near. */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 1; i < ADDRESS_SIZE; i++) {
    const x = a[i]! ^ target[i]!;
    const y = b[i]! ^ target[i]!;
    if (x !== y) return x - y;
  }
  return 0;
}

/** How far `to` is from `from` as a share of the address space (XOR distance past the prefix
 *  byte, to 48 bits: enough to tell apart the nearest nodes of a mesh of 10¹⁴). */
export function distanceShare(from: Uint8Array, to: Uint8Array): number {
  let share = 0;
  let scale = 1 / 256;
  for (let i = 1; i <= 6; i++, scale /= 256) share += (from[i]! ^ to[i]!) * scale;
  return share;
}

/** The contacts nearest us the mesh's size is estimated from (meshSizeFrom). */
export const SIZE_FROM_NEAREST = 8;

/**
 * The nodes in a mesh, from how far the k nodes nearest one address are from it (shares of the
 * address space, nearest first, none left out), k ≥ 3. Addresses are hashes, so the others lie
 * in the space as a Poisson process of density n − 1, and (k − 1) / d_k, with d_k the k-th
 * nearest's distance, is its unbiased estimate, as DHTs estimate their size. With the 8 nearest,
 * its spread is about 40 % either way (1/√(k − 2)).
 */
export function meshSizeFrom(distances: readonly number[]): number {
  const farthest = distances.at(-1)!;
  return farthest > 0 ? (distances.length - 1) / farthest + 1 : distances.length + 1;
}

export class DhtTable {
  /** By leading bits shared with us; made as first filled, since most of the 121 stay empty
   *  (an empty array each took 32 bytes, at a few dozen contacts a node). */
  private readonly buckets: (Contact[] | undefined)[] = new Array(BITS + 1);
  private readonly byAddress = new Map<string, Contact>();
  private readonly roots = new RootPrefixes();

  constructor(
    readonly self: Uint8Array,
    private readonly bucketSize: number,
  ) {
    // Every contact's roots must have a number (held-locators.ts).
    if ((BITS + 1) * bucketSize * TREE_COUNT >= MAX_ROOT_NUMBERS) throw new RangeError(`buckets of ${bucketSize} hold more roots than a table can number`);
  }

  get size(): number {
    return this.byAddress.size;
  }

  get(address: Uint8Array): Contact | undefined {
    return this.byAddress.get(bytesKey(address));
  }

  /**
   * Takes in a node's locator (checked by the caller), heard from now if `heard`: a newer locator
   * of a contact replaces its old one; a new node enters its bucket if there is room, or in place
   * of a contact that has stopped answering. As in Kademlia, a full bucket keeps its live
   * contacts: old nodes are the likeliest to stay, and a flood of new keys cannot push them out.
   */
  add(locator: Locator, now: number, heard: boolean): Contact | null {
    const address = addressOf(locator.key);
    if (sharedBits(address, this.self) === BITS) return null; // ourselves
    const id = bytesKey(address);
    const known = this.byAddress.get(id);
    if (known) {
      if (locator.sequence > known.sequence) known.replace(locator);
      if (heard) {
        known.heardAt = now;
        known.failures = 0;
      }
      return known;
    }
    const shared = sharedBits(address, this.self);
    const bucket = (this.buckets[shared] ??= []);
    if (bucket.length >= this.bucketSize) {
      let worst = -1;
      for (let i = 0; i < bucket.length; i++) if (bucket[i]!.failures > 0 && (worst < 0 || bucket[i]!.failures > bucket[worst]!.failures)) worst = i;
      if (worst < 0) return null;
      this.byAddress.delete(bytesKey(bucket[worst]!.address));
      bucket[worst]!.release();
      bucket.splice(worst, 1);
    }
    const contact = new Contact(address, holdLocator(locator, this.roots), this.roots, heard ? now : -Infinity);
    bucket.push(contact);
    this.byAddress.set(id, contact);
    return contact;
  }

  /** Forgets the contacts whose locators `forgets` accepts; returns how many. */
  forgetWhere(forgets: (locator: Locator) => boolean): number {
    let dropped = 0;
    for (const c of [...this.byAddress.values()]) {
      if (!forgets(c.locator)) continue;
      this.remove(c.address);
      dropped++;
    }
    return dropped;
  }

  /** The most leading bits any contact shares with us (-1 with none). */
  deepestBucket(): number {
    for (let i = BITS; i >= 0; i--) if ((this.buckets[i]?.length ?? 0) > 0) return i;
    return -1;
  }

  /** A request to this contact went unanswered. */
  failed(address: Uint8Array): void {
    const c = this.get(address);
    if (c) c.failures++;
  }

  remove(address: Uint8Array): void {
    const id = bytesKey(address);
    const c = this.byAddress.get(id);
    if (!c) return;
    this.byAddress.delete(id);
    c.release();
    const shared = sharedBits(address, this.self);
    const bucket = this.buckets[shared]!;
    bucket.splice(bucket.indexOf(c), 1);
    if (bucket.length === 0) this.buckets[shared] = undefined;
  }

  /** The `n` contacts nearest to `target`, nearest first. `reachable`: leaving out those that
   *  failed to answer us twice (for choosing whom to ask; an answer to others names them all,
   *  since their ways to a node are not ours). `heard`: only those we heard from ourselves. */
  closest(target: Uint8Array, n: number, reachable = true, heard = false): Contact[] {
    // The n nearest so far, nearest first: most contacts are farther than the n-th and cost
    // one comparison (a lookup step asks for 16 of a few hundred).
    const nearest: Contact[] = [];
    if (n <= 0) return nearest;
    for (const c of this.byAddress.values()) {
      if ((reachable && c.failures >= 2) || (heard && c.heardAt === -Infinity)) continue;
      if (nearest.length === n && compareDistance(target, c.address, nearest[n - 1]!.address) >= 0) continue;
      let at = Math.min(nearest.length, n - 1);
      if (nearest.length < n) nearest.push(c);
      while (at > 0 && compareDistance(target, c.address, nearest[at - 1]!.address) < 0) {
        nearest[at] = nearest[at - 1]!;
        at--;
      }
      nearest[at] = c;
    }
    return nearest;
  }

  /** The nodes in the mesh, estimated from the SIZE_FROM_NEAREST contacts nearest us that we
   *  have heard from ourselves (a tagged request or answer, which only the key's holder can
   *  make) and that have not stopped answering (meshSizeFrom); with fewer, the contacts and us.
   *  A locator handed on by others says only that its key signed it: counted, keys ground near
   *  our address and never run would make the mesh look as large as they liked. To make it
   *  larger, a node needs live nodes nearer our address than the mesh's own nearest, which our
   *  publish asks: nodes that could as well hold our locator and drop it. */
  meshSize(): number {
    const nearest = this.closest(this.self, SIZE_FROM_NEAREST, true, true);
    if (nearest.length < SIZE_FROM_NEAREST) return this.size + 1;
    return Math.max(this.size + 1, meshSizeFrom(nearest.map((c) => distanceShare(this.self, c.address))));
  }

  /** Bytes held: each contact's, and the roots their locators name. */
  stateBytes(): number {
    let bytes = this.roots.stateBytes();
    for (const c of this.byAddress.values()) bytes += c.bytes;
    return bytes;
  }

  contacts(): IterableIterator<Contact> {
    return this.byAddress.values();
  }
}
