// The self-maintaining set of links (src/node/link-keeper.ts) on every node of a graph, on a
// virtual clock: what shape the mesh keeps when nodes come and go.
//
// The model. A graph's links are the nodes' configured peers at the start (kept as long as both
// ends live; never dropped by a keeper). Any node can reach any other on the underlay, as on the
// Internet, and every node accepts up to `maxInbound` links from others. Each node runs the real
// LinkKeeper with a target of links; its candidates are the bootstrap nodes and the contact
// records in its book. Peer exchange is modelled as node/peer-exchange.ts does it, with its
// constants: every node publishes a record (all accept inbound links), valid an hour and signed
// anew every half hour; each neighbour gets a frame when a link comes up and every minute after,
// with the node's own record and up to 7 random ones from its book (never the neighbour's own);
// a book holds 512 records, the newest per node, and when full replaces the one expiring soonest.
// A node that left stays in books until its last record expires: dials to it fail. A link is
// worth the destinations whose shortest path from the node starts with it (a BFS per node, as
// routing would choose); there is no traffic in the model. A link to a node that left is down
// from then on; its keeper drops it deadAfterMs later.
//
// Churn: a share of the nodes (never the bootstrap nodes: they are the public nodes newcomers
// join through) leave at once, and as many new nodes join knowing only the bootstrap nodes.
import { LinkKeeper, DEFAULT_KEEPER_OPTIONS, type KeptLink } from '../../src/node/link-keeper.js';
import { DEFAULT_EXCHANGE_OPTIONS } from '../../src/node/peer-exchange.js';
import { MAX_CONTACTS } from '../../src/discovery/contact-book.js';
import { MAX_CONTACTS_PER_FRAME } from '../../src/discovery/exchange.js';
import { rng, type Graph } from './graph.js';

/** An inbound link is let go for a newcomer only if its node has this many links up (it keeps others). */
const EVICT_MIN_DEGREE = 3;

export interface LinkSimOptions {
  target: number;
  maxInbound: number;
  /** Virtual ms between a node's rounds. */
  roundMs: number;
  /** The public nodes newcomers know: this many of the best-linked nodes of the graph. */
  bootstrap: number;
  seed: number;
  /** Replace the least useful link this often (ms); Infinity: never (a control). */
  replaceEveryMs?: number;
}

interface SimNode {
  alive: boolean;
  /** Neighbour → the link: whether it came up, whether the keeper made it, and when. */
  links: Map<number, { up: boolean; managed: boolean; since: number }>;
  inbound: number;
  book: Book;
  /** When its own record expires, and when it signs a new one. */
  ownExpires: number;
  renewAt: number;
  /** Which round of each minute it sends its neighbours their frames. */
  phase: number;
  keeper: LinkKeeper | null;
}

export interface LinkSnapshot {
  minutes: number;
  alive: number;
  /** Share of the living nodes in the largest connected component (up links only). */
  giant: number;
  components: number;
  meanDegree: number;
  maxDegree: number;
  /** Links made and dropped by keepers since the last snapshot. */
  made: number;
  dropped: number;
}

export class LinkSim {
  readonly nodes: SimNode[] = [];
  private readonly random: () => number;
  private now = 0;
  private round = 0;
  private made = 0;
  private dropped = 0;
  readonly bootstrap: number[];

  constructor(
    graph: Graph,
    private readonly options: LinkSimOptions,
  ) {
    this.random = rng(options.seed);
    for (let i = 0; i < graph.n; i++) this.nodes.push(this.newNode());
    for (const [a, b] of graph.edges) this.link(a, b, false);
    for (const node of this.nodes) node.inbound = 0; // configured links are nobody's inbound
    this.bootstrap = [...this.nodes.keys()].sort((a, b) => this.nodes[b]!.links.size - this.nodes[a]!.links.size).slice(0, options.bootstrap);
    this.nodes.forEach((node, i) => (node.keeper = this.keeperFor(i)));
  }

  /** Runs `minutes` of virtual time, a round per node every roundMs, in random order. */
  run(minutes: number): void {
    const rounds = Math.round((minutes * 60_000) / this.options.roundMs);
    for (let r = 0; r < rounds; r++) {
      this.now += this.options.roundMs;
      this.round++;
      for (let i = 0; i < this.nodes.length; i++) if (this.nodes[i]!.alive) this.exchangeRound(i);
      const order = [...this.nodes.keys()].filter((i) => this.nodes[i]!.alive);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      this.routesCache.clear();
      for (const i of order) this.nodes[i]!.keeper!.tick(this.now);
    }
  }

