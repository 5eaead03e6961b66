// Routing as the node sees it: the map of signed announcements (router.ts), the spanning trees
// (trees.ts) and the lookups over them (lookups.ts), behind one face.
//
//   linkUp / linkDown / tick   passed to all three; the neighbours' table (neighbours.ts), which all
//                              three read, is kept here: a neighbour is in it before the three
//                              hear of its link, and out of it before they hear it is gone.
//   receive                    a routing control frame (0x02): announcements, database requests and
//                              acknowledgements go to the map, tree kinds (4–7) to the trees.
//   receiveTreeFrame           a tree-routed frame (0x04): lookups pass it on or answer it.
//   receiveAnswer              a routed frame of kind 2 whose label is used up here: an answer.
//   receiveUnreachable         one of kind 3: a found route broke at a transit; the next takes over.
//                              A found route over a link that a node of the map took back in its
//                              announcement goes as soon as the map hears it. Either way, and when
//                              a link goes, routesBroken says which ways out broke.
//   lookup / routeTo           the data plane's questions: the map's route where the map knows the
//                              destination (shortest, and how every small mesh is routed), else the
//                              best route a lookup found, else a neighbour's link (a neighbour is
//                              never a found destination); lookup allocates nothing.
//   knows                      whether the map, a neighbour or a lookup knows an address (the
//                              send path's question for a packet to one that reached us by a
//                              route of its own); it allocates nothing either.
//   locate                     no route to an address: find it (the caller holds its packets).
//   routes                     every route, for `rovy routes` and the D-Bus API.
//   report                     what the node knows of the mesh beyond its routes, for status.
import { AddressTable } from '../fcnet/address-table.js';
import { FRAME_HEADER, FRAME_ROUTING, TREE_COUNT, isTreeKind } from './constants.js';
import { Lookups, type Behaviour, type LookupResult } from './lookups.js';
import { NeighbourTable, type GoneNeighbour } from './neighbours.js';
import type { SharedPairKeys } from './lookup-tags.js';
import { VerifiedSignatures, beaconRoot } from './tree-proof.js';
import { addressOf } from './locator.js';
import { equalBytes } from '../util/bytes.js';
import { leavesBy, type Destination, type FoundRoute } from './paths.js';
import { Router, type Route, type RouterOptions, type Withdrawn } from './router.js';
import { Trees } from './trees.js';

export type { FoundRoute } from './paths.js';
export type { LookupResult } from './lookups.js';

/** What a node knows of the mesh beyond its routes (Routing.report). */
export interface RoutingReport {
  /** Other nodes whose announcements the map holds (those within its radius). */
  mapNodes: number;
  /** Nodes in the lookup table. */
  contacts: number;
  /** The mesh's size as the node estimated it when its last publish ended (1 before the first). */
  meshSize: number;
  /** How often the node publishes its unchanged locator, which follows from meshSize (ms). */
  publishPeriodMs: number;
  /** Its place in each tree: the root's key (its own while it is the root) and its depth. */
  trees: { root: Uint8Array; depth: number }[];
}

export interface RoutingOptions {
  identity: { publicKey: Uint8Array; privateKey: Uint8Array };
  /** This node's TUN MTU (RouterOptions.mtu). */
  mtu: number;
  /** Sends a hop-local frame (routing control or tree-routed) to one neighbour; the frame is not
   *  modified afterwards, and must not be by the callee. */
  send(link: number, frame: Uint8Array): void;
  /** Sends `payload` as a routed frame of kind 2 (an answer) by `link` and `slots`. */
  sendRouted(link: number, slots: Uint16Array, payload: Uint8Array): void;
  now?: () => number;
  wallNow?: () => number;
  /** A route was added, removed or changed, in the map or found. */
  routesChanged?(): void;
  /** Ways out broke: those `broken` says (a link of ours went, a transit reported a link gone, or
   *  a node of the map took one back). The found routes among them are gone already
   *  (routesChanged said so); this is for the ways the caller keeps (the end-to-end peers'
   *  reverse routes). */
  routesBroken?(broken: (link: number, label: ArrayLike<number>) => boolean): void;
  /** There is work for a tick sooner than the next rest tick. */
  workDue?(): void;
  /** A lookup asked for by locate() ended. */
  lookupDone?(result: LookupResult): void;
  /** The map's bounds and signature checks, for tests and the simulator (RouterOptions). */
  map?: Pick<RouterOptions, 'maxOrigins' | 'maxDatabaseBytes' | 'verify' | 'scope' | 'identityMemo'>;
  /** Signature checks of the trees and lookups (the simulator shares one between nodes). */
  verified?: VerifiedSignatures;
  /** The simulator: pair keys of the lookups' tags derived once for both ends. */
  sharedPairKeys?: SharedPairKeys;
  /** Tests and the simulator: how this node behaves toward others' lookups (default honest). */
  behaviour?: Behaviour;
}

