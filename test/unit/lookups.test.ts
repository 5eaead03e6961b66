// Lookups over the trees (src/routing/lookups.ts), in-process: real Trees and Lookups agents with
// real keys on the simulator's in-memory transport (bench/sim/mesh-agent.ts). Checks that lookups
// find their targets with routes whose labels really lead there, that the probes bring the
// routes near the shortest paths, that forged locators are refused, and that lookups get through
// a few hostile nodes. bench/lookups.ts measures the same on the shared graphs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fcAddressBytes } from '../../src/keys/address.js';
import { xeddsaSigner } from '../../src/keys/xeddsa.js';
import { signLocator } from '../../src/routing/locator.js';
import { DHT_BUCKET_SIZE, LOCATOR_MIN_INTERVAL_MS, LOCATOR_SETTLE_MS, LOOKUP_TIMEOUT_MS, type LookupResult } from '../../src/routing/lookups.js';
import { compareDistance } from '../../src/routing/dht-table.js';
import { AgentSim } from '../../bench/sim/agent-sim.js';
import { bfs, makeGraph, randomGeometricGraph, rng, type Graph } from '../../bench/sim/graph.js';
import { MeshAgent } from '../../bench/sim/mesh-agent.js';
import { FRAME_ROUTED, KIND_ROUTING_ANSWER, writeRoutedHeader } from '../../src/forward/header.js';

type Sim = AgentSim<MeshAgent>;

function makeSim(g: Graph, done: Map<number, LookupResult[]>): Sim {
  const shared = new Map<string, boolean>();
  return new AgentSim<MeshAgent>(
    g,
    (io) =>
      new MeshAgent(io, {
        shared,
        lookupDone: (index, result) => done.set(index, [...(done.get(index) ?? []), result]),
      }),
    { seed: 11 },
  );
}

/** The random geometric mesh of 80 most tests use, 40 s after a cold start. */
function meshOf80(): { g: Graph; sim: Sim; done: Map<number, LookupResult[]> } {
  const g = randomGeometricGraph(80, 21);
  const done = new Map<number, LookupResult[]>();
  const sim = makeSim(g, done);
  sim.start();
  sim.run(40_000);
  return { g, sim, done };
}

/** Where a route's label leads, over links that are up: its first hop, then each slot at each
 *  transit (-1: into a link that is down or does not exist). */
function walk(sim: Sim, from: number, link: number, slots: Uint16Array): number {
  let at = sim.nodes[from]!.peers[link]!;
  if (!sim.linkIsUp(from, at)) return -1;
  for (const slot of slots) {
    const next = sim.nodes[at]!.peers[slot];
    if (next === undefined || slot === 0 || !sim.linkIsUp(at, next)) return -1;
    at = next;
  }
  return at;
}

function address(sim: Sim, i: number): Uint8Array {
  return fcAddressBytes(sim.nodes[i]!.keys.publicKey);
}

/** Looks up `pairs` sampled pairs; returns per pair whether it was found and the route's stretch. */
function lookupPairs(sim: Sim, done: Map<number, LookupResult[]>, pairs: number, seed: number, avoid: (i: number) => boolean) {
  const g = sim.graph;
  const random = rng(seed);
  const out: { s: number; d: number; found: boolean; located: boolean; stretch: number; leads: boolean }[] = [];
  for (let p = 0; p < pairs; p++) {
    let s: number;
    let d: number;
    do {
      s = Math.floor(random() * g.n);
      d = Math.floor(random() * g.n);
    } while (s === d || avoid(s) || avoid(d));
    sim.nodes[s]!.agent.lookups.locate(address(sim, d));
    sim.run(12_000);
    const result = (done.get(s) ?? []).find((r) => compare(r.target, address(sim, d)));
    const route = sim.nodes[s]!.agent.lookups.route(address(sim, d));
    out.push({
      s,
      d,
      found: !!result?.found && !!route,
      located: !!result?.located,
      stretch: route ? route.hops / bfs(g, s)[d]! : NaN,
      leads: route ? walk(sim, s, route.link, route.label) === d : false,
    });
  }
  return out;
}

/** A random pair whose target can move: not neighbours, the target with three links or more and
 *  a parent in tree 0 other than the source (the link that the test cuts). Null to draw again. */
