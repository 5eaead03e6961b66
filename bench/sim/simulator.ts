// Many Routers in one process, joined by an in-memory transport, on a virtual clock.
//
// Each graph node is a real src/routing Router with a real key pair; each graph link is a pair of
// interface indices (1.. per node, in adjacency order) and a fixed one-way latency drawn from a
// seeded range. Frames a Router sends are queued as they are (a Router never changes a frame it
// has sent) in a binary heap ordered by delivery time, then send order, so a link never reorders;
// each node ticks every TICK_MS of virtual time with its own phase, as independent daemons would.
// Nothing waits on the real clock: an hour of virtual time costs only the work done in it.
//
// What is measured (bench/routing.ts prints it, docs/ROUTING.md discusses it): convergence
// (virtual ms until every node holds a route to every node it can reach within MAX_HOPS, whose
// label leads there over links that are up), routing state per node, control traffic, stretch
// against BFS hop distances, and whether each route's label, followed interface by interface,
// really arrives at its destination with the hops and path the route claims.
import { AddressTable } from '../../src/fcnet/address-table.js';
import { fcAddressBytes } from '../../src/keys/address.js';
import { generateKeyPair, type KeyPair } from '../../src/keys/keypair.js';
import { verifyAnnouncement, type Announcement } from '../../src/routing/announcement.js';
import { MAX_HOPS, TICK_MS } from '../../src/routing/constants.js';
import type { IdentityMemo } from '../../src/routing/lsdb.js';
import { Router, type Route } from '../../src/routing/router.js';
import { bfs, rng, type Graph } from './graph.js';

/** Wall-clock origin of the virtual clock (sequence numbers are ms since the epoch). */
const EPOCH = Date.UTC(2025, 0, 1);

export interface SimOptions {
  /** Seeds latencies and tick phases. */
  seed?: number;
  /** One-way link latency range in ms; each link draws one fixed value. */
  latency?: [number, number];
  /** TUN MTU each Router announces and packs control frames to. */
  mtu?: number;
  /** Share signature checks between nodes (a cache keyed by the announcement's bytes). Off by
   *  default: each node then verifies every new announcement it receives, as a real node does. */
  shareVerification?: boolean;
  /** Share of frames lost on every link, each independently (seeded): routing control travels
   *  over UDP, so it must converge without any frame being sure to arrive. */
  loss?: number;
  /** Key pairs to use for nodes 0..n-1 (key generation is ~17 ms per key here); fresh ones if absent. */
  keys?: KeyPair[];
}

interface SimNode {
  index: number;
  keys: KeyPair;
  address: Uint8Array;
  router: Router;
  alive: boolean;
  /** Bumped when the node restarts, so frames sent to its previous Router are not delivered. */
  epoch: number;
  /** When in each TICK_MS period it ticks (ms). */
  phase: number;
  /** How far its wall clock is off the virtual one (ms; restartNode can set it). */
  clockOffset: number;
  /** peers[ifindex] = neighbour node; ifindex 0 is unused (-1). */
  peers: number[];
  ifaceTo: Map<number, number>;
  sentFrames: number;
  sentBytes: number;
  /** routesChanged fired since the last convergence check of this node. */
  changed: boolean;
  /** Passed the last convergence check and has not changed since. */
  ok: boolean;
}

/** A frame in flight. */
interface SimEvent {
  t: number;
  seq: number;
  /** The interface index at `to` the frame arrives on. */
  link: number;
  to: number;
  epoch: number;
  frame: Uint8Array;
  /** Generation of the link when sent: a frame in flight dies with its link. */
  gen: number;
}

/** Binary min-heap of events by (t, seq). */
class EventQueue {
  private readonly heap: SimEvent[] = [];
  get size(): number {
    return this.heap.length;
  }
  peek(): SimEvent | undefined {
    return this.heap[0];
  }
  push(e: SimEvent): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }
  pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

export interface Traffic {
  frames: number;
  bytes: number;
}

