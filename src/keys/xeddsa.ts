// XEdDSA (Signal's "The XEdDSA and VXEdDSA Signature Schemes", revision 1): Ed25519-compatible
// signatures made with a node's X25519 identity key, so one key both runs Noise handshakes and
// signs routing announcements. A signature is R || s and is checked as a plain Ed25519 signature
// under the Edwards form of the X25519 public key with sign bit 0; the signer negates its scalar
// when its Edwards point has sign bit 1, so that this holds for every key.
//
// Signing uses @noble/curves for the point arithmetic (node:crypto has no way to sign with a
// given scalar). Its bigint scalar arithmetic is not constant time; signing happens once per
// announcement, with the node's own key, on the node's own machine.
import { createPublicKey, randomBytes, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';

const KEY_SIZE = 32;
/** Bytes of an XEdDSA signature: R (32) || s (32). */
export const XEDDSA_SIGNATURE_SIZE = 64;
/** Bytes of the random input Z that makes each signature different. */
export const XEDDSA_RANDOM_SIZE = 64;

const Point = ed25519.Point;
const Fp = Point.Fp; // integers mod p = 2^255 - 19
const Fn = Point.Fn; // integers mod q, the order of the base point
const P = Fp.ORDER;
const Q = Fn.ORDER;

// hash1 of the specification: SHA-512 with the prefix 2^256 - 2 in 32 little-endian bytes
// (0xFE, then 31 bytes 0xFF). Every other hash input starts with a point, and no canonical point
// encoding is these bytes.
const HASH1_PREFIX = new Uint8Array(KEY_SIZE).fill(0xff);
HASH1_PREFIX[0] = 0xfe;

/**
 * 64-byte XEdDSA signature of `message` by a 32-byte X25519 private key (clamped here as X25519
 * clamps it). `random` is the specification's Z: 64 bytes, crypto-random by default; a fixed
 * value gives a deterministic signature (tests only).
 */
export function xeddsaSign(privateKey: Uint8Array, message: Uint8Array, random?: Uint8Array): Uint8Array {
  return xeddsaSigner(privateKey)(message, random);
}

/** Signs messages with one X25519 private key (see xeddsaSign). */
export type XeddsaSigner = (message: Uint8Array, random?: Uint8Array) => Uint8Array;

// The signer made last for each private key array: the map, the trees and the lookups of a node
// each sign with the node's key, and a signer costs a point multiplication to make. Weak, so a
// key dropped takes its signer along; the bytes are compared on each use, so a key array changed
// in place gets a new signer.
const signers = new WeakMap<Uint8Array, { key: Uint8Array; signer: XeddsaSigner }>();

/**
 * A signer for one private key that derives the key pair once: a signature then costs one point
 * multiplication instead of two (half the time), for a node that signs often (tree hops).
 */
export function xeddsaSigner(privateKey: Uint8Array): XeddsaSigner {
  if (privateKey.length !== KEY_SIZE) {
    throw new RangeError(`an X25519 private key is ${KEY_SIZE} bytes, got ${privateKey.length}`);
  }
  const made = signers.get(privateKey);
  if (made && timingSafeEqual(made.key, privateKey)) return made.signer;
  const signer = deriveSigner(privateKey);
  signers.set(privateKey, { key: privateKey.slice(), signer });
  return signer;
}

function deriveSigner(privateKey: Uint8Array): XeddsaSigner {
  // calculate_key_pair(k): E = kB; A = E with sign bit 0; a = k or -k to match A.
  const clamped = new Uint8Array(privateKey);
  clamped[0]! &= 248;
  clamped[31] = (clamped[31]! & 127) | 64;
  // kB = (k mod q)B since B has order q. k mod q is never 0: a clamped k is a multiple of 8
  // below 8q, and q is an odd prime.
  const k = Fn.create(bytesToNumberLE(clamped));
  clamped.fill(0);
  const A = Point.BASE.multiply(k).toBytes();
  const negate = (A[31]! & 0x80) !== 0;
  A[31]! &= 0x7f;
  const a = negate ? Fn.neg(k) : k;
  const aBytes = Fn.toBytes(a);

  return (message, random) => {
    const z = random ?? randomBytes(XEDDSA_RANDOM_SIZE);
    if (z.length !== XEDDSA_RANDOM_SIZE) {
      throw new RangeError(`XEdDSA random input is ${XEDDSA_RANDOM_SIZE} bytes, got ${z.length}`);
    }
    // r = hash1(a || M || Z) mod q; R = rB; h = hash(R || A || M) mod q; s = r + h·a mod q.
    const rHash = sha512.create().update(HASH1_PREFIX).update(aBytes).update(message).update(z).digest();
    const r = Fn.create(bytesToNumberLE(rHash));
    rHash.fill(0);
    const R = Point.BASE.multiply(r).toBytes();
    const h = Fn.create(bytesToNumberLE(sha512.create().update(R).update(A).update(message).digest()));
    const s = Fn.add(r, Fn.mul(h, a));

    const signature = new Uint8Array(XEDDSA_SIGNATURE_SIZE);
    signature.set(R, 0);
    signature.set(Fn.toBytes(s), KEY_SIZE);
    return signature;
  };
}

// The X25519 public keys of small order (u < p): the images of the eight Edwards torsion points,
// u = (1 + y) / (1 - y), leaving out the identity (y = 1, u at infinity). A signature under such
// a key can be made without its private key, so they are refused. They are 0, 1 and the two
// u of the order-8 points.
const SMALL_ORDER_U = new Set<bigint>(
  ED25519_TORSION_SUBGROUP.map((hex) => bytesToNumberLE(Uint8Array.from(Buffer.from(hex, 'hex'))) & ((1n << 255n) - 1n))
    .filter((y) => y !== 1n)
    .map((y) => Fp.div(Fp.add(1n, y), Fp.sub(1n, y))),
);

/**
 * The Ed25519 public key that XEdDSA signatures of an X25519 public key verify under: Edwards
 * y = (u - 1) / (u + 1) with sign bit 0. Null if `u` is not canonical (>= p, which includes any
 * key with its top bit set), is -1 (no y), or is of small order. A `u` of the twist rather than
 * the curve gives a y of no point, which every Ed25519 verifier refuses when it decodes the key;
 * checking that here would cost a square root (more than the verification), once per key.
 */
export function edwardsPublicKey(publicKey: Uint8Array): Uint8Array | null {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_SIZE) return null;
  const u = bytesToNumberLE(publicKey);
  if (u >= P || u === P - 1n || SMALL_ORDER_U.has(u)) return null;
  return Fp.toBytes(Fp.div(Fp.sub(u, 1n), Fp.add(u, 1n))); // y < p, so bit 255 (sign) is 0
}

