// The spanning trees: TREE_COUNT trees over the mesh, each rooted at the node of lowest rank for
// that tree (tree-proof.ts rootRank), in which every node holds a signed position — the root's
// beacon and the links from the root down to it — and knows its neighbours' positions. A node's
// coordinates in a tree (coordinates.ts) are what lookups publish and what greedy forwarding
// steers by (nextHop); docs/ROUTING.md "Trees" says why several trees and what they cost.
//
//   linkUp / linkDown   a neighbour's hop session is up (with our interface index for it) or
//                       gone. A new neighbour gets our positions.
//   receive             a tree control frame (KIND_TREE_*) from a neighbour:
//                         LINK     its signed link to us, which we asked for: we may now take it
//                                  as parent
//                         STATE    part of its position in one tree (a long position comes in
//                                  parts); once whole and checked, held, and acknowledged
//                         ACK      it holds our position (and beacon) of that version, and
//                                  whether it and the nodes below it take slower beacons
//                         BEACON   a newer beacon of its root for the place we hold of it
//                         REQUEST  send it our position in a tree again, or our link to it
//                                  (signed when first asked for)
//   settle              in a tree whose place began to get worse lately (TREE_PROMPT_MS), what a
//                       frame or a failed link changed at once, as the tick does
//   tick                choose parents where something changed, refresh our beacon where we
//                       are root (every ROOT_REFRESH_SLOW_MS or ROOT_REFRESH_PACED_MS as all
//                       below us take, else ROOT_REFRESH_MS), expire roots not heard of for as
//                       long as we said we wait (ROOT_EXPIRY_SLOW_MS or ROOT_EXPIRY_MS),
//                       send every neighbour what changed, and again what it has not
//                       acknowledged, and tell our parent what the nodes below us take.
//
// A node takes as parent the neighbour whose position has the lowest-ranked root, then the
// shallowest, keeping its parent on a tie; its position is then the parent's plus the parent's
// link to it, with no signature. It asks a neighbour for that link when it first wants it as
// parent (one round trip), so a node signs links only for the neighbours that take it as parent,
// not for every neighbour: a hub of hundreds of links signs for its children. It refuses any
// position that contains it, so no tree has a loop, and (feasibility, as in Babel) one deeper
// than it has been under the same beacon until that position has stood TREE_STABLE_MS, so a
// failure cannot send the trees hunting through positions that still lead through it — unless
// its parent's link has just failed and the position does not pass the parent's place (noteLoss):
// that is a way round the one failure it knows of. A node
// passes on only its parent's beacon, so a newer beacon proves the way up to the root whole.
import { xeddsaSigner, type XeddsaSigner } from '../keys/xeddsa.js';
import { bytesKey, readUint32BE, writeUint32BE } from '../util/bytes.js';
import { CounterSet } from '../util/counters.js';
import { treeDistance, type Coordinates } from './coordinates.js';
import { NearestIndex } from './tree-nearest.js';
import {
  FRAME_ROUTING,
  KIND_TREE_ACK,
  KIND_TREE_BEACON,
  KIND_TREE_LINK,
  KIND_TREE_REQUEST,
  KIND_TREE_STATE,
  MAX_TREE_DEPTH,
  ROOT_EXPIRY_MS,
  ROOT_EXPIRY_SLOW_MS,
  ROOT_REFRESH_PACED_MS,
  ROOT_REFRESH_SLOW_MS,
  ROOT_LISTEN_MS,
  ROOT_REFRESH_MS,
  TREE_COUNT,
  TREE_PROMPT_MS,
  TREE_RETRY_MAX_MS,
  TREE_RETRY_MS,
  TREE_STABLE_MS,
} from './constants.js';
import {
  LINK_SIZE,
  ROOT_BEACON_SIZE,
  VerifiedSignatures,
  beaconSequence,
  compareRanks,
  linkPort,
  rootRank,
  signLink,
  signBeaconInPlace,
  unsignedRootBeacon,
} from './tree-proof.js';

const KEY_SIZE = 32;
/** STATE frame: frame, kind, tree, version (4), depth, first, count, then the beacon and links. */
const STATE_HEADER = 10;
const STATE_FIXED = STATE_HEADER + ROOT_BEACON_SIZE;
/** LINK frame: frame, kind, the link. ACK: frame, kind, tree, version (4), beacon sequence (8),
 *  then (fourteenth revision) whether every node below the sender in that tree, and the sender,
 *  takes the slower beacons (1) or not (0, or no byte: an earlier revision, or the hop layer's
 *  zero padding), then (nineteenth) whether they take the slowest (1) or not (0, or no byte).
 *  Two bytes, not a number in one: a node of the fourteenth to eighteenth revision reads the
 *  first byte as 1 or not, and must still read a node that takes the slowest as taking the
 *  slower. */
const LINK_FRAME_SIZE = 2 + LINK_SIZE;
const ACK_SIZE = 15;
const ACK_PACED = 1;
const ACK_SLOW = 1;
/** What a node and every node below it in a tree take, as its acknowledgements say: a beacon
 *  every ROOT_REFRESH_MS (0: a node of an earlier revision is among them), every
 *  ROOT_REFRESH_PACED_MS (1: one of the fourteenth to eighteenth revision is), or every
 *  ROOT_REFRESH_SLOW_MS (2). */
type Pace = 0 | 1 | 2;
const REFRESH_AT_PACE = [ROOT_REFRESH_MS, ROOT_REFRESH_PACED_MS, ROOT_REFRESH_SLOW_MS] as const;
/** How long the nodes that say so wait for a newer beacon before they give a root up. */
const EXPIRY_AT_PACE = [ROOT_EXPIRY_MS, ROOT_EXPIRY_MS, ROOT_EXPIRY_SLOW_MS] as const;
/** A change in what the nodes below us take is told our parent this many times more. */
const PACE_REPEATS = 2;
/** BEACON frame: frame, kind, tree, version (4), then the beacon's sequence and signature: the
 *  STATE frame of the beacon alone less its depth, part and count, and the root's key. */
const BEACON_HEADER = 7;
const BEACON_FRAME_SIZE = BEACON_HEADER + ROOT_BEACON_SIZE - KEY_SIZE;
/** Beacons in BEACON frames that a neighbour left unacknowledged in a row, after which it is
 *  taken for a node of an earlier revision (which drops them) and sent STATE frames: one lost
 *  frame does not make it one. */
const SHORT_BEACON_MISSES = 2;
/** REQUEST for our link rather than a position. */
const REQUEST_LINK = 0xff;
/** How long a node waits for a link it asked for before it passes that neighbour over: two
 *  requests' worth, so one lost frame costs a second, not the parent. */
const LINK_WAIT_MS = 2 * TREE_RETRY_MS;
/** Least time between two signatures of our link to one neighbour: half the asker's retry, so a
 *  request sent again for a lost answer is always answered. */
const LINK_SIGN_GAP_MS = TREE_RETRY_MS / 2;
/** Other parents per tree whose whole positions are held beside the parent's, to follow at once
 *  when it goes; of every other neighbour only the coordinates are kept (isWhole). */
const TREE_BACKUPS = 2;
/** Most bytes of links the backups of one tree may hold, counted as their depth times LINK_SIZE:
 *  two places 10 deep. Where the trees are as deep as a grid is wide, a backup costs more than a
 *  node's whole map (a place 40 deep is 3.9 KB) and a node follows a new parent a round trip
 *  later instead, asking for its place as it would for any other neighbour's. */
const TREE_BACKUP_BYTES = 2 * 10 * LINK_SIZE;
/** Neighbours past which a node indexes their places for the greedy step (tree-nearest.ts):
 *  below, a look at each costs less than the index's few kilobytes a node. */
const INDEX_FROM_NEIGHBOURS = 16;

export class TreeCounters extends CounterSet {
  /** Tree frames that do not parse, or name a tree, depth or part out of range. */
  malformed = 0;
  /** Positions or links whose signatures do not check out, or whose chain of keys does not join
   *  up (a link not signed by the node above, a position that is not its sender's). */
  badSignature = 0;
  parentChanges = 0;
  /** Links this node signed (one per request of a neighbour for its link). */
  linksSigned = 0;
  /** Requests for our link not answered: the same neighbour had one signed under
   *  LINK_SIGN_GAP_MS before. */
  linkRequestsRefused = 0;
  /** Roots taken for gone without a newer beacon for as long as we said we wait
   *  (ROOT_EXPIRY_MS or ROOT_EXPIRY_SLOW_MS). */
  rootsExpired = 0;
  /** Positions sent again for want of an acknowledgement. */
  retransmitted = 0;
  /** Positions sent again to a neighbour that had acknowledged ours and then named a worse root
   *  (it restarted while its link stayed up here). */
  resentToRestarted = 0;
  framesSent = 0;
  bytesSent = 0;
  framesReceived = 0;
  bytesReceived = 0;
}

