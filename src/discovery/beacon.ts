// Discovery beacons: a node's signed "I am here, reach me at these UDP endpoints", sent to the
// link-local multicast group DISCOVERY_GROUP, port DISCOVERY_PORT, on each interface it uses. Wire
// format, big-endian (docs/PROTOCOL.md, "LAN discovery"):
//
//   offset  size
//        0     1  type = 0x10 (discovery beacon)
//        1     1  version = 1
//        2     2  reserved, zero (a beacon with either byte non-zero is refused)
//        4    32  key: the sender's X25519 public key
//       36     8  timestamp: ms since the Unix epoch, strictly increasing per sender (< 2^53)
//       44     1  n: number of endpoints, 1..16
//       45     …  n endpoints, each: family (1 byte: 4 or 6), address (4 bytes for family 4,
//                 16 for family 6), UDP port (2 bytes, non-zero)
//      end    64  XEdDSA signature by key of  "rovy.net v1 discovery" || every byte before it
//
// The datagram is exactly this long: a trailing byte makes it malformed. A beacon lists the
// sender's data-plane endpoints on the interface it is sent on, and must list the link-local
// address it is sent from: receivers refuse a beacon whose source address it does not list.
import { XEDDSA_SIGNATURE_SIZE, signTrailing, verifyTrailing } from '../keys/xeddsa.js';
import { equalBytes } from '../util/bytes.js';
import { MAX_ENDPOINTS } from './constants.js';

/** One UDP endpoint of a beacon. */
export interface BeaconEndpoint {
  family: 4 | 6;
  /** 4 bytes for family 4, 16 for family 6. */
  address: Uint8Array;
  /** 1..65535. */
  port: number;
}

/**
 * One decoded beacon. `publicKey` and every endpoint `address` are views into `bytes`, a copy
 * owned by the beacon: keep them, but do not modify them.
 */
export interface Beacon {
  publicKey: Uint8Array;
  timestamp: number;
  endpoints: BeaconEndpoint[];
  /** The whole signed encoding. */
  bytes: Uint8Array;
}

const BEACON_TYPE = 0x10;
const BEACON_VERSION = 1;

const KEY_SIZE = 32;
const HEADER_SIZE = 45;
/** Bytes of a beacon with one IPv4 endpoint, the shortest. */
const BEACON_MIN_SIZE = HEADER_SIZE + 7 + XEDDSA_SIGNATURE_SIZE;
/** Bytes of a beacon with MAX_ENDPOINTS IPv6 endpoints, the longest. */
const BEACON_MAX_SIZE = HEADER_SIZE + MAX_ENDPOINTS * 19 + XEDDSA_SIGNATURE_SIZE;

/** Signed before the beacon's bytes, so no signature made for another purpose by the same key
 *  (an announcement, say) can pass for a beacon. */
const SIGNING_CONTEXT = new TextEncoder().encode('rovy.net v1 discovery');

const addressSize = (family: number): number => (family === 4 ? 4 : 16);

/**
 * Encodes and signs a beacon of `identity` at `timestampMs` listing `endpoints` in the order given.
 * Throws a RangeError for what the format cannot carry: a timestamp that is not a safe
 * non-negative integer, no endpoint or more than MAX_ENDPOINTS, a family other than 4 or 6, an
 * address of the wrong length, a port outside 1..65535.
 */
