// The session layer's control plane: handshakes, cookies, keypair rotation and every per-peer
// timer. The data plane (node/send.ts, node/receive.ts) asks it which keypair to use and tells it
// what passed; everything slow or rare happens here, one message at a time.
//
// Handshake datagrams are checked cheapest first: length and type, then mac1 (one keyed hash;
// nothing is ever sent in answer to a message without a valid mac1), then — only while under
// load — mac2 and a per-source rate limit, and only then the Diffie-Hellman work.
import { randomInt } from 'node:crypto';
import { Initiation, consumeInitiation, type StaticIdentity } from '../noise/handshake.js';
import { MacChecker } from '../noise/cookie.js';
import { tai64nAfter, tai64nNow } from '../noise/tai64n.js';
import { MESSAGE_INITIATION, MESSAGE_RESPONSE, MESSAGE_COOKIE_REPLY } from '../noise/constants.js';
import { INITIATION_SIZE, RESPONSE_SIZE, COOKIE_REPLY_SIZE } from '../noise/constants.js';
import type { Counters } from '../util/counters.js';
import { IndexTable } from './index-table.js';
import { Keypair } from './keypair.js';
import type { Peer } from './peer.js';
import { RateLimiter } from './ratelimiter.js';
import * as c from './constants.js';

/** What an index in the table points at: a peer, and its keypair once the handshake is done. */
export interface IndexEntry {
  readonly peer: Peer;
  keypair: Keypair | null;
}

export interface SessionEvents {
  /** Sends one control datagram to a 32-byte endpoint area. */
  sendDatagram(endpoint: Uint8Array, message: Uint8Array): void;
  /** A peer has a fresh current keypair: flush what waited for it. */
  sessionUp(peer: Peer, firstSession: boolean): void;
  /** A peer has no usable keypair any more. */
  sessionDown(peer: Peer): void;
}

export interface SessionManagerOptions {
  /** Handshake messages per second that count as load (tests lower it). */
  underLoadThreshold?: number;
  /** Monotonic clock in ms; injectable for tests. */
  now?: () => number;
  /** Wall clock in ms, for TAI64N timestamps; injectable for tests. */
  wallNow?: () => number;
}

const HEADER = 16;
const TAG = 16;

export class SessionManager {
  readonly indices = new IndexTable<IndexEntry>();
  private readonly peers = new Map<string, Peer>();
  private readonly checker: MacChecker;
  private readonly limiter = new RateLimiter(c.HANDSHAKES_PER_SOURCE_PER_SECOND, c.HANDSHAKE_BURST_PER_SOURCE);
  private readonly underLoadThreshold: number;
  private handshakeWindowStart = 0;
  private handshakesInWindow = 0;
  private underLoadUntil = -Infinity;
  /** Scratch buffer for single transport messages (keepalives, staged packets). */
  private scratch = new Uint8Array(2048);
  readonly now: () => number;
  private readonly wallNow: () => number;

  constructor(
    readonly identity: StaticIdentity,
    private readonly events: SessionEvents,
    private readonly counters: Counters,
    options: SessionManagerOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.wallNow = options.wallNow ?? Date.now;
    this.checker = new MacChecker(identity.publicKey, { now: this.now });
    this.underLoadThreshold = options.underLoadThreshold ?? c.UNDER_LOAD_HANDSHAKES_PER_SECOND;
  }

  // ---- peers -------------------------------------------------------------------------------

  addPeer(peer: Peer): void {
    this.peers.set(keyOf(peer.publicKey), peer);
  }

  getPeer(publicKey: Uint8Array): Peer | undefined {
    return this.peers.get(keyOf(publicKey));
  }

  allPeers(): IterableIterator<Peer> {
    return this.peers.values();
  }

  /** Forgets a peer: wipes its keys and frees its indices. */
  removePeer(peer: Peer): void {
    this.clearHandshake(peer);
    const wasUp = peer.isUp;
    for (const kp of [peer.previous, peer.current, peer.next]) this.dropKeypair(kp);
    peer.previous = peer.current = peer.next = null;
    peer.staged.length = 0;
    this.peers.delete(keyOf(peer.publicKey));
    if (wasUp) this.events.sessionDown(peer);
  }

  // ---- handshake messages ------------------------------------------------------------------

