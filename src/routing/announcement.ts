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
//
// Version 2 (issue 15) is version 1 with the routed prefixes the origin claims after its links
// (a node that claims none keeps sending version 1, byte for byte):
//
//   47+20n     1  m: prefixes in this part
//      …       …  m times: family (4 or 6), length, the network's first ceil(length/8) bytes (its
//                 bits past length zero), dlen (0 or 155), then dlen bytes of delegation
//                 (delegation.ts) vouching for the claim
//      end    64  the signature, over everything before it, as in version 1
//
// Prefixes fill each part after its links up to ANNOUNCEMENT_PART_MAX bytes, then further parts.
import { XEDDSA_SIGNATURE_SIZE, signTrailing, verifyTrailing } from '../keys/xeddsa.js';
import { equalBytes, readUint64BE, writeUint64BE } from '../util/bytes.js';
import { IPV6_MIN_MTU } from '../util/protocol.js';
import type { Prefix } from '../fcnet/prefix.js';
import { DELEGATION_SIZE } from './delegation.js';

/** One link of the origin: a neighbour, the origin's interface index for it, and its cost. */
export interface Link {
  /** The neighbour's 16-byte fc00::/8 address. */
  address: Uint8Array;
  /** The origin's interface index for this neighbour, 1..65535: the label slot that leads there. */
  index: number;
  /** Cost of the link, 1..65535; routes minimise the sum. */
  cost: number;
}

/** A routed prefix the origin claims, with the delegation that vouches for it (or none: then
 *  only a node that grants it the prefix accepts the claim). */
export interface AnnouncedPrefix {
  prefix: Prefix;
  delegation: Uint8Array | null;
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
  /** The routed prefixes claimed in this part (none in version 1). */
  prefixes: AnnouncedPrefix[];
  /** The whole signed encoding, to store and re-flood unchanged. */
  bytes: Uint8Array;
}

export const ANNOUNCEMENT_VERSION = 1;
/** The version that carries routed prefixes. */
export const ANNOUNCEMENT_VERSION_PREFIXES = 2;
/** The largest part of version 2: a frame of one announcement fits in IPv6's minimum MTU. */
export const ANNOUNCEMENT_PART_MAX = IPV6_MIN_MTU - 2;
/** Prefixes per part: the count is one byte. */
const PREFIXES_PER_PART = 255;
/** Links per announcement part: 47 + 50·20 + 64 = 1111 bytes, under the IPv6 minimum MTU. */
export const LINKS_PER_PART = 50;
/** Parts per origination: the part fields are one byte each. */
export const MAX_PARTS = 255;

const KEY_SIZE = 32;
const ADDRESS_SIZE = 16;
const HEADER_SIZE = 47;
const LINK_SIZE = ADDRESS_SIZE + 2 + 2;
/** Where a part's link count (2 bytes) and its first link are, and a link's size (the format
 *  above): enough to read a held copy's links without decoding it (lsdb.ts). */
export const ANNOUNCEMENT_LINK_COUNT_AT = 45;
export const ANNOUNCEMENT_LINKS_AT = HEADER_SIZE;
export const ANNOUNCEMENT_LINK_SIZE = LINK_SIZE;
/** Bytes of an announcement with no links, the shortest. */
export const ANNOUNCEMENT_MIN_SIZE = HEADER_SIZE + XEDDSA_SIGNATURE_SIZE;
/** Bytes of a version 1 announcement with LINKS_PER_PART links, the longest of that version. */
export const ANNOUNCEMENT_MAX_SIZE = HEADER_SIZE + LINKS_PER_PART * LINK_SIZE + XEDDSA_SIGNATURE_SIZE;

/** Signed before the announcement's bytes, so no signature made for another purpose by the same
 *  key can pass for an announcement. */
const SIGNING_CONTEXT = new TextEncoder().encode('rovy.net v1 announcement');

/** Bytes of one prefix entry of version 2. */
function prefixEntrySize(p: AnnouncedPrefix): number {
  return 3 + Math.ceil(p.prefix.length / 8) + (p.delegation ? DELEGATION_SIZE : 0);
}

