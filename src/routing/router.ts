// The router: link-state routing over signed announcements within the map's scope — the nodes up
// to MAP_RADIUS hops away, at most MAP_MAX_NODES of them and MAP_MAX_BYTES, the nearest first —
// transport-agnostic (the daemon and the simulators drive the same class). Beyond the map,
// routing.ts asks the lookups.
//
//   linkUp / linkDown   the node layer reports a neighbour's hop session up or gone, with the
//                       interface index it gave that neighbour. On linkUp the new neighbour is
//                       sent the database and asked for its own (a neighbour that
//                       restarted quicker than its link could time out sees a new link where we
//                       see none, and only its request tells us it has lost its database);
//                       either way this node re-announces at the next tick, and SPF re-runs
//                       from the live links.
//   receive             a routing control frame from a neighbour: each announcement in it is
//                       acknowledged, then dropped if not newer than the one held (no signature
//                       check: duplicates of a flood are the common case), else verified,
//                       stored, and — if its origin is nearer than the radius and the map keeps
//                       it — flooded on to every other neighbour as the same bytes (held back
//                       until the next sweep says so, where that is not known yet), but not to
//                       one that sent it too meanwhile, nor past a neighbour's horizon (below).
//                       Every announcement sent is sent again until acknowledged
//                       (acknowledgements.ts).
//                       A horizon frame: how far the neighbour's nearly full map keeps nodes
//                       from; we send it nothing from farther, and our database if it widened.
//                       A database request is answered with the database; if that went to
//                       the neighbour lately, only once the time is up (answerDatabaseRequest).
//                       An hourly- or daily-distance frame: how near the neighbour is to a node
//                       of an earlier revision, which needs the half-hourly renewals, or a
//                       period crossed every twelve hours (below).
//   tick                every TICK_MS while there is work (workDue() says when there is): forget
//                       expired announcements, originate our own when due, resend what is
//                       unacknowledged, run SPF if anything changed, and tell routesChanged() if
//                       routes did; once a second (and while announcements are held back),
//                       sweep the scope: forget what lies out of it, flood on what is held back
//                       and turned out near and kept, and tell the neighbours our horizon if it
//                       changed, and how far the nearest nodes are that need the half-hourly
//                       renewals or the twelve-hourly crossings: an unchanged announcement is
//                       signed again every half hour and sent only towards the first while one
//                       is within the radius, else every twelve hours, crossing a twelve-hour
//                       period, sent only towards the second while one is within, else every
//                       day, crossing a day's period, to all.
//   lookup / routeTo    the data plane's questions; lookup reads an address in place and
//                       allocates nothing.
import {
  RENEWAL_SIZE,
  announcementLength,
  applyRenewal,
  decodeAnnouncement,
  renewalOf,
  renews,
  writeRenewal,
  signAnnouncements,
  verifyAnnouncement,
  type AnnouncedPrefix,
  type Announcement,
  type Link,
} from './announcement.js';
import {
  DATABASE_RESEND_MS,
  DEFAULT_LINK_COST,
  FRAME_HEADER,
  FRAME_ROUTING,
  KIND_ACKNOWLEDGEMENTS,
  KIND_ANNOUNCEMENTS,
  KIND_DATABASE_REQUEST,
  KIND_DAILY_DISTANCE,
  KIND_HOURLY_DISTANCE,
  KIND_MAP_HORIZON,
  KIND_RENEWALS,
  HOURLY_DISTANCE_GRACE_MS,
  HOURLY_DISTANCE_RESEND_MS,
  DAILY_REFRESH_MS,
  LIFETIME_MS,
  LONG_REFRESH_MS,
  MAP_HORIZON_FULLNESS,
  MAP_MAX_BYTES,
  MAP_MAX_NODES,
  MAP_RADIUS,
  MAP_SCOPE_GRACE_MS,
  MAX_DATABASE_BYTES,
  MAX_ORIGINS,
  MIN_ORIGINATION_INTERVAL_MS,
  NEW_SEQUENCE_BURST,
  ORIGIN_MIN_INTERVAL_MS,
  REFRESH_MS,
} from './constants.js';
import { RoutingCounters } from './counters.js';
import { ACK_ENTRY_SIZE, Unacknowledged, ackPart, ackSequence, writeAckEntry } from './acknowledgements.js';
import { readUint64BE } from '../util/bytes.js';
import { Lsdb, announcedLinks, charsMatch, compareAddresses, linkIndexAt, partBytes, type IdentityMemo, type NodeRecord, type Part } from './lsdb.js';
import { Spf, type Route, type SourceLinks } from './spf.js';
import { IPV6_MIN_MTU } from '../util/protocol.js';

export type { Route } from './spf.js';
export { RoutingCounters } from './counters.js';

export interface RouterOptions {
  identity: { publicKey: Uint8Array; privateKey: Uint8Array };
  /** This node's TUN MTU: announced, and the largest control frame sent. At least 1280 (IPv6's
   *  minimum, which announcements must carry to be accepted), so any announcement (at most
   *  ANNOUNCEMENT_PART_MAX = 1278 bytes) fits in a frame. */
  mtu: number;
  /** Sends a routing control frame to one neighbour (over its hop session). The router never
   *  modifies a frame once passed here, and may pass the same frame for several links: the callee
   *  must not modify it either (copy before sealing in place). */
  send(link: number, frame: Uint8Array): void;
  /** Monotonic ms (default performance.now). */
  now?: () => number;
  /** Ms since the epoch, for sequence numbers (default Date.now). */
  wallNow?: () => number;
  /** Called after an SPF run that changed the route table (a route added, removed, or one whose
   *  first hop, label, path or MTU changed). */
  routesChanged?(): void;
  /** Nodes of the map announced anew without some links they had: each origin's `indices`, its
   *  interface indices for them, lead nowhere now. Called once per frame of announcements that
   *  took any back, after they are stored; an announcement in several parts is compared once
   *  whole with the last one that was. */
  linksWithdrawn?(withdrawn: readonly Withdrawn[]): void;
  /** Called when the router has work for its next tick (a new announcement to take in, a link
   *  change to announce), so a caller that ticks slowly at rest can tick sooner. */
  workDue?(): void;
  /** Verification hook, for the simulator's optional shared cache; default verifyAnnouncement. */
  verify?(a: Announcement): boolean;
  /** The simulator's keys and addresses, shared by its nodes (lsdb.ts: IdentityMemo). */
  identityMemo?: IdentityMemo;
  /** The database's bounds: MAX_ORIGINS and MAX_DATABASE_BYTES unless a test says otherwise. */
  maxOrigins?: number;
  maxDatabaseBytes?: number;
  /** How far the map reaches: MAP_RADIUS hops, MAP_MAX_NODES nodes and MAP_MAX_BYTES of
   *  announcements unless said otherwise. A radius of Infinity keeps every node, whatever the
   *  other two say (the whole map, as before routing reached past it: the simulator's baseline,
   *  and tests of the map's own workings). */
  scope?: Partial<MapScope>;
}

/** Links a node of the map took back (RouterOptions.linksWithdrawn). */
export interface Withdrawn {
  origin: Uint8Array;
  indices: readonly number[];
}

export interface MapScope {
  radius: number;
  maxNodes: number;
  maxBytes: number;
}

/** How often the map's scope is swept while nothing is held back: a node out of scope is
 *  forgotten within MAP_SCOPE_GRACE_MS and this. */
const SCOPE_SWEEP_MS = 1000;
/** The first wait before a horizon that narrowed may widen again, and the longest. */
const HORIZON_HOLD_MS = 1000;
const HORIZON_HOLD_MAX_MS = 10 * 60_000;

/** An announcement to flood on, the link it came by (0: ours), where it does not go back, and
 *  how many hops away its origin is (a neighbour whose horizon is nearer is not sent it). */
interface Flooded {
  bytes: Uint8Array;
  from: number;
  hops: number;
  /** The sequence of the announcement these bytes sign again unchanged, if they do: a neighbour
   *  that takes renewals gets the renewal, and the whole announcement only if it does not
   *  acknowledge that (it lacked the one before). */
  base?: number;
  /** Other links that sent it to us while it was held back: they have it, so it does not go to
   *  them either. */
  holders?: Set<number>;
}

/** An announcement stored but not yet flooded on: its origin was not known to be near enough. */
interface HeldBack extends Flooded {
  record: NodeRecord;
  /** The database's part these bytes are a copy of, by which duplicates find the entry. */
  part: Part;
  sequence: number;
  at: number;
}

/** A neighbour whose hop session is up. */
interface Neighbour {
  publicKey: Uint8Array;
  /** Its id in the database (a reference held while the link is up), which holds its address
   *  (a copy here took some 180 bytes a neighbour, 80 KiB at a hub of 451 links). */
  id: number;
  /** When it was last sent the whole database (monotonic ms), and whether that answered its
   *  request (rather than greeting a new link). */
  databaseSentAt: number;
  databaseAnswered: boolean;
  /** A request came while the last answer was too recent: the database goes again once
   *  DATABASE_RESEND_MS has passed. */
  databaseOwed: boolean;
  /** Announcements sent to it and not yet acknowledged. */
  unacked: Unacknowledged;
  /** Acknowledgements of what it sent, to go at the next tick (ACK_ENTRY_SIZE each). */
  acksOwed: Uint8Array[];
  /** The hops it keeps announcements from (its KIND_MAP_HORIZON): nothing from farther is sent
   *  to it. Infinity until it says (a first- or second-revision node never does). */
  horizon: number;
  /** It takes renewals (it sent KIND_RENEWALS: a node before the eighth revision never does). */
  renewals: boolean;
  /** Hops from it to the nearest node that needs the half-hourly renewals, as it told us
   *  (KIND_HOURLY_DISTANCE; NO_HOURLY_NEAR: none within 2). 0 until it tells: it may be such a
   *  node itself (before the tenth revision, none tells). */
  hourlyDistance: number;
  /** Hops from it to the nearest node that needs a period crossed every twelve hours, as it told
   *  us (KIND_DAILY_DISTANCE; NO_HOURLY_NEAR: none within 2). 0 until it tells: it may be such a
   *  node itself (before the twentieth revision, none tells). */
  dailyDistance: number;
  /** When its link came up (monotonic ms): a neighbour silent about its hourly (daily) distance
   *  for HOURLY_DISTANCE_GRACE_MS after is of an earlier revision. */
  upAt: number;
}

