// The signed pieces of the spanning trees (docs/PROTOCOL.md §12, docs/ROUTING.md "Trees"):
//
//   root beacon  32 root key, 8 sequence (ms since the epoch), 64 XEdDSA signature by the root of
//                "rovy.net v1 tree root" ‖ tree ‖ key ‖ sequence. Says "I am a root of tree t,
//                alive at this time"; the root signs a new one every ROOT_REFRESH_MS.
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
import { bytesKey, readUint64BE, writeUint64BE } from '../util/bytes.js';

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
  return blake2s(input).subarray(0, RANK_SIZE);
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

export function beaconSequence(beacon: Uint8Array, off = 0): number {
  return readUint64BE(beacon, off + KEY_SIZE);
}

export function linkPort(link: Uint8Array, off = 0): number {
  return (link[off + KEY_SIZE]! << 8) | link[off + KEY_SIZE + 1]!;
}

// What a cached check is known by: SHA-256 of a secret of this process, then everything signed
// and the signature, so that nobody can make other bytes share an entry. An entry costs some 60
// bytes instead of the 200 the bytes themselves would (a node keeps up to `size` of them).
// node:crypto's SHA-256 takes 1 µs here, @noble/hashes' keyed BLAKE2s 9 µs; a check, 100.
const CHECK_ID_SECRET = randomBytes(32);

// The check ids' input, laid out in one buffer: a one-shot hash of it costs a third of a hash
// object fed four times (bench: 0.7 µs against 2.3), and every received place and beacon asks.
let checkInput = Buffer.alloc(256);
CHECK_ID_SECRET.copy(checkInput);

function checkId(key: Uint8Array, message: Uint8Array, signature: Uint8Array): string {
  const size = CHECK_ID_SECRET.length + key.length + message.length + signature.length;
  if (typeof hash !== 'function') {
    // Node before 20.12 has no one-shot hash.
    return bytesKey(createHash('sha256').update(CHECK_ID_SECRET).update(key).update(message).update(signature).digest());
  }
  if (size > checkInput.length) {
    checkInput = Buffer.alloc(2 * size);
    CHECK_ID_SECRET.copy(checkInput);
  }
  let off = CHECK_ID_SECRET.length;
  checkInput.set(key, off);
  checkInput.set(message, (off += key.length));
  checkInput.set(signature, off + message.length);
  return hash('sha256', checkInput.subarray(0, size), 'binary');
}

/** The signature checks one node has made, so that a chain shared by many neighbours is checked
 *  once. Bounded: past `size` entries the oldest go. Only successes are kept. */
export class VerifiedSignatures {
  private readonly seen = new Set<string>();
  hits = 0;
  checks = 0;

  /** `shared`: the simulator's memo of checks across all its nodes (a check's result does not
   *  depend on who makes it); each node still counts the checks it makes in `checks`. */
  constructor(
    private readonly size = 4096,
    private readonly shared?: Map<string, boolean>,
  ) {}

  verify(key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const id = checkId(key, message, signature);
    if (this.seen.has(id)) {
      this.hits++;
      return true;
    }
    this.checks++;
    let ok = this.shared?.get(id);
    if (ok === undefined) {
      ok = xeddsaVerify(key, message, signature);
      this.shared?.set(id, ok);
    }
    if (!ok) return false;
    if (this.seen.size >= this.size) this.seen.delete(this.seen.values().next().value!);
    this.seen.add(id);
    return true;
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
