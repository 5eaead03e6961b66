// Routing at scale: the real src/routing Router on every node of a graph, in the in-process
// simulator (bench/sim/), on a seeded random graph and on the real shapes in ../shared/graphs.
// For each graph: a cold start (every link up at t = 0) until every node has a route to every
// node within MAX_HOPS, the state each node then holds, an hour of steady state (refreshes
// included), stretch against BFS shortest paths with every label walked hop by hop, then a link
// on a cycle fails and comes back, and the busiest node fails and restarts with an empty LSDB.
// Times marked "virtual" are simulated time (link latency 1–20 ms, tick 100 ms); "wall" and
// "CPU" are what the simulation cost this machine, all nodes together.
//
// Run:  npm run bench:routing -- [--graphs random-200,fc00,...|all] [--seed N]
//                                [--steady-minutes M] [--share-verification] [--sample N] [--json]
// Graph names: random-N (random geometric, mean degree ~5) or a file name in ../shared/graphs
// without .txt (the directory: $ROVY_GRAPHS, default ../shared/graphs). Default: every graph but grid4-2025, whose 2025 nodes take minutes (--graphs all).
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { MAX_HOPS } from '../src/routing/constants.js';
import { components, describe, loadEdgeList, randomGeometricGraph, rng, type Graph } from './sim/graph.js';
import { generateKeys, Simulation, type RouteCheck, type Traffic } from './sim/simulator.js';

// The repository root, found from this file (it runs as a bundle under dist/bench/).
const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
const GRAPH_DIR = process.env.ROVY_GRAPHS ?? join(ROOT, '..', 'shared', 'graphs');

interface Args {
  graphs: string[];
  seed: number;
  steadyMinutes: number;
  share: boolean;
  sample: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const files = existsSync(GRAPH_DIR) ? readdirSync(GRAPH_DIR).filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -4)).sort() : [];
  const args: Args = { graphs: ['random-200', ...files.filter((f) => f !== 'grid4-2025')], seed: 1, steadyMinutes: 60, share: false, sample: 250, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--graphs') {
      const v = value();
      args.graphs = v === 'all' ? ['random-200', ...files] : v.split(',');
    } else if (a === '--seed') args.seed = Number(value());
    else if (a === '--steady-minutes') args.steadyMinutes = Number(value());
    else if (a === '--share-verification') args.share = true;
    else if (a === '--sample') args.sample = Number(value());
    else if (a === '--json') args.json = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function loadGraph(name: string, seed: number): Graph {
  const random = /^random-(\d+)$/.exec(name);
  if (random) return randomGeometricGraph(Number(random[1]), seed);
  return loadEdgeList(join(GRAPH_DIR, `${name}.txt`));
}