/** What a neighbour said before its link was reported up here (Router.early). */
interface Early {
  at: number;
  renewals: boolean;
  hourlyDistance: number;
  dailyDistance: number;
}

/** One of the two distances a node tells its neighbours: to the nearest node that needs the
 *  half-hourly renewals (it forgets an announcement an hour after its last new sequence: before
 *  the tenth revision), or a period crossed every twelve hours (it forgets one after 25 hours:
 *  before the twentieth). What it last told, when, and whether that may have changed since (a
 *  neighbour came, went or told, or one is waiting out its grace). */
class ToldDistance {
  told = NO_HOURLY_NEAR;
  toldAt = -Infinity;
  due = false;

  constructor(
    readonly kind: typeof KIND_HOURLY_DISTANCE | typeof KIND_DAILY_DISTANCE,
    /** The neighbours' field (Neighbour, Early) that holds theirs. */
    readonly field: 'hourlyDistance' | 'dailyDistance',
  ) {}

  /** Whether what it told says such a node is within HOURLY_REACH. */
  get near(): boolean {
    return this.told <= HOURLY_REACH;
  }
}

const KEY_SIZE = 32;
/** "Send me your database": the whole routing control frame (docs/PROTOCOL.md §4). */
const DATABASE_REQUEST = Uint8Array.of(FRAME_ROUTING, KIND_DATABASE_REQUEST);
/** "I take renewals": an empty renewals frame, sent when a link comes up. */
const TAKES_RENEWALS = Uint8Array.of(FRAME_ROUTING, KIND_RENEWALS);
/** A horizon byte that bounds nothing. */
const NO_HORIZON = 255;
/** An hourly- (daily-) distance byte: no node that needs the half-hourly renewals (the
 *  twelve-hourly crossings) within 2 hops. */
const NO_HOURLY_NEAR = 255;
/** The farthest hourly (daily) distance told (a node past that, from a neighbour, is past the
 *  radius from us: MAP_RADIUS - 1). */
const HOURLY_REACH = 2;
/** IPv6's minimum MTU is the least an announcement may state, and FRAME_HEADER +
 *  ANNOUNCEMENT_PART_MAX at most, so every announcement fits in a frame. */
const MIN_MTU = IPV6_MIN_MTU;
// Announcement header offsets (announcement.ts has the format): enough to drop a duplicate
// without decoding it.
const OFF_ORIGIN = 1;
const OFF_SEQUENCE = 33;
const OFF_PART = 43;
const OFF_PARTS = 44;
const HEADER_SIZE = 47;

export class Router {
  readonly counters = new RoutingCounters();
  private readonly identity: { publicKey: Uint8Array; privateKey: Uint8Array };
  private readonly mtu: number;
  private readonly sendFrame: (link: number, frame: Uint8Array) => void;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly onRoutesChanged: (() => void) | undefined;
  private readonly onLinksWithdrawn: RouterOptions['linksWithdrawn'];
  private readonly onWorkDue: (() => void) | undefined;
  private readonly verify: (a: Announcement) => boolean;
  private readonly maxOrigins: number;
  private readonly maxDatabaseBytes: number;
  private readonly scope: MapScope;
  private heldBack: HeldBack[] = [];
  /** The held-back announcements by the database's part they copy, to note who else has one. */
  private readonly heldBackByPart = new Map<Part, HeldBack>();
  /** The parts of a record whose newest sequence is coming part by part, as they were when it
   *  was last whole: the links it takes back are found against them once it is whole again (the
   *  parts standing in meanwhile may lack a link that only moved to another part). */
  private readonly lastWhole = new WeakMap<NodeRecord, readonly (Part | undefined)[]>();
  /** Counts changes of the map, so that farthestKept is computed once per change. */
  private mapEpoch = 0;
  /** The map epoch boundScope last saw, and whether a node out of scope was waiting out its
   *  grace then. */
  private boundEpoch = -1;
  private outOfScopeWaiting = false;
  private farthestEpoch = -1;
  private farthest = 0;
  /** Ids of the live neighbours (SPF's source), for the distance of an origin not routed yet. */
  private neighbourIds = new Set<number>();
  private lastScopeSweep = -Infinity;
  /** The horizon last told to the neighbours; the radius until one is (a neighbour that has not
   *  been told sends nothing past its own radius, the same unless radii differ). */
  private toldHorizon: number;
  /** Damping of a horizon that keeps widening and narrowing (tellHorizon): no wider one is told
   *  before widenAfter; the hold doubles with each narrowing, back to HORIZON_HOLD_MS after a
   *  quiet HORIZON_HOLD_MAX_MS. */
  private widenAfter = -Infinity;
  private horizonHoldMs = HORIZON_HOLD_MS;
  private narrowedAt = -Infinity;
  /** The hourly and the daily distance, as told to the neighbours. */
  private readonly hourly = new ToldDistance(KIND_HOURLY_DISTANCE, 'hourlyDistance');
  private readonly daily = new ToldDistance(KIND_DAILY_DISTANCE, 'dailyDistance');
  private readonly distances = [this.hourly, this.daily];
  /** What a neighbour said before its link was reported up here — that it takes renewals, its
   *  hourly and daily distances — taken when it is: the first frames a neighbour sends as its
   *  link comes up may overtake the node's own report of that link. Forgotten after
   *  HOURLY_DISTANCE_GRACE_MS. */
  private readonly early = new Map<number, Early>();

  private readonly lsdb: Lsdb;
  private readonly spf = new Spf();
  private selfId: number;
  private readonly neighbours = new Map<number, Neighbour>();
  private sourceLinks: SourceLinks = [];

  /** Highest sequence of ours seen: originated here, or left in the network by an earlier run. */
  private sequence = -1;
  private lastOrigination = -Infinity;
  private originationDue = true;
  /** An announcement of ours from an earlier run came back: our neighbours may hold it, not the
   *  one we made last, so the next goes whole even if it signs that one again unchanged (a
   *  renewal of it, spared to most neighbours, would leave them the earlier run's). */
  private earlierRunSeen = false;
  /** When our sequence last entered a new LONG_REFRESH_MS period, and a new DAILY_REFRESH_MS one,
   *  or our first origination came (monotonic ms; none yet: it is due anyway). */
  private crossedAt = Infinity;
  private crossedDayAt = Infinity;
  /** The routed prefixes this node claims (setPrefixes). */
  private prefixes: readonly AnnouncedPrefix[] = [];
  private spfDue = true;
  /** Neighbours owed a database (Neighbour.databaseOwed). */
  private databasesOwed = 0;
  /** Records with a route, from the last SPF run. */
  private routed: NodeRecord[] = [];
  private sorted: Route[] | undefined;

  constructor(options: RouterOptions) {
    if (options.identity.publicKey.length !== KEY_SIZE) throw new RangeError('identity public key must be 32 bytes');
    if (!Number.isInteger(options.mtu) || options.mtu < MIN_MTU || options.mtu > 0xffff) {
      throw new RangeError(`router mtu must be ${MIN_MTU}..65535, got ${options.mtu}`);
    }
    this.identity = { publicKey: options.identity.publicKey.slice(), privateKey: options.identity.privateKey };
    this.mtu = options.mtu;
    this.lsdb = new Lsdb({ identityMemo: options.identityMemo });
    this.sendFrame = options.send;
    this.now = options.now ?? (() => performance.now());
    this.wallNow = options.wallNow ?? Date.now;
    this.onRoutesChanged = options.routesChanged?.bind(options);
    this.onLinksWithdrawn = options.linksWithdrawn?.bind(options);
    this.onWorkDue = options.workDue?.bind(options);
    this.verify = options.verify ? options.verify.bind(options) : verifyAnnouncement;
    this.maxOrigins = options.maxOrigins ?? MAX_ORIGINS;
    this.maxDatabaseBytes = options.maxDatabaseBytes ?? MAX_DATABASE_BYTES;
    this.scope = { radius: MAP_RADIUS, maxNodes: MAP_MAX_NODES, maxBytes: MAP_MAX_BYTES, ...options.scope };
    this.toldHorizon = this.scope.radius;
    // Our own id holds a reference for the router's lifetime.
    this.selfId = this.lsdb.intern(this.lsdb.addressOf(this.identity.publicKey));
    this.lsdb.ref(this.selfId);
  }