  /** A share of the nodes leave (not the bootstrap nodes) and as many new ones join. */
  churn(share: number): void {
    const living = [...this.nodes.keys()].filter((i) => this.nodes[i]!.alive && !this.bootstrap.includes(i));
    const leaving = Math.round(share * living.length);
    for (let k = 0; k < leaving; k++) {
      const pick = Math.floor(this.random() * living.length);
      const i = living[pick]!;
      living[pick] = living[living.length - 1]!;
      living.pop();
      this.nodes[i]!.alive = false;
      // Its neighbours' links to it go down now.
      for (const j of this.nodes[i]!.links.keys()) {
        const theirs = this.nodes[j]!.links.get(i);
        if (theirs) theirs.since = this.now;
      }
    }
    for (let k = 0; k < leaving; k++) {
      const i = this.nodes.length;
      this.nodes.push(this.newNode());
      this.nodes[i]!.keeper = this.keeperFor(i);
    }
  }

  snapshot(): LinkSnapshot {
    const alive = this.nodes.filter((n) => n.alive).length;
    const seen = new Uint8Array(this.nodes.length);
    let giant = 0;
    let components = 0;
    let degrees = 0;
    let maxDegree = 0;
    for (let i = 0; i < this.nodes.length; i++) {
      const node = this.nodes[i]!;
      if (!node.alive) continue;
      const degree = this.upNeighbours(i).length;
      degrees += degree;
      maxDegree = Math.max(maxDegree, degree);
      if (seen[i]) continue;
      components++;
      let size = 0;
      const queue = [i];
      seen[i] = 1;
      while (queue.length > 0) {
        const v = queue.pop()!;
        size++;
        for (const w of this.upNeighbours(v)) {
          if (!seen[w]) {
            seen[w] = 1;
            queue.push(w);
          }
        }
      }
      giant = Math.max(giant, size);
    }
    const snap = { minutes: this.now / 60_000, alive, giant: giant / Math.max(1, alive), components, meanDegree: degrees / Math.max(1, alive), maxDegree, made: this.made, dropped: this.dropped };
    this.made = this.dropped = 0;
    return snap;
  }

  // ---- the model ---------------------------------------------------------------------------

  private newNode(): SimNode {
    const lifetime = DEFAULT_EXCHANGE_OPTIONS.lifetimeMs;
    return { alive: true, links: new Map(), inbound: 0, book: new Book(), ownExpires: this.now + lifetime, renewAt: this.now + lifetime / 2, phase: Math.floor(this.random() * this.roundsPerExchange), keeper: null };
  }

  private keeperFor(i: number): LinkKeeper {
    const node = this.nodes[i]!;
    return new LinkKeeper(
      { ...DEFAULT_KEEPER_OPTIONS, target: this.options.target, replaceEveryMs: this.options.replaceEveryMs ?? DEFAULT_KEEPER_OPTIONS.replaceEveryMs },
      {
        links: () => this.keptLinks(i),
        candidates: () => {
          const ids = new Set(this.bootstrap);
          for (const c of node.book.live(this.now)) ids.add(c);
          return [...ids].filter((c) => c !== i && !node.links.has(c)).map(String);
        },
        connect: (peerId) => this.dial(i, Number(peerId)),
        drop: (peerId) => this.unlink(i, Number(peerId)),
        random: (n) => Math.floor(this.random() * n),
      },
      this.now,
    );
  }

  private keptLinks(i: number): KeptLink[] {
    const node = this.nodes[i]!;
    const sim = this;
    return [...node.links].map(([j, l]) => ({
      peerId: String(j),
      up: l.up && this.nodes[j]!.alive,
      managed: l.managed,
      since: l.since,
      get routes(): number {
        return sim.routesThrough(i).get(j) ?? 0;
      },
      traffic: 0,
    }));
  }

  private readonly routesCache = new Map<number, Map<number, number>>();