/** Wall and CPU seconds of `fn`. */
function timed<T>(fn: () => T): { value: T; wall: number; cpu: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const cpu = process.cpuUsage(cpu0);
  return { value, wall: (performance.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

function delta(a: Traffic, b: Traffic): Traffic {
  return { frames: b.frames - a.frames, bytes: b.bytes - a.bytes };
}

interface Phase {
  /** Virtual seconds until every node had a usable route to every reachable node (null: not
   *  within the limit), and until the last route change the disruption caused. */
  virtual: number | null;
  final: number | null;
  /** routesChanged() calls per live node. */
  routeChangesPerNode: number;
  /** Control traffic sent in the phase, per live node. */
  framesPerNode: number;
  bytesPerNode: number;
  wall: number;
  cpu: number;
}

interface Result {
  graph: string;
  shape: ReturnType<typeof describe>;
  cold: Phase & { verificationsPerNode: number };
  state: ReturnType<Simulation['state']>;
  steady: { seconds: number; framesPerNodeSec: number; bytesPerNodeSec: number; maxBytesPerNodeSec: number; routeChanges: number; stillConverged: boolean; wall: number; cpu: number };
  routes: RouteCheck & { sources: number };
  linkFailure: (Phase & { link: [number, number]; check: RouteCheck; restore: Phase }) | null;
  nodeFailure: (Phase & { node: number; degree: number; withdrawn: number | null; cutOff: number; check: RouteCheck; restart: Phase }) | null;
}

const LIMIT_MS = 10 * 60_000;
/** No route change for this long (virtual) after a disruption: its effect is over. */
const QUIET_MS = 10_000;

/** Applies a disruption, then runs until routes are usable everywhere and then quiet. */
function phase(sim: Simulation, disrupt: () => void, between?: () => void): Phase {
  const before = sim.traffic();
  const changes = sim.routeChanges;
  const t = timed(() => {
    disrupt();
    const usable = sim.converge(LIMIT_MS);
    between?.();
    return { usable, final: usable === null ? null : sim.quiesce(QUIET_MS, LIMIT_MS) };
  });
  const d = delta(before, sim.traffic());
  const live = sim.liveNodes();
  const s = (ms: number | null): number | null => (ms === null ? null : ms / 1000);
  return {
    virtual: s(t.value.usable),
    final: s(t.value.final),
    routeChangesPerNode: (sim.routeChanges - changes) / live,
    framesPerNode: d.frames / live,
    bytesPerNode: d.bytes / live,
    wall: t.wall,
    cpu: t.cpu,
  };
}

/** A link whose loss leaves the graph connected (on a cycle), chosen with the seed; null if none. */
function cycleLink(g: Graph, seed: number): [number, number] | null {
  const random = rng(seed ^ 0x5eed);
  const order = g.edges.map((e) => [random(), e] as const).sort((x, y) => x[0] - y[0]);
  for (const [, [a, b]] of order) {
    const cut = (x: number, y: number): boolean => !((x === a && y === b) || (x === b && y === a));
    if (components(g, undefined, cut).count === 1) return [a, b];
  }
  return null;
}

function sampleSources(sim: Simulation, count: number, seed: number): number[] {
  const live = sim.nodes.filter((x) => x.alive).map((x) => x.index);
  if (live.length <= count) return live;
  const random = rng(seed ^ 0xc0ffee);
  return live.map((i) => [random(), i] as const).sort((x, y) => x[0] - y[0]).slice(0, count).map((x) => x[1]);
}

function runGraph(g: Graph, args: Args, keys: ReturnType<typeof generateKeys>, log: (s: string) => void): Result {
  const shape = describe(g);
  const sim = new Simulation(g, { seed: args.seed, keys: keys.slice(0, g.n), shareVerification: args.share });
  const cold = phase(sim, () => sim.start());
  const verificationsPerNode = sim.verifications / g.n;
  log(`  cold start: ${fmt(cold.virtual)} s virtual, ${cold.wall.toFixed(1)} s wall`);
  const state = sim.state();
  const sources = sampleSources(sim, args.sample, args.seed);
  const routes = { ...sim.checkRoutes(sources), sources: sources.length };
  const steadyMs = args.steadyMinutes * 60_000;
  const before = sim.traffic();
  const changes = sim.routeChanges;
  const perNode0 = sim.sentPerNode();
  const st = timed(() => sim.run(steadyMs));
  const d = delta(before, sim.traffic());
  const perNode1 = sim.sentPerNode();
  const seconds = steadyMs / 1000;
  const steady = {
    seconds,
    framesPerNodeSec: d.frames / g.n / seconds,
    bytesPerNodeSec: d.bytes / g.n / seconds,
    maxBytesPerNodeSec: Math.max(...perNode1.map((x, i) => x.bytes - perNode0[i]!.bytes)) / seconds,
    routeChanges: sim.routeChanges - changes,
    stillConverged: sim.converged(),
    wall: st.wall,
    cpu: st.cpu,
  };
  log(`  steady ${args.steadyMinutes} min: ${steady.wall.toFixed(1)} s wall, still converged: ${steady.stillConverged}`);

  let linkFailure: Result['linkFailure'] = null;
  const link = cycleLink(g, args.seed);
  if (link) {
    const p = phase(sim, () => sim.failLink(link[0], link[1]));
    const check = sim.checkRoutes(sampleSources(sim, args.sample, args.seed + 1));
    const restore = phase(sim, () => sim.restoreLink(link[0], link[1]));
    linkFailure = { ...p, link, check, restore };
    log(`  link ${link[0]}-${link[1]} down: ${fmt(p.virtual)} s virtual; back up: ${fmt(restore.virtual)} s`);
  }

  // The busiest node: the most neighbours.
  let node = 0;
  for (let i = 1; i < g.n; i++) if (g.adjacency[i]!.length > g.adjacency[node]!.length) node = i;
  let withdrawn: number | null = null;
  const p = phase(
    sim,
    () => sim.failNode(node),
    () => (withdrawn = sim.settle(LIMIT_MS)),
  );
  // Nodes left in components other than the largest one (components() skips the failed node).
  const comp = components(g, (i) => i !== node);
  const sizes = new Array<number>(comp.count).fill(0);
  for (let i = 0; i < g.n; i++) if (i !== node) sizes[comp.of[i]!]!++;
  const cutOff = g.n - 1 - Math.max(...sizes);
  const check = sim.checkRoutes(sampleSources(sim, args.sample, args.seed + 2));
  const restart = phase(sim, () => sim.restartNode(node));
  const nodeFailure = { ...p, node, degree: g.adjacency[node]!.length, withdrawn: withdrawn === null ? null : withdrawn / 1000, cutOff, check, restart };
  log(`  node ${node} (degree ${nodeFailure.degree}) down: ${fmt(p.virtual)} s virtual, withdrawn ${fmt(nodeFailure.withdrawn)} s; restarted: ${fmt(restart.virtual)} s`);
  return { graph: g.name, shape, cold: { ...cold, verificationsPerNode }, state, steady, routes, linkFailure, nodeFailure };
}

function fmt(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined ? 'never' : v.toFixed(digits);
}

function kb(bytes: number): string {
  return (bytes / 1024).toFixed(1);
}

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

function report(results: Result[], args: Args, keySeconds: number): string {
  const out: string[] = [];
  out.push(`seed ${args.seed}, MAX_HOPS ${MAX_HOPS}, verification ${args.share ? 'shared between nodes (cache)' : 'by every node'}, key generation ${keySeconds.toFixed(1)} s`);
  out.push('', table(['graph', 'nodes', 'links', 'mean deg', 'max deg', 'diameter'], results.map((r) => [r.graph, `${r.shape.nodes}`, `${r.shape.links}`, r.shape.meanDegree.toFixed(2), `${r.shape.maxDegree}`, `${r.shape.diameter}`])));
  const both = (p: Phase): string => `${fmt(p.virtual)} / ${fmt(p.final)}`;
  out.push('', 'Cold start (every link up at t = 0). Times are virtual s: "usable" = every node has a route to');
  out.push('every node within MAX_HOPS, each over links that are up; "final" = the last route change.');
  out.push(table(['graph', 'usable / final s', 'frames/node', 'KiB/node', 'KiB/node/s', 'verifies/node', 'wall s', 'CPU s'], results.map((r) => [
    r.graph, both(r.cold), r.cold.framesPerNode.toFixed(0), kb(r.cold.bytesPerNode), r.cold.virtual ? kb(r.cold.bytesPerNode / r.cold.virtual) : '-', r.cold.verificationsPerNode.toFixed(0), r.cold.wall.toFixed(1), r.cold.cpu.toFixed(1),
  ])));
  out.push('', 'Routing state per node after convergence (Router.stats(); mean / max):');
  out.push(table(['graph', 'routes', 'announcements', 'links known', 'LSDB KiB'], results.map((r) => [
    r.graph, `${r.state.routes.mean.toFixed(0)} / ${r.state.routes.max}`, `${r.state.announcements.mean.toFixed(0)} / ${r.state.announcements.max}`, `${r.state.links.mean.toFixed(0)} / ${r.state.links.max}`, `${kb(r.state.bytes.mean)} / ${kb(r.state.bytes.max)}`,
  ])));
  out.push('', `Steady state (${args.steadyMinutes} virtual min after convergence, refreshes included):`);
  out.push(table(['graph', 'frames/node/s', 'bytes/node/s', 'busiest node bytes/s', 'route changes', 'still converged', 'wall s', 'CPU s'], results.map((r) => [
    r.graph, r.steady.framesPerNodeSec.toFixed(3), r.steady.bytesPerNodeSec.toFixed(1), r.steady.maxBytesPerNodeSec.toFixed(1), `${r.steady.routeChanges}`, r.steady.stillConverged ? 'yes' : 'NO', r.steady.wall.toFixed(1), r.steady.cpu.toFixed(1),
  ])));
  out.push('', 'Routes (every route of the sampled sources; each label walked interface by interface):');
  out.push(table(['graph', 'sources', 'routes', 'stretch mean', 'stretch max', 'stretched', 'bad labels', 'missing', `pairs > ${MAX_HOPS} hops`], results.map((r) => [
    r.graph, `${r.routes.sources}`, `${r.routes.routes}`, r.routes.stretchMean.toFixed(3), r.routes.stretchMax.toFixed(2), `${r.routes.stretched}`, `${r.routes.bad}`, `${r.routes.missing}`, `${r.routes.beyondMaxHops}`,
  ])));
  out.push('', 'Failures, usable / final virtual s (both ends see linkDown at once: failure detection not included),');
  out.push('and KiB/node = control traffic sent per node from the disruption until 10 s after its last route change:');
  out.push(table(['graph', 'link on a cycle down', 'KiB/node', 'link back', 'KiB/node', 'node down (degree)', 'KiB/node', 'routes to it gone', 'cut off', 'node restarted', 'KiB/node', 'bad labels after'], results.map((r) => {
    const l = r.linkFailure;
    const n = r.nodeFailure!;
    return [
      r.graph, l ? both(l) : 'no cycle', l ? kb(l.bytesPerNode) : '-', l ? both(l.restore) : '-', l ? kb(l.restore.bytesPerNode) : '-',
      `${both(n)} (${n.degree})`, kb(n.bytesPerNode), fmt(n.withdrawn), `${n.cutOff}`, both(n.restart), kb(n.restart.bytesPerNode),
      `${(l?.check.bad ?? 0) + n.check.bad} (missing ${(l?.check.missing ?? 0) + n.check.missing})`,
    ];
  })));
  const problems = results.flatMap((r) => [...r.routes.problems, ...(r.linkFailure?.check.problems ?? []), ...(r.nodeFailure?.check.problems ?? [])].map((p) => `${r.graph}: ${p}`));
  if (problems.length) out.push('', 'Problems:', ...problems.slice(0, 30));
  return out.join('\n');
}

const args = parseArgs(process.argv.slice(2));
const graphs = args.graphs.map((name) => loadGraph(name, args.seed));
const maxN = Math.max(...graphs.map((g) => g.n));
const log = (s: string): void => {
  if (!args.json) console.error(s);
};
log(`generating ${maxN} key pairs...`);
const keyGen = timed(() => generateKeys(maxN));
const results: Result[] = [];
for (const g of graphs) {
  log(`${g.name}: ${g.n} nodes, ${g.edges.length} links`);
  const t = timed(() => runGraph(g, args, keyGen.value, log));
  log(`  ${t.wall.toFixed(1)} s wall, ${t.cpu.toFixed(1)} s CPU in all`);
  results.push(t.value);
}
if (args.json) console.log(JSON.stringify({ args, keySeconds: keyGen.wall, results }, null, 2));
else console.log(report(results, args, keyGen.wall));
const failed = results.some((r) => r.cold.virtual === null || r.routes.bad || r.routes.missing || !r.steady.stillConverged);
process.exitCode = failed ? 1 : 0;