  /** The neighbour with `publicKey` is reachable through interface index `link` (1..65535). */
  linkUp(link: number, publicKey: Uint8Array): void {
    checkLink(link);
    if (publicKey.length !== KEY_SIZE) throw new RangeError('neighbour public key must be 32 bytes');
    if (equalKey(publicKey, 0, this.identity.publicKey)) return; // a link to ourselves carries nothing
    const current = this.neighbours.get(link);
    // The same neighbour reported up again (a caller that does not track down first) changes
    // nothing here; either way it gets our database and is asked for its own.
    if (!current || !equalKey(publicKey, 0, current.publicKey)) {
      if (current) this.dropNeighbour(link, current);
      const id = this.lsdb.intern(this.lsdb.addressOf(publicKey));
      this.lsdb.ref(id);
      const early = this.early.get(link);
      this.early.delete(link);
      this.neighbours.set(link, {
        // Kept, not copied (Routing's neighbour table owns it; nobody modifies keys).
        publicKey,
        id,
        databaseSentAt: -Infinity,
        databaseAnswered: false,
        databaseOwed: false,
        unacked: new Unacknowledged(),
        acksOwed: [],
        horizon: Infinity,
        renewals: early?.renewals ?? false,
        hourlyDistance: early?.hourlyDistance ?? 0,
        dailyDistance: early?.dailyDistance ?? 0,
        upAt: this.now(),
      });
      this.linksChanged();
    }
    this.send(link, TAKES_RENEWALS);
    this.send(link, byteFrame(KIND_HOURLY_DISTANCE, this.hourly.told));
    this.send(link, byteFrame(KIND_DAILY_DISTANCE, this.daily.told));
    this.sendDatabase(link, false);
    this.send(link, DATABASE_REQUEST);
    if (this.toldHorizon < this.scope.radius) this.send(link, byteFrame(KIND_MAP_HORIZON, this.toldHorizon));
  }

  /** The neighbour at interface index `link` is gone. */
  linkDown(link: number): void {
    const current = this.neighbours.get(link);
    if (!current) return;
    this.dropNeighbour(link, current);
    this.linksChanged();
  }

  /** A routing control frame (frame[0] === FRAME_ROUTING) from the neighbour at `link`. */
  receive(link: number, frame: Uint8Array): void {
    const counters = this.counters;
    counters.framesReceived++;
    counters.bytesReceived += frame.length;
    // The hop layer pads every plaintext with zeros to a multiple of 16 bytes: zeros after the
    // content are padding, not a malformed announcement.
    if (frame.length >= FRAME_HEADER && frame[0] === FRAME_ROUTING && frame[1] === KIND_DATABASE_REQUEST && zerosFrom(frame, FRAME_HEADER)) {
      this.answerDatabaseRequest(link);
      if (this.hasWork) this.onWorkDue?.();
      return;
    }
    if (frame.length >= FRAME_HEADER && frame[0] === FRAME_ROUTING && frame[1] === KIND_ACKNOWLEDGEMENTS) {
      this.receiveAcknowledgements(link, frame);
      if (this.hasWork) this.onWorkDue?.();
      return;
    }
    if (frame.length >= FRAME_HEADER && frame[0] === FRAME_ROUTING && frame[1] === KIND_MAP_HORIZON) {
      this.receiveHorizon(link, frame);
      if (this.hasWork) this.onWorkDue?.();
      return;
    }
    if (frame.length >= FRAME_HEADER && frame[0] === FRAME_ROUTING && frame[1] === KIND_RENEWALS) {
      this.receiveRenewals(link, frame);
      if (this.hasWork) this.onWorkDue?.();
      return;
    }
    if (frame.length >= FRAME_HEADER && frame[0] === FRAME_ROUTING && frame[1] === KIND_HOURLY_DISTANCE) {
      this.receiveDistance(this.hourly, link, frame);
      return;
    }
    if (frame.length >= FRAME_HEADER && frame[0] === FRAME_ROUTING && frame[1] === KIND_DAILY_DISTANCE) {
      this.receiveDistance(this.daily, link, frame);
      return;
    }
    if (frame.length < FRAME_HEADER || frame[0] !== FRAME_ROUTING || frame[1] !== KIND_ANNOUNCEMENTS) {
      counters.malformed++;
      return;
    }
    this.receiveAnnouncements(link, frame);
  }

  /** A frame of announcements (KIND_ANNOUNCEMENTS, or rebuilt from renewals) from `link`. */
  private receiveAnnouncements(link: number, frame: Uint8Array): void {
    const counters = this.counters;
    const from = this.neighbours.get(link);
    let fresh: Flooded[] | undefined;
    const now = this.now();
    // One acknowledgement entry per announcement delimited; at most one per 47 bytes of frame.
    const acks = from ? new Uint8Array(Math.floor((frame.length - FRAME_HEADER) / HEADER_SIZE) * ACK_ENTRY_SIZE) : null;
    let acked = 0;
    let withdrawn: Map<NodeRecord, Set<number>> | undefined;
    const acknowledge = (at: number, sequence: number, part: number) => {
      if (!acks) return;
      writeAckEntry(frame, at, acks, acked++ * ACK_ENTRY_SIZE);
      from!.unacked.acknowledged(frame, at + OFF_ORIGIN, sequence, part);
    };
    for (let off = FRAME_HEADER; off < frame.length; ) {
      if (frame[off] === 0 && zerosFrom(frame, off)) break; // padding
      const length = announcementLength(frame, off);
      if (length < 0) {
        counters.malformed++;
        break; // the rest of the frame cannot be delimited
      }
      const sequence = readSequence(frame, off);
      const part = frame[off + OFF_PART]!;
      const ours = equalKey(frame, off + OFF_ORIGIN, this.identity.publicKey);
      if (ours ? this.isOwnEcho(frame, off, length, sequence, part) : this.lsdb.isStale(frame, off + OFF_ORIGIN, sequence, part)) {
        counters.stale++;
        // Held already: acknowledged (the sender may be resending it) and, since the sender has
        // it, not resent to it either, nor flooded on to it if it is still held back.
        acknowledge(off, sequence, part);
        if (!ours && this.heldBackByPart.size > 0) this.noteHolder(frame, off, sequence, part, link);
        off += length;
        continue;
      }
      // Taken, but not now: dropped unacknowledged, so the neighbour resends it (or gives up).
      const refused = ours ? null : this.refusal(frame, off, sequence, length, now);
      if (refused) {
        counters[refused]++;
        off += length;
        continue;
      }
      const decoded = decodeAnnouncement(frame, off);
      if (!decoded) {
        counters.malformed++;
        break;
      }
      off += length;
      const a = decoded.announcement;
      const place = ours ? 'near' : this.placeInScope(a);
      if (place === 'unplaced') {
        counters.unplaced++; // unacknowledged: it comes again
        continue;
      }
      if (place === 'beyond') {
        // Not kept, so not checked, stored or flooded on; acknowledged, since sending it again
        // would not change that.
        counters.notKept++;
        acknowledge(off - length, sequence, part);
        continue;
      }
      if (!this.verify(a)) {
        counters.badSignature++;
        continue;
      }
      acknowledge(off - length, sequence, part);
      if (ours) {
        // Ours, from before a restart (or a clock step back): announce above it, and do not
        // spread it further, since our next announcement replaces it everywhere.
        this.sequence = Math.max(this.sequence, a.sequence);
        this.originationDue = true;
        this.earlierRunSeen = true;
        continue;
      }
      const held = this.lsdb.recordOf(a.origin, 0);
      if (held && a.sequence > held.sequence) held.sequenceTokens--;
      // Signed again unchanged, it is a renewal, spared to neighbours that need none, if its
      // origin was routed: one we had no route to (gone, and back before our grace ran out) a
      // neighbour may have forgotten already. Spared, it never reached a node two hops from a
      // restarted exit that had forgotten it a moment sooner than the node between.
      const base = held?.route ? this.renewedBase(held, a.part, a.bytes) : undefined;
      // Its parts when it was last whole, to find the links it takes back against: a whole
      // record's array is not written again (a new sequence starts a new one). (A renewal,
      // signed again unchanged, takes nothing back.)
      const wholeBefore = held && this.onLinksWithdrawn && base === undefined ? (held.standIns ? this.lastWhole.get(held) : held.parts) : undefined;
      const record = this.lsdb.store(a, now, now + LIFETIME_MS);
      if (wholeBefore && record.standIns) {
        if (!this.lastWhole.has(record)) this.lastWhole.set(record, wholeBefore);
      } else if (wholeBefore) {
        this.lastWhole.delete(record);
        for (const index of indicesGone(wholeBefore, record.parts)) {
          withdrawn ??= new Map();
          let indices = withdrawn.get(record);
          if (!indices) withdrawn.set(record, (indices = new Set()));
          indices.add(index);
        }
      }
      const stored = record.parts[a.part]!;
      // A copy: `a` is a view into the frame it came in, and resends keep it until acknowledged.
      const bytes = a.bytes.slice();
      this.mapChanged();
      // The whole map: on at once. A scoped one: on at the next tick, once the sweep has said
      // whether it stays and how near it is, so that a node floods on only what it keeps, and
      // what it floods in a tick goes out in as few frames as it fits.
      if (this.scope.radius === Infinity) (fresh ??= []).push({ bytes, from: link, hops: this.hopsTo(record), base });
      else {
        const h: HeldBack = { bytes, record, part: stored, sequence: a.sequence, from: link, hops: 0, at: now, base };
        this.heldBack.push(h);
        this.heldBackByPart.set(stored, h);
      }
    }
    // Acknowledged at the next tick too, with whatever else came from that neighbour by then.
    if (acked > 0) from!.acksOwed.push(acks!.subarray(0, acked * ACK_ENTRY_SIZE));
    if (fresh) this.flood(fresh);
    if (withdrawn) this.tellWithdrawn(withdrawn);
    if (this.hasWork) this.onWorkDue?.();
  }

