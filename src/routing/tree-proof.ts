// The signed pieces of the spanning trees (docs/PROTOCOL.md §12, docs/ROUTING.md "Trees"):
//
//   root beacon  32 root key, 8 sequence (ms since the epoch), 64 XEdDSA signature by the root of
//                "rovy.net v1 tree root" ‖ tree ‖ key ‖ sequence. Says "I am a root of tree t,
//                alive at this time"; the root signs a new one every ROOT_REFRESH_MS to
//                ROOT_REFRESH_SLOW_MS, as the nodes below it take (trees.ts).
//   link         32 neighbour key, 2 port, 64 XEdDSA signature by the node of
//                "rovy.net v1 tree link" ‖ node key ‖ neighbour key ‖ port. Says "my port p
//                leads to this neighbour"; a node signs one for a neighbour that asks for it
//                (that wants it as parent) and gives it to that neighbour.
//
// A node's position in a tree is a root beacon and the links from the root down to it, each
// signed by the node above: a node can claim only a place below a node that gave it a link.
// A link names no tree and no root, so it serves every tree and stays valid while the trees
// change around it; a tree's churn costs messages and checks, never signatures.
//
// Checking costs a signature check per link; nodes near each other share most of their chains,
// so checks are kept in a bounded cache keyed by a keyed hash of everything signed (never by the
// signature alone, which an attacker could pair with other bytes).
import { createHash, hash, randomBytes } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { XEDDSA_SIGNATURE_SIZE, xeddsaVerify, type XeddsaSigner } from '../keys/xeddsa.js';
import { readUint64BE, writeUint64BE } from '../util/bytes.js';
import { ROOT_EXPIRY_SLOW_MS } from './constants.js';

const KEY_SIZE = 32;
export const ROOT_BEACON_SIZE = KEY_SIZE + 8 + XEDDSA_SIGNATURE_SIZE;
export const LINK_SIZE = KEY_SIZE + 2 + XEDDSA_SIGNATURE_SIZE;
/** Bytes of a root rank (rootRank). */
export const RANK_SIZE = 8;

const ROOT_CONTEXT = new TextEncoder().encode('rovy.net v1 tree root');
const LINK_CONTEXT = new TextEncoder().encode('rovy.net v1 tree link');
const RANK_CONTEXT = new TextEncoder().encode('rovy.net v1 tree rank');

/**
 * Where a key stands in the election of tree `tree`'s root: the lowest rank wins. A hash of the
 * tree and the key, so each tree elects a different node and a key ground to win one tree is
 * no better than any other in the rest.
 */
export function rootRank(tree: number, key: Uint8Array): Uint8Array {
  const input = new Uint8Array(RANK_CONTEXT.length + 1 + KEY_SIZE);
  input.set(RANK_CONTEXT, 0);
  input[RANK_CONTEXT.length] = tree;
  input.set(key, RANK_CONTEXT.length + 1);
  return blake2s(input).slice(0, RANK_SIZE); // its own 8 bytes: ranks are held by every place
}

