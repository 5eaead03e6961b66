// Routing at scale, end to end, on the shared graphs: every node a real Routing agent — the map,
// the trees and the lookups the daemon runs (bench/sim/mesh-agent.ts) — with a real key and real
// signatures. Measures, per graph: how long the trees and the published locators take from a
// cold start; the state each node holds, after the join and at the end of the steady time (as
// counted, and the simulation's whole heap over its nodes, with --expose-gc); what
// a node sends for the rest of its join (its last bootstrap lookups) and the steady control
// traffic after that; lookups between sampled pairs — found or not, their latency in hops,
// the stretch of the route the first answer gave and of the best route after the probes; and,
// with a share of hostile nodes (silent: they answer nothing; misleading: they answer with the
// farthest nodes they know; black holes: they answer nothing and pass nothing on; impostors:
// they answer requests for the nodes whose locators they hold in those nodes' names), how many
// lookups still find the target's locator and a route that leads there; and, under data flows between sampled
// pairs, how long after the biggest hub crashes, or a link on a flow's way is cut, the interrupted
// flows arrive again (the failure noticed as the daemon's links notice it, src/node/links.ts; by
// default at the worst moment, the failed node's last hello sent just before: --hello-age 500 is
// the average), and what each node sends meanwhile against what it sent with the flows alone.
//
// Run:  npm run bench:lookups [-- graph-name ...] [--pairs N] [--steady-min M] [--hostile P] [--hello-age MS]
// A graph name `holme-kim-N` generates powerlaw-10000's shape at N nodes (bench/sim/graph.ts
// holmeKimGraph), to see how state and traffic grow with the mesh within one shape; `grid-K` a
// grid of K by K nodes (gridGraph), grid4-2025's shape, whose trees deepen as it grows;
// `branched-N` the real-daemon scale test's shape at N nodes (branchedPowerLaw; N = 30 is the
// test's), whose ways round its hub are up to four times as long.
import { MAP_RADIUS, TREE_COUNT } from '../src/routing/constants.js';
import { addressOf } from '../src/routing/locator.js';
import { SharedPairKeys } from '../src/routing/lookup-tags.js';
import type { IdentityMemo } from '../src/routing/lsdb.js';
import { BOOTSTRAP_ROUNDS_MS, LOOKUP_TIMEOUT_MS, type Behaviour, type LookupResult } from '../src/routing/lookups.js';
import { benchArgs, graphFiles } from './sim/args.js';
import { AgentSim, type AgentIo } from './sim/agent-sim.js';
import { bfs, branchedPowerLaw, graphDir, gridGraph, holmeKimGraph, loadEdgeList, rng, type Graph } from './sim/graph.js';
import { MeshAgent, keepLookups } from './sim/mesh-agent.js';
import { Deliveries, failover, flowPairs, withinRouteReach, type Failover } from './sim/flows.js';
import { quantiles } from './sim/summary.js';
import { liveHeap } from './sim/heap.js';
import { TrafficKinds } from './sim/traffic-kinds.js';
import { FRAME_ROUTED, KIND_MESSAGE, OFF_KIND } from '../src/forward/header.js';

const GRAPH_DIR = graphDir(import.meta.url);

type Sim = AgentSim<MeshAgent>;

/** Where data packets arrive (MeshAgent's `delivered`): watched by failover() while its flows run. */
const deliveries = new Deliveries();

/** What the simulator's nodes share to run faster (signature checks, pair keys, the addresses of
 *  keys): not any one node's memory, so cleared before the heap is weighed. Each record holds its
 *  own key and address, as a daemon's does (lsdb.ts: IdentityMemo). */
class Memos {
  readonly shared = new Map<string, boolean>();
  readonly sharedPairKeys = new SharedPairKeys();
  readonly identityMemo: IdentityMemo = new Map();

  clear(): void {
    this.shared.clear();
    this.sharedPairKeys.clear();
    this.identityMemo.clear();
  }
}

