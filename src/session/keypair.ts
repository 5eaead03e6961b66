// One direction-pair of transport keys from one completed handshake, with its counters and
// replay window. The keys live in native memory (AeadKey) and are wiped by destroy().
import { AeadKey } from './aead.js';
import { ReplayWindow } from './replay.js';
import type { TransportKeys } from '../noise/handshake.js';
import { REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME_MS } from './constants.js';

export class Keypair {
  readonly send: AeadKey;
  readonly receive: AeadKey;
  readonly replay = new ReplayWindow();
  /** Next counter to send with; transport nonces never repeat under one key. */
  sendCounter = 0;
  private destroyed = false;

  constructor(
    keys: TransportKeys,
    readonly localIndex: number,
    readonly remoteIndex: number,
    readonly isInitiator: boolean,
    /** Monotonic ms (performance.now()) when the handshake completed. */
    readonly createdAt: number,
  ) {
    this.send = new AeadKey(keys.send, true);
    this.receive = new AeadKey(keys.receive, false);
    keys.send.fill(0);
    keys.receive.fill(0);
  }

  /** Usable for sending or receiving at `now`: not too old, counter not exhausted. */
  usable(now: number): boolean {
    return !this.destroyed && now - this.createdAt < REJECT_AFTER_TIME_MS && this.sendCounter < REJECT_AFTER_MESSAGES;
  }

  /** Still accepted for receiving at `now`: not destroyed and younger than REJECT_AFTER_TIME. */
  receivable(now: number): boolean {
    return !this.destroyed && now - this.createdAt < REJECT_AFTER_TIME_MS;
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.send.destroy();
    this.receive.destroy();
  }
}
