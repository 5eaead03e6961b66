// Lookups over the trees (src/routing/lookups.ts), in-process: real Trees and Lookups agents with
// real keys on the simulator's in-memory transport (bench/sim/mesh-agent.ts). Checks that lookups
// find their targets with routes whose labels really lead there, that the probes bring the
// routes near the shortest paths, that forged locators are refused, and that lookups get through
// a few hostile nodes. bench/lookups.ts measures the same on the shared graphs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fcAddressBytes, isRovyKey } from '../../src/keys/address.js';
import { randomKeyPair } from '../../src/keys/x25519.js';
import { xeddsaSigner } from '../../src/keys/xeddsa.js';
import { generateKeyPair } from '../../src/noise/primitives.js';
import { signLocator, type TreePlace } from '../../src/routing/locator.js';
import { rootRank, compareRanks } from '../../src/routing/tree-proof.js';
import { PairKeys, ROLE_ANSWER, ROLE_REQUEST, SharedPairKeys, TAG_SIZE, lookupTag } from '../../src/routing/lookup-tags.js';
import { FRAME_TREE_ROUTED, KIND_FIND, KIND_PROBE, KIND_PROBE_RETURN, decodeTreeFrame, encodeTreeFrame } from '../../src/routing/tree-frame.js';
import { BOOTSTRAP_ROUNDS_MS, DHT_BUCKET_SIZE, LOCATOR_LOST_INTERVAL_MS, LOCATOR_MIN_INTERVAL_MS, LOCATOR_REFRESH_MS, LOCATOR_SETTLE_MS, LOOKUP_TIMEOUT_MS, REFRESH_MAX_PERIODS, RELOCATE_MOVED_MS, RELOCATE_MS, refreshPeriodFor, refreshPhaseOf, type LookupResult } from '../../src/routing/lookups.js';
import { compareDistance } from '../../src/routing/dht-table.js';
import { MAP_RADIUS, TICK_MS, TREE_COUNT } from '../../src/routing/constants.js';
import { equalBytes, hexOf } from '../../src/util/bytes.js';
import { AgentSim, simulationKeys, type AgentNode } from '../../bench/sim/agent-sim.js';
import { bfs, branchedPowerLaw, makeGraph, randomGeometricGraph, rng, type Graph } from '../../bench/sim/graph.js';
import { MeshAgent, keepLookups } from '../../bench/sim/mesh-agent.js';
import { Deliveries, failover, flowPairs } from '../../bench/sim/flows.js';
import { FRAME_ROUTED, KIND_MESSAGE, KIND_ROUTING_ANSWER, OFF_KIND, writeRoutedHeader } from '../../src/forward/header.js';

type Sim = AgentSim<MeshAgent>;