/** A checked position in one tree. */
export interface Position {
  /** The root's beacon (the newest held for that root): key, sequence, signature. */
  beacon: Uint8Array;
  rank: Uint8Array;
  /** links[i] (LINK_SIZE bytes): the link from depth i to i + 1; the last one leads to the
   *  node. A link is one object wherever it is held (the places of our parent and backups share
   *  their way up with ours). Empty for a neighbour's place held by its coordinates alone
   *  (isWhole). */
  links: readonly Uint8Array[];
  depth: number;
  coordinates: readonly number[];
}

interface Assembly {
  version: number;
  depth: number;
  beacon: Uint8Array;
  links: Uint8Array;
  have: Uint8Array;
  missing: number;
  since: number;
}

interface NeighbourTree {
  version: number;
  /** Its place, unless that is ours plus our link to it (see childOf): then null. */
  position: Position | null;
  /** Our version (OwnTree.version) under which its place was ours plus our link to it, -1 if it
   *  was not: such a place is derived from ours when asked for (placeOf), not held. At a node of
   *  many links most neighbours are its children in every tree, and their places were most of
   *  its tree state. When our place changes they are unknown until they send theirs again,
   *  which they do as they follow us. */
  childOf: number;
  /** Whether its position runs through us (it is below us: never our parent). */
  below: boolean;
  /** Since when we want its whole position back (monotonic ms; Infinity: we do not). */
  wholeWantedSince: number;
  /** When its links last changed (monotonic ms); a beacon refresh is no change. */
  changedAt: number;
  assembly: Assembly | null;
  requestedAt: number;
  answeredAt: number;
  /** Whether it acknowledged our current position and beacon in this tree; if not, when we
   *  sent them and how long until we send them again. */
  acked: boolean;
  sentAt: number;
  retryMs: number;
  /** What it has not acknowledged went in a BEACON frame. */
  sentShort: boolean;
  /** What its last acknowledgement said it and every node below it take. */
  pace: Pace;
  /** What our last acknowledgement to it said of us. */
  paceSent: Pace;
}

interface Neighbour {
  key: Uint8Array;
  /** Its signed link to us (checked), once it arrives: what makes it a possible parent. */
  linkToUs: Uint8Array | null;
  /** Since when we want its link (monotonic ms; Infinity: we do not), when we last asked, and
   *  how long until we ask again. */
  linkWantedSince: number;
  linkRequestedAt: number;
  linkRetryMs: number;
  /** When we last signed our link to it (monotonic ms): the link is signed anew each time it
   *  asks, at most once per LINK_SIGN_GAP_MS, and not kept — it is the last link of the
   *  neighbour's place when it is our child, and a hub signs for hundreds of them. */
  linkSignedAt: number;
  /** BEACON frames it left unacknowledged in a row (SHORT_BEACON_MISSES: it is sent STATE). */
  shortBeaconMisses: number;
  trees: NeighbourTree[];
}

interface OwnTree {
  position: Position;
  /** Link of the parent, 0 while this node is the root. */
  parent: number;
  version: number;
  /** When the root's sequence last rose (monotonic ms), or we became root or took a parent. */
  freshAt: number;
  /** How long after freshAt we wait for a newer beacon (expiryWindow): the longest we said we
   *  wait since it came, when it came and in each acknowledgement to our parent since. The root
   *  signs by the last word it had, and what we take may fall (a node of an earlier revision
   *  comes below us) long after the last beacon, before the root hears of it. */
  windowMs: number;
  lastRefresh: number;
  chooseDue: boolean;
  /** When a position that is not yet TREE_STABLE_MS old may be taken. */
  recheckAt: number;
  /** The places of parents whose links failed in the last TREE_STABLE_MS (noteLoss). */
  losses: Loss[];
  /** When our place last began to get worse (TREE_PROMPT_MS): the parent's link failed, or
   *  the parent's place moved under a worse root or deeper. */
  worseAt: number;
  /** Feasibility: the root, beacon sequence and least depth we held under them. */
  feasibleRoot: Uint8Array;
  feasibleSequence: number;
  feasibleDepth: number;
  /** What the neighbours must be sent: nothing, the beacon alone, or the whole position. */
  sendDue: 0 | 1 | 2;
  /** Until then (monotonic ms; 0 once past) a node that has just started keeps its root
   *  position to itself (ROOT_LISTEN_MS). */
  listenUntil: number;
  /** What the nodes below us take may have changed, or our parent (tellPace); when we last told
   *  our parent, and how many times more we tell it the same (an acknowledgement is not
   *  acknowledged: one lost would leave the root signing every 120 or 40 minutes for an older
   *  node). */
  paceDue: boolean;
  paceToldAt: number;
  paceRepeats: number;
}

export interface TreesOptions {
  identity: { publicKey: Uint8Array; privateKey: Uint8Array };
  /** Largest frame sent (the hop MTU, at least 1280). */
  mtu: number;
  send(link: number, frame: Uint8Array): void;
  now?: () => number;
  wallNow?: () => number;
  /** Called when our position or a neighbour's changed. */
  changed?(): void;
  /** Called when there is work for a tick sooner than the next rest tick. */
  workDue?(): void;
  /** Signature checks (the simulator passes one sharing its results between nodes). */
  verified?: VerifiedSignatures;
}

export class Trees {
  readonly counters = new TreeCounters();
  /** When one of our places last moved (monotonic ms): what was sent before went by the trees as
   *  they were (Lookups, RELOCATE_MOVED_MS). Set as it happens, within a tick (settle). */
  movedAt = -Infinity;
  private readonly key: Uint8Array;
  private readonly sign: XeddsaSigner;
  private readonly mtu: number;
  private readonly sendFrame: (link: number, frame: Uint8Array) => void;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly onChanged: (() => void) | undefined;
  private readonly onWorkDue: (() => void) | undefined;
  private readonly verified: VerifiedSignatures;
  private readonly neighbours = new Map<number, Neighbour>();
  private readonly own: OwnTree[] = [];
  private readonly ownRanks: Uint8Array[] = [];
  /** Roots taken for gone, per tree: root key (latin1) → the last sequence heard. */
  private readonly deadRoots: Map<string, number>[] = [];
  /** Per tree, the neighbours under our root indexed by place (nextHop: one step per port of
   *  the target, however many neighbours); dropped when a place in that tree changes, built
   *  again when next asked. */
  private readonly nearest: (NearestIndex | null)[] = new Array(TREE_COUNT).fill(null);
  /** Our root beacons not signed yet (rootPosition). */
  private readonly unsignedBeacons = new WeakSet<Uint8Array>();

  constructor(options: TreesOptions) {
    this.key = options.identity.publicKey.slice();
    this.sign = xeddsaSigner(options.identity.privateKey);
    this.mtu = options.mtu;
    this.sendFrame = options.send;
    this.now = options.now ?? (() => performance.now());
    this.wallNow = options.wallNow ?? Date.now;
    this.onChanged = options.changed?.bind(options);
    this.onWorkDue = options.workDue?.bind(options);
    this.verified = options.verified ?? new VerifiedSignatures({ now: this.now });
    const now = this.now();
    for (let t = 0; t < TREE_COUNT; t++) {
      const rank = rootRank(t, this.key);
      this.ownRanks.push(rank);
      this.deadRoots.push(new Map());
      const position = this.rootPosition(t);
      this.own.push({
        position,
        parent: 0,
        version: (Math.random() * 2 ** 32) >>> 0,
        freshAt: now,
        // Until a beacon comes, as long as any root may wait: what a root was told is unknown.
        windowMs: ROOT_EXPIRY_SLOW_MS,
        lastRefresh: now,
        chooseDue: false,
        recheckAt: Infinity,
        losses: [],
        worseAt: -Infinity,
        feasibleRoot: this.key,
        feasibleSequence: beaconSequence(position.beacon),
        feasibleDepth: 0,
        sendDue: 0,
        listenUntil: now + rankFraction(rank) * ROOT_LISTEN_MS,
        paceDue: false,
        paceToldAt: -Infinity,
        paceRepeats: 0,
      });
    }
  }

  /** Our position in tree t. */
  position(t: number): Position {
    return this.own[t]!.position;
  }

  /** The link of our parent in tree t (0: we are its root). */
  parentOf(t: number): number {
    return this.own[t]!.parent;
  }

