// Contact records: a node's signed "others may link to me at these addresses, until then", the
// unit of peer exchange (issue 14, 4). A node that accepts links publishes one; neighbours pass
// the records they hold on to each other, and a node's link keeper (node/link-keeper.ts) picks its
// candidates among them. Wire format, big-endian (docs/PROTOCOL.md §9):
//
//   offset  size
//        0     1  version = 1
//        1    32  key: the node's X25519 public key (a rovy key: its address is in fc00::/8)
//       33     8  expires: ms since the Unix epoch (< 2^53)
//       41     1  n: number of addresses, 1..MAX_CONTACT_ADDRESSES
//       42     …  n addresses, each: length L (1 byte, 1..MAX_ADDRESS_TEXT), then L bytes of
//                 multiaddr text without /rovy (UDP, TCP or TLS; no /ip6zone: link-local
//                 addresses mean nothing beyond one link)
//      end    64  XEdDSA signature by key of "rovy.net v1 contact" || every byte before it
//
// A record is exactly this long. Only its node can make one, and it says for how long it holds:
// a relayed record cannot be stretched past what its node signed, nor pointed elsewhere.
import { XEDDSA_SIGNATURE_SIZE, signTrailing, verifyTrailing } from '../keys/xeddsa.js';
import { isRovyKey } from '../keys/address.js';
import { formatMultiaddr, parseMultiaddr, type Multiaddr } from '../transport/multiaddr.js';
import { readUint64BE, writeUint64BE } from '../util/bytes.js';

export const CONTACT_VERSION = 1;
export const MAX_CONTACT_ADDRESSES = 4;
export const MAX_ADDRESS_TEXT = 200;
/** A node signs its record for at most this long ahead: a record outlives its node by no more. */
export const MAX_CONTACT_LIFETIME_MS = 2 * 60 * 60_000;
const KEY_SIZE = 32;
export const CONTACT_HEADER_SIZE = 42;
export const MAX_CONTACT_SIZE = CONTACT_HEADER_SIZE + MAX_CONTACT_ADDRESSES * (1 + MAX_ADDRESS_TEXT) + XEDDSA_SIGNATURE_SIZE;
const SIGNING_CONTEXT = new TextEncoder().encode('rovy.net v1 contact');

export interface Contact {
  publicKey: Uint8Array;
  expires: number;
  /** Where the node may be linked to, without /rovy (its key is publicKey). */
  addresses: Multiaddr[];
  /** The whole signed encoding, as received or made: passed on as it is. */
  bytes: Uint8Array;
}

/** Encodes and signs the record of `identity`, valid until `expires`. Throws a RangeError for
 *  what the format cannot carry. */
export function encodeContact(identity: { publicKey: Uint8Array; privateKey: Uint8Array }, expires: number, addresses: Multiaddr[]): Uint8Array {
  if (!Number.isSafeInteger(expires) || expires < 0) throw new RangeError(`bad contact expiry ${expires}`);
  if (addresses.length < 1 || addresses.length > MAX_CONTACT_ADDRESSES) throw new RangeError(`a contact has 1 to ${MAX_CONTACT_ADDRESSES} addresses`);
  const texts = addresses.map((a) => new TextEncoder().encode(formatMultiaddr({ ...a, peerId: undefined, publicKey: undefined })));
  for (const t of texts) if (t.length > MAX_ADDRESS_TEXT) throw new RangeError(`an address of a contact is at most ${MAX_ADDRESS_TEXT} bytes`);
  const body = CONTACT_HEADER_SIZE + texts.reduce((n, t) => n + 1 + t.length, 0);
  const bytes = new Uint8Array(body + XEDDSA_SIGNATURE_SIZE);
  bytes[0] = CONTACT_VERSION;
  bytes.set(identity.publicKey, 1);
  writeUint64BE(bytes, 33, expires);
  bytes[41] = texts.length;
  let off = CONTACT_HEADER_SIZE;
  for (const t of texts) {
    bytes[off] = t.length;
    bytes.set(t, off + 1);
    off += 1 + t.length;
  }
  signTrailing(identity.privateKey, SIGNING_CONTEXT, bytes, body);
  return bytes;
}

/** The expiry a record claims (unchecked: for comparing with a record held, not for trusting). */
export function contactExpiry(bytes: Uint8Array): number {
  return readUint64BE(bytes, 33);
}

/**
 * A record, checked whole: null, never an exception, unless it is well-formed (version, sizes,
 * addresses that parse as multiaddrs without /rovy or /ip6zone), of a rovy key, unexpired at
 * `now` and expiring within MAX_CONTACT_LIFETIME_MS of it, and signed by its key. The signature
 * is checked last, so a malformed or stale record costs no verification.
 */
export function decodeContact(buf: Uint8Array, now: number): Contact | null {
  if (buf.length < CONTACT_HEADER_SIZE + 2 + XEDDSA_SIGNATURE_SIZE || buf.length > MAX_CONTACT_SIZE || buf[0] !== CONTACT_VERSION) return null;
  const bytes = buf.slice();
  if (bytes[33] !== 0 || bytes[34]! >= 0x20) return null; // an expiry of 2^53 or more
  const expires = contactExpiry(bytes);
  if (expires <= now || expires > now + MAX_CONTACT_LIFETIME_MS) return null;
  const publicKey = bytes.subarray(1, 1 + KEY_SIZE);
  if (!isRovyKey(publicKey)) return null;
  const n = bytes[41]!;
  if (n < 1 || n > MAX_CONTACT_ADDRESSES) return null;
  const addresses: Multiaddr[] = [];
  let off = CONTACT_HEADER_SIZE;
  const end = bytes.length - XEDDSA_SIGNATURE_SIZE;
  for (let i = 0; i < n; i++) {
    const len = bytes[off];
    if (len === undefined || len < 1 || len > MAX_ADDRESS_TEXT || off + 1 + len > end) return null;
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(off + 1, off + 1 + len));
    let address: Multiaddr;
    try {
      address = parseMultiaddr(text, { peer: 'forbidden' });
    } catch {
      return null;
    }
    if (address.zone !== undefined) return null;
    addresses.push(address);
    off += 1 + len;
  }
  if (off !== end || !verifyTrailing(publicKey, SIGNING_CONTEXT, bytes)) return null;
  return { publicKey, expires, addresses, bytes };
}
