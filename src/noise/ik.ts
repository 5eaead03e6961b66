// A Noise handshake state (spec §5.3) for the IK family: IK and its deferred form IK1, each with an
// optional psk modifier at position 0, 1 or 2, any prologue and payloads, and injectable ephemeral
// keys. It walks the pattern's tokens; rovy's WireGuard-style handshake (handshake.ts) is IKpsk2.
import { KEY_SIZE, TAG_SIZE } from './constants.js';
import { dh, generateKeyPair, wipe, type KeyPair } from './primitives.js';
import { SymmetricState } from './symmetric.js';

export type IkPattern = 'IK' | 'IK1';
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';

// Noise spec §7.5 (IK) and §7.7 (IK1: the responder's static is used in a DH only in message 2).
// Both have the pre-message "<- s": the initiator knows the responder's static key beforehand.
const PATTERNS: Record<IkPattern, readonly (readonly Token[])[]> = {
  IK: [
    ['e', 'es', 's', 'ss'],
    ['e', 'ee', 'se'],
  ],
  IK1: [
    ['e', 's'],
    ['e', 'ee', 'se', 'es'],
  ],
};

export interface IkOptions {
  /** 'IK' unless told. */
  pattern?: IkPattern;
  initiator: boolean;
  /** Mixed into h before anything else; empty unless given. */
  prologue?: Uint8Array;
  /** This side's static key pair. */
  staticKeys: KeyPair;
  /** The responder's static public key: required on the initiator (the "<- s" pre-message). */
  remoteStatic?: Uint8Array;
  /** A fixed ephemeral key pair (test vectors); a fresh one is generated when absent. */
  ephemeral?: KeyPair;
  /** The pre-shared key of a psk handshake (32 bytes); requires pskPosition. It may instead be
   *  given later with setPsk(), e.g. by a responder that learns who the initiator is first. */
  psk?: Uint8Array;
  /** The psk modifier: 0 puts the psk token first in message 1, n > 0 last in message n. */
  pskPosition?: 0 | 1 | 2;
}

/** "Noise_<pattern>[psk<n>]_25519_ChaChaPoly_BLAKE2s". */
export function ikProtocolName(pattern: IkPattern, pskPosition?: number | null): string {
  const psk = pskPosition === undefined || pskPosition === null ? '' : `psk${pskPosition}`;
  return `Noise_${pattern}${psk}_25519_ChaChaPoly_BLAKE2s`;
}

/** The pattern and psk position of an IK-family protocol name this module implements, or null. */
export function parseIkProtocolName(name: string): { pattern: IkPattern; pskPosition: 0 | 1 | 2 | null } | null {
  const m = /^Noise_(IK1?)(?:psk([012]))?_25519_ChaChaPoly_BLAKE2s$/.exec(name);
  if (!m) return null;
  const pattern = m[1] as IkPattern;
  const pskPosition = m[2] === undefined ? null : (Number(m[2]) as 0 | 1 | 2);
  return { pattern, pskPosition };
}

/** The pattern's message token lists with the psk modifier applied (Noise spec §9.2). */
function messagePatterns(pattern: IkPattern, pskPosition: number | null): Token[][] {
  const msgs = PATTERNS[pattern].map((m) => [...m]);
  if (pskPosition === null) return msgs;
  if (pskPosition === 0) msgs[0]!.unshift('psk');
  else if (pskPosition <= msgs.length) msgs[pskPosition - 1]!.push('psk');
  else throw new RangeError(`psk${pskPosition} is past the last message of ${pattern}`);
  return msgs;
}

function checkLength(key: Uint8Array, what: string): void {
  if (key.length !== KEY_SIZE) throw new RangeError(`${what} must be ${KEY_SIZE} bytes`);
}

