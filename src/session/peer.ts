// What the node knows about one remote node: its key and address, where to reach it, its
// keypairs (previous, current, next — WireGuard's rotation), the handshake in flight, the
// packets waiting for a session, and the times its timers are computed from.
import type { Initiation } from '../noise/handshake.js';
import { MacGenerator } from '../noise/cookie.js';
import type { Keypair } from './keypair.js';
import { MAX_STAGED_PACKETS } from './constants.js';

export interface PeerOptions {
  publicKey: Uint8Array;
  peerId: string;
  /** The peer's fc00::/8 address, 16 bytes. */
  address: Uint8Array;
  addressText: string;
  /** Endpoint area bytes (see transport/udp.ts), or null until the peer reaches us. */
  endpoint: Uint8Array | null;
  psk: Uint8Array;
  /** Persistent keepalive interval in ms, 0 = off. */
  keepaliveMs: number;
}

export interface PendingHandshake {
  initiation: Initiation;
  localIndex: number;
  /** Monotonic ms of the last (re)transmission and of the first attempt in this round. */
  sentAt: number;
  attemptStartedAt: number;
  /** Whether the initiation had a mac2 (a fresh cookie from the peer): if so, a cookie reply to
   *  it waits for the retransmission timer rather than bringing it forward. */
  carriedCookie: boolean;
  /** Jittered delay before the next retransmission. */
  retryAfterMs: number;
}

export class Peer {
  readonly publicKey: Uint8Array;
  readonly peerId: string;
  readonly address: Uint8Array;
  readonly addressText: string;
  readonly macs: MacGenerator;
  psk: Uint8Array;
  keepaliveMs: number;
  /** 32-byte endpoint area (family, port, address) packets to this peer go to. */
  endpoint: Uint8Array | null;
  /** The endpoint the configuration names, to tell a changed config from a roamed peer. */
  configuredEndpoint: Uint8Array | null = null;

  current: Keypair | null = null;
  previous: Keypair | null = null;
  next: Keypair | null = null;
  handshake: PendingHandshake | null = null;

  /** Greatest TAI64N timestamp accepted from this peer's initiations (replay protection). */
  latestTimestamp: Uint8Array | null = null;
  lastInitiationReceivedAt = -Infinity;
  /** Monotonic ms of the last initiation we sent (new or retransmitted). */
  lastInitiationSentAt = -Infinity;

  /** Packets that arrived from the TUN before a session existed (copies, oldest first). */
  readonly staged: Uint8Array[] = [];

  // Monotonic ms timestamps the timers work from (-Infinity = never).
  lastSentAt = -Infinity;
  lastReceivedAt = -Infinity;
  lastHandshakeAt = -Infinity;
  /** Wall-clock ms of the last completed handshake, for people and APIs. */
  lastHandshakeWallMs = 0;
  /** Set when data was sent and nothing came back yet: a new handshake is due if it stays so. */
  awaitingReplySince = -Infinity;
  /** Set when data came in and we have sent nothing since: a keepalive is due if it stays so. */
  owesKeepaliveSince = -Infinity;
  /** Monotonic ms of the last packet or routed message from this neighbour (not control
   *  traffic): the link layer asks a neighbour that falls silent after sending it for an echo. */
  trafficReceivedAt = -Infinity;

  /** Round trip of the last handshake (initiation to response, or response to first use), ms. */
  rttMs = 0;
  responseSentAt = -Infinity;

  rxBytes = 0;
  txBytes = 0;

  /** The node's interface index for this peer when it is a neighbour (1–65535; 0 = none): what
   *  route labels name it by. Kept here so the forwarding path reads it without a lookup. */
  link = 0;

  constructor(options: PeerOptions) {
    this.publicKey = options.publicKey;
    this.peerId = options.peerId;
    this.address = options.address;
    this.addressText = options.addressText;
    this.endpoint = options.endpoint;
    this.psk = options.psk;
    this.keepaliveMs = options.keepaliveMs;
    this.macs = new MacGenerator(options.publicKey);
  }

  /** Keeps a copy of a packet until a session exists; the oldest is dropped when full. */
  stage(packet: Uint8Array): void {
    if (this.staged.length >= MAX_STAGED_PACKETS) this.staged.shift();
    this.staged.push(packet.slice());
  }

  get isUp(): boolean {
    return this.current !== null && !this.current.isDestroyed;
  }
}