  /** Whether the next tick has something to do: an SPF run, or an announcement of ours or a
   *  database waiting for MIN_ORIGINATION_INTERVAL_MS or DATABASE_RESEND_MS to pass, or
   *  announcements waiting to be flooded on once the map says how far their origins are. */
  get hasWork(): boolean {
    return this.spfDue || this.originationDue || this.databasesOwed > 0 || this.heldBack.length > 0 || this.neighbourOwed();
  }

  /** The earliest time a tick has something to do, if no frame comes and no link changes before
   *  (Trees.nextDue): what tick() checks, each as a time. */
  nextDue(): number {
    const now = this.now();
    if (this.hasWork || this.hourly.due || this.daily.due) return now;
    let due = Math.min(this.lsdb.expiresNext, this.lastOrigination + this.refreshInterval(), this.crossingDue());
    if (this.scope.radius !== Infinity) {
      // A sweep at rest does nothing while the map is as it was at the last one and no node
      // waits out its grace; a horizon not told yet is told at once, or when it may widen.
      if (this.boundEpoch !== this.mapEpoch || this.outOfScopeWaiting) return now;
      const horizon = this.horizon();
      if (horizon < this.toldHorizon) return now;
      if (horizon > this.toldHorizon) due = Math.min(due, this.widenAfter);
    }
    for (const d of this.distances) if (d.near) due = Math.min(due, d.toldAt + HOURLY_DISTANCE_RESEND_MS);
    for (const e of this.early.values()) due = Math.min(due, e.at + HOURLY_DISTANCE_GRACE_MS);
    return due;
  }

  /** Call every TICK_MS while hasWork, and at least once a second: expiry, origination, SPF. */
  tick(): void {
    const now = this.now();
    if (this.lsdb.expire(now) > 0) this.mapChanged();
    const since = now - this.lastOrigination;
    // Also when our sequence has not crossed a period for as long (spareRenewal): after renewals
    // that most neighbours were spared, the long refresh counts from the last of them, and would
    // leave those neighbours nearly a period more without one.
    if ((this.originationDue && since >= MIN_ORIGINATION_INTERVAL_MS) || since >= this.refreshInterval() || now >= this.crossingDue()) this.originate(now);
    if (this.spfDue) this.runSpf();
    if (this.scope.radius !== Infinity && (this.heldBack.length > 0 || now - this.lastScopeSweep >= SCOPE_SWEEP_MS)) {
      this.sweepScope(now);
      if (this.spfDue) this.runSpf();
      this.tellHorizon(now);
    }
    for (const d of this.distances) if (d.due || (d.near && now - d.toldAt >= HOURLY_DISTANCE_RESEND_MS)) this.tellDistance(d, now);
    for (const [link, e] of this.early) if (now - e.at >= HOURLY_DISTANCE_GRACE_MS) this.early.delete(link);
    if (this.databasesOwed > 0) this.sendOwedDatabases(now);
    this.retransmit(now);
    for (const [link, n] of this.neighbours) {
      if (n.acksOwed.length === 0) continue;
      this.sendAcknowledgements(link, n.acksOwed.length === 1 ? n.acksOwed[0]! : Buffer.concat(n.acksOwed));
      n.acksOwed = [];
    }
  }

  /** The route to the node whose 16-byte address is at buf[off]. Allocates nothing. */
  lookup(buf: Uint8Array, off: number): Route | undefined {
    return this.trusted(this.lsdb.recordAt(buf, off)?.route);
  }

  routeTo(publicKey: Uint8Array): Route | undefined {
    if (publicKey.length !== KEY_SIZE) return undefined;
    return this.trusted(this.lsdb.recordOf(publicKey, 0)?.route);
  }

  /**
   * A route the map may give: one whose every node but the last is within the radius, or within
   * the horizon we told, if narrower (the neighbours send nothing from farther). Those are the
   * nodes whose announcements reach us, so such a route is made of links that their fresh
   * announcements name. A node a failure put farther is held for MAP_SCOPE_GRACE_MS, and so are
   * the nodes between, whose announcements no longer reach us: a route through them may cross
   * links long gone (with thirty real daemons, a route of 9 hops through the killed hub, taken
   * for those 5 s), and the data path looks the node up instead. The route to a node one hop
   * past the radius, as a ring's far side is just after a cut, stands.
   */
  private trusted(route: Route | undefined): Route | undefined {
    return route && route.hops <= Math.min(this.scope.radius, this.toldHorizon) + 1 ? route : undefined;
  }

  /** The key of the node that the node with key `publicKey` reaches by its interface index
   *  `index`, as its announcement says (any of its parts: a node may have two links to one
   *  neighbour), if the map holds both. */
  linkTarget(publicKey: Uint8Array, index: number): Uint8Array | undefined {
    const record = this.lsdb.recordOf(publicKey, 0);
    return record && this.lsdb.linkTarget(record, index)?.publicKey;
  }

  /** Tells linksWithdrawn of the links the frame's announcements took back, less any named again
   *  by a later announcement of the same origin in the frame. */
  private tellWithdrawn(withdrawn: Map<NodeRecord, Set<number>>): void {
    const told: Withdrawn[] = [];
    for (const [record, indices] of withdrawn) {
      if (!record.standIns) for (const index of indices) if (names(record.parts, index)) indices.delete(index);
      if (indices.size > 0) told.push({ origin: record.publicKey, indices: [...indices] });
    }
    if (told.length > 0) this.onLinksWithdrawn!(told);
  }

  /**
   * The routed prefixes this node claims from now on (with their delegations): announced at the
   * next origination, which this schedules. Signed as given; whether anyone accepts them is each
   * node's own judgement.
   */
  setPrefixes(prefixes: readonly AnnouncedPrefix[]): void {
    this.prefixes = prefixes;
    this.originationDue = true;
    this.onWorkDue?.();
  }

  /** Changes whenever some other node's claimed prefixes may have changed. */
  get prefixEpoch(): number {
    return this.lsdb.prefixEpoch;
  }

  /** Every other node that claims routed prefixes, with its claims as announced. */
  claims(): { publicKey: Uint8Array; prefixes: readonly AnnouncedPrefix[] }[] {
    const out: { publicKey: Uint8Array; prefixes: readonly AnnouncedPrefix[] }[] = [];
    for (const record of this.lsdb.held) {
      if (record.prefixes.length > 0 && record.id !== this.selfId) out.push({ publicKey: record.publicKey, prefixes: record.prefixes });
    }
    return out;
  }

  /** Every route, fewest hops first (then by address). */
  routes(): Route[] {
    if (!this.sorted) {
      this.sorted = this.routed
        .filter((r) => this.trusted(r.route))
        .sort((a, b) => a.route!.hops - b.route!.hops || compareAddresses(a, b))
        .map((r) => r.route!);
    }
    return this.sorted.slice();
  }

  /** How many links the node announces (0 if routing has not heard of it). */
  degreeOf(publicKey: Uint8Array): number {
    if (publicKey.length !== KEY_SIZE) return 0;
    const record = this.lsdb.recordOf(publicKey, 0);
    return record ? this.lsdb.announcedDegree(record) : 0;
  }

  /** Whether the database holds the node at the 16-byte address at buf[off] (an origin). */
  holds(buf: Uint8Array, off: number): boolean {
    return this.lsdb.recordAt(buf, off) !== undefined;
  }

  /** The public key of a known node (an origin in the database, or a neighbour) by address. */
  keyOf(address: Uint8Array): Uint8Array | undefined {
    if (address.length !== 16) return undefined;
    const record = this.lsdb.recordAt(address, 0);
    if (record) return record.publicKey;
    const id = this.lsdb.idOf(address, 0);
    if (id === undefined) return undefined;
    for (const n of this.neighbours.values()) if (n.id === id) return n.publicKey;
    return undefined;
  }

  /** Routing state held: origins, link entries (each link to a node held, ours or a live
   *  link's counted once per side that announces it, but ours: our live links are SPF's
   *  source), announcements (parts) and their encoded bytes, ours included; the addresses
   *  numbered and the id range (Lsdb.stats). */
  stats(): ReturnType<Lsdb['stats']> {
    return this.lsdb.stats();
  }

  /** The nodes other than ourselves whose announcements the map holds. */
  othersHeld(): number {
    return this.lsdb.stats().nodes - (this.lsdb.recordOf(this.identity.publicKey, 0) ? 1 : 0);
  }

  /** Whether a node's announcements go on to our neighbours: it is nearer than the radius (so
   *  within it of them). */
  private floodsOn(record: NodeRecord): boolean {
    return this.scope.radius === Infinity || this.hopsTo(record) < this.scope.radius;
  }

  /**
   * Where an announcement's origin stands for the map, by the neighbours it names: 'beyond' if
   * the map is full and holds no node farther (naming none we know, it is farther than those),
   * 'unplaced' if the map has room but they put it past the radius, or it names no node we know
   * (the nodes between are on their way: the neighbour sends it again), else 'near'. Without
   * this a node would check and hold, until a sweep, all that each neighbour keeps: on
   * powerlaw-10000, over 100 nodes per node in a cold start and 14,000 at the hub. Held
   * origins, and announcements in parts (judged whole, at the sweep: a part need not name the
   * neighbour another part names), are 'near'.
   */
  private placeInScope(a: Announcement): 'near' | 'beyond' | 'unplaced' {
    if (this.scope.radius === Infinity || a.parts > 1 || this.lsdb.recordOf(a.origin, 0)) return 'near';
    const originId = this.lsdb.idOf(this.lsdb.addressOf(a.origin), 0);
    const hops = originId !== undefined && this.neighbourIds.has(originId) ? 1 : this.hopsToNamed(a.links);
    if (this.mapFull()) return hops >= this.farthestKept() ? 'beyond' : 'near';
    // Past the radius with room in the map: the sender has it nearer, so our routes to the
    // nodes it names may still be forming; the resend will tell.
    return hops > this.scope.radius ? 'unplaced' : 'near';
  }