export interface RouteCheck {
  /** Routes examined. */
  routes: number;
  /** Pairs that should have a route (same component, within MAX_HOPS) but have none. */
  missing: number;
  /** Routes to nodes that are down or in another component (not yet withdrawn). */
  stale: number;
  /** Routes whose label does not lead to the destination over links that are up, or whose
   *  hops/path disagree with the label walk. */
  bad: number;
  /** Routes whose label walk is right but is longer than the shortest path (stretch > 1). */
  stretched: number;
  stretchMean: number;
  stretchMax: number;
  /** Pairs farther apart than MAX_HOPS (no route is expected for them). */
  beyondMaxHops: number;
  /** The first few problems, described. */
  problems: string[];
}

export class Simulation {
  readonly graph: Graph;
  readonly nodes: SimNode[] = [];
  /** Virtual time in ms. */
  now = 0;
  /** Virtual time of the last topology change (start, failure, restore). */
  changedAt = 0;
  /** Signature checks run (with a shared cache: cache misses only). */
  verifications = 0;
  /** routesChanged() calls, all nodes together, and the virtual time of the latest. */
  routeChanges = 0;
  lastRouteChange = 0;
  private readonly queue = new EventQueue();
  // Ticks are not queued: every node ticks once per TICK_MS at its own phase, so they are walked
  // in phase order, period after period (tickOrder[tickNext] is next, in the period at tickBase).
  private readonly tickOrder: number[];
  private tickNext = 0;
  private tickBase = 0;
  private ticking = false;
  private seq = 0;
  private readonly random: () => number;
  private readonly lossRandom: () => number;
  private readonly latencyRange: [number, number];
  private readonly loss: number;
  /** Frames lost to `loss`. */
  lostFrames = 0;
  private readonly mtu: number;
  private readonly verifyCache: Map<string, boolean> | null;
  /** Keys and their addresses, hashed once for all routers (lsdb.ts: IdentityMemo; each record
   *  holds its own identity still). */
  private readonly identityMemo: IdentityMemo = new Map();
  /** Link key (a*n+b, a<b) → generation while up; absent while down. */
  private readonly linkGen = new Map<number, number>();
  private readonly latency = new Map<number, number>();
  private nextGen = 1;
  private readonly byAddress = new AddressTable<number>();
  private readonly byKeyPrefix = new Map<number, number[]>();
  /** Hop distances over the live graph, n×n, -1 unreachable; recomputed after a change. */
  private dist: Int32Array | null = null;

  constructor(graph: Graph, options: SimOptions = {}) {
    this.graph = graph;
    this.random = rng(options.seed ?? 1);
    // A stream of its own, so a lossy run draws the same latencies and phases as a clean one.
    this.lossRandom = rng((options.seed ?? 1) ^ 0x10553);
    this.latencyRange = options.latency ?? [1, 20];
    this.loss = options.loss ?? 0;
    this.mtu = options.mtu ?? 1420;
    this.verifyCache = options.shareVerification ? new Map() : null;
    for (let i = 0; i < graph.n; i++) {
      const keys = options.keys?.[i] ?? generateKeyPair();
      const address = fcAddressBytes(keys.publicKey);
      this.byAddress.set(address, i);
      const prefix = keyPrefix(keys.publicKey);
      const list = this.byKeyPrefix.get(prefix);
      if (list) list.push(i);
      else this.byKeyPrefix.set(prefix, [i]);
      const node: SimNode = {
        index: i,
        keys,
        address,
        router: null as unknown as Router,
        alive: true,
        epoch: 0,
        phase: this.random() * TICK_MS,
        clockOffset: 0,
        peers: [-1],
        ifaceTo: new Map(),
        sentFrames: 0,
        sentBytes: 0,
        changed: true,
        ok: false,
      };
      for (const peer of graph.adjacency[i]!) {
        node.ifaceTo.set(peer, node.peers.length);
        node.peers.push(peer);
      }
      node.router = this.makeRouter(node);
      this.nodes.push(node);
    }
    this.tickOrder = this.nodes.map((x) => x.index).sort((a, b) => this.nodes[a]!.phase - this.nodes[b]!.phase);
    const [lo, hi] = this.latencyRange;
    for (const [a, b] of graph.edges) this.latency.set(this.linkKey(a, b), lo + (hi - lo) * this.random());
  }

