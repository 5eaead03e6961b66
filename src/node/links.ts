// The node's links: its hop-session peers as the routing layer sees them. Each neighbour gets an
// interface index (what route labels are made of), and the link is "up" for routing while its
// hop session lives and the neighbour has been heard from recently. Hellos — empty transport
// messages — go out every LINK_HELLO_MS when nothing else has, so silence means failure: a cut
// cable is noticed in LINK_DEAD_MS, not after WireGuard's minutes-long session timers.
//
// While traffic flows it is noticed sooner: a node that receives data from a neighbour and has
// sent nothing back answers with a hello within LINK_ECHO_MS, so a neighbour that sent data and
// has heard nothing for LINK_BUSY_DEAD_MS takes the link for down. A failure under traffic then
// costs its packets that long, not four seconds (docs/ROUTING.md: failover). Traffic that only
// comes in is watched too: a neighbour that sent packets and falls silent for LINK_QUIET_MS is
// sent a probe, which it must echo like data. Which end of a one-way flow notices first matters:
// the receiver's place in the trees hangs from the failed link, and senders find it again only
// once it has taken a new one. An idle link is probed when a hello is late (LINK_HELLO_LATE_MS):
// places in the trees hang from idle links too, and a probe costs nothing while hellos come on
// time, where a shorter hello interval would cost every link, always.
//
// A probe is answered at once, by a probe answer (fifth revision). A neighbour seen to answer so
// — each link probes as it comes up, to know — is given LINK_QUICK_PROBE_DEAD_MS, not
// LINK_PROBE_DEAD_MS, and probed again every LINK_REPROBE_MS meanwhile, so that one probe or
// answer lost does not take its link down; and it is probed when due even while something else
// awaits its answer (a routing frame sent into the silence would otherwise hold the wait at
// LINK_BUSY_DEAD_MS). Older neighbours echo within LINK_ECHO_MS, or not at all (the first
// revision): they keep the longer wait.
import type { SessionManager } from '../session/manager.js';
import type { Peer } from '../session/peer.js';

/** A neighbour sends something at least this often while its link is up. */
export const LINK_HELLO_MS = 1000;
/** A link that was silent this long is down for routing (four missed hellos): the bound when no
 *  probe could be sent. */
export const LINK_DEAD_MS = 4000;
/** A neighbour silent this long missed a hello (a quarter of an interval allows for timers and
 *  queues running late) and is probed: its link is down LINK_PROBE_DEAD_MS later, 2.25 s into
 *  the silence, unless something comes. */
export const LINK_HELLO_LATE_MS = LINK_HELLO_MS + 250;
/** A probe unanswered this long: the link is down. The echo is due within LINK_ECHO_MS, which
 *  leaves 750 ms for the round trip. A neighbour of the first revision, which does not echo,
 *  sends its next hello within it too: a probe goes only once its hello is late, or
 *  LINK_QUIET_MS after its last frame. */
export const LINK_PROBE_DEAD_MS = 1000;
/** A probe unanswered this long, sent to a neighbour that answers probes at once: the link is
 *  down. Three probes go in it (LINK_REPROBE_MS), each answered within a round trip and a tick:
 *  an idle link is down 1.75 s into the silence at most, the receiving end of a one-way flow
 *  0.75 s after the last packet. */
export const LINK_QUICK_PROBE_DEAD_MS = 500;
/** A probe to a neighbour that answers at once, unanswered this long, goes again. */
export const LINK_REPROBE_MS = 150;
/** Probes from one neighbour are answered at once at most this often; one that comes sooner is
 *  echoed within LINK_ECHO_MS like any plaintext. */
export const LINK_ANSWER_GAP_MS = 50;
/** A neighbour not known to answer probes at once is probed this often (and as its link comes
 *  up) to learn whether it does: a frame every ten seconds, to neighbours of older revisions. */
export const LINK_ASK_MS = 10_000;
/** Data from a neighbour is answered within this long, by a hello if nothing else goes back. */
export const LINK_ECHO_MS = 250;
/** A link we sent data on that has been silent this long since is down: five echoes missed, or
 *  half a second past the hello a node that does not echo (the first revision) sends each second. */
