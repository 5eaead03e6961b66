// Data flows over a simulated mesh of MeshAgents, and how long a failure interrupts them: what
// bench/lookups.ts reports as failover, and what test/unit/lookups.test.ts holds to its bound.
import { LINK_DEAD_MS } from '../../src/node/links.js';
import { MAX_HOPS } from '../../src/routing/constants.js';
import { addressOf } from '../../src/routing/locator.js';
import type { AgentSim } from './agent-sim.js';
import { bfs, rng, type Graph } from './graph.js';
import type { MeshAgent } from './mesh-agent.js';

/** A data packet every FLOW_INTERVAL_MS on each flow. */
export const FLOW_INTERVAL_MS = 100;
/** A failure is noticed within LINK_DEAD_MS (src/node/links.ts), and the trees and lookups have
 *  moved on well before twice that: flows all arriving then are done with it. */
const SETTLED_MS = 2 * LINK_DEAD_MS;

/** Where a simulation's data packets arrive: MeshAgent's `delivered` calls `on`, which failover()
 *  sets while its flows run. */
export class Deliveries {
  on: (index: number, tag: number) => void = () => {};
}

export interface Failover {
  /** Per flow whose packets stopped arriving and came back: how long after the failure (ms). */
  interrupted: number[];
  /** Flows that stopped and did not come back within 20 s although a way was left. */
  lost: number;
  /** Flows that stopped for good because the failure left no way between their ends. */
  cutOff: number;
  /** Flows that had not started flowing before the failure (their lookup still running): not
   *  counted above, since the failure did not interrupt them. */
  notStarted: number;
  /** Bytes a second each node sent, data and control, over the 5 s of flows before the failure
   *  and from the failure until the end: what the failure adds to what the flows send. */
  sentBefore: number[];
  sentAfter: number[];
}

/**
 * Data flows between `pairs` (a packet every FLOW_INTERVAL_MS each, sent along the source's route,
 * or starting a lookup where it has none, as the daemon does), then `fail()` at a steady moment.
 * Returns, per flow whose packets stopped arriving, how long after the failure its packets arrived
 * again: the failure's detection, the report or announcement, and the switch to another route.
 */
export function failover(sim: AgentSim<MeshAgent>, deliveries: Deliveries, pairs: [number, number][], fail: () => void, cutOff: (s: number, d: number) => boolean): Failover {
  const targets = pairs.map(([, d]) => addressOf(sim.nodes[d]!.keys.publicKey));
  const lastArrival = new Float64Array(pairs.length).fill(-1);
  let failedAt = Infinity;
  const backAt = new Float64Array(pairs.length).fill(-1);
  const arrivedBefore = new Uint32Array(pairs.length);
  deliveries.on = (index, tag) => {
    if (index !== pairs[tag]![1]) return;
    if (sim.now <= failedAt) arrivedBefore[tag]!++;
    // A flow stalled if nothing arrived for three intervals after the failure.
    if (sim.now > failedAt && sim.now - Math.max(lastArrival[tag]!, failedAt) > 3 * FLOW_INTERVAL_MS + 50) {
      if (backAt[tag]! < 0) backAt[tag] = sim.now - failedAt;
    }
    lastArrival[tag] = sim.now;
  };
  let running = true;
  const send = () => {
    if (!running) return;
    pairs.forEach(([s], i) => {
      const agent = sim.nodes[s]!.agent;
      if (!sim.nodes[s]!.alive) return;
      if (!agent.sendData(targets[i]!, i)) agent.routing.locate(targets[i]!);
    });
    sim.at(sim.now + FLOW_INTERVAL_MS, send);
  };
  sim.takeTraffic();
  send();
  sim.run(5_000);
  const before = sim.takeTraffic().perNode;
  failedAt = sim.now;
  fail();
  const severed = pairs.map(([s, d]) => cutOff(s, d));
  // Until every flow the failure left a way for arrives again, once the failure has long been
  // noticed and the routing has settled after it, or 20 s at most: a flow still stalled then is
  // lost. (Flows that all arrive that long after the failure have come through it; running on
  // only costs the simulator time: on powerlaw-10000, a hundred flows of 27 hops cost 60 s of
  // wall time per 10 s.)
  const flowing = () => pairs.every((_, i) => severed[i] || sim.now - lastArrival[i]! <= 3 * FLOW_INTERVAL_MS + 50);
  sim.runUntilTrue(() => sim.now - failedAt >= SETTLED_MS && flowing(), 20_000, FLOW_INTERVAL_MS);
  running = false;
  deliveries.on = () => {};
  const after = sim.takeTraffic().perNode;
  const perSecond = (bytes: Float64Array, ms: number) => Array.from(bytes, (b) => (1000 * b) / ms);
  // Flows that stalled and never came back: lost, unless the failure left no way between them.
  let lost = 0;
  let cut = 0;
  let notStarted = 0;
  const interrupted: number[] = [];
  for (let i = 0; i < pairs.length; i++) {
    if (arrivedBefore[i] === 0) notStarted++;
    else if (backAt[i]! >= 0) interrupted.push(backAt[i]!);
    else if (lastArrival[i]! < failedAt + 3 * FLOW_INTERVAL_MS) {
      if (severed[i]) cut++;
      else lost++;
    }
  }
  return { interrupted, lost, cutOff: cut, notStarted, sentBefore: perSecond(before, 5_000), sentAfter: perSecond(after, sim.now - failedAt) };
}

/** Whether two nodes `hops` apart (BFS; -1: no way) are within a route's reach: a label's
 *  MAX_HOPS - 1 slots (on the 45×45 grid, some pairs lie farther). */
export function withinRouteReach(hops: number): boolean {
  return hops > 0 && hops <= MAX_HOPS - 1;
}

/** Sampled pairs of live nodes, linked to neither each other nor `avoid`, and within a route's
 *  reach; seeded. */
export function flowPairs(g: Graph, count: number, seed: number, avoid: number): [number, number][] {
  const random = rng(seed);
  const pairs: [number, number][] = [];
  while (pairs.length < count) {
    const s = Math.floor(random() * g.n);
    const d = Math.floor(random() * g.n);
    if (s === d || s === avoid || d === avoid || g.adjacency[s]!.includes(d)) continue;
    if (withinRouteReach(bfs(g, s)[d]!)) pairs.push([s, d]);
  }
  return pairs;
}