export class HandshakeState {
  readonly protocolName: string;
  readonly initiator: boolean;
  private readonly messages: Token[][];
  private readonly hasPsk: boolean;
  private symmetric: SymmetricState;
  private readonly s: KeyPair;
  private e: KeyPair | null = null;
  private readonly injectedEphemeral: KeyPair | null;
  private rs: Uint8Array | null;
  private re: Uint8Array | null = null;
  private psk: Uint8Array | null;
  private index = 0;

  constructor(options: IkOptions) {
    const pattern = options.pattern ?? 'IK';
    const pskPosition = options.pskPosition ?? null;
    if (options.psk !== undefined && pskPosition === null) throw new TypeError('a psk needs a pskPosition');
    if (options.psk !== undefined) checkLength(options.psk, 'psk');
    checkLength(options.staticKeys.privateKey, 'static private key');
    checkLength(options.staticKeys.publicKey, 'static public key');
    if (options.initiator) {
      if (options.remoteStatic === undefined) throw new TypeError('an IK initiator needs the responder static key');
      checkLength(options.remoteStatic, 'remote static key');
    }
    this.protocolName = ikProtocolName(pattern, pskPosition);
    this.initiator = options.initiator;
    this.messages = messagePatterns(pattern, pskPosition);
    this.hasPsk = pskPosition !== null;
    this.psk = options.psk ?? null;
    this.s = options.staticKeys;
    this.injectedEphemeral = options.ephemeral ?? null;
    this.rs = options.initiator ? new Uint8Array(options.remoteStatic!) : null;

    this.symmetric = new SymmetricState(this.protocolName);
    this.symmetric.mixHash(options.prologue ?? new Uint8Array(0));
    // Pre-message "<- s": both sides hash the responder's static public key.
    this.symmetric.mixHash(options.initiator ? this.rs! : this.s.publicKey);
  }

  /** Supplies (or replaces) the psk; it must be known before its token is processed. */
  setPsk(psk: Uint8Array): void {
    if (!this.hasPsk) throw new Error(`${this.protocolName} has no psk`);
    checkLength(psk, 'psk');
    this.psk = psk;
  }

  /** True once every handshake message has been written or read. */
  get isComplete(): boolean {
    return this.index >= this.messages.length;
  }

  /** True when the next handshake message is ours to write. */
  get isMyTurn(): boolean {
    return !this.isComplete && (this.index % 2 === 0) === this.initiator;
  }

  /** The peer's static public key, once known. */
  get remoteStatic(): Uint8Array | null {
    return this.rs;
  }

  get remoteEphemeral(): Uint8Array | null {
    return this.re;
  }

  /** Our ephemeral public key, once written. */
  get localEphemeral(): Uint8Array | null {
    return this.e?.publicKey ?? null;
  }

  /** h: after the last message, the handshake hash (Noise spec §11.2, channel binding). */
  get handshakeHash(): Uint8Array {
    return this.symmetric.handshakeHash;
  }

  /** Writes the next handshake message carrying `payload`. Throws when it is not our turn or a
   *  Diffie-Hellman with the peer's key gives zero (a key that cannot be valid). */
  writeMessage(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    if (!this.isMyTurn) throw new Error('not our turn to write a handshake message');
    const parts: Uint8Array[] = [];
    for (const token of this.messages[this.index]!) {
      switch (token) {
        case 'e': {
          this.e = this.injectedEphemeral ?? generateKeyPair();
          parts.push(new Uint8Array(this.e.publicKey));
          this.symmetric.mixHash(this.e.publicKey);
          if (this.hasPsk) this.symmetric.mixKey(this.e.publicKey);
          break;
        }
        case 's':
          parts.push(this.symmetric.encryptAndHash(this.s.publicKey));
          break;
        case 'psk':
          if (this.psk === null) throw new Error('psk token reached before a psk was given');
          this.symmetric.mixKeyAndHash(this.psk);
          break;
        default: {
          const shared = this.dhToken(token, this.re, this.rs);
          if (shared === null) throw new Error(`Diffie-Hellman "${token}" gave zero: invalid peer key`);
          this.symmetric.mixKey(shared);
          wipe(shared);
        }
      }
    }
    parts.push(this.symmetric.encryptAndHash(payload));
    this.index++;
    return concat(parts);
  }

