// Whether a node is still found after the nodes nearest its address have left, before it
// publishes its locator again (docs/ROUTING.md, "The locators are published again every twelve
// hours"). Per graph and per number gone: for each of a few sampled nodes, a fresh mesh of real
// Routing agents (bench/sim/mesh-agent.ts) joins for two virtual minutes; then the nodes nearest
// that node's address crash, and nodes four hops or more from it that do not hold its locator
// look it up. Prints how many lookups found it and located it, and in how many meshes the node
// published anew meanwhile (the crashes moved its places in the trees).
//
// Run:  npm run bench:departures [-- graph-name ...] [--gone 8,16,32] [--targets N] [--lookups N]
import { compareDistance } from '../src/routing/dht-table.js';
import { addressOf } from '../src/routing/locator.js';
import { SharedPairKeys } from '../src/routing/lookup-tags.js';
import type { LookupResult } from '../src/routing/lookups.js';
import type { IdentityMemo } from '../src/routing/lsdb.js';
import { equalBytes } from '../src/util/bytes.js';
import { benchArgs, graphFiles } from './sim/args.js';
import { AgentSim } from './sim/agent-sim.js';
import { bfs, graphDir, loadEdgeList, rng, type Graph } from './sim/graph.js';
import { MeshAgent, keepLookups } from './sim/mesh-agent.js';

const GRAPH_DIR = graphDir(import.meta.url);
/** Virtual time to join: past the last bootstrap round (60 s after a node's first locator). */
const JOIN_MS = 120_000;
/** Virtual time for the crashes to be noticed and the trees to settle around them. */
const SETTLE_MS = 20_000;
/** Virtual time a lookup is given. */
const LOOKUP_MS = 12_000;

function trial(g: Graph, seed: number, gone: number, lookups: number, random: () => number) {
  const shared = new Map<string, boolean>();
  const sharedPairKeys = new SharedPairKeys();
  const identityMemo: IdentityMemo = new Map();
  const results = new Map<number, LookupResult[]>();
  const sim = new AgentSim<MeshAgent>(g, (io) => new MeshAgent(io, { shared, sharedPairKeys, identityMemo, lookupDone: keepLookups(results) }), { seed });
  const address = (i: number) => addressOf(sim.nodes[i]!.keys.publicKey);
  sim.start();
  sim.run(JOIN_MS);
  const x = Math.floor(random() * g.n);
  const target = address(x);
  const nearest = new Set(
    sim.nodes
      .map((n) => n.index)
      .filter((i) => i !== x)
      .sort((a, b) => compareDistance(target, address(a), address(b)))
      .slice(0, gone),
  );
  const agent = sim.nodes[x]!.agent.lookups;
  const before = { publishes: agent.counters.publishes, sequence: agent.ownLocator.sequence };
  for (const i of nearest) sim.crashNode(i);
  sim.run(SETTLE_MS);
  const hops = bfs(g, x);
  const sources = sim.nodes.map((n) => n.index).filter((i) => !nearest.has(i) && hops[i]! >= 4 && !sim.nodes[i]!.agent.lookups.table.get(target));
  let found = 0;
  let located = 0;
  let asked = 0;
  for (; asked < lookups && sources.length > 0; asked++) {
    const s = sources.splice(Math.floor(random() * sources.length), 1)[0]!;
    sim.nodes[s]!.agent.lookups.locate(target);
    sim.run(LOOKUP_MS);
    const result = results.get(s)?.find((r) => equalBytes(r.target, target));
    if (result?.found) found++;
    if (result?.located) located++;
  }
  const republished = agent.counters.publishes > before.publishes || agent.ownLocator.sequence !== before.sequence;
  return { found, located, asked, republished };
}

const { values, names } = benchArgs({ gone: '8,16,32', targets: '10', lookups: '5' });
const goneCounts = values.gone!.split(',').map(Number);
const targets = Number(values.targets);
const lookups = Number(values.lookups);
for (const file of graphFiles(GRAPH_DIR, names.length > 0 ? names : ['graph-250'])) {
  const g = loadEdgeList(file);
  console.log(`${g.name}: ${g.n} nodes, ${g.edges.length} links`);
  for (const gone of goneCounts) {
    const random = rng(7);
    const total = { found: 0, located: 0, asked: 0, republished: 0 };
    for (let t = 0; t < targets; t++) {
      const r = trial(g, 100 + t, gone, lookups, random);
      total.found += r.found;
      total.located += r.located;
      total.asked += r.asked;
      if (r.republished) total.republished++;
    }
    console.log(`  the ${gone} nodes nearest an address gone: ${total.found}/${total.asked} lookups found it, ${total.located} located it; its node published anew in ${total.republished} of ${targets} meshes`);
  }
}