export const LINK_BUSY_DEAD_MS = 1500;
/** A neighbour that sent us packets (not control traffic) and has then been silent this long is
 *  probed: two and a half intervals of a flow of ten packets a second, and once per burst, so
 *  the end of every flow costs one probe and its echo. */
export const LINK_QUIET_MS = 250;
/** First byte of a hop plaintext that is a probe (docs/PROTOCOL.md §5): it carries nothing, and
 *  is answered at once by a probe answer (by older nodes, like any non-empty plaintext, within
 *  LINK_ECHO_MS). */
export const FRAME_LINK_PROBE = 0x05;
/** Second byte of a probe that is an answer to one (a probe's is zero, its padding). */
export const PROBE_ANSWER = 0x01;
const PROBE = Uint8Array.of(FRAME_LINK_PROBE);
const ANSWER = Uint8Array.of(FRAME_LINK_PROBE, PROBE_ANSWER);

/** A neighbour's probing, in ms of the monotonic clock (-Infinity: never). */
interface Watch {
  /** When the silence the last probe asks about was first probed, and when its last probe went. */
  probedSince: number;
  probedLast: number;
  /** Seen to answer probes at once. */
  quick: boolean;
  /** When a probe of its was last answered. */
  answeredAt: number;
  /** When, not known to answer at once, it was last asked whether it does. */
  askedAt: number;
}

export interface LinkEvents {
  linkUp(link: number, peer: Peer): void;
  linkDown(link: number, peer: Peer): void;
}

const MAX_INDEX = 0xffff;

export class Links {
  private readonly byIndex = new Map<number, Peer>();
  private readonly up = new Set<Peer>();
  /** What the probing of each neighbour keeps (watchOf). */
  private readonly watches = new Map<Peer, Watch>();
  private lastIndex = 0;

  constructor(
    private readonly sessions: SessionManager,
    private readonly events: LinkEvents,
  ) {}

  /** Gives a new neighbour the next free interface index. Indices are not reused at once, so a
   *  frame still in flight for a removed neighbour cannot reach its successor. */
  add(peer: Peer): void {
    for (let tries = 0; tries < MAX_INDEX; tries++) {
      this.lastIndex = (this.lastIndex % MAX_INDEX) + 1;
      if (!this.byIndex.has(this.lastIndex)) {
        peer.link = this.lastIndex;
        this.byIndex.set(peer.link, peer);
        return;
      }
    }
    throw new Error('no free interface index: 65535 neighbours');
  }

  remove(peer: Peer): void {
    this.setUp(peer, false);
    this.watches.delete(peer);
    this.byIndex.delete(peer.link);
    peer.link = 0;
  }

  /** The neighbour behind an interface index, on the forwarding path. */
  peer(link: number): Peer | undefined {
    return this.byIndex.get(link);
  }

  isUp(peer: Peer): boolean {
    return this.up.has(peer);
  }

  /** The neighbour behind an interface index if its link is up: where a routed frame may go. */
  upPeer(link: number): Peer | undefined {
    const peer = this.byIndex.get(link);
    return peer !== undefined && this.up.has(peer) ? peer : undefined;
  }