function makeSim(g: Graph, done: Map<number, LookupResult[]>, hostile: Set<number>, kind: Behaviour, kinds?: TrafficKinds, memos = new Memos()): Sim {
  const { shared, sharedPairKeys, identityMemo } = memos;
  return new AgentSim<MeshAgent>(
    g,
    (io) =>
      new MeshAgent(kinds ? countedIo(io, kinds) : io, {
        shared,
        sharedPairKeys,
        identityMemo,
        behaviour: hostile.has(io.index) ? kind : 'honest',
        lookupDone: keepLookups(done),
        delivered: (index, tag) => deliveries.on(index, tag),
      }),
    { seed: 20261202, isTraffic: (frame) => frame[0] === FRAME_ROUTED && frame[OFF_KIND] === KIND_MESSAGE, lastHelloAge },
  );
}

/** `io` with what it sends counted by kind. */
function countedIo(io: AgentIo, kinds: TrafficKinds): AgentIo {
  const address = addressOf(io.keys.publicKey);
  return {
    ...io,
    send: (link, frame) => {
      kinds.count(io.index, address, frame);
      io.send(link, frame);
    },
  };
}

interface PairResult {
  /** A lookup ended with a route, and the route leads to the destination. */
  found: boolean;
  /** The source's route leads somewhere else (into an impostor, say). */
  misled: boolean;
  located: boolean;
  /** A route was known without a lookup: the destination is in the source's map, or had asked
   *  the source something. */
  known: boolean;
  hops: number;
  firstStretch: number;
  bestStretch: number;
}

/** Looks up `pairs` sampled pairs, a batch at a time, and measures what each source ends with. */
function lookupPairs(sim: Sim, done: Map<number, LookupResult[]>, pairs: number, seed: number, avoid: Set<number>): PairResult[] {
  const g = sim.graph;
  const random = rng(seed);
  const results: PairResult[] = [];
  const batch = 50;
  for (let b = 0; b < pairs; b += batch) {
    const started: [number, number, number][] = [];
    for (let p = b; p < Math.min(pairs, b + batch); p++) {
      let s: number;
      let d: number;
      do {
        s = Math.floor(random() * g.n);
        d = Math.floor(random() * g.n);
      } while (s === d || avoid.has(s) || avoid.has(d) || g.adjacency[s]!.includes(d));
      const shortest = bfs(g, s)[d]!;
      if (!withinRouteReach(shortest)) continue;
      const target = addressOf(sim.nodes[d]!.keys.publicKey);
      const known = sim.nodes[s]!.agent.routing.lookup(target, 0);
      if (known) {
        // In the source's map (or found before): no lookup, the route is there.
        results.push({ found: true, misled: false, located: true, known: true, hops: 0, firstStretch: known.hops / shortest, bestStretch: known.hops / shortest });
        continue;
      }
      sim.nodes[s]!.agent.routing.locate(target);
      started.push([s, d, shortest]);
    }
    const first = new Map<string, number>();
    // Until every lookup of the batch has ended, noting each source's first route.
    sim.runUntilTrue(() => {
      for (const [s, d] of started) {
        const route = sim.nodes[s]!.agent.routing.lookup(addressOf(sim.nodes[d]!.keys.publicKey), 0);
        if (route && !first.has(`${s}/${d}`)) first.set(`${s}/${d}`, route.hops);
      }
      return started.every(([s, d]) => (done.get(s) ?? []).some((r) => sameAddress(r.target, addressOf(sim.nodes[d]!.keys.publicKey))));
    }, 30_000, 50);
    sim.run(5_000); // the probes' answers and returns
    for (const [s, d, shortest] of started) {
      const target = addressOf(sim.nodes[d]!.keys.publicKey);
      const result = (done.get(s) ?? []).find((r) => sameAddress(r.target, target));
      const route = sim.nodes[s]!.agent.routing.lookup(target, 0);
      const leadsThere = !!route && sim.follow(s, route.link, route.label) === d;
      results.push({
        found: !!result?.found && leadsThere,
        misled: !!route && !leadsThere,
        located: !!result?.located,
        known: result?.requests === 0,
        hops: result?.hops ?? 0,
        firstStretch: (first.get(`${s}/${d}`) ?? NaN) / shortest,
        bestStretch: route ? route.hops / shortest : NaN,
      });
    }
  }
  return results;
}

