// Graphs for the routing simulator: edge-list files (../shared/graphs/*.txt), a seeded random
// connected graph, and BFS hop distances — the shortest paths that routes are measured against.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/util/package-root.js';

/** An undirected simple graph on nodes 0..n-1. `adjacency[i]` lists i's neighbours in the order
 *  their links were added, which is also the order the simulator gives out interface indices. */
export interface Graph {
  name: string;
  n: number;
  edges: [number, number][];
  adjacency: number[][];
}

export function makeGraph(name: string, n: number, edges: [number, number][]): Graph {
  const adjacency: number[][] = Array.from({ length: n }, () => []);
  const seen = new Set<number>();
  const kept: [number, number][] = [];
  for (const [a, b] of edges) {
    // Self-loops and repeated links carry nothing for routing: a node has one link per neighbour.
    if (a === b) continue;
    const key = a < b ? a * n + b : b * n + a;
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push([a, b]);
    adjacency[a]!.push(b);
    adjacency[b]!.push(a);
  }
  return { name, n, edges: kept, adjacency };
}

/** Parses `A B` per line (arbitrary identifiers, blank lines ignored, final newline optional). */
export function parseEdgeList(name: string, text: string): Graph {
  const ids = new Map<string, number>();
  const id = (label: string): number => {
    let i = ids.get(label);
    if (i === undefined) ids.set(label, (i = ids.size));
    return i;
  };
  const edges: [number, number][] = [];
  for (const line of text.split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2 || fields[0] === '') continue;
    edges.push([id(fields[0]!), id(fields[1]!)]);
  }
  return makeGraph(name, ids.size, edges);
}

