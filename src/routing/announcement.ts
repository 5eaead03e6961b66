// Routing announcements: a node's signed list of its links, flooded to every node (the link-state
// database's records). Wire format, big-endian (docs/PROTOCOL.md, "Routing announcements"):
//
//   offset  size
//        0     1  version = 1
//        1    32  origin: the X25519 public key of the announcing node
//       33     8  sequence: ms since the epoch at origination, strictly increasing per origin
//       41     2  mtu: the origin's TUN MTU
//       43     1  part (0-based)            44  1  parts (>= 1)
//       45     2  n: links in this part, at most LINKS_PER_PART
//       47  20·n  per link: 16 neighbour fc address, 2 interface index (1..65535), 2 cost (>= 1)
//   47+20n    64  XEdDSA signature by origin of  "rovy.net v1 announcement" || bytes 0 .. 47+20n
//
// Links beyond LINKS_PER_PART go into further parts of the same sequence, so that an announcement
// is at most 1111 bytes and fits in any hop's MTU (IPv6 guarantees 1280).
import { XEDDSA_SIGNATURE_SIZE, signTrailing, verifyTrailing } from '../keys/xeddsa.js';
import { equalBytes } from '../util/bytes.js';
import { IPV6_MIN_MTU } from '../util/protocol.js';

/** One link of the origin: a neighbour, the origin's interface index for it, and its cost. */
export interface Link {
  /** The neighbour's 16-byte fc00::/8 address. */
  address: Uint8Array;
  /** The origin's interface index for this neighbour, 1..65535: the label slot that leads there. */
  index: number;
  /** Cost of the link, 1..65535; routes minimise the sum. */
  cost: number;
}

/**
 * One decoded (or freshly signed) announcement. `origin` and every link `address` are views into
 * `bytes`, which is a copy owned by the announcement: keep them, but do not modify them.
 */
export interface Announcement {
  origin: Uint8Array;
  sequence: number;
  mtu: number;
  part: number;
  parts: number;
  links: Link[];
  /** The whole signed encoding, to store and re-flood unchanged. */
  bytes: Uint8Array;
}

export const ANNOUNCEMENT_VERSION = 1;
/** Links per announcement part: 47 + 50·20 + 64 = 1111 bytes, under the IPv6 minimum MTU. */
export const LINKS_PER_PART = 50;
/** Parts per origination: the part fields are one byte each. */
export const MAX_PARTS = 255;

const KEY_SIZE = 32;
const ADDRESS_SIZE = 16;
const HEADER_SIZE = 47;
const LINK_SIZE = ADDRESS_SIZE + 2 + 2;
/** Bytes of an announcement with no links, the shortest. */
export const ANNOUNCEMENT_MIN_SIZE = HEADER_SIZE + XEDDSA_SIGNATURE_SIZE;
/** Bytes of an announcement with LINKS_PER_PART links, the longest. */
export const ANNOUNCEMENT_MAX_SIZE = HEADER_SIZE + LINKS_PER_PART * LINK_SIZE + XEDDSA_SIGNATURE_SIZE;

/** Signed before the announcement's bytes, so no signature made for another purpose by the same
 *  key can pass for an announcement. */
const SIGNING_CONTEXT = new TextEncoder().encode('rovy.net v1 announcement');

/** Bytes of the encoding of an announcement with `links` links. */
export function announcementSize(links: number): number {
  return HEADER_SIZE + links * LINK_SIZE + XEDDSA_SIGNATURE_SIZE;
}

function u16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

function putU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 8;
  buf[off + 1] = v & 0xff;
}

function isU16(v: number, min: number): boolean {
  return Number.isInteger(v) && v >= min && v <= 0xffff;
}

/**
 * Encodes and signs the origination `sequence` of `identity`'s links: one announcement per
 * LINKS_PER_PART links, in the order given, and one with no links when there are none. Throws a
 * RangeError for values the format cannot carry (a sequence that is not a safe non-negative
 * integer, an mtu, index or cost outside its range, an address not 16 bytes, more than
 * MAX_PARTS · LINKS_PER_PART links).
 */
