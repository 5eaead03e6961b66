// Finding the way to a node the trees do not tell us about: a Kademlia lookup over the mesh for
// its signed locator, then the way there along the trees (docs/ROUTING.md "Lookups").
//
//   locate(address)     start a lookup unless one runs or a route is known. It asks the
//                       contacts nearest to the address (LOOKUP_PARALLEL at a time) for the
//                       locators they know nearest to it; each request is a FIND, a tree-routed
//                       frame (tree-frame.ts) steered to the contact's coordinates, and each
//                       answer comes back along the way the request recorded. Once the target's
//                       own locator is in hand, the target itself is asked in every tree: its
//                       first answer ends the lookup with a route (the way that request went).
//   probes              the target's answers in the other trees, and its PROBE RETURNs (frames
//                       it steers back to us, recording their way), are more routes to it: the
//                       shortest one is used (paths.ts). So a source gets, from one lookup, up to
//                       two routes per tree; docs/ROUTING.md has the stretch of the best of them
//                       (bench/lookups.ts).
//   forward             a tree-routed frame not for us goes by the map where the map knows its
//                       destination, else to the neighbour nearest its coordinates
//                       (Trees.nextHop); one that is for us is answered.
//   own locator         re-signed when our coordinates settle after a change (at most every
//                       LOCATOR_MIN_INTERVAL_MS; at once when a place was lost, then at most
//                       every LOCATOR_LOST_INTERVAL_MS), then published by looking up our own
//                       address: the nodes nearest to it learn it from the requests (every FIND
//                       carries the asker's locator), which is where other nodes' lookups for us
//                       end. Unchanged, it is published again every LOCATOR_REFRESH_MS, or
//                       less often in a mesh of many nodes (refreshPeriodFor).
//   store               a lookup that found the target's locator hands it to the nearest node it
//                       asked that lacked it (ANSWER_STORE), as Kademlia's lookups do.
//
// Every locator is signed by its node (locator.ts), and every request, answer and probe return is
// tagged by its sender for its receiver (lookup-tags.ts; a locator handed on is not: it says
// nothing of its sender, and its node's signature is its proof): a node on a lookup's way can withhold an
// answer, or answer with other real nodes far from the target, but cannot make up a node or
// move one, nor answer in another's name. A lookup asks several contacts at once and keeps going
// past those that do not answer, and asks the target in every tree: docs/ROUTING.md says how many
// hostile nodes on the way it survives, measured.
import { randomBytes } from 'node:crypto';
import { XEDDSA_SIGNATURE_SIZE, xeddsaSigner, type XeddsaSigner } from '../keys/xeddsa.js';
import { equalBytes, hexOf, readUint16BE, writeUint16BE } from '../util/bytes.js';
import { IPV6_MIN_MTU } from '../util/protocol.js';
import { CounterSet } from '../util/counters.js';
import { RandomPool } from '../util/random-pool.js';
import { TokenBucket } from '../util/token-bucket.js';
import { treeDistance, type Coordinates } from './coordinates.js';
import { TREE_COUNT } from './constants.js';
import { DhtTable, compareDistance } from './dht-table.js';
import { ROOT_PREFIX_SIZE, addressOf, decodeLocator, sameRootPrefix, signLocator, verifyLocator, type Locator, type TreePlace } from './locator.js';
import { PairKeys, type SharedPairKeys, ROLE_ANSWER, ROLE_REQUEST, ROLE_RETURN, TAG_SIZE, lookupTag, tagMatches } from './lookup-tags.js';
import type { GoneNeighbour, Neighbour, NeighbourTable } from './neighbours.js';
import { Paths, type FoundPath, type FoundRoute } from './paths.js';
import {
  KIND_FIND,
  KIND_PROBE,
  KIND_PROBE_RETURN,
  TREE_FRAME_HOP_LIMIT,
  decodeTreeFrame,
  encodeTreeFrame,
  passOn,
  recordArrival,
  routeBack,
  type TreeFrame,
} from './tree-frame.js';
import { RANK_SIZE, VerifiedSignatures, compareRanks } from './tree-proof.js';
import { worsePlace, type Position, type Trees } from './trees.js';

/** Contacts per bucket of the table. */
export const DHT_BUCKET_SIZE = 8;
/** Requests a lookup keeps in flight. */
export const LOOKUP_PARALLEL = 3;
/** Locators in one answer (what fits a 1280-byte frame with room to spare). */
export const ANSWER_LOCATORS = 5;
/** Locators a FIND says its asker holds already (the nearest to its target), which its answer
 *  leaves out, each by the first bytes of its signature. */
export const KNOWN_LISTED = 8;
const KNOWN_ID_SIZE = 8;
/** Ways a lookup asks one contact by (trees, first hops) before giving it up. */
export const CANDIDATE_TRIES = 2;
/** A request unanswered this long is stalled: the lookup asks another contact meanwhile. */
export const STALLED_MS = 500;
/** A request unanswered this long has failed. */
export const REQUEST_TIMEOUT_MS = 1500;
/** A lookup that has not found its target in this long has failed. */
export const LOOKUP_TIMEOUT_MS = 10_000;
/** Our locator is signed at most this often while our places move ... */
export const LOCATOR_MIN_INTERVAL_MS = 1000;
/** ... but a locator naming a place that was lost is replaced this soon after the last. Around a
 *  failure the places move in a wave, as the failure's neighbours notice it one after another: a
 *  node signs at the first move, and the place it signs is often lost again a moment later. On
 *  freifunk's hub crash, the worst flow came back after 3.1 s when it waited a second for that,
 *  2.9 s after 500 ms, 2.8 s after 250 ms. Each such signature needs a place worse than the one
 *  signed last, or a parent's link to fail: they end as the wave passes. */
export const LOCATOR_LOST_INTERVAL_MS = 250;
/** After a place under a worse root than before is signed, for this long a move to any other
 *  root is signed as soon as a lost place is: around a failure, the trees come back under the
 *  old root or elect the next within seconds (trees.test.ts: within 10 s). */
export const STOPGAP_MS = 10_000;
/** A target asked by its locator and silent is asked again this often, and its nearest contacts
 *  for a newer locator (relocate). Once a second, the worst flow of freifunk's hub crash came
 *  back after 3.4 s; every 500 ms, after 3.1 s (both with signing limited to once a second). */
export const RELOCATE_MS = 500;
/** ... and sooner, from this long after it was last asked, once our own places have moved: the
 *  ways it was asked by were the trees' as they were, which around a failure lead into it until
 *  the failure's last neighbour notices, and the trees move as it does. */
export const RELOCATE_MOVED_MS = 100;
/** Our locator is published this often even if nothing changed (signed anew only if it did), in a
 *  mesh of up to REFRESH_MESH_NODES nodes.
 *  Kademlia's publisher republishes daily (its holders hourly) so that a value outlives the
 *  nodes that hold it and reaches those that join nearer its key. Here most of that is done
 *  otherwise: a newcomer near our address learns our locator from its own publish, whose
 *  answers bring the nodes nearest it (ours first, where we are one it asks); a change is
 *  published at once; no table forgets a locator by age (in any revision); every node we asked
 *  holds it (each request carries it); and a lookup that finds it hands it to the nearest node
 *  it asked that lacked it (STORE). What is left to this publish is the nodes nearest our
 *  address all gone at once, which no lookup can mend; yet it was most of what the nodes of many
 *  links pass on of others': daily, powerlaw-10000's hub sent 130 B/s, 53 of them this, and
 *  its node of 201 links 119, 79 of them this; every three days, 95 (18) and 71 (27)
 *  (docs/ROUTING.md, "The locators are published again every three days"). */
export const LOCATOR_REFRESH_MS = 3 * 24 * 60 * 60_000;
/** A mesh of more nodes than this publishes in proportion less often (refreshPeriodFor). What
 *  the periodic publish costs the hubs grows with the mesh at a fixed period: its FINDs are
 *  tree-routed, and a hub passes on a share of all of them (some 0.22 × 8 FINDs a node a
 *  period at powerlaw-10000's: 15 B/s of FINDs and 3 of their answers at 10,000 nodes, 2 and 1
 *  at 1,250). Each node's share of that
 *  publish's one case, the nodes nearest its address all gone at once, does not grow with the
 *  mesh, and the mesh's own nodes near the address keep learning it otherwise. */
export const REFRESH_MESH_NODES = 1024;
/** ... down to once in this many LOCATOR_REFRESH_MS (at 32,768 nodes and more): a node that made
 *  us think the mesh far larger (with keys ground to lie nearest our address) would otherwise
 *  stop the publish. */
export const REFRESH_MAX_PERIODS = 32;

/** How often an unchanged locator is published in a mesh of `meshSize` nodes. */
export function refreshPeriodFor(meshSize: number): number {
  return LOCATOR_REFRESH_MS * Math.min(REFRESH_MAX_PERIODS, Math.max(1, meshSize / REFRESH_MESH_NODES));
}

/** The share of its period after which a node's first periodic publish comes, from the last
 *  bytes of its address (a hash, independent of where the address lies in the DHT): the nodes
 *  of a mesh that started together publish spread over the period, not all at its end. */
export function refreshPhaseOf(address: Uint8Array): number {
  return ((address[14]! << 8) + address[15]! + 1) / 65_536;
}
/** After our first locator, the table is filled in rounds this long after it: a lookup of our
 *  own address (which also publishes it; the first finds only the neighbours, which it greets)
 *  and, in the third round (when the first ones have brought contacts), a lookup of a random
 *  address near ours (refreshBuckets), as Kademlia bootstraps. Later only the publishing lookup
 *  runs, every refreshPeriodFor() and when our locator changes. */
export const BOOTSTRAP_ROUNDS_MS = [0, 2_000, 10_000, 60_000];
/** The publishes that also ask the trees' roots (askRoots): those of the first rounds. */
const BOOTSTRAP_ROOT_ROUNDS = 2;
/** After a change of our coordinates, wait this long for them to settle before signing. */
export const LOCATOR_SETTLE_MS = 2000;
/** Routes to destinations not used for this long are forgotten. */
export const ROUTE_IDLE_MS = 10 * 60_000;
/** How often routes are checked for idleness: a route is forgotten ROUTE_IDLE_MS to that much
 *  later after its last use. */
const PATHS_EXPIRY_CHECK_MS = 10_000;
export const MAX_DESTINATIONS = 4096;

/** Kinds of answer (a routed frame's payload for the router). */
const ANSWER_FIND = 1;
const ANSWER_PROBE = 2;
/** A locator handed, unasked, to the node nearest its address that a lookup found lacking it
 *  (sixteenth revision): Kademlia's lookup stores what it found at the nearest node that did not
 *  return it. A copy the periodic publish would put back only days later is back at the next
 *  lookup that finds it elsewhere. */