  /** A neighbour's position in tree t, if held. */
  neighbourPosition(link: number, t: number): Position | null {
    const n = this.neighbours.get(link);
    return n ? this.placeOf(link, n.trees[t]!, t) : null;
  }

  /** A neighbour's place in tree t: held, or ours plus our link to it (childOf). */
  private placeOf(link: number, nt: NeighbourTree, t: number): Position | null {
    if (nt.position || nt.childOf !== this.own[t]!.version) return nt.position;
    const own = this.own[t]!.position;
    return { beacon: own.beacon, rank: own.rank, links: NO_LINKS, depth: own.depth + 1, coordinates: childCoordinates(own, link) };
  }

  /** Whether `p`, the place the neighbour at `link` sent in tree t, is ours plus our link to it
   *  under our current beacon (so it need not be held: placeOf). */
  private isChildPlace(link: number, t: number, p: Position): boolean {
    const own = this.own[t]!.position;
    return (
      sameChain(own, p) &&
      p.coordinates[own.depth] === link &&
      equalKeys(p.beacon, 0, own.beacon) &&
      beaconSequence(p.beacon) >= beaconSequence(own.beacon)
    );
  }

  /** The child (its place ours plus our link to it) one hop nearer than we are to
   *  `coordinates` in tree t, which it has below it; 0 if there is none. */
  private childToward(t: number, coordinates: Coordinates): number {
    const own = this.own[t]!;
    const depth = own.position.depth;
    if (coordinates.length <= depth) return 0;
    for (let i = 0; i < depth; i++) if (coordinates[i] !== own.position.coordinates[i]) return 0;
    const link = coordinates[depth]!;
    return this.neighbours.get(link)?.trees[t]!.childOf === own.version ? link : 0;
  }

  linkUp(link: number, key: Uint8Array): void {
    if (equalKeys(key, 0, this.key)) return;
    const current = this.neighbours.get(link);
    if (current && !equalKeys(current.key, 0, key)) this.linkDown(link);
    let n = this.neighbours.get(link);
    if (!n) {
      const trees: NeighbourTree[] = [];
      for (let t = 0; t < TREE_COUNT; t++) {
        trees.push({
          version: -1,
          position: null,
          childOf: -1,
          below: false,
          wholeWantedSince: Infinity,
          changedAt: 0,
          assembly: null,
          requestedAt: -Infinity,
          answeredAt: -Infinity,
          acked: false,
          sentAt: 0,
          retryMs: TREE_RETRY_MS,
          sentShort: false,
          pace: 0,
          paceSent: 0,
        });
      }
      // The key is kept, not copied (Routing's neighbour table owns it; nobody modifies keys).
      n = {
        key,
        linkToUs: null,
        linkWantedSince: Infinity,
        linkRequestedAt: -Infinity,
        linkRetryMs: TREE_RETRY_MS,
        linkSignedAt: -Infinity,
        shortBeaconMisses: 0,
        trees,
      };
      this.neighbours.set(link, n);
    }
    const now = this.now();
    for (let t = 0; t < TREE_COUNT; t++) {
      n.trees[t]!.retryMs = TREE_RETRY_MS;
      this.sendState(link, t, n.trees[t]!, now);
    }
    if (this.hasWork) this.onWorkDue?.();
  }

  /** Whether the link was our parent's in some tree (a place of ours is lost). */
  linkDown(link: number): boolean {
    if (!this.neighbours.delete(link)) return false;
    this.nearest.fill(null);
    const now = this.now();
    let parentLost = false;
    for (const own of this.own) {
      own.paceDue = true;
      if (own.parent !== link) continue;
      own.chooseDue = true;
      own.worseAt = now;
      parentLost = true;
      noteLoss(own, now);
    }
    this.onChanged?.();
    this.settle();
    if (this.hasWork) this.onWorkDue?.();
    return parentLost;
  }

  /** A tree control frame (frame[0] = FRAME_ROUTING, frame[1] = KIND_TREE_*) from `link`. */
  receive(link: number, frame: Uint8Array): void {
    this.counters.framesReceived++;
    this.counters.bytesReceived += frame.length;
    const from = this.neighbours.get(link);
    if (!from || frame.length < 3) return void this.counters.malformed++;
    const kind = frame[1];
    if (kind === KIND_TREE_LINK) this.receiveLink(from, frame);
    else if (kind === KIND_TREE_REQUEST && frame[2] === REQUEST_LINK) this.sendLink(link, from);
    else if (frame[2]! >= TREE_COUNT) this.counters.malformed++;
    else if (kind === KIND_TREE_STATE) this.receiveState(link, from, frame[2]!, frame);
    else if (kind === KIND_TREE_BEACON) this.receiveBeacon(link, from, frame[2]!, frame);
    else if (kind === KIND_TREE_ACK) this.receiveAck(from, frame[2]!, frame);
    else if (kind === KIND_TREE_REQUEST) this.answerRequest(link, from, frame[2]!);
    else this.counters.malformed++;
    this.settle();
    if (this.hasWork) this.onWorkDue?.();
  }

  /**
   * In a tree whose place got worse in the last TREE_PROMPT_MS, what a frame or a failed link
   * changed is acted on at once: the parent is chosen again now, and a changed place goes to the
   * neighbours now. Left to the next tick, a change waited up to TICK_MS at every hop: after a
   * hub crashed, the nodes of a way round it 15 hops long took 1.5 s to come under the real root
   * again (docs/ROUTING.md, "Trees that mend at the links' pace"). Elsewhere the tick gathers
   * what came meanwhile: as a mesh forms, every node's place keeps getting better.
   */
  private settle(): void {
    const now = this.now();
    for (let t = 0; t < TREE_COUNT; t++) {
      const own = this.own[t]!;
      if (now - own.worseAt >= TREE_PROMPT_MS) continue;
      if (own.chooseDue) this.choose(t, now);
      if (own.sendDue !== 0) this.flush(t, now);
    }
  }

  get hasWork(): boolean {
    for (const own of this.own) {
      if (own.chooseDue || own.sendDue !== 0 || own.recheckAt !== Infinity || own.listenUntil !== 0 || own.paceDue || own.paceRepeats > 0) return true;
    }
    const now = this.now();
    for (const n of this.neighbours.values()) {
      if (awaitingLink(n, now)) return true;
      for (const nt of n.trees) if (nt.assembly || !nt.acked || awaitingWhole(nt, now)) return true;
    }
    return false;
  }

  /**
   * The earliest time a tick has something to do, if no frame comes and no link changes before:
   * a tick sooner does nothing. Now while hasWork; else what tick() checks, each as a time.
   */
  nextDue(): number {
    if (this.hasWork) return this.now();
    let due = Infinity;
    for (let t = 0; t < TREE_COUNT; t++) {
      const own = this.own[t]!;
      if (own.parent === 0) due = Math.min(due, own.lastRefresh + this.refreshInterval(t));
      else due = Math.min(due, own.freshAt + this.expiryWindow(t));
      due = Math.min(due, own.recheckAt);
    }
    // A link still wanted once LINK_WAIT_MS is up is asked for again at each retry.
    for (const n of this.neighbours.values()) if (wantsLink(n)) due = Math.min(due, n.linkRequestedAt + n.linkRetryMs);
    return due;
  }

  /** Call every TICK_MS while hasWork, and at least once a second. */
  tick(): void {
    const now = this.now();
    for (let t = 0; t < TREE_COUNT; t++) {
      const own = this.own[t]!;
      if (own.listenUntil !== 0 && now >= own.listenUntil) {
        own.listenUntil = 0;
        if (own.parent === 0) own.sendDue = 2;
      }
      // (What the nodes below say is looked up only once the shorter interval is up.)
      if (own.parent === 0 && own.listenUntil === 0 && now - own.lastRefresh >= ROOT_REFRESH_MS && now - own.lastRefresh >= this.refreshInterval(t)) {
        own.position = this.rootPosition(t);
        own.lastRefresh = now;
        this.refreshed(t, now);
        this.feasible(t, own.position);
        if (own.sendDue === 0) own.sendDue = 1;
      }
      if (own.parent !== 0 && now - own.freshAt >= this.expiryWindow(t)) this.expireRoot(t, now);
      if (now >= own.recheckAt) own.chooseDue = true;
      if (own.chooseDue) this.choose(t, now);
      this.flush(t, now);
      if (own.paceDue || own.paceRepeats > 0) this.tellPace(t, now);
    }
    for (const [link, n] of this.neighbours) {
      if (wantsLink(n)) this.requestLink(link, n, now);
      for (let t = 0; t < TREE_COUNT; t++) {
        const nt = n.trees[t]!;
        if ((nt.assembly && now - nt.assembly.since >= TREE_RETRY_MS) || awaitingWhole(nt, now)) this.request(link, t, nt, now);
        if (!nt.acked && now - nt.sentAt >= nt.retryMs) {
          // A node of an earlier revision drops BEACON frames: the resend is whole, as before.
          if (nt.sentShort) n.shortBeaconMisses++;
          nt.retryMs = Math.min(2 * nt.retryMs, TREE_RETRY_MAX_MS);
          this.counters.retransmitted++;
          this.sendState(link, t, nt, now);
        }
      }
    }
  }