export function signAnnouncements(
  identity: { publicKey: Uint8Array; privateKey: Uint8Array },
  sequence: number,
  mtu: number,
  links: Link[],
): Announcement[] {
  if (identity.publicKey.length !== KEY_SIZE) throw new RangeError(`origin key must be ${KEY_SIZE} bytes`);
  if (!Number.isSafeInteger(sequence) || sequence < 0) throw new RangeError(`bad announcement sequence ${sequence}`);
  if (!isU16(mtu, 0)) throw new RangeError(`bad announcement mtu ${mtu}`);
  const parts = Math.max(1, Math.ceil(links.length / LINKS_PER_PART));
  if (parts > MAX_PARTS) throw new RangeError(`${links.length} links need more than ${MAX_PARTS} parts`);
  for (const link of links) {
    if (link.address.length !== ADDRESS_SIZE) throw new RangeError(`a link address is ${ADDRESS_SIZE} bytes`);
    if (!isU16(link.index, 1)) throw new RangeError(`bad link interface index ${link.index}`);
    if (!isU16(link.cost, 1)) throw new RangeError(`bad link cost ${link.cost}`);
  }

  const out: Announcement[] = [];
  for (let part = 0; part < parts; part++) {
    const chunk = links.slice(part * LINKS_PER_PART, (part + 1) * LINKS_PER_PART);
    const body = HEADER_SIZE + chunk.length * LINK_SIZE;
    const bytes = new Uint8Array(body + XEDDSA_SIGNATURE_SIZE);
    bytes[0] = ANNOUNCEMENT_VERSION;
    bytes.set(identity.publicKey, 1);
    // 64-bit sequence as two 32-bit halves (a safe integer is below 2^53).
    const hi = Math.floor(sequence / 2 ** 32);
    const lo = sequence >>> 0;
    bytes[33] = hi >>> 24;
    bytes[34] = (hi >>> 16) & 0xff;
    bytes[35] = (hi >>> 8) & 0xff;
    bytes[36] = hi & 0xff;
    bytes[37] = lo >>> 24;
    bytes[38] = (lo >>> 16) & 0xff;
    bytes[39] = (lo >>> 8) & 0xff;
    bytes[40] = lo & 0xff;
    putU16(bytes, 41, mtu);
    bytes[43] = part;
    bytes[44] = parts;
    putU16(bytes, 45, chunk.length);
    let off = HEADER_SIZE;
    for (const link of chunk) {
      bytes.set(link.address, off);
      putU16(bytes, off + 16, link.index);
      putU16(bytes, off + 18, link.cost);
      off += LINK_SIZE;
    }
    signTrailing(identity.privateKey, SIGNING_CONTEXT, bytes, body);
    // The announcement is what any receiver would decode from these bytes.
    out.push(decodeAnnouncement(bytes, 0)!.announcement);
  }
  return out;
}

/**
 * Parses one announcement at buf[off...] without checking its signature. Returns it (over a copy
 * of its bytes) and its length in `buf`, or null if it is malformed: too short for its link
 * count, a version other than 1, parts = 0, part >= parts, more than LINKS_PER_PART links, an
 * interface index or cost of 0, an MTU below IPv6's 1280 (it would shrink every route through
 * the origin below what IPv6 allows), or a sequence of 2^53 or more. Never throws.
 */

export function decodeAnnouncement(buf: Uint8Array, off: number): { announcement: Announcement; length: number } | null {
  if (!(buf instanceof Uint8Array) || !Number.isInteger(off) || off < 0) return null;
  const avail = buf.length - off;
  if (avail < ANNOUNCEMENT_MIN_SIZE) return null;
  if (buf[off] !== ANNOUNCEMENT_VERSION) return null;
  const part = buf[off + 43]!;
  const parts = buf[off + 44]!;
  const n = u16(buf, off + 45);
  if (parts === 0 || part >= parts || n > LINKS_PER_PART) return null;
  const length = announcementSize(n);
  if (avail < length) return null;
  // Sequences are kept as Numbers: one of 2^53 or more (285,000 years of milliseconds) would not
  // be exact, so it is refused rather than rounded.
  const hi = ((buf[off + 33]! << 24) | (buf[off + 34]! << 16) | (buf[off + 35]! << 8) | buf[off + 36]!) >>> 0;
  if (hi >= 2 ** 21) return null;
  const lo = ((buf[off + 37]! << 24) | (buf[off + 38]! << 16) | (buf[off + 39]! << 8) | buf[off + 40]!) >>> 0;

  if (u16(buf, off + 41) < IPV6_MIN_MTU) return null;

  const bytes = buf.slice(off, off + length);
  const links: Link[] = new Array(n);
  for (let i = 0, p = HEADER_SIZE; i < n; i++, p += LINK_SIZE) {
    const index = u16(bytes, p + 16);
    const cost = u16(bytes, p + 18);
    if (index === 0 || cost === 0) return null;
    links[i] = { address: bytes.subarray(p, p + ADDRESS_SIZE), index, cost };
  }
  return {
    announcement: {
      origin: bytes.subarray(1, 1 + KEY_SIZE),
      sequence: hi * 2 ** 32 + lo,
      mtu: u16(bytes, 41),
      part,
      parts,
      links,
      bytes,
    },
    length,
  };
}

/** True if `a.bytes` carries a valid signature by its origin, and `a.origin` is that origin. */
export function verifyAnnouncement(a: Announcement): boolean {
  const origin = a.bytes.subarray(1, 1 + KEY_SIZE);
  return a.bytes.length >= ANNOUNCEMENT_MIN_SIZE && equalBytes(a.origin, origin) && verifyTrailing(origin, SIGNING_CONTEXT, a.bytes);
}