const ANSWER_STORE = 3;
/** Locators handed so that a node takes in per second, and the burst: each costs a signature
 *  check, and a lookup hands at most one. */
const STORES_PER_SECOND = 20;
const STORE_BURST = 40;
/** A request that a transit could not pass on, told to its asker by the way it came (twenty-first
 *  revision): its request id alone. The asker asks by another way at once, where it waited
 *  STALLED_MS: after a hub's crash, the nodes around it have no way on in the trees that ran
 *  through it until those re-form, and node 21's lookup in the real-daemon test's shape lost its
 *  first two rounds there, half a second each. */
const ANSWER_DEAD_END = 4;
/** Dead ends a transit tells per second, and the burst: one for each request that reached it,
 *  by the way it came, so no more than it received; bounded all the same. */
const DEAD_ENDS_PER_SECOND = 100;
const DEAD_END_BURST = 200;
/** In an answer's locator count: its sender's own locator is left out, for the FIND listed it as
 *  held (the asker's copy is the sender's newest). */
const OWN_LEFT_OUT = 0x80;
/** In an answer's locator count: the FIND named its asker's locator by reference, and the sender
 *  holds no such locator: the asker is to send it whole (thirteenth revision). */
const LOCATOR_WANTED = 0x40;
/** Where a FIND carries its asker's locator, a reference to it instead (thirteenth revision):
 *  this byte (a locator's version is 1), the asker's key and the locator's known id. A
 *  periodic publish asks the nodes nearest our address again, which mostly hold the very
 *  locator: whole, it was half of each FIND's bytes (183 of 352 on powerlaw-10000). */
const LOCATOR_REFERENCE = 2;
const ID_SIZE = 8;
const KEY_SIZE = 32;
const REFERENCE_SIZE = 1 + KEY_SIZE + KNOWN_ID_SIZE;
/** An answer's payload before its locators: kind, request id, the way's MTU, locator count. */
const ANSWER_HEADER = 1 + ID_SIZE + 2 + 1;
/** A DEAD END: kind and request id. */
const DEAD_END_SIZE = 1 + ID_SIZE;
/** Request ids, shared by all of a process's lookups. */
const requestIds = new RandomPool();
const ADDRESS_SIZE = 16;

/** Honest, or one of the hostile behaviours the simulator and the tests give nodes. */
export type Behaviour = 'honest' | 'silent' | 'misleading' | 'black hole' | 'impostor';

export class LookupCounters extends CounterSet {
  lookupsStarted = 0;
  lookupsFound = 0;
  lookupsFailed = 0;
  /** Lookups of our own address, which publish our locator to the nodes nearest it. */
  publishes = 0;
  requestsSent = 0;
  requestsTimedOut = 0;
  answersReceived = 0;
  /** Locators in answers or requests whose signature did not check out (the answer is dropped). */
  badLocators = 0;
  /** Requests, answers and returns whose tag was not their sender's (lookup-tags.ts): dropped. */
  badTags = 0;
  /** Tree-routed frames passed on for others, and dropped: no neighbour nearer, hop limit spent,
   *  or malformed. */
  forwarded = 0;
  /** Unreachable reports taken in: a transit said a route of ours was broken there. */
  breaksReported = 0;
  /** Found paths dropped because the map showed a link they cross taken back (Routing). */
  breaksInMap = 0;
  /** FINDs that named their asker's locator by a reference to one we did not hold: answered with
   *  a request for it whole. */
  locatorsWanted = 0;
  /** Locators handed to the node nearest their address that a lookup found lacking them, and
   *  taken in from others so (a valid one, whether the table keeps it or not); handed ones
   *  refused past STORES_PER_SECOND. */
  storesSent = 0;
  storesTaken = 0;
  storesRefused = 0;
  deadEnds = 0;
  /** Requests we could not pass on whose askers we told so (ANSWER_DEAD_END), and those left
   *  untold past DEAD_ENDS_PER_SECOND; requests of ours that a transit told us it could not pass
   *  on, each then asked by another way. */
  deadEndsTold = 0;
  deadEndsUntold = 0;
  deadEndsHeard = 0;
  /** Bootstrap rounds run (BOOTSTRAP_ROUNDS_MS, the first ones and any begun again), times they
   *  were begun again (rootsMoved), and contacts forgotten at a last round for naming none of
   *  our roots. */
  roundsRun = 0;
  roundsRestarted = 0;
  astrayDropped = 0;
  malformed = 0;
  framesSent = 0;
  bytesSent = 0;
}

/** A finished lookup, for whoever waits on it and for the simulator's figures. */
export interface LookupResult {
  target: Uint8Array;
  /** A route was found. */
  found: boolean;
  /** The target's signed locator was found (it may still be unreachable: every way the trees
   *  gave may run through a node that drops what it should pass on). */
  located: boolean;
  /** Hops travelled by the requests and answers the result waited on, one after another. */
  hops: number;
  /** Requests the lookup sent. */
  requests: number;
  ms: number;
}

export interface LookupsOptions {
  identity: { publicKey: Uint8Array; privateKey: Uint8Array };
  trees: Trees;
  /** The neighbours (Routing keeps the table: their links come up there first and go there
   *  first, then here). */
  neighbours: NeighbourTable;
  mtu: number;
  /** Sends a hop-local frame (a tree-routed frame) to a neighbour. */
  send(link: number, frame: Uint8Array): void;
  /** Sends `payload` as a routed frame of kind "routing answer" by `link` and `slots`. */
  sendRouted(link: number, slots: Uint16Array, payload: Uint8Array): void;
  /** The first hop of the map's route to an address (router.ts), 0 where the map has none. */
  mapHop?(address: Uint8Array): number;
  now?: () => number;
  wallNow?: () => number;
  /** A destination's route changed (or appeared, or went). */
  routeChanged?(address: Uint8Array): void;
  /** A lookup ended. */
  lookupDone?(result: LookupResult): void;
  verified?: VerifiedSignatures;
  /** The simulator: pair keys derived once for both ends (SharedPairKeys). */
  sharedPairKeys?: SharedPairKeys;
  /** Tests and the simulator: how this node behaves toward others (default honest). */
  behaviour?: Behaviour;
}

interface Candidate {
  address: Uint8Array;
  locator: Locator;
  state: 0 | 1 | 2 | 3; // new, asked, answered, failed
  /** Hops of the chain of requests and answers that brought it. */
  hops: number;
  /** The ways it was asked by (tree and first hop): a request lost on one way is tried on
   *  another, up to CANDIDATE_TRIES. */
  tried: string[];
  /** When it was last asked. */
  askedAt: number;
  /** To be asked with our locator whole, not by reference: it did not hold it, or a request by
   *  reference went unanswered (an older node drops one). */
  whole?: boolean;
  /** It answered with the target's locator: it holds it. */
  held?: boolean;
  /** The way its answer came back by: where a STORE for it goes (storeWhereLacked). A node a
   *  lookup only passes through keeps no found route (receiveAnswer). */
  way?: { link: number; slots: Uint16Array };
}

interface Lookup {
  target: Uint8Array;
  /** Ours, to fill the table or publish our locator: not reported, not counted as found or failed. */
  internal: boolean;
  startedAt: number;
  candidates: Candidate[];
  inFlight: number;
  targetLocator: Locator | null;
  /** The sequence of the target's locator it was last asked by (-1: not yet): a newer one (the
   *  trees or the target moved) is asked again. */
  askedSequence: number;
  /** When the target was last asked, by a chain of how many hops, and when the nearest contacts
   *  were last asked again for a newer locator (relocate). */
  targetAskedAt: number;
  targetHops: number;
  requeriedAt: number;
  requests: number;
  /** The periodic publish of a locator published whole before: its FINDs name it by
   *  reference (a new locator starts another publish, which replaces this one). */
  byReference: boolean;
}

/** A found locator, to hand once to a node near its address that answers without it. */
interface Repair {
  locator: Locator;
  sent: boolean;
}

interface Request {
  lookup: Lookup | null;
  kind: number;
  to: Uint8Array;
  toKey: Uint8Array;
  /** The key shared with it, which tags the request and checks the answer and return. */
  pairKey: Uint8Array;
  tree: number;
  sentAt: number;
  /** Hops travelled before it was sent (the chain it continues). */
  hopsBefore: number;
  candidate: Candidate | null;
  /** Asked for itself (a FIND whose target it is, or a probe): its answer is a route to a
   *  destination. */
  toTarget: boolean;
  /** The locator of the asked node a FIND listed as held: its answer may leave it out. */
  toLocator?: Locator;
  /** A FIND that named our locator by reference. */
  byReference?: boolean;
  /** Its lookup found the target's locator while this request was out to one of the nodes
   *  nearest the target: an answer without it has the locator handed back (storeWhereLacked). */
  repair?: Repair;
  /** Our interface index it left by, and whether it is already a second try. */
  firstHop: number;
  retry: boolean;
  /** A probe answered and kept for its return (or returned and kept for its answer), until
   *  both came or the timeout (which then is no failure). */
  answered: boolean;
  returned: boolean;
}