  /** Per neighbour of i: how many nodes i's shortest paths reach first through it (BFS tree). */
  private routesThrough(i: number): Map<number, number> {
    let counts = this.routesCache.get(i);
    if (counts) return counts;
    counts = new Map();
    const first = new Map<number, number>([[i, -1]]);
    let frontier = [i];
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const v of frontier) {
        for (const w of this.upNeighbours(v)) {
          if (first.has(w)) continue;
          const via = v === i ? w : first.get(v)!;
          first.set(w, via);
          counts.set(via, (counts.get(via) ?? 0) + 1);
          next.push(w);
        }
      }
      frontier = next;
    }
    this.routesCache.set(i, counts);
    return counts;
  }

  private upNeighbours(i: number): number[] {
    const out: number[] = [];
    for (const [j, l] of this.nodes[i]!.links) if (l.up && this.nodes[j]!.alive) out.push(j);
    return out;
  }

  /** i links to j if j lives and has an inbound place left, or can make one by letting go of the
   *  inbound link whose node is best linked elsewhere (node/inbound.ts); else the dial fails:
   *  the link stays down and i's keeper drops it after deadAfterMs, backing off. */
  private dial(i: number, j: number): void {
    this.made++;
    const target = this.nodes[j]!;
    if (target.alive && (target.inbound < this.options.maxInbound || this.makeRoom(j))) {
      this.link(i, j, true);
      target.inbound++;
    } else this.nodes[i]!.links.set(j, { up: false, managed: true, since: this.now }); // never comes up
  }

  /** Drops the inbound link of j's whose far node has the most other links up (at least
   *  EVICT_MIN_DEGREE, so that it stays linked); false if none has. */
  private makeRoom(j: number): boolean {
    let best = -1;
    let bestDegree = EVICT_MIN_DEGREE - 1;
    for (const [k, l] of this.nodes[j]!.links) {
      const theirs = this.nodes[k]!.links.get(j);
      if (!l.up || l.managed || !theirs?.managed || !this.nodes[k]!.alive) continue; // not an inbound link of j's
      const degree = this.upNeighbours(k).length;
      if (degree > bestDegree) {
        best = k;
        bestDegree = degree;
      }
    }
    if (best < 0) return false;
    this.unlink(best, j);
    return true;
  }

  private link(a: number, b: number, managed: boolean): void {
    this.nodes[a]!.links.set(b, { up: true, managed, since: this.now });
    this.nodes[b]!.links.set(a, { up: true, managed: false, since: this.now });
    // A link coming up: each end sends the other a frame at once.
    this.sendFrame(a, b);
    this.sendFrame(b, a);
  }

  private unlink(i: number, j: number): void {
    this.dropped++;
    this.nodes[i]!.links.delete(j);
    const other = this.nodes[j]!;
    if (other.links.delete(i)) other.inbound = Math.max(0, other.inbound - 1);
  }

  private get roundsPerExchange(): number {
    return Math.max(1, Math.round(DEFAULT_EXCHANGE_OPTIONS.everyMs / this.options.roundMs));
  }

  /** Peer exchange, one round of node i: its record renewed when due, and on its round of the
   *  minute a frame to each up neighbour. */
  private exchangeRound(i: number): void {
    const node = this.nodes[i]!;
    if (this.now >= node.renewAt) {
      node.ownExpires = this.now + DEFAULT_EXCHANGE_OPTIONS.lifetimeMs;
      node.renewAt = this.now + DEFAULT_EXCHANGE_OPTIONS.lifetimeMs / 2;
    }
    if ((this.round + node.phase) % this.roundsPerExchange !== 0) return;
    for (const j of this.upNeighbours(i)) this.sendFrame(i, j);
  }

  /** A contacts frame from i to j: i's own record and up to 7 random ones of its book, not j's. */
  private sendFrame(i: number, j: number): void {
    const from = this.nodes[i]!;
    const to = this.nodes[j]!;
    if (!from.alive || !to.alive) return;
    to.book.offer(i, from.ownExpires, j, this.now);
    for (const c of from.book.sample(MAX_CONTACTS_PER_FRAME - 1, j, this.now, this.random)) to.book.offer(c, from.book.expiry(c), j, this.now);
  }
}

/** A node's contact book, as discovery/contact-book.ts keeps it: per node the latest expiry,
 *  at most MAX_CONTACTS, a full book replacing the record that expires soonest if the new one
 *  lasts longer. Keys in an array as well, for sampling at random without copying. */
class Book {
  private readonly expires = new Map<number, number>();
  private readonly keys: number[] = [];
  private readonly at = new Map<number, number>();

  expiry(c: number): number {
    return this.expires.get(c) ?? 0;
  }

  offer(c: number, expires: number, self: number, now: number): void {
    if (c === self || expires <= now) return;
    const held = this.expires.get(c);
    if (held !== undefined) {
      if (held < expires) this.expires.set(c, expires);
      return;
    }
    if (this.keys.length >= MAX_CONTACTS) {
      let soonest = -1;
      let soonestAt = Infinity;
      for (const k of this.keys) {
        const e = this.expires.get(k)!;
        if (e < soonestAt) [soonest, soonestAt] = [k, e];
      }
      if (soonestAt > now && soonestAt >= expires) return;
      this.remove(soonest);
    }
    this.expires.set(c, expires);
    this.at.set(c, this.keys.length);
    this.keys.push(c);
  }

  /** Up to n distinct unexpired records, none of `except`; expired ones met are dropped. */
  sample(n: number, except: number, now: number, random: () => number): number[] {
    const out: number[] = [];
    for (let tries = 0; out.length < n && tries < 3 * n && this.keys.length > 0; tries++) {
      const c = this.keys[Math.floor(random() * this.keys.length)]!;
      if (this.expires.get(c)! <= now) this.remove(c);
      else if (c !== except && !out.includes(c)) out.push(c);
    }
    return out;
  }

  /** Every unexpired record's node (the expired ones are dropped). */
  live(now: number): number[] {
    for (let k = this.keys.length - 1; k >= 0; k--) if (this.expires.get(this.keys[k]!)! <= now) this.remove(this.keys[k]!);
    return this.keys;
  }

  private remove(c: number): void {
    const k = this.at.get(c)!;
    const last = this.keys.pop()!;
    if (last !== c) {
      this.keys[k] = last;
      this.at.set(last, k);
    }
    this.at.delete(c);
    this.expires.delete(c);
  }
}
