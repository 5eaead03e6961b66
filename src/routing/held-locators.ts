// Locators as the lookup table holds them: the wire bytes (locator.ts) with each place's 8-byte
// root key prefix replaced by a 2-byte number in a list of the prefixes held, kept once per
// table. A mesh has a root per tree, so nearly every contact names the same four: at
// powerlaw-10000's 451-link hub, 89 of its 92 contacts did. Held so, a contact is one array
// (where a decoded locator is a dozen objects), and 25 bytes less with four trees; it is
// decoded again, to the same bytes, whenever it is read. The bytes are kept as a latin1 string,
// one char a byte: a string is one heap object of 16 bytes before its chars, where a typed array
// is a view and an array buffer of about 180 before its bytes, more than the bytes of most
// locators.
//
//   offset  size
//        0    32  key
//       32     8  sequence
//       40     1  n: places
//       41     …  n times: tree (1), root number (2), depth d (1), d ports (2 each)
//      end    64  signature
import { bytesKey, readUint64BE } from '../util/bytes.js';
import { ROOT_PREFIX_SIZE, decodeLocator, type Locator } from './locator.js';

const KEY_SIZE = 32;
/** The wire form's version byte, left out here (there is one version). */
const WIRE_HEADER = 42;
const HELD_HEADER = WIRE_HEADER - 1;
const ROOT_NUMBER_SIZE = 2;
/** Prefixes a list can number. */
export const MAX_ROOT_NUMBERS = 1 << (8 * ROOT_NUMBER_SIZE);

/** The root key prefixes the held locators name, each kept once, with how many places name it. */
export class RootPrefixes {
  private readonly prefixes: (Uint8Array | null)[] = [];
  private readonly uses: number[] = [];
  private readonly numbers = new Map<string, number>();
  private readonly free: number[] = [];

  /** The number of `prefix` (copied when new), its uses counted one more. */
  take(prefix: Uint8Array): number {
    const id = bytesKey(prefix);
    let n = this.numbers.get(id);
    if (n === undefined) {
      // Never past MAX_ROOT_NUMBERS: a contact names at most TREE_COUNT prefixes, and a table
      // holds fewer than MAX_ROOT_NUMBERS / TREE_COUNT contacts (DhtTable's constructor).
      n = this.free.pop() ?? this.prefixes.length;
      this.prefixes[n] = prefix.slice();
      this.uses[n] = 0;
      this.numbers.set(id, n);
    }
    this.uses[n]!++;
    return n;
  }

  /** One use of number `n` fewer; forgotten at none. */
  release(n: number): void {
    if (--this.uses[n]! > 0) return;
    this.numbers.delete(bytesKey(this.prefixes[n]!));
    this.prefixes[n] = null;
    this.free.push(n);
  }

  prefix(n: number): Uint8Array {
    return this.prefixes[n]!;
  }

  /** Bytes held: each prefix, its count of uses and its entry by value. */
  stateBytes(): number {
    return this.numbers.size * (ROOT_PREFIX_SIZE + 8 + 8);
  }
}

/** `locator` (whose bytes decode to it) as held, its roots taken in `roots`. */
export function holdLocator(locator: Locator, roots: RootPrefixes): string {
  const wire = locator.bytes;
  const n = wire[WIRE_HEADER - 1]!;
  const held = new Uint8Array(wire.length - 1 - n * (ROOT_PREFIX_SIZE - ROOT_NUMBER_SIZE));
  held.set(wire.subarray(1, WIRE_HEADER), 0);
  let from = WIRE_HEADER;
  let to = HELD_HEADER;
  for (let i = 0; i < n; i++) {
    const depth = wire[from + 1 + ROOT_PREFIX_SIZE]!;
    const root = roots.take(wire.subarray(from + 1, from + 1 + ROOT_PREFIX_SIZE));
    held[to] = wire[from]!;
    held[to + 1] = root >>> 8;
    held[to + 2] = root & 0xff;
    held[to + 3] = depth;
    held.set(wire.subarray(from + 2 + ROOT_PREFIX_SIZE, from + 2 + ROOT_PREFIX_SIZE + 2 * depth), to + 4);
    from += 2 + ROOT_PREFIX_SIZE + 2 * depth;
    to += 4 + 2 * depth;
  }
  held.set(wire.subarray(from), to);
  return bytesKey(held);
}

/** The locator `held` is, decoded anew from its wire bytes. */
export function heldLocator(heldChars: string, roots: RootPrefixes): Locator {
  const held = Buffer.from(heldChars, 'latin1');
  const n = held[HELD_HEADER - 1]!;
  const wire = new Uint8Array(held.length + 1 + n * (ROOT_PREFIX_SIZE - ROOT_NUMBER_SIZE));
  wire[0] = 1;
  wire.set(held.subarray(0, HELD_HEADER), 1);
  let from = HELD_HEADER;
  let to = WIRE_HEADER;
  for (let i = 0; i < n; i++) {
    const depth = held[from + 3]!;
    wire[to] = held[from]!;
    wire.set(roots.prefix((held[from + 1]! << 8) | held[from + 2]!), to + 1);
    wire[to + 1 + ROOT_PREFIX_SIZE] = depth;
    wire.set(held.subarray(from + 4, from + 4 + 2 * depth), to + 2 + ROOT_PREFIX_SIZE);
    from += 4 + 2 * depth;
    to += 2 + ROOT_PREFIX_SIZE + 2 * depth;
  }
  wire.set(held.subarray(from), to);
  // The bytes were a checked locator's: they decode (decodeLocator copies them; this array goes).
  return decodeLocator(wire, 0)!.locator;
}

/** Releases the roots `held` names. */
export function releaseLocator(held: string, roots: RootPrefixes): void {
  let at = HELD_HEADER;
  const n = held.charCodeAt(HELD_HEADER - 1);
  for (let i = 0; i < n; i++) {
    roots.release((held.charCodeAt(at + 1) << 8) | held.charCodeAt(at + 2));
    at += 4 + 2 * held.charCodeAt(at + 3);
  }
}

const sequenceBytes = Buffer.alloc(8);

/** The sequence of the locator `held` is. */
export function heldSequence(held: string): number {
  sequenceBytes.write(held.slice(KEY_SIZE, KEY_SIZE + 8), 0, 8, 'latin1');
  return readUint64BE(sequenceBytes, 0);
}
