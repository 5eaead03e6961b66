// Routing at scale, in-process: 200 real Routers (real keys, real signatures, every node verifying)
// on a seeded random geometric graph, over the simulator's in-memory transport and virtual clock
// (bench/sim/). Checks full reachability, stretch against BFS shortest paths, that every label
// walks the graph to its destination, and recovery from a link and a node failure; then a
// 50-node line, the slowest shape to flood across. bench/routing.ts measures the same on more
// shapes and prints the numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { components, makeGraph, randomGeometricGraph, rng, type Graph } from '../../bench/sim/graph.js';
import { Simulation, type RouteCheck } from '../../bench/sim/simulator.js';

/** Virtual-time bound for any convergence below: flooding 200 nodes takes about a second. */
const LIMIT_MS = 60_000;

function assertRoutesGood(check: RouteCheck, what: string): void {
  assert.deepEqual(check.problems, [], `${what}: ${check.problems.join('; ')}`);
  assert.equal(check.missing, 0, `${what}: missing routes`);
  assert.equal(check.bad, 0, `${what}: labels that do not lead to their destination`);
}

/** A link whose loss leaves the graph connected, chosen by the seed. */
function linkOnCycle(g: Graph, seed: number): [number, number] {
  const random = rng(seed);
  for (;;) {
    const [a, b] = g.edges[Math.floor(random() * g.edges.length)]!;
    const cut = (x: number, y: number): boolean => !((x === a && y === b) || (x === b && y === a));
    if (components(g, undefined, cut).count === 1) return [a, b];
  }
}

const graph = randomGeometricGraph(200, 7);
let sim: Simulation;

test('200 nodes on a random graph: every node reaches every other, stretch <= 1.5, every label walks to its destination', () => {
  sim = new Simulation(graph, { seed: 7 });
  sim.start();
  const ms = sim.converge(LIMIT_MS);
  assert.notEqual(ms, null, 'did not converge');
  const check = sim.checkRoutes();
  assertRoutesGood(check, 'cold start');
  assert.equal(check.routes, 200 * 199, 'a route to every other node, nothing more');
  assert.equal(check.stale, 0);
  assert.ok(check.stretchMean <= 1.5, `mean stretch ${check.stretchMean}`);
});

test('a failed link on a cycle: routes move off it, then back when it returns', () => {
  const [a, b] = linkOnCycle(graph, 7);
  sim.failLink(a, b);
  assert.notEqual(sim.converge(LIMIT_MS), null, `no reconvergence after link ${a}-${b} failed`);
  assertRoutesGood(sim.checkRoutes(), `link ${a}-${b} down`);
  sim.restoreLink(a, b);
  assert.notEqual(sim.converge(LIMIT_MS), null, 'no reconvergence after the link came back');
  const check = sim.checkRoutes();
  assertRoutesGood(check, `link ${a}-${b} back`);
  assert.ok(check.stretchMean <= 1.5);
});

test('a failed node: routes avoid it, every route to it is withdrawn, and it rejoins after a restart', () => {
  // The node with the most neighbours: the most routes cross it.
  let node = 0;
  for (let i = 1; i < graph.n; i++) if (graph.adjacency[i]!.length > graph.adjacency[node]!.length) node = i;
  sim.failNode(node);
  assert.notEqual(sim.converge(LIMIT_MS), null, `no reconvergence after node ${node} failed`);
  assert.notEqual(sim.settle(LIMIT_MS), null, `routes to node ${node} (or nodes it cut off) never withdrawn`);
  const check = sim.checkRoutes();
  assertRoutesGood(check, `node ${node} down`);
  assert.equal(check.stale, 0);
  // Back with the same key and an empty database, as after a daemon restart.
  sim.restartNode(node);
  assert.notEqual(sim.converge(LIMIT_MS), null, `node ${node} did not rejoin`);
  const after = sim.checkRoutes();
  assertRoutesGood(after, `node ${node} restarted`);
  assert.equal(after.routes, 200 * 199);
});

test('a 50-node line (../shared/graphs/line-0050.txt) converges: 49 hops end to end', () => {
  const line = makeGraph('line-0050', 50, Array.from({ length: 49 }, (_, i) => [i, i + 1] as [number, number]));
  const s = new Simulation(line, { seed: 3, keys: sim.nodes.slice(0, 50).map((x) => x.keys) });
  s.start();
  assert.notEqual(s.converge(LIMIT_MS), null, 'the line did not converge');
  const check = s.checkRoutes();
  assertRoutesGood(check, 'line');
  assert.equal(check.stretchMax, 1);
  assert.equal(s.router(0).lookup(s.nodes[49]!.address, 0)?.hops, 49);
});