/** Bytes of the encoding of a version 1 announcement with `links` links. */
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
 * Encodes and signs the origination `sequence` of `identity`'s links and routed prefixes: version
 * 1 (one announcement per LINKS_PER_PART links, in the order given, and one with no links when
 * there are none) when it claims no prefix, else version 2 (each part its links, then as many
 * prefixes as fit in ANNOUNCEMENT_PART_MAX bytes). Throws a RangeError for values the format
 * cannot carry (a sequence that is not a safe non-negative integer, an mtu, index or cost outside
 * its range, an address not 16 bytes, a delegation not DELEGATION_SIZE bytes, more than
 * MAX_PARTS parts).
 */
export function signAnnouncements(
  identity: { publicKey: Uint8Array; privateKey: Uint8Array },
  sequence: number,
  mtu: number,
  links: Link[],
  prefixes: readonly AnnouncedPrefix[] = [],
): Announcement[] {
  if (identity.publicKey.length !== KEY_SIZE) throw new RangeError(`origin key must be ${KEY_SIZE} bytes`);
  if (!Number.isSafeInteger(sequence) || sequence < 0) throw new RangeError(`bad announcement sequence ${sequence}`);
  if (!isU16(mtu, 0)) throw new RangeError(`bad announcement mtu ${mtu}`);
  for (const link of links) {
    if (link.address.length !== ADDRESS_SIZE) throw new RangeError(`a link address is ${ADDRESS_SIZE} bytes`);
    if (!isU16(link.index, 1)) throw new RangeError(`bad link interface index ${link.index}`);
    if (!isU16(link.cost, 1)) throw new RangeError(`bad link cost ${link.cost}`);
  }
  for (const p of prefixes) {
    if (p.delegation && p.delegation.length !== DELEGATION_SIZE) throw new RangeError(`a delegation is ${DELEGATION_SIZE} bytes`);
    if (p.prefix.address.length !== (p.prefix.family === 6 ? 16 : 4)) throw new RangeError('a prefix address is 4 or 16 bytes');
  }
  const version = prefixes.length > 0 ? ANNOUNCEMENT_VERSION_PREFIXES : ANNOUNCEMENT_VERSION;
  // Which links and prefixes go into each part.
  const plan: { links: Link[]; prefixes: AnnouncedPrefix[] }[] = [];
  let l = 0;
  let q = 0;
  do {
    const chunk = links.slice(l, l + LINKS_PER_PART);
    l += chunk.length;
    const claimed: AnnouncedPrefix[] = [];
    let size = HEADER_SIZE + chunk.length * LINK_SIZE + 1 + XEDDSA_SIGNATURE_SIZE;
    while (version === ANNOUNCEMENT_VERSION_PREFIXES && q < prefixes.length && claimed.length < PREFIXES_PER_PART && size + prefixEntrySize(prefixes[q]!) <= ANNOUNCEMENT_PART_MAX) {
      size += prefixEntrySize(prefixes[q]!);
      claimed.push(prefixes[q++]!);
    }
    plan.push({ links: chunk, prefixes: claimed });
  } while (l < links.length || q < prefixes.length);
  if (plan.length > MAX_PARTS) throw new RangeError(`${links.length} links and ${prefixes.length} prefixes need more than ${MAX_PARTS} parts`);

  return plan.map(({ links: chunk, prefixes: claimed }, part) => {
    const tail = version === ANNOUNCEMENT_VERSION ? 0 : 1 + claimed.reduce((n, p) => n + prefixEntrySize(p), 0);
    const body = HEADER_SIZE + chunk.length * LINK_SIZE + tail;
    const bytes = new Uint8Array(body + XEDDSA_SIGNATURE_SIZE);
    bytes[0] = version;
    bytes.set(identity.publicKey, 1);
    writeUint64BE(bytes, 33, sequence);
    putU16(bytes, 41, mtu);
    bytes[43] = part;
    bytes[44] = plan.length;
    putU16(bytes, 45, chunk.length);
    let off = HEADER_SIZE;
    for (const link of chunk) {
      bytes.set(link.address, off);
      putU16(bytes, off + 16, link.index);
      putU16(bytes, off + 18, link.cost);
      off += LINK_SIZE;
    }
    if (version === ANNOUNCEMENT_VERSION_PREFIXES) {
      bytes[off++] = claimed.length;
      for (const { prefix, delegation } of claimed) {
        bytes[off] = prefix.family;
        bytes[off + 1] = prefix.length;
        const n = Math.ceil(prefix.length / 8);
        bytes.set(prefix.address.subarray(0, n), off + 2);
        off += 2 + n;
        bytes[off++] = delegation ? DELEGATION_SIZE : 0;
        if (delegation) {
          bytes.set(delegation, off);
          off += DELEGATION_SIZE;
        }
      }
    }
    signTrailing(identity.privateKey, SIGNING_CONTEXT, bytes, body);
    // The announcement is what any receiver would decode from these bytes.
    return decodeAnnouncement(bytes, 0)!.announcement;
  });
}

