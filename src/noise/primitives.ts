// The cryptographic primitives of rovy's sessions, in one place so an implementation can be
// swapped: X25519 (from keys/x25519.ts), BLAKE2s (hash, HMAC, Noise HKDF, keyed MAC),
// ChaCha20-Poly1305 and XChaCha20-Poly1305, constant-time comparison and wiping.
// node:crypto does X25519, BLAKE2s-256 and HMAC (the fast paths); it lacks keyed BLAKE2s and
// XChaCha20, which come from @noble.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  timingSafeEqual,
} from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { MAC_SIZE, TAG_SIZE } from './constants.js';

export { dh, publicKeyOf, randomKeyPair as generateKeyPair, forgetPrivateKey, type KeyPair } from '../keys/x25519.js';
import { detach, forgetPrivateKey } from '../keys/x25519.js';

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
  forgetPrivateKey(buf);
}