  private makeRouter(node: SimNode): Router {
    const epoch = node.epoch;
    return new Router({
      identity: node.keys,
      mtu: this.mtu,
      send: (link, frame) => this.send(node, epoch, link, frame),
      now: () => this.now,
      wallNow: () => EPOCH + this.now + node.clockOffset,
      routesChanged: () => {
        node.changed = true;
        this.routeChanges++;
        this.lastRouteChange = this.now;
      },
      verify: (a) => this.verify(a),
      identityMemo: this.identityMemo,
      // The whole map, unscoped: this simulator measures link state over every node (the
      // scoped map runs with the trees and lookups, in agent-sim.ts).
      scope: { radius: Infinity },
    });
  }

  private verify(a: Announcement): boolean {
    if (!this.verifyCache) {
      this.verifications++;
      return verifyAnnouncement(a);
    }
    const key = Buffer.from(a.bytes.buffer, a.bytes.byteOffset, a.bytes.length).toString('latin1');
    let ok = this.verifyCache.get(key);
    if (ok === undefined) {
      this.verifications++;
      ok = verifyAnnouncement(a);
      this.verifyCache.set(key, ok);
    }
    return ok;
  }

  private linkKey(a: number, b: number): number {
    return a < b ? a * this.graph.n + b : b * this.graph.n + a;
  }

  linkIsUp(a: number, b: number): boolean {
    return this.linkGen.has(this.linkKey(a, b));
  }

  private send(node: SimNode, epoch: number, link: number, frame: Uint8Array): void {
    // A Router of a failed or restarted node is gone: it sends nothing more.
    if (!node.alive || node.epoch !== epoch) return;
    const peer = node.peers[link];
    if (peer === undefined || link === 0) throw new Error(`node ${node.index} sent on unknown interface ${link}`);
    const key = this.linkKey(node.index, peer);
    const gen = this.linkGen.get(key);
    if (gen === undefined) throw new Error(`node ${node.index} sent on interface ${link}, which is down`);
    node.sentFrames++;
    node.sentBytes += frame.length;
    if (this.loss > 0 && this.lossRandom() < this.loss) {
      this.lostFrames++;
      return;
    }
    const to = this.nodes[peer]!;
    this.queue.push({
      t: this.now + this.latency.get(key)!,
      seq: this.seq++,
      link: to.ifaceTo.get(node.index)!,
      to: peer,
      epoch: to.epoch,
      frame,
      gen,
    });
  }

  /** Brings every node and link up at the current time (a cold start of the whole network). */
  start(): void {
    if (this.ticking) throw new Error('already started');
    this.ticking = true;
    this.tickBase = Math.ceil(this.now / TICK_MS) * TICK_MS;
    for (const [a, b] of this.graph.edges) this.linkUp(a, b);
    this.topologyChanged();
  }

  private linkUp(a: number, b: number): void {
    this.linkGen.set(this.linkKey(a, b), this.nextGen++);
    const na = this.nodes[a]!;
    const nb = this.nodes[b]!;
    na.router.linkUp(na.ifaceTo.get(b)!, nb.keys.publicKey);
    nb.router.linkUp(nb.ifaceTo.get(a)!, na.keys.publicKey);
  }

  private linkDown(a: number, b: number): void {
    if (!this.linkGen.delete(this.linkKey(a, b))) return;
    for (const [x, y] of [[a, b], [b, a]] as const) {
      const node = this.nodes[x]!;
      if (node.alive) node.router.linkDown(node.ifaceTo.get(y)!);
    }
  }

  private topologyChanged(): void {
    this.changedAt = this.now;
    this.dist = null;
    for (const node of this.nodes) node.ok = false;
  }

  /** Takes one link down; both ends see linkDown at once (failure detection time not included). */
  failLink(a: number, b: number): void {
    if (!this.linkIsUp(a, b)) throw new Error(`link ${a}-${b} is not up`);
    this.linkDown(a, b);
    this.topologyChanged();
  }

  restoreLink(a: number, b: number): void {
    if (this.linkIsUp(a, b)) throw new Error(`link ${a}-${b} is already up`);
    if (!this.nodes[a]!.alive || !this.nodes[b]!.alive) throw new Error(`an end of ${a}-${b} is down`);
    this.linkUp(a, b);
    this.topologyChanged();
  }