  /**
   * Greedy forwarding in tree t toward `coordinates` under the root `rootKey`: the link of the
   * neighbour nearest to them along the tree, if nearer than we are; 0 if they are ours; -1 if
   * no neighbour is nearer (the tree is changing, or our root is another).
   */
  nextHop(t: number, rootKey: Uint8Array, coordinates: Coordinates): number {
    // A node of few neighbours looks at each (nextHops); the index is for a hub of hundreds.
    if (this.neighbours.size <= INDEX_FROM_NEIGHBOURS) return this.nextHops(t, rootKey, coordinates)[0] ?? -1;
    const own = this.own[t]!.position;
    if (!equalKeys(own.beacon, 0, rootKey)) return -1;
    const best = treeDistance(own.coordinates, coordinates);
    if (best === 0) return 0;
    // Children are not in the index: at most one of them is nearer, by one hop.
    const child = this.childToward(t, coordinates);
    return child > 0 ? this.nearestIndex(t).nearest(coordinates, best - 1, child) : this.nearestIndex(t).nearest(coordinates, best);
  }

  private nearestIndex(t: number): NearestIndex {
    let index = this.nearest[t];
    if (index) return index;
    index = this.nearest[t] = new NearestIndex();
    const own = this.own[t]!.position;
    for (const [link, n] of this.neighbours) {
      const p = n.trees[t]!.position;
      if (p && sameRoot(p, own)) index.add(link, p.coordinates);
    }
    return index;
  }

  /**
   * Every neighbour nearer to `coordinates` in tree t than we are, nearest first: the first is
   * nextHop's choice, the rest are other ways a source may try when that one fails ([0] if the
   * coordinates are ours, [] if no neighbour is nearer).
   */
  nextHops(t: number, rootKey: Uint8Array, coordinates: Coordinates): number[] {
    const own = this.own[t]!.position;
    if (!equalKeys(own.beacon, 0, rootKey)) return [];
    const ours = treeDistance(own.coordinates, coordinates);
    if (ours === 0) return [0];
    const nearer: [number, number][] = [];
    for (const [link, n] of this.neighbours) {
      const p = n.trees[t]!.position;
      if (!p || !sameRoot(p, own)) continue;
      const d = treeDistance(p.coordinates, coordinates);
      if (d < ours) nearer.push([d, link]);
    }
    const child = this.childToward(t, coordinates);
    if (child > 0) nearer.push([ours - 1, child]);
    nearer.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return nearer.map(([, link]) => link);
  }

  /** Signature checks made (not answered from the cache of checks made before). */
  get verifiedChecks(): number {
    return this.verified.checks;
  }

  /** Bytes of tree state held: our positions and links, the neighbours' keys (the neighbour
   *  table holds them, and counts the rest of what it keeps), positions and links. */
  stateBytes(): number {
    let bytes = 0;
    const held = new Set<Uint8Array>();
    for (const own of this.own) bytes += positionBytes(own.position, held);
    for (const n of this.neighbours.values()) {
      bytes += KEY_SIZE;
      // Its link to us (our place, if it is our parent, holds it too).
      if (n.linkToUs && !held.has(n.linkToUs)) {
        held.add(n.linkToUs);
        bytes += LINK_SIZE;
      }
    }
    for (const n of this.neighbours.values()) for (const nt of n.trees) if (nt.position) bytes += positionBytes(nt.position, held);
    return bytes;
  }

  // --- receiving ---

  private receiveLink(from: Neighbour, frame: Uint8Array): void {
    if (frame.length < LINK_FRAME_SIZE) return void this.counters.malformed++;
    // Its link must lead to us and be signed by it.
    if (!equalKeys(frame, 2, this.key) || !this.verified.link(from.key, frame, 2)) return void this.counters.badSignature++;
    if (from.linkToUs) return;
    from.linkToUs = frame.slice(2, LINK_FRAME_SIZE);
    from.linkWantedSince = Infinity;
    for (const own of this.own) own.chooseDue = true;
  }

  private receiveState(link: number, from: Neighbour, t: number, frame: Uint8Array): void {
    if (frame.length < STATE_FIXED) return void this.counters.malformed++;
    const version = readUint32BE(frame, 3);
    const depth = frame[7]!;
    const first = frame[8]!;
    const count = frame[9]!;
    if (depth > MAX_TREE_DEPTH || first + count > depth || frame.length < STATE_FIXED + count * LINK_SIZE) {
      return void this.counters.malformed++;
    }
    if (!this.verified.rootBeacon(t, frame, STATE_HEADER)) return void this.counters.badSignature++;
    const nt = from.trees[t]!;
    const now = this.now();
    const beacon = frame.subarray(STATE_HEADER, STATE_FIXED);
    const held = this.placeOf(link, nt, t);
    if (nt.version === version && held && held.depth === depth && equalKeys(held.beacon, 0, beacon) && (isWhole(held) || count === 0)) {
      // What we hold, again (a resend or a beacon refresh): the beacon may be newer.
      this.takeBeacon(link, t, held, beacon, now);
      this.acknowledge(link, t, version, held.beacon);
      return;
    }
    if (count === 0 && depth > 0) return this.request(link, t, nt, now); // a beacon of a position we missed
    let a = nt.assembly;
    if (!a || a.version !== version || a.depth !== depth || !equalKeys(a.beacon, 0, beacon)) {
      a = nt.assembly = {
        version,
        depth,
        beacon: beacon.slice(),
        links: new Uint8Array(depth * LINK_SIZE),
        have: new Uint8Array(depth),
        missing: depth,
        since: now,
      };
    }
    for (let i = 0; i < count; i++) {
      if (a.have[first + i]) continue;
      a.links.set(frame.subarray(STATE_FIXED + i * LINK_SIZE, STATE_FIXED + (i + 1) * LINK_SIZE), (first + i) * LINK_SIZE);
      a.have[first + i] = 1;
      a.missing--;
    }
    if (a.missing > 0) return;
    nt.assembly = null;
    const position = this.check(t, a.beacon, a.links, depth, from, [held, this.own[t]!.position]);
    if (!position) return void this.counters.badSignature++;
    const wasWhole = isWhole(held);
    nt.version = version;
    const child = this.isChildPlace(link, t, position);
    // The next-hop index holds the places held, not the children's.
    if (!child || nt.position) this.nearest[t] = null;
    nt.position = child ? null : position;
    nt.childOf = child ? this.own[t]!.version : -1;
    nt.wholeWantedSince = Infinity;
    const below = containsKey(position, this.key);
    if (below !== nt.below) this.own[t]!.paceDue = true;
    nt.below = below;
    if (!held || !(wasWhole ? sameLinks(held, position) : samePlace(held, position))) nt.changedAt = now;
    else if (beaconSequence(held.beacon) > beaconSequence(position.beacon)) position.beacon = held.beacon;
    this.acknowledge(link, t, version, position.beacon);
    this.noteRevival(t, position);
    const own = this.own[t]!;
    // It took our place already, yet now names a worse root than ours: it lost what we sent it
    // (it restarted quicker than the link could time out here). Ours goes again.
    if (nt.acked && compareRanks(position.rank, own.position.rank) > 0) {
      this.counters.resentToRestarted++;
      this.sendState(link, t, nt, now);
    } else if (nt.below && sameRoot(position, own.position) && beaconSequence(position.beacon) < beaconSequence(own.position.beacon)) {
      // It took our place as it held it, from before a beacon we did not send it (flush).
      this.sendState(link, t, nt, now);
    }
    if (own.parent === link && equalKeys(own.position.beacon, 0, position.beacon)) {
      if (beaconSequence(position.beacon) > beaconSequence(own.position.beacon)) this.refreshed(t, now);
    }
    if (own.parent === link && worsePlace(position.rank, position.depth + 1, own.position)) own.worseAt = now;
    own.chooseDue = true;
    this.onChanged?.();
  }

