// Who may open a link to this node without being one of its peers (issue 14): the accept policy
// and allow-list, the cap on inbound links, the rate of new ones per source, and the blocked keys.
//
// An initiation from a key the node does not know reaches this gate only after it has passed
// everything a handshake passes (mac1, the handshake gate, its Diffie-Hellman work) and proved
// that its sender holds the key. What is left to decide is whether that key may become a
// neighbour, and that costs memory: a peer, its indices, a link in routing. So a public node keeps
// at most `maxInbound` of them, makes room by dropping the one that has been down longest (or, all
// being up, the one whose node is best linked elsewhere), and takes at most `inboundRate` new ones
// a second from one address, so that one host making up keys cannot push everyone else out.
import type { AcceptPolicy, LinkSettings } from '../config/schema.js';
import { RateLimiter } from '../session/ratelimiter.js';
import { CounterSet } from '../util/counters.js';
import { ENDPOINT_BYTES } from '../transport/batch.js';
import type { Peer } from '../session/peer.js';

/** What came of initiations from keys that are no peers: refusals by reason (the handshake layer
 *  counts each refusal as unknownPeer too), links accepted and dropped. */
export class InboundCounters extends CounterSet {
  /** Inbound links accepted. */
  accepted = 0;
  /** Keys refused by the policy: not a peer ("known") or not on the allow-list ("allowed"). */
  notAllowed = 0;
  /** Keys refused because they are blocked (rovy block). */
  blocked = 0;
  /** Keys refused because every inbound place was taken by a link that is up, of a node with
   *  too few other links to let go. */
  full = 0;
  /** Keys refused because their address opened new links faster than inbound_rate. */
  rateLimited = 0;
  /** Inbound links dropped to make room for a new one, or forgotten after being down a while. */
  dropped = 0;
}

/** What the inbound links need of the node. */
export interface InboundHost {
  /** Makes `publicKey` a neighbour of origin "inbound" at `endpoint` (an endpoint area). */
  add(peerId: string, publicKey: Uint8Array, endpoint: Uint8Array): Peer;
  /** Drops an inbound neighbour: its session closed, its keys wiped. */
  forget(peerId: string): void;
  /** How many links a node announces (routing's view; 0 if unknown). */
  degreeOf(peerId: string): number;
  log(level: 'info' | 'debug', message: string): void;
}

/** An inbound link that is up is let go for a newcomer only if its node announces at least this
 *  many links: it stays linked through the others, and its own link keeper replaces this one. */
export const EVICT_MIN_DEGREE = 3;

/** An inbound link whose session has been down this long (and no handshake brought it back) is
 *  forgotten: REJECT_AFTER_TIME, after which not even its last keys could be used. */
export const INBOUND_FORGET_MS = 180_000;

export class InboundLinks {
  readonly counters = new InboundCounters();
  private settings: LinkSettings;
  private allow: Set<string>;
  private readonly blockedIds = new Set<string>();
  private limiter: RateLimiter;
  /** Every inbound neighbour, with when its session went down (null while it is up). Oldest first. */
  private readonly links = new Map<string, number | null>();

  constructor(
    settings: LinkSettings,
    private readonly host: InboundHost,
  ) {
    this.settings = settings;
    this.allow = new Set(settings.allow);
    this.limiter = limiterFor(settings);
  }

  get policy(): AcceptPolicy {
    return this.settings.accept;
  }

  get maxInbound(): number {
    return this.settings.maxInbound;
  }

  /** Inbound links kept now, up or not. */
  get count(): number {
    return this.links.size;
  }

  /** The policy and what came of it, for status reports. */
  report(): { accept: AcceptPolicy; maxInbound: number; inbound: number; blocked: string[]; counters: Record<string, number> } {
    return { accept: this.settings.accept, maxInbound: this.settings.maxInbound, inbound: this.links.size, blocked: this.blocked(), counters: this.counters.snapshot() };
  }

  /** New settings (a reload); the links kept stay, even past a lower cap, until they go down. */
  configure(settings: LinkSettings): void {
    if (settings.inboundRate !== this.settings.inboundRate) this.limiter = limiterFor(settings);
    this.settings = settings;
    this.allow = new Set(settings.allow);
  }

  isBlocked(peerId: string): boolean {
    return this.blockedIds.has(peerId);
  }

