// The session layer's control plane: handshakes, cookies, keypair rotation and every per-peer
// timer. The data plane (node/send.ts, node/receive.ts) asks it which keypair to use and tells it
// what passed; everything slow or rare happens here, one message at a time.
//
// Handshake datagrams are checked cheapest first: whether their source still has a share of the
// handshake work (one map lookup: handshake-gate.ts), length and type, then mac1 (one keyed hash;
// nothing is ever sent in answer to a message without a valid mac1), then — only while under
// load — mac2 and a per-source rate limit, and only then the Diffie-Hellman work.
import { randomInt } from 'node:crypto';
import { Initiation, consumeInitiation, type StaticIdentity } from '../noise/handshake.js';
import { MacChecker } from '../noise/cookie.js';
import { tai64nAfter, tai64nNow } from '../noise/tai64n.js';
import { MESSAGE_INITIATION, MESSAGE_RESPONSE, MESSAGE_COOKIE_REPLY } from '../noise/constants.js';
import { INITIATION_SIZE, RESPONSE_SIZE, COOKIE_REPLY_SIZE, TRANSPORT_HEADER_SIZE, TAG_SIZE } from '../noise/constants.js';
import { encodeTransportHeader, readU32LE } from '../noise/messages.js';
import type { Counters } from '../util/counters.js';
import { hexOf } from '../util/bytes.js';
import { IndexTable } from './index-table.js';
import { Keypair } from './keypair.js';
import type { Peer } from './peer.js';
import { RateLimiter } from './ratelimiter.js';
import { HandshakeGate } from './handshake-gate.js';
import * as c from './constants.js';
import { paddedLength } from '../util/protocol.js';

/** Kinds of handshake work, cheapest first: checks that dropped the message (length, mac1, rate),
 *  a cookie reply made or taken, the Noise handshake's Diffie-Hellmans. */
const WORK_CHECKS = 0;
const WORK_COOKIE = 1;
const WORK_NOISE = 2;

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
  /** A timer of one peer failed unexpectedly (a bug); the other peers' timers still ran. */
  internalError(error: unknown): void;
}

export interface SessionManagerOptions {
  /** Milliseconds per second of handshake work above which the node is under load. */
  underLoadBudgetMs?: number;
  /** Milliseconds per second of handshake work that the sources share once past the budget. */
  handshakeHardCapMs?: number;
  /** The TUN MTU: transport padding never makes a packet longer than this. */
  mtu?: number;
  /** Monotonic clock in ms; injectable for tests. */
  now?: () => number;
  /** Wall clock in ms, for TAI64N timestamps; injectable for tests. */
  wallNow?: () => number;
  /**
   * Called for an authentic initiation from a key that is not a peer, with the message's source
   * (its endpoint area, and its sourceKey): returns a new peer (already added) to accept it, or
   * undefined to refuse. End-to-end sessions use this, since any node of the mesh may open one;
   * hop sessions accept whom the node's link policy lets in (node/inbound.ts).
   */
  acceptPeer?: (publicKey: Uint8Array, source: Uint8Array, sourceKey: string) => Peer | undefined;
  /** Names the source of a handshake message for fairness and rate limits: by default its UDP
   *  address (sourceKey); end-to-end sessions name the route it came by. */
  sourceKey?: (source: Uint8Array) => string;
}


