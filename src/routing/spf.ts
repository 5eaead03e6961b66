// Shortest paths from this node over the link-state database, and the routes they give.
//
// Dijkstra by announced cost, with an indexed binary heap over node ids. A link u→v is used only
// if v's own announcement lists u back (the two-way check): a node can claim any neighbour, but
// the claim counts only when the neighbour confirms it, and the neighbour's confirmation is signed
// by the neighbour. The source's links are its live links (not its last announcement), so a link
// that goes down leaves SPF at the next run, and one that comes up is used as soon as the
// neighbour's announcement lists this node.
//
// Ties are broken so that the result depends on the graph alone, not on the order announcements
// arrived in (which differs from node to node): among equally cheap paths to v, the one with
// fewer hops, then the one whose last node before v has the lower address. Every candidate for
// v's predecessor is settled before v (costs are >= 1), so all of them are compared.
//
// No node is expanded at MAX_HOPS hops, so no route is longer than that; a node whose cheapest
// path is longer may still be reached by a dearer, shorter one.
import { MAX_HOPS } from './constants.js';
import { LINK_STRIDE, identityAddress, identityKey, type Links, type Lsdb, type NodeRecord } from './lsdb.js';

/** A route; its label and address are read-only (and shared: do not modify them). Key and path
 *  may be made at each read (SPF's routes make them from the record's identity). */
export interface Route {
  /** The destination. */
  publicKey: Uint8Array;
  address: Uint8Array;
  /** This node's interface index for the first hop. */
  link: number;
  /** The interface index each transit node uses for its next hop, in order; length hops - 1. */
  label: Uint16Array;
  /** At least 1. */
  hops: number;
  /** The smallest announced MTU along the path, both ends included. */
  mtu: number;
  /** Public keys of the nodes after this one, the destination last (length hops). */
  path: Uint8Array[];
}

/** The links SPF starts from (this node's live links): LINK_STRIDE numbers each, as in a record
 *  (neighbour id in the database, our interface index for it, cost). */
export type SourceLinks = Links;

/** What a route update changed. */
export interface RouteChanges {
  /** Records whose route is new or replaced. */
  updated: NodeRecord[];
  /** Routes that no longer exist. */
  removed: Route[];
  /** Every record with a route now. */
  routed: NodeRecord[];
  /** Records whose route is now shorter than updateRoutes' `nearerThan` hops, and was not. */
  nearer: NodeRecord[];
}

const UNSEEN = 0;
const QUEUED = 1;
const SETTLED = 2;

const NO_LABEL = new Uint16Array(0);

const NO_INT32 = new Int32Array(0);
const NO_UINT16 = new Uint16Array(0);
const NO_UINT8 = new Uint8Array(0);

export class Spf {
  // Working state by id, made for a run and dropped once its routes are read (updateRoutes): a
  // router holds none of it between runs, which take a millisecond (in the simulator thousands
  // of routers each held 25 bytes an id for twice its id range, some 12 KiB a node).
  private dist = NO_INT32;
  private hops = NO_UINT8;
  private parent = NO_INT32;
  /** The interface index parent[v] announced for v (or, for the source's neighbours, ours). */
  private via = NO_UINT16;
  private state = NO_UINT8;
  /** The binary heap of queued ids, ordered by dist, and where each id sits in it. */
  private heap = NO_INT32;
  private heapPos = NO_INT32;
  /** Nodes settled by the last run, in order (the source first): parents before children. */
  private order = NO_INT32;
  private settled = 0;
  /** 1 if the route to this id changed its first hop, label or path in this update. */
  private reshaped = NO_UINT8;
  private source = -1;
  private runs = 0;