export class Lookups {
  readonly counters = new LookupCounters();
  readonly table: DhtTable;
  readonly paths = new Paths(MAX_DESTINATIONS, (d) => this.onRouteChanged?.(d.address));
  private readonly key: Uint8Array;
  private readonly address: Uint8Array;
  private readonly sign: XeddsaSigner;
  private readonly pairKeys: PairKeys;
  private readonly trees: Trees;
  private readonly mtu: number;
  private readonly sendFrame: (link: number, frame: Uint8Array) => void;
  private readonly sendRouted: (link: number, slots: Uint16Array, payload: Uint8Array) => void;
  private readonly mapHop: (address: Uint8Array) => number;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly onRouteChanged: ((address: Uint8Array) => void) | undefined;
  private readonly onLookupDone: ((result: LookupResult) => void) | undefined;
  private readonly verified: VerifiedSignatures;
  /** How this node behaves toward others: honest, or (the simulator's and tests' hostile nodes)
   *  silent — it answers nothing addressed to it —, misleading — it answers a FIND with the nodes
   *  farthest from the target it knows —, or a black hole — it answers nothing and passes nothing
   *  on. */
  behaviour: Behaviour;
  /** The neighbours and the routes to them (by their links), kept apart from the found routes
   *  (paths), which are soft state with a way to learn and to improve: a hub of hundreds of
   *  links would otherwise hold a destination with a path list for each. */
  private readonly neighbours: NeighbourTable;
  private readonly lookups = new Map<string, Lookup>();
  private readonly requests = new Map<string, Request>();
  /** New neighbours, to be sent our locator once we have one that says where we are. */
  private readonly greetDue = new Set<number>();
  /** Nodes probed before any route to them was known: the sequence of the locator used. */
  private readonly probedEarly = new Map<string, number>();
  /** Locators handed to us that may be checked (receiveStore). */
  private readonly stores = new TokenBucket(STORES_PER_SECOND, STORE_BURST);
  private readonly deadEndNotices = new TokenBucket(DEAD_ENDS_PER_SECOND, DEAD_END_BURST);
  /** Our signed locator; null until first needed (placeless, before the trees settle) or
   *  signed with our places. */
  private current: Locator | null = null;
  /** Our places in the trees as last looked at (refreshLocator). */
  private readonly placesSeen: Position[] = [];
  private placesChangedAt = -Infinity;
  private signedAt = -Infinity;
  /** When our locator was last signed or, unchanged, published again (refreshDueAt). */
  private refreshedAt = -Infinity;
  /** The mesh's size as our last publish left the table (DhtTable.meshSize): the period of the
   *  publish of our unchanged locator follows from it (refreshPeriodMs). */
  private meshSizeSeen = 1;
  /** The share of the period after which our first periodic publish comes (refreshPhaseOf),
   *  and whether it has come: later ones come a whole period after the last. */
  private readonly refreshPhase: number;
  private periodicPublished = false;
  /** Our places when we last signed, and whether one of them is lost since (refreshLocator). */
  private readonly placesSigned: Position[] = [];
  private placeLost = false;
  /** Per tree, when we last signed a place under a worse root than the one signed before (most
   *  often a stopgap: a node near a failure became a root for want of a way round, and we went
   *  below it), and whether that was less than STOPGAP_MS ago. */
  private readonly stopgapSignedAt: number[] = [];
  private publishDue = true;
  /** The publish due is the periodic one, of a locator published whole before (cleared
   *  when it starts, or when a new locator is signed before it does). */
  private publishByReference = false;
  /** When our first locator was signed, or the one the rounds began again from (rootsMoved):
   *  bootstrap rounds count from it; and rounds done. */
  private firstSignedAt = -1;
  /** Our roots' ranks as last signed while the rounds ran, tree after tree (one array: four
   *  small ones took 740 bytes of heap). */
  private readonly ranksOfRounds = new Uint8Array(TREE_COUNT * RANK_SIZE);
  /** When idle routes are looked for next (every PATHS_EXPIRY_CHECK_MS, not every tick). */
  private pathsExpireAt = -Infinity;
  private roundsDone = 0;

  constructor(options: LookupsOptions) {
    this.key = options.identity.publicKey.slice();
    this.address = addressOf(this.key);
    this.refreshPhase = refreshPhaseOf(this.address);
    this.sign = xeddsaSigner(options.identity.privateKey);
    this.pairKeys = new PairKeys(options.identity.privateKey, options.sharedPairKeys && { memo: options.sharedPairKeys, publicKey: this.key });
    this.trees = options.trees;
    this.neighbours = options.neighbours;
    this.mtu = options.mtu;
    this.sendFrame = options.send;
    this.sendRouted = options.sendRouted;
    this.mapHop = options.mapHop?.bind(options) ?? (() => 0);
    this.now = options.now ?? (() => performance.now());
    this.wallNow = options.wallNow ?? Date.now;
    this.onRouteChanged = options.routeChanged?.bind(options);
    this.onLookupDone = options.lookupDone?.bind(options);
    this.verified = options.verified ?? new VerifiedSignatures({ now: this.now });
    this.behaviour = options.behaviour ?? 'honest';
    this.table = new DhtTable(this.address, DHT_BUCKET_SIZE);
  }

  /** Our locator, signed placeless the first time it is needed before we have places: most
   *  nodes never need that one (on powerlaw-10000, 10,000 signatures of a cold start). */
  private get locator(): Locator {
    return (this.current ??= signLocator(this.sign, this.key, this.wallNow(), []));
  }

  /** Our current signed locator. */
  get ownLocator(): Locator {
    return this.locator;
  }

  get hasWork(): boolean {
    return this.requests.size > 0 || this.lookups.size > 0 || this.publishDue || this.greetDue.size > 0 || this.placesChangedAt > this.signedAt;
  }

  /** The neighbour `neighbour` (in the table already) is up; `first`: its address is found at
   *  this link (a second link to it leaves the route on the first). */
  linkUp(neighbour: Neighbour, first: boolean): void {
    // Ways found to it before are longer than its link: a neighbour is never a found
    // destination (addPath).
    if (first) {
      this.paths.forget(neighbour.address);
      this.onRouteChanged?.(neighbour.address);
    }
    this.greetDue.add(neighbour.link);
  }

  /** The neighbour at `link` is gone (out of the table already); `parentLost`: its link was our
   *  parent's in a tree (Trees.linkDown), which may have taken another parent already. */
  linkDown(link: number, gone: GoneNeighbour | undefined, parentLost: boolean): void {
    if (parentLost) this.placeLost = true;
    this.greetDue.delete(link);
    if (gone?.rerouted) this.onRouteChanged?.(gone.neighbour.address);
    for (const d of this.paths.linkDown(link)) this.onRouteChanged?.(d.address);
  }

  /** An unreachable report (docs/PROTOCOL.md §5) that came back by `link` and `slots` (the way
   *  to its sender): the paths through that node and its index `failed` are broken. */
  breakAt(link: number, slots: Uint16Array, failed: number): void {
    this.counters.breaksReported++;
    for (const d of this.paths.breakAt(link, slots, failed)) this.onRouteChanged?.(d.address);
  }

  /** A node of the map took back links: the paths `crosses` says lead over one are broken. */
  dropCrossing(crosses: (link: number, slots: ArrayLike<number>) => boolean): void {
    for (const d of this.paths.dropWhere((p) => {
      const broken = crosses(p.link, p.slots);
      if (broken) this.counters.breaksInMap++;
      return broken;
    })) {
      this.onRouteChanged?.(d.address);
    }
  }

  /** The route to `address`, if one is known; marks it used. */
  route(address: Uint8Array): FoundRoute | undefined {
    const neighbour = this.neighbours.routeAt(address, 0);
    if (neighbour) return neighbour;
    const d = this.paths.get(address);
    if (!d?.route) return undefined;
    d.usedAt = this.now();
    return d.route;
  }

  /** Starts finding `address` unless a route is known (then it ends at once, found with no
   *  request) or a lookup for it runs. */
  locate(address: Uint8Array): void {
    if (this.neighbours.at(address, 0)) {
      this.onLookupDone?.({ target: address.slice(), found: true, located: true, hops: 0, requests: 0, ms: 0 });
      return;
    }
    const held = this.paths.get(address);
    if (held?.route) {
      // Known from its own request, say: the way it came is one tree's. The other trees may know
      // shorter ones.
      const locator = this.newestOf(address, held.locator);
      if (locator && locator.sequence > held.probedSequence) this.probeAll(locator, null, 0);
      this.onLookupDone?.({ target: address.slice(), found: true, located: true, hops: 0, requests: 0, ms: 0 });
      return;
    }
    const running = this.lookups.get(hexOf(address));
    if (running) {
      // A lookup of our own filling a bucket that happens to be for it: now it is asked for.
      if (running.internal && !equalAddress(address, this.address)) {
        running.internal = false;
        this.counters.lookupsStarted++;
      }
      return;
    }
    const lookup = this.startLookup(address, false);
    const known = this.table.get(address);
    if (known) lookup.targetLocator = known.locator;
    this.counters.lookupsStarted++;
    this.advance(lookup);
  }

  private isNeighbour(address: Uint8Array): boolean {
    return this.neighbours.at(address, 0) !== undefined;
  }

  private startLookup(target: Uint8Array, internal: boolean): Lookup {
    const lookup: Lookup = {
      target: target.slice(),
      internal,
      startedAt: this.now(),
      candidates: [],
      inFlight: 0,
      targetLocator: null,
      askedSequence: -1,
      targetAskedAt: -Infinity,
      targetHops: 0,
      requeriedAt: -Infinity,
      requests: 0,
      byReference: false,
    };
    for (const c of this.table.closest(target, 2 * DHT_BUCKET_SIZE)) {
      lookup.candidates.push({ address: c.address, locator: c.locator, state: 0, hops: 0, tried: [], askedAt: -Infinity });
    }
    this.lookups.set(hexOf(target), lookup);
    return lookup;
  }

  /** The earliest time a tick has something to do, if no frame comes and no link changes before
   *  (Trees.nextDue): what tick() and refreshLocator check, each as a time. */
  nextDue(): number {
    if (this.hasWork) return this.now();
    let due = this.pairKeys.nextExpiry();
    if (this.signedAt > -Infinity) due = Math.min(due, this.refreshDueAt());
    const round = BOOTSTRAP_ROUNDS_MS[this.roundsDone];
    if (round !== undefined && this.firstSignedAt >= 0) due = Math.min(due, this.firstSignedAt + round);
    if (this.paths.size > 0) due = Math.min(due, this.pathsExpireAt);
    return due;
  }

  /** Call every TICK_MS while hasWork, at least once a second. */
  tick(): void {
    const now = this.now();
    this.refreshLocator(now);
    this.pairKeys.expire(now);
    for (const [id, r] of this.requests) {
      if (now - r.sentAt < REQUEST_TIMEOUT_MS) continue;
      this.requests.delete(id);
      if (r.answered || r.returned) continue;
      this.counters.requestsTimedOut++;
      // A node of an earlier revision drops a FIND by reference: asked again whole, by the same
      // way, with no failure held against it (one that is gone fails that one too).
      if (!r.byReference) this.table.failed(r.to);
      else if (r.candidate) {
        r.candidate.whole = true;
        r.candidate.tried.pop();
      }
      this.askAgain(r);
    }
    for (const lookup of this.lookups.values()) {
      if (now - lookup.startedAt >= LOOKUP_TIMEOUT_MS) this.finish(lookup, false, 0);
      // Stalled requests free their places; a lookup with no one to ask yet looks again.
      else this.advance(lookup);
    }
    // None held, none to forget: the next check comes with the first tick that holds one.
    if (this.paths.size > 0 && now >= this.pathsExpireAt) {
      this.pathsExpireAt = now + PATHS_EXPIRY_CHECK_MS;
      for (const d of this.paths.expire(now - ROUTE_IDLE_MS)) this.onRouteChanged?.(d.address);
    }
  }