  /** Hops to a node not held, from the neighbours its announcement names: one more than the
   *  nearest of them the map knows, Infinity if it knows none. */
  private hopsToNamed(links: readonly Link[]): number {
    let nearest = Infinity;
    for (const link of links) {
      const id = this.lsdb.idOf(link.address, 0);
      if (id === undefined) continue;
      // A node held but not routed yet (SPF runs at the next tick) counts as its links place it.
      const record = this.lsdb.records[id];
      nearest = Math.min(nearest, this.hopsToId(id), record && !record.route ? this.hopsTo(record) : Infinity);
    }
    return nearest + 1;
  }

  /** Hops to the farthest node the map holds (as hopsTo estimates them), computed once per
   *  change of the map (a hub is offered thousands of announcements between two). */
  private farthestKept(): number {
    if (this.farthestEpoch === this.mapEpoch) return this.farthest;
    this.farthestEpoch = this.mapEpoch;
    let farthest = 0;
    for (const record of this.lsdb.held) {
      if (record.id === this.selfId) continue;
      const hops = this.hopsTo(record);
      if (hops > farthest) farthest = hops;
    }
    return (this.farthest = farthest);
  }

  /** Hops to a node as the map last said: its route's, or, for one with no route yet, one more
   *  than the nearest node it names as a neighbour (so a new node next to a near one counts as
   *  near before SPF has run). Infinity if neither is known. */
  private hopsTo(record: NodeRecord): number {
    if (record.route) return record.route.hops;
    let nearest = Infinity;
    // Every node it names, not only those its links in the graph hold: a node not routed yet
    // may name a live neighbour of ours whose announcement has not come.
    this.lsdb.namedIds(record, (id) => {
      if (id !== record.id) nearest = Math.min(nearest, this.hopsToId(id));
    });
    return nearest + 1;
  }

  /** Hops to a node the map knows by id: 0 for us, 1 for a neighbour, else its route's. */
  private hopsToId(id: number): number {
    return id === this.selfId ? 0 : this.neighbourIds.has(id) ? 1 : (this.lsdb.records[id]?.route?.hops ?? Infinity);
  }

  /**
   * Keeps the map within its scope: floods on the announcements held back whose origins turned
   * out to be near; forgets nodes that have been beyond the radius (or unreachable) for
   * MAP_SCOPE_GRACE_MS; then, past MAP_MAX_NODES or MAP_MAX_BYTES, the farthest first.
   */
  private sweepScope(now: number): void {
    this.lastScopeSweep = now;
    this.boundScope(now);
    const waiting: HeldBack[] = [];
    const near: HeldBack[] = [];
    for (const h of this.heldBack) {
      this.heldBackByPart.delete(h.part);
      if (this.lsdb.records[h.record.id] !== h.record || h.record.sequence !== h.sequence) continue; // replaced, or forgotten
      if (this.floodsOn(h.record)) {
        h.hops = this.hopsTo(h.record);
        near.push(h);
      } else if (now - h.at < MAP_SCOPE_GRACE_MS) waiting.push(h);
    }
    this.heldBack = waiting;
    for (const h of waiting) this.heldBackByPart.set(h.part, h);
    if (near.length > 0) this.flood(near);
  }

  /** Whether the map holds as many nodes or bytes as it may (never, unscoped). */
  private mapFull(): boolean {
    return this.mapHolds(1);
  }

  /** Whether the map holds MAP_HORIZON_FULLNESS of the nodes or bytes it may: it tells its
   *  neighbours a horizon (never, unscoped). */
  private mapNearlyFull(): boolean {
    return this.mapHolds(MAP_HORIZON_FULLNESS);
  }

  private mapHolds(share: number): boolean {
    const { radius, maxNodes, maxBytes } = this.scope;
    if (radius === Infinity) return false;
    return this.lsdb.origins - 1 >= maxNodes * share || this.lsdb.bytes >= maxBytes * share;
  }

  /** Forgets what lies out of the map's scope (sweepScope). Nothing to do, at rest, while the
   *  map is as it was at the last sweep and no node waits out its grace. */
  private boundScope(now: number): void {
    if (this.boundEpoch === this.mapEpoch && !this.outOfScopeWaiting) return;
    const { radius, maxNodes, maxBytes } = this.scope;
    const within: NodeRecord[] = [];
    const waiting: NodeRecord[] = [];
    for (const record of this.lsdb.held) {
      if (record.id === this.selfId) continue;
      if ((record.route?.hops ?? Infinity) <= radius) {
        record.outOfScopeSince = -1;
        within.push(record);
      } else if (record.outOfScopeSince < 0) {
        record.outOfScopeSince = now;
        waiting.push(record);
      } else if (now - record.outOfScopeSince >= MAP_SCOPE_GRACE_MS) this.forget(record);
      else waiting.push(record);
    }
    this.outOfScopeWaiting = waiting.length > 0;
    if (within.length > maxNodes || this.lsdb.bytes > maxBytes) this.forgetFarthest(within, waiting);
    this.boundEpoch = this.mapEpoch;
  }

  /**
   * Forgets the farthest held until the map is within its bounds: of the nodes within the radius
   * and of those waiting out their grace (stored before SPF has run, or past the radius or
   * unreachable for now), placed as hopsTo places them. The bytes of those waiting count as much;
   * with only the routed ones to choose from, a map over its bytes forgot its own neighbours'
   * announcements for nodes it could not place (a hub just stored and its leaves), and took them
   * back whole at its next wider horizon, again and again.
   */
  private forgetFarthest(within: NodeRecord[], waiting: NodeRecord[]): void {
    const { maxNodes, maxBytes } = this.scope;
    const place = (isWithin: boolean) => (record: NodeRecord) => ({ record, hops: this.hopsTo(record), isWithin });
    const held = [...within.map(place(true)), ...waiting.map(place(false))];
    // Farthest first; between equals, the larger announcement.
    held.sort((a, b) => b.hops - a.hops || recordBytes(b.record) - recordBytes(a.record));
    let count = within.length;
    for (const { record, isWithin } of held) {
      if (count <= maxNodes && this.lsdb.bytes <= maxBytes) break;
      this.forget(record);
      if (isWithin) count--;
    }
  }

  private forget(record: NodeRecord): void {
    this.lsdb.remove(record);
    this.counters.outOfScope++;
    this.mapChanged();
  }

  // True if an announcement of our own key is not newer than ours: older, or the very bytes we
  // signed (our flood coming back round a loop). One of our sequence with other bytes is from an
  // earlier run that happened to pick the same sequence; it is treated as newer, so we move above.
  private isOwnEcho(frame: Uint8Array, off: number, length: number, sequence: number, part: number): boolean {
    if (sequence !== this.sequence) return sequence < this.sequence;
    const held = this.lsdb.recordOf(this.identity.publicKey, 0);
    const signed = held?.sequence === sequence ? held.parts[part]?.signed : undefined;
    return signed !== undefined && signed.length === length && charsMatch(signed, frame, off);
  }

  /** Why a new announcement of another origin at frame[off] cannot be stored now, if it cannot:
   *  a new sequence past the origin's budget (ORIGIN_MIN_INTERVAL_MS), or a database at its
   *  bounds. */
  private refusal(frame: Uint8Array, off: number, sequence: number, length: number, now: number): 'tooFrequent' | 'databaseFull' | null {
    const held = this.lsdb.recordOf(frame, off + OFF_ORIGIN);
    if (held && sequence > held.sequence) {
      held.sequenceTokens = Math.min(NEW_SEQUENCE_BURST, held.sequenceTokens + (now - held.tokensAt) / ORIGIN_MIN_INTERVAL_MS);
      held.tokensAt = now;
      if (held.sequenceTokens < 1) return 'tooFrequent';
    }
    if (!held && this.lsdb.origins >= this.maxOrigins) return 'databaseFull';
    // A new sequence of a held origin replaces its parts; anything else adds bytes.
    if (this.lsdb.bytes + length > this.maxDatabaseBytes && !(held && sequence > held.sequence)) return 'databaseFull';
    return null;
  }

  private dropNeighbour(link: number, n: Neighbour): void {
    if (n.databaseOwed) this.databasesOwed--;
    this.hourly.due = this.daily.due = true;
    this.neighbours.delete(link);
    this.lsdb.unref(n.id);
  }

  // Rebuilds SPF's source links from the live ones, and schedules an announcement and an SPF run.
  private linksChanged(): void {
    this.buildSourceLinks();
    this.hourly.due = this.daily.due = true;
    this.originationDue = true;
    this.mapChanged();
    this.onWorkDue?.();
  }

  // SPF's source links and the neighbours' ids, from the live links by link index (a neighbour
  // reachable over two links is used over the lower index).
  private buildSourceLinks(): void {
    const links = [...this.neighbours].sort((a, b) => a[0] - b[0]);
    const source: number[] = [];
    const seen = new Set<number>();
    for (const [link, n] of links) {
      if (seen.has(n.id)) continue;
      seen.add(n.id);
      source.push(n.id, link, DEFAULT_LINK_COST);
    }
    this.sourceLinks = source;
    this.neighbourIds = seen;
  }

