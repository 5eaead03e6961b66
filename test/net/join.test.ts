// Two meshes of real daemons, each up on its own until its nodes have run their bootstrap rounds,
// then joined by one link (issue 16): the nodes whose roots moved run their rounds again
// (src/routing/lookups.ts rootsMoved), whose publishes ask the new roots, and sampled pairs across
// the join, farther apart than the maps' MAP_RADIUS hops, reach each other with ping -6 at the
// first try of a lookup. Before the rounds ran again, each side's tables knew only its own nodes,
// and a lookup across ended among its own side's nodes nearest the target (in the simulator, two
// meshes of 20 so joined failed 0 to 60 of 60 lookups across, by how the roots fell to the sides).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAP_RADIUS } from '../../src/routing/constants.js';
import { BOOTSTRAP_ROUNDS_MS } from '../../src/routing/lookups.js';
import { bfs, makeGraph, randomGeometricGraph, rng } from '../../bench/sim/graph.js';
import { Lab, isRoot, nsExec, until, type Daemon } from './netns.js';
import { buildMesh, ping } from './mesh.js';

/** Nodes a side. */
const SIDE = 20;
/** Pairs across pinged. */
const PAIRS = 12;

test('two meshes of 20 daemons joined by one link: the nodes whose roots moved run their bootstrap rounds again, and pairs across reach each other', { skip: !isRoot && 'needs root for namespaces and TUN', timeout: 10 * 60_000 }, async (t) => {
  const a = randomGeometricGraph(SIDE, 36);
  const b = randomGeometricGraph(SIDE, 66);
  const edges: [number, number][] = [...a.edges, ...b.edges.map(([x, y]): [number, number] => [x + SIDE, y + SIDE]), [0, SIDE]];
  const graph = makeGraph('two meshes', 2 * SIDE, edges);
  const lab = new Lab();
  try {
    const { nodes, veths } = buildMesh(lab, 'j', 2 * SIDE, edges);
    // The link that joins them exists from the start, down (its address kept: Linux drops an
    // interface's IPv6 addresses when it is set down, unless told not to).
    const [join] = veths.get(`0-${SIDE}`)!;
    nsExec(nodes[0]!.ns, 'sysctl', ['-qw', `net.ipv6.conf.${join}.keep_addr_on_down=1`]);
    nsExec(nodes[0]!.ns, 'ip', ['link', 'set', join, 'down']);
    const daemons: Daemon[] = nodes.map((n) => lab.start(n.ns, n.config));
    const lookupCounters = async (d: Daemon) => ((await d.state()) as unknown as { routing: { lookups: Record<string, number> } }).routing.lookups;

    const started = performance.now();
    for (const [i, d] of daemons.entries()) {
      await until(`node ${i} to have run its bootstrap rounds`, async () => (await lookupCounters(d)).roundsRun! >= BOOTSTRAP_ROUNDS_MS.length, 3 * 60_000, 1000);
    }
    t.diagnostic(`every node's rounds run ${Math.round(performance.now() - started)} ms after the daemons started`);
    for (const [i, d] of daemons.entries()) assert.equal((await lookupCounters(d)).roundsRestarted, 0, `node ${i} ran its rounds again before the join`);

    nsExec(nodes[0]!.ns, 'ip', ['link', 'set', join, 'up']);
    const joined = performance.now();
    await until('the link across up', async () => (await daemons[0]!.state()).peers.some((p) => p.address === nodes[SIDE]!.address && p.routeSource === 'link'), 60_000, 250);
    t.diagnostic(`link across up ${Math.round(performance.now() - joined)} ms after the join`);
    // Every root the other side's outranks moves, on one side or both: a whole side at least
    // runs its rounds again.
    const restarted = new Set<number>();
    await until('a side to run its rounds again', async () => {
      for (const [i, d] of daemons.entries()) if ((await lookupCounters(d)).roundsRestarted! > 0) restarted.add(i);
      return [0, SIDE].some((first) => Array.from({ length: SIDE }, (_, k) => first + k).every((i) => restarted.has(i)));
    }, 60_000, 1000);
    t.diagnostic(`${restarted.size} of ${2 * SIDE} nodes ran their rounds again`);

    // Pairs across, beyond the maps, half each way. Each must answer within 12 s: a lookup that
    // fails takes 10 s and has its address refused 2 s more, so one that fails shows.
    const random = rng(3);
    const pairs: [number, number][] = [];
    while (pairs.length < PAIRS) {
      const [s, d] = pairs.length % 2 ? [Math.floor(random() * SIDE), SIDE + Math.floor(random() * SIDE)] : [SIDE + Math.floor(random() * SIDE), Math.floor(random() * SIDE)];
      if (bfs(graph, s!)[d!]! > MAP_RADIUS) pairs.push([s!, d!]);
    }
    const took: number[] = [];
    for (const [s, d] of pairs) {
      const from = performance.now();
      try {
        await until(`${s} to reach ${d} (${bfs(graph, s)[d]} hops)`, () => ping(nodes[s]!, nodes[d]!, ['-W', '2']).code === 0, 12_000, 100);
      } catch (e) {
        // What the two ends knew when it failed (it failed once in CI, and not since, here or in
        // the simulator): their lookups' counters, contacts, trees and the rounds run again.
        for (const [i, d2] of daemons.entries()) if ((await lookupCounters(d2)).roundsRestarted! > 0) restarted.add(i);
        t.diagnostic(`failed: nodes that had run their rounds again: ${[...restarted].sort((x, y) => x - y).join(' ')}`);
        for (const i of [s, d]) t.diagnostic(`node ${i}'s routing: ${JSON.stringify((await daemons[i]!.state() as unknown as { routing: unknown }).routing)}`);
        throw e;
      }
      took.push(performance.now() - from);
    }
    t.diagnostic(`pairs across: first answers mean ${Math.round(took.reduce((x, y) => x + y, 0) / took.length)} ms, max ${Math.round(Math.max(...took))} ms`);
    // By now the other side too, where it lost a tree.
    for (const [i, d] of daemons.entries()) if ((await lookupCounters(d)).roundsRestarted! > 0) restarted.add(i);
    t.diagnostic(`${restarted.size} of ${2 * SIDE} nodes had run their rounds again by the end`);
  } finally {
    await lab.cleanup();
  }
});
