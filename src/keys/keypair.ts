// X25519 key pairs for rovy nodes, as raw 32-byte arrays.
//
// A private key is 32 random bytes, clamped as RFC 7748 §5 describes (as `wg genkey` and rovy's
// Go prototype do; X25519 clamps on use anyway). node:crypto does the curve work: keys enter it
// as PKCS#8 DER (it has no raw import for private keys) and leave it as SPKI DER, whose last 32
// bytes are the raw public key. generateKeyPair keeps drawing keys until one is a rovy key (its
// address is in fc00::/8; see address.ts), about 256 draws on average.
//
// Why not generateKeyPairSync('x25519') and a JWK export: on Node 20 that pair can deadlock the
// process. Exporting a generated key as JWK holds the key's mutex while allocating; if that
// allocation runs a garbage collection which frees the key's generation job, the job's destructor
// waits for the same mutex forever (seen here under test: main thread in futex_wait inside
// ~KeyGenJob, called from ExportJWKEdKey). Keys we import ourselves have no generation job.
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { isRovyKey } from './address.js';

export interface KeyPair {
  /** The 32-byte X25519 private key (secret). */
  privateKey: Uint8Array;
  /** The 32-byte X25519 public key: the node's identity. */
  publicKey: Uint8Array;
}

/** PKCS#8 header of an X25519 private key (RFC 8410): the 32 raw key bytes follow it. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
/** SPKI header of an X25519 public key (RFC 8410): the 32 raw key bytes follow it. */
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** A fresh random key pair whose address is in fc00::/8. */
export function generateKeyPair(): KeyPair {
  for (;;) {
    const privateKey = new Uint8Array(randomBytes(32));
    privateKey[0] &= 248;
    privateKey[31] = (privateKey[31] & 127) | 64;
    const publicKey = publicKeyFromPrivate(privateKey);
    if (isRovyKey(publicKey)) return { privateKey, publicKey };
    privateKey.fill(0);
  }
}

/** The X25519 public key of a 32-byte private key. */
export function publicKeyFromPrivate(privateKey: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' });
  if (spki.length !== SPKI_X25519_PREFIX.length + 32 || !spki.subarray(0, SPKI_X25519_PREFIX.length).equals(SPKI_X25519_PREFIX)) {
    throw new Error('node:crypto exported an X25519 public key in an unexpected form');
  }
  return new Uint8Array(spki.subarray(SPKI_X25519_PREFIX.length));
}

/** A node:crypto KeyObject for a raw 32-byte X25519 private key (for diffieHellman and the like). */
export function privateKeyObject(privateKey: Uint8Array): KeyObject {
  if (privateKey.length !== 32) {
    throw new Error(`an X25519 private key is 32 bytes, got ${privateKey.length}`);
  }
  const der = Buffer.concat([PKCS8_X25519_PREFIX, privateKey]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}