/** The second link on the way the source's route takes (the first if it has one hop). */
function linkOnRoute(sim: Sim, [s, d]: [number, number]): [number, number] {
  const route = sim.nodes[s]!.agent.routing.lookup(addressOf(sim.nodes[d]!.keys.publicKey), 0);
  if (!route) throw new Error(`no route from ${s} to ${d}`);
  let at = sim.nodes[s]!.peers[route.link]!;
  if (route.label.length === 0) return [s, at];
  return [at, sim.nodes[at]!.peers[route.label[0]!]!];
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

function runGraph(g: Graph, pairs: number, steadyMin: number, hostileShare: number): void {
  const wall = performance.now();
  // Wall time per phase, to show where a graph's run goes.
  const phases: string[] = [];
  let phaseStart = wall;
  const phaseDone = (name: string) => {
    const now = performance.now();
    phases.push(`${name} ${((now - phaseStart) / 1000).toFixed(0)}`);
    phaseStart = now;
  };
  const done = new Map<number, LookupResult[]>();
  const kinds = new TrafficKinds(g.n);
  // The node of most links: its traffic is split out below, and it is the one that crashes.
  const hub = g.adjacency.reduce((best, adj, i) => (adj.length > g.adjacency[best]!.length ? i : best), 0);
  const memos = new Memos();
  const heapBefore = liveHeap();
  const sim = makeSim(g, done, new Set(), 'silent', kinds, memos);
  // The heap the simulation grew by, per node: each node's routing, its own bookkeeping included
  // (timers, acknowledgement state, the objects around the bytes the state count counts), and
  // the simulator's per node and link (its queues and counters) — so an upper bound.
  const heapPerNode = (): string => {
    memos.clear();
    const now = liveHeap();
    if (!heapBefore || !now) return 'not weighed (run node with --expose-gc)';
    const kib = (bytes: number) => (bytes / g.n / 1024).toFixed(1);
    return `${kib(now.heapUsed - heapBefore.heapUsed)} KiB of heap and ${kib(now.arrayBuffers - heapBefore.arrayBuffers)} KiB of array buffers`;
  };
  sim.start();
  sim.run(20_000);
  phaseDone('cold start');
  const cold = sim.takeTraffic();
  console.log(`${g.name}: ${g.n} nodes, ${g.edges.length} links`);
  console.log(`  cold start (20 s virtual): ${(cold.bytes / g.n / 1024).toFixed(1)} KiB sent per node`);
  const found = lookupPairs(sim, done, pairs, 7, new Set());
  phaseDone('lookups');
  report('lookups', found);
  const state = Float64Array.from(sim.nodes, (n) => n.agent.stateBytes());
  console.log(`  state per node (bytes): ${quantiles(state)}`);
  const perLink = Float64Array.from(sim.nodes, (n) => n.agent.stateBytes() / g.adjacency[n.index]!.length);
  console.log(`  state per node per link (bytes): ${quantiles(perLink)}`);
  const table = Float64Array.from(sim.nodes, (n) => n.agent.lookups.table.size);
  console.log(`  contacts per node: ${quantiles(table)}`);
  // How deep the trees are (a place is a link a level, a locator two bytes a level per tree), and
  // whether each is one: a node that would be deeper than MAX_TREE_DEPTH stays out of that tree.
  const depths: number[] = [];
  const roots: number[] = [];
  for (let t = 0; t < TREE_COUNT; t++) {
    const rootsOfTree = new Set<string>();
    for (const n of sim.nodes) {
      const place = n.agent.trees.position(t);
      depths.push(place.depth);
      rootsOfTree.add(Buffer.from(place.beacon.subarray(0, 32)).toString('hex'));
    }
    roots.push(rootsOfTree.size);
  }
  console.log(`  tree depth per node and tree: ${quantiles(Float64Array.from(depths))}; roots per tree ${roots.join(' ')}`);
  const mapIds = () => {
    const stats = sim.nodes.map((n) => n.agent.routing.map.stats());
    return `${quantiles(stats.map((s) => s.ids))}, id range ${quantiles(stats.map((s) => s.idRange))}`;
  };
  console.log(`  addresses the map numbers per node (the nodes it holds, its own and its links'): ${mapIds()}`);
  console.log(`  memory per node (the simulation's, whole, over its nodes): ${heapPerNode()}`);
  // Signature checks a node made (not answered from its cache of checks), and the checks it
  // keeps: what the cache saves, and what it holds.
  const checksSince = (before: Float64Array | null) => Float64Array.from(sim.nodes, (n, i) => n.agent.verified.checks - (before?.[i] ?? 0));
  const kept = () => quantiles(Float64Array.from(sim.nodes, (n) => n.agent.verified.kept));
  console.log(`  signature checks per node so far: ${quantiles(checksSince(null))}; checks kept in its cache ${kept()}`);
  // A node's join ends with its last bootstrap round (BOOTSTRAP_ROUNDS_MS after its first
  // locator, itself LOCATOR_SETTLE_MS after the trees settle) and that round's lookup: what is
  // sent until then is the join's, not the steady state's.
  const joinDone = 20_000 + BOOTSTRAP_ROUNDS_MS.at(-1)! + LOOKUP_TIMEOUT_MS;
  sim.takeTraffic(); // the sampled lookups'
  sim.runUntil(joinDone);
  const join = sim.takeTraffic();
  phaseDone('join');
  console.log(`  rest of the join (to ${joinDone / 1000} s virtual): ${quantiles(Float64Array.from(join.perNode, (b) => b / 1024))} KiB sent per node`);
  if (steadyMin > 0) {
    kinds.take([]); // counted from here
    const checksBefore = checksSince(null);
    const publishesBefore = Float64Array.from(sim.nodes, (n) => n.agent.lookups.counters.publishes);
    sim.run(steadyMin * 60_000);
    const steady = sim.takeTraffic();
    phaseDone('steady');
    const seconds = steadyMin * 60;
    console.log(`  steady traffic over ${steadyMin} min after that (B/s per node): ${quantiles(Float64Array.from(steady.perNode, (b) => b / seconds))}`);
    // Where it goes: per kind, the mean node's, the 99th percentile's, the busiest node's and the
    // next busiest's (a hub's neighbour of many links may pass on more than the hub).
    const ranked = Array.from(steady.perNode.keys()).sort((a, b) => steady.perNode[a]! - steady.perNode[b]!);
    const p99 = ranked[Math.min(ranked.length - 1, Math.floor(0.99 * ranked.length))]!;
    const busiest = ranked.at(-1)!;
    const next = ranked.at(-2) ?? busiest;
    // And the node of most links, where it is neither.
    const nodes = hub === busiest || hub === next ? [p99, busiest, next] : [p99, busiest, next, hub];
    const split = kinds.take(nodes).filter((k) => k.mean > 0 || k.atNodes.some((b) => b > 0));
    const inAll = (node: number) => `${g.adjacency[node]!.length} links, ${(steady.perNode[node]! / seconds).toFixed(0)} B/s in all`;
    const mostNote = nodes.length === 3 ? '' : ` / node of most links ${hub}, ${inAll(hub)}`;
    console.log(
      `    by kind (B/s, mean node / p99 node ${p99}, ${g.adjacency[p99]!.length} links / busiest node ${busiest}, ${inAll(busiest)} / next busiest ${next}, ${inAll(next)}${mostNote}): ` +
        split.map((k) => `${k.kind} ${(k.mean / seconds).toFixed(1)} / ${k.atNodes.map((b) => (b / seconds).toFixed(0)).join(' / ')}`).join('; '),
    );
    // What is held once the join's soft state (its found routes, unused since) has gone and the
    // tables have heard from the mesh all that time: the bound holds then too, not only after
    // the join.
    const held = Float64Array.from(sim.nodes, (n) => n.agent.stateBytes());
    const contacts = Float64Array.from(sim.nodes, (n) => n.agent.lookups.table.size);
    // The periodic publish's period grows with the mesh as each node estimates it (lookups.ts
    // refreshPeriodFor), and each node's first one comes at its own share of it: a window sees
    // the publishes at their steady rate.
    const published = sim.nodes.reduce((sum, n, i) => sum + n.agent.lookups.counters.publishes - publishesBefore[i]!, 0);
    const meshSizes = Float64Array.from(sim.nodes, (n) => n.agent.lookups.meshSize);
    const periods = Float64Array.from(sim.nodes, (n) => n.agent.lookups.refreshPeriodMs / 86_400_000);
    console.log(`  own locators published in it: ${published} (${(published / g.n).toFixed(3)} a node); the mesh's size as its nodes estimate it ${quantiles(meshSizes)}, min ${Math.min(...meshSizes).toFixed(0)}; their publish period (days) ${quantiles(periods)}`);
    // Rounds begun again since the start (lookups.ts rootsMoved): none where the mesh stays one.
    const restarted = sim.nodes.filter((n) => n.agent.lookups.counters.roundsRestarted > 0).length;
    console.log(`  nodes that ran their bootstrap rounds again since the start: ${restarted}`);
    const parts = sim.nodes[hub]!.agent.stateParts();
    const hubSplit = `neighbours ${parts.neighbours}, trees ${parts.trees}, lookups ${parts.lookups} (${contacts[hub]} contacts), map ${parts.map}`;
    console.log(`  state per node at the end of it (bytes): ${quantiles(held)}; the node of most links ${held[hub]} (${hubSplit}); contacts per node ${quantiles(contacts)}`);
    console.log(`  memory per node at the end of it: ${heapPerNode()}`);
    console.log(`  addresses the map numbers per node at the end of it: ${mapIds()}`);
    console.log(`  signature checks per node per hour of it: ${quantiles(checksSince(checksBefore).map((c) => c / (steadyMin / 60)))}; checks kept in its cache at its end ${kept()}`);
  }
  // Failures under traffic: the biggest hub crashes; then a link on a flow's way is cut.
  const withoutHub = (s: number, d: number) => bfs(g, s, (i) => i !== hub)[d]! < 0;
  reportFailover(`hub ${hub} (${g.adjacency[hub]!.length} links) crashes`, failover(sim, deliveries, flowPairs(g, Math.min(pairs, 200), 11, hub), () => sim.crashNode(hub), withoutHub));
  const cutPairs = flowPairs(g, Math.min(pairs, 200), 12, hub);
  let cut: [number, number] = [0, 0];
  const withoutLink = (s: number, d: number) => bfs(g, s, (i) => i !== hub, (x, y) => !((x === cut[0] && y === cut[1]) || (x === cut[1] && y === cut[0])))[d]! < 0;
  reportFailover('a link on the way of the first flow is cut', failover(sim, deliveries, cutPairs, () => {
    cut = linkOnRoute(sim, cutPairs[0]!);
    sim.cutLink(cut[0], cut[1]);
  }, withoutLink));
  phaseDone('failures');
  if (hostileShare > 0) {
    for (const kind of ['silent', 'misleading', 'black hole', 'impostor'] as const) {
      const random = rng(99);
      const hostile = new Set<number>();
      while (hostile.size < Math.round(hostileShare * g.n)) hostile.add(Math.floor(random() * g.n));
      const hostileDone = new Map<number, LookupResult[]>();
      const hsim = makeSim(g, hostileDone, hostile, kind);
      hsim.start();
      hsim.run(20_000);
      report(`with ${hostile.size} ${kind} nodes (${(hostileShare * 100).toFixed(0)} %)`, lookupPairs(hsim, hostileDone, pairs, 8, hostile));
    }
    phaseDone('hostile');
  }
  console.log(`  wall time ${((performance.now() - wall) / 1000).toFixed(1)} s (${phases.join(', ')} s)`);
}

function reportFailover(what: string, r: Failover): void {
  const notStarted = r.notStarted > 0 ? `; ${r.notStarted} not flowing yet when it failed` : '';
  console.log(`  ${what}: ${r.interrupted.length} flows interrupted, flowing again after (ms) ${quantiles(r.interrupted)}; ${r.lost} not back in 20 s, ${r.cutOff} cut off by the failure${notStarted}`);
  console.log(`    sent meanwhile, data and control (B/s per node): ${quantiles(r.sentAfter)}; with the flows alone before it ${quantiles(r.sentBefore)}`);
}

function report(what: string, results: PairResult[]): void {
  const ok = results.filter((r) => r.found);
  const looked = ok.filter((r) => !r.known);
  const located = results.filter((r) => r.located).length;
  const misled = results.filter((r) => r.misled).length;
  console.log(`  ${what}: ${ok.length}/${results.length} found (${ok.length - looked.length} known already), ${located} located, ${misled} with a route that leads elsewhere; latency in hops ${quantiles(looked.map((r) => r.hops))}`);
  console.log(`    stretch of the first route ${quantiles(ok.map((r) => r.firstStretch).filter((x) => !Number.isNaN(x)))}; after the probes ${quantiles(ok.map((r) => r.bestStretch))}`);
}

const { values, names } = benchArgs({ pairs: '300', 'steady-min': '1440', hostile: '0.1', 'hello-age': '0' });
const pairs = Number(values.pairs);
// The steady window holds each periodic message in whole periods: the trees' beacons every 120
// minutes (40 or 20 where a node of an earlier revision is below the root, which the simulator
// has none of), the map's announcements every day (every 12 hours or 30 minutes only near a
// node of an earlier revision), so a day by default (12 hours before the twentieth revision).
// An unchanged locator's publish comes every 72 hours or more, but each node's first at its own
// share of the period (lookups.ts refreshPhaseOf), so any window sees the publishes at their
// steady rate; until the eighteenth revision they came all at once, and only `--steady-min 4350`
// held them.
const steadyMin = Number(values['steady-min']);
const hostile = Number(values.hostile);
const lastHelloAge = Number(values['hello-age']);
/** Seed of the generated graphs: the same N gives the same graph. */
const GENERATED_SEED = 20261205;
const GENERATED = /^(holme-kim|grid|branched)-(\d+)$/;
const fileNames = names.filter((name) => !GENERATED.test(name));
// No names: every shared graph; only generated ones: no file.
const files = names.length === 0 || fileNames.length > 0 ? graphFiles(GRAPH_DIR, fileNames) : [];
for (const file of files) runGraph(loadEdgeList(file), pairs, steadyMin, hostile);
for (const name of names) {
  const [, shape, size] = GENERATED.exec(name) ?? [];
  if (shape === 'grid') runGraph(gridGraph(Number(size)), pairs, steadyMin, hostile);
  else if (shape === 'branched') runGraph(branchedPowerLaw(Number(size), MAP_RADIUS).graph, pairs, steadyMin, hostile);
  else if (shape) runGraph(holmeKimGraph(Number(size), 3, 0.3, GENERATED_SEED), pairs, steadyMin, hostile);
}