  /** A node vanishes: its neighbours see linkDown on their links to it. */
  failNode(n: number): void {
    const node = this.nodes[n]!;
    if (!node.alive) throw new Error(`node ${n} is already down`);
    for (const peer of this.graph.adjacency[n]!) this.linkDown(n, peer);
    node.alive = false;
    this.topologyChanged();
  }

  /** A failed node comes back with the same key and a fresh Router (empty LSDB, as after a
   *  daemon restart), and its links to live neighbours come up. `clockOffsetMs` sets its wall
   *  clock off the others' (negative: a clock that went back, so its new sequence numbers are
   *  below the ones it announced before the restart). */
  restartNode(n: number, clockOffsetMs = 0): void {
    const node = this.nodes[n]!;
    if (node.alive) throw new Error(`node ${n} is up`);
    node.alive = true;
    node.epoch++;
    node.clockOffset = clockOffsetMs;
    node.router = this.makeRouter(node);
    for (const peer of this.graph.adjacency[n]!) if (this.nodes[peer]!.alive) this.linkUp(n, peer);
    this.topologyChanged();
  }

  /** Runs every delivery and tick up to virtual time `t` (a delivery first when they tie). */
  runUntil(t: number): void {
    const order = this.tickOrder;
    for (;;) {
      const e = this.queue.peek();
      const tickAt = this.ticking ? this.tickBase + this.nodes[order[this.tickNext]!]!.phase : Infinity;
      if (e && e.t <= t && e.t <= tickAt) {
        this.queue.pop();
        this.now = e.t;
        const node = this.nodes[e.to]!;
        if (node.alive && node.epoch === e.epoch && this.linkGen.get(this.linkKey(e.to, node.peers[e.link]!)) === e.gen) {
          node.router.receive(e.link, e.frame);
        }
      } else if (tickAt <= t) {
        this.now = tickAt;
        const node = this.nodes[order[this.tickNext]!]!;
        if (node.alive) node.router.tick();
        if (++this.tickNext === order.length) {
          this.tickNext = 0;
          this.tickBase += TICK_MS;
        }
      } else break;
    }
    this.now = t;
  }