  /** Runs Dijkstra from `source` (an id of `lsdb`) over `links` and the database's graph. */
  compute(lsdb: Lsdb, source: number, links: SourceLinks): void {
    // All nine in one buffer, one allocation a run: five of int32s, one of uint16s, three of bytes.
    const size = lsdb.capacity;
    const buffer = new ArrayBuffer(25 * size);
    const int32s = (i: number) => new Int32Array(buffer, 4 * i * size, size);
    this.dist = int32s(0);
    this.parent = int32s(1);
    this.heapPos = int32s(2);
    this.heap = int32s(3);
    this.order = int32s(4);
    this.via = new Uint16Array(buffer, 20 * size, size);
    this.hops = new Uint8Array(buffer, 22 * size, size);
    this.state = new Uint8Array(buffer, 23 * size, size);
    this.reshaped = new Uint8Array(buffer, 24 * size, size);
    this.source = source;
    this.settled = this.search(lsdb, source, links);
  }

  // Dijkstra proper; returns how many nodes it settled. One function with the heap written inline
  // and nothing after its loop: V8 compiles a hot loop on its own (on-stack replacement) and keeps
  // that code, and a statement after the loop that had not run yet when it was compiled would
  // deoptimise it on every later call (measured: 2 ms instead of 0.5 ms on a 2025-node grid).
  private search(lsdb: Lsdb, source: number, links: SourceLinks): number {
    const { dist, hops, parent, via, state, order, heap, heapPos } = this;
    const records = lsdb.records;
    let size = 0;
    dist[source] = 0;
    hops[source] = 0;
    parent[source] = -1;
    state[source] = SETTLED;
    order[0] = source;
    let settled = 1;
    let u = source;
    let out = links;
    for (;;) {
      // Relax u's links: v is offered the path through u if v lists u back.
      const du = dist[u]!;
      const h = hops[u]! + 1;
      for (let j = 0; j < out.length; j += LINK_STRIDE) {
        const v = out[j]!;
        const s = state[v]!;
        if (s === SETTLED) continue;
        const target = records[v];
        if (target === undefined) continue;
        const back = target.links;
        let k = 0;
        while (k < back.length && back[k] !== u) k += LINK_STRIDE;
        if (k >= back.length) continue;
        const d = du + out[j + 2]!;
        if (s === UNSEEN || d < dist[v]!) {
          dist[v] = d;
          hops[v] = h;
          parent[v] = u;
          via[v] = out[j + 1]!;
          let i: number;
          if (s === UNSEEN) {
            state[v] = QUEUED;
            i = size++;
          } else i = heapPos[v]!;
          // Sift v up from its slot (a new last one, or its place before its dist dropped).
          while (i > 0) {
            const up = (i - 1) >> 1;
            const w = heap[up]!;
            if (dist[w]! <= d) break;
            heap[i] = w;
            heapPos[w] = i;
            i = up;
          }
          heap[i] = v;
          heapPos[v] = i;
        } else if (d === dist[v]! && (h < hops[v]! || (h === hops[v]! && lsdb.lowerAddress(u, parent[v]!)))) {
          hops[v] = h;
          parent[v] = u;
          via[v] = out[j + 1]!;
        }
      }
      // Settle the nearest queued node (the heap's top, replaced by its last, sifted down).
      // Nodes at MAX_HOPS are settled but not expanded.
      for (;;) {
        if (size === 0) return settled;
        u = heap[0]!;
        const last = heap[--size]!;
        if (size > 0) {
          const dl = dist[last]!;
          let i = 0;
          for (;;) {
            let c = 2 * i + 1;
            if (c >= size) break;
            if (c + 1 < size && dist[heap[c + 1]!]! < dist[heap[c]!]!) c++;
            const w = heap[c]!;
            if (dist[w]! >= dl) break;
            heap[i] = w;
            heapPos[w] = i;
            i = c;
          }
          heap[i] = last;
          heapPos[last] = i;
        }
        state[u] = SETTLED;
        order[settled++] = u;
        if (hops[u]! < MAX_HOPS) break;
      }
      out = records[u]!.links;
    }
  }