  private originate(now: number): void {
    let sequence = Math.max(this.sequence + 1, Math.floor(this.wallNow()));
    // Every node that keeps us must get a renewal that crosses a period (spareRenewal) within a
    // period of the last: a day's, and twelve hours' where a node that needs those is near. A
    // sequence that runs ahead of the clock (stepped back, or an earlier run's above it) would
    // otherwise never cross one, and is moved into the next period.
    if (samePeriod(this.sequence, sequence, DAILY_REFRESH_MS) && now - this.crossedDayAt >= DAILY_REFRESH_MS) {
      sequence = nextPeriod(this.sequence, DAILY_REFRESH_MS);
    } else if (this.needed(this.daily) && samePeriod(this.sequence, sequence, LONG_REFRESH_MS) && now - this.crossedAt >= LONG_REFRESH_MS) {
      sequence = nextPeriod(this.sequence, LONG_REFRESH_MS);
    }
    // The first of a run goes whole to every neighbour (nothing of ours is held to renew), as a
    // crossing does, though it may lie in the period of an earlier run's that came back first.
    if (this.crossedAt === Infinity || !samePeriod(this.sequence, sequence, LONG_REFRESH_MS)) this.crossedAt = now;
    if (this.crossedDayAt === Infinity || !samePeriod(this.sequence, sequence, DAILY_REFRESH_MS)) this.crossedDayAt = now;
    const links: Link[] = [...this.neighbours]
      .sort((a, b) => a[0] - b[0])
      .map(([index, n]) => ({ address: this.lsdb.addressOfId(n.id), index, cost: DEFAULT_LINK_COST }));
    const parts = signAnnouncements(this.identity, sequence, this.mtu, links, this.prefixes);
    this.sequence = sequence;
    this.lastOrigination = now;
    this.originationDue = false;
    this.counters.announcementsOriginated += parts.length;
    const before = this.lsdb.recordOf(this.identity.publicKey, 0);
    const renewable = !this.earlierRunSeen;
    this.earlierRunSeen = false;
    const flooded = parts.map((a) => ({ bytes: a.bytes, from: 0, hops: 0, base: renewable ? this.renewedBase(before, a.part, a.bytes) : undefined }));
    // Ours never expire here: they are replaced by the next origination. Their links are the
    // live ones (sourceLinks), not held again in the graph.
    for (const a of parts) this.lsdb.store(a, now, Infinity, false);
    this.flood(flooded);
  }

  /** The map (or the links it is seen from) changed: SPF is due, and estimates change. */
  private mapChanged(): void {
    this.spfDue = true;
    this.mapEpoch++;
  }

  private runSpf(): void {
    this.spfDue = false;
    this.mapEpoch++;
    this.counters.spfRuns++;
    const renumbered = this.lsdb.compactIds();
    if (renumbered) {
      this.counters.idsRenumbered++;
      this.selfId = renumbered[this.selfId]!;
      for (const n of this.neighbours.values()) n.id = renumbered[n.id]!;
      this.buildSourceLinks();
    }
    this.spf.compute(this.lsdb, this.selfId, this.sourceLinks);
    const radius = this.scope.radius === Infinity ? 0 : this.scope.radius;
    const { updated, removed, routed, nearer } = this.spf.updateRoutes(this.lsdb, this.mtu, this.routed, radius);
    this.routed = routed;
    if (nearer.length > 0) this.floodNearer(nearer);
    if (updated.length === 0 && removed.length === 0) return;
    this.sorted = undefined;
    this.onRoutesChanged?.();
  }

  // Within DATABASE_RESEND_MS of the last database sent to the neighbour, a request is not
  // answered at once. After the database that greeted a new link it is ignored: it is the
  // request the neighbour sent at the same link-up, answered already. After an answer it is
  // owed, sent when the time is up: the neighbour may have restarted since it asked (switched
  // off and on, then restarted, within two seconds), and its new self would otherwise never get
  // a database while the link stays up.
  private answerDatabaseRequest(link: number): void {
    const n = this.neighbours.get(link);
    if (n && this.now() - n.databaseSentAt >= DATABASE_RESEND_MS) {
      this.counters.databaseRequestsAnswered++;
      this.sendDatabase(link, true);
    } else if (n && n.databaseAnswered) {
      this.counters.databaseRequestsDeferred++;
      if (!n.databaseOwed) this.databasesOwed++;
      n.databaseOwed = true;
    } else {
      this.counters.databaseRequestsIgnored++;
    }
  }

  /** Sends the databases owed whose time has come. */
  private sendOwedDatabases(now: number): void {
    for (const [link, n] of this.neighbours) {
      if (n.databaseOwed && now - n.databaseSentAt >= DATABASE_RESEND_MS) {
        this.counters.databaseRequestsAnswered++;
        this.sendDatabase(link, true);
      }
    }
  }

  /**
   * Floods on the announcements of nodes that came nearer than the radius: a neighbour may have
   * forgotten one while it was out of its scope too (a link between us and it was down past
   * MAP_SCOPE_GRACE_MS), and nothing else would bring it back before its origin's next refresh:
   * its origin's links did not change, and those that came back were not the neighbour's. A
   * neighbour that still holds it acknowledges it as stale, unchecked. Those still held back go
   * with the sweep.
   */
  private floodNearer(records: readonly NodeRecord[]): void {
    const items: Flooded[] = [];
    for (const record of records) {
      const parts = record.parts.filter((p) => p !== undefined);
      if (parts.some((p) => this.heldBackByPart.has(p))) continue;
      const route = record.route!;
      for (const p of parts) items.push({ bytes: partBytes(p), from: route.link, hops: route.hops });
    }
    if (items.length > 0) this.flood(items);
  }

  /** Sends the database to one neighbour (within the map's radius): `answer` if it asked, else
   *  for a new link. */
  private sendDatabase(link: number, answer: boolean): void {
    const n = this.neighbours.get(link);
    if (n) {
      n.databaseSentAt = this.now();
      n.databaseAnswered = answer;
      if (n.databaseOwed) this.databasesOwed--;
      n.databaseOwed = false;
    }
    // What we would flood on: nodes nearer than the map's radius (the neighbour is one hop
    // farther from them than we are), the nearest first, so that the neighbour knows the nodes
    // between it and a farther one when that one's announcement comes (placeInScope).
    const records: [number, NodeRecord][] = [];
    for (const record of this.lsdb.held) {
      if (record.id === this.selfId || this.floodsOn(record)) records.push([record.id === this.selfId ? 0 : this.hopsTo(record), record]);
    }
    const all: Uint8Array[] = [];
    const horizon = n?.horizon ?? Infinity;
    for (const [hops, record] of records.sort((a, b) => a[0] - b[0])) {
      if (hops + 1 > horizon) break;
      for (const part of record.parts) if (part) all.push(partBytes(part));
    }
    if (n) {
      const now = this.now();
      for (const bytes of all) n.unacked.sent(bytes, now);
    }
    for (const frame of packFrames(all, this.mtu)) this.send(link, frame);
  }

  /** A duplicate of the announcement (origin at frame[off], sequence, part) came by `link`: if
   *  ours is still held back, it is not flooded on to that link. */
  private noteHolder(frame: Uint8Array, off: number, sequence: number, part: number, link: number): void {
    const record = this.lsdb.recordOf(frame, off + OFF_ORIGIN);
    const held = record && record.sequence === sequence ? record.parts[part] : undefined;
    const h = held && this.heldBackByPart.get(held);
    if (h && h.from !== link) (h.holders ??= new Set()).add(link);
  }

  /** The sequence of the announcement that `bytes` (part `part`) signs again unchanged, if the
   *  record held has that part from before it (NodeRecord.partBefore). */
  private renewedBase(held: NodeRecord | undefined, part: number, bytes: Uint8Array): number | undefined {
    const renewed = held?.partBefore(part, readSequence(bytes, 0));
    const before = renewed && partBytes(renewed);
    return before && renews(before, bytes) ? readSequence(before, 0) : undefined;
  }

  /** Renewals from a neighbour (KIND_RENEWALS): each one whose base we hold is rebuilt into the
   *  announcement it renews, and taken as if it had come whole (its signature checked as any).
   *  One not newer than what we hold is acknowledged and dropped, as a whole one would be.
   *  With the map nearly full (it tells a horizon), one of an origin we hold nothing of is
   *  acknowledged and dropped, as a whole announcement the map does not keep is: what it renews,
   *  unchanged, came to us before and was not kept, or was forgotten past the map's bounds, and
   *  would be again (a node that comes nearer, a new link and a wider horizon bring it whole).
   *  Taken whole, it was stored, checked and forgotten again at the next sweep, every twelve
   *  hours then: most of what powerlaw-10000's hub sent of the map (68 B/s then, 28 since). Any other
   *  whose base we lack is dropped, and, unacknowledged, comes again whole. */
  private receiveRenewals(link: number, frame: Uint8Array): void {
    const from = this.neighbours.get(link);
    if (!from) return void (this.earlyFrom(link).renewals = true);
    from.renewals = true;
    const rebuilt: Uint8Array[] = [];
    const acks: Uint8Array[] = [];
    const nearlyFull = this.mapNearlyFull();
    // A neighbour that tells its own distance (of the tenth revision, or the twentieth for the
    // daily one) and sends a renewal that what we told spares us (spareRenewal) has missed what
    // we told: it is told again, once a frame.
    let retold = false;
    let off = FRAME_HEADER;
    for (; off + RENEWAL_SIZE <= frame.length; off += RENEWAL_SIZE) {
      if (frame[off] === 0 && zerosFrom(frame, off)) break; // padding
      const { part, base, sequence } = renewalOf(frame, off);
      const held = this.lsdb.recordOf(frame, off);
      // The base: the part held from before the new sequence (a stand-in while the new one comes
      // part by part, its renewals in two frames, say).
      const beforePart = held?.partBefore(part, sequence);
      const heldPart = beforePart ?? held?.parts[part];
      if (!retold && heldPart && spared(heldPart.parts === 1, base, sequence, this.hourly.told, this.daily.told)) {
        const missed = samePeriod(base, sequence, LONG_REFRESH_MS) ? this.hourly : this.daily;
        if (from[missed.field] !== 0) {
          retold = true;
          this.send(link, byteFrame(missed.kind, missed.told));
        }
      }
      if (this.lsdb.isStale(frame, off, sequence, part)) {
        // Held already (another neighbour was quicker): acknowledged, as a whole one would be,
        // and not flooded on to this neighbour either if it is still held back.
        this.counters.stale++;
        acks.push(renewalAck(frame, off));
        if (this.heldBackByPart.size > 0) this.noteHolder(frame, off - OFF_ORIGIN, sequence, part, link);
        continue;
      }
      const before = beforePart && partBytes(beforePart);
      if (before && readSequence(before, 0) === base) rebuilt.push(applyRenewal(before, frame, off));
      else if (!held && nearlyFull) {
        this.counters.notKept++;
        acks.push(renewalAck(frame, off));
      } else this.counters.renewalsLacked++;
    }
    if (off < frame.length && !zerosFrom(frame, off)) this.counters.malformed++;
    if (acks.length > 0) from.acksOwed.push(...acks);
    if (rebuilt.length === 0) return;
    const announcements = new Uint8Array(FRAME_HEADER + rebuilt.reduce((n, b) => n + b.length, 0));
    announcements[0] = FRAME_ROUTING;
    announcements[1] = KIND_ANNOUNCEMENTS;
    let at = FRAME_HEADER;
    for (const b of rebuilt) {
      announcements.set(b, at);
      at += b.length;
    }
    this.receiveAnnouncements(link, announcements);
  }

