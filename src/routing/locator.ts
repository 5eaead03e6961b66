// Locators: a node's signed statement of where it is, what the lookups find and pass on
// (docs/PROTOCOL.md §12, "Locators"). Big-endian:
//
//   offset  size
//        0     1  version = 1
//        1    32  key: the X25519 public key of the node (its fc address follows from it)
//       33     8  sequence: ms since the epoch when signed; a newer one replaces an older
//       41     1  n: trees listed, at most TREE_COUNT
//       42     …  n times: tree (1), root key prefix (8), depth d (1), d ports (2 each): the
//                 node's coordinates in that tree
//      end    64  XEdDSA signature by key of "rovy.net v1 locator" ‖ everything before
//
// Only the node itself can sign its locator, so no node can put another's address somewhere it
// is not; an old locator cannot replace a newer one. The root key prefix says which tree the
// coordinates are in: two locators' coordinates compare only under the same root.
import type { Coordinates } from './coordinates.js';
import { fcAddressBytes, isRovyAddress } from '../keys/address.js';
import { XEDDSA_SIGNATURE_SIZE, type XeddsaSigner } from '../keys/xeddsa.js';
import { bytesKey, readUint64BE, writeUint64BE } from '../util/bytes.js';
import { MAX_TREE_DEPTH, TREE_COUNT } from './constants.js';
import type { VerifiedSignatures } from './tree-proof.js';

const KEY_SIZE = 32;
export const ROOT_PREFIX_SIZE = 8;
const HEADER = 42;
const CONTEXT = new TextEncoder().encode('rovy.net v1 locator');
/** The largest locator: every tree at the deepest place. */
export const MAX_LOCATOR_SIZE = HEADER + TREE_COUNT * (1 + ROOT_PREFIX_SIZE + 1 + 2 * MAX_TREE_DEPTH) + XEDDSA_SIGNATURE_SIZE;

/** Whether two roots are the same by their first ROOT_PREFIX_SIZE bytes (a place names its root
 *  so; a full key or beacon may be given for either). */
export function sameRootPrefix(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < ROOT_PREFIX_SIZE; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A node's coordinates in one tree. */
export interface TreePlace {
  tree: number;
  /** The first ROOT_PREFIX_SIZE bytes of the tree's root key. */
  root: Uint8Array;
  coordinates: Coordinates;
}

export interface Locator {
  key: Uint8Array;
  sequence: number;
  places: TreePlace[];
  /** The signed bytes, as sent (key and roots are views into them). */
  bytes: Uint8Array;
}

export function signLocator(sign: XeddsaSigner, key: Uint8Array, sequence: number, places: TreePlace[]): Locator {
  let size = HEADER + XEDDSA_SIGNATURE_SIZE;
  for (const p of places) size += 1 + ROOT_PREFIX_SIZE + 1 + 2 * p.coordinates.length;
  const bytes = new Uint8Array(size);
  bytes[0] = 1;
  bytes.set(key, 1);
  writeUint64BE(bytes, 33, sequence);
  bytes[41] = places.length;
  let off = HEADER;
  for (const p of places) {
    bytes[off++] = p.tree;
    bytes.set(p.root.subarray(0, ROOT_PREFIX_SIZE), off);
    off += ROOT_PREFIX_SIZE;
    bytes[off++] = p.coordinates.length;
    for (let i = 0; i < p.coordinates.length; i++) {
      const port = p.coordinates[i]!;
      bytes[off++] = port >>> 8;
      bytes[off++] = port & 0xff;
    }
  }
  bytes.set(sign(signedPart(bytes, off)), off);
  const locator = decodeLocator(bytes, 0);
  if (!locator) throw new Error('signed a locator that does not decode');
  return locator.locator;
}

/** The locator at buf[off], copied, and its length; null if it does not parse. The signature is
 *  not checked here (verifyLocator). */
export function decodeLocator(buf: Uint8Array, off: number): { locator: Locator; length: number } | null {
  if (buf.length < off + HEADER || buf[off] !== 1) return null;
  const n = buf[off + 41]!;
  if (n > TREE_COUNT) return null;
  let at = off + HEADER;
  const spans: [number, number, number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (buf.length < at + 2 + ROOT_PREFIX_SIZE) return null;
    const tree = buf[at]!;
    const depth = buf[at + 1 + ROOT_PREFIX_SIZE]!;
    if (tree >= TREE_COUNT || depth > MAX_TREE_DEPTH || spans.some((s) => s[0] === tree)) return null;
    spans.push([tree, at + 1 - off, depth, at + 2 + ROOT_PREFIX_SIZE - off]);
    at += 2 + ROOT_PREFIX_SIZE + 2 * depth;
  }
  const length = at + XEDDSA_SIGNATURE_SIZE - off;
  if (buf.length < off + length) return null;
  const bytes = buf.slice(off, off + length);
  const places = spans.map(([tree, rootOff, depth, portsOff]) => {
    const coordinates = new Uint16Array(depth);
    for (let j = 0; j < depth; j++) coordinates[j] = (bytes[portsOff + 2 * j]! << 8) | bytes[portsOff + 2 * j + 1]!;
    return { tree, root: bytes.subarray(rootOff, rootOff + ROOT_PREFIX_SIZE), coordinates };
  });
  return { locator: { key: bytes.subarray(1, 1 + KEY_SIZE), sequence: readUint64BE(bytes, 33), places, bytes }, length };
}

/** The locator's signature checks out, and its key is a rovy key: a key whose address is not in
 *  fc00::/8 is no node's, and would cost 256 times less to grind near an address. */
export function verifyLocator(verified: VerifiedSignatures, locator: Locator): boolean {
  if (!isRovyAddress(addressOf(locator.key))) return false;
  const body = locator.bytes.length - XEDDSA_SIGNATURE_SIZE;
  return verified.verify(locator.key, signedPart(locator.bytes, body), locator.bytes.subarray(body));
}

function signedPart(bytes: Uint8Array, body: number): Uint8Array {
  const m = new Uint8Array(CONTEXT.length + body);
  m.set(CONTEXT, 0);
  m.set(bytes.subarray(0, body), CONTEXT.length);
  return m;
}

const ADDRESS_CACHE_SIZE = 16384;
const addresses = new Map<string, Uint8Array>();

/** The fc address of a key (two hashes), remembered: lookups meet the same keys again and again.
 *  The array is shared: do not modify it. */
export function addressOf(key: Uint8Array): Uint8Array {
  const id = bytesKey(key);
  let address = addresses.get(id);
  if (!address) {
    if (addresses.size >= ADDRESS_CACHE_SIZE) addresses.delete(addresses.keys().next().value!);
    addresses.set(id, (address = fcAddressBytes(key)));
  }
  return address;
}