function movingPair(sim: Sim, random: () => number) {
  const g = sim.graph;
  const s = Math.floor(random() * g.n);
  const d = Math.floor(random() * g.n);
  const target = sim.nodes[d]!;
  if (s === d || g.adjacency[s]!.includes(d) || g.adjacency[d]!.length < 3 || target.agent.trees.parentOf(0) === 0) return null;
  const parent = target.peers[target.agent.trees.parentOf(0)]!;
  if (parent === s) return null;
  return { s, d, target, source: sim.nodes[s]!.agent.lookups, parent };
}

function compare(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

test('lookups find their targets with routes that lead there, near the shortest paths', () => {
  const { g, sim, done } = meshOf80();
  const results = lookupPairs(sim, done, 40, 1, () => false);
  const missed = results.filter((r) => !r.found);
  assert.equal(missed.length, 0, `not found: ${missed.map((r) => `${r.s}→${r.d}`).join(', ')}`);
  for (const r of results) assert.ok(r.leads, `the route ${r.s}→${r.d} does not lead to ${r.d}`);
  const mean = results.reduce((a, r) => a + r.stretch, 0) / results.length;
  assert.ok(mean <= 1.2, `mean stretch ${mean.toFixed(3)}`);
  assert.ok(Math.max(...results.map((r) => r.stretch)) <= 2, 'stretch above 2');
  // No node holds a route to every other: routes are found on demand.
  for (const node of sim.nodes) assert.ok(node.agent.lookups.paths.size < g.n - 1);
});

test("on a line of 50, where locators are long and an answer has room for few, each node's locator reaches the nodes nearest its address", () => {
  // Deep in the trees a locator is hundreds of bytes: an answer that spent a place on the asker
  // (the nearest node to its own address, when it publishes) left a publish no way past its
  // first contacts, and lookups for it failed.
  const n = 50;
  const g = makeGraph('line-50', n, Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as [number, number]));
  const done = new Map<number, LookupResult[]>();
  const sim = makeSim(g, done);
  sim.start();
  sim.run(20_000);
  for (let d = 0; d < n; d++) {
    const target = address(sim, d);
    const nearest = [...Array(n).keys()].filter((i) => i !== d).sort((a, b) => compareDistance(target, address(sim, a), address(sim, b))).slice(0, DHT_BUCKET_SIZE);
    const holding = nearest.filter((i) => sim.nodes[i]!.agent.lookups.table.get(target)).length;
    assert.ok(holding >= DHT_BUCKET_SIZE / 2, `node ${d}: its locator is held by ${holding} of the ${DHT_BUCKET_SIZE} nodes nearest its address`);
  }
  const results = lookupPairs(sim, done, 20, 3, () => false);
  const missed = results.filter((r) => !r.found);
  assert.equal(missed.length, 0, `not found: ${missed.map((r) => `${r.s}→${r.d}`).join(', ')}`);
});

test('on a line of 50 with five nodes that answer nothing, lookups still find their targets (the roots are asked while bootstrapping)', () => {
  // A node learns of others from those that ask or answer it; on a chain, what lies beyond a
  // silent node it could learn only through that node, so each stretch between silent nodes
  // knew only itself (29 of 200 found) until a publish asked the trees' roots too.
  const n = 50;
  const g = makeGraph('line-50', n, Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as [number, number]));
  const done = new Map<number, LookupResult[]>();
  const sim = makeSim(g, done);
  const silent = new Set([5, 15, 25, 35, 45]);
  for (const i of silent) sim.nodes[i]!.agent.lookups.behaviour = 'silent';
  sim.start();
  sim.run(20_000);
  const results = lookupPairs(sim, done, 20, 4, (i) => silent.has(i));
  const missed = results.filter((r) => !r.found);
  assert.equal(missed.length, 0, `not found: ${missed.map((r) => `${r.s}→${r.d}`).join(', ')}`);
  assert.ok(results.some((r) => Math.min(r.s, r.d) < 25 && Math.max(r.s, r.d) > 35), 'no pair across two silent nodes');
});