export class SessionManager {
  readonly indices = new IndexTable<IndexEntry>();
  /** Set when data from a peer started owing it a keepalive; whoever runs the timers clears it
   *  (a hop link answers sooner than WireGuard's 10 s: node/links.ts). */
  keepaliveOwed = false;
  private readonly peers = new Map<string, Peer>();
  private readonly checker: MacChecker;
  private readonly limiter = new RateLimiter(c.HANDSHAKES_PER_SOURCE_PER_SECOND, c.HANDSHAKE_BURST_PER_SOURCE);
  /** Fair shares of handshake work: for messages without a cookie, and for those that carry
   *  one (a non-zero mac2), apart: a source's answer to our cookie reply is its first look in
   *  the second, however many cookie-less messages a flood sends from elsewhere. */
  private readonly gate: HandshakeGate;
  private readonly cookieGate: HandshakeGate;
  private readonly sourceKey: (source: Uint8Array) => string;
  private readonly mtu: number;
  private readonly acceptPeer: SessionManagerOptions['acceptPeer'];
  private underLoadUntil = -Infinity;
  /** What each kind of handshake work (WORK_*) usually takes here, ms: a starting guess, then
   *  learned. */
  private readonly usualWorkMs = [0.01, 0.05, 0.5];
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
    const budgetMs = options.underLoadBudgetMs ?? c.UNDER_LOAD_BUDGET_MS;
    const hardCapMs = options.handshakeHardCapMs ?? c.HANDSHAKE_HARD_CAP_MS;
    this.gate = new HandshakeGate(budgetMs, hardCapMs, c.MAX_HANDSHAKE_SOURCES);
    this.cookieGate = new HandshakeGate(budgetMs, hardCapMs, c.MAX_HANDSHAKE_SOURCES);
    this.sourceKey = options.sourceKey ?? sourceKey;
    this.mtu = options.mtu ?? 1420;
    this.acceptPeer = options.acceptPeer;
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
    peer.psk.fill(0);
    // Reported while the peer is still known, so listeners can still look it up.
    if (wasUp) this.events.sessionDown(peer);
    this.peers.delete(keyOf(peer.publicKey));
  }

  // ---- handshake messages ------------------------------------------------------------------

  /** Handles a datagram of type 1, 2 or 3 from `source` (a 32-byte endpoint area). */
  handleHandshake(message: Uint8Array, source: Uint8Array): void {
    const now = this.now();
    const from = this.sourceKey(source);
    const gate = carriesMac2(message) ? this.cookieGate : this.gate;
    if (!gate.admit(from, now)) {
      // This source has had its share of the handshake work for now: not even mac1 is checked.
      // The data path keeps the CPU, and the other sources keep their turns.
      this.counters.handshakesShed++;
      return;
    }
    // The work is timed with the real clock even when tests inject a logical one. Measuring work
    // rather than counting messages is the synchronous equivalent of WireGuard's queue-backlog
    // test: the node is under load when handshakes compete with the data path for the CPU, not
    // merely when someone sends a few. Under load, only messages carrying a cookie (valid mac2)
    // get Diffie-Hellman work, for the next second.
    const started = performance.now();
    const kind = this.dispatchHandshake(message, source, from, now);
    const ms = performance.now() - started;
    // The work is counted at most twice what that kind usually takes here, for the source and for
    // the node alike. A measurement stretched by the OS running something else in between must not
    // use up a quiet source's share (seen: a restarted neighbour shed after one cookie reply), and
    // a freshly started daemon's first handshakes on cold code must not put it under load (seen: a
    // restarted neighbour answering the flooded node with a cookie reply, its session 5 s late).
    // The usual cost is learned as the node runs, from measurements clipped the same way, so work
    // that really costs more is soon counted in full.
    const usual = this.usualWorkMs[kind]!;
    this.usualWorkMs[kind] = usual + (Math.min(ms, 4 * usual) - usual) / 64;
    if (gate.charge(from, now, Math.min(ms, 2 * usual))) this.underLoadUntil = now + 1000;
  }

  /** Handles one handshake message; says which kind of work it took (WORK_*). */
  private dispatchHandshake(message: Uint8Array, source: Uint8Array, from: string, now: number): number {
    const type = message[0];
    const expected =
      type === MESSAGE_INITIATION ? INITIATION_SIZE : type === MESSAGE_RESPONSE ? RESPONSE_SIZE : type === MESSAGE_COOKIE_REPLY ? COOKIE_REPLY_SIZE : -1;
    if (message.length !== expected || message[1] !== 0 || message[2] !== 0 || message[3] !== 0) {
      this.counters.malformed++;
      return WORK_CHECKS;
    }
    if (type === MESSAGE_COOKIE_REPLY) {
      this.handleCookieReply(message, now);
      return WORK_COOKIE;
    }
    if (!this.checker.checkMac1(message)) {
      this.counters.invalidMac1++;
      return WORK_CHECKS;
    }
    const sourceId = source.subarray(0, 20);
    if (now < this.underLoadUntil) {
      if (!this.checker.checkMac2(message, sourceId)) {
        const senderIndex = readU32LE(message, 4);
        this.events.sendDatagram(source, this.checker.createCookieReply(message, sourceId, senderIndex));
        this.counters.cookieReplies++;
        return WORK_COOKIE;
      }
      if (!this.limiter.allow(from, now)) {
        this.counters.rateLimited++;
        return WORK_CHECKS;
      }
    }
    if (type === MESSAGE_INITIATION) this.handleInitiation(message, source, from, now);
    else this.handleResponse(message, source, now);
    return WORK_NOISE;
  }

  private handleInitiation(message: Uint8Array, source: Uint8Array, from: string, now: number): void {
    const consumed = consumeInitiation(this.identity, message);
    if (!consumed) {
      this.counters.handshakeRejected++;
      return;
    }
    const peer = this.peers.get(keyOf(consumed.remoteStatic)) ?? this.acceptPeer?.(consumed.remoteStatic, source, from);
    if (!peer) {
      consumed.wipe();
      this.counters.unknownPeer++;
      return;
    }
    if (peer.latestTimestamp && !tai64nAfter(consumed.timestamp, peer.latestTimestamp)) {
      consumed.wipe();
      this.counters.replayedInitiation++;
      return;
    }
    if (now - peer.lastInitiationReceivedAt < c.MIN_INITIATION_INTERVAL_MS) {
      consumed.wipe();
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
    // with it; until then we keep sending with the current one. The previous keypair goes: the
    // initiator has moved on from it.
    this.dropKeypair(peer.next);
    peer.next = keypair;
    this.dropPrevious(peer);
    this.setEndpoint(peer, source);
    this.events.sendDatagram(peer.endpoint!, response);
    // A responder starts no handshake of its own for REKEY_TIMEOUT: it just made one.
    peer.lastInitiationSentAt = now;
    peer.responseSentAt = now;
    this.authenticatedReceived(peer, now);
    this.authenticatedSent(peer, now);
  }

  private handleResponse(message: Uint8Array, source: Uint8Array, now: number): void {
    const receiverIndex = readU32LE(message, 8);
    const entry = this.indices.get(receiverIndex);
    const peer = entry?.peer;
    const pending = peer?.handshake;
    if (!entry || !peer || !pending || entry.keypair || pending.localIndex !== receiverIndex) {
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
    peer.rttMs = now - pending.sentAt;
    this.setEndpoint(peer, source);
    this.installInitiatorKeypair(peer, keypair);
    this.authenticatedReceived(peer, now);
    this.sessionEstablished(peer, now);
  }

  private handleCookieReply(message: Uint8Array, now: number): void {
    const index = readU32LE(message, 4);
    const entry = this.indices.get(index);
    if (!entry || !entry.peer.macs.consumeCookieReply(message)) {
      this.counters.handshakeRejected++;
      return;
    }
    // Our initiation drew a cookie: the peer is under load and did not read it. Sent again at
    // once, now with mac2, it gets in ahead of the flood instead of waiting out REKEY_TIMEOUT.
    // Only an initiation sent without a cookie is resent so: the resent one carries one, so
    // cookie replies, even forged ones, never make more than one extra initiation per attempt.
    const pending = entry.peer.handshake;
    if (pending && pending.localIndex === index && !pending.carriedCookie) this.initiate(entry.peer, now, true);
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
      // The initiator's first message with the new keypair closes a round trip for us too.
      peer.rttMs = now - peer.responseSentAt;
      this.dropKeypair(peer.previous);
      peer.previous = peer.current;
      peer.current = keypair;
      peer.next = null;
      // A handshake of ours still pending (its initiation lost, or crossing the peer's) has
      // nothing left to do: retrying it would only make a second, needless session.
      this.clearHandshake(peer);
      this.sessionEstablished(peer, now);
    }
    this.authenticatedReceived(peer, now);
    if (isData && peer.owesKeepaliveSince === -Infinity) {
      peer.owesKeepaliveSince = now;
      this.keepaliveOwed = true;
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
      this.keepFresh(peer, kp, now);
      return kp;
    }
    this.initiate(peer, now);
    return null;
  }

  /** After sending with `kp` (data or keepalive): rekey when it has sent REKEY_AFTER_MESSAGES or,
   *  as initiator, is REKEY_AFTER_TIME old, so even an idle link keeps a live session. */
  private keepFresh(peer: Peer, kp: Keypair, now: number): void {
    if (kp.sendCounter >= c.REKEY_AFTER_MESSAGES || (kp.isInitiator && now - kp.createdAt >= c.REKEY_AFTER_TIME_MS)) {
      this.initiate(peer, now);
    }
  }

  /** Bookkeeping after the send path put data packets for `peer` on the wire. */
  sentData(peer: Peer, now: number): void {
    this.authenticatedSent(peer, now);
    if (peer.awaitingReplySince === -Infinity) peer.awaitingReplySince = now;
  }

  /** Anything authenticated went to the peer: no keepalive is owed any more. */
  private authenticatedSent(peer: Peer, now: number): void {
    peer.lastSentAt = now;
    peer.owesKeepaliveSince = -Infinity;
  }

  /** Anything authenticated came from the peer: it is alive, no new handshake is needed for silence. */
  private authenticatedReceived(peer: Peer, now: number): void {
    peer.lastReceivedAt = now;
    peer.awaitingReplySince = -Infinity;
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

  /** The peer is now reached where `source` says (a UDP endpoint area, or an end-to-end route). */
  private setEndpoint(peer: Peer, source: Uint8Array): void {
    if (!peer.endpoint || peer.endpoint.length !== source.length) peer.endpoint = new Uint8Array(source.length);
    peer.endpoint.set(source);
  }

  // ---- initiating --------------------------------------------------------------------------

  /** Starts a handshake with `peer` unless one was sent less than REKEY_TIMEOUT ago. */
  initiate(peer: Peer, now: number, retransmit = false): void {
    if (!peer.endpoint) {
      this.counters.noSession++;
      return;
    }
    // No more than one new initiation per REKEY_TIMEOUT, counted from the last one sent, even if
    // it completed: a burst of triggers (rekey, silence, a packet) makes one handshake.
    if (!retransmit && now - peer.lastInitiationSentAt < c.REKEY_TIMEOUT_MS) return;
    const pending = peer.handshake;
    const attemptStartedAt = pending ? pending.attemptStartedAt : now;
    this.clearHandshake(peer);
    const entry: IndexEntry = { peer, keypair: null };
    const localIndex = this.indices.add(entry);
    const initiation = Initiation.create(this.identity, peer.publicKey, peer.psk, localIndex, tai64nNow(this.wallNow()));
    const carriedCookie = peer.macs.addMacs(initiation.message);
    peer.handshake = {
      initiation,
      localIndex,
      sentAt: now,
      attemptStartedAt,
      carriedCookie,
      retryAfterMs: (carriedCookie ? c.UNDER_LOAD_RETRY_MS : c.REKEY_TIMEOUT_MS) + randomInt(c.REKEY_JITTER_MS),
    };
    this.events.sendDatagram(peer.endpoint, initiation.message);
    peer.lastInitiationSentAt = now;
    this.authenticatedSent(peer, now);
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
   * is null. Used off the hot path (keepalives, packets staged during a handshake). A packet
   * that `answers` (a link probe's answer) awaits no reply, as a keepalive does not.
   */
  sendTransport(peer: Peer, packet: Uint8Array | null, now: number, answers = false): boolean {
    const kp = peer.current;
    if (!kp || !kp.usable(now) || !peer.endpoint) return false;
    const length = packet ? packet.length : 0;
    const padded = paddedLength(length, this.mtu);
    const total = TRANSPORT_HEADER_SIZE + padded + TAG_SIZE;
    if (this.scratch.length < total) this.scratch = new Uint8Array(total);
    const buf = this.scratch;
    encodeTransportHeader(buf, kp.remoteIndex, kp.sendCounter);
    if (packet) buf.set(packet, TRANSPORT_HEADER_SIZE);
    buf.fill(0, TRANSPORT_HEADER_SIZE + length, TRANSPORT_HEADER_SIZE + padded);
    const sealed = kp.send.seal(kp.sendCounter++, buf, TRANSPORT_HEADER_SIZE, padded);
    this.events.sendDatagram(peer.endpoint, buf.subarray(0, TRANSPORT_HEADER_SIZE + sealed));
    if (packet) peer.txBytes += length;
    if (packet && !answers) {
      this.sentData(peer, now);
    } else {
      this.authenticatedSent(peer, now);
    }
    this.keepFresh(peer, kp, now);
    return true;
  }

  // ---- timers ------------------------------------------------------------------------------

  /** Evaluates every peer's timers; called every TIMER_TICK_MS. */
  tick(): void {
    const now = this.now();
    for (const peer of this.peers.values()) {
      try {
        this.tickPeer(peer, now);
      } catch (err) {
        this.events.internalError(err);
      }
    }
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

    // Keypairs past REJECT_AFTER_TIME are useless: wipe them now. (WireGuard keeps them until a
    // 540 s timer zeroes everything; wiping at expiry is stricter and needs no second timer.)
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
    // Persistent keepalive: after an interval with no authenticated packet either way.
    if (peer.keepaliveMs > 0 && now - Math.max(peer.lastSentAt, peer.lastReceivedAt) >= peer.keepaliveMs) {
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

  /** Closes every session: wipes all keys, handshakes and held packets (the mesh switched off).
   *  The peers stay, and so do their replay-protection timestamps. */
  closeAll(): void {
    for (const peer of this.peers.values()) {
      const wasUp = peer.isUp;
      this.clearHandshake(peer);
      for (const kp of [peer.previous, peer.current, peer.next]) this.dropKeypair(kp);
      peer.previous = peer.current = peer.next = null;
      for (const packet of peer.staged) packet.fill(0);
      peer.staged.length = 0;
      peer.lastHandshakeAt = -Infinity;
      peer.awaitingReplySince = peer.owesKeepaliveSince = -Infinity;
      peer.lastInitiationSentAt = -Infinity; // a fresh start may initiate at once
      if (wasUp) this.events.sessionDown(peer);
    }
  }

  /** Shutdown: closes every session and wipes the pre-shared keys too. */
  destroy(): void {
    this.closeAll();
    for (const peer of this.peers.values()) peer.psk.fill(0);
  }
}

/** Whether a handshake message's mac2 field (its last 16 bytes) is set: it claims to carry a
 *  cookie. A glance, not a check: the check comes after mac1. */
function carriesMac2(message: Uint8Array): boolean {
  if (message.length <= 32 || message[0] === MESSAGE_COOKIE_REPLY) return false;
  for (let i = message.length - 16; i < message.length; i++) if (message[i] !== 0) return true;
  return false;
}

function keyOf(publicKey: Uint8Array): string {
  return hexOf(publicKey);
}

/** Rate-limit key for a source: its IPv4 address or IPv6 /64, not the port (a flood could
 *  otherwise rotate ports), as WireGuard's limiter does. */
export function sourceKey(endpoint: Uint8Array): string {
  return hexOf(endpoint.subarray(4, endpoint[0] === 4 ? 8 : 12));
}