  /** A tree-routed frame from the neighbour at `link`. */
  receive(link: number, buf: Uint8Array): void {
    const frame = decodeTreeFrame(buf);
    if (!frame || frame.tree >= TREE_COUNT) return void this.counters.malformed++;
    // A frame is for us by its address; its coordinates only steer it.
    if (equalAddress(frame.destination, this.address)) return this.arrived(recordArrival(frame, link, this.mtu));
    // Near its destination the map knows the way: a shortest one, and one that holds while the
    // trees re-form around a failure (a frame steered to a place that was just lost still
    // reaches the node, by the maps of the nodes around it). Not back where it came from: two
    // maps that disagree for a moment would toss it to and fro until its hop limit.
    const near = this.mapHop(frame.destination);
    let next = near;
    if (near <= 0 || near === link) {
      const place = this.trees.position(frame.tree);
      next = this.trees.nextHop(frame.tree, prefixKey(frame.root, place.beacon), frame.coordinates);
    }
    if (this.behaviour === 'black hole') return void this.counters.deadEnds++;
    if (next <= 0) return this.deadEnd(frame, link);
    if (this.behaviour === 'impostor' && this.impersonate(frame, link)) return;
    const out = passOn(buf, frame, link, this.mtu);
    if (!out) return this.deadEnd(frame, link);
    this.counters.forwarded++;
    this.send(next, out);
  }

  /** A tree-routed `frame` that came by `link` and that we cannot pass on: dropped, and if it is
   *  a request, its asker told so by the way it came (ANSWER_DEAD_END). */
  private deadEnd(frame: TreeFrame, link: number): void {
    this.counters.deadEnds++;
    if (frame.kind !== KIND_FIND && frame.kind !== KIND_PROBE) return;
    if (!this.deadEndNotices.take(this.now())) return void this.counters.deadEndsUntold++;
    // The way back, as its destination would read it (arrived).
    const back = routeBack(recordArrival(frame, link, this.mtu).recorded);
    const payload = new Uint8Array(DEAD_END_SIZE);
    payload[0] = ANSWER_DEAD_END;
    payload.set(frame.id, 1);
    this.counters.deadEndsTold++;
    this.sendAnswer(back.link, back.slots, payload);
  }

  /** A transit could not pass on a request of ours. Only the nodes on its way saw its id, and any
   *  of them could as well have dropped it: so it is asked again by another way, as if it had
   *  timed out, with no failure held against the node asked. */
  private receiveDeadEnd(payload: Uint8Array): void {
    if (payload.length !== DEAD_END_SIZE) return void this.counters.malformed++;
    const id = hexOf(payload.subarray(1));
    const r = this.requests.get(id);
    if (!r || r.answered || r.returned) return;
    this.requests.delete(id);
    this.counters.deadEndsHeard++;
    this.askAgain(r);
  }

  /** `r`, ended unanswered: its contact is asked again by a way not tried yet, up to
   *  CANDIDATE_TRIES; the target, asked in one tree, once more in that tree by another first hop. */
  private askAgain(r: Request): void {
    if (r.lookup && r.candidate) {
      r.lookup.inFlight--;
      r.candidate.state = r.candidate.tried.length < CANDIDATE_TRIES ? 0 : 3;
    }
    if (r.lookup && !r.candidate && equalAddress(r.to, r.lookup.target) && r.lookup.targetLocator && !r.retry) {
      this.request(KIND_PROBE, r.lookup.targetLocator, r.tree, r.lookup, null, r.hopsBefore, r.lookup.target, [r.firstHop], true);
    }
    if (r.lookup) this.advance(r.lookup);
  }

  /** A routed frame of kind "routing answer" for us: `link` and `slots` are the route back to
   *  its sender (the frame's label read backwards). */
  receiveAnswer(link: number, slots: Uint16Array, payload: Uint8Array): void {
    if (payload[0] === ANSWER_STORE) return this.receiveStore(payload);
    if (payload[0] === ANSWER_DEAD_END) return this.receiveDeadEnd(payload);
    if (payload.length < ANSWER_HEADER) return void this.counters.malformed++;
    const id = hexOf(payload.subarray(1, 1 + ID_SIZE));
    const mtu = readUint16BE(payload, 1 + ID_SIZE);
    if (mtu < IPV6_MIN_MTU) return void this.counters.malformed++;
    const request = this.requests.get(id);
    if (!request || request.answered) return;
    // Only the asked node can make the tag: a node on the way cannot answer in its name, nor
    // change what it answered.
    const body = payload.length - TAG_SIZE;
    if (body < ANSWER_HEADER || !tagMatches(request.pairKey, payload, body, ROLE_ANSWER, payload.subarray(1, 1 + ID_SIZE), payload.subarray(0, body))) {
      return void this.counters.badTags++;
    }
    const answer = payload.subarray(0, body);
    const locators: Locator[] = [];
    const count = answer[3 + ID_SIZE]!;
    let off = ANSWER_HEADER;
    if (count & LOCATOR_WANTED && !request.byReference) return void this.counters.malformed++;
    for (let i = 0; i < (count & ~(OWN_LEFT_OUT | LOCATOR_WANTED)); i++) {
      const read = this.readLocator(answer, off);
      if (!read) return void this.counters.malformed++;
      if (!read.signed) return void this.counters.badLocators++;
      locators.push(read.locator);
      off += read.length;
    }
    // The first locator of an answer is its sender's own (the route back leads to it), unless it
    // says it left that out because the request listed the one we hold as its newest.
    const sender = count & OWN_LEFT_OUT ? request.toLocator : locators.shift();
    if (!sender || !equalAddress(addressOf(sender.key), request.to)) return void this.counters.malformed++;
    if (request.kind === KIND_PROBE && !request.returned) request.answered = true;
    else this.requests.delete(id);
    this.counters.answersReceived++;
    const now = this.now();
    this.table.add(sender, now, true);
    const hops = request.hopsBefore + 2 * (slots.length + 1);
    // The way back is a route to the node asked for itself, and maybe a better one to a
    // destination in use; a node the lookup only passed through is no destination: its way is
    // kept for a STORE alone. (When every answer made a route, powerlaw-10000's hub held 34
    // destinations after the join, none of them a node it had looked up or that looked for it.)
    if (request.toTarget || this.paths.get(request.to)) {
      this.addPath(sender.key, { link, slots, mtu: Math.min(mtu, this.mtu), source: payload[0] === ANSWER_PROBE ? 'probe' : 'lookup', tree: request.tree, at: now });
    }
    if (request.candidate) request.candidate.way = { link, slots };
    this.learnLocator(sender);
    const repair = request.repair;
    if (repair && !repair.sent && !locators.some((l) => equalBytes(l.key, repair.locator.key))) this.store(repair, { link, slots });
    const lookup = request.lookup && this.running(request.lookup) ? request.lookup : null;
    // It lacked our locator: asked again at once, with it whole, by the same way — for the
    // publish if it still runs, else on its own (or the node would lack it until the next).
    let askedAgain = false;
    if (count & LOCATOR_WANTED) {
      const candidate = lookup && request.candidate;
      if (candidate) candidate.whole = true;
      askedAgain = this.request(KIND_FIND, sender, request.tree, lookup, candidate, request.hopsBefore, this.address, [], false, request.firstHop);
    }
    if (!lookup) return;
    if (request.candidate && !askedAgain) {
      request.candidate.state = 2;
      lookup.inFlight--;
    }
    if (equalAddress(request.to, lookup.target)) return this.finish(lookup, true, hops);
    for (const l of locators) {
      this.table.add(l, now, false);
      const address = addressOf(l.key);
      if (equalAddress(address, lookup.target)) {
        if (request.candidate) request.candidate.held = true;
        if (!lookup.targetLocator || l.sequence > lookup.targetLocator.sequence) lookup.targetLocator = l;
      }
      if (equalAddress(address, this.address) || lookup.candidates.some((c) => equalAddress(c.address, address))) continue;
      lookup.candidates.push({ address, locator: l, state: 0, hops, tried: [], askedAt: -Infinity });
    }
    if (lookup.targetLocator && !lookup.internal && lookup.targetLocator.sequence > lookup.askedSequence) this.askTarget(lookup, hops);
    this.advance(lookup);
  }

  /** The locator at buf[off], its length, and whether it is signed by its key. Answers name the
   *  same few nodes over and over: where the table holds these very bytes, its locator is taken
   *  as it is, neither parsed nor checked again (parsing them anew was, after the garbage
   *  collector, what cost the simulator most on powerlaw-10000). Null if malformed. */
  private readLocator(buf: Uint8Array, off: number): { key: Uint8Array; locator: Locator; length: number; signed: boolean } | null {
    const held = buf.length >= off + 1 + KEY_SIZE ? this.table.get(addressOf(buf.subarray(off + 1, off + 1 + KEY_SIZE)))?.locator : undefined;
    if (held && equalBytes(buf.subarray(off, off + held.bytes.length), held.bytes)) return { key: held.key, locator: held, length: held.bytes.length, signed: true };
    const decoded = decodeLocator(buf, off);
    return decoded && { key: decoded.locator.key, locator: decoded.locator, length: decoded.length, signed: verifyLocator(this.verified, decoded.locator) };
  }

  /**
   * A FIND's asker, after its target: its key, its locator (null for a reference to one we do
   * not hold, or hold another of), whether that is signed, and how many bytes it took. A
   * reference names a locator we hold, whose signature was checked when it came. Null if
   * malformed.
   */
  private readAsker(payload: Uint8Array): { key: Uint8Array; locator: Locator | null; length: number; signed: boolean } | null {
    if (payload[ADDRESS_SIZE] !== LOCATOR_REFERENCE) return this.readLocator(payload, ADDRESS_SIZE);
    const at = ADDRESS_SIZE + 1;
    if (payload.length < ADDRESS_SIZE + REFERENCE_SIZE) return null;
    const key = payload.subarray(at, at + KEY_SIZE);
    const held = this.table.get(addressOf(key))?.locator;
    const named = held && equalBytes(knownId(held), payload.subarray(at + KEY_SIZE, ADDRESS_SIZE + REFERENCE_SIZE)) ? held : null;
    return { key, locator: named, length: REFERENCE_SIZE, signed: named !== null };
  }

  /** Bytes of lookup state: the table, the found routes, our locator and the ranks of the
   *  rounds, requests in flight (each with its pair key), the pair keys kept. The routes to the
   *  neighbours are the neighbour table's. */
  stateBytes(): number {
    const requests = this.requests.size * (64 + KEY_SIZE);
    return this.table.stateBytes() + this.paths.stateBytes() + (this.current?.bytes.length ?? 0) + this.ranksOfRounds.length + requests + this.pairKeys.stateBytes();
  }

  // --- lookups ---

  /** Whether `lookup` is the one running for its target: a publish replaced by the next (our
   *  locator changed) still has requests out, whose answers must not move it on. */
  private running(lookup: Lookup): boolean {
    return this.lookups.get(hexOf(lookup.target)) === lookup;
  }

