// Routing.nextDue, the time before which a rest tick has nothing to do, checked on the simulator
// (bench/sim/agent-sim.ts), which skips those ticks. With every rest tick run and audited, none
// before its node's nextDue sends anything, leaves work, or changes nextDue or the state held:
// through a cold start, lookups, a node's crash, a root's hang and over two hours (the roots'
// beacons, the routes' idle expiry, the hung root's expiry), and over three days on a line (the
// map's and the locator's refresh). Skipping them leaves an idle hour a small part of its ticks. (The trees' and lookups'
// tests run with them skipped.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fcAddressBytes } from '../../src/keys/address.js';
import { equalBytes } from '../../src/util/bytes.js';
import { AgentSim } from '../../bench/sim/agent-sim.js';
import { makeGraph, randomGeometricGraph, type Graph } from '../../bench/sim/graph.js';
import { MeshAgent } from '../../bench/sim/mesh-agent.js';
import { ROOT_EXPIRY_SLOW_MS, ROOT_REFRESH_SLOW_MS } from '../../src/routing/constants.js';

type Sim = AgentSim<MeshAgent>;

const HOUR_MS = 60 * 60_000;

function makeSim(g: Graph, auditRestTicks: boolean): Sim {
  const shared = new Map<string, boolean>();
  return new AgentSim<MeshAgent>(g, (io) => new MeshAgent(io, { shared }), { seed: 5, auditRestTicks });
}

/** A cold start, lookups between `pairs`, the crash of node `crash` (its links go down) and, if
 *  `hangRoot`, the hang of the first tree's root (its links stay up: those that keep it take it
 *  for gone ROOT_EXPIRY_SLOW_MS after its last beacon), then an idle stretch of `idleMs`; the
 *  ticks run in that stretch. */
function scenario(sim: Sim, idleMs: number, pairs: [number, number][], crash: number, hangRoot: boolean): number {
  sim.start();
  sim.run(40_000);
  for (const [s, d] of pairs) sim.nodes[s]!.agent.routing.locate(fcAddressBytes(sim.nodes[d]!.keys.publicKey));
  sim.run(20_000);
  sim.crashNode(crash);
  if (hangRoot) {
    const root = sim.nodes[0]!.agent.trees.position(0).beacon.subarray(0, 32);
    sim.hangNode(sim.nodes.findIndex((n) => equalBytes(n.keys.publicKey, root)));
  }
  sim.run(60_000);
  const before = sim.ticks;
  sim.run(idleMs);
  return sim.ticks - before;
}

const PAIRS: [number, number][] = [[0, 41], [17, 63], [70, 5]];

test('a rest tick before its node\'s nextDue does nothing: none sends, leaves work, or changes nextDue or the state', () => {
  const g = randomGeometricGraph(80, 21);
  const sim = makeSim(g, true);
  // Past the roots' beacon refresh, the routes' idle expiry (10 min) and the hung root's expiry,
  // each a deadline the idle ticks must not run past.
  const idleMs = ROOT_EXPIRY_SLOW_MS + 10 * 60_000;
  assert.ok(idleMs > ROOT_REFRESH_SLOW_MS);
  scenario(sim, idleMs, PAIRS, 33, true);
  assert.deepEqual(sim.restTickAudit.faults.slice(0, 5), []);
  assert.ok(sim.nodes.some((n) => n.agent.trees.counters.rootsExpired > 0), 'no node took the hung root for gone in the idle time');
  // Most of the idle time's ticks were before their node's nextDue, and so were checked.
  assert.ok(sim.restTickAudit.ticks > 0.9 * (g.n * idleMs) / 1000, `${sim.restTickAudit.ticks} rest ticks audited`);
});

test('nor over three days on a line: the map\'s daily refresh and the locator\'s publish every three days come when due', () => {
  const g = makeGraph('line', 12, Array.from({ length: 11 }, (_, i) => [i, i + 1] as [number, number]));
  const sim = makeSim(g, true);
  scenario(sim, 73 * HOUR_MS, [[0, 11]], 6, false);
  assert.deepEqual(sim.restTickAudit.faults.slice(0, 5), []);
  assert.ok(sim.restTickAudit.ticks > 0.9 * g.n * 73 * 3600, `${sim.restTickAudit.ticks} rest ticks audited`);
});

test('skipping the rest ticks before nextDue leaves an idle hour a small part of its ticks', () => {
  const g = randomGeometricGraph(80, 21);
  // A rest tick a second at every node would be 288,000.
  const ticks = scenario(makeSim(g, false), HOUR_MS, PAIRS, 33, false);
  assert.ok(ticks < (g.n * 3600) / 20, `${ticks} ticks in the idle hour`);
});
