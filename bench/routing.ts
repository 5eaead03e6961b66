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
// without .txt (or in $ROVY_GRAPHS). Default: random-200 and every file but grid4-2025, about
// 15 minutes; the grid alone takes about 25 minutes and 12 GB with --share-verification
// --steady-minutes 0 (docs/ROUTING.md has the figures and how long each graph took).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { announcementSize, LINKS_PER_PART } from '../src/routing/announcement.js';
import { FRAME_HEADER, MAX_HOPS, REFRESH_MS } from '../src/routing/constants.js';
import { components, describe, graphDir, loadEdgeList, randomGeometricGraph, rng, type Graph } from './sim/graph.js';
import { generateKeys, Simulation, type RouteCheck, type Traffic } from './sim/simulator.js';
import { liveHeap } from './sim/heap.js';

const GRAPH_DIR = graphDir(import.meta.url);

interface Args {
  graphs: string[];
  seed: number;
  steadyMinutes: number;
  share: boolean;
  sample: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const files = existsSync(GRAPH_DIR)
    ? readdirSync(GRAPH_DIR)
        .filter((f) => f.endsWith('.txt'))
        .map((f) => f.slice(0, -4))
        .sort()
    : [];
  const args: Args = {
    graphs: ['random-200', ...files.filter((f) => f !== 'grid4-2025')],
    seed: 1,
    steadyMinutes: 60,
    share: false,
    sample: 250,
    json: false,
  };
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
  /** JS heap per node after the cold start (all Router state, routes included), if measurable. */
  heapPerNode: number | null;
  refreshFormula: number;
  state: ReturnType<Simulation['state']>;
  steady: {
    seconds: number;
    framesPerNodeSec: number;
    bytesPerNodeSec: number;
    /** The node that sent the most, and the second in which the network sent the most. */
    maxBytesPerNodeSec: number;
    peakBytesPerNodeSec: number;
    routeChanges: number;
    stillConverged: boolean;
    wall: number;
    cpu: number;
  };
  routes: RouteCheck & { sources: number };
  linkFailure: (Phase & { link: [number, number]; check: RouteCheck; restore: Phase }) | null;
  nodeFailure: Phase & {
    node: number;
    degree: number;
    /** Virtual s until no node held a route to it (or to nodes it cut off). */
    withdrawn: number | null;
    cutOff: number;
    check: RouteCheck;
    restart: Phase;
  };
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

/**
 * Refresh traffic predicted from the graph alone, bytes per node per second: each node's
 * announcement (its parts, one frame each) crosses every link direction once, except the one
 * each node first received it by — 2E − (N − 1) frames — once per REFRESH_MS.
 */
function refreshFormula(g: Graph): number {
  let bytes = 0;
  for (const peers of g.adjacency) {
    const parts = Math.max(1, Math.ceil(peers.length / LINKS_PER_PART));
    bytes += announcementSize(peers.length) + (parts - 1) * announcementSize(0) + parts * FRAME_HEADER;
  }
  return (bytes * (2 * g.edges.length - (g.n - 1))) / g.n / (REFRESH_MS / 1000);
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
  const heap0 = liveHeap()?.heapUsed ?? null;
  const sim = new Simulation(g, { seed: args.seed, keys: keys.slice(0, g.n), shareVerification: args.share });
  const cold = phase(sim, () => sim.start());
  const verificationsPerNode = sim.verifications / g.n;
  // Less the simulator's n×n distance matrix; what remains is the Routers' (and a little of the
  // simulator's per-node bookkeeping).
  const heap1 = liveHeap()?.heapUsed ?? null;
  const heapPerNode = heap0 === null || heap1 === null ? null : (heap1 - heap0 - g.n * g.n * 4) / g.n;
  log(`  cold start: ${fmt(cold.virtual)} s virtual, ${cold.wall.toFixed(1)} s wall`);
  const state = sim.state();
  const sources = sampleSources(sim, args.sample, args.seed);
  const routes = { ...sim.checkRoutes(sources), sources: sources.length };
  const steadyMs = args.steadyMinutes * 60_000;
  const before = sim.traffic();
  const changes = sim.routeChanges;
  const perNode0 = sim.sentPerNode();
  // Run second by second, to find the busiest second (refreshes come in bursts).
  let peak = 0;
  const st = timed(() => {
    for (let t = 0; t < steadyMs; t += 1000) {
      const a = sim.traffic().bytes;
      sim.run(Math.min(1000, steadyMs - t));
      peak = Math.max(peak, sim.traffic().bytes - a);
    }
  });
  const d = delta(before, sim.traffic());
  const perNode1 = sim.sentPerNode();
  const seconds = steadyMs / 1000;
  const steady = {
    seconds,
    framesPerNodeSec: d.frames / g.n / seconds,
    bytesPerNodeSec: d.bytes / g.n / seconds,
    maxBytesPerNodeSec: Math.max(...perNode1.map((x, i) => x.bytes - perNode0[i]!.bytes)) / seconds,
    peakBytesPerNodeSec: peak / g.n,
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

  // The node with the most neighbours: the most routes cross it.
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
  const degree = g.adjacency[node]!.length;
  const gone = withdrawn === null ? null : withdrawn / 1000;
  const nodeFailure = { ...p, node, degree, withdrawn: gone, cutOff, check, restart };
  log(`  node ${node} (degree ${degree}) down: ${fmt(p.virtual)} s virtual, withdrawn ${fmt(gone)} s; restarted: ${fmt(restart.virtual)} s`);
  const coldResult = { ...cold, verificationsPerNode };
  return { graph: g.name, shape, cold: coldResult, heapPerNode, refreshFormula: refreshFormula(g), state, steady, routes, linkFailure, nodeFailure };
}

function fmt(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined ? 'never' : v.toFixed(digits);
}

function kb(bytes: number): string {
  return (bytes / 1024).toFixed(1);
}

/** A markdown table: one row per result, one column per [header, cell] pair. */
function table(results: Result[], columns: [string, (r: Result) => string][]): string {
  const lines = [`| ${columns.map((c) => c[0]).join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`];
  for (const r of results) lines.push(`| ${columns.map((c) => c[1](r)).join(' | ')} |`);
  return lines.join('\n');
}

function report(results: Result[], args: Args, keySeconds: number): string {
  const both = (p: Phase): string => `${fmt(p.virtual)} / ${fmt(p.final)}`;
  const spread = (s: { mean: number; max: number }, f = (x: number): string => x.toFixed(0)): string => `${f(s.mean)} / ${f(s.max)}`;
  const verification = args.share ? 'shared between nodes (cache)' : 'by every node';
  const out: string[] = [`seed ${args.seed}, MAX_HOPS ${MAX_HOPS}, verification ${verification}, key generation ${keySeconds.toFixed(1)} s`, ''];
  out.push(
    table(results, [
      ['graph', (r) => r.graph],
      ['nodes', (r) => `${r.shape.nodes}`],
      ['links', (r) => `${r.shape.links}`],
      ['mean deg', (r) => r.shape.meanDegree.toFixed(2)],
      ['max deg', (r) => `${r.shape.maxDegree}`],
      ['diameter', (r) => `${r.shape.diameter}`],
    ]),
  );
  out.push('', 'Cold start (every link up at t = 0). Times are virtual s: "usable" = every node has a route to');
  out.push('every node within MAX_HOPS, its label leading there over links that are up; "final" = the last route change.');
  out.push(
    table(results, [
      ['graph', (r) => r.graph],
      ['usable / final s', (r) => both(r.cold)],
      ['frames/node', (r) => r.cold.framesPerNode.toFixed(0)],
      ['KiB/node', (r) => kb(r.cold.bytesPerNode)],
      ['KiB/node/s', (r) => (r.cold.virtual ? kb(r.cold.bytesPerNode / r.cold.virtual) : '-')],
      ['verifies/node', (r) => r.cold.verificationsPerNode.toFixed(0)],
      ['CPU ms/node', (r) => ((r.cold.cpu * 1000) / r.shape.nodes).toFixed(0)],
      ['wall s', (r) => r.cold.wall.toFixed(1)],
      ['CPU s', (r) => r.cold.cpu.toFixed(1)],
    ]),
  );
  out.push('', 'Routing state per node after convergence (Router.stats(); mean / max):');
  out.push(
    table(results, [
      ['graph', (r) => r.graph],
      ['routes', (r) => spread(r.state.routes)],
      ['announcements', (r) => spread(r.state.announcements)],
      ['links known', (r) => spread(r.state.links)],
      ['LSDB KiB', (r) => spread(r.state.bytes, kb)],
      ['JS heap KiB/node', (r) => (r.heapPerNode === null ? '(--expose-gc)' : kb(r.heapPerNode))],
    ]),
  );
  if (args.steadyMinutes > 0) {
    out.push('', `Steady state (${args.steadyMinutes} virtual min after convergence, refreshes included; "formula" is what`);
    out.push('flooding every refresh once over every link but the one it came in by predicts):');
    out.push(
      table(results, [
        ['graph', (r) => r.graph],
        ['frames/node/s', (r) => r.steady.framesPerNodeSec.toFixed(3)],
        ['bytes/node/s', (r) => r.steady.bytesPerNodeSec.toFixed(1)],
        ['formula', (r) => r.refreshFormula.toFixed(1)],
        ['busiest node bytes/s', (r) => r.steady.maxBytesPerNodeSec.toFixed(1)],
        ['busiest second KiB/node', (r) => kb(r.steady.peakBytesPerNodeSec)],
        ['route changes', (r) => `${r.steady.routeChanges}`],
        ['still converged', (r) => (r.steady.stillConverged ? 'yes' : 'NO')],
        ['CPU µs/node/s', (r) => ((r.steady.cpu * 1e6) / r.shape.nodes / r.steady.seconds).toFixed(1)],
        ['wall s', (r) => r.steady.wall.toFixed(1)],
        ['CPU s', (r) => r.steady.cpu.toFixed(1)],
      ]),
    );
  } else {
    out.push('', 'Steady state not run (--steady-minutes 0); refresh traffic by formula, bytes/node/s:');
    out.push(table(results, [['graph', (r) => r.graph], ['formula', (r) => r.refreshFormula.toFixed(1)]]));
  }
  out.push('', 'Routes (every route of the sampled sources; each label walked interface by interface):');
  out.push(
    table(results, [
      ['graph', (r) => r.graph],
      ['sources', (r) => `${r.routes.sources}`],
      ['routes', (r) => `${r.routes.routes}`],
      ['stretch mean', (r) => r.routes.stretchMean.toFixed(3)],
      ['stretch max', (r) => r.routes.stretchMax.toFixed(2)],
      ['stretched', (r) => `${r.routes.stretched}`],
      ['bad labels', (r) => `${r.routes.bad}`],
      ['missing', (r) => `${r.routes.missing}`],
      [`pairs > ${MAX_HOPS} hops`, (r) => `${r.routes.beyondMaxHops}`],
    ]),
  );
  out.push('', 'Failures, usable / final virtual s (both ends see linkDown at once: failure detection not included),');
  out.push('and KiB/node = control traffic sent per node from the disruption until 10 s after its last route change:');
  const l = (r: Result, f: (x: NonNullable<Result['linkFailure']>) => string): string => (r.linkFailure ? f(r.linkFailure) : '-');
  out.push(
    table(results, [
      ['graph', (r) => r.graph],
      ['link on a cycle down', (r) => l(r, both)],
      ['KiB/node', (r) => l(r, (x) => kb(x.bytesPerNode))],
      ['link back', (r) => l(r, (x) => both(x.restore))],
      ['KiB/node', (r) => l(r, (x) => kb(x.restore.bytesPerNode))],
      ['node down (degree)', (r) => `${both(r.nodeFailure)} (${r.nodeFailure.degree})`],
      ['KiB/node', (r) => kb(r.nodeFailure.bytesPerNode)],
      ['routes to it gone', (r) => fmt(r.nodeFailure.withdrawn)],
      ['cut off', (r) => `${r.nodeFailure.cutOff}`],
      ['node restarted', (r) => both(r.nodeFailure.restart)],
      ['KiB/node', (r) => kb(r.nodeFailure.restart.bytesPerNode)],
      ['bad / missing after', (r) => `${badAfter(r)} / ${missingAfter(r)}`],
    ]),
  );
  const problems = results.flatMap((r) => checks(r).flatMap((c) => c.problems.map((p) => `${r.graph}: ${p}`)));
  if (problems.length) out.push('', 'Problems:', ...problems.slice(0, 30));
  return out.join('\n');
}

function checks(r: Result): RouteCheck[] {
  return [r.routes, r.nodeFailure.check, ...(r.linkFailure ? [r.linkFailure.check] : [])];
}
const badAfter = (r: Result): number => r.nodeFailure.check.bad + (r.linkFailure?.check.bad ?? 0);
const missingAfter = (r: Result): number => r.nodeFailure.check.missing + (r.linkFailure?.check.missing ?? 0);

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
const failed = results.some((r) => r.cold.virtual === null || !r.steady.stillConverged || checks(r).some((c) => c.bad || c.missing));
process.exitCode = failed ? 1 : 0;
