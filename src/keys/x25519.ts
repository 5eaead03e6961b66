// X25519 through node:crypto, with raw 32-byte keys: the curve work for node identities and for
// the Noise handshake's ephemeral and static keys. node:crypto is 40x faster than a pure-JS curve
// here; its cost is in importing raw keys, which is why imported private keys are cached.
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, timingSafeEqual } from 'node:crypto';

const KEY_SIZE = 32;

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

type KeyObject = ReturnType<typeof createPrivateKey>;

function checkKey(key: Uint8Array, what: string): void {
  if (key.length !== KEY_SIZE) throw new RangeError(`${what} must be ${KEY_SIZE} bytes, got ${key.length}`);
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
}

// Importing a raw X25519 private key into node:crypto costs about 0.5 ms through PKCS#8 DER and
// 50 µs through JWK (measured here), more than the X25519 itself. So keys are imported through
// JWK, and the KeyObject of each private key is kept beside the array that holds it: a static key
// is imported once, and an ephemeral made by randomKeyPair() is imported once. Each
// entry keeps a copy of the bytes, so a caller that overwrites the array gets a fresh import
// rather than a stale key; forgetPrivateKey() (noise's wipe()) drops the entry.
interface CachedPrivateKey {
  bytes: Uint8Array;
  key: KeyObject;
}
const privateKeys = new WeakMap<Uint8Array, CachedPrivateKey>();

// JWK requires an "x" member for a private key; node derives the public key from "d" and does not
// read "x" (publicKeyOf() and the test vectors check that), so a placeholder serves.
const PLACEHOLDER_X = base64url(new Uint8Array(KEY_SIZE));

function privateKeyObject(priv: Uint8Array): KeyObject {
  checkKey(priv, 'X25519 private key');
  const cached = privateKeys.get(priv);
  if (cached && timingSafeEqual(cached.bytes, priv)) return cached.key;
  if (cached) cached.bytes.fill(0);
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: base64url(priv), x: PLACEHOLDER_X }, format: 'jwk' });
  privateKeys.set(priv, { bytes: new Uint8Array(priv), key });
  return key;
}

function publicKeyObject(pub: Uint8Array): KeyObject {
  checkKey(pub, 'X25519 public key');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: base64url(pub) }, format: 'jwk' });
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('node:crypto exported no X25519 public key');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

/** A fresh Uint8Array holding `src` (not a view into a pooled Buffer), then `src` is wiped. */
export function detach(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src);
  src.fill(0);
  return out;
}

/** X25519(priv, pub). Returns null when the result is all zeros: the peer sent a low-order point,
 *  and the "shared secret" would be known to anyone. Callers abort the handshake then. */
export function dh(priv: Uint8Array, pub: Uint8Array): Uint8Array | null {
  let shared: Uint8Array;
  try {
    shared = diffieHellman({ privateKey: privateKeyObject(priv), publicKey: publicKeyObject(pub) });
  } catch (err) {
    // node:crypto (OpenSSL) throws on an all-zero result; the check below covers any
    // implementation swapped in that does not.
    if (err instanceof RangeError) throw err;
    return null;
  }
  const out = detach(shared);
  let acc = 0;
  for (let i = 0; i < out.length; i++) acc |= out[i]!;
  return acc === 0 ? null : out;
}

/**
 * A new random X25519 key pair (raw 32-byte keys). The private key is random bytes imported
 * through JWK, not generateKeyPairSync: on Node 20, exporting a generated key as JWK can deadlock
 * against the garbage collector (seen here: the main thread stuck in ~KeyGenJob under
 * ExportJWKEdKey), while importing and then exporting does not.
 */
export function randomKeyPair(): KeyPair {
  const privateKey = new Uint8Array(randomBytes(KEY_SIZE));
  // RFC 7748 clamping, so the stored bytes are the scalar actually used.
  privateKey[0] = privateKey[0]! & 248;
  privateKey[31] = (privateKey[31]! & 127) | 64;
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/** The X25519 public key of a raw private key. */
export function publicKeyOf(priv: Uint8Array): Uint8Array {
  return rawPublicKey(createPublicKey(privateKeyObject(priv)));
}

/** Drops the cached KeyObject of a private key array that is being wiped. */
export function forgetPrivateKey(priv: Uint8Array): void {
  const cached = privateKeys.get(priv);
  if (cached) {
    cached.bytes.fill(0);
    privateKeys.delete(priv);
  }
}
