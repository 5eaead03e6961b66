// Noise CipherState (spec §5.1): a ChaCha20-Poly1305 key with a message counter used as nonce.
// Used inside the handshake, and by tests for Noise transport messages after split(); rovy's data
// plane carries the counter explicitly in each transport header instead (see session/).
import { aeadOpen, aeadSeal, wipe } from './primitives.js';

export class CipherState {
  private key: Uint8Array | null;
  private counter = 0;

  constructor(key: Uint8Array | null = null) {
    this.key = key;
  }

  get hasKey(): boolean {
    return this.key !== null;
  }

  /** The nonce the next encryption or decryption will use. */
  get nonce(): number {
    return this.counter;
  }

  /** Installs a new key and restarts the nonce at zero (Noise InitializeKey). */
  initializeKey(key: Uint8Array | null): void {
    wipe(this.key);
    this.key = key;
    this.counter = 0;
  }

  /** Encrypts under the current nonce and advances it; without a key, returns the plaintext. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.key === null) return plaintext.slice();
    const out = aeadSeal(this.key, this.counter, plaintext, ad);
    this.counter++;
    return out;
  }

  /** Decrypts under the current nonce and advances it on success; null (nonce unchanged) when
   *  authentication fails. Without a key, returns the input. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    if (this.key === null) return ciphertext.slice();
    const out = aeadOpen(this.key, this.counter, ciphertext, ad);
    if (out !== null) this.counter++;
    return out;
  }

  /** A copy with its own key buffer (for transactional handshake reads). */
  clone(): CipherState {
    const c = new CipherState(this.key === null ? null : new Uint8Array(this.key));
    c.counter = this.counter;
    return c;
  }

  wipe(): void {
    wipe(this.key);
    this.key = null;
    this.counter = 0;
  }
}