  private advance(lookup: Lookup): void {
    if (!this.running(lookup)) return;
    // Started before this node knew anyone (it has just come up): the contacts it has met since.
    if (lookup.candidates.length === 0) {
      for (const c of this.table.closest(lookup.target, 2 * DHT_BUCKET_SIZE)) {
        lookup.candidates.push({ address: c.address, locator: c.locator, state: 0, hops: 0, tried: [], askedAt: -Infinity });
      }
    }
    // None of them in a tree of ours (this node has not joined the trees yet) nor a neighbour:
    // wait, as below.
    if (!lookup.candidates.some((c) => c.state !== 3 && this.canAsk(c))) {
      if (lookup.candidates.some((c) => c.state === 0) && this.neighbours.size > 0) return;
    }
    lookup.candidates.sort((a, b) => compareDistance(lookup.target, a.address, b.address));
    if (lookup.candidates.length > 2 * DHT_BUCKET_SIZE) lookup.candidates.length = 2 * DHT_BUCKET_SIZE;
    // The target itself, once its locator is known, is asked in every tree (askTarget); the rest
    // are asked nearest first, a few at a time, among the DHT_BUCKET_SIZE nearest known.
    let considered = 0;
    // Requests out longer than STALLED_MS no longer hold a place among the LOOKUP_PARALLEL: a
    // silent contact slows a lookup by that much, not by the whole timeout.
    const now = this.now();
    if (lookup.askedSequence >= 0) this.relocate(lookup, now);
    let active = 0;
    // So do requests sent before our places last moved (Trees.movedAt, RELOCATE_MOVED_MS).
    for (const r of this.requests.values()) if (r.lookup === lookup && r.candidate && now - r.sentAt < STALLED_MS && r.sentAt >= this.trees.movedAt) active++;
    for (const c of lookup.candidates) {
      if (active >= LOOKUP_PARALLEL || considered >= DHT_BUCKET_SIZE) break;
      if (c.state === 3) continue;
      considered++;
      if (c.state !== 0) continue;
      if (equalAddress(c.address, lookup.target)) {
        lookup.targetLocator = newer(lookup.targetLocator, c.locator);
        c.state = 2;
        if (!lookup.internal && lookup.targetLocator!.sequence > lookup.askedSequence) this.askTarget(lookup, c.hops);
        continue;
      }
      if (!this.askCandidate(lookup, c)) {
        c.state = 3;
        continue;
      }
      c.state = 1;
      c.askedAt = now;
      lookup.inFlight++;
      active++;
    }
    // Nothing left to ask among the nearest, and nothing on its way: the lookup has failed —
    // unless there was no one to ask at all yet, for which it waits (each tick looks again) until
    // LOOKUP_TIMEOUT_MS, if it has a link to learn of anyone by, or its target is located and
    // silent (relocate). (A lookup waiting so keeps the node ticking fast: hasWork.)
    const waiting = (lookup.candidates.length === 0 && this.neighbours.size > 0) || lookup.askedSequence >= 0;
    if (lookup.inFlight === 0 && !this.asking(lookup) && !waiting) this.finish(lookup, false, 0);
  }

  /** The target's locator is known: ask it in every tree we share a root with. */
  private askTarget(lookup: Lookup, hops: number): void {
    lookup.askedSequence = lookup.targetLocator!.sequence;
    lookup.targetAskedAt = this.now();
    lookup.targetHops = hops;
    this.probeAll(lookup.targetLocator!, lookup, hops);
  }

  /**
   * The target was asked and has not answered. Most often its locator names places that failed
   * a moment ago (its parent crashed): it signs a new one as soon as it notices, and again while
   * its places keep moving, at most every LOCATOR_LOST_INTERVAL_MS. So from STALLED_MS after it
   * was asked, the nearest contacts not waited on are asked again every RELOCATE_MS (those that
   * failed too: the ways to them may have healed), and of those waited on, the nearest silent
   * for STALLED_MS, by a way not tried yet (its request most likely went lost into the failure,
   * and its timeout would keep the contact that holds the new locator unasked past it: freifunk's
   * slowest flow after its hub crashed came back after 3.2 s so, 2.7 s now; only one a round, for
   * a contact that cannot be reached at all would keep the others from their turn: with every
   * one, a lookup on freifunk after that crash found nothing in 20 s). A newer locator they hold
   * is asked at once (receiveAnswer). The way to a place that holds may fail too, while the nodes
   * around a failure have not noticed it (they do 1.5 s after sending into it, docs/PROTOCOL.md
   * §5): the target is asked again as often, by the trees as they are now. So until
   * LOOKUP_TIMEOUT_MS: ending earlier only makes the caller start again from nothing. Once our
   * own places move, a round comes from RELOCATE_MOVED_MS after the last, and each contact
   * waited on that was asked before the move is asked again, by a way not tried yet (at most
   * LOOKUP_PARALLEL a round, and a round at most once per move): the ways asked by before were
   * the trees' as they were.
   */
  private relocate(lookup: Lookup, now: number): void {
    const silentFor = now - lookup.targetAskedAt;
    const moved = this.trees.movedAt > lookup.targetAskedAt && silentFor >= RELOCATE_MOVED_MS;
    const sinceRound = now - lookup.requeriedAt;
    if ((silentFor >= STALLED_MS || moved) && (sinceRound >= RELOCATE_MS || (moved && sinceRound >= RELOCATE_MOVED_MS))) {
      lookup.requeriedAt = now;
      let reopened = 0;
      let stalled = 0;
      for (const c of lookup.candidates) {
        if (reopened >= LOOKUP_PARALLEL) break;
        // One that no way leads to (its locator's trees have re-formed since) would take the
        // place of one that can be asked, each round: the nearest often are such while the trees
        // re-form round a new root, and those past them that hold the target's locator went
        // unasked until the timeout.
        if (equalAddress(c.address, lookup.target) || !this.canAsk(c)) continue;
        // One asked before our places last moved is asked again however short its wait, by a way
        // not tried yet: the one it was asked by went the trees' way as they were, most often
        // into the failure (RELOCATE_MOVED_MS). Asked by that way again, node 27's contacts in
        // the test's shape (lookups.test.ts) stayed silent 1.3 s longer.
        if (c.state === 1 && c.askedAt >= this.trees.movedAt) {
          if (now - c.askedAt < STALLED_MS || stalled > 0) continue;
          stalled++;
        } else if (c.state !== 1) c.tried.length = 0;
        c.state = 0;
        reopened++;
      }
    }
    if (silentFor >= RELOCATE_MS || moved) {
      // The table may have learnt a newer locator of the target than the lookup was given (the
      // one asked by may name places in trees that have re-formed since).
      lookup.targetLocator = this.newestOf(lookup.target, lookup.targetLocator!);
      this.askTarget(lookup, lookup.targetHops);
    }
  }

  /** Asks a node in every tree we share a root with: a FIND in the tree where it is nearest (its
   *  answer carries its newest locator), PROBEs in the rest. Each answer and return is a route. */
  private probeAll(locator: Locator, lookup: Lookup | null, hops: number): void {
    const first = this.bestTree(locator);
    const address = addressOf(locator.key);
    const d = this.paths.get(address);
    if (d) d.probedSequence = locator.sequence;
    else this.probedEarly.set(hexOf(address), locator.sequence);
    for (const place of locator.places) {
      if (!this.sharesRoot(place)) continue;
      this.request(place.tree === first ? KIND_FIND : KIND_PROBE, locator, place.tree, lookup, null, hops, address);
    }
  }

  private asking(lookup: Lookup): boolean {
    for (const r of this.requests.values()) if (r.lookup === lookup) return true;
    return false;
  }

  private finish(lookup: Lookup, found: boolean, hops: number): void {
    if (!this.running(lookup)) return;
    this.lookups.delete(hexOf(lookup.target));
    if (lookup.internal) {
      if (equalAddress(lookup.target, this.address)) {
        this.counters.publishes++;
        this.meshSizeSeen = this.table.meshSize();
      }
      return;
    }
    if (found) this.counters.lookupsFound++;
    else this.counters.lookupsFailed++;
    if (lookup.targetLocator) this.storeWhereLacked(lookup, lookup.targetLocator);
    // Requests still out keep their answers coming (more routes), but no longer for a lookup.
    for (const r of this.requests.values()) if (r.lookup === lookup) r.lookup = null;
    this.onLookupDone?.({ target: lookup.target, found, located: lookup.targetLocator !== null, hops, requests: lookup.requests, ms: this.now() - lookup.startedAt });
  }

  /** Hands the target's locator to the nearest node the lookup asked, of the DHT_BUCKET_SIZE
   *  nearest it knows (farther ones need not hold it), that answered without it — so lacks it, as
   *  no FIND lists the target's locator as held (knownNear) — as Kademlia's lookup stores at the
   *  nearest node that did not return the value. That node came near the address after the
   *  target's last publish, or dropped it. The target often answers before the nodes nearest it
   *  asked in the same round: then the first of those to answer without it is handed it. One a
   *  lookup; the next lookup of the target mends the next. */
  private storeWhereLacked(lookup: Lookup, locator: Locator): void {
    const repair: Repair = { locator, sent: false };
    const nearest = [...lookup.candidates]
      .filter((c) => !equalAddress(c.address, lookup.target))
      .sort((a, b) => compareDistance(lookup.target, a.address, b.address))
      .slice(0, DHT_BUCKET_SIZE);
    const answered = nearest.find((c) => c.state === 2 && !c.held && c.way);
    if (answered) this.store(repair, answered.way!);
    if (repair.sent) return;
    for (const r of this.requests.values()) if (r.lookup === lookup && nearest.some((c) => equalAddress(c.address, r.to))) r.repair = repair;
  }

  /** Sends `repair`'s locator back along `way`, the way an answer came. */
  private store(repair: Repair, way: { link: number; slots: Uint16Array }): void {
    if (!this.neighbours.get(way.link)) return;
    const payload = new Uint8Array(1 + repair.locator.bytes.length);
    payload[0] = ANSWER_STORE;
    payload.set(repair.locator.bytes, 1);
    repair.sent = true;
    this.counters.storesSent++;
    this.sendAnswer(way.link, way.slots, payload);
  }

  /** Sends an answer's payload along `slots`, counted as the routed frame it goes in. */
  private sendAnswer(link: number, slots: Uint16Array, payload: Uint8Array): void {
    this.counters.framesSent++;
    this.counters.bytesSent += payload.length + 7 + 2 * slots.length;
    this.sendRouted(link, slots, payload);
  }

  /** A locator handed to us (ANSWER_STORE): taken in as an answer's are, if it checks out. */
  private receiveStore(payload: Uint8Array): void {
    const now = this.now();
    if (!this.stores.take(now)) return void this.counters.storesRefused++;
    const read = this.readLocator(payload, 1);
    if (!read || 1 + read.length !== payload.length) return void this.counters.malformed++;
    if (!read.signed) return void this.counters.badLocators++;
    this.counters.storesTaken++;
    this.table.add(read.locator, now, false);
    this.learnLocator(read.locator);
  }

