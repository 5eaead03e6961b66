// X25519 key pairs for rovy nodes: random X25519 keys (keys/x25519.ts), drawn until one is a
// rovy key — its address is in fc00::/8 (see address.ts) — about 256 draws on average, as rovy's
// Go prototype does. A private key is 32 random bytes clamped as RFC 7748 §5 describes.
import { isRovyKey } from './address.js';
import { publicKeyOf, randomKeyPair, forgetPrivateKey, type KeyPair } from './x25519.js';

export type { KeyPair };

/** A fresh random key pair whose address is in fc00::/8. */
export function generateKeyPair(): KeyPair {
  for (;;) {
    const pair = randomKeyPair();
    if (isRovyKey(pair.publicKey)) return pair;
    pair.privateKey.fill(0);
    forgetPrivateKey(pair.privateKey);
  }
}

/** The X25519 public key of a 32-byte private key. */
export const publicKeyFromPrivate = publicKeyOf;
