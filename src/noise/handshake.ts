// rovy's session handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s framed as WireGuard's
// initiation and response (paper §5.4.2–5.4.5). The initiator sends its static key and a TAI64N
// timestamp; the responder answers with an empty payload; both derive two transport keys.
// mac1/mac2 are not computed here: messages leave with zero MACs for cookie.ts to fill, and the
// caller checks mac1 (cookie.ts) before handing a message here, so no unauthenticated packet
// costs a Diffie-Hellman.
import { CONSTRUCTION, IDENTIFIER, TIMESTAMP_SIZE } from './constants.js';
import { HandshakeState } from './ik.js';
import { decodeInitiation, decodeResponse, encodeInitiation, encodeResponse, INITIATION, RESPONSE } from './messages.js';
import type { KeyPair } from './primitives.js';

export interface StaticIdentity {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** The two ChaCha20-Poly1305 keys of a session, 32 bytes each, from this side's point of view. */
export interface TransportKeys {
  send: Uint8Array;
  receive: Uint8Array;
}

// In Noise terms IDENTIFIER is the prologue: InitializeSymmetric(CONSTRUCTION) then
// MixHash(IDENTIFIER) then the pre-message MixHash(responder static), which is exactly
// WireGuard's "Hi = HASH(HASH(Ci || IDENTIFIER) || Sr_pub)" with rovy's identifier.
const PROLOGUE = new TextEncoder().encode(IDENTIFIER);
const PSK_POSITION = 2;

function newState(initiator: boolean, local: StaticIdentity, remoteStatic?: Uint8Array, psk?: Uint8Array, ephemeral?: KeyPair): HandshakeState {
  const hs = new HandshakeState({
    pattern: 'IK',
    initiator,
    prologue: PROLOGUE,
    staticKeys: local,
    pskPosition: PSK_POSITION,
    ...(remoteStatic ? { remoteStatic } : {}),
    ...(psk ? { psk } : {}),
    ...(ephemeral ? { ephemeral } : {}),
  });
  if (hs.protocolName !== CONSTRUCTION) throw new Error(`handshake built ${hs.protocolName}, not ${CONSTRUCTION}`);
  return hs;
}

/** The initiator's half of one handshake: the initiation it sent and the state to finish it. */
export class Initiation {
  /** The 148-byte initiation, mac1 and mac2 zero (MacGenerator.addMacs fills them in place). */
  readonly message: Uint8Array;
  readonly senderIndex: number;
  private state: HandshakeState | null;

  private constructor(state: HandshakeState, message: Uint8Array, senderIndex: number) {
    this.state = state;
    this.message = message;
    this.senderIndex = senderIndex;
  }

  /** Builds an initiation from `local` to the peer whose static public key is `remoteStatic`.
   *  `senderIndex` is our index for this handshake (u32); `timestamp` a 12-byte TAI64N label.
   *  `ephemeral` fixes the ephemeral key pair (tests only). */
  static create(
    local: StaticIdentity,
    remoteStatic: Uint8Array,
    psk: Uint8Array,
    senderIndex: number,
    timestamp: Uint8Array,
    ephemeral?: KeyPair,
  ): Initiation {
    if (timestamp.length !== TIMESTAMP_SIZE) throw new RangeError(`timestamp must be ${TIMESTAMP_SIZE} bytes`);
    const hs = newState(true, local, remoteStatic, psk, ephemeral);
    // Noise message 1 is e (32) || encrypted s (48) || encrypted timestamp (28): exactly the
    // initiation's bytes from its ephemeral field to its mac1 field.
    const body = hs.writeMessage(timestamp);
    const o = INITIATION;
    const message = encodeInitiation({
      senderIndex,
      ephemeral: body.subarray(0, o.encryptedStatic - o.ephemeral),
      encryptedStatic: body.subarray(o.encryptedStatic - o.ephemeral, o.encryptedTimestamp - o.ephemeral),
      encryptedTimestamp: body.subarray(o.encryptedTimestamp - o.ephemeral),
    });
    return new Initiation(hs, message, senderIndex);
  }