test('a forged locator in an answer is refused and counted, and the answer dropped', () => {
  const { g, sim } = meshOf80();
  // Node 0 asks node 1's neighbour-of-neighbour; we answer in its name with a locator whose
  // signature does not match (a byte changed after signing), on a request id it is waiting for.
  const asker = sim.nodes[0]!.agent.lookups as unknown as { requests: Map<string, unknown> };
  const target = Array.from({ length: g.n }, (_, i) => i).find((i) => i !== 0 && !g.adjacency[0]!.includes(i) && !sim.nodes[0]!.agent.lookups.route(address(sim, i)))!;
  sim.nodes[0]!.agent.lookups.locate(address(sim, target));
  const [id] = [...asker.requests.keys()];
  assert.ok(id, 'a request is in flight');
  const liar = sim.nodes[g.adjacency[0]![0]!]!;
  const forged = signLocator(xeddsaSigner(liar.keys.privateKey), liar.keys.publicKey, Date.now(), []);
  const bytes = forged.bytes.slice();
  bytes[40]! ^= 1; // the sequence, after signing
  // kind FIND answer, the request id, the way's MTU, one locator.
  const payload = new Uint8Array(1 + 8 + 2 + 1 + bytes.length);
  payload[0] = 1;
  payload.set(Buffer.from(id, 'hex'), 1);
  payload.set([1280 >> 8, 1280 & 0xff], 9);
  payload[11] = 1;
  payload.set(bytes, 12);
  const before = sim.nodes[0]!.agent.lookups.counters.badLocators;
  sim.nodes[0]!.agent.lookups.receiveAnswer(sim.nodes[0]!.ifaceTo.get(liar.index)!, new Uint16Array(0), payload);
  assert.equal(sim.nodes[0]!.agent.lookups.counters.badLocators - before, 1);
  assert.ok(asker.requests.has(id), 'the request still waits for a true answer');
  // The same bytes through the transport (a routed frame of kind "routing answer") are refused too.
  const frame = new Uint8Array(7 + payload.length);
  writeRoutedHeader(frame, 0, KIND_ROUTING_ANSWER, 64, [], payload.length);
  frame.set(payload, 7);
  assert.equal(frame[0], FRAME_ROUTED);
  sim.nodes[0]!.agent.receive(sim.nodes[0]!.ifaceTo.get(liar.index)!, frame);
  assert.equal(sim.nodes[0]!.agent.lookups.counters.badLocators - before, 2);
  // An answer claiming a way narrower than IPv6 allows is malformed, whatever it carries.
  const narrow = payload.slice();
  narrow.set([1000 >> 8, 1000 & 0xff], 9);
  const malformed = sim.nodes[0]!.agent.lookups.counters.malformed;
  sim.nodes[0]!.agent.lookups.receiveAnswer(sim.nodes[0]!.ifaceTo.get(liar.index)!, new Uint16Array(0), narrow);
  assert.equal(sim.nodes[0]!.agent.lookups.counters.malformed - malformed, 1);
  sim.run(6_000);
  assert.ok(sim.nodes[0]!.agent.lookups.route(address(sim, target)), 'the lookup still ends with a route');
});

test('a lookup gets past the three contacts it asks first when two answer nothing and one misleads', () => {
  const { g, sim, done } = meshOf80();
  const random = rng(4);
  let tried = 0;
  let found = 0;
  while (tried < 10) {
    const s = Math.floor(random() * g.n);
    const d = Math.floor(random() * g.n);
    const source = sim.nodes[s]!.agent.lookups;
    if (s === d || source.route(address(sim, d))) continue;
    // The contacts it asks first (those nearest the target in its table), made hostile; never
    // the target itself or the source's own neighbours (a silent neighbour on every way out is a
    // black hole no routing gets past).
    const first = source.table.closest(address(sim, d), 3).map((c) => sim.nodes.findIndex((n) => compare(address(sim, n.index), c.address)));
    if (first.length < 3 || first.includes(d) || first.some((i) => g.adjacency[s]!.includes(i))) continue;
    tried++;
    first.forEach((i, k) => (sim.nodes[i]!.agent.lookups.behaviour = k < 2 ? 'silent' : 'misleading'));
    source.locate(address(sim, d));
    sim.run(12_000);
    const result = (done.get(s) ?? []).find((r) => compare(r.target, address(sim, d)));
    const route = source.route(address(sim, d));
    if (result?.found && route && walk(sim, s, route.link, route.label) === d) found++;
    for (const i of first) sim.nodes[i]!.agent.lookups.behaviour = 'honest';
  }
  assert.equal(found, tried, `${found}/${tried} lookups got past their first three contacts`);
});