  /** Handles a datagram of type 1, 2 or 3 from `source` (a 32-byte endpoint area). */
  handleHandshake(message: Uint8Array, source: Uint8Array): void {
    const type = message[0];
    const expected =
      type === MESSAGE_INITIATION ? INITIATION_SIZE : type === MESSAGE_RESPONSE ? RESPONSE_SIZE : type === MESSAGE_COOKIE_REPLY ? COOKIE_REPLY_SIZE : -1;
    if (message.length !== expected || message[1] !== 0 || message[2] !== 0 || message[3] !== 0) {
      this.counters.malformed++;
      return;
    }
    if (type === MESSAGE_COOKIE_REPLY) return this.handleCookieReply(message);

    if (!this.checker.checkMac1(message)) {
      this.counters.invalidMac1++;
      return;
    }
    const now = this.now();
    const sourceId = source.subarray(0, 20);
    if (this.countHandshake(now)) {
      if (!this.checker.checkMac2(message, sourceId)) {
        const senderIndex = readU32(message, 4);
        this.events.sendDatagram(source, this.checker.createCookieReply(message, sourceId, senderIndex));
        this.counters.cookieReplies++;
        return;
      }
      if (!this.limiter.allow(hexOf(sourceId), now)) {
        this.counters.rateLimited++;
        return;
      }
    }
    if (type === MESSAGE_INITIATION) this.handleInitiation(message, source, now);
    else this.handleResponse(message, source, now);
  }

  private handleInitiation(message: Uint8Array, source: Uint8Array, now: number): void {
    const consumed = consumeInitiation(this.identity, message);
    if (!consumed) {
      this.counters.handshakeRejected++;
      return;
    }
    const peer = this.peers.get(keyOf(consumed.remoteStatic));
    if (!peer) {
      this.counters.unknownPeer++;
      return;
    }
    if (peer.latestTimestamp && !tai64nAfter(consumed.timestamp, peer.latestTimestamp)) {
      this.counters.replayedInitiation++;
      return;
    }
    if (now - peer.lastInitiationReceivedAt < c.MIN_INITIATION_INTERVAL_MS) {
      this.counters.rateLimited++;
      return;
    }
    peer.latestTimestamp = consumed.timestamp.slice();
    peer.lastInitiationReceivedAt = now;

    const entry: IndexEntry = { peer, keypair: null };
    const localIndex = this.indices.add(entry);
    const { message: response, keys } = consumed.respond(peer.psk, localIndex);
    peer.macs.addMacs(response);
    const keypair = new Keypair(keys, localIndex, consumed.remoteIndex, false, now);
    entry.keypair = keypair;
    // A responder's keypair waits as "next" until the initiator proves it has it too by sending
    // with it; until then we keep sending with the current one.
    this.dropKeypair(peer.next);
    peer.next = keypair;
    this.setEndpoint(peer, source);
    this.events.sendDatagram(peer.endpoint!, response);
    peer.lastSentAt = now;
  }

  private handleResponse(message: Uint8Array, source: Uint8Array, now: number): void {
    const entry = this.indices.get(readU32(message, 8));
    const peer = entry?.peer;
    const pending = peer?.handshake;
    if (!entry || !peer || !pending || entry.keypair || pending.localIndex !== readU32(message, 8)) {
      this.counters.handshakeRejected++;
      return;
    }
    const result = pending.initiation.consumeResponse(message);
    if (!result) {
      this.counters.handshakeRejected++;
      return;
    }
    pending.initiation.wipe();
    peer.handshake = null;
    const keypair = new Keypair(result.keys, pending.localIndex, result.remoteIndex, true, now);
    entry.keypair = keypair;
    this.setEndpoint(peer, source);
    this.installInitiatorKeypair(peer, keypair);
    this.sessionEstablished(peer, now);
  }

  private handleCookieReply(message: Uint8Array): void {
    const entry = this.indices.get(readU32(message, 4));
    if (!entry || !entry.peer.macs.consumeCookieReply(message)) this.counters.handshakeRejected++;
  }

  /** Counts a handshake message and says whether the node is under load. */
  private countHandshake(now: number): boolean {
    if (now - this.handshakeWindowStart >= 1000) {
      this.handshakeWindowStart = now;
      this.handshakesInWindow = 0;
    }
    if (++this.handshakesInWindow > this.underLoadThreshold) this.underLoadUntil = now + 1000;
    return now < this.underLoadUntil;
  }

  // ---- keypairs ----------------------------------------------------------------------------

  private installInitiatorKeypair(peer: Peer, keypair: Keypair): void {
    // The initiator may use its new keypair at once. An unconfirmed "next" from a crossing
    // handshake becomes "previous" so packets the peer already sent with it still decrypt.
    if (peer.next) {
      this.dropKeypair(peer.previous);
      peer.previous = peer.next;
      peer.next = null;
      this.dropKeypair(peer.current);
    } else {
      this.dropKeypair(peer.previous);
      peer.previous = peer.current;
    }
    peer.current = keypair;
  }

