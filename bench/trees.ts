// The spanning trees (src/routing/trees.ts) on the shared graphs, every node a real Trees agent
// with a real key and real signatures: how long the trees take to form from a cold start, what
// that costs in signatures and bytes, the state each node holds, the steady control traffic, the
// stretch of greedy routing over them (nextHop, best of all trees both ways), and how long the
// trees take to mend after a hub fails.
//
// Run:  npm run bench:trees [-- graph-name ...] [--pairs N] [--steady-min M]
import { TREE_COUNT } from '../src/routing/constants.js';
import { VerifiedSignatures } from '../src/routing/tree-proof.js';
import { Trees } from '../src/routing/trees.js';
import { benchArgs, graphFiles } from './sim/args.js';
import { AgentSim } from './sim/agent-sim.js';
import { bfs, graphDir, loadEdgeList, rng, type Graph } from './sim/graph.js';
import { quantiles } from './sim/summary.js';

const GRAPH_DIR = graphDir(import.meta.url);
const MTU = 1420;

type Sim = AgentSim<Trees>;

function makeSim(g: Graph, seed: number): Sim {
  // Signature checks are shared between the nodes (each still counts its own), so 10,000 nodes
  // cost one check per distinct signature.
  const shared = new Map<string, boolean>();
  return new AgentSim<Trees>(
    g,
    (io) =>
      new Trees({
        identity: io.keys,
        mtu: MTU,
        send: io.send,
        now: io.now,
        wallNow: io.wallNow,
        workDue: io.workDue,
        verified: new VerifiedSignatures({ now: io.now, shared }),
      }),
    { seed },
  );
}

/** Whether every live node of the component of `anchor` (within a label's reach of the root)
 *  agrees on each tree's root and sits at its BFS depth from it. */
function settled(sim: Sim, alive: (i: number) => boolean, anchor: number): boolean {
  const g = sim.graph;
  const reach = bfsAlive(g, anchor, alive);
  for (let t = 0; t < TREE_COUNT; t++) {
    // The root every node should have: the lowest rank in the component.
    let root = -1;
    for (let i = 0; i < g.n; i++) {
      if (reach[i]! < 0) continue;
      const p = sim.nodes[i]!.agent.position(t);
      if (p.depth === 0 && (root < 0 || compare(p.rank, sim.nodes[root]!.agent.position(t).rank) < 0)) root = i;
    }
    if (root < 0) return false;
    const rootKey = sim.nodes[root]!.keys.publicKey;
    const depth = bfsAlive(g, root, alive);
    for (let i = 0; i < g.n; i++) {
      if (reach[i]! < 0) continue;
      const agent = sim.nodes[i]!.agent;
      const p = agent.position(t);
      // A node deeper than a label reaches is in none of this root's tree (it is in the others).
      if (depth[i]! > 63) continue;
      if (!sameKey(p.beacon, rootKey) || p.depth !== depth[i]) return false;
    }
  }
  return true;
}

function bfsAlive(g: Graph, from: number, alive: (i: number) => boolean): Int32Array {
  const dist = new Int32Array(g.n).fill(-1);
  dist[from] = 0;
  const queue = [from];
  for (let q = 0; q < queue.length; q++) {
    const u = queue[q]!;
    for (const v of g.adjacency[u]!) {
      if (dist[v]! >= 0 || !alive(v)) continue;
      dist[v] = dist[u]! + 1;
      queue.push(v);
    }
  }
  return dist;
}

/** Hops of greedy forwarding from s to d in tree t over the agents' nextHop, or -1 if stuck. */
function greedyHops(sim: Sim, t: number, s: number, d: number): number {
  const target = sim.nodes[d]!.agent.position(t);
  const root = target.beacon.subarray(0, 32);
  let u = s;
  for (let hops = 0; hops <= 64; hops++) {
    const link = sim.nodes[u]!.agent.nextHop(t, root, target.coordinates);
    if (link === 0) return u === d ? hops : -1;
    if (link < 0) return -1;
    u = sim.nodes[u]!.peers[link]!;
  }
  return -1;
}