export function encodeBeacon(
  identity: { publicKey: Uint8Array; privateKey: Uint8Array },
  timestampMs: number,
  endpoints: BeaconEndpoint[],
): Uint8Array {
  if (identity.publicKey.length !== KEY_SIZE) throw new RangeError(`a beacon key must be ${KEY_SIZE} bytes`);
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
    throw new RangeError(`bad beacon timestamp ${timestampMs}`);
  }
  if (endpoints.length < 1 || endpoints.length > MAX_ENDPOINTS) {
    throw new RangeError(`a beacon has 1 to ${MAX_ENDPOINTS} endpoints, not ${endpoints.length}`);
  }
  let body = HEADER_SIZE;
  for (const ep of endpoints) {
    if (ep.family !== 4 && ep.family !== 6) throw new RangeError(`bad endpoint family ${ep.family}`);
    if (ep.address.length !== addressSize(ep.family)) {
      throw new RangeError(`an IPv${ep.family} endpoint address is ${addressSize(ep.family)} bytes`);
    }
    if (!Number.isInteger(ep.port) || ep.port < 1 || ep.port > 0xffff) {
      throw new RangeError(`bad endpoint port ${ep.port}`);
    }
    body += 1 + ep.address.length + 2;
  }

  const bytes = new Uint8Array(body + XEDDSA_SIGNATURE_SIZE);
  bytes[0] = BEACON_TYPE;
  bytes[1] = BEACON_VERSION;
  bytes.set(identity.publicKey, 4);
  const view = new DataView(bytes.buffer);
  // 64-bit timestamp as two 32-bit halves (a safe integer is below 2^53).
  view.setUint32(36, Math.floor(timestampMs / 2 ** 32));
  view.setUint32(40, timestampMs >>> 0);
  bytes[44] = endpoints.length;
  let off = HEADER_SIZE;
  for (const ep of endpoints) {
    bytes[off] = ep.family;
    bytes.set(ep.address, off + 1);
    off += 1 + ep.address.length;
    view.setUint16(off, ep.port);
    off += 2;
  }
  signTrailing(identity.privateKey, SIGNING_CONTEXT, bytes, body);
  return bytes;
}

/**
 * Parses a beacon datagram without checking its signature. Null, never an exception, if it is
 * malformed: another type or version, a reserved byte set, a timestamp of 2^53 or more, no
 * endpoint or more than MAX_ENDPOINTS, a family other than 4 or 6, port 0, or a length other than
 * exactly what its endpoints make (truncated or trailing bytes).
 */
export function decodeBeacon(buf: Uint8Array): Beacon | null {
  if (!(buf instanceof Uint8Array) || buf.length < BEACON_MIN_SIZE || buf.length > BEACON_MAX_SIZE) return null;
  if (buf[0] !== BEACON_TYPE || buf[1] !== BEACON_VERSION || buf[2] !== 0 || buf[3] !== 0) return null;
  const bytes = buf.slice();
  const view = new DataView(bytes.buffer);
  // Timestamps are kept as Numbers: one of 2^53 or more (285,000 years of milliseconds) would not
  // be exact, so it is refused rather than rounded.
  const hi = view.getUint32(36);
  if (hi >= 2 ** 21) return null;
  const n = bytes[44]!;
  if (n < 1 || n > MAX_ENDPOINTS) return null;
  const endpoints: BeaconEndpoint[] = new Array(n);
  let off = HEADER_SIZE;
  for (let i = 0; i < n; i++) {
    const family = bytes[off];
    if (family !== 4 && family !== 6) return null;
    const end = off + 1 + addressSize(family) + 2;
    if (end > bytes.length - XEDDSA_SIGNATURE_SIZE) return null;
    const port = view.getUint16(end - 2);
    if (port === 0) return null;
    endpoints[i] = { family, address: bytes.subarray(off + 1, end - 2), port };
    off = end;
  }
  if (off + XEDDSA_SIGNATURE_SIZE !== bytes.length) return null;
  return {
    publicKey: bytes.subarray(4, 4 + KEY_SIZE),
    timestamp: hi * 2 ** 32 + view.getUint32(40),
    endpoints,
    bytes,
  };
}

/** True if `b.bytes` carries a valid signature by the key in it, and `b.publicKey` is that key. */
export function verifyBeacon(b: Beacon): boolean {
  const key = b.bytes.subarray(4, 4 + KEY_SIZE);
  return b.bytes.length >= HEADER_SIZE + XEDDSA_SIGNATURE_SIZE && equalBytes(b.publicKey, key) && verifyTrailing(key, SIGNING_CONTEXT, b.bytes);
}