  // --- requests and answers ---

  /** Asks a candidate by a way not tried yet: the tree in which it is nearest and the first hop
   *  greedy forwarding takes, then other first hops and other trees. False if none is left. */
  private askCandidate(lookup: Lookup, c: Candidate): boolean {
    const address = addressOf(c.locator.key);
    // By its newest locator held: around a failure, the places a contact had when it was met
    // lead into the failure, and most contacts sign anew within a second or two.
    const newest = this.newestOf(address, c.locator);
    if (newest !== c.locator) {
      c.locator = newest;
      c.tried.length = 0;
    }
    // A neighbour is asked over its link, whatever the trees say (they may not have formed yet).
    // Each of its links, if it is one: a hub has hundreds of neighbours to look through.
    if (this.neighbours.at(address, 0)) {
      for (const { link, address: theirs } of this.neighbours.values()) {
        if (!equalAddress(theirs, address) || c.tried.includes(`n:${link}`)) continue;
        c.tried.push(`n:${link}`);
        return this.request(KIND_FIND, c.locator, c.locator.places[0]?.tree ?? 0, lookup, c, c.hops, lookup.target, [], false, link);
      }
    }
    const trees = c.locator.places.filter((p) => this.sharesRoot(p)).map((p) => p.tree);
    const mine = (t: number) => this.trees.position(t);
    const distance = (t: number) => treeDistance(mine(t).coordinates, c.locator.places.find((p) => p.tree === t)!.coordinates);
    trees.sort((a, b) => distance(a) - distance(b));
    // First the greedy hop of each tree, then the other hops nearer the candidate.
    for (const alternatives of [false, true]) {
      for (const t of trees) {
        const hops = this.trees.nextHops(t, mine(t).beacon.subarray(0, 32), c.locator.places.find((p) => p.tree === t)!.coordinates);
        for (const hop of alternatives ? hops.slice(1) : hops.slice(0, 1)) {
          if (hop <= 0 || c.tried.includes(`${t}:${hop}`)) continue;
          c.tried.push(`${t}:${hop}`);
          return this.request(KIND_FIND, c.locator, t, lookup, c, c.hops, lookup.target, [], false, hop);
        }
      }
    }
    // Every way tried, or its newest locator names places only in trees that have re-formed
    // since (round a new root, as after a root's crash or while a mesh starts).
    return false;
  }

  /** Whether a way leads to the candidate: it is a neighbour, or its newest locator known has a
   *  place in a tree of ours. */
  private canAsk(c: Candidate): boolean {
    return this.isNeighbour(c.address) || this.newestOf(c.address, c.locator).places.some((p) => this.sharesRoot(p));
  }

  /** `locator` of the node at `address` (null: none), or the newer one of it the table holds:
   *  decoded only if it is newer. */
  private newestOf<L extends Locator | null>(address: Uint8Array, locator: L): Locator | L {
    const held = this.table.get(address);
    return held && (!locator || held.sequence > locator.sequence) ? held.locator : locator;
  }

  /** Sends a request in `tree` by its greedy first hop (or `firstHop`, or the nearest hop not in
   *  `avoid`); false if the trees give no such way toward `to` (nothing sent). */
  private request(
    kind: number,
    to: Pick<Locator, 'key' | 'places'>,
    tree: number,
    lookup: Lookup | null,
    candidate: Candidate | null,
    hopsBefore: number,
    target: Uint8Array,
    avoid: number[] = [],
    retry = false,
    firstHop = 0,
  ): boolean {
    // (No place in that tree: a request to a neighbour, sent by its link; it is for the neighbour
    // by its address, wherever it arrives.)
    const coordinates = to.places.find((p) => p.tree === tree)?.coordinates ?? new Uint16Array(0);
    const ours = this.trees.position(tree);
    const next = firstHop || (this.trees.nextHops(tree, ours.beacon.subarray(0, 32), coordinates).find((l) => !avoid.includes(l)) ?? -1);
    const toAddress = addressOf(to.key);
    const pairKey = this.pairKeys.with(to.key, this.now());
    if (next <= 0 || !pairKey) return false;
    const id = requestIds.take(ID_SIZE);
    // A FIND lists the asked node's own locator too, where we hold one: the answer then leaves
    // it out unless the node has signed a newer one. Most answers would otherwise carry it back
    // to the node that has just asked by it.
    // (The trees' roots are asked by key and place alone, with no locator of theirs.)
    const given = 'bytes' in to ? (to as Locator) : null;
    const toLocator = kind === KIND_FIND && lookup ? (this.newestOf(toAddress, given) ?? undefined) : undefined;
    const known = lookup ? this.knownNear(lookup, toAddress, toLocator ? KNOWN_LISTED - 1 : KNOWN_LISTED) : [];
    const byReference = kind === KIND_FIND && !!lookup?.byReference && !!candidate && !candidate.whole;
    const payload = this.requestPayload(kind, id, target, ours.coordinates, pairKey, toLocator ? [toLocator, ...known] : known, byReference);
    const frame = encodeTreeFrame({
      kind,
      tree,
      hopLimit: TREE_FRAME_HOP_LIMIT,
      mtu: this.mtu,
      id,
      root: ours.beacon.subarray(0, ROOT_PREFIX_SIZE),
      destination: toAddress,
      origin: this.address,
      coordinates,
      payload,
      recorded: new Uint16Array(0),
    });
    const toTarget = kind === KIND_PROBE || equalAddress(toAddress, target);
    this.requests.set(hexOf(id), { lookup, kind, to: toAddress, toKey: to.key, pairKey, tree, sentAt: this.now(), hopsBefore, candidate, toTarget, toLocator, byReference, firstHop: next, retry, answered: false, returned: false });
    if (lookup) lookup.requests++;
    this.counters.requestsSent++;
    this.send(next, frame);
    return true;
  }

  /** A request's payload. A FIND carries its target, our locator (whole, or `byReference`) and
   *  the locators we hold nearest its target (`known`, which its answer leaves out); a PROBE our
   *  place in the tree, for the return, and our key, for the tag. Each ends with the tag. */
  private requestPayload(kind: number, id: Uint8Array, target: Uint8Array, coordinates: Coordinates, pairKey: Uint8Array, known: Locator[] = [], byReference = false): Uint8Array {
    let payload: Uint8Array;
    let body: number;
    if (kind === KIND_FIND) {
      const listAt = ADDRESS_SIZE + (byReference ? REFERENCE_SIZE : this.locator.bytes.length);
      body = listAt + 1 + KNOWN_ID_SIZE * known.length;
      payload = new Uint8Array(body + TAG_SIZE);
      payload.set(target, 0);
      if (byReference) {
        payload[ADDRESS_SIZE] = LOCATOR_REFERENCE;
        payload.set(this.key, ADDRESS_SIZE + 1);
        payload.set(knownId(this.locator), ADDRESS_SIZE + 1 + KEY_SIZE);
      } else payload.set(this.locator.bytes, ADDRESS_SIZE);
      payload[listAt] = known.length;
      known.forEach((l, i) => payload.set(knownId(l), listAt + 1 + KNOWN_ID_SIZE * i));
    } else {
      body = 1 + 2 * coordinates.length + KEY_SIZE;
      payload = new Uint8Array(body + TAG_SIZE);
      payload[0] = coordinates.length;
      for (let i = 0; i < coordinates.length; i++) writeUint16BE(payload, 1 + 2 * i, coordinates[i]!);
      payload.set(this.key, body - KEY_SIZE);
    }
    payload.set(lookupTag(pairKey, ROLE_REQUEST, id, Uint8Array.of(kind), this.address, payload.subarray(0, body)), body);
    return payload;
  }

  /** A tree-routed frame for us. */
  private arrived(frame: TreeFrame): void {
    if (this.behaviour === 'silent' || this.behaviour === 'black hole') return;
    const back = routeBack(frame.recorded);
    if (frame.kind === KIND_PROBE_RETURN) {
      // The return of one of our probes: the way it came, read backwards, is a route to the prober's target.
      const request = this.requests.get(hexOf(frame.id));
      if (!request || request.kind !== KIND_PROBE || request.returned) return;
      // Only the target can make its tag: a node on the way cannot return in its name.
      if (!tagMatches(request.pairKey, frame.payload, 0, ROLE_RETURN, frame.id)) return void this.counters.badTags++;
      if (request.answered) this.requests.delete(hexOf(frame.id));
      else request.returned = true;
      this.addPath(request.toKey, { link: back.link, slots: back.slots, mtu: frame.mtu, source: 'return', tree: frame.tree, at: this.now() });
      return;
    }
    if (frame.kind === KIND_FIND) {
      if (frame.payload.length < ADDRESS_SIZE) return void this.counters.malformed++;
      const target = frame.payload.subarray(0, ADDRESS_SIZE);
      const asker = this.readAsker(frame.payload);
      // The asker's key, which its tag is checked by, comes with its locator (or its reference).
      if (!asker || !equalAddress(addressOf(asker.key), frame.origin)) return void this.counters.malformed++;
      const listAt = ADDRESS_SIZE + asker.length;
      const listed = frame.payload[listAt] ?? 0;
      const body = listAt + 1 + KNOWN_ID_SIZE * listed;
      if (frame.payload.length < body || listed > KNOWN_LISTED) return void this.counters.badTags++;
      const pairKey = this.requestPairKey(frame, asker.key, body);
      if (!pairKey) return;
      const known = new Set<string>();
      for (let i = 0; i < listed; i++) known.add(hexOf(frame.payload.subarray(listAt + 1 + KNOWN_ID_SIZE * i, listAt + 1 + KNOWN_ID_SIZE * (i + 1))));
      // A reference to a locator we do not hold (or hold another of): the answer asks for it whole.
      if (!asker.locator) this.counters.locatorsWanted++;
      else if (asker.signed) {
        this.table.add(asker.locator, this.now(), true);
        // The way back to an asker is a route to it where it looks for us (it is about to talk
        // to us). Not where we are one of the contacts its lookup passes through, or its
        // publish asks (the nodes nearest its address and, while it bootstraps, the trees'
        // roots): those would hold a route to every node that asks them anything.
        if (equalAddress(target, this.address)) {
          this.addPath(asker.locator.key, { link: back.link, slots: back.slots, mtu: frame.mtu, source: 'request', tree: frame.tree, at: this.now() });
        }
        this.learnLocator(asker.locator);
      } else this.counters.badLocators++;
      const found = this.answerLocators(target, frame.origin, known);
      const ownHeld = known.has(hexOf(knownId(this.locator)));
      this.answer(ANSWER_FIND, frame.id, frame.mtu, found, back, pairKey, this.locator, ownHeld, !asker.locator);
      return;
    }
    if (frame.kind === KIND_PROBE) {
      const d = frame.payload[0] ?? 0;
      if (frame.payload.length < 1 + 2 * d) return void this.counters.malformed++;
      const body = 1 + 2 * d + KEY_SIZE;
      const askerKey = frame.payload.subarray(body - KEY_SIZE, body);
      if (askerKey.length < KEY_SIZE || !equalAddress(addressOf(askerKey), frame.origin)) return void this.counters.badTags++;
      const pairKey = this.requestPairKey(frame, askerKey, body);
      if (!pairKey) return;
      this.answer(ANSWER_PROBE, frame.id, frame.mtu, [], back, pairKey);
      this.returnProbe(frame, pairKey, this.address);
      return;
    }
    this.counters.malformed++;
  }