  /**
   * A BEACON frame: the beacon of the place we hold of the neighbour (of that version), its
   * root's key taken from that place. Checked, then taken as a STATE frame of the beacon alone
   * is. For a place we do not hold (we missed its STATE), we ask for it.
   */
  private receiveBeacon(link: number, from: Neighbour, t: number, frame: Uint8Array): void {
    if (frame.length < BEACON_FRAME_SIZE) return void this.counters.malformed++;
    const nt = from.trees[t]!;
    const now = this.now();
    const version = readUint32BE(frame, 3);
    const held = this.placeOf(link, nt, t);
    if (!held || nt.version !== version) return this.request(link, t, nt, now);
    const beacon = new Uint8Array(ROOT_BEACON_SIZE);
    beacon.set(held.beacon.subarray(0, KEY_SIZE));
    beacon.set(frame.subarray(BEACON_HEADER, BEACON_FRAME_SIZE), KEY_SIZE);
    if (!this.verified.rootBeacon(t, beacon, 0)) return void this.counters.badSignature++;
    from.shortBeaconMisses = 0; // it sends them, so it takes them
    this.takeBeacon(link, t, held, beacon, now);
    this.acknowledge(link, t, version, held.beacon);
  }

  /** A newer beacon for a neighbour's position; ours too if that neighbour is our parent. */
  private takeBeacon(link: number, t: number, p: Position, beacon: Uint8Array, now: number): void {
    if (beaconSequence(beacon) <= beaconSequence(p.beacon)) return;
    const own = this.own[t]!;
    // Ours already, most often (the neighbours under our root pass it on): one object for all.
    p.beacon = sameBytes(own.position.beacon, beacon, 0) ? own.position.beacon : beacon.slice();
    this.noteRevival(t, p);
    if (own.parent !== link || !equalKeys(own.position.beacon, 0, p.beacon)) return;
    own.position.beacon = p.beacon;
    this.refreshed(t, now);
    this.feasible(t, own.position);
    this.shareBeacon(t);
    if (own.sendDue === 0) own.sendDue = 1;
  }

  /** A root taken for gone is back if it signs a newer beacon. */
  private noteRevival(t: number, p: Position): void {
    const id = bytesKey(p.beacon.subarray(0, KEY_SIZE));
    const dead = this.deadRoots[t]!.get(id);
    if (dead !== undefined && beaconSequence(p.beacon) > dead) {
      this.deadRoots[t]!.delete(id);
      this.own[t]!.chooseDue = true;
    }
  }

  /** Acknowledges a neighbour's place in tree t of that version and beacon, saying what we and
   *  the nodes below us take (Pace: a parent's beacons come so, and our parent reads it). */
  private acknowledge(link: number, t: number, version: number, beacon: Uint8Array, pace = this.paceBelow(t)): void {
    const frame = new Uint8Array(ACK_SIZE + 2);
    frame[0] = FRAME_ROUTING;
    frame[1] = KIND_TREE_ACK;
    frame[2] = t;
    writeUint32BE(frame, 3, version);
    frame.set(beacon.subarray(KEY_SIZE, KEY_SIZE + 8), 7);
    frame[ACK_SIZE] = pace >= 1 ? ACK_PACED : 0;
    frame[ACK_SIZE + 1] = pace === 2 ? ACK_SLOW : 0;
    const nt = this.neighbours.get(link)?.trees[t];
    if (nt) nt.paceSent = pace;
    const own = this.own[t]!;
    if (link === own.parent) own.windowMs = Math.max(own.windowMs, EXPIRY_AT_PACE[pace]);
    this.send(link, frame);
  }

  private receiveAck(from: Neighbour, t: number, frame: Uint8Array): void {
    if (frame.length < ACK_SIZE) return void this.counters.malformed++;
    const own = this.own[t]!;
    const nt = from.trees[t]!;
    // Read whatever the version: a child tells its parent when what is below it changed.
    const pace: Pace = frame.length > ACK_SIZE && frame[ACK_SIZE] === ACK_PACED ? (frame.length > ACK_SIZE + 1 && frame[ACK_SIZE + 1] === ACK_SLOW ? 2 : 1) : 0;
    if (pace !== nt.pace) {
      nt.pace = pace;
      if (nt.below) own.paceDue = true;
    }
    if (readUint32BE(frame, 3) !== own.version) return;
    if (readUint32BE(frame, 7) * 2 ** 32 + readUint32BE(frame, 11) < beaconSequence(own.position.beacon)) return;
    nt.acked = true;
    nt.retryMs = TREE_RETRY_MS;
    if (nt.sentShort) from.shortBeaconMisses = 0;
    nt.sentShort = false;
  }

  /**
   * What we and every node below us in tree t take (Pace): the least that a neighbour below us
   * said of itself and those below it. One that never says (an earlier revision, whose own
   * nodes or those below it may give a root up after 25 minutes) keeps its root signing every
   * ROOT_REFRESH_MS; one that says only the first byte, every ROOT_REFRESH_PACED_MS.
   */
  private paceBelow(t: number): Pace {
    let pace: Pace = 2;
    for (const n of this.neighbours.values()) {
      const nt = n.trees[t]!;
      if (nt.below && nt.pace < pace) pace = nt.pace;
    }
    return pace;
  }

  /** How often we sign a new beacon as root of tree t. */
  protected refreshInterval(t: number): number {
    return REFRESH_AT_PACE[this.paceBelow(t)];
  }

  /** How long after the last newer beacon we give our root in tree t up: as long as we say we
   *  wait, or as we said since it came, if longer (OwnTree.windowMs). */
  protected expiryWindow(t: number): number {
    const said = this.own[t]!.windowMs;
    // (The longest needs no look at the neighbours: nextDue asks at every tick.)
    return said === ROOT_EXPIRY_SLOW_MS ? said : Math.max(said, EXPIRY_AT_PACE[this.paceBelow(t)]);
  }

  /** A newer beacon came in tree t, or we took a parent or became root. */
  private refreshed(t: number, now: number): void {
    const own = this.own[t]!;
    own.freshAt = now;
    own.windowMs = EXPIRY_AT_PACE[this.paceBelow(t)];
  }

  /**
   * What is below us in tree t, or our parent, may have changed: the parent is told, if our last
   * acknowledgement to it said otherwise, and twice more after that, at most once per
   * TREE_RETRY_MS (a neighbour below us that keeps changing its word makes us send no more).
   */
  private tellPace(t: number, now: number): void {
    const own = this.own[t]!;
    const parent = own.parent === 0 ? undefined : this.neighbours.get(own.parent)?.trees[t];
    if (!parent) {
      own.paceDue = false;
      own.paceRepeats = 0;
      return;
    }
    if (now - own.paceToldAt < TREE_RETRY_MS) return;
    own.paceDue = false;
    const pace = this.paceBelow(t);
    if (parent.paceSent !== pace) own.paceRepeats = PACE_REPEATS;
    else if (own.paceRepeats === 0) return;
    else own.paceRepeats--;
    own.paceToldAt = now;
    // The place we hold of it, acknowledged again: the acknowledgement carries it.
    this.acknowledge(own.parent, t, parent.version, own.position.beacon, pace);
  }

  private answerRequest(link: number, from: Neighbour, t: number): void {
    const nt = from.trees[t]!;
    const now = this.now();
    if (now - nt.answeredAt < TREE_RETRY_MS / 2) return;
    nt.answeredAt = now;
    this.sendState(link, t, nt, now);
  }

  // --- choosing a parent ---

  private choose(t: number, now: number): void {
    this.keepWhole(t, now, this.chooseParent(t, now));
  }