  /** Sends each neighbour the announcements but those it sent us, packed: the same frames to
   *  every neighbour that sent none of them. */
  private flood(items: readonly Flooded[]): void {
    const now = this.now();
    // The frames for a neighbour that is sent every item, with renewals and without: the same
    // for most neighbours of a node of many links.
    const allFrames: (Uint8Array[] | undefined)[] = [undefined, undefined];
    // Not to a neighbour that has it, nor one that keeps nothing from as far (its horizon), nor a
    // half-hourly renewal to one that needs none (spareRenewal).
    const skip = (h: Flooded, n: Neighbour, link: number) =>
      h.hops + 1 > n.horizon || h.from === link || h.holders?.has(link) === true || spareRenewal(h, n);
    for (const [link, n] of this.neighbours) {
      let wanted = items;
      let frames: Uint8Array[];
      if (items.some((h) => skip(h, n, link))) {
        wanted = items.filter((h) => !skip(h, n, link));
        if (wanted.length === 0) continue;
        frames = floodFrames(wanted, n.renewals, this.mtu);
      } else frames = allFrames[n.renewals ? 1 : 0] ??= floodFrames(items, n.renewals, this.mtu);
      // Whole, whether it went whole or renewed: a neighbour that lacked what a renewal renews
      // does not acknowledge it, and gets it whole when it is sent again.
      for (const h of wanted) n.unacked.sent(h.bytes, now);
      for (const frame of frames) this.send(link, frame);
    }
  }

  /**
   * How far this node keeps announcements from, for its neighbours (KIND_MAP_HORIZON): with the
   * map nearly full (MAP_HORIZON_FULLNESS), the farthest node it holds — it takes no new node from
   * as far or farther, and those at that distance still need their updates — else the radius.
   * Never under one hop: a neighbour's own announcement always goes.
   */
  private horizon(): number {
    const radius = this.scope.radius;
    if (radius === Infinity) return Infinity;
    return this.mapNearlyFull() ? Math.max(1, Math.min(radius, this.farthestKept())) : radius;
  }

  /** Tells every neighbour our horizon when it changed. A wider one costs each neighbour a
   *  database (receiveHorizon), so a map that keeps filling past its bounds, forgetting and
   *  widening again (a node of 68 links on powerlaw-10000 did so every second, 31 KB/s) is
   *  damped: after each narrowing it waits twice as long as the last time before it widens. */
  private tellHorizon(now: number): void {
    const horizon = this.horizon();
    if (horizon === this.toldHorizon) return;
    if (horizon > this.toldHorizon) {
      if (now < this.widenAfter) return;
    } else {
      if (now - this.narrowedAt > HORIZON_HOLD_MAX_MS) this.horizonHoldMs = HORIZON_HOLD_MS;
      this.narrowedAt = now;
      this.widenAfter = now + this.horizonHoldMs;
      this.horizonHoldMs = Math.min(2 * this.horizonHoldMs, HORIZON_HOLD_MAX_MS);
    }
    this.toldHorizon = horizon;
    this.counters.horizonsTold++;
    const frame = byteFrame(KIND_MAP_HORIZON, horizon);
    for (const link of this.neighbours.keys()) this.send(link, frame);
  }

  /** A neighbour's horizon (KIND_MAP_HORIZON). One that widened is owed what it lacked: the
   *  database, as a request would have it (answerDatabaseRequest bounds how often). */
  private receiveHorizon(link: number, frame: Uint8Array): void {
    const n = this.neighbours.get(link);
    const byte = byteOf(frame);
    if (byte <= 0) {
      this.counters.malformed++;
      return;
    }
    if (!n) return;
    const horizon = byte === NO_HORIZON ? Infinity : byte;
    const wider = horizon > n.horizon;
    n.horizon = horizon;
    if (wider) this.answerDatabaseRequest(link);
  }

  /** How long an unchanged announcement of ours stands before it is signed again: REFRESH_MS
   *  while a node that needs the half-hourly renewals may be within the radius, else
   *  LONG_REFRESH_MS while one that needs the twelve-hourly crossings may be, else
   *  DAILY_REFRESH_MS. */
  private refreshInterval(): number {
    if (this.needed(this.hourly)) return REFRESH_MS;
    return this.needed(this.daily) ? LONG_REFRESH_MS : DAILY_REFRESH_MS;
  }

  /** When our sequence must cross a period next (originate): a day after it last crossed a
   *  day's, and twelve hours after it last crossed twelve hours' while a node that needs those
   *  may be within the radius. */
  private crossingDue(): number {
    const day = this.crossedDayAt + DAILY_REFRESH_MS;
    return this.needed(this.daily) ? Math.min(day, this.crossedAt + LONG_REFRESH_MS) : day;
  }

  /** Whether a node that needs what `d` is about may be within the radius: a neighbour told it is
   *  within HOURLY_REACH of one, or has not told yet. */
  private needed(d: ToldDistance): boolean {
    for (const n of this.neighbours.values()) if (n[d.field] <= HOURLY_REACH) return true;
    return false;
  }

  /**
   * Hops to the nearest node that needs what `d` is about, as far as HOURLY_REACH: one more than
   * the nearest neighbour's, where a neighbour that has not told its own for
   * HOURLY_DISTANCE_GRACE_MS since its link came up is such a node (one that has not told yet,
   * within that, counts as none: its first frames are on their way). Also whether one is still
   * within its grace, so that this is computed again.
   */
  private distance(d: ToldDistance, now: number): { hops: number; waiting: boolean } {
    let nearest = Infinity;
    let waiting = false;
    for (const n of this.neighbours.values()) {
      let hops = n[d.field];
      if (hops === 0 && now - n.upAt < HOURLY_DISTANCE_GRACE_MS) {
        hops = Infinity;
        waiting = true;
      }
      nearest = Math.min(nearest, hops + 1);
    }
    return { hops: nearest <= HOURLY_REACH ? nearest : NO_HOURLY_NEAR, waiting };
  }

  /** Tells every neighbour our distance `d` (its kind) when it changed, and again every
   *  HOURLY_DISTANCE_RESEND_MS while it is within reach: it says which of them are sent the
   *  half-hourly renewals (the twelve-hourly crossings). A new link is told it as it comes up. */
  private tellDistance(d: ToldDistance, now: number): void {
    const { hops, waiting } = this.distance(d, now);
    d.due = waiting;
    // Told again every HOURLY_DISTANCE_RESEND_MS while within reach: a lost one would starve the
    // node of an earlier revision, and a neighbour taken for one by a lost first frame is found
    // out. A lost 255 is told again when a renewal shows it (receiveRenewals).
    if (hops === d.told && (hops > HOURLY_REACH || now - d.toldAt < HOURLY_DISTANCE_RESEND_MS)) return;
    d.told = hops;
    d.toldAt = now;
    const frame = byteFrame(d.kind, hops);
    for (const link of this.neighbours.keys()) this.send(link, frame);
  }

  /** A neighbour's hourly (KIND_HOURLY_DISTANCE) or daily (KIND_DAILY_DISTANCE) distance: 1, 2
   *  or NO_HOURLY_NEAR, else malformed. */
  private receiveDistance(d: ToldDistance, link: number, frame: Uint8Array): void {
    const byte = byteOf(frame);
    if (!(byte === NO_HOURLY_NEAR || (byte >= 1 && byte <= HOURLY_REACH))) {
      this.counters.malformed++;
      return;
    }
    const n = this.neighbours.get(link);
    if (!n) return void (this.earlyFrom(link)[d.field] = byte);
    if (n[d.field] === byte) return;
    n[d.field] = byte;
    d.due = true;
  }

  /** The entry for what a neighbour not reported up yet said (Router.early). */
  private earlyFrom(link: number): Early {
    let e = this.early.get(link);
    if (!e) this.early.set(link, (e = { at: this.now(), renewals: false, hourlyDistance: 0, dailyDistance: 0 }));
    return e;
  }