  /** Steers a probe's return toward the prober's place (its coordinates in the probe), from
   *  `origin` (us), recording the way. */
  private returnProbe(probe: TreeFrame, pairKey: Uint8Array, origin: Uint8Array): void {
    const d = probe.payload[0]!;
    const coordinates = new Uint16Array(d);
    for (let i = 0; i < d; i++) coordinates[i] = (probe.payload[1 + 2 * i]! << 8) | probe.payload[2 + 2 * i]!;
    const ours = this.trees.position(probe.tree);
    const next = this.trees.nextHop(probe.tree, ours.beacon.subarray(0, 32), coordinates);
    if (next <= 0) return;
    this.send(
      next,
      encodeTreeFrame({
        kind: KIND_PROBE_RETURN,
        tree: probe.tree,
        hopLimit: TREE_FRAME_HOP_LIMIT,
        mtu: this.mtu,
        id: probe.id,
        root: probe.root,
        destination: probe.origin,
        origin,
        coordinates,
        payload: lookupTag(pairKey, ROLE_RETURN, probe.id),
        recorded: new Uint16Array(0),
      }),
    );
  }

  /** The key shared with a request's asker (of `askerKey`) if the tag after the first `body`
   *  bytes of its payload is the asker's; else the request is counted and null. */
  private requestPairKey(frame: TreeFrame, askerKey: Uint8Array, body: number): Uint8Array | null {
    const pairKey = this.pairKeys.with(askerKey, this.now());
    const payload = frame.payload;
    if (pairKey && tagMatches(pairKey, payload, body, ROLE_REQUEST, frame.id, Uint8Array.of(frame.kind), frame.origin, payload.subarray(0, body))) return pairKey;
    this.counters.badTags++;
    return null;
  }

  /** The simulator's and the tests' impostor: a request passing through for a node whose locator
   *  it holds is answered in that node's name, not passed on, and a probe returned in its name
   *  too. It cannot make that node's tags with the asker, only its own. */
  private impersonate(frame: TreeFrame, link: number): boolean {
    if (frame.kind !== KIND_FIND && frame.kind !== KIND_PROBE) return false;
    const held = this.table.get(frame.destination)?.locator;
    const d = frame.payload[0] ?? 0;
    const askerKey = frame.kind === KIND_FIND ? this.readAsker(frame.payload)?.key : frame.payload.subarray(1 + 2 * d, 1 + 2 * d + KEY_SIZE);
    const pairKey = held && askerKey?.length === KEY_SIZE ? this.pairKeys.with(askerKey, this.now()) : null;
    if (!held || !pairKey) return false;
    const back = routeBack(recordArrival(frame, link, this.mtu).recorded);
    this.answer(frame.kind === KIND_FIND ? ANSWER_FIND : ANSWER_PROBE, frame.id, frame.mtu, [], back, pairKey, held);
    if (frame.kind === KIND_PROBE) this.returnProbe(frame, pairKey, frame.destination);
    return true;
  }

  /** The locators a FIND for `target` from `asker` is answered with: the nearest we know, but
   *  not the asker's (it has its own, and a publishing node is the nearest to its target: where
   *  locators are long, deep in a tree, an answer has room for only one or two), nor those it
   *  says it holds (`known`, by knownId): a node's periodic publish asks the nodes nearest its
   *  address, which know each other and would answer with each other's locators. */
  private answerLocators(target: Uint8Array, asker: Uint8Array, known: Set<string>): Locator[] {
    if (this.behaviour === 'misleading') {
      // A hostile node: real nodes, but the farthest from the target it knows.
      const all = [...this.table.contacts()].sort((a, b) => compareDistance(target, b.address, a.address));
      return all.slice(0, ANSWER_LOCATORS - 1).map((c) => c.locator);
    }
    return this.table
      .closest(target, ANSWER_LOCATORS, false)
      .filter((c) => !equalAddress(c.address, asker))
      .slice(0, ANSWER_LOCATORS - 1)
      .map((c) => c.locator)
      .filter((l) => !known.has(hexOf(knownId(l))));
  }

  /** At most `most` locators a lookup holds nearest its target, for a FIND to `to` (whose own the
   *  FIND lists apart): the nearest of its candidates, but not the target's. An answer without
   *  the target's locator then says its sender lacks it (storeWhereLacked); one that carries a
   *  copy we hold costs the answer one locator, and only where the target was found already. */
  private knownNear(lookup: Lookup, to: Uint8Array, most: number): Locator[] {
    const known: Locator[] = [];
    for (const c of lookup.candidates) {
      if (known.length >= most) break;
      if (equalAddress(c.address, to) || equalAddress(c.address, lookup.target)) continue;
      known.push(c.locator);
    }
    return known;
  }

  /** Answers a request whose frame came with `mtu`, the smallest on its way (the answer's way,
   *  the other way round): the asker's route carries no more. */
  private answer(kind: number, id: Uint8Array, mtu: number, locators: Locator[], back: { link: number; slots: Uint16Array }, pairKey: Uint8Array, own = this.locator, ownHeld = false, wanted = false): void {
    const first = ownHeld ? [] : [own];
    let size = ANSWER_HEADER + (first[0]?.bytes.length ?? 0);
    const fitting: Locator[] = [];
    for (const l of locators) {
      if (size + l.bytes.length > this.mtu - 200) break;
      fitting.push(l);
      size += l.bytes.length;
    }
    const payload = new Uint8Array(size + TAG_SIZE);
    payload[0] = kind;
    payload.set(id, 1);
    writeUint16BE(payload, 1 + ID_SIZE, Math.min(mtu, this.mtu));
    payload[3 + ID_SIZE] = (ownHeld ? OWN_LEFT_OUT : 0) | (wanted ? LOCATOR_WANTED : 0) | (first.length + fitting.length);
    let off = ANSWER_HEADER;
    for (const l of [...first, ...fitting]) {
      payload.set(l.bytes, off);
      off += l.bytes.length;
    }
    payload.set(lookupTag(pairKey, ROLE_ANSWER, id, payload.subarray(0, size)), size);
    this.sendAnswer(back.link, back.slots, payload);
  }

  private addPath(key: Uint8Array, path: FoundPath): void {
    if (path.link === 0 || !this.neighbours.get(path.link)) return;
    // A neighbour is reached by its link, one hop: no way found to it is shorter, and a hub
    // would hold one for each neighbour that asks it something.
    if (this.neighbours.at(addressOf(key), 0)) return;
    const changed = this.paths.add(key, path, this.now());
    const d = this.paths.get(addressOf(key));
    const early = this.probedEarly.get(hexOf(addressOf(key)));
    if (d && early !== undefined) {
      d.probedSequence = Math.max(d.probedSequence, early);
      this.probedEarly.delete(hexOf(addressOf(key)));
    }
    if (changed) this.onRouteChanged?.(addressOf(key));
  }

  /** A node's locator, checked, for the routes to it: one newer than it was last probed with
   *  is probed again, in every tree, if we are using a route to it (it moved, or the trees did). */
  private learnLocator(locator: Locator): void {
    const d = this.paths.get(addressOf(locator.key));
    if (!d) return;
    // Where the table holds it (most often), not again here: locate() reads both.
    const held = this.table.get(d.address);
    const newest = newer(d.locator, locator)!;
    d.locator = held && held.sequence >= newest.sequence ? null : newest;
    if (d.probedSequence >= 0 && locator.sequence > d.probedSequence) this.probeAll(locator, null, 0);
  }

  // --- our own locator ---

  private refreshLocator(now: number): void {
    // A place is a new object whenever it changes (and when the root's beacon is renewed, which
    // moves nothing): compared by root and coordinates only then.
    for (let t = 0; t < TREE_COUNT; t++) {
      const p = this.trees.position(t);
      const seen = this.placesSeen[t];
      if (p === seen) continue;
      if (!seen || !samePlace(p, seen)) this.placesChangedAt = now;
      this.placesSeen[t] = p;
      const signed = this.placesSigned[t];
      if (signed && worsePlace(p.rank, p.depth, signed)) this.placeLost = true;
      // Under another root soon after a stopgap one: that tree is going, and the place signed in
      // it with it (with thirty real daemons, a node still named its place under a hub's
      // neighbour 2 s after it was back under the real root, and was not found meanwhile). Often
      // by way of another stopgap, better than the first: so for STOPGAP_MS, any root.
      else if (signed && now - (this.stopgapSignedAt[t] ?? -Infinity) < STOPGAP_MS && !sameRootPrefix(p.beacon, signed.beacon)) this.placeLost = true;
    }
    const changed = this.placesChangedAt > this.signedAt;
    // The first locator waits for the trees to settle like any other (a locator of places that
    // are about to change only misleads whoever keeps it). But a place we left for a worse one
    // (or whose parent's link failed) is gone: whoever sends to us by it is cut off and looks us
    // up again now. Such a locator is replaced at once, as often as LOCATOR_LOST_INTERVAL_MS
    // allows while the trees keep moving, and once more when they have settled.
    const settled = this.placeLost ? now - this.signedAt >= LOCATOR_LOST_INTERVAL_MS : now - this.placesChangedAt >= LOCATOR_SETTLE_MS && now - this.signedAt >= LOCATOR_MIN_INTERVAL_MS;
    if (changed && settled) {
      const places: TreePlace[] = this.placesSeen.map((p, tree) => ({ tree, root: p.beacon.subarray(0, ROOT_PREFIX_SIZE), coordinates: p.coordinates }));
      this.current = signLocator(this.sign, this.key, Math.max(this.wallNow(), (this.current?.sequence ?? -1) + 1), places);
      this.signedAt = now;
      this.refreshedAt = now;
      this.placeLost = false;
      // The table is filled again in rounds, as after our first locator, where the mesh is no
      // longer the one of the last rounds (rootsMoved). Not while they run: they fill it anyway.
      if (this.roundsDone >= BOOTSTRAP_ROUNDS_MS.length && this.rootsMoved()) {
        this.firstSignedAt = now;
        this.roundsDone = 0;
        this.counters.roundsRestarted++;
      }
      if (this.roundsDone < BOOTSTRAP_ROUNDS_MS.length) for (let t = 0; t < TREE_COUNT; t++) this.ranksOfRounds.set(this.placesSeen[t]!.rank, t * RANK_SIZE);
      for (let t = 0; t < TREE_COUNT; t++) {
        const before = this.placesSigned[t];
        if (before && compareRanks(this.placesSeen[t]!.rank, before.rank) > 0) this.stopgapSignedAt[t] = now;
        this.placesSigned[t] = this.placesSeen[t]!;
      }
      this.publishDue = true;
      this.publishByReference = false;
      // Neighbours hold our locator too (they answer lookups with it): they get the new one.
      for (const link of this.neighbours.links()) this.greetDue.add(link);
    } else if (this.signedAt > -Infinity && now >= this.refreshDueAt()) {
      // Nothing moved: the same locator is published again, not signed anew. A new signature
      // would say nothing new, yet make it new to all who hold it: the publish's answers would
      // carry again the locators of nodes that had re-signed theirs, which their asker listed as
      // known by their old signatures, and neighbours would be greeted with it.
      this.refreshedAt = now;
      this.periodicPublished = true;
      this.publishDue = true;
      this.publishByReference = true;
    }
    if (this.firstSignedAt < 0 && this.signedAt > -Infinity) this.firstSignedAt = now;
    const round = BOOTSTRAP_ROUNDS_MS[this.roundsDone];
    if (round !== undefined && this.firstSignedAt >= 0 && now - this.firstSignedAt >= round) {
      if (this.roundsDone === 2) this.refreshBuckets();
      // Locators under none of our roots, still held at the last round, are of trees gone: no
      // one asks them (nor can those we would name them to), so nothing else would replace them
      // before their nodes' next periodic publish, days away.
      if (this.roundsDone === BOOTSTRAP_ROUNDS_MS.length - 1) this.counters.astrayDropped += this.table.forgetWhere((l) => !l.places.some((p) => this.sharesRoot(p)));
      this.roundsDone++;
      this.counters.roundsRun++;
      this.publishDue = true;
    }
    if (this.placesChangedAt <= this.signedAt) {
      for (const link of this.greetDue) this.greetNeighbour(link, this.neighbours.get(link)!.key);
      this.greetDue.clear();
    }
    if (this.publishDue && this.placesChangedAt <= this.signedAt) {
      this.publishDue = false;
      this.publish();
    }
  }

