// End-to-end sessions with nodes beyond the neighbours, and the routed frames that are not data:
// handshakes, keepalives and time-exceeded reports. These sessions are the same Noise_IKpsk2 state
// machine as the hop sessions (a second SessionManager), but their "endpoint" is a route — first
// hop and label (forward/header.ts encodeRoute) — instead of a UDP address, and any node of the
// mesh may open one. Transit nodes carry their messages sealed; only the two ends hold the keys.
//
// Every message here is sent one at a time off the hot path: the frame is built in a fresh
// buffer and sealed for the first hop by the hop session's sendTransport.
import { fcAddressBytes, formatIPv6 } from '../keys/address.js';
import { encodePeerId } from '../keys/peerid.js';
import { AddressTable } from '../fcnet/address-table.js';
import type { StaticIdentity } from '../noise/handshake.js';
import { SessionManager } from '../session/manager.js';
import { Peer } from '../session/peer.js';
import { MAX_STAGED_PACKETS } from '../session/constants.js';
import type { Counters } from '../util/counters.js';
import { TokenBucket } from '../util/token-bucket.js';
import { equalBytes } from '../util/bytes.js';
import { readU32LE, readTransportCounter } from '../noise/messages.js';
import { CONTROL_HOP_LIMIT, KIND_MESSAGE, KIND_TIME_EXCEEDED, KIND_UNREACHABLE, encodeRoute, routeLabel, routeLink, routedHeaderLength, writeRoutedHeader } from '../forward/header.js';
import { reportedHeader, signTimeExceeded, verifyTimeExceeded } from '../forward/report.js';
import type { Route } from '../routing/router.js';
import type { IcmpReplies } from './icmp-replies.js';
import type { Links } from './links.js';
import { ProbeCache } from './probes.js';

/** End-to-end peers kept at once; past this, initiations from new nodes are refused. */
const MAX_PEERS = 4096;
/** A peer with no session, no route and no traffic for this long is forgotten. */
const IDLE_FORGET_MS = 300_000;
/** Time-exceeded reports signed per second (each costs a signature), and the burst allowed. */
const REPORTS_PER_SECOND = 50;
const REPORT_BURST = 16;
/** A peer whose route came back is sent an initiation at once if its last is this old ... */
const ROUTE_BACK_INITIATION_MS = 1000;
/** ... and no more than this many such initiations go in one tick. */
const ROUTE_BACK_PER_TICK = 32;

export interface EndToEndEvents {
  /** A session came up or went down, or the peer was created or forgotten. */
  changed(peer: Peer): void;
  /** Packets that waited for a session: send them now (through the send pipeline). */
  resend(packets: Uint8Array[]): void;
  /** A peer whose first handshake is under way lost its route: a lookup should find it again
   *  now. The initiation and the packets held for the session wait for it, and nothing else
   *  would start one before the host sent the peer another packet. */
  routeLost(peer: Peer): void;
  internalError(error: unknown): void;
}

export class EndToEnd {
  readonly sessions: SessionManager;
  readonly probes = new ProbeCache();
  private readonly byAddress = new AddressTable<Peer>();
  private readonly held = new Map<Peer, Uint8Array[]>();
  private readonly reports = new TokenBucket(REPORTS_PER_SECOND, REPORT_BURST);
  /** Peers with a session, or a first handshake under way, that routing had no route to at its
   *  last change (routesChanged). */
  private readonly routeless = new Set<Peer>();
  /** Peers whose route came back, and when, to be handshaken anew (routesChanged); and how many
   *  more may be this tick. */
  private readonly routeBack = new Map<Peer, number>();
  private routeBackBudget = ROUTE_BACK_PER_TICK;

  constructor(
    private readonly identity: StaticIdentity,
    private readonly hop: SessionManager,
    private readonly links: Links,
    private readonly icmp: IcmpReplies,
    private readonly counters: Counters,
    private readonly events: EndToEndEvents,
    mtu: number,
    now?: () => number,
  ) {
    this.sessions = new SessionManager(
      identity,
      {
        sendDatagram: (route, message) => this.sendFrame(route, KIND_MESSAGE, CONTROL_HOP_LIMIT, message),
        sessionUp: (peer) => {
          const held = this.held.get(peer);
          this.held.delete(peer);
          if (held) events.resend(held);
          events.changed(peer);
        },
        sessionDown: (peer) => events.changed(peer),
        internalError: (err) => events.internalError(err),
      },
      counters,
      // A handshake's source is the route it came by (the reverse of its path), not a UDP address.
      { mtu, now, acceptPeer: (publicKey) => this.add(publicKey), sourceKey: (route) => Buffer.from(route).toString('latin1') },
    );
  }