  run(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Virtual ms from the last topology change until converged (checked every TICK_MS), or null if
   *  not converged `limitMs` after that change. */
  converge(limitMs = 600_000): number | null {
    for (;;) {
      if (this.converged()) return this.now - this.changedAt;
      if (this.now - this.changedAt >= limitMs) return null;
      this.runUntil((Math.floor(this.now / TICK_MS) + 1) * TICK_MS);
    }
  }

  /**
   * Virtual ms from the last topology change to the last route change it caused: runs until
   * converged and no node's routes have changed for `quietMs`. After a link comes back, routes
   * are usable at once (converge() returns 0) but move to the shorter path later: this says when.
   */
  quiesce(quietMs = 10_000, limitMs = 600_000): number | null {
    for (;;) {
      const last = Math.max(this.lastRouteChange, this.changedAt);
      if (this.now - last >= quietMs && this.converged()) return last - this.changedAt;
      if (this.now - this.changedAt >= limitMs) return null;
      this.runUntil((Math.floor(this.now / TICK_MS) + 1) * TICK_MS);
    }
  }

  /** Virtual ms from the last topology change until converged and no live node still holds a
   *  route to a node it can no longer reach (failed, or cut off), or null after `limitMs`. */
  settle(limitMs = 600_000): number | null {
    for (;;) {
      if (this.converged() && this.withdrawn()) return this.now - this.changedAt;
      if (this.now - this.changedAt >= limitMs) return null;
      this.runUntil((Math.floor(this.now / TICK_MS) + 1) * TICK_MS);
    }
  }

  /** True when no live node holds a route to a node it cannot reach. */
  withdrawn(): boolean {
    const n = this.graph.n;
    const dist = this.distances();
    for (const node of this.nodes) {
      if (!node.alive) continue;
      let reachable = 0;
      for (let j = 0; j < n; j++) if (dist[node.index * n + j]! >= 1) reachable++;
      if (node.router.routes().length > reachable) return false;
    }
    return true;
  }

  /** Hop distance between two nodes over what is up (-1: unreachable). */
  distance(a: number, b: number): number {
    return this.distances()[a * this.graph.n + b]!;
  }

  private distances(): Int32Array {
    if (this.dist) return this.dist;
    const n = this.graph.n;
    const dist = new Int32Array(n * n).fill(-1);
    const nodeUp = (i: number): boolean => this.nodes[i]!.alive;
    const linkUp = (a: number, b: number): boolean => this.linkIsUp(a, b);
    for (let i = 0; i < n; i++) if (this.nodes[i]!.alive) dist.set(bfs(this.graph, i, nodeUp, linkUp), i * n);
    return (this.dist = dist);
  }

  /** True when every live node has a route to every node it can reach within MAX_HOPS, and each
   *  route's label leads to its destination over nodes and links that are up. Only nodes whose
   *  routes changed since their last pass are examined again. */
  converged(): boolean {
    let all = true;
    for (const node of this.nodes) {
      if (!node.alive) continue;
      if (node.changed) {
        node.changed = false;
        node.ok = false;
      }
      if (!node.ok) node.ok = this.nodeConverged(node);
      if (!node.ok) all = false;
    }
    return all;
  }

  private nodeConverged(node: SimNode): boolean {
    const n = this.graph.n;
    const dist = this.distances();
    const base = node.index * n;
    // Cheap pass first (lookups allocate nothing), so an incomplete node costs little.
    for (let j = 0; j < n; j++) {
      const d = dist[base + j]!;
      if (d >= 1 && d <= MAX_HOPS && !node.router.lookup(this.nodes[j]!.address, 0)) return false;
    }
    for (let j = 0; j < n; j++) {
      const d = dist[base + j]!;
      if (d < 1 || d > MAX_HOPS) continue;
      // Walked by label, not by Route.path: a data packet follows the label, and the path (built
      // on demand by the Router) would cost memory a node does not otherwise spend.
      const route = node.router.lookup(this.nodes[j]!.address, 0)!;
      if (route.hops !== route.label.length + 1) return false;
      let at = node.index;
      for (let k = 0; k < route.hops; k++) {
        const next = this.nodes[at]!.peers[k === 0 ? route.link : route.label[k - 1]!];
        if (next === undefined || next < 0 || !this.nodes[next]!.alive || !this.linkIsUp(at, next)) return false;
        at = next;
      }
      if (at !== j) return false;
    }
    return true;
  }

  /** Node index of a public key, or -1. */
  indexOfKey(key: Uint8Array): number {
    const list = this.byKeyPrefix.get(keyPrefix(key));
    if (list) for (const i of list) if (equalBytes(this.nodes[i]!.keys.publicKey, key)) return i;
    return -1;
  }

  indexOfAddress(address: Uint8Array): number {
    return this.byAddress.lookup(address, 0) ?? -1;
  }

  /**
   * Every route of the given source nodes (default all live ones) checked against the graph:
   * follows its first link and then its label, interface index by interface index, over links
   * that are up, and compares where it arrives with the destination, the hop count and the path;
   * then measures stretch (hops / BFS distance).
   */
  checkRoutes(sources?: number[]): RouteCheck {
    const n = this.graph.n;
    const dist = this.distances();
    const out: RouteCheck = {
      routes: 0,
      missing: 0,
      stale: 0,
      bad: 0,
      stretched: 0,
      stretchMean: 0,
      stretchMax: 0,
      beyondMaxHops: 0,
      problems: [],
    };
    const problem = (s: string): void => {
      if (out.problems.length < 10) out.problems.push(s);
    };
    let stretchSum = 0;
    let stretchCount = 0;
    for (const i of sources ?? this.nodes.filter((x) => x.alive).map((x) => x.index)) {
      const node = this.nodes[i]!;
      if (!node.alive) continue;
      const routes = node.router.routes();
      const has = new Uint8Array(n);
      for (const route of routes) {
        out.routes++;
        const j = this.indexOfAddress(route.address);
        if (j < 0) {
          out.bad++;
          problem(`node ${i}: route to an address no node has`);
          continue;
        }
        has[j] = 1;
        const d = dist[i * n + j]!;
        if (d < 1) {
          out.stale++;
          continue;
        }
        const walk = this.walk(i, route);
        if (walk.error) {
          out.bad++;
          problem(`node ${i} → ${j} (distance ${d}, hops ${route.hops}): ${walk.error}`);
          continue;
        }
        const stretch = route.hops / d;
        stretchSum += stretch;
        stretchCount++;
        if (stretch > 1) out.stretched++;
        if (stretch > out.stretchMax) out.stretchMax = stretch;
      }
      for (let j = 0; j < n; j++) {
        const d = dist[i * n + j]!;
        if (d > MAX_HOPS) out.beyondMaxHops++;
        else if (d >= 1 && !has[j]) {
          out.missing++;
          problem(`node ${i} → ${j} (distance ${d}): no route`);
        }
      }
    }
    out.stretchMean = stretchCount ? stretchSum / stretchCount : 0;
    return out;
  }

  /** Follows a route's first link and label from node `from`; says what went wrong, if anything. */
  private walk(from: number, route: Route): { error?: string } {
    const dest = this.indexOfAddress(route.address);
    if (route.hops !== route.label.length + 1) return { error: `hops ${route.hops} but label has ${route.label.length} slots` };
    // Read once: a route may make its path at each read (spf.ts).
    const path = route.path;
    if (path.length !== route.hops) return { error: `hops ${route.hops} but path has ${path.length} keys` };
    if (!equalBytes(route.publicKey, this.nodes[dest]!.keys.publicKey)) return { error: 'publicKey does not match address' };
    let at = from;
    for (let k = 0; k < route.hops; k++) {
      const iface = k === 0 ? route.link : route.label[k - 1]!;
      const next = this.nodes[at]!.peers[iface];
      if (iface === 0 || next === undefined) return { error: `hop ${k + 1}: node ${at} has no interface ${iface}` };
      if (!this.nodes[next]!.alive || !this.linkIsUp(at, next)) return { error: `hop ${k + 1}: link ${at}-${next} is down` };
      if (!equalBytes(path[k]!, this.nodes[next]!.keys.publicKey)) {
        return { error: `hop ${k + 1}: label leads to ${next}, path says ${this.indexOfKey(path[k]!)}` };
      }
      at = next;
    }
    if (at !== dest) return { error: `label ends at ${at}` };
    return {};
  }

  /** Frames and bytes sent so far, summed over all nodes. */
  traffic(): Traffic {
    let frames = 0;
    let bytes = 0;
    for (const node of this.nodes) {
      frames += node.sentFrames;
      bytes += node.sentBytes;
    }
    return { frames, bytes };
  }

  liveNodes(): number {
    return this.nodes.reduce((c, x) => c + (x.alive ? 1 : 0), 0);
  }

  /** Routing state per live node: route entries and Router.stats(), mean and max. */
  state(): { routes: Spread; announcements: Spread; links: Spread; bytes: Spread } {
    const live = this.nodes.filter((x) => x.alive);
    const stats = live.map((x) => x.router.stats());
    return {
      routes: spread(live.map((x) => x.router.routes().length)),
      announcements: spread(stats.map((s) => s.announcements)),
      links: spread(stats.map((s) => s.links)),
      bytes: spread(stats.map((s) => s.bytes)),
    };
  }

  /** Per-node sent frames/bytes, to find the busiest node. */
  sentPerNode(): Traffic[] {
    return this.nodes.map((x) => ({ frames: x.sentFrames, bytes: x.sentBytes }));
  }

  /** The Router of node i, for tests that look inside. */
  router(i: number): Router {
    return this.nodes[i]!.router;
  }

  /** Frames in flight. */
  get inFlight(): number {
    return this.queue.size;
  }
}

export interface Spread {
  mean: number;
  max: number;
}

function spread(values: number[]): Spread {
  let sum = 0;
  let max = 0;
  for (const v of values) {
    sum += v;
    if (v > max) max = v;
  }
  return { mean: values.length ? sum / values.length : 0, max };
}

function keyPrefix(key: Uint8Array): number {
  return ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `n` fresh key pairs (real ones: generateKeyPair draws ~256 keys per rovy key). */
export function generateKeys(n: number): KeyPair[] {
  return Array.from({ length: n }, generateKeyPair);
}