export function loadEdgeList(path: string): Graph {
  const name = path.replace(/^.*\//, '').replace(/\.txt$/, '');
  return parseEdgeList(name, readFileSync(path, 'utf8'));
}

/** A small seeded PRNG (mulberry32): the same seed gives the same graph, latencies and failures. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A random geometric graph: n points in the unit square, linked when closer than the radius that
 * gives `meanDegree` on average, then its components joined by their closest pair of points until
 * one remains. Geometric rather than Erdős–Rényi because a mesh links neighbours in space: paths
 * are long (diameter ~ sqrt(n)) and cycles local, which is what makes routing work hard.
 */
export function randomGeometricGraph(n: number, seed: number, meanDegree = 5): Graph {
  const random = rng(seed);
  const x = Float64Array.from({ length: n }, random);
  const y = Float64Array.from({ length: n }, random);
  // Expected degree of an inner point is (n-1)·π·r²; edge effects lower it a little.
  const r2 = meanDegree / ((n - 1) * Math.PI);
  const d2 = (i: number, j: number): number => (x[i]! - x[j]!) ** 2 + (y[i]! - y[j]!) ** 2;
  const edges: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (d2(i, j) < r2) edges.push([i, j]);
  for (;;) {
    const comp = components(makeGraph('', n, edges));
    if (comp.count === 1) break;
    // Join component 0 to the nearest point outside it.
    let best: [number, number] = [0, 0];
    let bestD = Infinity;
    for (let i = 0; i < n; i++) {
      if (comp.of[i] !== 0) continue;
      for (let j = 0; j < n; j++) if (comp.of[j] !== 0 && d2(i, j) < bestD) (bestD = d2(i, j)), (best = [i, j]);
    }
    edges.push(best);
  }
  return makeGraph(`random-${n}`, n, edges);
}

/**
 * A Holme–Kim power-law cluster graph, the shape of powerlaw-10000 (generated with networkx's
 * `powerlaw_cluster_graph(10000, 3, 0.3)`), at any size, to see how what a node holds and sends
 * grows with the mesh within one family of shapes. Nodes come one at a time, each with `m` links:
 * the first to a node drawn in proportion to its degree (preferential attachment), each further
 * one, with probability `p`, to a neighbour of the node it last linked to that it is not linked to
 * yet (closing a triangle), else to another node drawn by degree. The first `m` nodes start
 * unlinked, and the first newcomer links to all of them.
 */
export function holmeKimGraph(n: number, m: number, p: number, seed: number): Graph {
  const random = rng(seed);
  const adjacency: Set<number>[] = Array.from({ length: n }, () => new Set());
  const edges: [number, number][] = [];
  // Every node once per link it has (and the first m once each): drawing from it draws by degree.
  const byDegree: number[] = Array.from({ length: m }, (_, i) => i);
  const link = (a: number, b: number): void => {
    adjacency[a]!.add(b);
    adjacency[b]!.add(a);
    edges.push([a, b]);
    byDegree.push(b);
  };
  /** m distinct nodes drawn by degree. */
  const drawTargets = (): number[] => {
    const chosen = new Set<number>();
    while (chosen.size < m) chosen.add(byDegree[Math.floor(random() * byDegree.length)]!);
    return [...chosen];
  };
  for (let node = m; node < n; node++) {
    const targets = drawTargets();
    let target = targets.pop()!;
    link(node, target);
    for (let count = 1; count < m; count++) {
      if (random() < p) {
        const open = [...adjacency[target]!].filter((x) => x !== node && !adjacency[node]!.has(x));
        if (open.length > 0) {
          link(node, open[Math.floor(random() * open.length)]!);
          continue;
        }
      }
      // A target drawn before may have been linked as a triangle's third node meanwhile.
      do target = targets.pop() ?? drawTargets()[0]!;
      while (adjacency[node]!.has(target));
      link(node, target);
    }
    for (let i = 0; i < m; i++) byDegree.push(node);
  }
  return makeGraph(`holme-kim-${n}`, n, edges);
}

/** A square grid of `k` by `k` nodes, each linked to the nodes left, right, above and below
 *  it: grid4-2025's shape (k = 45) at any size. A grid's diameter grows with the square root of
 *  its nodes, where a power-law mesh's grows with their log; the trees are as deep as the mesh is
 *  wide, so it shows how state grows where the trees deepen with the mesh. */
export function gridGraph(k: number): Graph {
  const edges: [number, number][] = [];
  for (let y = 0; y < k; y++) {
    for (let x = 0; x < k; x++) {
      const node = y * k + x;
      if (x + 1 < k) edges.push([node, node + 1]);
      if (y + 1 < k) edges.push([node, node + k]);
    }
  }
  return makeGraph(`grid-${k}`, k * k, edges);
}

/**
 * The real-daemon scale test's shape (test/net/scale.test.ts) at `n` nodes, and its hub (the node
 * of most links): preferential attachment, one link per new node, so the first nodes become
 * hubs; then one more link from each of the hub's branches to the next, so that the mesh holds
 * together without the hub, by ways round it up to four times as long at 30 nodes. Seeded: the
 * first seed whose every node lies more than `farther` hops from some other node (of the first
 * thousand: a mesh too small has none).
 */
export function branchedPowerLaw(n: number, farther: number): { graph: Graph; hub: number } {
  if (n < 3) throw new Error(`branched-${n}: a hub needs two neighbours`);
  for (let seed = 1; seed <= 1000; seed++) {
    const random = rng(seed);
    const edges: [number, number][] = [[0, 1]];
    // Every link's two ends, so that a node is drawn in proportion to its degree.
    const ends = [0, 1];
    for (let v = 2; v < n; v++) {
      const u = ends[Math.floor(random() * ends.length)]!;
      edges.push([u, v]);
      ends.push(u, v);
    }
    const tree = makeGraph('tree', n, edges);
    const hub = tree.adjacency.reduce((best, adj, i) => (adj.length > tree.adjacency[best]!.length ? i : best), 0);
    // The hub's branches, each joined to the next by a link between random members.
    const branches: number[][] = [];
    for (const first of tree.adjacency[hub]!) {
      const dist = bfs(tree, first, (i) => i !== hub);
      branches.push([...dist.keys()].filter((i) => dist[i]! >= 0));
    }
    for (let b = 0; b + 1 < branches.length; b++) {
      const x = branches[b]![Math.floor(random() * branches[b]!.length)]!;
      const y = branches[b + 1]![Math.floor(random() * branches[b + 1]!.length)]!;
      edges.push([x, y]);
    }
    const graph = makeGraph(`branched-${n}, seed ${seed}`, n, edges);
    const farFromAll = graph.adjacency.every((_, i) => Math.max(...bfs(graph, i)) > farther);
    const withoutHub = bfs(graph, hub === 0 ? 1 : 0, (i) => i !== hub);
    if (farFromAll && withoutHub.every((d, i) => i === hub || d >= 0)) return { graph, hub };
  }
  throw new Error(`branched-${n}: no seed puts every node more than ${farther} hops from another`);
}

/** Hop distances from `source` over the nodes and links that are up (-1: unreachable). */
export function bfs(g: Graph, source: number, nodeUp?: (i: number) => boolean, linkUp?: (a: number, b: number) => boolean): Int32Array {
  const dist = new Int32Array(g.n).fill(-1);
  const queue = new Int32Array(g.n);
  let head = 0;
  let tail = 0;
  dist[source] = 0;
  queue[tail++] = source;
  while (head < tail) {
    const u = queue[head++]!;
    for (const v of g.adjacency[u]!) {
      if (dist[v] !== -1 || (nodeUp && !nodeUp(v)) || (linkUp && !linkUp(u, v))) continue;
      dist[v] = dist[u]! + 1;
      queue[tail++] = v;
    }
  }
  return dist;
}

/** Connected components: `of[i]` is i's component number. */
export function components(
  g: Graph,
  nodeUp?: (i: number) => boolean,
  linkUp?: (a: number, b: number) => boolean,
): { count: number; of: Int32Array } {
  const of = new Int32Array(g.n).fill(-1);
  let count = 0;
  for (let i = 0; i < g.n; i++) {
    if (of[i] !== -1 || (nodeUp && !nodeUp(i))) continue;
    const dist = bfs(g, i, nodeUp, linkUp);
    for (let j = 0; j < g.n; j++) if (dist[j]! >= 0) of[j] = count;
    count++;
  }
  return { count, of };
}

/** Shape figures for a table: degree, diameter (exact: one BFS per node). */
export function describe(g: Graph): { nodes: number; links: number; meanDegree: number; maxDegree: number; diameter: number } {
  let diameter = 0;
  for (let i = 0; i < g.n; i++) for (const d of bfs(g, i)) if (d > diameter) diameter = d;
  return {
    nodes: g.n,
    links: g.edges.length,
    meanDegree: (2 * g.edges.length) / g.n,
    maxDegree: Math.max(...g.adjacency.map((a) => a.length)),
    diameter,
  };
}

/** Where the shared graphs are: $ROVY_GRAPHS, or ../shared/graphs beside the repository (the
 *  benches run bundled from dist/bench/, so it is found from the package root). */
export function graphDir(moduleUrl: string): string {
  return process.env.ROVY_GRAPHS ?? join(packageRoot(moduleUrl) ?? process.cwd(), '..', 'shared', 'graphs');
}
