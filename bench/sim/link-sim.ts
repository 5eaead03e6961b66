// The self-maintaining set of links (src/node/link-keeper.ts) on every node of a graph, on a
// virtual clock: what shape the mesh keeps when nodes come and go.
//
// The model. A graph's links are the nodes' configured peers at the start (kept as long as both
// ends live; never dropped by a keeper). Any node can reach any other on the underlay, as on the
// Internet, and every node accepts up to `maxInbound` links from others. Each node runs the real
// LinkKeeper with a target of links; its candidates are the bootstrap nodes and what its
// neighbours tell it (peer exchange: each round a node learns up to `exchange` random neighbours
// of one random neighbour, and forgets candidates after `candidateRounds` rounds; at most
// `maxCandidates` held). A link is worth the destinations whose shortest path from the node
// starts with it (a BFS per node, as routing would choose); there is no traffic in the model.
// A link to a node that left is down; its keeper drops it after deadAfterMs.
//
// Churn: a share of the nodes (never the bootstrap nodes: they are the public nodes newcomers
// join through) leave at once, and as many new nodes join knowing only the bootstrap nodes.
import { LinkKeeper, DEFAULT_KEEPER_OPTIONS, type KeptLink } from '../../src/node/link-keeper.js';
import { rng, type Graph } from './graph.js';

/** An inbound link is let go for a newcomer only if its node has this many links up (it keeps others). */
const EVICT_MIN_DEGREE = 3;

export interface LinkSimOptions {
  target: number;
  maxInbound: number;
  /** Virtual ms between a node's rounds. */
  roundMs: number;
  /** Candidates learned per round from one neighbour, and how long they are kept, in rounds. */
  exchange: number;
  candidateRounds: number;
  maxCandidates: number;
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
  candidates: Map<number, number>; // candidate → round it was learned
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
      this.exchange();
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
    return { alive: true, links: new Map(), inbound: 0, candidates: new Map(), keeper: null };
  }

  private keeperFor(i: number): LinkKeeper {
    const node = this.nodes[i]!;
    return new LinkKeeper(
      { ...DEFAULT_KEEPER_OPTIONS, target: this.options.target, replaceEveryMs: this.options.replaceEveryMs ?? DEFAULT_KEEPER_OPTIONS.replaceEveryMs },
      {
        links: () => this.keptLinks(i),
        candidates: () => [...new Set([...this.bootstrap, ...node.candidates.keys()])].filter((c) => c !== i && !node.links.has(c)).map(String),
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
  }

  private unlink(i: number, j: number): void {
    this.dropped++;
    this.nodes[i]!.links.delete(j);
    const other = this.nodes[j]!;
    if (other.links.delete(i)) other.inbound = Math.max(0, other.inbound - 1);
  }

  /** Peer exchange: each living node learns some neighbours of one random up neighbour. */
  private exchange(): void {
    const { exchange, candidateRounds, maxCandidates } = this.options;
    for (let i = 0; i < this.nodes.length; i++) {
      const node = this.nodes[i]!;
      if (!node.alive) continue;
      for (const [c, at] of node.candidates) if (this.round - at > candidateRounds || !this.nodes[c]!.alive) node.candidates.delete(c);
      const neighbours = this.upNeighbours(i);
      if (neighbours.length === 0) continue;
      const told = this.upNeighbours(neighbours[Math.floor(this.random() * neighbours.length)]!);
      for (let k = 0; k < exchange && told.length > 0; k++) {
        const c = told[Math.floor(this.random() * told.length)]!;
        if (c !== i && node.candidates.size < maxCandidates) node.candidates.set(c, this.round);
      }
    }
  }
}