export class Routing {
  readonly map: Router;
  readonly trees: Trees;
  readonly lookups: Lookups;
  readonly neighbours: NeighbourTable;
  /** Found routes by address, for the data path: the lookups' destinations that have a route. */
  private readonly found = new AddressTable<Destination>();
  private readonly now: () => number;
  private readonly onRoutesBroken: RoutingOptions['routesBroken'];
  /** The clock as of the last tick: a route the data path uses is marked used at this time, so
   *  the data path reads no clock. */
  private clock: number;

  constructor(options: RoutingOptions) {
    const now = options.now ?? (() => performance.now());
    this.now = now;
    this.clock = now();
    this.neighbours = new NeighbourTable(options.mtu);
    const workDue = options.workDue?.bind(options);
    const routesChanged = options.routesChanged?.bind(options);
    this.onRoutesBroken = options.routesBroken?.bind(options);
    // A route found by a lookup is a label, opaque past our first hop; the map can follow it
    // over the nodes within its radius, and a node there that took a link back (its neighbour
    // there died, say) has broken every route over it. Without this, such a route stood until
    // a packet along it drew an unreachable report, and that packet was lost: after a hub's
    // crash, each end of a pair lost a ping so, one after the other.
    const linksWithdrawn = (withdrawn: readonly Withdrawn[]) => {
      const crosses = (link: number, label: ArrayLike<number>) => this.crosses(link, label, withdrawn);
      this.lookups.dropCrossing(crosses);
      this.onRoutesBroken?.(crosses);
    };
    this.map = new Router({ identity: options.identity, mtu: options.mtu, send: options.send, now, wallNow: options.wallNow, routesChanged, linksWithdrawn, workDue, ...options.map });
    const verified = options.verified ?? new VerifiedSignatures({ now });
    this.trees = new Trees({ identity: options.identity, mtu: options.mtu, send: options.send, now, wallNow: options.wallNow, workDue, verified });
    this.lookups = new Lookups({
      identity: options.identity,
      trees: this.trees,
      neighbours: this.neighbours,
      mtu: options.mtu,
      send: options.send,
      sendRouted: options.sendRouted,
      mapHop: (address) => this.map.lookup(address, 0)?.link ?? 0,
      now,
      wallNow: options.wallNow,
      routeChanged: (address) => {
        const d = this.lookups.paths.get(address);
        if (d?.route) this.found.set(address, d);
        else this.found.delete(address);
        routesChanged?.();
      },
      lookupDone: options.lookupDone?.bind(options),
      verified,
      sharedPairKeys: options.sharedPairKeys,
      behaviour: options.behaviour,
    });
  }

  get hasWork(): boolean {
    return this.map.hasWork || this.trees.hasWork || this.lookups.hasWork;
  }

  linkUp(link: number, publicKey: Uint8Array): void {
    const { neighbour, first, replaced } = this.neighbours.add(link, publicKey);
    // Another key at a link that was up: the old neighbour goes first.
    if (replaced) this.gone(link, replaced);
    // The modules keep the table's key, not copies of it.
    this.map.linkUp(link, neighbour.key);
    this.trees.linkUp(link, neighbour.key);
    this.lookups.linkUp(neighbour, first);
  }

  linkDown(link: number): void {
    this.gone(link, this.neighbours.remove(link));
  }

  /** The neighbour at `link` is out of the table: the three hear it. */
  private gone(link: number, neighbour: GoneNeighbour | undefined): void {
    this.map.linkDown(link);
    const parentLost = this.trees.linkDown(link);
    this.lookups.linkDown(link, neighbour, parentLost);
    this.onRoutesBroken?.((out) => out === link);
  }

  /** A routing control frame (first byte 0x02) from the neighbour at `link`. */
  receive(link: number, frame: Uint8Array): void {
    const kind = frame.length >= FRAME_HEADER && frame[0] === FRAME_ROUTING ? frame[1]! : 0;
    if (isTreeKind(kind)) this.trees.receive(link, frame);
    else this.map.receive(link, frame);
  }

  /** A tree-routed frame (first byte 0x04) from the neighbour at `link`. */
  receiveTreeFrame(link: number, frame: Uint8Array): void {
    this.lookups.receive(link, frame);
  }