  /**
   * Sends hellos where due — the periodic one, and the echo owed for data received — and probes
   * to neighbours whose traffic stopped, and tells routing which links came up or went down.
   * `horizon` is how long until the next tick: a periodic hello that would be late by then goes
   * now, so a node at rest sends all of its hellos in one wakeup. Returns when the next of these
   * is due unless something arrives — an echo, a probe, a link falling silent for good (Infinity
   * if no link is up) — so the caller can tick then.
   */
  tick(now: number, horizon: number): number {
    let next = Infinity;
    for (const peer of this.byIndex.values()) {
      // (-Infinity: no data waits for an echo, or for an answer.)
      const echoDue = peer.owesKeepaliveSince === -Infinity ? Infinity : peer.owesKeepaliveSince + LINK_ECHO_MS;
      if (peer.isUp && (now + horizon - peer.lastSentAt > LINK_HELLO_MS || now >= echoDue)) this.sessions.sendTransport(peer, null, now);
      // Heard from since the last probe, and then silence: short after packets, a hello's worth
      // and a little after anything else — unless we await an answer anyway, from a neighbour
      // that does not answer probes at once (from one that does, the probe's comes sooner).
      const watch = this.watchOf(peer);
      const quick = watch.quick;
      let probeDue = (quick || peer.awaitingReplySince === -Infinity) && peer.lastReceivedAt > watch.probedSince ? peer.lastReceivedAt + (peer.trafficReceivedAt > watch.probedSince ? LINK_QUIET_MS : LINK_HELLO_LATE_MS) : Infinity;
      // One not known to answer at once is asked whether it does as its link comes up, and
      // again every LINK_ASK_MS until it does (it may have been upgraded).
      if (!quick && now - watch.askedAt >= LINK_ASK_MS) probeDue = now;
      if (peer.isUp && now >= probeDue) {
        probeDue = Infinity;
        if (this.sessions.sendTransport(peer, PROBE, now)) {
          watch.probedSince = watch.probedLast = now;
          if (!quick) watch.askedAt = now;
        }
      }
      // Unanswered so far, a probe to a neighbour that answers at once is sent again every
      // LINK_REPROBE_MS (not once the link is down: its neighbour may be gone for good), and
      // the link is down LINK_QUICK_PROBE_DEAD_MS after the first. For another, the wait
      // (LINK_PROBE_DEAD_MS) is the probe's only if it began with the probe, not with data sent
      // before it.
      const unanswered = peer.lastReceivedAt < watch.probedSince;
      let reprobeDue = quick && unanswered && this.up.has(peer) ? watch.probedLast + LINK_REPROBE_MS : Infinity;
      if (peer.isUp && now >= reprobeDue && this.sessions.sendTransport(peer, PROBE, now)) {
        watch.probedLast = now;
        reprobeDue = now + LINK_REPROBE_MS;
      }
      const probeDeath = quick && unanswered ? watch.probedSince + LINK_QUICK_PROBE_DEAD_MS : Infinity;
      const probing = !quick && peer.awaitingReplySince === watch.probedSince;
      const busyDeath = peer.awaitingReplySince === -Infinity ? Infinity : peer.awaitingReplySince + (probing ? LINK_PROBE_DEAD_MS : LINK_BUSY_DEAD_MS);
      const death = Math.min(peer.lastReceivedAt + LINK_DEAD_MS, busyDeath, probeDeath);
      const up = peer.isUp && now < death;
      this.setUp(peer, up);
      if (!up) continue;
      next = Math.min(next, death, probeDue, reprobeDue);
      if (peer.owesKeepaliveSince !== -Infinity) next = Math.min(next, peer.owesKeepaliveSince + LINK_ECHO_MS);
    }
    return next;
  }

  /** A probe came from `peer`: answered at once, unless one was a moment ago (then its echo
   *  goes within LINK_ECHO_MS, as for any plaintext). The answer asks for no reply. */
  probeReceived(peer: Peer, now: number): void {
    const watch = this.watchOf(peer);
    if (now - watch.answeredAt < LINK_ANSWER_GAP_MS) return;
    if (this.sessions.sendTransport(peer, ANSWER, now, true)) watch.answeredAt = now;
  }

  /** A probe answer came from `peer`: it answers at once, and is waited for so long. */
  answerReceived(peer: Peer): void {
    this.watchOf(peer).quick = true;
  }

  /** Whether `peer` was seen to answer probes at once. */
  answersAtOnce(peer: Peer): boolean {
    return this.watches.get(peer)?.quick ?? false;
  }

  private watchOf(peer: Peer): Watch {
    let watch = this.watches.get(peer);
    if (!watch) this.watches.set(peer, (watch = { probedSince: -Infinity, probedLast: -Infinity, quick: false, answeredAt: -Infinity, askedAt: -Infinity }));
    return watch;
  }

  /** Every link down (the mesh switched off). */
  downAll(): void {
    for (const peer of [...this.up]) this.setUp(peer, false);
  }

  private setUp(peer: Peer, up: boolean): void {
    if (up === this.up.has(peer)) return;
    if (up) {
      this.up.add(peer);
      this.events.linkUp(peer.link, peer);
    } else {
      this.up.delete(peer);
      this.events.linkDown(peer.link, peer);
    }
  }
}
