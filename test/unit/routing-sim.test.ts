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

/** Virtual-time bounds. A cold start is a tick, a flood across the graph (at most 20 ms a hop) and
 *  a tick: about 0.5 s here. A failure adds at most the 1 s an end may wait to re-announce. */
const COLD_MS = 5_000;
const REPAIR_MS = 3_000;
/** A frame lost costs the wait for the next request or refresh: bounds under 5 % loss. */
const LOSSY_COLD_MS = 15_000;
/** How long to keep running before calling something stuck. */
const LIMIT_MS = 60_000;
/** No route change for this long (virtual) and the routes are final. */
const QUIET_MS = 5_000;

/** Runs until every node has a usable route to every reachable node; fails past `boundMs`. */
function assertConverges(s: Simulation, boundMs: number, what: string): number {
  const ms = s.converge(LIMIT_MS);
  assert.notEqual(ms, null, `${what}: no convergence in ${LIMIT_MS} ms`);
  assert.ok(ms! <= boundMs, `${what}: converged after ${ms} ms, bound ${boundMs}`);
  return ms!;
}

function assertRoutesGood(check: RouteCheck, what: string): void {
  assert.deepEqual(check.problems, [], `${what}: ${check.problems.join('; ')}`);
  assert.equal(check.missing, 0, `${what}: missing routes`);
  assert.equal(check.bad, 0, `${what}: labels that do not lead to their destination`);
}

/** Waits for the routes to settle, then checks them; with every link of cost 1, link state
 *  gives shortest paths, so once settled no route is longer than the BFS distance. */
function assertSettledShortest(sim: Simulation, what: string): RouteCheck {
  assert.notEqual(sim.quiesce(QUIET_MS, LIMIT_MS), null, `${what}: routes kept changing`);
  const check = sim.checkRoutes();
  assertRoutesGood(check, what);
  assert.equal(check.stretched, 0, `${what}: routes longer than the shortest path`);
  return check;
}

/** True if `path` (public keys after node `from`) crosses the link a-b. */
function crosses(sim: Simulation, from: number, path: Uint8Array[], a: number, b: number): boolean {
  let prev = from;
  for (const key of path) {
    const next = sim.indexOfKey(key);
    if ((prev === a && next === b) || (prev === b && next === a)) return true;
    prev = next;
  }
  return false;
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
  const convergedMs = assertConverges(sim, COLD_MS, 'cold start');
  const check = sim.checkRoutes();
  const state = sim.state();
  console.log(
    `# 200-node random graph: converged in ${convergedMs} ms (virtual); routing state per node ${state.routes.mean} routes, ` +
      `${(state.bytes.mean / 1024).toFixed(1)} KiB (max ${(state.bytes.max / 1024).toFixed(1)}); stretch mean ${check.stretchMean.toFixed(3)}, max ${check.stretchMax.toFixed(2)}`,
  );
  assertRoutesGood(check, 'cold start');
  assert.equal(check.routes, 200 * 199, 'a route to every other node, nothing more');
  assert.equal(check.stale, 0);
  assert.ok(check.stretchMean <= 1.5, `mean stretch ${check.stretchMean}`);
  assertSettledShortest(sim, 'cold start, settled');
});

test('a failed link on a cycle: routes move off it, then back when it returns', () => {
  const [a, b] = linkOnCycle(graph, 7);
  const crossing = (): number => sim.nodes.filter((x) => x.router.routes().some((r) => crosses(sim, x.index, r.path, a, b))).length;
  assert.ok(crossing() > 0, 'no route used the link: the test would prove nothing');
  sim.failLink(a, b);
  assertConverges(sim, REPAIR_MS, `link ${a}-${b} down`);
  assertRoutesGood(sim.checkRoutes(), `link ${a}-${b} down`);
  assertSettledShortest(sim, `link ${a}-${b} down, settled`);
  sim.restoreLink(a, b);
  assertSettledShortest(sim, `link ${a}-${b} back`);
  assert.ok(crossing() > 0, 'no route went back to the link');
});

test('a failed node: routes avoid it, every route to it is withdrawn, and it rejoins after a restart', () => {
  // The node with the most neighbours: the most routes cross it.
  let node = 0;
  for (let i = 1; i < graph.n; i++) if (graph.adjacency[i]!.length > graph.adjacency[node]!.length) node = i;
  sim.failNode(node);
  assertConverges(sim, REPAIR_MS, `node ${node} down`);
  const withdrawn = sim.settle(LIMIT_MS);
  assert.ok(withdrawn !== null && withdrawn <= REPAIR_MS, `routes to node ${node} (or nodes it cut off) withdrawn after ${withdrawn} ms`);
  const check = sim.checkRoutes();
  assertRoutesGood(check, `node ${node} down`);
  assert.equal(check.stale, 0);
  assertSettledShortest(sim, `node ${node} down, settled`);
  // Back with the same key and an empty database, as after a daemon restart, and with its clock
  // an hour behind: its fresh sequence numbers are below the ones it announced before, so it has
  // to learn those from its neighbours and announce above them.
  sim.restartNode(node, -3_600_000);
  assertConverges(sim, REPAIR_MS, `node ${node} rejoining`);
  const after = assertSettledShortest(sim, `node ${node} restarted`);
  assert.equal(after.routes, 200 * 199);
});

test('a 50-node line (the shape of ../shared/graphs/line-0050.txt) converges: 49 hops end to end', () => {
  const line = makeGraph('line-0050', 50, Array.from({ length: 49 }, (_, i) => [i, i + 1] as [number, number]));
  const s = new Simulation(line, { seed: 3, keys: sim.nodes.slice(0, 50).map((x) => x.keys) });
  s.start();
  assertConverges(s, COLD_MS, 'line');
  const check = s.checkRoutes();
  assertRoutesGood(check, 'line');
  assert.equal(check.stretchMax, 1);
  assert.equal(s.router(0).lookup(s.nodes[49]!.address, 0)?.hops, 49);
});

test('200 nodes losing 5 % of every link\'s frames still reach every node, and recover from a failed link', () => {
  const lossy = new Simulation(graph, { seed: 7, loss: 0.05, keys: sim.nodes.map((x) => x.keys) });
  lossy.start();
  const convergedMs = assertConverges(lossy, LOSSY_COLD_MS, 'cold start at 5 % loss');
  assertRoutesGood(lossy.checkRoutes(), 'cold start at 5 % loss');
  const [a, b] = linkOnCycle(graph, 11);
  lossy.failLink(a, b);
  const repairMs = assertConverges(lossy, LOSSY_COLD_MS, `link ${a}-${b} down at 5 % loss`);
  const check = lossy.checkRoutes();
  assertRoutesGood(check, `link ${a}-${b} down at 5 % loss`);
  assert.equal(check.routes, 200 * 199);
  assert.ok(lossy.lostFrames > 0, 'nothing was lost: the test would prove nothing');
  console.log(`# 200 nodes at 5 % loss: converged in ${convergedMs} ms (virtual), a link failure repaired in ${repairMs} ms; ${lossy.lostFrames} frames lost`);
});