  /**
   * The session peer for a routed destination, created on first use with the route as its
   * endpoint. Found by address, so the send path allocates nothing once it exists.
   */
  peerFor(route: Route): Peer | undefined {
    const existing = this.byAddress.lookup(route.address, 0);
    if (existing) return existing;
    const peer = this.add(route.publicKey);
    if (peer) peer.endpoint = encodeRoute(route.link, route.label);
    return peer;
  }

  /** The end-to-end peer with the fc address at buf[off], if one exists. */
  lookup(buf: Uint8Array, off: number): Peer | undefined {
    return this.byAddress.lookup(buf, off);
  }

  all(): IterableIterator<Peer> {
    return this.sessions.allPeers();
  }

  /** Keeps a copy of a packet for `peer` until its session is up (the handshake was started). */
  hold(peer: Peer, packet: Uint8Array): void {
    let held = this.held.get(peer);
    if (!held) this.held.set(peer, (held = []));
    if (held.length >= MAX_STAGED_PACKETS) held.shift();
    held.push(packet.slice());
  }

  /** Points every peer's session at its current route, after routing changed. A peer routing
   *  had no route to, and has again, may have restarted meanwhile, its session keys gone with
   *  it: a handshake at once tells, where waiting for its silence would take 15 s
   *  (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT; an exit that restarted carried nothing for that long).
   *  The session in use goes on until the new one is up. A first handshake still unanswered
   *  went by the route we had then: when the route moves, it goes again by the new one at once,
   *  not after the rest of REKEY_TIMEOUT (with thirty real daemons, a pair whose first
   *  initiation went by a map route that the hub's crash had broken waited 4 s more so, after a
   *  lookup had found the new route). Not REKEY_TIMEOUT's limit but one
   *  initiation a second: the last one, however recent, may have gone by the route that went
   *  (or been sealed for the peer's earlier run); a route that keeps coming and going costs the
   *  peer one initiation a second at most. And at most ROUTE_BACK_PER_TICK a tick, the rest at
   *  the next: a node whose one link came back has every peer's route back at once, and an
   *  initiation costs two X25519s. A peer awaiting its first session whose route goes is looked
   *  up at once (routeLost), once until it has a route again: its initiation and the packets
   *  held for it would else wait until the host sent it another packet (a ping's next, 2 s on;
   *  with thirty real daemons, a pair whose first initiation went into a crashed hub). A peer
   *  with a session needs none: its next packet, finding no route, waits for a lookup. */
  routesChanged(routeTo: (publicKey: Uint8Array) => Route | undefined): void {
    for (const peer of this.sessions.allPeers()) {
      const route = routeTo(peer.publicKey);
      if (!route) {
        if (peer.current) this.routeless.add(peer);
        else if (awaitsFirstSession(peer) && !this.routeless.has(peer)) {
          this.routeless.add(peer);
          this.events.routeLost(peer);
        }
        this.routeBack.delete(peer);
        continue;
      }
      const endpoint = encodeRoute(route.link, route.label);
      const moved = !peer.endpoint || !equalBytes(peer.endpoint, endpoint);
      peer.endpoint = endpoint;
      if (this.routeless.delete(peer) || (moved && awaitsFirstSession(peer))) this.routeBack.set(peer, this.sessions.now());
    }
    this.handshakeRoutesBack();
  }

  /** Initiates to the peers whose route came back or, awaiting their first session, moved, as
   *  the limits allow; one initiated to less than a second ago waits for a later tick, and one
   *  with a session newer than its route's return (or no session and no handshake left to
   *  finish) needs none. */
  private handshakeRoutesBack(): void {
    const now = this.sessions.now();
    for (const [peer, backAt] of this.routeBack) {
      if (peer.current ? peer.current.createdAt > backAt : !awaitsFirstSession(peer)) {
        this.routeBack.delete(peer);
        continue;
      }
      if (now - peer.lastInitiationSentAt < ROUTE_BACK_INITIATION_MS) continue;
      if (this.routeBackBudget <= 0) return;
      this.routeBack.delete(peer);
      this.routeBackBudget--;
      this.sessions.initiate(peer, now, true);
    }
  }

  /** Sends one routed frame carrying `payload` along `route` (an encoded route). */
  sendFrame(route: Uint8Array, kind: number, hopLimit: number, payload: Uint8Array): boolean {
    const neighbour = this.links.peer(routeLink(route));
    const label = routeLabel(route);
    const frame = new Uint8Array(routedHeaderLength(label.length) + payload.length);
    frame.set(payload, writeRoutedHeader(frame, 0, kind, hopLimit, label, payload.length));
    if (neighbour && this.hop.sendTransport(neighbour, frame, this.sessions.now())) return true;
    this.counters.noSession++;
    return false;
  }