/**
 * The length of the announcement at buf[off], or -1 if it cannot be delimited: a version other
 * than 1 or 2, parts = 0, part >= parts, more than LINKS_PER_PART links, a sequence of 2^53 or
 * more, a prefix entry that runs past the end or names no family, or a version 2 part longer than
 * ANNOUNCEMENT_PART_MAX. Enough checking to skip a stale announcement safely (the router does);
 * decodeAnnouncement checks the rest. Never throws.
 */
export function announcementLength(buf: Uint8Array, off: number): number {
  const avail = buf.length - off;
  if (avail < ANNOUNCEMENT_MIN_SIZE) return -1;
  const version = buf[off];
  if (version !== ANNOUNCEMENT_VERSION && version !== ANNOUNCEMENT_VERSION_PREFIXES) return -1;
  const n = u16(buf, off + 45);
  const parts = buf[off + 44]!;
  if (n > LINKS_PER_PART || parts === 0 || buf[off + 43]! >= parts) return -1;
  if (buf[off + 33] !== 0 || buf[off + 34]! >= 0x20) return -1; // a sequence of 2^53 or more
  let p = off + HEADER_SIZE + n * LINK_SIZE;
  if (version === ANNOUNCEMENT_VERSION_PREFIXES) {
    if (p >= buf.length) return -1;
    const m = buf[p++]!;
    for (let i = 0; i < m; i++) {
      if (p + 2 > buf.length) return -1;
      const family = buf[p];
      const length = buf[p + 1]!;
      if ((family !== 4 && family !== 6) || length > (family === 6 ? 128 : 32)) return -1;
      p += 2 + Math.ceil(length / 8);
      if (p >= buf.length) return -1;
      const dlen = buf[p++]!;
      if (dlen !== 0 && dlen !== DELEGATION_SIZE) return -1;
      p += dlen;
    }
  }
  const length = p + XEDDSA_SIGNATURE_SIZE - off;
  if (version === ANNOUNCEMENT_VERSION_PREFIXES && length > ANNOUNCEMENT_PART_MAX) return -1;
  return avail < length ? -1 : length;
}

/**
 * Parses one announcement at buf[off...] without checking its signature. Returns it (over a copy
 * of its bytes) and its length in `buf`, or null if it is malformed: one announcementLength
 * cannot delimit, an interface index or cost of 0, an MTU below IPv6's 1280 (it would shrink
 * every route through the origin below what IPv6 allows), or a prefix with bits set past its
 * length. Never throws.
 */