  /**
   * Whether our roots say that the mesh around us is not the one our last bootstrap rounds
   * filled the table from, such that our publish can reach few of the nodes nearest us:
   * - a root outranks the one of that tree then: our mesh has joined another (or a node whose
   *   key ranks first has joined it; one in a few thousand joins, at a mesh of ten thousand).
   *   The table knows the nodes of our side only, and the lookups of our side would find those
   *   nearest an address there, without its locator: with two meshes of 40 joined by a link,
   *   23 to 97 % of the lookups across failed 70 s after (by how the roots fell to the sides),
   *   none with the rounds, whose publishes ask the new roots;
   * - no root is left of those then (every root gone at once, or tree by tree): the mesh
   *   around us signs anew too, and the locators our table holds name trees we are no longer
   *   in, by which our publish reaches few of the nodes nearest us.
   * A node that ground keys to rank first could make every node run its rounds again at each
   * join and leave, but needs a key better than its last one for each join.
   */
  private rootsMoved(): boolean {
    let kept = 0;
    for (let t = 0; t < TREE_COUNT; t++) {
      const byRank = compareRanks(this.placesSeen[t]!.rank, this.ranksOfRounds.subarray(t * RANK_SIZE));
      if (byRank < 0) return true;
      if (byRank === 0) kept++;
    }
    return kept === 0;
  }

  /** A lookup of a random address at the distance of our deepest bucket, where the table is
   *  thinnest and a lookup's last steps need it: the farther buckets fill from any traffic (half
   *  of all nodes fall in the farthest), and the publishes fill the nearest. Five around the
   *  deepest, then three, found no more than this one (graph-250, freifunk, fc00 and the line,
   *  hostile nodes included; powerlaw-10000) and cost a lookup each: the cold start of graph-250
   *  sends 272 KiB per node with one, 365 with three. */
  private refreshBuckets(): void {
    const bits = Math.min(this.table.deepestBucket(), 119);
    const target = randomBytes(ADDRESS_SIZE);
    target[0] = this.address[0]!;
    // Share exactly `bits` leading bits (after the prefix byte) with our address.
    for (let b = 0; b < bits; b++) setBit(target, b, bit(this.address, b));
    setBit(target, bits, 1 - bit(this.address, bits));
    if (!this.lookups.has(hexOf(target))) this.advance(this.startLookup(target, true));
  }

  /** When our unchanged locator is published next: a period after it was last signed or
   *  published, the first time a share of it (refreshPhaseOf). */
  private refreshDueAt(): number {
    return this.refreshedAt + this.refreshPeriodMs * (this.periodicPublished ? 1 : this.refreshPhase);
  }

  /** The mesh's size as the table tells it, set as each publish ends (mostly when the nodes
   *  nearest our address have just been asked; or cut short by a newer publish). */
  get meshSize(): number {
    return this.meshSizeSeen;
  }

  /** How often we publish our unchanged locator, from meshSize. */
  get refreshPeriodMs(): number {
    return refreshPeriodFor(this.meshSizeSeen);
  }

  /** Tells the nodes nearest our address where we are: a lookup of ourselves, whose requests
   *  carry our locator. Neighbours learn it when their link comes up (greetNeighbour). */
  private publish(): void {
    const running = this.lookups.get(hexOf(this.address));
    if (running) this.finish(running, false, 0);
    const lookup = this.startLookup(this.address, true);
    lookup.byReference = this.publishByReference;
    this.publishByReference = false;
    if (this.roundsDone <= BOOTSTRAP_ROOT_ROUNDS) this.askRoots(lookup);
    this.advance(lookup);
  }

  /**
   * While bootstrapping, a publish also asks the root of each tree (its key and place are in
   * ours, no locator needed): every node asks it, so it knows nodes all over the mesh, where our
   * first contacts know only those near us. On a chain, those near us are all we could otherwise
   * learn of past a node that answers nothing (docs/ROUTING.md "Measured with the map").
   */
  private askRoots(lookup: Lookup): void {
    for (let t = 0; t < TREE_COUNT; t++) {
      const p = this.trees.position(t);
      if (p.depth < 2) continue; // the root is us or a neighbour, asked already
      const root = { key: p.beacon.subarray(0, KEY_SIZE), places: [{ tree: t, root: p.beacon.subarray(0, ROOT_PREFIX_SIZE), coordinates: new Uint16Array(0) }] };
      this.request(KIND_FIND, root, t, lookup, null, 0, lookup.target);
    }
  }

  /** A neighbour learns our locator by a FIND for itself sent straight to it (one hop). */
  private greetNeighbour(link: number, key: Uint8Array): void {
    const address = addressOf(key);
    const pairKey = this.pairKeys.with(key, this.now());
    if (!pairKey) return;
    const id = requestIds.take(ID_SIZE);
    const payload = this.requestPayload(KIND_FIND, id, this.address, new Uint16Array(0), pairKey);
    // Steered by the neighbour's place in tree 0 if it shares our root; it is one hop anyway.
    const ours = this.trees.position(0);
    const theirs = this.trees.neighbourPosition(link, 0);
    this.requests.set(hexOf(id), { lookup: null, kind: KIND_FIND, to: address, toKey: key, pairKey, tree: 0, sentAt: this.now(), hopsBefore: 0, candidate: null, toTarget: false, firstHop: link, retry: true, answered: false, returned: false });
    this.send(
      link,
      encodeTreeFrame({
        kind: KIND_FIND,
        tree: 0,
        hopLimit: 1,
        mtu: this.mtu,
        id,
        root: ours.beacon.subarray(0, ROOT_PREFIX_SIZE),
        destination: address,
        origin: this.address,
        coordinates: theirs && sameRootPrefix(theirs.beacon, ours.beacon) ? theirs.coordinates : ours.coordinates,
        payload,
        recorded: new Uint16Array(0),
      }),
    );
  }

  // --- trees ---

  /** The tree in which a node's place is nearest ours (-1: none under a root we share). */
  private bestTree(locator: Locator): number {
    let best = -1;
    let bestDistance = Infinity;
    for (const place of locator.places) {
      if (!this.sharesRoot(place)) continue;
      const d = treeDistance(this.trees.position(place.tree).coordinates, place.coordinates);
      if (d < bestDistance) [best, bestDistance] = [place.tree, d];
    }
    return best;
  }

  private sharesRoot(place: TreePlace): boolean {
    return sameRootPrefix(place.root, this.trees.position(place.tree).beacon);
  }

  private send(link: number, frame: Uint8Array): void {
    this.counters.framesSent++;
    this.counters.bytesSent += frame.length;
    this.sendFrame(link, frame);
  }
}

/** The full root key if `prefix` is our root's in that tree (the frame names roots by prefix). */
function prefixKey(prefix: Uint8Array, ourBeacon: Uint8Array): Uint8Array {
  return sameRootPrefix(prefix, ourBeacon) ? ourBeacon.subarray(0, 32) : new Uint8Array(32);
}

/** Bit `b` of an address after its prefix byte. */
function bit(address: Uint8Array, b: number): number {
  return (address[1 + (b >> 3)]! >> (7 - (b & 7))) & 1;
}

function setBit(address: Uint8Array, b: number, value: number): void {
  const mask = 1 << (7 - (b & 7));
  address[1 + (b >> 3)] = value ? address[1 + (b >> 3)]! | mask : address[1 + (b >> 3)]! & ~mask;
}

function newer(a: Locator | null, b: Locator | null): Locator | null {
  if (!a) return b;
  if (!b) return a;
  return b.sequence > a.sequence ? b : a;
}

/** How a FIND names a locator its asker holds: the first bytes of its signature, which only its
 *  node can make and which differ for each locator it signs. */
function knownId(l: Locator): Uint8Array {
  const at = l.bytes.length - XEDDSA_SIGNATURE_SIZE;
  return l.bytes.subarray(at, at + KNOWN_ID_SIZE);
}

function equalAddress(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < ADDRESS_SIZE; i++) if (a[i] !== b[i]) return false;
  return true;
}

function samePlace(a: Position, b: Position): boolean {
  if (a.depth !== b.depth) return false;
  for (let i = 0; i < ROOT_PREFIX_SIZE; i++) if (a.beacon[i] !== b.beacon[i]) return false;
  for (let i = 0; i < a.depth; i++) if (a.coordinates[i] !== b.coordinates[i]) return false;
  return true;
}