  /**
   * Turns the last computed tree into routes on the records (`record.route`), keeping the Route
   * object of every destination whose first hop, label, path and MTU are unchanged, so a caller
   * can tell a real change from a re-run. `previous` is the `routed` list of the last update.
   * Once per compute(): it drops the run's working state.
   */
  updateRoutes(lsdb: Lsdb, sourceMtu: number, previous: readonly NodeRecord[], nearerThan = 0): RouteChanges {
    // Released by the last update: its routes would all be read as gone.
    if (this.order === NO_INT32) throw new Error('Spf.updateRoutes: no run computed since the last update');
    const { hops, parent, via, order, reshaped } = this;
    const records = lsdb.records;
    const source = this.source;
    const run = ++this.runs;
    const updated: NodeRecord[] = [];
    const routed: NodeRecord[] = [];
    const nearer: NodeRecord[] = [];
    for (let k = 1; k < this.settled; k++) {
      const v = order[k]!;
      const record = records[v]!;
      const p = parent[v]!;
      const h = hops[v]!;
      // The route to v is the route to its parent (settled, so routed, before v) plus one hop.
      const before = p === source ? undefined : (records[p]!.route as HopRoute);
      const link = before ? before.link : via[v]!;
      const mtu = Math.min(before ? before.mtu : sourceMtu, record.mtu);
      const old = record.route as HopRoute | undefined;
      const sameShape =
        old !== undefined &&
        old.hops === h &&
        old.link === link &&
        (before === undefined ||
          (reshaped[p] === 0 && old.last === via[v] && old.previous!.identity === before.identity));
      reshaped[v] = sameShape ? 0 : 1;
      if (!sameShape || old.mtu !== mtu) {
        if (h < nearerThan && (old === undefined || old.hops >= nearerThan)) nearer.push(record);
        record.route = new HopRoute(record.identity, link, h, mtu, before, via[v]!);
        updated.push(record);
      }
      record.spfRun = run;
      routed.push(record);
    }
    const removed: Route[] = [];
    for (const record of previous) {
      if (record.spfRun === run || !record.route) continue;
      removed.push(record.route);
      record.route = undefined;
    }
    this.release();
    return { updated, removed, routed, nearer };
  }

  private release(): void {
    this.dist = this.parent = this.heap = this.heapPos = this.order = NO_INT32;
    this.hops = this.state = this.reshaped = NO_UINT8;
    this.via = NO_UINT16;
    this.settled = 0;
  }
}

/**
 * A route as the route to the node before the destination plus one hop, so building one costs
 * O(1) and holds no copy of its parent's label and path. Every router holds a route to every
 * node (2000 × 2000 in the simulator), so the label is made on first use, then kept, and so is
 * the address, which the send path asks for at each packet it sends along the route (it finds
 * the session by it). Key and path, which a listing or a new session asks for, are made at each
 * call from the record's identity.
 */
class HopRoute implements Route {
  private labelMade: Uint16Array | undefined;
  private addressMade: Uint8Array | undefined;

  constructor(
    /** The destination's record's (NodeRecord.identity). */
    readonly identity: string,
    readonly link: number,
    readonly hops: number,
    readonly mtu: number,
    /** The route to the node before the destination (none for a neighbour). */
    readonly previous: HopRoute | undefined,
    /** That node's interface index for the destination: the label's last slot. */
    readonly last: number,
  ) {}

  get label(): Uint16Array {
    if (this.labelMade) return this.labelMade;
    const label = this.hops > 1 ? new Uint16Array(this.hops - 1) : NO_LABEL;
    let i = this.hops - 2;
    for (let r: HopRoute = this; r.previous; r = r.previous) label[i--] = r.last;
    return (this.labelMade = label);
  }

  get publicKey(): Uint8Array {
    return identityKey(this.identity);
  }

  get address(): Uint8Array {
    return (this.addressMade ??= identityAddress(this.identity));
  }

  get path(): Uint8Array[] {
    const path = new Array<Uint8Array>(this.hops);
    let i = this.hops - 1;
    for (let r: HopRoute | undefined = this; r; r = r.previous) path[i--] = r.publicKey;
    return path;
  }
}