  /** Reads the peer's next handshake message and returns its payload; null when it is not the
   *  peer's turn, the message is malformed or fails authentication. On null nothing changed, so
   *  a forged message cannot spoil a handshake in progress. */
  readMessage(message: Uint8Array): Uint8Array | null {
    if (this.isComplete || this.isMyTurn) return null;
    const sym = this.symmetric.clone();
    let re = this.re;
    let rs = this.rs;
    let offset = 0;
    for (const token of this.messages[this.index]!) {
      switch (token) {
        case 'e': {
          if (message.length - offset < KEY_SIZE) return fail(sym);
          re = message.slice(offset, offset + KEY_SIZE);
          offset += KEY_SIZE;
          sym.mixHash(re);
          if (this.hasPsk) sym.mixKey(re);
          break;
        }
        case 's': {
          const len = KEY_SIZE + (sym.hasKey ? TAG_SIZE : 0);
          if (message.length - offset < len) return fail(sym);
          const decrypted = sym.decryptAndHash(message.subarray(offset, offset + len));
          if (decrypted === null) return fail(sym);
          rs = decrypted;
          offset += len;
          break;
        }
        case 'psk':
          if (this.psk === null) throw new Error('psk token reached before a psk was given');
          sym.mixKeyAndHash(this.psk);
          break;
        default: {
          const shared = this.dhToken(token, re, rs);
          if (shared === null) return fail(sym);
          sym.mixKey(shared);
          wipe(shared);
        }
      }
    }
    const body = message.subarray(offset);
    if (sym.hasKey && body.length < TAG_SIZE) return fail(sym);
    const payload = sym.decryptAndHash(body);
    if (payload === null) return fail(sym);
    this.symmetric.wipe();
    this.symmetric = sym;
    this.re = re;
    this.rs = rs;
    this.index++;
    return payload;
  }

  /** Split (Noise spec §5.2) oriented for this side: the key it sends with and the key it
   *  receives with. Only after the last message. */
  split(): { send: Uint8Array; receive: Uint8Array } {
    if (!this.isComplete) throw new Error('handshake not complete');
    const [k1, k2] = this.symmetric.split();
    return this.initiator ? { send: k1, receive: k2 } : { send: k2, receive: k1 };
  }

  /** Forgets every secret this state holds (the static key belongs to the caller and stays). */
  wipe(): void {
    this.symmetric.wipe();
    if (this.e !== null && this.e !== this.injectedEphemeral) wipe(this.e.privateKey);
    this.e = null;
  }

  // The four DH tokens, from this side's point of view: in "es" the initiator contributes its
  // ephemeral and the responder its static; "se" is the reverse (Noise spec §7.1).
  private dhToken(token: Token, re: Uint8Array | null, rs: Uint8Array | null): Uint8Array | null {
    const e = this.e;
    const s = this.s;
    let priv: Uint8Array | undefined;
    let pub: Uint8Array | null = null;
    switch (token) {
      case 'ee':
        priv = e?.privateKey;
        pub = re;
        break;
      case 'ss':
        priv = s.privateKey;
        pub = rs;
        break;
      case 'es':
        if (this.initiator) {
          priv = e?.privateKey;
          pub = rs;
        } else {
          priv = s.privateKey;
          pub = re;
        }
        break;
      case 'se':
        if (this.initiator) {
          priv = s.privateKey;
          pub = re;
        } else {
          priv = e?.privateKey;
          pub = rs;
        }
        break;
      default:
        throw new Error(`not a DH token: ${token}`);
    }
    if (priv === undefined || pub === null) throw new Error(`token "${token}" before its keys are known`);
    return dh(priv, pub);
  }
}

function fail(sym: SymmetricState): null {
  sym.wipe();
  return null;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