  /** Takes the best parent we can follow, or waits for a better one's link or position (that
   *  neighbour's place in tree t is returned: it is to be held whole). */
  private chooseParent(t: number, now: number): NeighbourTree | null {
    const own = this.own[t]!;
    own.chooseDue = false;
    own.recheckAt = Infinity;
    // The best parent we can follow now (its link to us and its whole position held), and the
    // best of those we still wait for one of them from.
    let best: Candidate | null = null;
    let awaited: Candidate | null = null;
    for (const [link, n] of this.neighbours) {
      const nt = n.trees[t]!;
      const p = nt.position;
      if (!p || !this.mayFollow(t, p, nt)) continue;
      if (link !== own.parent && !this.isFeasible(own, p) && now < nt.changedAt + TREE_STABLE_MS && !avoidsLosses(own, p, now)) {
        own.recheckAt = Math.min(own.recheckAt, nt.changedAt + TREE_STABLE_MS);
        continue;
      }
      if (!n.linkToUs || !isWhole(p)) {
        if (!awaited || better(p, link, awaited.p, awaited.link, own.parent)) awaited = { link, n, nt, p };
        continue;
      }
      if (!best || better(p, link, best.p, best.link, own.parent)) best = { link, n, nt, p };
    }
    // A better parent whose link or whole position we lack: ask for it and choose again when it
    // comes, keeping our place meanwhile — even under a parent just gone, for a round trip,
    // rather than take a worse one or be root for that long. If it has not come in LINK_WAIT_MS,
    // the best we can take will do; we keep asking for a link, less and less often (tick), in
    // case our requests were lost.
    if (awaited && compareRanks(this.ownRanks[t]!, awaited.p.rank) > 0 && (!best || better(awaited.p, awaited.link, best.p, best.link, own.parent))) {
      const { n, nt } = awaited;
      const whole = isWhole(awaited.p);
      if (!n.linkToUs && n.linkWantedSince === Infinity) n.linkWantedSince = now;
      if (!whole && nt.wholeWantedSince === Infinity) nt.wholeWantedSince = now;
      const since = Math.max(n.linkToUs ? -Infinity : n.linkWantedSince, whole ? -Infinity : nt.wholeWantedSince);
      if (now - since < LINK_WAIT_MS) {
        if (!n.linkToUs) this.requestLink(awaited.link, n, now);
        if (!whole) this.request(awaited.link, t, nt, now);
        own.recheckAt = Math.min(own.recheckAt, since + LINK_WAIT_MS);
        return nt;
      }
    }
    if (!best || compareRanks(this.ownRanks[t]!, best.p.rank) <= 0) {
      if (own.parent !== 0) this.becomeRoot(t, now);
      return null;
    }
    if (best.link === own.parent && equalKeys(best.p.beacon, 0, own.position.beacon) && sameChain(best.p, own.position)) return null;
    if (best.link !== own.parent) this.counters.parentChanges++;
    own.parent = best.link;
    own.paceDue = true;
    this.refreshed(t, now);
    this.follow(t, best.p, best.n.linkToUs!);
    return null;
  }

  /**
   * Keeps whole the positions in tree t of the parent, of the TREE_BACKUPS best other parents
   * (as far as TREE_BACKUP_BYTES allows) and of the one awaited (asking for those held by
   * coordinates alone); of the others, the neighbours below us among them, only the beacon and
   * coordinates stay.
   */
  private keepWhole(t: number, now: number, awaited: NeighbourTree | null): void {
    const own = this.own[t]!;
    const backups: Candidate[] = [];
    for (const [link, n] of this.neighbours) {
      const nt = n.trees[t]!;
      const p = nt.position;
      if (!p || link === own.parent || !this.mayFollow(t, p, nt)) continue;
      let at = backups.length;
      while (at > 0 && better(p, link, backups[at - 1]!.p, backups[at - 1]!.link, own.parent)) at--;
      if (at < TREE_BACKUPS) {
        backups.splice(at, 0, { link, n, nt, p });
        if (backups.length > TREE_BACKUPS) backups.pop();
      }
    }
    // The best first, while they fit TREE_BACKUP_BYTES.
    let bytes = 0;
    for (let i = 0; i < backups.length; i++) {
      bytes += backups[i]!.p.depth * LINK_SIZE;
      if (bytes > TREE_BACKUP_BYTES) {
        backups.length = i;
        break;
      }
    }
    for (const [link, n] of this.neighbours) {
      const nt = n.trees[t]!;
      const p = nt.position;
      if (!p || link === own.parent) continue;
      const backup = !nt.below && (nt === awaited || backups.some((b) => b.nt === nt));
      if (backup && !isWhole(p)) {
        if (nt.wholeWantedSince === Infinity) nt.wholeWantedSince = now;
        this.request(link, t, nt, now);
      } else if (!backup) {
        nt.wholeWantedSince = Infinity;
        p.links = NO_LINKS;
      }
    }
  }

  /** Whether a neighbour's position in tree t could make it our parent: not below us (a loop),
   *  not too deep, not under a root taken for gone. */
  private mayFollow(t: number, p: Position, nt: NeighbourTree): boolean {
    if (nt.below || p.depth >= MAX_TREE_DEPTH) return false;
    const dead = this.deadRoots[t]!.get(bytesKey(p.beacon.subarray(0, KEY_SIZE)));
    return dead === undefined || beaconSequence(p.beacon) > dead;
  }

  /** Whether position p (a neighbour's) may be taken at once: another root, a newer beacon of
   *  the root we hold feasibility for, or no deeper than we have been under that beacon. */
  private isFeasible(own: OwnTree, p: Position): boolean {
    if (!equalKeys(p.beacon, 0, own.feasibleRoot)) return true;
    const sequence = beaconSequence(p.beacon);
    return sequence > own.feasibleSequence || (sequence === own.feasibleSequence && p.depth + 1 <= own.feasibleDepth);
  }

  /** Our position `p` narrows the feasibility we keep (or starts it anew under a new beacon). */
  private feasible(t: number, p: Position): void {
    const own = this.own[t]!;
    const sequence = beaconSequence(p.beacon);
    if (equalKeys(own.feasibleRoot, 0, p.beacon) && sequence === own.feasibleSequence) {
      own.feasibleDepth = Math.min(own.feasibleDepth, p.depth);
      return;
    }
    own.feasibleRoot = p.beacon.slice(0, KEY_SIZE);
    own.feasibleSequence = sequence;
    own.feasibleDepth = p.depth;
  }

  /** Our position becomes the parent's plus the parent's link to us. */
  private follow(t: number, parent: Position, link: Uint8Array): void {
    const own = this.own[t]!;
    const links = [...parent.links, link];
    own.position = { beacon: parent.beacon, rank: parent.rank, links, depth: parent.depth + 1, coordinates: childCoordinates(parent, linkPort(link)) };
    this.nearest[t] = null;
    own.listenUntil = 0;
    this.feasible(t, own.position);
    this.shareBeacon(t);
    this.positionChanged(own);
  }

  /** Our beacon in tree t is new to us: the places that brought it before our parent did (the
   *  neighbours' STATE frames, as the trees form or a root changes) hold it in one object with
   *  ours. Each holding its own copy was most of a hub's tree state. */
  private shareBeacon(t: number): void {
    const ours = this.own[t]!.position.beacon;
    for (const n of this.neighbours.values()) {
      const p = n.trees[t]!.position;
      if (p && p.beacon !== ours && sameBytes(ours, p.beacon, 0)) p.beacon = ours;
    }
  }

  /** We are the root of tree t: the lowest rank we know of, or cut off from the root we had. In
   *  the second case the feasibility of the old root stays, so that we take back no position
   *  that leads through the part of the tree that failed. */
  private becomeRoot(t: number, now: number): void {
    const own = this.own[t]!;
    this.counters.parentChanges++;
    own.parent = 0;
    own.position = this.rootPosition(t);
    this.nearest[t] = null;
    own.lastRefresh = now;
    this.refreshed(t, now);
    if (compareRanks(this.ownRanks[t]!, this.rankOf(t, own.feasibleRoot)) <= 0) this.feasible(t, own.position);
    this.positionChanged(own);
  }

  private positionChanged(own: OwnTree): void {
    this.movedAt = this.now();
    own.version = (own.version + 1) >>> 0;
    own.sendDue = 2;
    this.onChanged?.();
  }

  private expireRoot(t: number, now: number): void {
    const own = this.own[t]!;
    const root = own.position.beacon;
    this.deadRoots[t]!.set(bytesKey(root.subarray(0, KEY_SIZE)), beaconSequence(root));
    this.counters.rootsExpired++;
    this.refreshed(t, now);
    own.feasibleRoot = this.key; // nothing of the old root is taken again
    own.chooseDue = true;
  }

  /** Our root position in tree t. Its beacon is signed when first sent: a node that has just
   *  started is the root of every tree until it hears of a better one, which most hear of
   *  before their listening time is up (on powerlaw-10000, 40,000 signatures of a cold start
   *  that nobody would have seen). */
  private rootPosition(t: number): Position {
    const beacon = unsignedRootBeacon(this.key, this.wallNow());
    this.unsignedBeacons.add(beacon);
    return {
      beacon,
      rank: this.rankOf(t, this.key),
      links: [],
      depth: 0,
      coordinates: [],
    };
  }

  // --- checking ---