test('a node whose parent link fails signs and publishes a new locator at once, not once the trees have settled, and again soon if it fails again', () => {
  // Whoever sends to it by the old one is cut off and looks it up again now: waiting
  // LOCATOR_SETTLE_MS for the trees left those lookups finding only places that were gone.
  const { g, sim } = meshOf80();
  const node = sim.nodes.find((n) => g.adjacency[n.index]!.length >= 3 && n.agent.trees.parentOf(0) !== 0)!;
  const parent = node.peers[node.agent.trees.parentOf(0)]!;
  const before = node.agent.lookups.ownLocator;
  const cutAt = sim.now;
  sim.linkDown(node.index, parent);
  const signedAt = sim.runUntilTrue(() => node.agent.lookups.ownLocator.sequence > before.sequence, 2 * LOCATOR_SETTLE_MS, 10);
  assert.ok(signedAt !== null, 'no new locator');
  assert.ok(signedAt - cutAt <= LOCATOR_SETTLE_MS / 4, `a new locator ${signedAt - cutAt} ms after the parent's link failed`);
  const first = node.agent.lookups.ownLocator;
  assert.notDeepEqual(first.places.find((p) => p.tree === 0)?.coordinates, before.places.find((p) => p.tree === 0)?.coordinates, 'the new locator names the old place');
  // Its new parent's link fails too, a moment later (as a failure's neighbours notice it one
  // after another): the next locator follows within LOCATOR_LOST_INTERVAL_MS, not a second.
  const followedAt = sim.runUntilTrue(() => node.agent.trees.parentOf(0) !== 0, 1_000, 10);
  assert.ok(followedAt !== null && followedAt - signedAt < 500, 'no new parent in tree 0 soon after');
  sim.linkDown(node.index, node.peers[node.agent.trees.parentOf(0)]!);
  const againAt = sim.runUntilTrue(() => node.agent.lookups.ownLocator.sequence > first.sequence, 2 * LOCATOR_SETTLE_MS, 10);
  assert.ok(againAt !== null && againAt - signedAt < LOCATOR_MIN_INTERVAL_MS, `the next locator ${againAt === null ? 'never came' : `came ${againAt - signedAt} ms after the last`}`);
  const after = node.agent.lookups.ownLocator;
  // Published: the nodes nearest its address hold the newest one soon after.
  const target = address(sim, node.index);
  const nearest = sim.nodes.filter((n) => n !== node).sort((a, b) => compareDistance(target, address(sim, a.index), address(sim, b.index))).slice(0, DHT_BUCKET_SIZE);
  const heldAt = sim.runUntilTrue(() => nearest.some((n) => n.agent.lookups.table.get(target)?.locator.sequence === after.sequence), 2_000, 10);
  assert.ok(heldAt !== null, 'none of the nodes nearest its address got the new locator');
});

