// The cryptographic primitives of rovy's sessions, in one place so an implementation can be
// swapped: X25519, BLAKE2s (hash, HMAC, Noise HKDF, keyed MAC), ChaCha20-Poly1305 and
// XChaCha20-Poly1305, constant-time comparison and wiping.
// node:crypto does X25519, BLAKE2s-256 and HMAC (the fast paths); it lacks keyed BLAKE2s and
// XChaCha20, which come from @noble.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { KEY_SIZE, MAC_SIZE, TAG_SIZE } from './constants.js';

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
// is imported once, and an ephemeral made by generateKeyPair() is never imported at all. Each
// entry keeps a copy of the bytes, so a caller that overwrites the array gets a fresh import
// rather than a stale key; wipe() drops the entry.
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
function detach(src: Uint8Array): Uint8Array {
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
export function generateKeyPair(): KeyPair {
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

/** BLAKE2s-256 of the concatenation of `parts` (Noise HASH). */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  return detach(h.digest());
}

/** HMAC-BLAKE2s-256(key, concatenation of `parts`) (RFC 2104 with a 64-byte block). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const m = createHmac('blake2s256', key);
  for (const p of parts) m.update(p);
  return detach(m.digest());
}

const BYTE_1 = Uint8Array.of(1);
const BYTE_2 = Uint8Array.of(2);
const BYTE_3 = Uint8Array.of(3);

/** Noise HKDF (spec §4.3) with HMAC-BLAKE2s: `count` (1–3) outputs of 32 bytes each. */
export function hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, count: 1): [Uint8Array];
export function hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, count: 2): [Uint8Array, Uint8Array];
export function hkdf(
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  count: 3,
): [Uint8Array, Uint8Array, Uint8Array];
export function hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, count: 1 | 2 | 3): Uint8Array[] {
  const temp = hmac(chainingKey, inputKeyMaterial);
  const out: Uint8Array[] = [];
  const out1 = hmac(temp, BYTE_1);
  out.push(out1);
  if (count >= 2) out.push(hmac(temp, out1, BYTE_2));
  if (count >= 3) out.push(hmac(temp, out[1]!, BYTE_3));
  temp.fill(0);
  return out;
}

/** Writes the 96-bit ChaCha20-Poly1305 nonce of Noise/WireGuard: 4 zero bytes, then the counter
 *  as little-endian u64. `counter` is a non-negative integer below 2^53. */
export function writeNonce(out: Uint8Array, counter: number): void {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`bad nonce counter ${counter}`);
  const low = counter % 0x1_0000_0000;
  const high = (counter - low) / 0x1_0000_0000;
  out[0] = out[1] = out[2] = out[3] = 0;
  out[4] = low & 0xff;
  out[5] = (low >>> 8) & 0xff;
  out[6] = (low >>> 16) & 0xff;
  out[7] = low >>> 24;
  out[8] = high & 0xff;
  out[9] = (high >>> 8) & 0xff;
  out[10] = (high >>> 16) & 0xff;
  out[11] = high >>> 24;
}

const nonceScratch = new Uint8Array(12);

/** ChaCha20-Poly1305 (RFC 8439) encryption: returns ciphertext || 16-byte tag. */
export function aeadSeal(key: Uint8Array, counter: number, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  writeNonce(nonceScratch, counter);
  const c = createCipheriv('chacha20-poly1305', key, nonceScratch, { authTagLength: TAG_SIZE });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const out = new Uint8Array(plaintext.length + TAG_SIZE);
  out.set(c.update(plaintext));
  c.final();
  out.set(c.getAuthTag(), plaintext.length);
  return out;
}

/** ChaCha20-Poly1305 decryption of ciphertext || tag; null when authentication fails. */
export function aeadOpen(key: Uint8Array, counter: number, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | null {
  if (ciphertext.length < TAG_SIZE) return null;
  const bodyLength = ciphertext.length - TAG_SIZE;
  writeNonce(nonceScratch, counter);
  const d = createDecipheriv('chacha20-poly1305', key, nonceScratch, { authTagLength: TAG_SIZE });
  d.setAuthTag(ciphertext.subarray(bodyLength));
  d.setAAD(ad, { plaintextLength: bodyLength });
  const plain = d.update(ciphertext.subarray(0, bodyLength));
  try {
    d.final();
  } catch {
    plain.fill(0);
    return null;
  }
  return detach(plain);
}

/** XChaCha20-Poly1305 encryption with a 24-byte nonce: ciphertext || tag (cookie replies). */
export function xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

/** XChaCha20-Poly1305 decryption; null when authentication fails. */
export function xaeadOpen(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | null {
  if (ciphertext.length < TAG_SIZE) return null;
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(ciphertext);
  } catch {
    return null;
  }
}

/** Keyed BLAKE2s with a 16-byte output (RFC 7693 MAC mode; WireGuard's MAC): mac1, mac2, cookies. */
export function mac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return blake2s(data, { key, dkLen: MAC_SIZE });
}

/** Equality of two byte strings in time independent of their contents (lengths are public). */
export function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** Overwrites a secret with zeros. JavaScript cannot promise no other copy exists (the engine may
 *  have moved it), but the buffers we own stop holding it. */
export function wipe(buf: Uint8Array | null | undefined): void {
  if (!buf) return;
  buf.fill(0);
  const cached = privateKeys.get(buf);
  if (cached) {
    cached.bytes.fill(0);
    privateKeys.delete(buf);
  }
}