  /**
   * The position `beacon` + `flat` (depth links one after another) of the neighbour `from`, if
   * every signature holds and it ends at the neighbour. The links it shares from the root with a
   * position checked before (`checked`) are not checked again, and are held as that position's
   * objects; so is the beacon if it is our own place's. A link checked that the node holds
   * already, in any tree (heldLink), is held as that object too.
   */
  private check(t: number, beacon: Uint8Array, flat: Uint8Array, depth: number, from: Neighbour, checked: readonly (Position | null)[]): Position | null {
    let signer = beacon.subarray(0, KEY_SIZE);
    let known = 0;
    let source: Position | null = null;
    for (const p of checked) {
      const shared = p ? sharedPrefix(p, beacon, flat, depth) : 0;
      if (shared > known) [known, source] = [shared, p];
    }
    const links: (Uint8Array | undefined)[] = new Array(depth);
    const coordinates = new Array<number>(depth);
    let fresh = 0;
    for (let i = 0; i < depth; i++) {
      const off = i * LINK_SIZE;
      if (i < known) links[i] = source!.links[i]!;
      else if (!this.verified.link(signer, flat, off)) return null;
      else if (!(links[i] = heldLink(flat, off, this.own, from.trees))) fresh++;
      coordinates[i] = linkPort(flat, off);
      signer = flat.subarray(off, off + KEY_SIZE);
    }
    if (!equalKeys(signer, 0, from.key)) return null;
    // The links held nowhere yet are views of one copy of theirs alone: an array buffer per link
    // cost some 90 bytes of heap more than its 98 of data, and a copy of the links held already
    // would keep their bytes twice.
    if (fresh > 0) {
      const copy = new Uint8Array(fresh * LINK_SIZE);
      let at = 0;
      for (let i = known; i < depth; i++) {
        if (links[i]) continue;
        copy.set(flat.subarray(i * LINK_SIZE, (i + 1) * LINK_SIZE), at);
        links[i] = copy.subarray(at, at + LINK_SIZE);
        at += LINK_SIZE;
      }
    }
    const ours = this.own[t]!.position.beacon;
    return { beacon: sameBytes(ours, beacon, 0) ? ours : beacon, rank: this.rankOf(t, beacon.subarray(0, KEY_SIZE)), links: links as Uint8Array[], depth, coordinates };
  }

  /** The rank of root `key` in tree t: the object of a place held under that root, if one is
   *  (places under one root share it, and sameRoot tries that first), else worked out. A cache
   *  of ranks by key held every root seen since the start, some 7 KiB a node. */
  private rankOf(t: number, key: Uint8Array): Uint8Array {
    if (equalKeys(key, 0, this.key)) return this.ownRanks[t]!;
    const own = this.own[t]?.position;
    if (own && equalKeys(own.beacon, 0, key)) return own.rank;
    for (const n of this.neighbours.values()) {
      const p = n.trees[t]?.position;
      if (p && equalKeys(p.beacon, 0, key)) return p.rank;
    }
    return rootRank(t, key);
  }

  // --- sending ---

  /** Our link to a neighbour that asked for it, signed anew: a neighbour asks once per link
   *  session unless the answer is lost, so one asking more often than LINK_SIGN_GAP_MS is not
   *  answered (a signature is the dearest thing a request can cost us). */
  private sendLink(link: number, n: Neighbour): void {
    const now = this.now();
    if (now - n.linkSignedAt < LINK_SIGN_GAP_MS) return void this.counters.linkRequestsRefused++;
    n.linkSignedAt = now;
    this.counters.linksSigned++;
    const frame = new Uint8Array(LINK_FRAME_SIZE);
    frame[0] = FRAME_ROUTING;
    frame[1] = KIND_TREE_LINK;
    frame.set(signLink(this.sign, this.key, n.key, link), 2);
    this.send(link, frame);
  }

  /** Asks a neighbour for its link to us: again after TREE_RETRY_MS, then twice as long each
   *  time, at most TREE_RETRY_MAX_MS (one that never answers is asked seldom). */
  private requestLink(link: number, n: Neighbour, now: number): void {
    if (now - n.linkRequestedAt < n.linkRetryMs) return;
    if (n.linkRequestedAt !== -Infinity) n.linkRetryMs = Math.min(2 * n.linkRetryMs, TREE_RETRY_MAX_MS);
    n.linkRequestedAt = now;
    this.send(link, Uint8Array.of(FRAME_ROUTING, KIND_TREE_REQUEST, REQUEST_LINK));
  }

  private request(link: number, t: number, nt: NeighbourTree, now: number): void {
    if (nt.assembly) nt.assembly.since = now;
    if (now - nt.requestedAt < TREE_RETRY_MS) return;
    nt.requestedAt = now;
    this.send(link, Uint8Array.of(FRAME_ROUTING, KIND_TREE_REQUEST, t));
  }

  /** Our whole position in tree t to one neighbour, sent again until it acknowledges it. */
  private sendState(link: number, t: number, nt: NeighbourTree, now: number): void {
    if (this.listening(t)) return;
    nt.acked = false;
    nt.sentAt = now;
    nt.sentShort = false;
    for (const frame of this.stateFrames(t)) this.send(link, frame);
  }

  private flush(t: number, now: number): void {
    const own = this.own[t]!;
    if (own.sendDue === 0 || this.listening(t)) return;
    const beaconOnly = own.sendDue === 1;
    own.sendDue = 0;
    // The beacon alone goes in a BEACON frame, 34 bytes shorter than a STATE frame of it, but to
    // a neighbour that left the last ones unacknowledged (an earlier revision). Each frame is
    // made once, for all the neighbours it goes to.
    let frames = beaconOnly ? null : this.stateFrames(t);
    let short: Uint8Array | null = null;
    for (const [link, n] of this.neighbours) {
      const nt = n.trees[t]!;
      // A newer beacon alone goes to the neighbours below us, whose places it renews, and to
      // those under another root, which it may bring back (noteRevival); the rest have it from
      // their parents. At a hub this was most of its steady traffic (docs/ROUTING.md, "Beacons
      // only where they renew a place").
      if (beaconOnly && !nt.below && nt.position && sameRoot(nt.position, own.position)) continue;
      nt.acked = false;
      nt.sentAt = now;
      nt.retryMs = TREE_RETRY_MS;
      nt.sentShort = beaconOnly && n.shortBeaconMisses < SHORT_BEACON_MISSES;
      if (nt.sentShort) this.send(link, (short ??= this.beaconFrame(t)));
      else for (const frame of (frames ??= [this.stateFrame(t, 0, 0)])) this.send(link, frame);
    }
  }

  /** Whether we keep our position in tree t to ourselves: just started, and root of nobody. */
  private listening(t: number): boolean {
    const own = this.own[t]!;
    return own.listenUntil !== 0 && own.parent === 0;
  }

  /** Our position in tree t as STATE frames, each within the MTU. */
  private stateFrames(t: number): Uint8Array[] {
    const depth = this.own[t]!.position.depth;
    const perFrame = Math.floor((this.mtu - STATE_FIXED) / LINK_SIZE);
    const frames = [this.stateFrame(t, 0, Math.min(perFrame, depth))];
    for (let first = perFrame; first < depth; first += perFrame) frames.push(this.stateFrame(t, first, Math.min(perFrame, depth - first)));
    return frames;
  }

  /** One STATE frame: links [first, first + count) of our position (none: the beacon alone). */
  private stateFrame(t: number, first: number, count: number): Uint8Array {
    const own = this.own[t]!;
    const p = own.position;
    const frame = new Uint8Array(STATE_FIXED + count * LINK_SIZE);
    frame[0] = FRAME_ROUTING;
    frame[1] = KIND_TREE_STATE;
    frame[2] = t;
    writeUint32BE(frame, 3, own.version);
    frame[7] = p.depth;
    frame[8] = first;
    frame[9] = count;
    frame.set(this.signedBeacon(t), STATE_HEADER);
    for (let i = 0; i < count; i++) frame.set(p.links[first + i]!, STATE_FIXED + i * LINK_SIZE);
    return frame;
  }

  /** The BEACON frame of our beacon in tree t: its sequence and signature. */
  private beaconFrame(t: number): Uint8Array {
    const frame = new Uint8Array(BEACON_FRAME_SIZE);
    frame[0] = FRAME_ROUTING;
    frame[1] = KIND_TREE_BEACON;
    frame[2] = t;
    writeUint32BE(frame, 3, this.own[t]!.version);
    frame.set(this.signedBeacon(t).subarray(KEY_SIZE), BEACON_HEADER);
    return frame;
  }

  /** Our beacon in tree t, signed now if it is our own root beacon not sent before. */
  private signedBeacon(t: number): Uint8Array {
    const p = this.own[t]!.position;
    if (p.depth === 0 && this.unsignedBeacons.delete(p.beacon)) signBeaconInPlace(this.sign, t, p.beacon);
    return p.beacon;
  }