  /** Acknowledges announcements to the neighbour at `link`: `entries`, ACK_ENTRY_SIZE each. */
  private sendAcknowledgements(link: number, entries: Uint8Array): void {
    const perFrame = Math.floor((this.mtu - FRAME_HEADER) / ACK_ENTRY_SIZE) * ACK_ENTRY_SIZE;
    for (let off = 0; off < entries.length; off += perFrame) {
      const chunk = entries.subarray(off, Math.min(entries.length, off + perFrame));
      const frame = new Uint8Array(FRAME_HEADER + chunk.length);
      frame[0] = FRAME_ROUTING;
      frame[1] = KIND_ACKNOWLEDGEMENTS;
      frame.set(chunk, FRAME_HEADER);
      this.counters.acknowledgementsSent += chunk.length / ACK_ENTRY_SIZE;
      this.send(link, frame);
    }
  }

  /** A kind-3 frame: the neighbour at `link` has these announcements. */
  private receiveAcknowledgements(link: number, frame: Uint8Array): void {
    const n = this.neighbours.get(link);
    let off = FRAME_HEADER;
    for (; off + ACK_ENTRY_SIZE <= frame.length && !zerosFrom(frame, off); off += ACK_ENTRY_SIZE) {
      n?.unacked.acknowledged(frame, off, ackSequence(frame, off), ackPart(frame, off));
    }
    if (!zerosFrom(frame, off)) this.counters.malformed++;
  }

  /** Sends every neighbour what it has not acknowledged in time. */
  private retransmit(now: number): void {
    for (const [link, n] of this.neighbours) {
      if (n.unacked.size === 0) continue;
      const again: Uint8Array[] = [];
      this.counters.retransmissionsAbandoned += n.unacked.due(now, again);
      if (again.length === 0) continue;
      this.counters.announcementsRetransmitted += again.length;
      for (const frame of packFrames(again, this.mtu)) this.send(link, frame);
    }
  }

  /** Whether some neighbour has not acknowledged what we sent it, or is owed acknowledgements. */
  private neighbourOwed(): boolean {
    for (const n of this.neighbours.values()) if (n.unacked.size > 0 || n.acksOwed.length > 0) return true;
    return false;
  }

  private send(link: number, frame: Uint8Array): void {
    this.counters.framesSent++;
    this.counters.bytesSent += frame.length;
    this.sendFrame(link, frame);
  }
}

/** A routing control frame of one byte after its kind — our horizon or hourly distance, in
 *  hops; 255 for more (no bound, none near). */
function byteFrame(kind: number, hops: number): Uint8Array {
  return Uint8Array.of(FRAME_ROUTING, kind, Math.min(hops, 255));
}

/** The byte of such a frame, or -1 if it has none, or other bytes than zeros (the hop layer's
 *  padding) after it. */
function byteOf(frame: Uint8Array): number {
  return frame.length > FRAME_HEADER && zerosFrom(frame, FRAME_HEADER + 1) ? frame[FRAME_HEADER]! : -1;
}

/**
 * Whether a renewal (an announcement signed again unchanged: `base` set) need not go to neighbour
 * `n`: it and the nodes it passes renewals on to within the radius need only those that renew
 * past a period (spared).
 */
function spareRenewal(h: Flooded, n: Neighbour): boolean {
  return h.base !== undefined && spared(h.bytes[OFF_PARTS] === 1, h.base, readSequence(h.bytes, 0), n.hourlyDistance, n.dailyDistance);
}

/**
 * Whether a renewal from `base` to `sequence` (of an announcement in one part if `onePart`) may
 * be spared to a neighbour that told these hourly and daily distances: one that told no node
 * needing the half-hourly renewals is within HOURLY_REACH needs only the renewals that cross a
 * DAILY_REFRESH_MS period, and those that cross a LONG_REFRESH_MS one if it told one needing
 * those twelve-hourly crossings is within. Decided from the sequences alone, so every node on a
 * flood's way decides the same: the renewal that goes on past such a neighbour goes on past all.
 * Never a part of an announcement in several parts: one part may change while another is signed
 * again, and a neighbour spared the unchanged one would hold it only as the new sequence's
 * stand-in, which no database carries on.
 */
function spared(onePart: boolean, base: number, sequence: number, hourly: number, daily: number): boolean {
  if (!onePart || hourly <= HOURLY_REACH || !samePeriod(base, sequence, DAILY_REFRESH_MS)) return false;
  return daily > HOURLY_REACH || samePeriod(base, sequence, LONG_REFRESH_MS);
}

/** Whether two sequences (ms since the epoch, the origin's clock) lie in one period of `length`
 *  (a day's periods are two of twelve hours' each). */
function samePeriod(base: number, sequence: number, length: number): boolean {
  return Math.floor(base / length) === Math.floor(sequence / length);
}

/** The start of the period of `length` after the one `sequence` lies in. */
function nextPeriod(sequence: number, length: number): number {
  return (Math.floor(sequence / length) + 1) * length;
}

/** Announcements packed in order into as few frames of at most `mtu` bytes as they fit. */
export function packFrames(announcements: readonly Uint8Array[], mtu: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < announcements.length; ) {
    let size = FRAME_HEADER;
    let j = i;
    while (j < announcements.length && size + announcements[j]!.length <= mtu) size += announcements[j++]!.length;
    if (j === i) throw new RangeError(`an announcement of ${announcements[i]!.length} bytes exceeds the frame mtu ${mtu}`);
    const frame = new Uint8Array(size);
    frame[0] = FRAME_ROUTING;
    frame[1] = KIND_ANNOUNCEMENTS;
    let off = FRAME_HEADER;
    for (; i < j; i++) {
      frame.set(announcements[i]!, off);
      off += announcements[i]!.length;
    }
    frames.push(frame);
  }
  return frames;
}

/** The acknowledgement entry (ACK_ENTRY_SIZE) of the renewal at frame[off]: its origin, new
 *  sequence and part. */
function renewalAck(frame: Uint8Array, off: number): Uint8Array {
  const entry = new Uint8Array(ACK_ENTRY_SIZE);
  entry.set(frame.subarray(off, off + KEY_SIZE), 0);
  entry.set(frame.subarray(off + 41, off + 49), KEY_SIZE);
  entry[KEY_SIZE + 8] = frame[off + 32]!;
  return entry;
}

/** The frames that flood `items` to a neighbour: renewals for those that renew an announcement,
 *  if it takes them (`renewals`), the rest whole. */
function floodFrames(items: readonly Flooded[], renewals: boolean, mtu: number): Uint8Array[] {
  const renewed = renewals ? items.filter((h) => h.base !== undefined) : [];
  const whole = renewed.length > 0 ? items.filter((h) => h.base === undefined) : items;
  const frames = whole.length > 0 ? packFrames(whole.map((h) => h.bytes), mtu) : [];
  const perFrame = Math.floor((mtu - FRAME_HEADER) / RENEWAL_SIZE);
  for (let i = 0; i < renewed.length; i += perFrame) {
    const batch = renewed.slice(i, i + perFrame);
    const frame = new Uint8Array(FRAME_HEADER + batch.length * RENEWAL_SIZE);
    frame[0] = FRAME_ROUTING;
    frame[1] = KIND_RENEWALS;
    batch.forEach((h, k) => writeRenewal(h.bytes, h.base!, frame, FRAME_HEADER + k * RENEWAL_SIZE));
    frames.push(frame);
  }
  return frames;
}

/** Whether every byte from `off` to the end is zero (the hop layer's padding; none is too). */
function zerosFrom(frame: Uint8Array, off: number): boolean {
  for (let i = off; i < frame.length; i++) if (frame[i] !== 0) return false;
  return true;
}

function readSequence(frame: Uint8Array, off: number): number {
  return readUint64BE(frame, off + OFF_SEQUENCE);
}

function checkLink(link: number): void {
  if (!Number.isInteger(link) || link < 1 || link > 0xffff) throw new RangeError(`link index must be 1..65535, got ${link}`);
}

function equalKey(buf: Uint8Array, off: number, key: Uint8Array): boolean {
  for (let i = 0; i < KEY_SIZE; i++) if (buf[off + i] !== key[i]) return false;
  return true;
}

function recordBytes(record: NodeRecord): number {
  let bytes = 0;
  for (const part of record.parts) bytes += part?.signed.length ?? 0;
  return bytes;
}

/** The interface indices the parts `before` name that the parts `after` do not. */
function indicesGone(before: readonly (Part | undefined)[], after: readonly (Part | undefined)[]): number[] {
  const gone: number[] = [];
  // Most nodes have a few links: a scan each; a hub's hundreds, a set. Read from the parts'
  // bytes, which hold every link (their `links` only those naming nodes with ids).
  let count = 0;
  for (const part of after) count += part ? announcedLinks(part) : 0;
  let kept: Set<number> | undefined;
  if (count > 32) {
    kept = new Set();
    for (const part of after) for (let k = 0; part && k < announcedLinks(part); k++) kept.add(linkIndexAt(part, k));
  }
  for (const part of before) {
    for (let k = 0; part && k < announcedLinks(part); k++) {
      const index = linkIndexAt(part, k);
      if (!(kept ? kept.has(index) : names(after, index))) gone.push(index);
    }
  }
  return gone;
}

/** Whether one of `parts` names interface index `index`. */
function names(parts: readonly (Part | undefined)[], index: number): boolean {
  for (const part of parts) for (let k = 0; part && k < announcedLinks(part); k++) if (linkIndexAt(part, k) === index) return true;
  return false;
}