  /** Finishes the handshake with the responder's response (92 bytes; its mac1 already checked by
   *  the caller). Null rejects it: wrong type or size, not addressed to our sender index, or not
   *  authentic; the initiation then stays ready for the genuine response. Succeeds at most once:
   *  afterwards the handshake secrets are wiped and every call returns null. */
  consumeResponse(msg: Uint8Array): { remoteIndex: number; keys: TransportKeys } | null {
    const hs = this.state;
    if (hs === null) return null;
    const decoded = decodeResponse(msg);
    if (decoded === null || decoded.receiverIndex !== this.senderIndex) return null;
    // Noise message 2 is e (32) || encrypted empty payload (16): the response's ephemeral and
    // "encrypted nothing" fields, which are contiguous.
    const payload = hs.readMessage(msg.subarray(RESPONSE.ephemeral, RESPONSE.mac1));
    if (payload === null || payload.length !== 0) return null;
    const keys = hs.split();
    this.wipe();
    return { remoteIndex: decoded.senderIndex, keys };
  }

  /** True until consumeResponse succeeded or wipe() was called. */
  get isPending(): boolean {
    return this.state !== null;
  }

  /** Forgets the handshake secrets (the ephemeral key, chaining key and hash). */
  wipe(): void {
    this.state?.wipe();
    this.state = null;
  }
}

/** A verified initiation, as consumeInitiation returns it. */
export interface ConsumedInitiation {
  /** The initiator's static public key, authenticated by the handshake. */
  remoteStatic: Uint8Array;
  /** The initiator's sender index: the receiver index of our response and transport messages. */
  remoteIndex: number;
  /** The decrypted 12-byte TAI64N timestamp; the caller refuses it unless it is later than the
   *  last one accepted from this peer (tai64nAfter). */
  timestamp: Uint8Array;
  /** Writes the 92-byte response (MACs zero) with the psk configured for remoteStatic and our
   *  index for this session, and returns it with the transport keys. Once only: a second call
   *  throws. */
  respond(psk: Uint8Array, senderIndex: number): { message: Uint8Array; keys: TransportKeys };
  /** Forgets the handshake secrets without responding. */
  wipe(): void;
}

/** Reads an initiation (148 bytes; mac1 already checked by the caller) addressed to `local`.
 *  Null when it is malformed or does not decrypt: sent to another static key, tampered with, or
 *  not a Noise initiation at all. Whether remoteStatic is a known peer and the timestamp is new
 *  is for the caller to decide before it calls respond(). `ephemeral` fixes the ephemeral key
 *  pair of the response (tests only). */
export function consumeInitiation(local: StaticIdentity, msg: Uint8Array, ephemeral?: KeyPair): ConsumedInitiation | null {
  const decoded = decodeInitiation(msg);
  if (decoded === null) return null;
  let hs: HandshakeState | null = newState(false, local, undefined, undefined, ephemeral);
  const payload = hs.readMessage(msg.subarray(INITIATION.ephemeral, INITIATION.mac1));
  const remoteStatic = hs.remoteStatic;
  if (payload === null || payload.length !== TIMESTAMP_SIZE || remoteStatic === null) {
    hs.wipe();
    return null;
  }
  const remoteIndex = decoded.senderIndex;
  return {
    remoteStatic: new Uint8Array(remoteStatic),
    remoteIndex,
    timestamp: payload,
    respond(psk: Uint8Array, senderIndex: number): { message: Uint8Array; keys: TransportKeys } {
      if (hs === null) throw new Error('this initiation was already answered or wiped');
      const state = hs;
      hs = null;
      try {
        state.setPsk(psk);
        const body = state.writeMessage(new Uint8Array(0));
        const e = RESPONSE.encryptedNothing - RESPONSE.ephemeral;
        const message = encodeResponse({
          senderIndex,
          receiverIndex: remoteIndex,
          ephemeral: body.subarray(0, e),
          encryptedNothing: body.subarray(e),
        });
        return { message, keys: state.split() };
      } finally {
        state.wipe();
      }
    },
    wipe(): void {
      hs?.wipe();
      hs = null;
    },
  };
}