function stretch(sim: Sim, pairs: number, seed: number): { mean: number; p99: number; stuck: number } {
  const g = sim.graph;
  const random = rng(seed);
  const values: number[] = [];
  let stuck = 0;
  for (let p = 0; p < pairs; p++) {
    const s = Math.floor(random() * g.n);
    const d = Math.floor(random() * g.n);
    if (s === d) continue;
    const shortest = bfs(g, s)[d]!;
    if (shortest < 0 || shortest > 63) continue;
    let best = Infinity;
    for (let t = 0; t < TREE_COUNT; t++) {
      for (const h of [greedyHops(sim, t, s, d), greedyHops(sim, t, d, s)]) if (h >= 0 && h < best) best = h;
    }
    if (best === Infinity) stuck++;
    else values.push(best / shortest);
  }
  values.sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, p99: values[Math.floor(values.length * 0.99)] ?? NaN, stuck };
}

function runGraph(g: Graph, pairs: number, steadyMin: number): void {
  const started = performance.now();
  const sim = makeSim(g, 20261202);
  const setupS = (performance.now() - started) / 1000;
  sim.start();
  const everyone = () => true;
  const formed = sim.runUntilTrue(() => settled(sim, everyone, 0), 600_000, 500);
  const cold = sim.takeTraffic();
  let signed = 0;
  let checks = 0;
  for (const node of sim.nodes) {
    signed += node.agent.counters.linksSigned;
    checks += node.agent.verifiedChecks;
  }
  console.log(`${g.name}: ${g.n} nodes, ${g.edges.length} links (setup ${setupS.toFixed(1)} s)`);
  console.log(
    `  cold start: trees formed after ${formed === null ? 'NOT within 600 s' : `${(formed / 1000).toFixed(1)} s`} (virtual); ` +
      `${(cold.bytes / g.n / 1024).toFixed(1)} KiB sent per node, ${(signed / g.n).toFixed(1)} links signed and ${(checks / g.n).toFixed(0)} signatures checked per node`,
  );
  const state = new Float64Array(g.n);
  for (const node of sim.nodes) state[node.index] = node.agent.stateBytes();
  console.log(`  state per node (bytes): ${quantiles(state)}`);
  const perLink = Array.from(sim.nodes, (node) => node.agent.stateBytes() / Math.max(1, g.adjacency[node.index]!.length));
  console.log(`  state per node per link (bytes): ${quantiles(perLink)}`);
  sim.run(steadyMin * 60_000);
  const steady = sim.takeTraffic();
  const seconds = steadyMin * 60;
  const rate = Float64Array.from(steady.perNode, (b) => b / seconds);
  console.log(`  steady traffic over ${steadyMin} min (B/s per node): ${quantiles(rate)}`);
  const st = stretch(sim, pairs, 7);
  console.log(`  greedy stretch, best of ${TREE_COUNT} trees both ways: mean ${st.mean.toFixed(3)}, p99 ${st.p99.toFixed(2)}, stuck ${st.stuck}`);
  // A hub fails: how long until the trees are whole again around it.
  let hub = 0;
  for (let i = 1; i < g.n; i++) if (g.adjacency[i]!.length > g.adjacency[hub]!.length) hub = i;
  sim.failNode(hub);
  const failedAt = sim.now;
  const anchor = hub === 0 ? 1 : 0;
  const mended = sim.runUntilTrue(() => settled(sim, (i) => i !== hub, anchor), 600_000, 100);
  const repair = sim.takeTraffic();
  console.log(
    `  hub ${hub} (degree ${g.adjacency[hub]!.length}) fails: trees mended after ${mended === null ? 'NOT within 600 s' : `${((mended - failedAt) / 1000).toFixed(1)} s`}, ` +
      `${(repair.bytes / g.n / 1024).toFixed(2)} KiB sent per node`,
  );
  console.log(`  wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function sameKey(beacon: Uint8Array, key: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (beacon[i] !== key[i]) return false;
  return true;
}

const { values, names } = benchArgs({ pairs: '500', 'steady-min': '30' });
for (const file of graphFiles(GRAPH_DIR, names)) runGraph(loadEdgeList(file), Number(values.pairs), Number(values['steady-min']));
