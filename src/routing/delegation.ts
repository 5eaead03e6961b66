// Prefix delegations (issue 15): "key K may originate prefix P until T", signed by the key of
// whoever holds P. A node announcing a routed prefix carries the delegation in its announcement;
// every node that trusts the holder for P (its config's [prefixes] trust) accepts the claim
// without having to list K itself. Wire format, big-endian (docs/PROTOCOL.md, "Routed prefixes"):
//
//   offset  size
//        0     1  version = 1
//        1    32  holder: the X25519 public key that signs (any X25519 key, not a node's)
//       33    32  delegate: the X25519 public key of the node that may originate the prefix
//       65     1  family: 4 or 6
//       66     1  prefix length (0–32 or 0–128)
//       67    16  network address (IPv4 in the first 4 bytes, the rest zero; host bits zero)
//       83     8  expires: ms since the Unix epoch (< 2^53)
//       91    64  XEdDSA signature by holder of "rovy.net v1 delegation" || bytes 0 .. 91
//
// 155 bytes, always. The holder's private key never needs to be on a node: a delegation is made
// once (rovy prefix delegate) and handed to the delegate's operator as text (base64).
import { XEDDSA_SIGNATURE_SIZE, signTrailing, verifyTrailing } from '../keys/xeddsa.js';
import type { Prefix } from '../fcnet/prefix.js';
import { readUint64BE, writeUint64BE } from '../util/bytes.js';

export const DELEGATION_VERSION = 1;
export const DELEGATION_SIZE = 91 + XEDDSA_SIGNATURE_SIZE;
const SIGNING_CONTEXT = new TextEncoder().encode('rovy.net v1 delegation');

export interface Delegation {
  holder: Uint8Array;
  delegate: Uint8Array;
  prefix: Prefix;
  expires: number;
  /** The signed encoding, carried as it is. */
  bytes: Uint8Array;
}

/** Signs a delegation of `prefix` to `delegate` by `holder`, valid until `expires`. */
export function signDelegation(holder: { publicKey: Uint8Array; privateKey: Uint8Array }, delegate: Uint8Array, prefix: Prefix, expires: number): Uint8Array {
  if (delegate.length !== 32) throw new RangeError('a delegate key is 32 bytes');
  if (!Number.isSafeInteger(expires) || expires < 0) throw new RangeError(`bad delegation expiry ${expires}`);
  const bytes = new Uint8Array(DELEGATION_SIZE);
  bytes[0] = DELEGATION_VERSION;
  bytes.set(holder.publicKey, 1);
  bytes.set(delegate, 33);
  bytes[65] = prefix.family;
  bytes[66] = prefix.length;
  bytes.set(prefix.address, 67);
  writeUint64BE(bytes, 83, expires);
  signTrailing(holder.privateKey, SIGNING_CONTEXT, bytes, 91);
  return bytes;
}

/**
 * A delegation, checked whole: null, never an exception, unless it is well-formed (size, version,
 * family, length, zero host bits) and signed by its holder. Whether it has expired, and whether
 * its holder is trusted for its prefix, is for the caller (prefix-policy.ts) to judge.
 */
export function decodeDelegation(buf: Uint8Array): Delegation | null {
  if (buf.length !== DELEGATION_SIZE || buf[0] !== DELEGATION_VERSION) return null;
  const bytes = buf.slice();
  const family = bytes[65];
  const length = bytes[66]!;
  if (family !== 4 && family !== 6) return null;
  const size = family === 6 ? 16 : 4;
  if (length > size * 8) return null;
  for (let i = 67 + size; i < 83; i++) if (bytes[i] !== 0) return null;
  const address = bytes.slice(67, 67 + size);
  for (let bit = length; bit < size * 8; bit++) if ((address[bit >> 3]! >> (7 - (bit & 7))) & 1) return null;
  if (bytes[83] !== 0 || bytes[84]! >= 0x20) return null; // an expiry of 2^53 or more
  const holder = bytes.subarray(1, 33);
  if (!verifyTrailing(holder, SIGNING_CONTEXT, bytes)) return null;
  return { holder, delegate: bytes.subarray(33, 65), prefix: { family, address, length }, expires: readUint64BE(bytes, 83), bytes };
}