test('a lookup whose target is located but silent keeps asking, and finds it where it has moved to soon after it answers', () => {
  // The target's locator names places that failed a moment ago, and the target itself does not
  // answer for two seconds (as while the trees around a failure heal): the lookup asks the
  // nearest contacts again for a newer locator and the target again, until LOOKUP_TIMEOUT_MS,
  // and finds it soon after it answers again.
  const { sim, done } = meshOf80();
  const random = rng(6);
  let tried = 0;
  while (tried < 5) {
    const pair = movingPair(sim, random);
    if (!pair) continue;
    const { s, d, target, source, parent } = pair;
    tried++;
    // The source found the target before (its routes forgotten since): the contacts it asks know
    // the locator it has now.
    source.locate(address(sim, d));
    sim.run(5_000);
    assert.ok(source.route(address(sim, d)), `${s} did not find ${d} to begin with`);
    source.paths.expire(sim.now + 1);
    sim.linkDown(d, parent);
    target.agent.lookups.behaviour = 'silent';
    const startedAt = sim.now;
    const ended = (done.get(s) ?? []).length;
    source.locate(address(sim, d));
    sim.run(2_000);
    target.agent.lookups.behaviour = 'honest';
    const foundAt = sim.runUntilTrue(() => (done.get(s) ?? []).length > ended, LOOKUP_TIMEOUT_MS, 10);
    const result = (done.get(s) ?? [])[ended];
    assert.ok(result && compare(result.target, address(sim, d)), 'another lookup ended first');
    assert.ok(foundAt !== null && result?.found, `${s} gave up on ${d} after ${result?.ms} ms`);
    assert.ok(foundAt - startedAt < LOOKUP_TIMEOUT_MS, 'found only by the timeout');
    // Asked again every RELOCATE_MS: found within half a second of answering again (at most
    // 360 ms measured; once a second, up to 650).
    assert.ok(foundAt - startedAt - 2_000 < 500, `found ${foundAt - startedAt - 2_000} ms after the target answered again`);
    const route = source.route(address(sim, d));
    assert.ok(route && walk(sim, s, route.link, route.label) === d, `the route ${s}→${d} does not lead there`);
    sim.linkUp(d, parent);
    sim.run(10_000);
  }
});

test('a target\'s nearest contact, silent when first asked, is asked again a round later, not only once its request times out', () => {
  // Around a failure, requests go lost into nodes that have not noticed it yet; the nearest
  // contacts, which hold the target's new locator, would otherwise stay unasked until their
  // requests time out (REQUEST_TIMEOUT_MS): past the target's new locator.
  const { sim } = meshOf80();
  const random = rng(8);
  const took: number[] = [];
  while (took.length < 5) {
    const pair = movingPair(sim, random);
    if (!pair) continue;
    const { s, d, target, source, parent } = pair;
    const targetAddress = address(sim, d);
    source.locate(targetAddress);
    sim.run(5_000);
    assert.ok(source.route(targetAddress), `${s} did not find ${d} to begin with`);
    source.paths.expire(sim.now + 1);
    // The target moves; the contact nearest its address that the source knows learns its new
    // locator.
    const before = target.agent.lookups.ownLocator.sequence;
    sim.linkDown(d, parent);
    const known = source.table.closest(targetAddress, DHT_BUCKET_SIZE).map((c) => sim.nodes.findIndex((n) => compare(address(sim, n.index), c.address)));
    const holds = (i: number) => (sim.nodes[i]!.agent.lookups.table.get(targetAddress)?.locator.sequence ?? 0) > before;
    sim.runUntilTrue(() => target.agent.lookups.ownLocator.sequence > before && known.some((i) => i !== d && holds(i)), 3_000, 10);
    const holder = known.find((i) => i !== d && i !== s);
    if (holder === undefined || !holds(holder)) {
      sim.linkUp(d, parent);
      sim.run(10_000);
      continue;
    }
    // Every other node answers nothing from here, and the holder for the first 600 ms.
    for (const n of sim.nodes) if (n.index !== s) n.agent.lookups.behaviour = 'silent';
    const startedAt = sim.now;
    source.locate(targetAddress);
    sim.run(600);
    sim.nodes[holder]!.agent.lookups.behaviour = 'honest';
    const lookup = () => (source as unknown as { lookups: Map<string, { targetLocator: { sequence: number } | null }> }).lookups.get(Buffer.from(targetAddress).toString('hex'));
    const learnedAt = sim.runUntilTrue(() => (lookup()?.targetLocator?.sequence ?? 0) > before, 3_000, 10);
    assert.ok(learnedAt !== null, `${s} never learned ${d}'s new locator from ${holder}`);
    took.push(learnedAt - startedAt);
    for (const n of sim.nodes) n.agent.lookups.behaviour = 'honest';
    sim.linkUp(d, parent);
    sim.run(10_000);
  }
  // Asked again at the round after it answers (every RELOCATE_MS): 670–1,160 ms measured in four
  // of the five, 1,590–1,600 in one where another contact came first in the lookup. Waiting for
  // the request's timeout, it was 1,630–1,690 ms in all five.
  assert.ok(took.filter((ms) => ms < 1_200).length >= 3, `learned after ${took.join(', ')} ms`);
});