  /**
   * A frame ran out of hop limit here, in transit: tells its origin along `back` (the reverse
   * route), naming the frame by its end-to-end message header.
   */
  reportTimeExceeded(back: Uint8Array, messageHeader: Uint8Array): void {
    if (!this.reports.take(this.sessions.now())) {
      this.counters.rateLimited++;
      return;
    }
    this.sendFrame(back, KIND_TIME_EXCEEDED, CONTROL_HOP_LIMIT, signTimeExceeded(this.identity, messageHeader));
  }

  /**
   * A frame could not be passed on here: its label's next index, `failed`, names no live link.
   * Tells its origin along `back` (the reverse route), which then knows the route it used is
   * broken at this node. Unsigned: only the node at the end of `back` can send a report that
   * comes back along it (every transit records the way), and a node on the way could as well
   * drop the frames.
   */
  reportUnreachable(back: Uint8Array, failed: number): void {
    if (!this.reports.take(this.sessions.now())) {
      this.counters.rateLimited++;
      return;
    }
    this.sendFrame(back, KIND_UNREACHABLE, CONTROL_HOP_LIMIT, Uint8Array.of(failed >> 8, failed & 0xff));
  }

  /**
   * Routing says ways out broke (routesBroken): a link of ours went, a transit said the way
   * through it is broken (an unreachable report), or a node of the map took a link back.
   * End-to-end peers whose endpoint goes such a way lose it, so their packets wait for a route (a
   * lookup) rather than follow it; a route routing knows replaces it when there is one, and a
   * packet or handshake from them sets it again.
   */
  dropEndpoints(broken: (link: number, label: ArrayLike<number>) => boolean): void {
    for (const peer of this.sessions.allPeers()) {
      if (peer.endpoint && broken(routeLink(peer.endpoint), routeLabel(peer.endpoint))) peer.endpoint = null;
    }
  }

  /**
   * A report came back to us: if it is about a probe we sent and authentic, ICMPv6 tells the
   * sender. The probe is looked for first, so only a report about one of our few probes costs a
   * signature check: a flood of made-up reports costs a scan of 64 entries each.
   */
  receiveReport(report: Uint8Array): void {
    const header = reportedHeader(report);
    const now = this.sessions.now();
    const index = header ? readU32LE(header, 4) : 0;
    const counter = header ? readTransportCounter(header, 8) : -1;
    const reporter = header && this.probes.has(index, counter, now) ? verifyTimeExceeded(report) : null;
    const probe = reporter ? this.probes.take(index, counter, now) : undefined;
    if (!reporter || !probe) {
      this.counters.invalidReport++;
      return;
    }
    this.icmp.timeExceeded(fcAddressBytes(reporter), probe);
  }

  tick(hasRoute: (publicKey: Uint8Array) => boolean): void {
    this.sessions.tick();
    this.routeBackBudget = ROUTE_BACK_PER_TICK;
    this.handshakeRoutesBack();
    const now = this.sessions.now();
    for (const peer of [...this.sessions.allPeers()]) {
      const idle = !peer.current && !peer.next && !peer.handshake && now - Math.max(peer.lastReceivedAt, peer.lastSentAt) > IDLE_FORGET_MS;
      if (idle && !hasRoute(peer.publicKey)) this.forget(peer);
    }
  }

  closeAll(): void {
    this.held.clear();
    this.routeless.clear();
    this.routeBack.clear();
    this.sessions.closeAll();
  }

  destroy(): void {
    this.held.clear();
    this.routeless.clear();
    this.routeBack.clear();
    this.sessions.destroy();
  }

  private add(publicKey: Uint8Array): Peer | undefined {
    if (this.byAddress.size >= MAX_PEERS) {
      this.counters.rateLimited++;
      return undefined;
    }
    const address = fcAddressBytes(publicKey);
    const peer = new Peer({ publicKey: publicKey.slice(), peerId: encodePeerId(publicKey), address, addressText: formatIPv6(address), endpoint: null, psk: new Uint8Array(32), keepaliveMs: 0 });
    this.sessions.addPeer(peer);
    this.byAddress.set(address, peer);
    this.events.changed(peer);
    return peer;
  }

  private forget(peer: Peer): void {
    this.held.delete(peer);
    this.routeless.delete(peer);
    this.routeBack.delete(peer);
    this.sessions.removePeer(peer);
    this.byAddress.delete(peer.address);
    this.events.changed(peer);
  }
}

/** Whether `peer` has no session and our initiation to it is unanswered: it went by the route
 *  we had when it was sent. */
function awaitsFirstSession(peer: Peer): boolean {
  return !peer.current && peer.handshake !== null;
}