  /** Whether the way out by `link` and `label` leaves a node of `withdrawn` by one of the
   *  indices it took back, as far as the map can follow it (while it holds each node on the way). */
  private crosses(link: number, label: ArrayLike<number>, withdrawn: readonly Withdrawn[]): boolean {
    let node = this.neighbours.get(link)?.key;
    for (let i = 0; node && i < label.length; i++) {
      for (const w of withdrawn) if (equalBytes(node, w.origin) && w.indices.includes(label[i]!)) return true;
      node = this.map.linkTarget(node, label[i]!);
    }
    return false;
  }

  /** An answer (routed frame of kind 2) that came in by `link`; `slots` lead back to its sender. */
  receiveAnswer(link: number, slots: Uint16Array, payload: Uint8Array): void {
    this.lookups.receiveAnswer(link, slots, payload);
  }

  /** An unreachable report (routed frame of kind 3) that came in by `link`; `slots` lead back
   *  to the transit that sent it, its payload names the index that failed there. */
  receiveUnreachable(link: number, slots: Uint16Array, payload: Uint8Array): void {
    if (payload.length !== 2) {
      this.lookups.counters.malformed++;
      return;
    }
    const failed = (payload[0]! << 8) | payload[1]!;
    this.lookups.breakAt(link, slots, failed);
    this.onRoutesBroken?.((out, label) => leavesBy(out, label, link, slots, failed));
  }

  /**
   * The earliest time a tick has something to do if no frame comes and no link changes before
   * (at most the current time when hasWork). The daemon ticks every second regardless; the
   * simulator skips the rest ticks before it, which is most of an idle hour of 10,000 nodes.
   */
  nextDue(): number {
    return Math.min(this.map.nextDue(), this.trees.nextDue(), this.lookups.nextDue());
  }

  tick(): void {
    this.clock = this.now();
    this.map.tick();
    this.trees.tick();
    this.lookups.tick();
  }

  /** The route to the node whose 16-byte address is at buf[off]. Allocates nothing. A
   *  neighbour is never a found destination, so the found routes are asked before the
   *  neighbours' links (the map holds the neighbours of all but the nodes of many links). */
  lookup(buf: Uint8Array, off: number): Route | undefined {
    const route = this.map.lookup(buf, off);
    if (route) return route;
    const d = this.found.lookup(buf, off);
    if (d) {
      d.usedAt = this.clock;
      return d.route ?? undefined;
    }
    return this.neighbours.routeAt(buf, off);
  }

  routeTo(publicKey: Uint8Array): Route | undefined {
    return this.map.routeTo(publicKey) ?? this.lookups.route(addressOf(publicKey));
  }

  /** Whether the map, a neighbour or a lookup knows the node at the 16-byte address at buf[off]:
   *  keyOf without making the key, for the send path, which asks at each packet. */
  knows(buf: Uint8Array, off: number): boolean {
    return this.map.holds(buf, off) || this.neighbours.at(buf, off) !== undefined || this.found.lookup(buf, off) !== undefined;
  }

  /** The key of the node at `address`, if the map or a lookup knows it. */
  keyOf(address: Uint8Array): Uint8Array | undefined {
    return this.map.keyOf(address) ?? this.neighbours.at(address, 0)?.key ?? this.found.lookup(address, 0)?.publicKey;
  }

  /** Finds a route to `address` (lookupDone says when it ends) unless one is known. */
  locate(address: Uint8Array): void {
    if (this.map.lookup(address, 0)) return;
    this.lookups.locate(address);
  }

  /** Every route: the map's, then those found by lookups to nodes the map does not hold. */
  routes(): (Route | FoundRoute)[] {
    const all: (Route | FoundRoute)[] = this.map.routes();
    for (const d of this.lookups.paths.destinations()) {
      if (d.route && d.route.source !== 'neighbour' && !this.map.lookup(d.address, 0)) all.push(d.route);
    }
    return all;
  }

  report(): RoutingReport {
    const trees: RoutingReport['trees'] = [];
    for (let t = 0; t < TREE_COUNT; t++) {
      const place = this.trees.position(t);
      trees.push({ root: beaconRoot(place.beacon), depth: place.depth });
    }
    const { lookups } = this;
    return { mapNodes: this.map.othersHeld(), contacts: lookups.table.size, meshSize: lookups.meshSize, publishPeriodMs: lookups.refreshPeriodMs, trees };
  }
}

/** Whether a route was found by a lookup (and says how), rather than computed from the map. */
export function isFoundRoute(route: Route): route is FoundRoute {
  return 'source' in route;
}