  /** The blocked peer IDs, sorted. */
  blocked(): string[] {
    return [...this.blockedIds].sort();
  }

  /** Blocks a key; the caller drops any link it has. False if it was blocked already. */
  block(peerId: string): boolean {
    if (this.blockedIds.has(peerId)) return false;
    this.blockedIds.add(peerId);
    return true;
  }

  unblock(peerId: string): boolean {
    return this.blockedIds.delete(peerId);
  }

  /**
   * An authentic initiation from `publicKey`, no peer of ours and not blocked (the node checks
   * that first, for every way a node may link), from `source` (an endpoint area; `sourceKey` its
   * address bucket): the new inbound neighbour, or undefined if the key may not link now (counted
   * by reason).
   */
  accept(publicKey: Uint8Array, peerId: string, source: Uint8Array, sourceKey: string, now: number): Peer | undefined {
    const verdict = this.verdict(peerId, sourceKey, now);
    if (verdict !== 'accept') {
      this.counters[verdict]++;
      return undefined;
    }
    this.counters.accepted++;
    this.links.set(peerId, now);
    this.host.log('info', `inbound link from ${peerId}`);
    return this.host.add(peerId, publicKey, source.slice(0, ENDPOINT_BYTES));
  }

  /** Counts an initiation refused because its key is blocked. */
  refusedBlocked(): void {
    this.counters.blocked++;
  }

  /** The session of a neighbour came up or went down (any neighbour: only inbound ones are kept). */
  sessionUp(peerId: string): void {
    if (this.links.has(peerId)) this.links.set(peerId, null);
  }

  sessionDown(peerId: string, now: number): void {
    if (this.links.has(peerId)) this.links.set(peerId, now);
  }

  /** A neighbour was removed, whichever way. */
  removed(peerId: string): void {
    this.links.delete(peerId);
  }

  /** Forgets the inbound links that have been down for INBOUND_FORGET_MS. */
  tick(now: number, handshaking: (peerId: string) => boolean): void {
    for (const [peerId, downSince] of this.links) {
      if (downSince === null || now - downSince < INBOUND_FORGET_MS || handshaking(peerId)) continue;
      this.drop(peerId, 'down for 3 minutes');
    }
  }

  private verdict(peerId: string, sourceKey: string, now: number): 'accept' | 'notAllowed' | 'full' | 'rateLimited' {
    const { accept } = this.settings;
    if (accept === 'known' || (accept === 'allowed' && !this.allow.has(peerId))) return 'notAllowed';
    if (!this.limiter.allow(sourceKey, now)) return 'rateLimited';
    return this.makeRoom() ? 'accept' : 'full';
  }

  /**
   * Whether an inbound place is free, or can be made: the link down longest goes first; if all are
   * up, the one whose node announces the most links (at least EVICT_MIN_DEGREE), which keeps the
   * others. So a public node at its cap still lets newcomers in — they need one link to learn of
   * others — and a node it lets go is not cut off.
   */
  private makeRoom(): boolean {
    if (this.links.size < this.settings.maxInbound) return true;
    if (this.links.size > this.settings.maxInbound) return false; // a lowered cap: let them go down first
    let oldest: string | null = null;
    let oldestSince = Infinity;
    let best: string | null = null;
    let bestDegree = EVICT_MIN_DEGREE - 1;
    for (const [peerId, downSince] of this.links) {
      if (downSince !== null) {
        if (downSince < oldestSince) {
          oldest = peerId;
          oldestSince = downSince;
        }
        continue;
      }
      const degree = this.host.degreeOf(peerId);
      if (degree > bestDegree) {
        best = peerId;
        bestDegree = degree;
      }
    }
    if (oldest !== null) this.drop(oldest, 'to make room for a new one');
    else if (best !== null) this.drop(best, `to make room for a new one (it has ${bestDegree} links)`);
    else return false;
    return true;
  }

  private drop(peerId: string, why: string): void {
    this.counters.dropped++;
    this.links.delete(peerId);
    this.host.log('info', `inbound link from ${peerId} dropped, ${why}`);
    this.host.forget(peerId);
  }
}

function limiterFor(settings: LinkSettings): RateLimiter {
  return new RateLimiter(settings.inboundRate, 4 * settings.inboundRate);
}