  /**
   * Called by the receive path for every authenticated transport message. Promotes a
   * responder's "next" keypair on first use and keeps the timers' timestamps.
   */
  receivedAuthenticated(entry: IndexEntry, keypair: Keypair, isData: boolean, now: number): void {
    const peer = entry.peer;
    if (keypair === peer.next) {
      this.dropKeypair(peer.previous);
      peer.previous = peer.current;
      peer.current = keypair;
      peer.next = null;
      this.sessionEstablished(peer, now);
    }
    peer.lastReceivedAt = now;
    peer.awaitingReplySince = -Infinity;
    if (isData) {
      peer.lastDataReceivedAt = now;
      if (peer.owesKeepaliveSince === -Infinity) peer.owesKeepaliveSince = now;
    }
    if (keypair === peer.current && keypair.isInitiator && now - keypair.createdAt >= c.REKEY_ON_RECEIVE_AFTER_MS) {
      this.initiate(peer, now);
    }
  }

  /**
   * The keypair to send data to `peer` with, or null (the caller stages the packet: a
   * handshake has been started). Also starts a rekey when the current keypair is due for one.
   */
  sendingKeypair(peer: Peer, now: number): Keypair | null {
    const kp = peer.current;
    if (kp && kp.usable(now)) {
      if (kp.isInitiator && (kp.sendCounter >= c.REKEY_AFTER_MESSAGES || now - kp.createdAt >= c.REKEY_AFTER_TIME_MS)) {
        this.initiate(peer, now);
      }
      return kp;
    }
    this.initiate(peer, now);
    return null;
  }

  /** Bookkeeping after the send path put data packets for `peer` on the wire. */
  sentData(peer: Peer, now: number): void {
    peer.lastSentAt = now;
    peer.lastDataSentAt = now;
    peer.owesKeepaliveSince = -Infinity;
    if (peer.awaitingReplySince === -Infinity) peer.awaitingReplySince = now;
  }

  private sessionEstablished(peer: Peer, now: number): void {
    const first = peer.lastHandshakeAt === -Infinity;
    peer.lastHandshakeAt = now;
    peer.lastHandshakeWallMs = this.wallNow();
    const staged = peer.staged.splice(0);
    for (const packet of staged) this.sendTransport(peer, packet, now);
    // An initiator with nothing to send confirms the session with a keepalive, so the responder
    // can promote its "next" keypair and start sending at once.
    if (staged.length === 0 && peer.current?.isInitiator) this.sendTransport(peer, null, now);
    this.events.sessionUp(peer, first);
  }

  private dropKeypair(kp: Keypair | null): void {
    if (!kp) return;
    this.indices.delete(kp.localIndex);
    kp.destroy();
  }

  private setEndpoint(peer: Peer, source: Uint8Array): void {
    if (!peer.endpoint) peer.endpoint = new Uint8Array(32);
    peer.endpoint.set(source.subarray(0, 32));
  }

  // ---- initiating --------------------------------------------------------------------------

  /** Starts a handshake with `peer` unless one was sent less than REKEY_TIMEOUT ago. */
  initiate(peer: Peer, now: number, retransmit = false): void {
    if (!peer.endpoint) {
      this.counters.noSession++;
      return;
    }
    const pending = peer.handshake;
    if (pending && !retransmit && now - pending.sentAt < c.REKEY_TIMEOUT_MS) return;
    const attemptStartedAt = pending ? pending.attemptStartedAt : now;
    this.clearHandshake(peer);
    const entry: IndexEntry = { peer, keypair: null };
    const localIndex = this.indices.add(entry);
    const initiation = Initiation.create(this.identity, peer.publicKey, peer.psk, localIndex, tai64nNow(this.wallNow()));
    peer.macs.addMacs(initiation.message);
    peer.handshake = {
      initiation,
      localIndex,
      sentAt: now,
      attemptStartedAt,
      retryAfterMs: c.REKEY_TIMEOUT_MS + randomInt(c.REKEY_JITTER_MS),
    };
    this.events.sendDatagram(peer.endpoint, initiation.message);
    peer.lastSentAt = now;
  }

  private clearHandshake(peer: Peer): void {
    const pending = peer.handshake;
    if (!pending) return;
    pending.initiation.wipe();
    this.indices.delete(pending.localIndex);
    peer.handshake = null;
  }

  // ---- single transport messages -----------------------------------------------------------

