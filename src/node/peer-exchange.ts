// Peer exchange (issue 14, 4): neighbours pass each other the contact records they hold
// (discovery/contact.ts), so that a node that joined through one public node learns of others to
// link to. Each neighbour gets a contacts frame (discovery/exchange.ts) when its link comes up and
// every `everyMs` after: this node's own record, if it publishes one, and a random sample of the
// book. Records are signed by their nodes and expire, so what a neighbour passes on cannot point
// anyone elsewhere or outlive what its node signed; the book is bounded, and each neighbour may
// send only a few frames a minute, the rest dropped and counted.
//
//   in:  a contacts frame from a neighbour's hop session (receive.ts, after its batch)
//   out: contacts frames to neighbours over their hop sessions; the book, for the link keeper
import type { StaticIdentity } from '../noise/handshake.js';
import type { Peer } from '../session/peer.js';
import type { Multiaddr } from '../transport/multiaddr.js';
import { ContactBook } from '../discovery/contact-book.js';
import { encodeContact } from '../discovery/contact.js';
import { decodeContactsFrame, encodeContactsFrame, MAX_CONTACTS_PER_FRAME } from '../discovery/exchange.js';
import { TokenBucket } from '../util/token-bucket.js';
import { CounterSet } from '../util/counters.js';
import { equalBytes } from '../util/bytes.js';

export interface ExchangeOptions {
  /** How often each neighbour is sent a frame of records. */
  everyMs: number;
  /** How long this node signs its own record for; it is signed anew half way. */
  lifetimeMs: number;
}

export const DEFAULT_EXCHANGE_OPTIONS: ExchangeOptions = {
  everyMs: 60_000,
  // Long enough that a record crosses a large mesh by exchange before it expires, short enough
  // that a node that left stops being a candidate within the hour.
  lifetimeMs: 60 * 60_000,
};

/** Frames a neighbour may send after a quiet spell, and then one per this many ms: a link coming
 *  up and the periodic frame with room for a few flaps, never a stream of signatures to check. */
const FRAME_BURST = 3;
const FRAME_EVERY_MS = 20_000;

export class ExchangeCounters extends CounterSet {
  framesSent = 0;
  framesReceived = 0;
  /** Frames that were not one well-formed contacts frame. */
  framesMalformed = 0;
  /** Frames dropped because their neighbour sent too many. */
  framesLimited = 0;
}

export interface ExchangeHost {
  /** Sends a frame to a neighbour over its hop session; false if it could not. */
  send(peer: Peer, frame: Uint8Array): boolean;
  /** Wall-clock ms since the epoch: records expire in it. */
  wallNow(): number;
  /** A random integer in [0, n). */
  random(n: number): number;
}

export class PeerExchange {
  readonly book = new ContactBook();
  readonly counters = new ExchangeCounters();
  private own: Uint8Array | null = null;
  private ownRenewAt = Infinity;
  private published: Multiaddr[] = [];
  /** Per neighbour: when it was last sent a frame (monotonic ms), and its receive allowance. */
  private readonly neighbours = new Map<Peer, { sentAt: number; allowance: TokenBucket }>();

  constructor(
    private readonly identity: StaticIdentity,
    private readonly host: ExchangeHost,
    /** The largest frame a hop session carries (the MTU). */
    private readonly maxFrame: number,
    private readonly options: ExchangeOptions = DEFAULT_EXCHANGE_OPTIONS,
  ) {}

  /** Where others may link to this node; [] publishes nothing. Signed at once. */
  publish(addresses: Multiaddr[]): void {
    this.published = addresses;
    this.sign();
  }

  /** Where this node's record says it may be linked to. */
  get publishedAddresses(): readonly Multiaddr[] {
    return this.published;
  }

  /** This node's record, while it publishes one. */
  get ownRecord(): Uint8Array | null {
    return this.own;
  }

  /** A neighbour's link came up: it hears what this node knows now, not a minute later. */
  linkUp(peer: Peer, now: number): void {
    this.sendTo(peer, now);
  }

  /** A neighbour is gone for good: nothing of it is kept. */
  removed(peer: Peer): void {
    this.neighbours.delete(peer);
  }

  /** Renews this node's record when due, and sends each neighbour whose turn it is a frame. */
  tick(now: number, upPeers: Iterable<Peer>): void {
    if (this.host.wallNow() >= this.ownRenewAt) this.sign();
    for (const peer of upPeers) {
      const sentAt = this.neighbours.get(peer)?.sentAt ?? -Infinity;
      if (now - sentAt >= this.options.everyMs) this.sendTo(peer, now);
    }
  }

  /** A contacts frame from neighbour `from`: each record goes to the book, which judges it. */
  receive(from: Peer, frame: Uint8Array, now: number): void {
    if (!this.neighbourState(from).allowance.take(now)) {
      this.counters.framesLimited++;
      return;
    }
    const records = decodeContactsFrame(frame);
    if (!records) {
      this.counters.framesMalformed++;
      return;
    }
    this.counters.framesReceived++;
    const wallNow = this.host.wallNow();
    const self = this.identity.publicKey;
    for (const record of records) {
      // Our own record back from a neighbour: we are no candidate of ours.
      if (record.length > 33 && equalBytes(record.subarray(1, 33), self)) continue;
      this.book.offer(record, wallNow);
    }
  }

  private sendTo(peer: Peer, now: number): void {
    this.neighbourState(peer).sentAt = now;
    const records: Uint8Array[] = [];
    if (this.own) records.push(this.own);
    // Its own record is no news to it.
    for (const c of this.book.sample(MAX_CONTACTS_PER_FRAME - records.length, this.host.wallNow(), (n) => this.host.random(n), peer.publicKey)) records.push(c.bytes);
    const frame = encodeContactsFrame(records, this.maxFrame);
    if (frame && this.host.send(peer, frame)) this.counters.framesSent++;
  }

  private neighbourState(peer: Peer): { sentAt: number; allowance: TokenBucket } {
    let state = this.neighbours.get(peer);
    if (!state) {
      state = { sentAt: -Infinity, allowance: new TokenBucket(1000 / FRAME_EVERY_MS, FRAME_BURST) };
      this.neighbours.set(peer, state);
    }
    return state;
  }

  private sign(): void {
    if (this.published.length === 0) {
      this.own = null;
      this.ownRenewAt = Infinity;
      return;
    }
    const wallNow = this.host.wallNow();
    this.own = encodeContact(this.identity, wallNow + this.options.lifetimeMs, this.published);
    this.ownRenewAt = wallNow + this.options.lifetimeMs / 2;
  }
}