/** Negative if rank a wins over b, 0 if equal, positive otherwise. */
export function compareRanks(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < RANK_SIZE; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function rootMessage(tree: number, beacon: Uint8Array, off: number): Uint8Array {
  const m = new Uint8Array(ROOT_CONTEXT.length + 1 + KEY_SIZE + 8);
  m.set(ROOT_CONTEXT, 0);
  m[ROOT_CONTEXT.length] = tree;
  m.set(beacon.subarray(off, off + KEY_SIZE + 8), ROOT_CONTEXT.length + 1);
  return m;
}

function linkMessage(signerKey: Uint8Array, link: Uint8Array, off: number): Uint8Array {
  const m = new Uint8Array(LINK_CONTEXT.length + 2 * KEY_SIZE + 2);
  m.set(LINK_CONTEXT, 0);
  m.set(signerKey, LINK_CONTEXT.length);
  m.set(link.subarray(off, off + KEY_SIZE + 2), LINK_CONTEXT.length + KEY_SIZE);
  return m;
}

/** A root beacon's key and sequence, its signature zero until signBeaconInPlace. */
export function unsignedRootBeacon(key: Uint8Array, sequence: number): Uint8Array {
  const beacon = new Uint8Array(ROOT_BEACON_SIZE);
  beacon.set(key, 0);
  writeUint64BE(beacon, KEY_SIZE, sequence);
  return beacon;
}

/** Signs an unsigned root beacon for `tree`: its signature bytes are written in place. */
export function signBeaconInPlace(sign: XeddsaSigner, tree: number, beacon: Uint8Array): void {
  beacon.set(sign(rootMessage(tree, beacon, 0)), KEY_SIZE + 8);
}

/** The link by which the signer (`signerKey`) reaches `neighbourKey` at `port`. */
export function signLink(sign: XeddsaSigner, signerKey: Uint8Array, neighbourKey: Uint8Array, port: number): Uint8Array {
  const link = new Uint8Array(LINK_SIZE);
  link.set(neighbourKey, 0);
  link[KEY_SIZE] = port >>> 8;
  link[KEY_SIZE + 1] = port & 0xff;
  link.set(sign(linkMessage(signerKey, link, 0)), KEY_SIZE + 2);
  return link;
}

/** A copy of the root's key that a beacon names. */
export function beaconRoot(beacon: Uint8Array): Uint8Array {
  return beacon.slice(0, KEY_SIZE);
}

export function beaconSequence(beacon: Uint8Array, off = 0): number {
  return readUint64BE(beacon, off + KEY_SIZE);
}

export function linkPort(link: Uint8Array, off = 0): number {
  return (link[off + KEY_SIZE]! << 8) | link[off + KEY_SIZE + 1]!;
}

// What a cached check is known by: 64 bits of SHA-256 of a secret of this process, then
// everything signed and the signature, so that nobody can make other bytes share an entry (nor
// pick where an entry goes in the cache's table). node:crypto's SHA-256 takes 1 µs here,
// @noble/hashes' keyed BLAKE2s 9 µs; a check, 100.
const CHECK_ID_SECRET = randomBytes(32);

// The check ids' input, laid out in one buffer: a one-shot hash of it costs a third of a hash
// object fed four times (bench: 0.7 µs against 2.3), and every received place and beacon asks.
let checkInput = Buffer.alloc(256);
CHECK_ID_SECRET.copy(checkInput);

function checkDigest(key: Uint8Array, message: Uint8Array, signature: Uint8Array): Buffer {
  const size = CHECK_ID_SECRET.length + key.length + message.length + signature.length;
  if (typeof hash !== 'function') {
    // Node before 20.12 has no one-shot hash.
    return createHash('sha256').update(CHECK_ID_SECRET).update(key).update(message).update(signature).digest();
  }
  if (size > checkInput.length) {
    checkInput = Buffer.alloc(2 * size);
    CHECK_ID_SECRET.copy(checkInput);
  }
  let off = CHECK_ID_SECRET.length;
  checkInput.set(key, off);
  checkInput.set(message, (off += key.length));
  checkInput.set(signature, off + message.length);
  return hash('sha256', checkInput.subarray(0, size), 'buffer');
}

/** How long a check unused is kept: longer than a root waits between beacons (ROOT_REFRESH_MS,
 *  ROOT_REFRESH_PACED_MS, ROOT_REFRESH_SLOW_MS), so a chain still in use is checked once per
 *  beacon at most; the checks of beacons replaced, which nobody shows again, go after this
 *  instead of filling the cache (graph-250's grew from 123 entries a node to 553 over three
 *  days, 32.6 KiB of heap). */
export const CHECK_MAX_AGE_MS = ROOT_EXPIRY_SLOW_MS;

export interface VerifiedSignaturesOptions {
  /** The node's monotonic clock, in ms. */
  now?: () => number;
  /** Most checks kept, however recent. */
  size?: number;
  maxAgeMs?: number;
  /** The simulator's memo of checks across all its nodes (a check's result does not depend on
   *  who makes it); each node still counts the checks it makes in `checks`. */
  shared?: Map<string, boolean>;
}

/** Smallest table of the cache (slots). */
const MIN_SLOTS = 64;

/**
 * The signature checks one node has made, so that a chain shared by many neighbours is checked
 * once. Only successes are kept, each until it has gone unused for `maxAgeMs`, and at most `size`
 * of them: when full, the less recently used half goes. Packed in typed arrays (an open-addressing
 * table of 64-bit check ids and the second each was last used, 24 to 48 bytes an entry): a node
 * keeps hundreds, and a string id in a Map took some 105 bytes each.
 */
export class VerifiedSignatures {
  /** Per slot: the id's two halves, and when it was last used (whole seconds + 1; 0: empty). */
  private high = new Int32Array(MIN_SLOTS);
  private low = new Int32Array(MIN_SLOTS);
  private usedAt = new Int32Array(MIN_SLOTS);
  private count = 0;
  /** When the next sweep of entries unused past the age is due (whole seconds). */
  private sweepAt: number;
  private readonly now: () => number;
  private readonly size: number;
  private readonly maxAgeS: number;
  private readonly shared: Map<string, boolean> | undefined;
  hits = 0;
  checks = 0;

  constructor(options: VerifiedSignaturesOptions = {}) {
    this.now = options.now ?? (() => performance.now());
    this.size = options.size ?? 4096;
    this.maxAgeS = Math.ceil((options.maxAgeMs ?? CHECK_MAX_AGE_MS) / 1000);
    this.shared = options.shared;
    this.sweepAt = this.seconds() + this.maxAgeS;
  }

  /** Checks kept. */
  get kept(): number {
    return this.count;
  }

  verify(key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const digest = checkDigest(key, message, signature);
    const high = digest.readInt32LE(0);
    const low = digest.readInt32LE(4);
    const nowS = this.seconds();
    // The table is swept of entries unused past the age every quarter of it, in one pass; one
    // found past the age before that is checked again.
    if (nowS >= this.sweepAt) this.keep(nowS - this.maxAgeS, Infinity, nowS);
    const mask = this.usedAt.length - 1;
    let s = low & mask;
    for (; this.usedAt[s] !== 0; s = (s + 1) & mask) {
      if (this.low[s] !== low || this.high[s] !== high) continue;
      if (nowS - (this.usedAt[s]! - 1) > this.maxAgeS) break;
      this.hits++;
      this.usedAt[s] = nowS + 1;
      return true;
    }
    const stale = this.usedAt[s] !== 0 ? s : -1;
    this.checks++;
    let ok: boolean | undefined;
    const sharedKey = this.shared && digest.toString('latin1', 0, 8);
    if (sharedKey !== undefined) ok = this.shared!.get(sharedKey);
    if (ok === undefined) {
      ok = xeddsaVerify(key, message, signature);
      if (sharedKey !== undefined) this.shared!.set(sharedKey, ok);
    }
    if (!ok) return false;
    if (stale >= 0) {
      this.usedAt[stale] = nowS + 1;
      return true;
    }
    if (this.count >= this.size) this.keep(-Infinity, this.size >> 1, nowS);
    if (2 * (this.count + 1) > this.usedAt.length) this.rehash(2 * this.usedAt.length);
    this.insert(high, low, nowS + 1);
    this.count++;
    return true;
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private insert(high: number, low: number, usedAt: number): void {
    const mask = this.usedAt.length - 1;
    let s = low & mask;
    while (this.usedAt[s] !== 0) s = (s + 1) & mask;
    this.high[s] = high;
    this.low[s] = low;
    this.usedAt[s] = usedAt;
  }

  /** Keeps, in a table sized for them, the entries used at `sinceS` or later, and of those at
   *  most `most`, the most recently used. */
  private keep(sinceS: number, most: number, nowS: number): void {
    this.sweepAt = nowS + Math.max(1, this.maxAgeS >> 2);
    const usedAt = this.usedAt;
    // The last use of the oldest entry kept: entries used then are kept only while room is left.
    const times = usedAt.filter((t) => t !== 0 && t - 1 >= sinceS).sort();
    const kept = Math.min(most, times.length);
    const oldest = kept > 0 ? times[times.length - kept]! : Infinity;
    let atOldest = kept - times.filter((t) => t > oldest).length;
    let slots = MIN_SLOTS;
    while (slots < 2 * kept) slots *= 2;
    this.rehash(slots, (t) => t > oldest || (t === oldest && atOldest-- > 0));
    this.count = kept;
  }

  /** Moves the entries (those `keeps` accepts, by last use) into a table of `slots`. */
  private rehash(slots: number, keeps: (usedAt: number) => boolean = () => true): void {
    const { high, low, usedAt } = this;
    this.high = new Int32Array(slots);
    this.low = new Int32Array(slots);
    this.usedAt = new Int32Array(slots);
    for (let s = 0; s < usedAt.length; s++) {
      const t = usedAt[s]!;
      if (t !== 0 && keeps(t)) this.insert(high[s]!, low[s]!, t);
    }
  }

  /** Whether `beacon[off ..]` is a root beacon its key signed for `tree`. */
  rootBeacon(tree: number, beacon: Uint8Array, off: number): boolean {
    const key = beacon.subarray(off, off + KEY_SIZE);
    const signature = beacon.subarray(off + KEY_SIZE + 8, off + ROOT_BEACON_SIZE);
    return this.verify(key, rootMessage(tree, beacon, off), signature);
  }

  /** Whether `link[off ..]` was signed by `signerKey`. */
  link(signerKey: Uint8Array, link: Uint8Array, off: number): boolean {
    const signature = link.subarray(off + KEY_SIZE + 2, off + LINK_SIZE);
    return this.verify(signerKey, linkMessage(signerKey, link, off), signature);
  }
}