  /**
   * Seals and sends one transport message with the current keypair: a keepalive when `packet`
   * is null. Used off the hot path (keepalives, packets staged during a handshake).
   */
  sendTransport(peer: Peer, packet: Uint8Array | null, now: number): boolean {
    const kp = peer.current;
    if (!kp || !kp.usable(now) || !peer.endpoint) return false;
    const length = packet ? packet.length : 0;
    const padded = (length + 15) & ~15;
    const total = HEADER + padded + TAG;
    if (this.scratch.length < total) this.scratch = new Uint8Array(total);
    const buf = this.scratch;
    writeTransportHeader(buf, 0, kp.remoteIndex, kp.sendCounter);
    if (packet) buf.set(packet, HEADER);
    buf.fill(0, HEADER + length, HEADER + padded);
    const sealed = kp.send.seal(kp.sendCounter++, buf, HEADER, padded);
    this.events.sendDatagram(peer.endpoint, buf.subarray(0, HEADER + sealed));
    peer.lastSentAt = now;
    if (packet) {
      peer.txBytes += length;
      this.sentData(peer, now);
    }
    return true;
  }

  // ---- timers ------------------------------------------------------------------------------

  /** Evaluates every peer's timers; called every TIMER_TICK_MS. */
  tick(): void {
    const now = this.now();
    for (const peer of this.peers.values()) this.tickPeer(peer, now);
  }

  private tickPeer(peer: Peer, now: number): void {
    const pending = peer.handshake;
    if (pending && now - pending.sentAt >= pending.retryAfterMs) {
      if (now - pending.attemptStartedAt >= c.REKEY_ATTEMPT_TIME_MS) {
        // Give up this round; the next packet to the peer starts a new one.
        this.clearHandshake(peer);
        this.counters.noSession += peer.staged.length;
        peer.staged.length = 0;
      } else {
        this.initiate(peer, now, true);
      }
    }

    // Expire keypairs past their reject time; wipe everything after long silence.
    if (peer.previous && !peer.previous.usable(now)) this.dropPrevious(peer);
    if (peer.next && !peer.next.usable(now)) {
      this.dropKeypair(peer.next);
      peer.next = null;
    }
    if (peer.current && !peer.current.usable(now)) {
      this.dropKeypair(peer.current);
      peer.current = null;
      this.events.sessionDown(peer);
    }
    if (peer.lastHandshakeAt !== -Infinity && now - peer.lastHandshakeAt >= c.ZERO_KEYS_AFTER_MS) {
      const wasUp = peer.isUp;
      this.dropPrevious(peer);
      for (const kp of [peer.current, peer.next]) this.dropKeypair(kp);
      peer.current = peer.next = null;
      peer.lastHandshakeAt = -Infinity;
      if (wasUp) this.events.sessionDown(peer);
    }

    if (peer.keepaliveMs > 0 && now - peer.lastSentAt >= peer.keepaliveMs) {
      if (!this.sendTransport(peer, null, now)) this.initiate(peer, now);
    }
    if (peer.owesKeepaliveSince !== -Infinity && now - peer.owesKeepaliveSince >= c.KEEPALIVE_TIMEOUT_MS) {
      peer.owesKeepaliveSince = -Infinity;
      this.sendTransport(peer, null, now);
    }
    if (peer.awaitingReplySince !== -Infinity && now - peer.awaitingReplySince >= c.KEEPALIVE_TIMEOUT_MS + c.REKEY_TIMEOUT_MS) {
      // We sent data and heard nothing back for 15 s: the session may be dead on the other end.
      peer.awaitingReplySince = -Infinity;
      this.initiate(peer, now);
    }
  }

  private dropPrevious(peer: Peer): void {
    this.dropKeypair(peer.previous);
    peer.previous = null;
  }

  /** Wipes all keys and handshakes (shutdown, or the mesh switched off). */
  destroy(): void {
    for (const peer of this.peers.values()) {
      this.clearHandshake(peer);
      for (const kp of [peer.previous, peer.current, peer.next]) this.dropKeypair(kp);
      peer.previous = peer.current = peer.next = null;
    }
  }
}

export function writeTransportHeader(buf: Uint8Array, offset: number, receiverIndex: number, counter: number): void {
  buf[offset] = 4;
  buf[offset + 1] = buf[offset + 2] = buf[offset + 3] = 0;
  writeU32(buf, offset + 4, receiverIndex);
  writeU32(buf, offset + 8, counter >>> 0);
  writeU32(buf, offset + 12, Math.floor(counter / 0x1_0000_0000));
}

export function readU32(buf: Uint8Array, offset: number): number {
  return (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0;
}

function writeU32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value;
  buf[offset + 1] = value >>> 8;
  buf[offset + 2] = value >>> 16;
  buf[offset + 3] = value >>> 24;
}

function keyOf(publicKey: Uint8Array): string {
  return hexOf(publicKey);
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
