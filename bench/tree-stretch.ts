// Issue 16's first question, answered on the graphs alone (no routers, no messages): how long are
// the paths of greedy routing over spanning trees, against shortest paths? Each of K trees is a
// BFS tree from a seeded random root; a node's place in a tree is its coordinates (its path from
// the root), and the tree distance of two nodes follows from theirs. A packet's source picks the
// tree in which the destination is nearest; each node on the way knows the nodes within R hops
// (link state of that radius) and steps toward the one nearest the destination in that tree (the
// destination itself, once it is within R). K = 1, R = 1 is yggdrasil's greedy routing over its
// one tree; larger K and R are what a design can buy with more state.
//
// Prints, per graph and (K, R): mean, p99 and max stretch over sampled pairs, the pairs greedy
// routing could not deliver, and the size of the R-hop neighbourhoods (the link state a node
// would hold). What a real design costs in messages and bytes is the simulator's to measure.
//
// Run:  npx esbuild --bundle --platform=node --format=esm --packages=external bench/tree-stretch.ts \
//         --outfile=dist/bench/tree-stretch.js && node dist/bench/tree-stretch.js [K,R ...] [--pairs N]
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bfs, graphDir, loadEdgeList, rng, type Graph } from './sim/graph.js';

const GRAPH_DIR = graphDir(import.meta.url);

interface Tree {
  parent: Int32Array;
  depth: Int32Array;
}

function bfsTree(g: Graph, root: number): Tree {
  const parent = new Int32Array(g.n).fill(-1);
  const depth = new Int32Array(g.n).fill(-1);
  depth[root] = 0;
  const queue = [root];
  for (let i = 0; i < queue.length; i++) {
    const u = queue[i]!;
    for (const v of g.adjacency[u]!) {
      if (depth[v]! >= 0) continue;
      depth[v] = depth[u]! + 1;
      parent[v] = u;
      queue.push(v);
    }
  }
  return { parent, depth };
}

/** Hops between a and b along the tree (through their lowest common ancestor). */
function treeDistance(t: Tree, a: number, b: number): number {
  let x = a;
  let y = b;
  let d = 0;
  while (t.depth[x]! > t.depth[y]!) (x = t.parent[x]!), d++;
  while (t.depth[y]! > t.depth[x]!) (y = t.parent[y]!), d++;
  while (x !== y) (x = t.parent[x]!), (y = t.parent[y]!), (d += 2);
  return d;
}

/** The nodes within r hops of u, with their distance and the first hop toward each. */
function neighbourhood(g: Graph, u: number, r: number): Map<number, { hops: number; first: number }> {
  const out = new Map([[u, { hops: 0, first: u }]]);
  const queue = [u];
  for (let i = 0; i < queue.length; i++) {
    const x = queue[i]!;
    const at = out.get(x)!;
    if (at.hops >= r) continue;
    for (const v of g.adjacency[x]!) {
      if (out.has(v)) continue;
      out.set(v, { hops: at.hops + 1, first: x === u ? v : at.first });
      queue.push(v);
    }
  }
  return out;
}

function run(g: Graph, k: number, r: number, pairs: number, seed: number): string {
  const random = rng(seed);
  const trees = Array.from({ length: k }, () => bfsTree(g, Math.floor(random() * g.n)));
  const balls = new Map<number, Map<number, { hops: number; first: number }>>();
  const ball = (u: number) => balls.get(u) ?? balls.set(u, neighbourhood(g, u, r)).get(u)!;
  const stretch: number[] = [];
  const bestStretch: number[] = [];
  let undelivered = 0;
  /** Hops of greedy routing from s to t in one tree, or -1 where it gets stuck. */
  const greedy = (tree: Tree, s: number, t: number): number => {
    let u = s;
    let hops = 0;
    while (u !== t && hops < 4 * g.n) {
      const near = ball(u);
      let target = u;
      if (near.has(t)) target = t;
      else {
        let best = treeDistance(tree, u, t);
        let bestHops = 0;
        for (const [w, { hops: h }] of near) {
          const d = treeDistance(tree, w, t);
          if (d < best || (d === best && h < bestHops)) [target, best, bestHops] = [w, d, h];
        }
      }
      if (target === u) return -1; // a local minimum: greedy routing is stuck
      u = near.get(target)!.first;
      hops++;
    }
    return u === t ? hops : -1;
  };
  for (let p = 0; p < pairs; p++) {
    const s = Math.floor(random() * g.n);
    const t = Math.floor(random() * g.n);
    const shortest = bfs(g, s)[t]!;
    if (s === t || shortest < 0) continue;
    let tree = trees[0]!;
    for (const candidate of trees) if (treeDistance(candidate, s, t) < treeDistance(tree, s, t)) tree = candidate;
    const hops = greedy(tree, s, t);
    if (hops >= 0) stretch.push(hops / shortest);
    else undelivered++;
    // What a source gets by probing every tree, out and back (the destination's answer travels
    // greedily too and records its own path), and keeping the shortest path found.
    let best = Infinity;
    for (const candidate of trees) {
      for (const h of [greedy(candidate, s, t), greedy(candidate, t, s)]) if (h >= 0 && h < best) best = h;
    }
    if (best < Infinity) bestStretch.push(best / shortest);
  }
  const sizes = Array.from({ length: Math.min(g.n, 500) }, () => ball(Math.floor(random() * g.n)).size);
  const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * f))]!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return `  K=${k} R=${r}: stretch mean ${mean(stretch).toFixed(3)}, p99 ${q(stretch, 0.99).toFixed(2)}, max ${q(stretch, 1).toFixed(2)}; undelivered ${undelivered}; best of K both ways: mean ${mean(bestStretch).toFixed(3)}, p99 ${q(bestStretch, 0.99).toFixed(2)}; nodes within R: mean ${mean(sizes).toFixed(0)}, p99 ${q(sizes, 0.99)}, max ${q(sizes, 1)}`;
}

const argv = process.argv.slice(2);
const pairsAt = argv.indexOf('--pairs');
const pairs = pairsAt >= 0 ? Number(argv[pairsAt + 1]) : 1000;
const settings = argv.filter((a, i) => /^\d+,\d+$/.test(a) && argv[i - 1] !== '--pairs').map((a) => a.split(',').map(Number) as [number, number]);
const chosen = settings.length > 0 ? settings : ([[1, 1], [4, 1], [8, 1], [1, 2], [8, 2]] as [number, number][]);
for (const file of readdirSync(GRAPH_DIR).filter((f) => f.endsWith('.txt')).sort()) {
  const g = loadEdgeList(join(GRAPH_DIR, file));
  console.log(`${file}: ${g.n} nodes, ${g.edges.length} links`);
  for (const [k, r] of chosen) console.log(run(g, k, r, pairs, 20261202));
}