export function decodeAnnouncement(buf: Uint8Array, off: number): { announcement: Announcement; length: number } | null {
  if (!(buf instanceof Uint8Array) || !Number.isInteger(off) || off < 0) return null;
  const length = announcementLength(buf, off);
  if (length < 0) return null;
  if (u16(buf, off + 41) < IPV6_MIN_MTU) return null;
  const bytes = buf.slice(off, off + length);
  const n = u16(bytes, 45);
  const links: Link[] = new Array(n);
  let p = HEADER_SIZE;
  for (let i = 0; i < n; i++, p += LINK_SIZE) {
    const index = u16(bytes, p + 16);
    const cost = u16(bytes, p + 18);
    if (index === 0 || cost === 0) return null;
    links[i] = { address: bytes.subarray(p, p + ADDRESS_SIZE), index, cost };
  }
  const prefixes: AnnouncedPrefix[] = [];
  if (bytes[0] === ANNOUNCEMENT_VERSION_PREFIXES) {
    const m = bytes[p++]!;
    for (let i = 0; i < m; i++) {
      const family = bytes[p] as 4 | 6;
      const prefixLength = bytes[p + 1]!;
      const size = Math.ceil(prefixLength / 8);
      const address = new Uint8Array(family === 6 ? 16 : 4);
      address.set(bytes.subarray(p + 2, p + 2 + size));
      // Bits past the length must be zero: one prefix, one encoding.
      if (prefixLength & 7 && address[size - 1]! & (0xff >> (prefixLength & 7))) return null;
      p += 2 + size;
      const dlen = bytes[p++]!;
      prefixes.push({ prefix: { family, address, length: prefixLength }, delegation: dlen ? bytes.subarray(p, p + dlen) : null });
      p += dlen;
    }
  }
  return {
    announcement: {
      origin: bytes.subarray(1, 1 + KEY_SIZE),
      sequence: readUint64BE(bytes, 33),
      mtu: u16(bytes, 41),
      part: bytes[43]!,
      parts: bytes[44]!,
      links,
      prefixes,
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

// A renewal (docs/PROTOCOL.md §4, "Renewals"): the origin re-signs an unchanged announcement
// periodically (DAILY_REFRESH_MS, or more often near a node of an earlier revision) with a new
// sequence, and a neighbour that holds the one before needs only the new sequence and signature to
// rebuild the new one byte for byte.
//
//   0   32  origin key        32  1  part        33  8  base: the sequence held
//   41   8  the new sequence  49 64  the new signature
export const RENEWAL_SIZE = 113;
const OFF_SEQUENCE = 33;
const OFF_PART = 43;

/** Whether `newer` is `older` signed again: the same bytes but for the sequence and signature. */
export function renews(older: Uint8Array, newer: Uint8Array): boolean {
  if (older.length !== newer.length || older.length < ANNOUNCEMENT_MIN_SIZE) return false;
  const end = older.length - XEDDSA_SIGNATURE_SIZE;
  for (let i = 0; i < end; i++) {
    if (i === OFF_SEQUENCE) i += 8;
    if (older[i] !== newer[i]) return false;
  }
  return true;
}

/** Writes the renewal of `bytes` (an announcement that renews the one of sequence `base`) at out[off]. */
export function writeRenewal(bytes: Uint8Array, base: number, out: Uint8Array, off: number): void {
  out.set(bytes.subarray(1, 33), off);
  out[off + 32] = bytes[OFF_PART]!;
  writeUint64BE(out, off + 33, base);
  out.set(bytes.subarray(OFF_SEQUENCE, OFF_SEQUENCE + 8), off + 41);
  out.set(bytes.subarray(bytes.length - XEDDSA_SIGNATURE_SIZE), off + 49);
}

/** The part, base sequence and new sequence of the renewal at buf[off] (its origin key first). */
export function renewalOf(buf: Uint8Array, off: number): { part: number; base: number; sequence: number } {
  return { part: buf[off + 32]!, base: readUint64BE(buf, off + 33), sequence: readUint64BE(buf, off + 41) };
}

/** The announcement the renewal at buf[off] makes of `held` (the part it names, at its base
 *  sequence): held's bytes with the new sequence and signature. Unchecked: verify it. */
export function applyRenewal(held: Uint8Array, buf: Uint8Array, off: number): Uint8Array {
  const out = held.slice();
  out.set(buf.subarray(off + 41, off + 49), OFF_SEQUENCE);
  out.set(buf.subarray(off + 49, off + RENEWAL_SIZE), out.length - XEDDSA_SIGNATURE_SIZE);
  return out;
}
