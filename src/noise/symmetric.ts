// Noise SymmetricState (spec §5.2): the chaining key ck, the handshake hash h and the current
// handshake CipherState, with the Mix*/EncryptAndHash/DecryptAndHash/Split operations, instantiated
// with BLAKE2s (HASHLEN 32) and ChaCha20-Poly1305.
import { CipherState } from './cipher-state.js';
import { HASH_SIZE } from './constants.js';
import { hash, hkdf, wipe } from './primitives.js';

const EMPTY = new Uint8Array(0);

export class SymmetricState {
  /** Chaining key. */
  private ck: Uint8Array;
  /** Handshake hash. */
  private h: Uint8Array;
  private cipher: CipherState;

  /** InitializeSymmetric(protocolName): h = name padded to 32 bytes, or HASH(name) if longer;
   *  ck = h; no key. */
  constructor(protocolName: string | Uint8Array) {
    const name = typeof protocolName === 'string' ? new TextEncoder().encode(protocolName) : protocolName;
    if (name.length <= HASH_SIZE) {
      this.h = new Uint8Array(HASH_SIZE);
      this.h.set(name);
    } else {
      this.h = hash(name);
    }
    this.ck = new Uint8Array(this.h);
    this.cipher = new CipherState();
  }

  /** The current handshake hash h (a copy). After the last message it is the value Noise calls
   *  the handshake hash, usable for channel binding. */
  get handshakeHash(): Uint8Array {
    return new Uint8Array(this.h);
  }

  /** The current chaining key (a copy; for tests and diagnostics). */
  get chainingKey(): Uint8Array {
    return new Uint8Array(this.ck);
  }

  get hasKey(): boolean {
    return this.cipher.hasKey;
  }

  /** MixKey(ikm): (ck, k) = HKDF(ck, ikm, 2); the handshake cipher takes k with nonce 0. */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, k] = hkdf(this.ck, inputKeyMaterial, 2);
    wipe(this.ck);
    this.ck = ck;
    this.cipher.initializeKey(k);
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    const h = hash(this.h, data);
    this.h = h;
  }

  /** MixKeyAndHash(ikm) (psk tokens): (ck, t, k) = HKDF(ck, ikm, 3); MixHash(t); key k. */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [ck, t, k] = hkdf(this.ck, inputKeyMaterial, 3);
    wipe(this.ck);
    this.ck = ck;
    this.mixHash(t);
    wipe(t);
    this.cipher.initializeKey(k);
  }

  /** EncryptAndHash(p): c = ENCRYPT(k, n++, h, p) (or p without a key); MixHash(c); returns c. */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const c = this.cipher.encryptWithAd(this.h, plaintext);
    this.mixHash(c);
    return c;
  }

  /** DecryptAndHash(c): p = DECRYPT(k, n++, h, c) (or c without a key); MixHash(c); returns p,
   *  or null on an authentication failure (then this state must be discarded). */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array | null {
    const p = this.cipher.decryptWithAd(this.h, ciphertext);
    if (p === null) return null;
    this.mixHash(ciphertext);
    return p;
  }

  /** Split(): (k1, k2) = HKDF(ck, empty, 2). k1 encrypts initiator to responder, k2 the reverse. */
  split(): [Uint8Array, Uint8Array] {
    return hkdf(this.ck, EMPTY, 2);
  }

  /** An independent copy, so a handshake read can be attempted and dropped on failure. */
  clone(): SymmetricState {
    const copy = new SymmetricState(EMPTY);
    copy.ck = new Uint8Array(this.ck);
    copy.h = new Uint8Array(this.h);
    copy.cipher = this.cipher.clone();
    return copy;
  }

  wipe(): void {
    wipe(this.ck);
    wipe(this.h);
    this.cipher.wipe();
  }
}