// Verify with node:crypto: 135 µs against 1,700 µs for @noble/curves (bench/xeddsa.ts, 1 KB message).
//
// node:crypto (OpenSSL) recomputes R from s and h and compares encodings: the specification's
// verification (cofactorless, canonical R). Each key is converted, checked and imported once
// (50 µs) and kept, a refused key as null, so a flood of bad keys costs one conversion each. The
// map is bounded: when full, the oldest entry goes.
const KEY_CACHE_SIZE = 16384;
const keyObjects = new Map<string, KeyObject | null>();

function edwardsKeyObject(publicKey: Uint8Array): KeyObject | null {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('latin1');
  const cached = keyObjects.get(id);
  if (cached !== undefined) return cached;
  const ed = edwardsPublicKey(publicKey);
  let key: KeyObject | null = null;
  if (ed) {
    const x = Buffer.from(ed.buffer, ed.byteOffset, ed.length).toString('base64url');
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    } catch {
      key = null; // OpenSSL does not check the point on import today; if it ever does, refuse here
    }
  }
  if (keyObjects.size >= KEY_CACHE_SIZE) keyObjects.delete(keyObjects.keys().next().value!);
  keyObjects.set(id, key);
  return key;
}

/** s of a signature, checked below q before anything else (the specification checks s < 2^253;
 *  a signer never makes s >= q, and refusing it leaves one valid encoding per signature). */
function canonicalS(signature: Uint8Array): boolean {
  return bytesToNumberLE(signature.subarray(KEY_SIZE)) < Q;
}

/**
 * True if `signature` is a valid XEdDSA signature of `message` by the 32-byte X25519 public key.
 * False, never an exception, for anything malformed: wrong lengths, a non-canonical or
 * small-order key, s >= q.
 */
export function xeddsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    return false;
  }
  if (publicKey.length !== KEY_SIZE || signature.length !== XEDDSA_SIGNATURE_SIZE) return false;
  if (!canonicalS(signature)) return false;
  const key = edwardsKeyObject(publicKey);
  if (!key) return false;
  try {
    return cryptoVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/*
 * Signed wire formats (routing announcements, discovery beacons) end in a signature of everything
 * before it, made over a context string naming the purpose first. One context per purpose keeps
 * a signature made for one purpose (a routing announcement, say) from passing for another (a
 * discovery beacon).
 */

/** Signs `bytes[0, bodyLength)` under `context` and writes the signature after it. */
export function signTrailing(privateKey: Uint8Array, context: Uint8Array, bytes: Uint8Array, bodyLength: number): void {
  bytes.set(xeddsaSign(privateKey, contextMessage(context, bytes, bodyLength)), bodyLength);
}

/** Whether `bytes` ends in `publicKey`'s signature, under `context`, of all that comes before. */
export function verifyTrailing(publicKey: Uint8Array, context: Uint8Array, bytes: Uint8Array): boolean {
  const body = bytes.length - XEDDSA_SIGNATURE_SIZE;
  return body >= 0 && xeddsaVerify(publicKey, contextMessage(context, bytes, body), bytes.subarray(body));
}

function contextMessage(context: Uint8Array, bytes: Uint8Array, bodyLength: number): Uint8Array {
  const msg = new Uint8Array(context.length + bodyLength);
  msg.set(context, 0);
  msg.set(bytes.subarray(0, bodyLength), context.length);
  return msg;
}