function makeSim(g: Graph, done: Map<number, LookupResult[]>): Sim {
  const shared = new Map<string, boolean>();
  return new AgentSim<MeshAgent>(
    g,
    (io) =>
      new MeshAgent(io, {
        shared,
        lookupDone: keepLookups(done),
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
      leads: route ? sim.follow(s, route.link, route.label) === d : false,
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
  // No node holds a route to every other: routes are found on demand, each to a node it looked
  // up or that looked it up. Not to the contacts its lookups and publishes passed through, nor
  // to those whose lookups passed through it.
  for (const node of sim.nodes) assert.ok(node.agent.lookups.paths.size < g.n - 1);
  const pairs = new Set(results.flatMap((r) => [`${r.s}>${r.d}`, `${r.d}>${r.s}`]));
  const byAddress = new Map(sim.nodes.map((n) => [address(sim, n.index).join(), n.index]));
  for (const node of sim.nodes) {
    for (const d of node.agent.lookups.paths.destinations()) {
      const other = byAddress.get(d.address.join());
      assert.ok(pairs.has(`${node.index}>${other}`), `node ${node.index} holds a route to node ${other}, which it neither looked up nor was looked up by`);
      // Its locator is held once: by the table where that holds it as new.
      const contact = node.agent.lookups.table.get(d.address);
      if (contact) assert.ok(!d.locator || d.locator.sequence > contact.sequence, `node ${node.index} holds node ${other}'s locator twice`);
    }
  }
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

/** The payload of an answer to request `id` with `locators`, tagged with `pairKey`. */
function answerPayload(id: string, locators: Uint8Array[], pairKey: Uint8Array, mtu = 1280, ownLeftOut = false): Uint8Array {
  const size = 1 + 8 + 2 + 1 + locators.reduce((n, l) => n + l.length, 0);
  const payload = new Uint8Array(size + TAG_SIZE);
  // kind FIND answer, the request id, the way's MTU, the locators.
  payload[0] = 1;
  payload.set(Buffer.from(id, 'hex'), 1);
  payload.set([mtu >> 8, mtu & 0xff], 9);
  payload[11] = (ownLeftOut ? 0x80 : 0) | locators.length;
  let off = 12;
  for (const l of locators) {
    payload.set(l, off);
    off += l.length;
  }
  payload.set(lookupTag(pairKey, ROLE_ANSWER, Buffer.from(id, 'hex'), payload.subarray(0, size)), size);
  return payload;
}

test('an answer not tagged by the asked node, or with a forged locator, is refused and counted, and the request still waits', () => {
  const { g, sim } = meshOf80();
  const asker = sim.nodes[0]!.agent.lookups as unknown as { requests: Map<string, { toKey: Uint8Array }> };
  const lookups = sim.nodes[0]!.agent.lookups;
  const target = Array.from({ length: g.n }, (_, i) => i).find((i) => i !== 0 && !g.adjacency[0]!.includes(i) && !lookups.route(address(sim, i)))!;
  lookups.locate(address(sim, target));
  const [[id, request]] = [...asker.requests];
  assert.ok(id && request, 'a request is in flight');
  const asked = sim.nodes.find((n) => compare(n.keys.publicKey, request.toKey))!;
  const askedKey = new PairKeys(asked.keys.privateKey).with(sim.nodes[0]!.keys.publicKey)!;
  const ownLocator = (n: (typeof sim.nodes)[number]) => signLocator(xeddsaSigner(n.keys.privateKey), n.keys.publicKey, Date.now(), []).bytes;
  // A neighbour on the way answers in the asked node's name, with the asked node's own signed
  // locator: it can only tag with the key it shares with the asker, not the asked node's.
  const liar = sim.nodes[g.adjacency[0]![0]!]!;
  const liarKey = new PairKeys(liar.keys.privateKey).with(sim.nodes[0]!.keys.publicKey)!;
  const link = sim.nodes[0]!.ifaceTo.get(liar.index)!;
  let tags = lookups.counters.badTags;
  lookups.receiveAnswer(link, new Uint16Array(0), answerPayload(id, [ownLocator(asked)], liarKey));
  assert.equal(lookups.counters.badTags - tags, 1, 'an answer tagged by another node is counted');
  // Nor can it change what the asked node answered: its tag covers the whole answer.
  const changed = answerPayload(id, [ownLocator(asked)], askedKey);
  changed[10] ^= 1;
  lookups.receiveAnswer(link, new Uint16Array(0), changed);
  assert.equal(lookups.counters.badTags - tags, 2, 'an answer changed on its way is counted');
  assert.ok(asker.requests.has(id), 'the request still waits for a true answer');

  // The asked node itself answering with a locator whose signature does not match (a byte
  // changed after signing): refused for the locator.
  const forged = ownLocator(asked).slice();
  forged[40]! ^= 1; // the sequence, after signing
  const payload = answerPayload(id, [forged], askedKey);
  const before = lookups.counters.badLocators;
  tags = lookups.counters.badTags;
  lookups.receiveAnswer(link, new Uint16Array(0), payload);
  assert.equal(lookups.counters.badLocators - before, 1);
  assert.equal(lookups.counters.badTags, tags, 'its tag is the asked node\'s');
  assert.ok(asker.requests.has(id), 'the request still waits for a true answer');
  // The same bytes through the transport (a routed frame of kind "routing answer") are refused too.
  const frame = new Uint8Array(7 + payload.length);
  writeRoutedHeader(frame, 0, KIND_ROUTING_ANSWER, 64, [], payload.length);
  frame.set(payload, 7);
  assert.equal(frame[0], FRAME_ROUTED);
  sim.nodes[0]!.agent.receive(link, frame);
  assert.equal(lookups.counters.badLocators - before, 2);
  // An answer claiming a way narrower than IPv6 allows is malformed, whatever it carries.
  const malformed = lookups.counters.malformed;
  lookups.receiveAnswer(link, new Uint16Array(0), answerPayload(id, [forged], askedKey, 1000));
  assert.equal(lookups.counters.malformed - malformed, 1);
  sim.run(6_000);
  assert.ok(lookups.route(address(sim, target)), 'the lookup still ends with a route');
});

test('an answer that leaves its sender\'s locator out is taken only for a FIND that listed the one held', () => {
  const { g, sim } = meshOf80();
  type Pending = { toKey: Uint8Array; kind: number; toLocator: unknown };
  const asker = sim.nodes[0]!.agent.lookups as unknown as { requests: Map<string, Pending> };
  const lookups = sim.nodes[0]!.agent.lookups;
  const target = Array.from({ length: g.n }, (_, i) => i).find((i) => i !== 0 && !g.adjacency[0]!.includes(i) && !lookups.route(address(sim, i)))!;
  lookups.locate(address(sim, target));
  const [[id, request]] = [...asker.requests].filter(([, r]) => r.kind === KIND_FIND && r.toLocator);
  assert.ok(id && request, 'a FIND listing the asked node\'s locator is in flight');
  const asked = sim.nodes.find((n) => compare(n.keys.publicKey, request.toKey))!;
  const askedKey = new PairKeys(asked.keys.privateKey).with(sim.nodes[0]!.keys.publicKey)!;
  const link = sim.nodes[0]!.ifaceTo.get(g.adjacency[0]![0]!)!;
  // As if the FIND had listed nothing of the asked node: an answer without its locator is malformed.
  const listed = request.toLocator;
  request.toLocator = undefined;
  const malformed = lookups.counters.malformed;
  lookups.receiveAnswer(link, new Uint16Array(0), answerPayload(id, [], askedKey, 1280, true));
  assert.equal(lookups.counters.malformed - malformed, 1);
  assert.ok(asker.requests.has(id), 'the request still waits');
  request.toLocator = listed;
  const received = lookups.counters.answersReceived;
  lookups.receiveAnswer(link, new Uint16Array(0), answerPayload(id, [], askedKey, 1280, true));
  assert.equal(lookups.counters.answersReceived - received, 1, 'the answer was not taken');
  assert.ok(!asker.requests.has(id));
});

test('a transit that cannot pass a request on tells its asker by the way it came, and the asker asks by another way at once; nothing else is told, and no more than 200 at once', () => {
  const { g, sim } = meshOf80();
  type Pending = { to: Uint8Array; tree: number; firstHop: number; candidate: unknown };
  const asker = sim.nodes[0]!.agent.lookups as unknown as { requests: Map<string, Pending> };
  const lookups = sim.nodes[0]!.agent.lookups;
  const target = Array.from({ length: g.n }, (_, i) => i).find((i) => i !== 0 && !g.adjacency[0]!.includes(i) && !lookups.route(address(sim, i)))!;
  lookups.locate(address(sim, target));
  const neighbour = (a: Uint8Array) => g.adjacency[0]!.some((i) => compare(address(sim, i), a));
  const [[id, request]] = [...asker.requests].filter(([, r]) => r.candidate && !neighbour(r.to));
  assert.ok(id && request, "a request to one of the lookup's contacts, not a neighbour, is in flight");
  // A FIND of node 0's with that request's id, steered in a tree no node knows the root of, to an
  // address no map holds: its first transit cannot pass it on.
  const transitIndex = g.adjacency[0]![0]!;
  const transit = sim.nodes[transitIndex]!.agent.lookups;
  const unknownRoot = new Uint8Array(8).fill(0xee);
  const nowhere = address(sim, target).slice();
  nowhere[15]! ^= 0xff;
  const frame = (kind: number, requestId: Uint8Array) =>
    encodeTreeFrame({ kind, tree: 0, hopLimit: 64, mtu: 1280, id: requestId, root: unknownRoot, destination: nowhere, origin: address(sim, 0), coordinates: Uint16Array.of(1, 2), payload: new Uint8Array(20), recorded: new Uint16Array(0) });
  const fromAsker = sim.nodes[transitIndex]!.ifaceTo.get(0)!;
  const told = transit.counters.deadEndsTold;
  const sent = lookups.counters.requestsSent;
  const pendingBefore = new Set(asker.requests.keys());
  sim.nodes[transitIndex]!.agent.receive(fromAsker, frame(KIND_FIND, Buffer.from(id, 'hex')));
  assert.equal(transit.counters.deadEndsTold - told, 1, 'the transit told the asker');
  sim.run(40);
  assert.equal(lookups.counters.deadEndsHeard, 1, 'the asker heard it, by a routed answer');
  assert.ok(!asker.requests.has(id), 'the request is over');
  // Asked again within the same moment, by another way: another tree, or another first hop.
  const again = [...asker.requests.entries()].filter(([k, r]) => k !== id && compare(r.to, request.to) && !pendingBefore.has(k)).map(([, r]) => r);
  assert.ok(lookups.counters.requestsSent > sent && again.length > 0, 'the contact is asked again at once');
  assert.ok(again.every((r) => r.tree !== request.tree || r.firstHop !== request.firstHop), `by another way: ${request.tree}/${request.firstHop} then ${again.map((r) => `${r.tree}/${r.firstHop}`)}`);

  // A notice of no request of ours, or of a malformed length, changes nothing.
  const link = sim.nodes[0]!.ifaceTo.get(transitIndex)!;
  const before = [...asker.requests.keys()];
  const malformed = lookups.counters.malformed;
  lookups.receiveAnswer(link, new Uint16Array(0), Uint8Array.of(4, 1, 2, 3, 4, 5, 6, 7, 8));
  const [otherId] = before;
  lookups.receiveAnswer(link, new Uint16Array(0), Uint8Array.of(4, ...Buffer.from(otherId!, 'hex'), 0));
  assert.equal(lookups.counters.malformed - malformed, 1, 'a notice with a byte too many is malformed');
  assert.deepEqual([...asker.requests.keys()], before, 'no request was ended');
  assert.equal(lookups.counters.deadEndsHeard, 1);

  // Only requests are told of (a probe's return is not), and no more than the burst at once.
  const returns = transit.counters.deadEndsTold;
  sim.nodes[transitIndex]!.agent.receive(fromAsker, frame(KIND_PROBE_RETURN, new Uint8Array(8)));
  assert.equal(transit.counters.deadEndsTold, returns, "a probe's return is not told of");
  const untold = transit.counters.deadEndsUntold;
  for (let i = 0; i < 300; i++) sim.nodes[transitIndex]!.agent.receive(fromAsker, frame(KIND_PROBE, Uint8Array.of(9, 9, 9, 9, 9, 9, i >> 8, i & 0xff)));
  assert.equal(transit.counters.deadEndsTold - returns + (transit.counters.deadEndsUntold - untold), 300);
  assert.ok(transit.counters.deadEndsTold - returns <= 200, `${transit.counters.deadEndsTold - returns} told at once`);
  assert.ok(transit.counters.deadEndsUntold - untold >= 100);
});

/** The mesh of 80, node 0 (the asker of the FINDs a test makes by hand) and its first neighbour,
 *  whose answers are kept, not sent. */
function answeringNeighbour() {
  const { g, sim } = meshOf80();
  const answerer = sim.nodes[g.adjacency[0]![0]!]!;
  const lookups = answerer.agent.lookups;
  const answers: Uint8Array[] = [];
  (lookups as unknown as { sendRouted: (link: number, slots: Uint16Array, payload: Uint8Array) => void }).sendRouted = (_link, _slots, payload) => void answers.push(payload);
  return { g, sim, asker: sim.nodes[0]!, answerer, lookups, answers };
}

test('a FIND is answered without the locators its asker lists as held, but with a newer one of a node it lists', () => {
  const { g, sim, asker, answerer, lookups, answers } = answeringNeighbour();
  const askerLocator = signLocator(xeddsaSigner(asker.keys.privateKey), asker.keys.publicKey, Date.now(), []).bytes;
  const pairKey = new PairKeys(asker.keys.privateKey).with(answerer.keys.publicKey)!;
  // A target far from both, and what the answerer holds nearest it.
  const target = address(sim, g.n - 1);
  const nearest = lookups.table.closest(target, 5, false).filter((c) => !compare(c.address, address(sim, 0)));
  assert.ok(nearest.length >= 4, 'the answerer holds four locators near the target');
  const idOf = (bytes: Uint8Array) => bytes.subarray(bytes.length - 64, bytes.length - 56);
  let n = 0;
  /** The locators in the answer to a FIND listing `known`. */
  const ask = (known: Uint8Array[]): number => {
    const id = new Uint8Array(8).fill(++n);
    const body = new Uint8Array(16 + askerLocator.length + 1 + 8 * known.length);
    body.set(target, 0);
    body.set(askerLocator, 16);
    body[16 + askerLocator.length] = known.length;
    known.forEach((k, i) => body.set(k, 16 + askerLocator.length + 1 + 8 * i));
    const payload = new Uint8Array(body.length + TAG_SIZE);
    payload.set(body, 0);
    payload.set(lookupTag(pairKey, ROLE_REQUEST, id, Uint8Array.of(KIND_FIND), address(sim, 0), body), body.length);
    const zero = new Uint8Array(8);
    lookups.receive(answerer.ifaceTo.get(0)!, encodeTreeFrame({ kind: KIND_FIND, tree: 0, hopLimit: 64, mtu: 1280, id, root: zero, destination: address(sim, answerer.index), origin: address(sim, 0), coordinates: new Uint16Array(0), payload, recorded: new Uint16Array(0) }));
    assert.equal(answers.length, n, 'answered');
    return answers.at(-1)![11]!;
  };
  // Its own locator and the four nearest.
  assert.equal(ask([]), 5);
  // Two of them listed: left out.
  assert.equal(ask([idOf(nearest[0]!.locator.bytes), idOf(nearest[1]!.locator.bytes)]), 3);
  // An older locator of one of them listed (another signature): the answerer's is newer, and sent.
  const older = idOf(nearest[2]!.locator.bytes).slice();
  older[0] ^= 1;
  assert.equal(ask([idOf(nearest[0]!.locator.bytes), idOf(nearest[1]!.locator.bytes), older]), 3);
  // Its own locator listed, as the asker holds it: left out, and the answer says so.
  const own = idOf(lookups.ownLocator.bytes);
  const leftOut = ask([own]);
  assert.equal(leftOut, 0x80 | 4, 'its own locator was not left out');
  assert.equal(answers.at(-1)!.length, answers[0]!.length - lookups.ownLocator.bytes.length, 'not the first answer less its own locator');
  // An older one of its own listed: sent, first, as ever.
  const ownOlder = own.slice();
  ownOlder[0] ^= 1;
  assert.equal(ask([ownOlder]), 5);
  // More than a FIND may list: refused, no answer.
  const tags = lookups.counters.badTags;
  assert.throws(() => ask(Array.from({ length: 9 }, () => new Uint8Array(8))), /answered/);
  assert.equal(lookups.counters.badTags - tags, 1);
});

test('a request in another node\'s name is refused and counted: its receiver learns no way to that node by the sender, nor by its own request for another node', () => {
  const { g, sim } = meshOf80();
  const lookups = sim.nodes[0]!.agent.lookups;
  const liar = sim.nodes[g.adjacency[0]![0]!]!;
  const link = sim.nodes[0]!.ifaceTo.get(liar.index)!;
  const far = sim.nodes.find((n) => n.index !== 0 && !g.adjacency[0]!.includes(n.index) && !lookups.route(address(sim, n.index)))!;
  const farLocator = signLocator(xeddsaSigner(far.keys.privateKey), far.keys.publicKey, Date.now(), []).bytes;
  // A FIND from `far` (its address, its signed locator) for `target`, tagged with `pairKey`.
  const find = (pairKey: Uint8Array, target = address(sim, 0)): Uint8Array => {
    const id = new Uint8Array(8).fill(7);
    // The target, the asker's locator, no locators listed as held.
    const body = new Uint8Array(16 + farLocator.length + 1);
    body.set(target, 0);
    body.set(farLocator, 16);
    const payload = new Uint8Array(body.length + TAG_SIZE);
    payload.set(body, 0);
    payload.set(lookupTag(pairKey, ROLE_REQUEST, id, Uint8Array.of(KIND_FIND), address(sim, far.index), body), body.length);
    const zero = new Uint8Array(8);
    return encodeTreeFrame({ kind: KIND_FIND, tree: 0, hopLimit: 64, mtu: 1280, id, root: zero, destination: address(sim, 0), origin: address(sim, far.index), coordinates: new Uint16Array(0), payload, recorded: new Uint16Array(0) });
  };
  const tags = lookups.counters.badTags;
  lookups.receive(link, find(new PairKeys(liar.keys.privateKey).with(sim.nodes[0]!.keys.publicKey)!));
  assert.equal(lookups.counters.badTags - tags, 1, 'a request tagged by the neighbour that sent it is counted');
  assert.equal(lookups.route(address(sim, far.index)), undefined, 'no way to the node it named');
  const ownKey = new PairKeys(far.keys.privateKey).with(sim.nodes[0]!.keys.publicKey)!;
  // Tagged by that node itself (as if it came by way of the liar), but looking for another node:
  // taken (its locator learnt), and no route kept, for node 0 is only a contact on its way.
  const held = lookups.paths.size;
  lookups.receive(link, find(ownKey, address(sim, 5)));
  assert.equal(lookups.counters.badTags - tags, 1);
  assert.ok(lookups.table.get(address(sim, far.index)), 'the asker is a contact');
  assert.equal(lookups.route(address(sim, far.index)), undefined, 'a route kept to a node that looks for another');
  assert.equal(lookups.paths.size, held);
  // Looking for node 0: the way back to it is a way to it.
  lookups.receive(link, find(ownKey));
  assert.equal(lookups.counters.badTags - tags, 1);
  assert.equal(lookups.route(address(sim, far.index))?.link, link);
});

test('a node on the way that answers requests in the name of the nodes whose locators it holds gives no route: every way found leads to its destination', () => {
  const { g, sim, done } = meshOf80();
  // The three nodes of most links: most lookups' requests pass through one of them.
  const impostors = Array.from({ length: g.n }, (_, i) => i)
    .sort((a, b) => g.adjacency[b]!.length - g.adjacency[a]!.length)
    .slice(0, 3);
  for (const i of impostors) sim.nodes[i]!.agent.lookups.behaviour = 'impostor';
  const byAddress = new Map(sim.nodes.map((n) => [Buffer.from(address(sim, n.index)).toString('hex'), n.index]));
  const random = rng(9);
  const sources = new Set<number>();
  let tried = 0;
  let found = 0;
  while (tried < 12) {
    const s = Math.floor(random() * g.n);
    const d = Math.floor(random() * g.n);
    const source = sim.nodes[s]!.agent.lookups;
    if (s === d || impostors.includes(s) || impostors.includes(d) || source.route(address(sim, d))) continue;
    tried++;
    sources.add(s);
    source.locate(address(sim, d));
    sim.run(12_000);
    if ((done.get(s) ?? []).find((r) => compare(r.target, address(sim, d)))?.found) found++;
  }
  const refused = sim.nodes.reduce((n, node) => n + node.agent.lookups.counters.badTags, 0);
  assert.ok(refused > 0, 'the impostors answered, and their answers were refused');
  // Every way the sources found (to their targets and to the contacts they asked) leads to the
  // node it is for, none to an impostor.
  let ways = 0;
  for (const s of sources) {
    for (const d of sim.nodes[s]!.agent.lookups.paths.destinations()) {
      if (!d.route) continue;
      ways++;
      assert.equal(sim.follow(s, d.route.link, d.route.label), byAddress.get(Buffer.from(d.address).toString('hex')), `node ${s}'s way to a destination leads there`);
    }
  }
  assert.ok(ways >= tried, `${ways} ways checked`);
  // An impostor takes in the requests it answers, like a node that drops them: where all of a
  // target's ways pass through impostors, its lookup finds no way (two of the twelve here).
  assert.ok(found >= 10, `${found}/${tried} lookups ended with a route to their target`);
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
    if (result?.found && route && sim.follow(s, route.link, route.label) === d) found++;
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

test("a node back under the real root from a stopgap one signs its new locator at once, as for a place lost: the stopgap root's tree is going", () => {
  // The root R's one link to the rest is the hub H; each of H's neighbours T_i has one other
  // link, to C_i, and the C_i form a ring, one of them linked to R. When H fails, a T_i with no
  // way round becomes a root, and the C_i below it sign places in its tree (or first in their
  // own); a moment later the ways round along the ring bring them back under R. Their better
  // place waited LOCATOR_SETTLE_MS for the trees to settle, while the places they had signed
  // were gone. Six seeds: the ways back differ (by way of a second stopgap root, say); since the
  // trees mend at the links' pace, in four of them no node of the ring signs a stopgap place.
  // (Seven did over seeds 3 and 7.)
  const m = 12;
  const [R, H] = [0, 1];
  const T = (i: number) => 2 + i;
  const C = (i: number) => 2 + m + i;
  const edges: [number, number][] = [[R, H], [R, C(0)]];
  for (let i = 0; i < m; i++) edges.push([H, T(i)], [T(i), C(i)], [C(i), C((i + 1) % m)]);
  const keys = simulationKeys(2 + 2 * m);
  // R has the key of the lowest rank in tree 0.
  const lowest = keys.reduce((best, k, i) => (compareRanks(rootRank(0, k.publicKey), rootRank(0, keys[best]!.publicKey)) < 0 ? i : best), 0);
  [keys[R], keys[lowest]] = [keys[lowest]!, keys[R]!];
  let stopgaps = 0;
  for (const seed of [1, 2, 3, 4, 7, 11]) {
    const sim = new AgentSim<MeshAgent>(makeGraph('hub-ring', 2 + 2 * m, edges), (io) => new MeshAgent(io, { shared: new Map() }), { seed, keys });
    sim.start();
    sim.run(40_000);
    const rootPrefix = sim.nodes[R]!.keys.publicKey.subarray(0, 8);
    const underR = (root: Uint8Array) => compare(root.subarray(0, 8), rootPrefix);
    const signedUnderR = (i: number) => underR(sim.nodes[i]!.agent.lookups.ownLocator.places.find((p) => p.tree === 0)!.root);
    const placedUnderR = (i: number) => underR(sim.nodes[i]!.agent.trees.position(0).beacon);
    const ring = Array.from({ length: m }, (_, i) => C(i));
    assert.ok(ring.every(signedUnderR), `seed ${seed}: the ring is not under R to begin with`);
    sim.failNode(H);
    const failedAt = sim.now;
    // Per node of the ring: when it signed a place under another root, was placed back under R
    // (for good: it may pass through R's tree on its way), and signed that.
    const seen = new Map<number, { back: number; signed: number }>();
    const settled = sim.runUntilTrue(() => {
      for (const c of ring) {
        let s = seen.get(c);
        if (!s && !signedUnderR(c)) seen.set(c, (s = { back: -1, signed: -1 }));
        if (!s || s.signed >= 0) continue;
        if (!placedUnderR(c)) s.back = -1;
        else if (s.back < 0) s.back = sim.now;
        if (s.back >= 0 && signedUnderR(c)) s.signed = sim.now;
      }
      // (Where the trees mend before any node of the ring signs a stopgap place, none does.)
      return sim.now - failedAt >= 3_000 && [...seen.values()].every((s) => s.signed >= 0) && ring.every(signedUnderR);
    }, 10_000, 10);
    assert.ok(settled !== null, `seed ${seed}: the ring not signed under R again: ${JSON.stringify([...seen])}`);
    for (const [c, s] of seen) assert.ok(s.signed - s.back <= LOCATOR_LOST_INTERVAL_MS + 100, `seed ${seed}: node ${c} signed its place under R ${s.signed - s.back} ms after it took it`);
    stopgaps += seen.size;
  }
  assert.ok(stopgaps >= 5, `only ${stopgaps} nodes of the ring signed a stopgap place, over six seeds`);
});

test('the periodic publish comes every three days in a mesh of up to 1,024 nodes, in proportion less often in a larger one, and at least once in 32 periods; a node\'s first comes at a share of the period spread evenly over the nodes', () => {
  assert.equal(refreshPeriodFor(1), LOCATOR_REFRESH_MS);
  assert.equal(refreshPeriodFor(1024), LOCATOR_REFRESH_MS);
  assert.equal(refreshPeriodFor(10_240), 10 * LOCATOR_REFRESH_MS);
  assert.equal(refreshPeriodFor(1e12), REFRESH_MAX_PERIODS * LOCATOR_REFRESH_MS);
  assert.equal(REFRESH_MAX_PERIODS, 32);
  const tenths = new Array<number>(10).fill(0);
  for (let i = 0; i < 2000; i++) {
    const phase = refreshPhaseOf(fcAddressBytes(generateKeyPair().publicKey));
    assert.ok(phase > 0 && phase <= 1, `phase ${phase}`);
    tenths[Math.floor(phase * 10 - 1e-9)]!++;
  }
  for (const t of tenths) assert.ok(t >= 140 && t <= 260, `first publishes by tenths of the period: ${tenths.join(' ')}`);
});

test('an unchanged locator is published again once a period, not signed anew: each node first at its own share of it, so a steady mesh\'s publishes are spread over the period; a moved node signs a new one', () => {
  const { g, sim } = meshOf80();
  const node = sim.nodes.find((n) => g.adjacency[n.index]!.length >= 3 && n.agent.trees.parentOf(0) !== 0)!;
  const lookups = node.agent.lookups;
  const target = address(sim, node.index);
  const nearest = sim.nodes.filter((n) => n !== node).sort((a, b) => compareDistance(target, address(sim, a.index), address(sim, b.index)))[0]!;
  // Let the bootstrap rounds pass, then make the node nearest its address forget it: only the
  // periodic publish brings it back.
  sim.run(BOOTSTRAP_ROUNDS_MS.at(-1)! + 5_000);
  const signed = sim.nodes.map((n) => n.agent.lookups.ownLocator);
  // A mesh of 80 publishes every three days, as its nodes see its size (PROTOCOL.md §12,
  // seventeenth and eighteenth revisions).
  for (const n of sim.nodes) {
    assert.equal(n.agent.lookups.refreshPeriodMs, LOCATOR_REFRESH_MS, `node ${n.index} publishes every ${n.agent.lookups.refreshPeriodMs} ms`);
    assert.ok(n.agent.lookups.meshSize >= 20 && n.agent.lookups.meshSize <= 320, `node ${n.index} takes the mesh of 80 for ${n.agent.lookups.meshSize}`);
  }
  const sizes = sim.nodes.map((n) => n.agent.lookups.meshSize).sort((a, b) => a - b);
  assert.ok(sizes[40]! >= 60 && sizes[40]! <= 100, `the median node takes the mesh of 80 for ${sizes[40]}`);
  nearest.agent.lookups.table.remove(target);
  /** The hour of each node's publishes over the next three days, hour by hour. */
  const publishHours = () => {
    const hours = sim.nodes.map(() => [] as number[]);
    let counts = sim.nodes.map((n) => n.agent.lookups.counters.publishes);
    for (let hour = 0; hour < 72; hour++) {
      sim.run(3_600_000);
      const now = sim.nodes.map((n) => n.agent.lookups.counters.publishes);
      now.forEach((c, i) => {
        for (let k = counts[i]!; k < c; k++) hours[i]!.push(hour);
      });
      counts = now;
    }
    return hours;
  };
  const first = publishHours();
  for (const n of sim.nodes) assert.equal(n.agent.lookups.ownLocator, signed[n.index], `node ${n.index} signed anew though nothing moved`);
  for (const [i, hours] of first.entries()) assert.equal(hours.length, 1, `node ${i} published ${hours.length} times in the first three days`);
  // Spread over the three days, not all at their end: a quarter of the nodes in each quarter, or
  // near it.
  const quarters = [0, 0, 0, 0];
  for (const hours of first) quarters[Math.floor(hours[0]! / 18)]!++;
  for (const q of quarters) assert.ok(q >= 10 && q <= 30, `the publishes fell ${quarters.join(' / ')} in the four quarters of three days`);
  assert.equal(nearest.agent.lookups.table.get(target)?.locator.sequence, signed[node.index]!.sequence, 'the node nearest its address did not get it back');
  // Then every node a full period after its last.
  const second = publishHours();
  for (const [i, hours] of second.entries()) {
    assert.equal(hours.length, 1, `node ${i} published ${hours.length} times in the next three days`);
    assert.ok(Math.abs(hours[0]! - first[i]![0]!) <= 1, `node ${i} published at hour ${first[i]![0]} and then at ${hours[0]} of the next three days`);
  }
  // A place that changes is signed anew, as ever.
  sim.linkDown(node.index, node.peers[node.agent.trees.parentOf(0)]!);
  assert.ok(sim.runUntilTrue(() => lookups.ownLocator.sequence > signed[node.index]!.sequence, 2 * LOCATOR_SETTLE_MS, 10) !== null, 'no new locator after a move');
});

test('the periodic publish names its locator by reference: the nodes nearest hold it still, one that dropped it is sent it whole, and one that drops references (an older node) is asked again whole', () => {
  const g = randomGeometricGraph(80, 21);
  const shared = new Map<string, boolean>();
  let publisher = -1;
  let publisherAddress: Uint8Array = new Uint8Array(16);
  /** The FINDs the publisher sends, as they leave it: to whom, and whether by reference. */
  const finds: { to: string; reference: boolean }[] = [];
  const sim: Sim = new AgentSim<MeshAgent>(
    g,
    (io) =>
      new MeshAgent(
        {
          ...io,
          send: (link, frame) => {
            if (io.index === publisher && frame[0] === FRAME_TREE_ROUTED) {
              const f = decodeTreeFrame(frame)!;
              if (f.kind === KIND_FIND && f.recorded.length === 0 && compare(f.origin, publisherAddress)) {
                finds.push({ to: Buffer.from(f.destination).toString('hex'), reference: f.payload[16] === 2 });
              }
            }
            io.send(link, frame);
          },
        },
        { shared },
      ),
    { seed: 11 },
  );
  sim.start();
  sim.run(40_000 + BOOTSTRAP_ROUNDS_MS.at(-1)! + 5_000);
  const node = sim.nodes.find((n) => g.adjacency[n.index]!.length >= 3)!;
  publisher = node.index;
  publisherAddress = address(sim, node.index);
  const signed = node.agent.lookups.ownLocator;
  const hex = (i: number) => Buffer.from(address(sim, i)).toString('hex');
  const nearest = sim.nodes.filter((n) => n !== node).sort((a, b) => compareDistance(publisherAddress, address(sim, a.index), address(sim, b.index)));
  const holders = nearest.slice(0, DHT_BUCKET_SIZE).filter((n) => n.agent.lookups.table.get(publisherAddress)?.locator.sequence === signed.sequence);
  assert.ok(holders.length >= 4, `only ${holders.length} of the 8 nearest hold its locator`);
  // One of them drops it; another drops every FIND by reference and counts it, as nodes of the
  // twelfth revision do (they read a locator of version 1 there).
  const [dropped, older] = holders as [AgentNode<MeshAgent>, AgentNode<MeshAgent>];
  dropped.agent.lookups.table.remove(publisherAddress);
  const olderReceive = older.agent.receive.bind(older.agent);
  let olderDropped = 0;
  older.agent.receive = (link, frame) => {
    const f = frame[0] === FRAME_TREE_ROUTED ? decodeTreeFrame(frame) : null;
    if (f && f.kind === KIND_FIND && compare(f.destination, address(sim, older.index)) && f.payload[16] === 2) return void olderDropped++;
    olderReceive(link, frame);
  };
  const wanted = dropped.agent.lookups.counters.locatorsWanted;
  sim.run(LOCATOR_REFRESH_MS);
  assert.equal(node.agent.lookups.ownLocator, signed, 'signed anew though nothing moved');
  assert.ok(finds.length >= DHT_BUCKET_SIZE, `the publish sent ${finds.length} FINDs`);
  // Whole only where the reference was not taken: again to the node that dropped it, on its
  // answer, and to the older node, once its request by reference timed out.
  const whole = new Set(finds.filter((f) => !f.reference).map((f) => f.to));
  assert.deepEqual([...whole].sort(), [hex(dropped.index), hex(older.index)].sort(), 'sent whole elsewhere too, or not to these');
  for (const n of [dropped, older]) assert.ok(finds.findIndex((f) => f.to === hex(n.index) && f.reference) < finds.findIndex((f) => f.to === hex(n.index) && !f.reference), 'whole before by reference');
  assert.equal(dropped.agent.lookups.counters.locatorsWanted - wanted, 1, 'the node that dropped it did not ask for it once');
  assert.ok(olderDropped >= 1);
  for (const n of holders) assert.equal(n.agent.lookups.table.get(publisherAddress)?.locator.sequence, signed.sequence, `node ${n.index} of the nearest does not hold its locator`);
});

test('a FIND that names its asker\'s locator by reference is taken as that locator only where it is the one held; else it is answered with a request for it whole, and nothing is learnt', () => {
  const { g, sim, asker, answerer, lookups, answers } = answeringNeighbour();
  const askerAddress = address(sim, 0);
  const held = lookups.table.get(askerAddress)!.locator;
  assert.ok(held, 'the neighbour holds the asker\'s locator');
  const idOf = (bytes: Uint8Array) => bytes.subarray(bytes.length - 64, bytes.length - 56);
  let n = 0;
  /** The count byte of the answer to a FIND whose reference names `id` under `key`, tagged by
   *  `tagger`'s key with the answerer; undefined if none came. */
  const ask = (id: Uint8Array, key = asker.keys.publicKey, tagger = asker, cut = 0): number | undefined => {
    const requestId = new Uint8Array(8).fill(++n);
    const body = new Uint8Array(16 + 41 + 1 - cut);
    body.set(address(sim, g.n - 1), 0);
    body[16] = 2;
    body.set(key.subarray(0, Math.min(32, 41 - cut)), 17);
    if (cut === 0) body.set(id, 49);
    const payload = new Uint8Array(body.length + TAG_SIZE);
    payload.set(body, 0);
    const pairKey = new PairKeys(tagger.keys.privateKey).with(answerer.keys.publicKey)!;
    payload.set(lookupTag(pairKey, ROLE_REQUEST, requestId, Uint8Array.of(KIND_FIND), askerAddress, body), body.length);
    const before = answers.length;
    lookups.receive(answerer.ifaceTo.get(0)!, encodeTreeFrame({ kind: KIND_FIND, tree: 0, hopLimit: 64, mtu: 1280, id: requestId, root: new Uint8Array(8), destination: address(sim, answerer.index), origin: askerAddress, coordinates: new Uint16Array(0), payload, recorded: new Uint16Array(0) }));
    return answers.length > before ? answers.at(-1)![11] : undefined;
  };
  const wanted = () => lookups.counters.locatorsWanted;
  // The locator it holds, named: taken as if it came whole (no request for it).
  let count = ask(idOf(held.bytes));
  assert.equal((count! & 0x40), 0, 'the locator held was asked for');
  assert.equal(wanted(), 0);
  // Another signature (an older or newer locator than the one held): asked for, the one held kept.
  const other = idOf(held.bytes).slice();
  other[0] ^= 1;
  count = ask(other);
  assert.equal(count! & 0x40, 0x40, 'a locator it does not hold was not asked for');
  assert.equal(wanted(), 1);
  assert.deepEqual(lookups.table.get(askerAddress)?.locator.bytes, held.bytes);
  // None held: asked for, and nothing learnt of the asker.
  lookups.table.remove(askerAddress);
  count = ask(idOf(held.bytes));
  assert.equal(count! & 0x40, 0x40);
  assert.equal(lookups.table.get(askerAddress), undefined, 'a reference alone put the asker in the table');
  lookups.table.add(held, 0, true);
  // Tagged by another node (the neighbour that passes it on, say): refused, unanswered.
  const tags = lookups.counters.badTags;
  assert.equal(ask(idOf(held.bytes), asker.keys.publicKey, sim.nodes[g.adjacency[0]![1]!]!), undefined);
  assert.equal(lookups.counters.badTags - tags, 1);
  // A key that is not the origin's, or a reference cut short: malformed, unanswered.
  const malformed = lookups.counters.malformed;
  assert.equal(ask(idOf(held.bytes), answerer.keys.publicKey), undefined);
  assert.equal(ask(idOf(held.bytes), asker.keys.publicKey, asker, 30), undefined);
  assert.equal(lookups.counters.malformed - malformed, 2);

  // The asker's side: an answer that asks for its locator whole, to a FIND that carried it whole,
  // is malformed.
  const own = asker.agent.lookups;
  const target = Array.from({ length: g.n }, (_, i) => i).find((i) => i !== 0 && !g.adjacency[0]!.includes(i) && !own.route(address(sim, i)))!;
  own.locate(address(sim, target));
  const requests = (own as unknown as { requests: Map<string, { toKey: Uint8Array; kind: number }> }).requests;
  const [[id, request]] = [...requests].filter(([, r]) => r.kind === KIND_FIND);
  const asked = sim.nodes.find((x) => compare(x.keys.publicKey, request!.toKey))!;
  const askedKey = new PairKeys(asked.keys.privateKey).with(asker.keys.publicKey)!;
  const answer = answerPayload(id!, [signLocator(xeddsaSigner(asked.keys.privateKey), asked.keys.publicKey, Date.now(), []).bytes], askedKey);
  answer[11]! |= 0x40;
  answer.set(lookupTag(askedKey, ROLE_ANSWER, Buffer.from(id!, 'hex'), answer.subarray(0, answer.length - TAG_SIZE)), answer.length - TAG_SIZE);
  const before = own.counters.malformed;
  own.receiveAnswer(asker.ifaceTo.get(g.adjacency[0]![0]!)!, new Uint16Array(0), answer);
  assert.equal(own.counters.malformed - before, 1);
  assert.ok(requests.has(id!), 'the request still waits');
});

test("a node that comes up near an address after that node's last publish learns its locator from its own publish", () => {
  // What the hourly publish did, and the periodic one leaves to the newcomer: the nodes
  // nearest an address hold its locator, new ones too.
  const g = randomGeometricGraph(80, 21);
  const sim = makeSim(g, new Map());
  const nearestOther = (i: number) => sim.nodes.filter((m) => m.index !== i).sort((a, b) => compareDistance(address(sim, i), address(sim, a.index), address(sim, b.index)))[0]!.index;
  // A node, and the node nearest its address as the latecomer, whose absence splits nothing.
  const connectedWithout = (gone: number) => {
    const seen = new Set([gone === 0 ? 1 : 0]);
    for (const at of seen) for (const peer of g.adjacency[at]!) if (peer !== gone) seen.add(peer);
    return seen.size === g.n - 1;
  };
  // Not near it in the mesh: a neighbour would greet it with its locator.
  const x = sim.nodes.findIndex((n) => connectedWithout(nearestOther(n.index)) && bfs(g, n.index)[nearestOther(n.index)]! >= 3);
  assert.ok(x >= 0, 'no node to start from');
  const late = nearestOther(x);
  sim.start();
  for (const peer of g.adjacency[late]!) sim.linkDown(late, peer);
  sim.run(BOOTSTRAP_ROUNDS_MS.at(-1)! + 30_000);
  const asked = sim.nodes[x]!.agent.lookups.counters.requestsSent;
  const signed = sim.nodes[x]!.agent.lookups.ownLocator;
  for (const peer of g.adjacency[late]!) sim.linkUp(late, peer);
  const newcomer = sim.nodes[late]!.agent.lookups;
  const heldAt = sim.runUntilTrue(() => newcomer.table.get(address(sim, x))?.locator.sequence === signed.sequence, 30_000);
  assert.ok(heldAt !== null, `node ${late}, come up nearest node ${x}'s address, lacks its locator`);
  assert.equal(sim.nodes[x]!.agent.lookups.counters.requestsSent, asked, `node ${x} asked anyone meanwhile`);
  assert.equal(sim.nodes[x]!.agent.lookups.ownLocator, signed);
});

/** The mesh of 80 that stays whole without its trees' roots, a minute and a half after a cold
 *  start; its roots (the first tree's first); and measures of its live nodes' tables. */
function rootsFailing() {
  const g = randomGeometricGraph(80, 27);
  const sim = makeSim(g, new Map());
  sim.start();
  sim.run(30_000 + BOOTSTRAP_ROUNDS_MS.at(-1)!);
  const roots = new Set<number>();
  for (let t = 0; t < TREE_COUNT; t++) {
    const root = sim.nodes[0]!.agent.trees.position(t).beacon.subarray(0, 32);
    roots.add(sim.nodes.findIndex((n) => equalBytes(n.keys.publicKey, root)));
  }
  const alive = sim.nodes.filter((n) => !roots.has(n.index));
  assert.ok(bfs(g, alive[0]!.index, (i) => !roots.has(i)).every((d, i) => d >= 0 || roots.has(i)), 'the roots\' failure splits the mesh');
  const rootsOf = (n: AgentNode<MeshAgent>) => Array.from({ length: TREE_COUNT }, (_, t) => n.agent.trees.position(t).beacon.subarray(0, 8));
  /** Of each live node's 8 nearest others, the share that hold its locator as signed now. */
  const nearestHolding = () => {
    let held = 0;
    for (const n of alive) {
      const own = n.agent.lookups.ownLocator;
      const nearest = alive.filter((m) => m !== n).sort((a, b) => compareDistance(address(sim, n.index), address(sim, a.index), address(sim, b.index))).slice(0, DHT_BUCKET_SIZE);
      held += nearest.filter((m) => m.agent.lookups.table.get(address(sim, n.index))?.sequence === own.sequence).length;
    }
    return held / (alive.length * DHT_BUCKET_SIZE);
  };
  /** Of all contacts the live nodes hold, the share whose locators name a root of their holder's. */
  const underOwnRoots = () => {
    let under = 0;
    let all = 0;
    for (const n of alive) {
      const ours = rootsOf(n);
      for (const c of n.agent.lookups.table.contacts()) {
        all++;
        if (c.locator.places.some((p) => equalBytes(p.root, ours[p.tree]!))) under++;
      }
    }
    return under / all;
  };
  assert.ok(nearestHolding() > 0.9 && underOwnRoots() > 0.95, 'not settled before the failure');
  // Nor has any node begun its rounds again in the cold start (where the trees may yet leave the
  // roots a node's first locator names, its rounds run).
  assert.deepEqual(sim.nodes.filter((n) => n.agent.lookups.counters.roundsRestarted > 0).map((n) => n.index), [], 'nodes began their rounds again in the cold start');
  return { sim, roots: [...roots], alive, rootsOf, nearestHolding, underOwnRoots };
}

test('after every root fails at once, the nodes nearest each address learn its new locator', () => {
  // Every node signs anew under the new roots, but the locators its table holds name the old
  // ones: its first publish reaches few of the nodes nearest it. The table is filled again in
  // rounds. Of the pairs below, 94 % held the new locator 15 s after the failure (97 % before
  // it); without the rounds, 76 %, and as many days later.
  const { sim, roots, alive, rootsOf, nearestHolding } = rootsFailing();
  for (const r of roots) sim.crashNode(r);
  sim.run(15_000);
  // All under new roots, and their locators signed under them.
  const now = rootsOf(alive[0]!);
  for (const n of alive) assert.deepEqual(rootsOf(n), now, `node ${n.index} is under other roots`);
  assert.ok(alive.every((n) => n.agent.lookups.ownLocator.places.every((p, t) => equalBytes(p.root, now[t]!))), 'a locator not signed under the new roots');
  const held = nearestHolding();
  assert.ok(held > 0.85, `${(held * 100).toFixed(1)} % of the nearest hold the new locators`);
});

test('the bootstrap rounds begin again when no root is left of the last ones, not for one of four; and at their end the tables forget the locators of the trees gone', () => {
  // The roots fail one, then three: the second time, tree by tree, none is left. A minute on,
  // 99 % of the contacts named a root of their holder's; without the last round's sweep, 73 %.
  const { sim, roots, alive, rootsOf, underOwnRoots } = rootsFailing();
  const [first, ...others] = roots;
  sim.crashNode(first!);
  sim.run(15_000);
  const firstRoot = sim.nodes[first!]!.keys.publicKey.subarray(0, 8);
  assert.ok(alive.every((n) => !rootsOf(n).some((r) => equalBytes(r, firstRoot))), 'the first root is still followed');
  assert.deepEqual(alive.filter((n) => n.agent.lookups.counters.roundsRestarted > 0).map((n) => n.index), [], 'nodes began their rounds again');
  for (const r of others) sim.crashNode(r);
  sim.run(15_000);
  assert.ok(alive.every((n) => n.agent.lookups.counters.roundsRestarted > 0), 'a node did not begin its rounds again');
  sim.run(BOOTSTRAP_ROUNDS_MS.at(-1)!);
  const under = underOwnRoots();
  assert.ok(under > 0.95, `${(under * 100).toFixed(1)} % of contacts name a root of their holder's`);
  assert.ok(alive.filter((n) => n.agent.lookups.counters.astrayDropped > 0).length > alive.length / 2, 'most nodes dropped nothing');
});

test('two meshes joined by a link, the roots of some trees on each side, find each other: every node runs its bootstrap rounds again, whose publishes ask the new roots', () => {
  // Each side's tables know only its own nodes, and a lookup across would end among the nodes of
  // its own side nearest the target. Over six ways the roots fell to the sides (these keys the
  // first), 68, 97, 41, 41, 90 and 23 of 100 lookups across failed 70 s after the join without
  // the rounds; none with them.
  const a = randomGeometricGraph(40, 31);
  const b = randomGeometricGraph(40, 32);
  // And node 80, alone, whose key ranks first in tree 2: it joins side A while the rounds run.
  const g = makeGraph('two meshes', 81, [...a.edges, ...b.edges.map(([x, y]): [number, number] => [x + 40, y + 40]), [0, 40], [80, 5]]);
  // Keys drawn so that side A keeps trees 0, 2 and 3 and side B wins tree 1 (checked below).
  const random = rng(7919);
  const drawn = simulationKeys(640)
    .map((k) => [random(), k] as const)
    .sort((x, y) => x[0] - y[0])
    .map(([, k]) => k);
  const keys = drawn.slice(0, 80);
  const firstInTree2 = (k: { publicKey: Uint8Array }) => keys.every((o) => compareRanks(rootRank(2, k.publicKey), rootRank(2, o.publicKey)) < 0);
  keys.push(drawn.slice(80).find(firstInTree2)!);
  const done = new Map<number, LookupResult[]>();
  const sim = new AgentSim<MeshAgent>(g, (io) => new MeshAgent(io, { shared: new Map(), lookupDone: keepLookups(done) }), { seed: 1, keys });
  sim.start();
  sim.linkDown(0, 40);
  sim.linkDown(80, 5);
  sim.run(30_000 + BOOTSTRAP_ROUNDS_MS.at(-1)!);
  const rootsOf = (i: number) => Array.from({ length: TREE_COUNT }, (_, t) => hexOf(sim.nodes[i]!.agent.trees.position(t).beacon.subarray(0, 8)));
  const [before, beforeB] = [rootsOf(1), rootsOf(41)];
  sim.linkUp(0, 40);
  sim.run(20_000);
  const after = rootsOf(1);
  assert.deepEqual(rootsOf(41), after, 'the sides are not under the same roots');
  assert.deepEqual(after.map((r, t) => (r === before[t] ? 'A' : r === beforeB[t] ? 'B' : '?')).join(''), 'ABAA');
  const meshes = sim.nodes.slice(0, 80);
  assert.ok(meshes.every((n) => n.agent.lookups.counters.roundsRestarted > 0), 'a node did not run its rounds again');
  // Node 80 joins: a root better again, but the rounds run, and are not begun again for it.
  sim.linkUp(80, 5);
  sim.run(BOOTSTRAP_ROUNDS_MS.at(-1)!);
  assert.equal(rootsOf(1)[2], hexOf(sim.nodes[80]!.keys.publicKey.subarray(0, 8)));
  assert.deepEqual(meshes.filter((n) => n.agent.lookups.counters.roundsRestarted !== 1).map((n) => n.index), [], 'nodes that began their rounds again while they ran');
  // It leaves and comes back once the rounds are over: its root is the one they ran under, and
  // nothing begins again (a node with a key ground to rank first needs a better one each time).
  sim.linkDown(80, 5);
  sim.run(20_000);
  assert.notEqual(rootsOf(1)[2], hexOf(sim.nodes[80]!.keys.publicKey.subarray(0, 8)), 'node 80 is still root');
  sim.linkUp(80, 5);
  sim.run(20_000);
  assert.equal(rootsOf(1)[2], hexOf(sim.nodes[80]!.keys.publicKey.subarray(0, 8)));
  assert.deepEqual(meshes.filter((n) => n.agent.lookups.counters.roundsRestarted !== 1).map((n) => n.index), [], 'nodes that began their rounds again for a root back');
  const across = rng(4);
  const failed: string[] = [];
  for (let p = 0; p < 40; p++) {
    const [s, d] = p % 2 ? [Math.floor(across() * 40), 40 + Math.floor(across() * 40)] : [40 + Math.floor(across() * 40), Math.floor(across() * 40)];
    const ended = (done.get(s!) ?? []).length;
    sim.nodes[s!]!.agent.lookups.locate(address(sim, d!));
    sim.runUntilTrue(() => (done.get(s!) ?? []).length > ended, LOOKUP_TIMEOUT_MS + 1_000, 10);
    const result = (done.get(s!) ?? []).slice(ended).find((r) => compare(r.target, address(sim, d!)));
    if (!result?.found) failed.push(`${s}→${d}`);
  }
  assert.deepEqual(failed, [], 'lookups across that failed');
});

test('a lookup that finds a locator hands it to the nearest node it asked that lacked it (a STORE); no other node is sent one', () => {
  const { g, sim } = meshOf80();
  sim.run(BOOTSTRAP_ROUNDS_MS.at(-1)! + 5_000);
  const byDistance = (x: number) => sim.nodes.filter((n) => n.index !== x).sort((a, b) => compareDistance(address(sim, x), address(sim, a.index), address(sim, b.index)));
  // A target, the node nearest its address (which drops its locator, as a node that came near
  // after its last publish lacks it), and a source far from both that knows nothing of it.
  let pick: { x: number; nearest: AgentNode<MeshAgent>; source: AgentNode<MeshAgent> } | null = null;
  for (const t of sim.nodes) {
    const nearest = byDistance(t.index)[0]!;
    const hops = bfs(g, t.index);
    const source = sim.nodes.find((n) => n !== t && n !== nearest && hops[n.index]! >= 4 && !n.agent.lookups.table.get(address(sim, t.index)) && !n.agent.lookups.route(address(sim, t.index)));
    if (source) {
      pick = { x: t.index, nearest, source };
      break;
    }
  }
  assert.ok(pick, 'no target and source to test with');
  const { x, nearest, source } = pick;
  const target = address(sim, x);
  const signed = sim.nodes[x]!.agent.lookups.ownLocator;
  nearest.agent.lookups.table.remove(target);
  const sentBefore = sim.nodes.map((n) => n.agent.lookups.counters.storesSent);
  source.agent.lookups.locate(target);
  const held = sim.runUntilTrue(() => nearest.agent.lookups.table.get(target)?.locator.sequence === signed.sequence, 12_000, 10);
  assert.ok(held !== null, `node ${nearest.index}, nearest node ${x}'s address, did not get its locator back from node ${source.index}'s lookup (${source.agent.lookups.counters.storesSent} sent)`);
  assert.equal(nearest.agent.lookups.counters.storesTaken, 1);
  // One STORE, by the source alone (the target's own publish is not due for days).
  const sent = sim.nodes.map((n, i) => n.agent.lookups.counters.storesSent - sentBefore[i]!);
  assert.deepEqual(sent.flatMap((k, i) => (k > 0 ? [[i, k]] : [])), [[source.index, 1]]);
});

test('a handed locator is taken only if it checks out, is a rovy key\'s and is whole, and no more than 40 at once, then 20 a second', () => {
  const { sim } = meshOf80();
  const node = sim.nodes[0]!.agent.lookups;
  const link = 1;
  const store = (bytes: Uint8Array) => node.receiveAnswer(link, new Uint16Array(0), Uint8Array.of(3, ...bytes));
  const others = sim.nodes.slice(1).map((n) => n.agent.lookups.ownLocator);
  const c = node.counters;
  // A forged signature, and a locator cut short or with bytes after it.
  const forged = others[0]!.bytes.slice();
  forged[forged.length - 1]! ^= 1;
  const [bad, malformed] = [c.badLocators, c.malformed];
  store(forged);
  store(others[1]!.bytes.subarray(0, others[1]!.bytes.length - 1));
  store(Uint8Array.of(...others[2]!.bytes, 0));
  assert.deepEqual([c.badLocators - bad, c.malformed - malformed, c.storesTaken], [1, 2, 0]);
  // Signed as it should be, by a key whose address is not in fc00::/8: no node's.
  let stray = randomKeyPair();
  while (isRovyKey(stray.publicKey)) stray = randomKeyPair();
  store(signLocator(xeddsaSigner(stray.privateKey), stray.publicKey, 1, []).bytes);
  assert.deepEqual([c.badLocators - bad, c.storesTaken], [2, 0]);
  assert.equal(node.table.get(fcAddressBytes(stray.publicKey)), undefined, 'the stray key is held');
  // The four above spent 4 of the burst of 40: 36 more are taken, the rest refused, then 20 a second.
  for (const l of others) store(l.bytes);
  assert.deepEqual([c.storesTaken, c.storesRefused], [36, others.length - 36]);
  sim.run(1000);
  for (const l of others) store(l.bytes);
  assert.equal(c.storesTaken, 56);
});

test('another key at a live link: the old neighbour and every route found through that link are gone at once', () => {
  // A link's peer can change without the link going down in between (a restarted daemon with a
  // new key at the same endpoint). Routing hears it only as a link up with another key.
  const { g, sim } = meshOf80();
  const random = rng(41);
  let found: { s: number; d: number; link: number } | undefined;
  for (let tries = 0; !found && tries < 20; tries++) {
    const s = Math.floor(random() * g.n);
    const d = Math.floor(random() * g.n);
    if (s === d || bfs(g, s)[d]! < 3) continue;
    sim.nodes[s]!.agent.lookups.locate(address(sim, d));
    sim.run(12_000);
    const route = sim.nodes[s]!.agent.lookups.route(address(sim, d));
    if (route) found = { s, d, link: route.link };
  }
  assert.ok(found, 'no route found to start from');
  const { s, d, link } = found;
  const routing = sim.nodes[s]!.agent.routing;
  const old = routing.neighbours.get(link)!;
  const oldAddress = old.address.slice();
  assert.ok(routing.lookups.route(oldAddress), 'the neighbour is not reached before');
  const stranger = generateKeyPair().publicKey;
  routing.linkUp(link, stranger);
  assert.deepEqual(routing.neighbours.get(link)!.key, stranger);
  assert.notEqual(routing.lookups.route(address(sim, d))?.link, link, 'a route found through the link outlived its old neighbour');
  assert.equal(routing.lookups.route(oldAddress), undefined, 'the old neighbour is still reached by the link');
  assert.equal(routing.neighbours.at(oldAddress, 0), undefined);
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
    assert.ok(route && sim.follow(s, route.link, route.label) === d, `the route ${s}→${d} does not lead there`);
    sim.linkUp(d, parent);
    sim.run(10_000);
  }
});

test("once the asker's own places move, a located target that is silent is asked again RELOCATE_MOVED_MS after it was last asked, not at the next round", () => {
  // Its requests went the trees' ways as they were before the move, most often into the
  // failure that moved it. The source's parent link fails just after a round asked the target
  // (the next comes RELOCATE_MS after it): the target is asked again some RELOCATE_MOVED_MS
  // after, and found once it answers.
  const { g, sim } = meshOf80();
  const random = rng(8);
  let tried = 0;
  const waits: number[] = [];
  while (tried < 5) {
    const s = Math.floor(random() * g.n);
    const d = Math.floor(random() * g.n);
    const source = sim.nodes[s]!;
    const parentLink = source.agent.trees.parentOf(0);
    if (s === d || bfs(g, s)[d]! <= MAP_RADIUS || parentLink === 0 || g.adjacency[s]!.length < 3) continue;
    const parent = source.peers[parentLink]!;
    if (parent === d) continue;
    tried++;
    const target = sim.nodes[d]!;
    const lookups = source.agent.lookups;
    const running = () => (lookups as unknown as { lookups: Map<string, { targetAskedAt: number }> }).lookups.get(hexOf(address(sim, d)));
    lookups.paths.expire(sim.now + 1);
    target.agent.lookups.behaviour = 'silent';
    lookups.locate(address(sim, d));
    // Located and asked, then asked again by a round (STALLED_MS after).
    assert.ok(sim.runUntilTrue(() => (running()?.targetAskedAt ?? -Infinity) > -Infinity, 2_000, 10) !== null, `${s} never asked ${d}`);
    const first = running()!.targetAskedAt;
    assert.ok(sim.runUntilTrue(() => (running()?.targetAskedAt ?? first) > first, 1_000, 10) !== null, `${s} did not ask ${d} again`);
    const round = running()!.targetAskedAt;
    sim.run(20);
    const cutAt = sim.now;
    sim.linkDown(s, parent);
    target.agent.lookups.behaviour = 'honest';
    const askedAt = sim.runUntilTrue(() => (running()?.targetAskedAt ?? round) > round, RELOCATE_MS, 10);
    assert.ok(askedAt !== null, `${s} did not ask ${d} again within RELOCATE_MS of its move`);
    waits.push(askedAt - cutAt);
    const found = sim.runUntilTrue(() => lookups.route(address(sim, d)) !== undefined, LOOKUP_TIMEOUT_MS, 10);
    assert.ok(found !== null, `${s} did not find ${d} after its move`);
    sim.linkUp(s, parent);
    sim.run(10_000);
  }
  // The next round would have come RELOCATE_MS - 20 ms after the cut.
  assert.ok(Math.max(...waits) <= RELOCATE_MOVED_MS + 2 * TICK_MS, `asked again ${waits.join(', ')} ms after the move`);
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

/**
 * The trees have re-formed round a new root (a mesh just started, a root crashed) since the
 * locators a source holds of a target and of the three contacts nearest it were signed: they name
 * none of its trees, and no request can reach those nodes by them (`threeLead` 'nowhere'), or the
 * three's name places other nodes hold now ('elsewhere', as after a failure: a way, into
 * nothing). Each lookup of the target
 * runs a second with only that, then a newer locator of the target reaches `learner`: the
 * source's table (from a request of the target's, say), the contact nearest the target past
 * those three that the lookup knows (from the target's publish; it was asked before), or the
 * three, whose own newer locators reach the source's table too. Returns, for five pairs, how long
 * after that each lookup found its target, or null for one that failed.
 */
function foundByNewerLocator(learner: 'source' | 'next contact' | 'nearest three', threeLead: 'nowhere' | 'elsewhere' = 'nowhere'): (number | null)[] {
  const { sim, done } = meshOf80();
  const g = sim.graph;
  const random = rng(12);
  const took: (number | null)[] = [];
  /** Node i's locator at `sequence`, signed by it; with no places, it leads nowhere. */
  const signedBy = (i: number, sequence: number, places: TreePlace[] = []) => signLocator(xeddsaSigner(sim.nodes[i]!.keys.privateKey), sim.nodes[i]!.keys.publicKey, sequence, places);
  while (took.length < 5) {
    const s = Math.floor(random() * g.n);
    const d = Math.floor(random() * g.n);
    if (s === d || bfs(g, s)[d]! <= 3) continue;
    const source = sim.nodes[s]!.agent.lookups;
    const target = address(sim, d);
    source.locate(target);
    sim.run(5_000);
    source.paths.expire(sim.now + 1);
    const index = (a: Uint8Array) => sim.nodes.findIndex((n) => compare(address(sim, n.index), a));
    const nearest = source.table.closest(target, 2 * DHT_BUCKET_SIZE).map((c) => index(c.address)).filter((i) => i !== d);
    // The three nearest and the one past them in the table are not neighbours of the source (a
    // neighbour is asked over its link, whatever its locator says).
    if (!source.table.get(target) || nearest.length < 4 || nearest.slice(0, 4).some((i) => g.adjacency[s]!.includes(i))) continue;
    const three = nearest.slice(0, 3);
    const sequence = source.table.get(target)!.sequence;
    source.table.add(signedBy(d, sequence + 1), sim.now, false);
    // The three's locators lead nowhere, or, as after a failure, to places that other nodes hold
    // now (those of nodes far from them): the requests by them are lost.
    const far = (i: number) => sim.nodes[bfs(g, i).reduce((best, d, j) => (d > bfs(g, i)[best]! ? j : best), 0)]!.agent.lookups.ownLocator.places;
    for (const i of three) source.table.add(signedBy(i, source.table.get(address(sim, i))!.sequence + 1, threeLead === 'elsewhere' ? far(i) : []), sim.now, false);
    const ended = (done.get(s) ?? []).length;
    source.locate(target);
    sim.run(1_000);
    assert.equal((done.get(s) ?? []).length, ended, `${s} ended its lookup of ${d} by locators that lead nowhere`);
    // The nearest past the three the lookup knows: it may have learnt of nearer ones than the
    // source's table held.
    const lookup = (source as unknown as { lookups: Map<string, { candidates: { address: Uint8Array; state: number }[] }> }).lookups.get(Buffer.from(target).toString('hex'))!;
    const next = index(lookup.candidates.find((c) => ![d, ...three].includes(index(c.address)))!.address);
    const newer = signedBy(d, sequence + 2, sim.nodes[d]!.agent.lookups.ownLocator.places);
    if (learner === 'source') source.table.add(newer, sim.now, false);
    if (learner === 'next contact') sim.nodes[next]!.agent.lookups.table.add(newer, sim.now, false);
    if (learner === 'nearest three') {
      for (const i of three) {
        sim.nodes[i]!.agent.lookups.table.add(newer, sim.now, false);
        const theirs = sim.nodes[i]!.agent.lookups.ownLocator;
        source.table.add(signedBy(i, theirs.sequence + 2, theirs.places), sim.now, false);
      }
    }
    const learntAt = sim.now;
    const endedAt = sim.runUntilTrue(() => (done.get(s) ?? []).length > ended, LOOKUP_TIMEOUT_MS, 10);
    const result = (done.get(s) ?? [])[ended];
    took.push(endedAt !== null && result?.found && compare(result.target, target) ? endedAt - learntAt : null);
    sim.run(LOOKUP_TIMEOUT_MS);
  }
  return took;
}

test("a lookup asks its target by the newest locator the table holds, where the one it was given names trees that have re-formed", () => {
  // Asked by the old one until its timeout, a first packet on a mesh of nine just started waited
  // 14 s, in 8 starts of 480. Now the next round of asking again (RELOCATE_MS) takes it.
  const took = foundByNewerLocator('source');
  assert.ok(took.every((ms) => ms !== null && ms < 1_000), `found after ${took.join(', ')} ms`);
});

test('the contacts asked again are the nearest a way leads to: those whose locators name trees that have re-formed take no turn', () => {
  // Each round of asking again took the three first; the contact past them, which has learnt the
  // target's newer locator since it was asked, went unasked until the lookup's timeout.
  const took = foundByNewerLocator('next contact');
  assert.ok(took.every((ms) => ms !== null && ms < 1_000), `found after ${took.join(', ')} ms`);
});

test('a contact is asked by the newest of its locators that the table holds: the one the lookup took from an answer may name re-formed trees', () => {
  const took = foundByNewerLocator('nearest three');
  assert.ok(took.every((ms) => ms !== null && ms < 1_000), `found after ${took.join(', ')} ms`);
});

test('a contact is asked by the newest of its locators that the table holds, though an older one still gives a way: after a failure, the way leads elsewhere', () => {
  // Asked by its newest locator only once every way by the older one was tried, each such
  // contact was asked into nowhere each round until the lookup's timeout.
  const took = foundByNewerLocator('nearest three', 'elsewhere');
  assert.ok(took.every((ms) => ms !== null && ms < 1_000), `found after ${took.join(', ')} ms`);
});

/** The real-daemon scale test's shape (test/net/scale.test.ts), simulated: flows between `pairs`
 *  (null: 120 sampled through the hub) when its hub crashes at the worst moment. */
function hubCrashOnTheTestShape(pairs: [number, number][] | null) {
  const { graph, hub } = branchedPowerLaw(30, MAP_RADIUS);
  const deliveries = new Deliveries();
  const shared = new Map<string, boolean>();
  const sim = new AgentSim<MeshAgent>(graph, (io) => new MeshAgent(io, { shared, delivered: (index, tag) => deliveries.on(index, tag) }), {
    seed: 20261202,
    isTraffic: (frame) => frame[0] === FRAME_ROUTED && frame[OFF_KIND] === KIND_MESSAGE,
    lastHelloAge: 0,
  });
  sim.start();
  sim.run(90_000);
  const severed = (s: number, d: number) => bfs(graph, s, (i) => i !== hub)[d]! < 0;
  return failover(sim, deliveries, pairs ?? flowPairs(graph, 120, 11, hub), () => sim.crashNode(hub), severed);
}

test("on the real-daemon test's shape, the flows through its hub flow again within 3 s after it crashes at the worst moment, though the ways round it are up to four times as long", () => {
  // What the thirty daemons cannot show for want of flows (five) and of a quiet machine. The trees
  // whose places got worse mend at the links' pace, and contacts asked by ways into the failure
  // are asked again as soon as the asker's places move. Before, the slowest flow came back after
  // 3.5 s (bench:lookups branched-30: 3.6).
  const r = hubCrashOnTheTestShape(null);
  const slowest = Math.max(...r.interrupted);
  assert.equal(r.lost, 0, `${r.lost} flows never came back`);
  assert.ok(r.interrupted.length >= 50, `${r.interrupted.length} flows interrupted`);
  assert.ok(slowest <= 3_000, `the slowest flow came back after ${Math.round(slowest)} ms`);
  // A flow alone from node 27, whose only neighbour is one of the hub's: its lookup's contacts,
  // asked before its places moved, waited for their requests to stall one a round (3.8 s).
  const alone = hubCrashOnTheTestShape([[27, 7]]);
  assert.ok(alone.interrupted.length === 1 && alone.interrupted[0]! <= 3_000, `27 → 7 alone came back after ${alone.interrupted.map(Math.round).join()} ms`);
  // A flow alone from node 21, one of the hub's neighbours: its lookup's first two rounds went by
  // a neighbour of the hub whose trees had no way on yet, and were lost there, half a second each
  // (3.6 s). That neighbour now says so (ANSWER_DEAD_END), and each contact is asked by another way.
  const fromHubNeighbour = hubCrashOnTheTestShape([[21, 1]]);
  assert.ok(fromHubNeighbour.interrupted.length === 1 && fromHubNeighbour.interrupted[0]! <= 3_000, `21 → 1 alone came back after ${fromHubNeighbour.interrupted.map(Math.round).join()} ms`);
});

test('the simulator\'s shared pair keys are each pair\'s own: both ends get what each derives alone, a third node its own', () => {
  const [a, b, c] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const alone = new PairKeys(a.privateKey).with(b.publicKey)!;
  const memo = new SharedPairKeys();
  const atA = new PairKeys(a.privateKey, { memo, publicKey: a.publicKey });
  const atB = new PairKeys(b.privateKey, { memo, publicKey: b.publicKey });
  const atC = new PairKeys(c.privateKey, { memo, publicKey: c.publicKey });
  assert.deepEqual(atA.with(b.publicKey), alone);
  assert.deepEqual(atB.with(a.publicKey), alone); // from the memo
  // C claiming to be B gets the key of C and A, not B's.
  const ofC = atC.with(a.publicKey)!;
  assert.notDeepEqual(ofC, alone);
  assert.deepEqual(ofC, new PairKeys(c.privateKey).with(a.publicKey));
  // A node wipes the keys it forgets; the memo's copy and the other end's stay.
  atA.expire(Infinity);
  assert.deepEqual(atB.with(a.publicKey), alone);
  assert.deepEqual(new PairKeys(a.privateKey, { memo, publicKey: a.publicKey }).with(b.publicKey), alone);
});