  private send(link: number, frame: Uint8Array): void {
    this.counters.framesSent++;
    this.counters.bytesSent += frame.length;
    this.sendFrame(link, frame);
  }
}

/** A neighbour's position considered as our parent's. */
interface Candidate {
  link: number;
  n: Neighbour;
  nt: NeighbourTree;
  p: Position;
}

/** The links of a position held by its coordinates alone. */
const NO_LINKS: readonly Uint8Array[] = Object.freeze([]) as readonly Uint8Array[];

/** Whether we asked for a neighbour's whole position in a tree less than LINK_WAIT_MS ago and it
 *  has not come. */
function awaitingWhole(nt: NeighbourTree, now: number): boolean {
  return nt.wholeWantedSince !== Infinity && now - nt.wholeWantedSince < LINK_WAIT_MS && !isWhole(nt.position);
}

/**
 * Whether a neighbour's position is held with its links, or (once checked) only its beacon, depth
 * and coordinates, which are all greedy forwarding and the choice of a parent need. Links are
 * kept for the parent, the TREE_BACKUPS best other parents (followed at once when the parent
 * goes) and one awaited; a neighbour that becomes one of the best is asked for its position
 * again (Trees.keepWhole). The neighbours below us (whether they are is noted when their place
 * is checked) are never parents: their places are held as coordinates too. At a node of many
 * links this is most of its tree state: every neighbour's way up, a signature a link.
 */
function isWhole(p: Position | null): boolean {
  return p !== null && p.links.length === p.depth;
}

/** Whether we want a neighbour's link and do not have it (we ask, less and less often). */
function wantsLink(n: Neighbour): boolean {
  return !n.linkToUs && n.linkWantedSince !== Infinity;
}

/** Whether we asked a neighbour for its link less than LINK_WAIT_MS ago and it has not come. */
function awaitingLink(n: Neighbour, now: number): boolean {
  return wantsLink(n) && now - n.linkWantedSince < LINK_WAIT_MS;
}

/** Whether candidate a (at link la) makes a better parent than b (at lb): lower root rank, then
 *  shallower, then the current parent, then the lower link. */
function better(a: Position, la: number, b: Position, lb: number, current: number): boolean {
  const byRank = compareRanks(a.rank, b.rank);
  if (byRank !== 0) return byRank < 0;
  if (a.depth !== b.depth) return a.depth < b.depth;
  if ((la === current) !== (lb === current)) return la === current;
  return la < lb;
}

/** Where a parent's link failed: the parent's place (its root and coordinates), until when it
 *  is avoided. */
interface Loss {
  root: Uint8Array;
  coordinates: readonly number[];
  until: number;
}

/**
 * Our parent's link failed: its place is remembered for TREE_STABLE_MS. Feasibility holds back
 * every deeper position for that long, because one may still lead through the failure — its
 * holder has not noticed yet. But positions are whole paths: one whose coordinates do not pass
 * the parent's place does not lead through it, and is a way round that we may take at once.
 * After a hub crashed, waiting for the deeper ways round to stand TREE_STABLE_MS is what kept
 * its neighbours' places, and so lookups of them, failing for seconds (docs/ROUTING.md).
 */
function noteLoss(own: OwnTree, now: number): void {
  const p = own.position;
  own.losses = own.losses.filter((l) => l.until > now);
  own.losses.push({ root: p.beacon.slice(0, KEY_SIZE), coordinates: p.coordinates.slice(0, p.depth - 1), until: now + TREE_STABLE_MS });
}

/** Whether a place `depth` deep under the root of `rank` is worse than `before`: under a worse
 *  root, or deeper under the same. */
export function worsePlace(rank: Uint8Array, depth: number, before: Position): boolean {
  const byRank = compareRanks(rank, before.rank);
  return byRank > 0 || (byRank === 0 && depth > before.depth);
}

/** Whether a parent's link failed lately and position p passes none of the places lost. */
function avoidsLosses(own: OwnTree, p: Position, now: number): boolean {
  let recent = false;
  for (const loss of own.losses) {
    if (loss.until <= now) continue;
    recent = true;
    // Below the lost place: the tree's way down to p passes it.
    if (equalKeys(p.beacon, 0, loss.root) && treeDistance(loss.coordinates, p.coordinates) === p.depth - loss.coordinates.length) return false;
  }
  return recent;
}

/** The coordinates of the child of `p` at `port`: p's and the port. */
function childCoordinates(p: Position, port: number): number[] {
  const coordinates = new Array<number>(p.depth + 1);
  for (let i = 0; i < p.depth; i++) coordinates[i] = p.coordinates[i]!;
  coordinates[p.depth] = port;
  return coordinates;
}

/**
 * A link held already with the bytes at flat[off], in one of our own places or one of the
 * neighbour's in any tree. A link is signed for a hop whatever the tree, so the trees' ways down
 * share hops (on a line, all four go the same way): held once for all, they are counted once.
 */
function heldLink(flat: Uint8Array, off: number, own: readonly OwnTree[], theirs: readonly NeighbourTree[]): Uint8Array | undefined {
  for (const o of own) for (const link of o.position.links) if (sameBytes(link, flat, off)) return link;
  for (const nt of theirs) if (nt.position) for (const link of nt.position.links) if (sameBytes(link, flat, off)) return link;
  return undefined;
}

/** Whether `key` is the root of `p` or any node on its way down. */
function containsKey(p: Position, key: Uint8Array): boolean {
  if (equalKeys(p.beacon, 0, key)) return true;
  for (let i = 0; i < p.depth; i++) if (equalKeys(p.links[i]!, 0, key)) return true;
  return false;
}

/** Whether our position is the parent's plus one link (same links above us). */
function sameChain(parent: Position, ours: Position): boolean {
  if (ours.depth !== parent.depth + 1) return false;
  for (let i = 0; i < parent.depth; i++) if (!sameLink(parent.links[i]!, ours.links[i]!)) return false;
  return true;
}

/** Whether two positions have the same root, depth and coordinates (all a place held by its
 *  coordinates alone can be compared by). */
function samePlace(a: Position, b: Position): boolean {
  if (a.depth !== b.depth || !equalKeys(a.beacon, 0, b.beacon)) return false;
  for (let i = 0; i < a.depth; i++) if (a.coordinates[i] !== b.coordinates[i]) return false;
  return true;
}

function sameLinks(a: Position, b: Position): boolean {
  if (a.depth !== b.depth || !equalKeys(a.beacon, 0, b.beacon)) return false;
  for (let i = 0; i < a.depth; i++) if (!sameLink(a.links[i]!, b.links[i]!)) return false;
  return true;
}

/** How many links from the root `p` has in common with `beacon` + `links` (none if their roots
 *  differ): signatures over the same bytes by the same signers. */
function sharedPrefix(p: Position, beacon: Uint8Array, flat: Uint8Array, depth: number): number {
  if (!equalKeys(p.beacon, 0, beacon)) return 0;
  const n = Math.min(p.links.length, depth);
  for (let i = 0; i < n; i++) if (!sameBytes(p.links[i]!, flat, i * LINK_SIZE)) return i;
  return n;
}

/** Whether a place is under the same root as `own`. Places under one root mostly share one rank
 *  object (rankOf), so identity is tried first. */
function sameRoot(p: Position, own: Position): boolean {
  return p.rank === own.rank || equalKeys(p.beacon, 0, own.beacon);
}

function sameLink(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || sameBytes(a, b, 0);
}

/** Whether all of `a` is at buf[off ..]. */
function sameBytes(a: Uint8Array, buf: Uint8Array, off: number): boolean {
  if (buf.length < off + a.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[off + i]) return false;
  return true;
}

/** Bytes of a position not counted yet in `held` (the beacon and links it shares with places
 *  counted before are references): 8 per reference, 2 per port. */
function positionBytes(p: Position, held: Set<Uint8Array>): number {
  let bytes = 8 * (p.links.length + 1) + 2 * p.coordinates.length;
  for (const part of [p.beacon, ...p.links]) {
    if (held.has(part)) continue;
    held.add(part);
    bytes += part.length;
  }
  return bytes;
}

/** A rank as a fraction of the whole range, 0 (best) to 1. */
function rankFraction(rank: Uint8Array): number {
  return readUint32BE(rank, 0) / 2 ** 32;
}

function equalKeys(a: Uint8Array, off: number, key: Uint8Array): boolean {
  if (a.length < off + KEY_SIZE || key.length < KEY_SIZE) return false;
  for (let i = 0; i < KEY_SIZE; i++) if (a[off + i] !== key[i]) return false;
  return true;
}
