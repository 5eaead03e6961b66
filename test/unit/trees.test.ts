// The spanning trees (src/routing/trees.ts), in-process: real Trees agents with real keys on the
// simulator's in-memory transport and virtual clock (bench/sim/agent-sim.ts). Checks that every
// tree forms with the lowest-ranked root and every node at its BFS depth, that greedy forwarding
// reaches every node in every tree, that the trees mend after a link, a node and a root fail, that
// loss does not stop them, and that no node can take a place no node above it linked it to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentSim, EPOCH } from '../../bench/sim/agent-sim.js';
import { bfs, makeGraph, randomGeometricGraph, type Graph } from '../../bench/sim/graph.js';
import { FRAME_ROUTING, KIND_TREE_ACK, KIND_TREE_BEACON, KIND_TREE_LINK, KIND_TREE_REQUEST, KIND_TREE_STATE, ROOT_EXPIRY_MS, ROOT_EXPIRY_SLOW_MS, ROOT_REFRESH_MS, ROOT_REFRESH_PACED_MS, ROOT_REFRESH_SLOW_MS, TREE_COUNT, TREE_RETRY_MS, TREE_STABLE_MS } from '../../src/routing/constants.js';
import { CHECK_MAX_AGE_MS, LINK_SIZE, ROOT_BEACON_SIZE, VerifiedSignatures, beaconSequence, rootRank, signBeaconInPlace, signLink, unsignedRootBeacon } from '../../src/routing/tree-proof.js';
import { Trees, type Position } from '../../src/routing/trees.js';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { xeddsaSigner, type XeddsaSigner } from '../../src/keys/xeddsa.js';
import { readUint32BE, writeUint32BE } from '../../src/util/bytes.js';

type Sim = AgentSim<Trees>;

/** Real Trees agents on the simulator; `sent`, if given, sees every frame a node sends (and
 *  drops it by returning false); the nodes `earlier` names are of the eleventh revision
 *  (EarlierTrees), those `paced` names of the eighteenth (PacedTrees). */
function makeSim(g: Graph, loss = 0, sent?: (node: number, link: number, frame: Uint8Array) => void | boolean, earlier: (i: number) => boolean = () => false, paced: (i: number) => boolean = () => false): Sim {
  const sim: Sim = new AgentSim<Trees>(
    g,
    (io) =>
      new (earlier(io.index) ? EarlierTrees : paced(io.index) ? PacedTrees : Trees)({
        identity: io.keys,
        mtu: 1280,
        send: (link, frame) => {
          if (earlier(io.index) && frame[1] === KIND_TREE_BEACON) frame = beaconAlone(sim.nodes[io.index]!.agent.position(frame[2]!), frame);
          // Nor does it say in its acknowledgements whether the nodes below it take slower beacons;
          // one of the eighteenth says the first byte only.
          if (earlier(io.index) && frame[1] === KIND_TREE_ACK) frame = frame.subarray(0, 15);
          if (paced(io.index) && frame[1] === KIND_TREE_ACK) frame = frame.subarray(0, 16);
          if (sent?.(io.index, link, frame) === false) return;
          io.send(link, frame);
        },
        now: io.now,
        wallNow: io.wallNow,
        workDue: io.workDue,
      }),
    { seed: 5, loss },
  );
  return sim;
}

/** A node of the eleventh revision, as its neighbours see it: it does not know BEACON frames
 *  (its map drops them as malformed), sends its beacon alone in a STATE frame and its
 *  acknowledgements without the pace (makeSim), and signs a beacon every ROOT_REFRESH_MS as a
 *  root; all else it does as this one. */
class EarlierTrees extends Trees {
  override receive(link: number, frame: Uint8Array): void {
    if (frame[1] === KIND_TREE_BEACON) return void this.counters.malformed++;
    super.receive(link, frame);
  }
  protected override refreshInterval(): number {
    return ROOT_REFRESH_MS;
  }
}

/** A node of the fourteenth to eighteenth revision: it says only whether it and the nodes below
 *  it take the slower beacons (makeSim), gives a root up after ROOT_EXPIRY_MS, and signs no
 *  slower than every ROOT_REFRESH_PACED_MS as a root. */
class PacedTrees extends Trees {
  protected override refreshInterval(t: number): number {
    return Math.min(super.refreshInterval(t), ROOT_REFRESH_PACED_MS);
  }
  protected override expiryWindow(): number {
    return ROOT_EXPIRY_MS;
  }
}

/** The STATE frame of the beacon alone that an eleventh-revision node sends where this one sends
 *  the BEACON frame `frame`, of its place `p`. */
function beaconAlone(p: Position, frame: Uint8Array): Uint8Array {
  const beacon = new Uint8Array(ROOT_BEACON_SIZE);
  beacon.set(p.beacon.subarray(0, 32));
  beacon.set(frame.subarray(7), 32);
  return stateFrame(frame[2]!, readUint32BE(frame, 3), beacon, [], p.depth);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Problems with the trees over the live nodes: a node whose root is not the lowest-ranked live
 *  node, or that is not at its BFS depth from it. Empty once the trees have formed. */
function treeProblems(sim: Sim, alive: (i: number) => boolean = () => true): string[] {
  const problems: string[] = [];
  const live = sim.nodes.filter((node) => alive(node.index));
  for (let t = 0; t < TREE_COUNT; t++) {
    const lowest = live.reduce((best, node) => (compare(rootRank(t, node.keys.publicKey), rootRank(t, best.keys.publicKey)) < 0 ? node : best));
    const depth = bfs(sim.graph, lowest.index, alive, (a, b) => sim.linkIsUp(a, b));
    for (const node of live) {
      const p = node.agent.position(t);
      if (compare(p.beacon.subarray(0, 32), lowest.keys.publicKey) !== 0) problems.push(`tree ${t}: node ${node.index} has another root`);
      else if (p.depth !== depth[node.index]) problems.push(`tree ${t}: node ${node.index} at depth ${p.depth}, BFS ${depth[node.index]}`);
      // What each neighbour holds of it is what it has.
      for (let link = 1; link < node.peers.length; link++) {
        const peer = sim.nodes[node.peers[link]!]!;
        if (!alive(peer.index) || !sim.linkIsUp(node.index, peer.index)) continue;
        const held = peer.agent.neighbourPosition(peer.ifaceTo.get(node.index)!, t);
        // (Its links only where the peer keeps them: a neighbour's place may be held by its coordinates.)
        const stale = !held || held.depth !== p.depth || compare(held.beacon.subarray(0, 32), p.beacon.subarray(0, 32)) !== 0 || held.coordinates.join() !== p.coordinates.join();
        if (stale || (held.links.length > 0 && compare(Buffer.concat(held.links), Buffer.concat(p.links)) !== 0)) problems.push(`tree ${t}: node ${peer.index} holds an old position of ${node.index}`);
      }
    }
  }
  return problems;
}

/** Places a node holds with a copy of its own beacon rather than that beacon: however many
 *  neighbours passed a beacon on, and whichever came before the parent, a node holds it once. */
function beaconCopies(sim: Sim): string[] {
  const copies: string[] = [];
  for (const node of sim.nodes) {
    for (let t = 0; t < TREE_COUNT; t++) {
      const own = node.agent.position(t).beacon;
      for (let link = 1; link < node.peers.length; link++) {
        const held = node.agent.neighbourPosition(link, t);
        if (held && held.beacon !== own && compare(held.beacon, own) === 0) copies.push(`node ${node.index}, tree ${t}, link ${link}`);
      }
    }
  }
  return copies;
}

function formed(sim: Sim, limitMs: number, alive?: (i: number) => boolean): number {
  const at = sim.runUntilTrue(() => treeProblems(sim, alive).length === 0, limitMs, 100);
  assert.notEqual(at, null, `trees not formed within ${limitMs} ms: ${treeProblems(sim, alive).slice(0, 3).join('; ')}`);
  return at!;
}

/** Follows nextHop from s toward d's coordinates in tree t; the node reached and the hops. Each
 *  step is nextHops' first: a look at every neighbour, as nextHop takes at a node of few and its
 *  index gives at a node of many. */
function walk(sim: Sim, t: number, s: number, d: number): { at: number; hops: number } {
  const target = sim.nodes[d]!.agent.position(t);
  let u = s;
  for (let hops = 0; hops < 100; hops++) {
    const link = sim.nodes[u]!.agent.nextHop(t, target.beacon.subarray(0, 32), target.coordinates);
    assert.equal(link, sim.nodes[u]!.agent.nextHops(t, target.beacon.subarray(0, 32), target.coordinates)[0] ?? -1, `tree ${t}: at ${u} toward ${d}`);
    if (link <= 0) return { at: link === 0 ? u : -1, hops };
    u = sim.nodes[u]!.peers[link]!;
  }
  return { at: -1, hops: 100 };
}

test('trees form on a mesh: lowest-ranked root, BFS depths, greedy forwarding reaches every node', () => {
  const g = randomGeometricGraph(40, 3);
  const sim = makeSim(g);
  sim.start();
  const at = formed(sim, 30_000);
  assert.ok(at <= 5_000, `formed after ${at} ms`);
  assert.deepEqual(beaconCopies(sim), []);
  for (let t = 0; t < TREE_COUNT; t++) {
    for (let s = 0; s < g.n; s++) {
      for (let d = 0; d < g.n; d++) {
        const r = walk(sim, t, s, d);
        assert.equal(r.at, d, `tree ${t}: ${s} → ${d} ended at ${r.at}`);
      }
    }
  }
  // Each node's coordinates are its parent's plus the port the parent signed for it.
  for (const node of sim.nodes) {
    for (let t = 0; t < TREE_COUNT; t++) {
      const parent = node.agent.parentOf(t);
      if (parent === 0) continue;
      const p = node.agent.position(t);
      const q = sim.nodes[node.peers[parent]!]!.agent.position(t);
      assert.deepEqual(p.coordinates.slice(0, q.depth), q.coordinates);
    }
  }
});

test("at a hub (next hops from an index of the neighbours' places), greedy forwarding reaches every node, and still does after the places change", () => {
  // A hub of 30 neighbours, each also linked to the next: the hub's nextHop walks its index.
  const n = 31;
  const edges: [number, number][] = [];
  for (let i = 1; i < n; i++) edges.push([0, i], [i, i === n - 1 ? 1 : i + 1]);
  const g = makeGraph('wheel-31', n, edges);
  const sim = makeSim(g);
  sim.start();
  formed(sim, 30_000);
  const everyPair = (alive: (i: number) => boolean) => {
    for (let t = 0; t < TREE_COUNT; t++) {
      for (let s = 0; s < n; s++) {
        for (let d = 0; d < n; d++) {
          if (!alive(s) || !alive(d)) continue;
          const r = walk(sim, t, s, d);
          assert.equal(r.at, d, `tree ${t}: ${s} → ${d} ended at ${r.at}`);
        }
      }
    }
  };
  everyPair(() => true);
  // In a tree whose root is on the rim, the root's rim link to the next node is cut: that node's
  // place changes (it hangs from the hub now), the hub's does not.
  const roots = Array.from({ length: TREE_COUNT }, (_, t) => sim.nodes.find((node) => node.agent.parentOf(t) === 0)!.index);
  const root = roots.find((r) => r !== 0);
  assert.ok(root !== undefined, 'the hub is the root of every tree');
  sim.linkDown(root, root === n - 1 ? 1 : root + 1);
  formed(sim, 60_000);
  everyPair(() => true);
  // A rim node away from the root fails: the hub never again names it as the next hop, not
  // even toward the place it had.
  const t = roots.indexOf(root);
  const gone = ((root + 14) % (n - 1)) + 1;
  const place = sim.nodes[gone]!.agent.position(t);
  sim.failNode(gone);
  assert.notEqual(sim.nodes[0]!.agent.nextHop(t, place.beacon.subarray(0, 32), place.coordinates), sim.nodes[0]!.ifaceTo.get(gone));
  formed(sim, 60_000, (i) => i !== gone);
  everyPair((i) => i !== gone);
  // Then that root fails: every place in its tree changes.
  sim.failNode(root);
  formed(sim, 60_000, (i) => i !== root && i !== gone);
  everyPair((i) => i !== root && i !== gone);
});

test("a hub holds no place of its children: it derives each from its own, and knows none after its own changes until they send theirs", () => {
  // A star: every leaf is the hub's child in every tree but the one it is the root of.
  const leaves = 60;
  const g = makeGraph('star-61', leaves + 1, Array.from({ length: leaves }, (_, i): [number, number] => [0, i + 1]));
  const sim = makeSim(g);
  sim.start();
  formed(sim, 30_000);
  for (let t = 0; t < TREE_COUNT; t++) for (let d = 1; d <= leaves; d++) assert.equal(walk(sim, t, 0, d).at, d, `tree ${t}: hub → ${d}`);
  // The leaves' keys, the hub's own places (each at most a beacon and one link) and those of the
  // roots among the leaves with their links to it: under 1.8 KB beside the keys. Held children
  // would add at least 10 bytes per tree each (a reference and a port), 2.3 KB in all.
  const hub = sim.nodes[0]!.agent;
  const beside = hub.stateBytes() - leaves * 32;
  assert.ok(beside < 1_800, `the hub holds ${beside} bytes beside its neighbours' keys`);
  // A root leaf fails: the hub's place changes in that tree, and so do its children's, which it
  // holds again (treeProblems) once they send them.
  const t = Array.from({ length: TREE_COUNT }, (_, i) => i).find((i) => sim.nodes[0]!.agent.parentOf(i) !== 0);
  assert.ok(t !== undefined, 'the hub is the root of every tree');
  const root = sim.nodes[0]!.peers[hub.parentOf(t)]!;
  const before = hub.position(t);
  sim.failNode(root);
  // The moment the hub's place changes, its children's are unknown: they have not taken the new
  // one yet (their frames take a millisecond at least), and their old ones were never held.
  assert.notEqual(sim.runUntilTrue(() => hub.position(t) !== before, 5_000, 1), null);
  for (let link = 1; link <= leaves; link++) {
    if (sim.nodes[0]!.peers[link] !== root) assert.equal(hub.neighbourPosition(link, t), null, `the place of the leaf at link ${link}`);
  }
  formed(sim, 30_000, (i) => i !== root);
  for (let d = 1; d <= leaves; d++) if (d !== root) assert.equal(walk(sim, t, 0, d).at, d, `tree ${t}: hub → ${d} after the root failed`);
});

test('trees mend after a link and a node fail, and elect a new root when the root fails', () => {
  const g = randomGeometricGraph(40, 3);
  const sim = makeSim(g);
  sim.start();
  formed(sim, 30_000);
  // A link of the root of tree 0 goes: its side re-parents.
  const root0 = sim.nodes.find((node) => node.agent.position(0).depth === 0 && node.agent.parentOf(0) === 0 && treeRootIs(sim, node.index, 0))!;
  const child = root0.peers[1]!;
  sim.linkDown(root0.index, child);
  const failed = sim.now;
  const mended = formed(sim, 30_000);
  assert.ok(mended - failed <= 3_000, `mended ${mended - failed} ms after the link failed`);
  // A node that is no root fails.
  const other = sim.nodes.find((node) => ![0, 1, 2, 3].some((t) => treeRootIs(sim, node.index, t)) && g.adjacency[node.index]!.length >= 3)!;
  sim.failNode(other.index);
  formed(sim, 30_000, (i) => i !== other.index);
  // The root of tree 0 fails: its children find no way up that is not through it, and the
  // trees elect the next root in seconds, without waiting for the root's beacons to expire.
  sim.failNode(root0.index);
  const rootFailed = sim.now;
  const alive = (i: number) => i !== other.index && i !== root0.index;
  const at = formed(sim, 60_000, alive);
  assert.ok(at - rootFailed <= 10_000, `new root after ${at - rootFailed} ms`);
});

test("a root's new beacon reaches every node, each passing it on only to the neighbours below it, in BEACON frames", () => {
  const g = randomGeometricGraph(40, 6);
  // BEACON frames: sender, receiver, tree; and STATE frames of the beacon alone, sent while watching.
  const beacons: { from: number; to: number; t: number }[] = [];
  let longBeacons = 0;
  let watching = false;
  const sim: Sim = makeSim(g, 0, (from, link, frame) => {
    if (!watching) return;
    if (frame[1] === KIND_TREE_STATE && frame[9] === 0) longBeacons++;
    if (frame[1] !== KIND_TREE_BEACON) return;
    assert.equal(frame.length, 79);
    beacons.push({ from, to: sim.nodes[from]!.peers[link]!, t: frame[2]! });
  });
  sim.start();
  formed(sim, 30_000);
  const sequences = (t: number) => sim.nodes.map((node) => beaconSequence(node.agent.position(t).beacon));
  const before = Array.from({ length: TREE_COUNT }, (_, t) => Math.max(...sequences(t)));
  watching = true;
  sim.run(ROOT_REFRESH_SLOW_MS + 10_000);
  const below = (i: number, j: number, t: number) => {
    const p = sim.nodes[j]!.agent.position(t);
    return [p.beacon, ...p.links].some((l) => compare(l.subarray(0, 32), sim.nodes[i]!.keys.publicKey) === 0);
  };
  let offered = 0;
  for (let t = 0; t < TREE_COUNT; t++) {
    const now = sequences(t);
    assert.ok(now.every((s) => s === now[0] && s > before[t]!), `tree ${t}: not every node has the new beacon`);
    // Every node below another in the tree, its neighbour, was offered it by that neighbour.
    for (const [a, b] of g.edges) for (const [i, j] of [[a, b], [b, a]] as const) if (below(i, j, t)) offered++;
  }
  assert.deepEqual(beacons.filter((f) => !below(f.from, f.to, f.t)), [], 'a beacon went to a neighbour not below its sender');
  assert.ok(beacons.length >= offered && beacons.length < 1.2 * offered, `${beacons.length} beacons sent for ${offered} neighbours below`);
  assert.equal(longBeacons, 0, 'a beacon went alone in a STATE frame to a node that takes BEACON frames');
  assert.deepEqual(treeProblems(sim), []);
  assert.deepEqual(beaconCopies(sim), []);
  // A node whose parent goes takes another neighbour's place as it holds it, from before the new
  // beacon, which that neighbour did not send it: it gets the beacon once it is below it.
  let pick: { i: number; t: number; parent: number } | null = null;
  for (const node of sim.nodes) {
    for (let t = 0; t < TREE_COUNT && !pick; t++) {
      const p = node.agent.position(t);
      const parent = node.peers[node.agent.parentOf(t)]!;
      const others = g.adjacency[node.index]!.filter((j) => j !== parent && sim.nodes[j]!.agent.position(t).depth === p.depth - 1);
      // Held whole (backups, followed without asking) and with the old beacon.
      const stale = others.filter((j) => {
        const held = node.agent.neighbourPosition(node.ifaceTo.get(j)!, t)!;
        return held.links.length === held.depth && beaconSequence(held.beacon) < beaconSequence(p.beacon);
      });
      if (stale.length === others.length && others.length > 0) pick = { i: node.index, t, parent };
    }
    if (pick) break;
  }
  assert.ok(pick, 'no node with another way up whose beacon it holds old');
  const node = sim.nodes[pick.i]!;
  const newest = beaconSequence(node.agent.position(pick.t).beacon);
  const oldParent = node.agent.parentOf(pick.t);
  sim.linkDown(pick.i, pick.parent);
  const moved = sim.runUntilTrue(() => ![0, oldParent].includes(node.agent.parentOf(pick.t)) && beaconSequence(node.agent.position(pick.t).beacon) === newest, 5_000, 10);
  assert.notEqual(moved, null, 'the node under its new parent kept the old beacon');
});

test('a neighbour of an earlier revision, which drops BEACON frames, gets each beacon whole on the resend, and after two misses in STATE frames', () => {
  // A line: the last node is of the eleventh revision, below the one before it in the trees it is
  // not the root of.
  const g = lineOf5();
  const old = 4;
  const sent: { from: number; to: number; kind: number; alone: boolean }[] = [];
  let watching = false;
  const sim: Sim = makeSim(
    g,
    0,
    (from, link, frame) => {
      if (watching && (frame[1] === KIND_TREE_BEACON || frame[1] === KIND_TREE_STATE)) sent.push({ from, to: sim.nodes[from]!.peers[link]!, kind: frame[1]!, alone: frame[1] === KIND_TREE_STATE && frame[9] === 0 });
    },
    (i) => i === old,
  );
  sim.start();
  formed(sim, 30_000);
  const below = Array.from({ length: TREE_COUNT }, (_, t) => t).filter((t) => sim.nodes[old]!.agent.position(t).depth > 0);
  assert.ok(below.length >= 2, 'the old node is the root of most trees');
  // Each round below holds one refresh of every root, midway.
  sim.run(ROOT_REFRESH_MS / 2);
  watching = true;
  const sequences = (i: number) => Array.from({ length: TREE_COUNT }, (_, t) => beaconSequence(sim.nodes[i]!.agent.position(t).beacon));
  for (let round = 1; round <= 3; round++) {
    const start = sent.length;
    sim.run(ROOT_REFRESH_MS);
    // Every node, the old one too, has every tree's newest beacon.
    for (const node of sim.nodes) assert.deepEqual(sequences(node.index), sequences(0), `round ${round}: node ${node.index} lacks a beacon`);
    const toOld = sent.slice(start).filter((f) => f.to === old);
    const short = toOld.filter((f) => f.kind === KIND_TREE_BEACON).length;
    // (Two trees' beacons may come within the second before the first miss.)
    if (round === 1) assert.ok(short >= 2 && short <= below.length, `${short} BEACON frames to the old node`);
    else assert.equal(short, 0, `round ${round}: a BEACON frame to the old node after two misses`);
    if (round > 1) assert.equal(toOld.filter((f) => f.alone).length, below.length, `round ${round}: the beacon alone in a STATE frame, once a tree`);
    // The others pass the beacons to each other in BEACON frames only.
    assert.deepEqual(sent.slice(start).filter((f) => f.alone && f.to !== old && f.from !== old), [], `round ${round}: a STATE frame of the beacon alone to a node that takes BEACON frames`);
  }
  assert.equal(sim.nodes[old]!.agent.counters.rootsExpired, 0);
  assert.deepEqual(treeProblems(sim), []);
});

/** The line 0–1–2–3–4 of the revision tests, whose last node is of an earlier revision. */
function lineOf5(): Graph {
  return makeGraph('line-5', 5, [[0, 1], [1, 2], [2, 3], [3, 4]]);
}

/** A tree whose root stays the root when the node `old` at the line's end joins, below node 3. */
function treeBelow3(sim: Sim, old: number): number | undefined {
  return Array.from({ length: TREE_COUNT }, (_, i) => i).find((i) => compare(rootRank(i, sim.nodes[old]!.keys.publicKey), rootRank(i, sim.nodes[0]!.agent.position(i).beacon.subarray(0, 32))) > 0 && sim.nodes[3]!.agent.parentOf(i) !== 0);
}

function noRootGivenUp(sim: Sim): void {
  assert.deepEqual(
    sim.nodes.map((node) => node.agent.counters.rootsExpired),
    sim.nodes.map(() => 0),
    'a node gave its root up',
  );
}

// A line whose last node is of an earlier revision: it stays away, then joins, then leaves. Of
// the eleventh revision, it joins a minute after a tree's root signed; of the eighteenth, 70
// minutes after, past the 50 minutes after which nodes that no longer say they take the slowest
// beacons would give a root up if they did not wait for the root to hear of it.
for (const revision of ['eleventh', 'eighteenth'] as const) {
  const pace = revision === 'eleventh' ? 0 : 1;
  const interval = revision === 'eleventh' ? ROOT_REFRESH_MS : ROOT_REFRESH_PACED_MS;
  const joinAfter = revision === 'eleventh' ? 60_000 : 70 * 60_000;
  test(`roots sign every 120 minutes where every node below them says it takes that, every ${interval / 60_000} while a node of the ${revision} revision is below, and such a node joining gets a newer beacon in time`, () => {
    const g = lineOf5();
    const old = 4;
    // The first acknowledgement that tells node 3's parent of the old node, lost (see below).
    let lose: { t: number; to: number } | null = null;
    const sim: Sim = makeSim(
      g,
      0,
      (from, link, frame) => {
        if (!lose || from !== 3 || sim.nodes[3]!.peers[link] !== lose.to || frame[1] !== KIND_TREE_ACK || frame[2] !== lose.t) return;
        if (frame[15] !== (pace >= 1 ? 1 : 0) || frame[16] !== 0) return;
        lose = null;
        return false;
      },
      (i) => revision === 'eleventh' && i === old,
      (i) => revision === 'eighteenth' && i === old,
    );
    sim.start();
    sim.linkDown(3, old);
    sim.run(60_000);
    const sequence = (i: number, t: number) => beaconSequence(sim.nodes[i]!.agent.position(t).beacon);
    /** The gaps between the beacons node 0 holds in each tree, sampled every 10 s for `ms`. */
    const gaps = (ms: number): number[][] => {
      const seen: number[][] = Array.from({ length: TREE_COUNT }, (_, t) => [sequence(0, t)]);
      for (let at = 0; at < ms; at += 10_000) {
        sim.run(10_000);
        for (let t = 0; t < TREE_COUNT; t++) if (sequence(0, t) !== seen[t]!.at(-1)) seen[t]!.push(sequence(0, t));
      }
      return seen.map((s) => s.slice(1).map((x, i) => x - s[i]!));
    };
    const minutes = (ms: number[]) => ms.map((x) => Math.round(x / 60_000));
    for (const [t, slow] of gaps(370 * 60_000).entries()) assert.deepEqual(minutes(slow.slice(1)), [120, 120], `tree ${t}, all of this revision: beacons ${minutes(slow)} minutes apart`);
    // A tree whose root stays the root when the old node joins, below node 3.
    const t = treeBelow3(sim, old);
    assert.notEqual(t, undefined, 'in every tree the old node would be the root, or node 3 is');
    const signed = sequence(0, t!);
    assert.notEqual(sim.runUntilTrue(() => sequence(0, t!) !== signed, ROOT_REFRESH_SLOW_MS, 1000), null);
    sim.run(joinAfter);
    // Node 3's first word of it to its parent is lost: it is told again.
    lose = { t: t!, to: 2 };
    sim.linkUp(3, old);
    const joined = sim.now;
    const root = sim.nodes[0]!.agent.position(t!).beacon.subarray(0, 32);
    const taken = sim.runUntilTrue(() => compare(sim.nodes[old]!.agent.position(t!).beacon.subarray(0, 32), root) === 0, 10_000, 100);
    assert.notEqual(taken, null, 'the old node took no place below the root');
    const first = sequence(old, t!);
    const renewed = sim.runUntilTrue(() => sequence(old, t!) > first, ROOT_REFRESH_SLOW_MS, 1000);
    // Within the interval its revision's roots sign at (a node of the fifth gives a root up after
    // 25 minutes, of the eighteenth after 50); at once where the root signed longer ago than that.
    const within = Math.max(0, interval - joinAfter) + 10_000;
    assert.ok(renewed !== null && renewed - joined <= within, `its first newer beacon came ${renewed === null ? 'never' : `${Math.round((renewed - joined) / 1000)} s`} after it joined`);
    assert.equal(lose, null, 'no acknowledgement was lost');
    assert.deepEqual(minutes(gaps(3.5 * interval)[t!]!), [1, 2, 3].map(() => interval / 60_000), 'beacons while it is below');
    // Gone again: the root goes back to the slowest beacons.
    sim.linkDown(3, old);
    assert.deepEqual(minutes(gaps(370 * 60_000)[t!]!.slice(1)), [120, 120], 'beacons after it left');
    noRootGivenUp(sim);
  });
}

test('a node that said it waits 130 minutes since the last beacon waits that long, though what it takes falls before the next', () => {
  // The eighteenth-revision node below node 3 leaves two minutes after a beacon: node 3 then says
  // it waits 130 minutes, and the root signs every 120. It comes back 55 minutes after the
  // beacon, past the 50 minutes that node 3 said when that beacon came and says again now.
  const g = lineOf5();
  const old = 4;
  const sim: Sim = makeSim(g, 0, undefined, undefined, (i) => i === old);
  sim.start();
  sim.run(60_000);
  const t = treeBelow3(sim, old);
  assert.notEqual(t, undefined, 'in every tree the old node would be the root, or node 3 is');
  const sequence = () => beaconSequence(sim.nodes[3]!.agent.position(t!).beacon);
  const held = sequence();
  assert.notEqual(sim.runUntilTrue(() => sequence() !== held, ROOT_REFRESH_PACED_MS, 1000), null, 'no beacon every 40 minutes while the old node is below');
  const beaconAt = sim.now;
  sim.run(2 * 60_000);
  sim.linkDown(3, old);
  sim.run(53 * 60_000);
  const signed = sequence();
  sim.linkUp(3, old);
  const renewed = sim.runUntilTrue(() => sequence() !== signed, 10 * 60_000, 1000);
  assert.ok(renewed !== null && renewed - beaconAt - 55 * 60_000 <= 10_000, `the root signed ${renewed === null ? 'never' : `${Math.round((renewed - beaconAt) / 60_000)} min after its last beacon`}`);
  noRootGivenUp(sim);
});

test('a root that hangs is taken for gone after ROOT_EXPIRY_MS by the nodes above one of an earlier revision, after ROOT_EXPIRY_SLOW_MS by the rest', () => {
  // A line whose last node is of the eighteenth revision: the nodes between it and the root say
  // they wait 50 minutes; those beyond the root, 130.
  const g = lineOf5();
  const old = 4;
  const sim: Sim = makeSim(g, 0, undefined, undefined, (i) => i === old);
  sim.start();
  formed(sim, 30_000);
  // A tree whose root is neither end: one node on each side of it, at least.
  const t = Array.from({ length: TREE_COUNT }, (_, i) => i).find((i) => ![0, old].includes(sim.nodes.findIndex((node) => treeRootIs(sim, node.index, i))));
  assert.notEqual(t, undefined, 'in every tree an end of the line is the root');
  const root = sim.nodes.findIndex((node) => treeRootIs(sim, node.index, t!));
  const rootKey = sim.nodes[root]!.keys.publicKey;
  // The root hangs once a beacon signed after it heard what each side takes has reached all.
  sim.run(60_000);
  const sequences = () => sim.nodes.map((node) => beaconSequence(node.agent.position(t!).beacon));
  const before = Math.max(...sequences());
  assert.notEqual(sim.runUntilTrue(() => sequences().every((s) => s > before), ROOT_REFRESH_PACED_MS + 60_000, 1000), null, 'no newer beacon reached every node');
  sim.hangNode(root);
  const hung = sim.now;
  const gaveUp: (number | null)[] = sim.nodes.map(() => null);
  sim.runUntilTrue(() => {
    sim.nodes.forEach((node, i) => {
      if (i !== root && gaveUp[i] === null && compare(node.agent.position(t!).beacon.subarray(0, 32), rootKey) !== 0) gaveUp[i] = sim.now - hung;
    });
    return gaveUp.every((at, i) => i === root || at !== null);
  }, ROOT_EXPIRY_SLOW_MS + 10 * 60_000, 1000);
  const minutes = gaveUp.map((at) => (at === null ? null : Math.round(at / 60_000)));
  for (let i = 0; i < sim.nodes.length; i++) {
    if (i === root) continue;
    // Its last beacon came within the second before the hang.
    const [from, to] = i > root ? [ROOT_EXPIRY_MS - 60_000, ROOT_EXPIRY_MS + 60_000] : [ROOT_EXPIRY_SLOW_MS - 60_000, ROOT_EXPIRY_SLOW_MS + 60_000];
    assert.ok(gaveUp[i] !== null && gaveUp[i]! >= from && gaveUp[i]! <= to, `node ${i} (the root is node ${root}) gave it up after ${minutes[i]} minutes: ${minutes.join(', ')}`);
  }
});

test('a root that hangs with its links up is taken for gone after ROOT_EXPIRY_SLOW_MS, where every node says it waits that long', () => {
  const g = randomGeometricGraph(30, 6);
  const sim = makeSim(g);
  sim.start();
  formed(sim, 30_000);
  const root0 = sim.nodes.find((node) => treeRootIs(sim, node.index, 0))!;
  sim.hangNode(root0.index);
  const hung = sim.now;
  // When it signed its last beacon, from which the nodes count (the beacon's sequence is the
  // wall clock then).
  const signed = beaconSequence(root0.agent.position(0).beacon) - EPOCH;
  // Its links stay up, so nothing changes until its beacon is too old.
  sim.run(ROOT_EXPIRY_SLOW_MS - 60_000);
  assert.ok(sim.nodes.every((node) => node === root0 || compare(node.agent.position(0).beacon.subarray(0, 32), root0.keys.publicKey) === 0));
  const at = sim.runUntilTrue(() => sim.nodes.every((node) => node === root0 || compare(node.agent.position(0).beacon.subarray(0, 32), root0.keys.publicKey) !== 0), 10 * 60_000, 1000);
  assert.notEqual(at, null, 'the hung root is still everyone\'s root');
  assert.ok(at! - signed >= ROOT_EXPIRY_SLOW_MS && at! - hung <= ROOT_EXPIRY_SLOW_MS + 5 * 60_000, `gone ${at! - signed} ms after its last beacon`);
  assert.ok(sim.nodes.some((node) => node.agent.counters.rootsExpired > 0));
});

test('when a hub fails, its neighbours take the ways round it at once, however deep, not after TREE_STABLE_MS', () => {
  // A wheel: the hub is every node's neighbour and the parent of nearly all; the ways round it
  // run along the rim, deeper than any node has been. Held back as infeasible until they had
  // stood TREE_STABLE_MS, they left nodes cut off in their own trees for 6.4 s; taken at once, 1.5 s.
  const n = 30;
  const edges: [number, number][] = [];
  for (let i = 1; i < n; i++) edges.push([0, i], [i, i === n - 1 ? 1 : i + 1]);
  const sim = makeSim(makeGraph('wheel-30', n, edges));
  sim.start();
  formed(sim, 30_000);
  const hubKey = sim.nodes[0]!.keys.publicKey;
  const throughHub = (i: number, t: number) => {
    const p = sim.nodes[i]!.agent.position(t);
    return compare(p.beacon.subarray(0, 32), hubKey) === 0 || p.links.some((l) => compare(l.subarray(0, 32), hubKey) === 0);
  };
  assert.ok(sim.nodes.some((node) => node.index !== 0 && throughHub(node.index, 0)), 'no place ran through the hub');
  sim.failNode(0);
  const failed = sim.now;
  const alive = (i: number) => i !== 0;
  // Every node under the lowest-ranked live root, by a way that does not run through the hub.
  const mended = () => {
    for (let t = 0; t < TREE_COUNT; t++) {
      const live = sim.nodes.filter((node) => alive(node.index));
      const lowest = live.reduce((best, node) => (compare(rootRank(t, node.keys.publicKey), rootRank(t, best.keys.publicKey)) < 0 ? node : best));
      for (const node of live) if (throughHub(node.index, t) || compare(node.agent.position(t).beacon.subarray(0, 32), lowest.keys.publicKey) !== 0) return false;
    }
    return true;
  };
  sim.run(100); // the first ticks after the failure
  const at = sim.runUntilTrue(mended, 30_000, 50);
  assert.ok(at !== null && at - failed < TREE_STABLE_MS, `mended ${at === null ? 'never' : at - failed} ms after the hub failed`);
  formed(sim, 30_000, alive);
});

test('trees whose places got worse mend at the links\' pace, not a tick per hop', () => {
  // A line cut in two: each half's trees elect the lowest-ranked node of the half. The nodes
  // next to the cut become roots of their own for a moment, those past them follow, and the
  // best root's place then goes the length of the half. Acting at the next tick, a change
  // waited up to TICK_MS at every hop.
  const n = 40;
  const edges: [number, number][] = [];
  for (let i = 0; i + 1 < n; i++) edges.push([i, i + 1]);
  const sim = makeSim(makeGraph('line-40', n, edges));
  sim.start();
  formed(sim, 30_000);
  const cutAt = n / 2;
  const cutAtTime = sim.now;
  sim.linkDown(cutAt - 1, cutAt);
  const halves = [sim.nodes.slice(0, cutAt), sim.nodes.slice(cutAt)];
  // Every node of each half under the lowest-ranked node of its half, at its distance from it.
  const mended = () =>
    halves.every((half) => {
      for (let t = 0; t < TREE_COUNT; t++) {
        const lowest = half.reduce((best, node) => (compare(rootRank(t, node.keys.publicKey), rootRank(t, best.keys.publicKey)) < 0 ? node : best));
        for (const node of half) {
          const p = node.agent.position(t);
          if (compare(p.beacon.subarray(0, 32), lowest.keys.publicKey) !== 0 || p.depth !== Math.abs(node.index - lowest.index)) return false;
        }
      }
      return true;
    });
  const at = sim.runUntilTrue(mended, 30_000, 10);
  // At most n / 2 hops to the far end and back, of links of 1 to 20 ms (agent-sim's default):
  // 400 ms measured, 4.0 s when each tree acted at its next tick.
  assert.ok(at !== null && at - cutAtTime < 1_000, `mended ${at === null ? 'never' : at - cutAtTime} ms after the cut`);
});

function treeRootIs(sim: Sim, i: number, t: number): boolean {
  return sim.nodes.every((node) => compare(node.agent.position(t).beacon.subarray(0, 32), sim.nodes[i]!.keys.publicKey) === 0);
}

test('a node signs its link only for the neighbours that ask, those it is parent of', () => {
  const g = randomGeometricGraph(40, 6);
  const sim = makeSim(g);
  sim.start();
  formed(sim, 30_000);
  let signed = 0;
  let parents = 0;
  for (const node of sim.nodes) {
    // Its children, in any tree: each asked for its link.
    const children = new Set<number>();
    for (const peer of g.adjacency[node.index]!) {
      const p = sim.nodes[peer]!;
      for (let t = 0; t < TREE_COUNT; t++) if (p.agent.parentOf(t) === p.ifaceTo.get(node.index)) children.add(peer);
    }
    assert.ok(node.agent.counters.linksSigned >= children.size, `node ${node.index} signed ${node.agent.counters.linksSigned} links for ${children.size} children`);
    signed += node.agent.counters.linksSigned;
    parents += children.size;
  }
  // Signed as each link came up, it would be every one; asked for, it is the parents' and those
  // of parents taken on the way while the trees formed (100 of 150 here, for 58 parents at the end).
  const directed = 2 * g.edges.length;
  assert.ok(signed <= 0.75 * directed, `${signed} links signed of ${directed}, ${parents} parent links`);
});

test('a link is signed anew each time a neighbour asks, not twice within half a retry, and not kept', () => {
  const g = makeGraph('pair', 2, [[0, 1]]);
  const answers: Uint8Array[] = [];
  const sim = makeSim(g, 0, (from, _link, frame) => {
    if (from === 0 && frame[1] === KIND_TREE_LINK) answers.push(frame.slice(2));
  });
  sim.start();
  formed(sim, 10_000);
  const node = sim.nodes[0]!;
  const peer = sim.nodes[1]!;
  const link = node.ifaceTo.get(1)!;
  const request = Uint8Array.of(FRAME_ROUTING, KIND_TREE_REQUEST, 0xff);
  const ask = () => {
    answers.length = 0;
    node.agent.receive(link, request);
    return answers.slice();
  };
  const signedBefore = node.agent.counters.linksSigned;
  sim.run(TREE_RETRY_MS);
  const first = ask();
  assert.equal(first.length, 1, 'a request for the link is answered');
  assert.ok(new VerifiedSignatures({ size: 16 }).link(node.keys.publicKey, first[0]!, 0), 'the link checks out');
  assert.equal(compare(first[0]!.subarray(0, 32), peer.keys.publicKey), 0, 'the link leads to the asker');
  // Again at once: refused and counted, with no signature made.
  const refusedBefore = node.agent.counters.linkRequestsRefused;
  assert.equal(ask().length, 0, 'a second request within the gap is answered');
  assert.equal(node.agent.counters.linkRequestsRefused - refusedBefore, 1);
  assert.equal(node.agent.counters.linksSigned - signedBefore, 1);
  // After half a retry it is signed again: nothing of the first was kept to send.
  sim.run(TREE_RETRY_MS / 2);
  const second = ask();
  assert.equal(second.length, 1, 'a request after the gap is not answered');
  assert.notEqual(compare(second[0]!, first[0]!), 0, 'the same link bytes were sent again (kept, not signed anew)');
  assert.equal(node.agent.counters.linksSigned - signedBefore, 2);
  // The peer, our child in every tree, is held by its coordinates: its place's last link, ours,
  // is not held either.
  let rooted = 0;
  for (let t = 0; t < TREE_COUNT; t++) {
    if (node.agent.parentOf(t) !== 0) continue;
    rooted++;
    const held = node.agent.neighbourPosition(link, t)!;
    assert.equal(held.depth, 1);
    assert.equal(held.links.length, 0, `tree ${t}: the child's place is held whole`);
  }
  assert.ok(rooted > 0, 'the node is root of no tree');
});

test('a sweep of the cache of checks keeps a check used CHECK_MAX_AGE_MS before it, and drops one used a second earlier', () => {
  const signer = generateKeyPair();
  const sign = xeddsaSigner(signer.privateKey);
  const [a, b] = [1, 2].map((port) => signLink(sign, signer.publicKey, generateKeyPair().publicKey, port));
  for (const [late, kept] of [[0, 2], [1000, 1]] as const) {
    let clock = 0;
    const verified = new VerifiedSignatures({ now: () => clock, size: 4 });
    assert.ok(verified.link(signer.publicKey, a!, 0));
    // The first sweep is due CHECK_MAX_AGE_MS after the start, at the first check from then.
    clock = CHECK_MAX_AGE_MS + late;
    assert.ok(verified.link(signer.publicKey, b!, 0));
    assert.equal(verified.kept, kept, `swept ${late} ms past the age of a check, the cache keeps ${verified.kept}`);
  }
});

test('the cache of checks keeps a check while it is used, forgets it once unused for CHECK_MAX_AGE_MS, and when full keeps the more recently used half', () => {
  const signer = generateKeyPair();
  const sign = xeddsaSigner(signer.privateKey);
  const links = Array.from({ length: 5 }, (_, port) => signLink(sign, signer.publicKey, generateKeyPair().publicKey, port + 1));
  let clock = 0;
  const verified = new VerifiedSignatures({ now: () => clock, size: 4 });
  const check = (i: number) => assert.ok(verified.link(signer.publicKey, links[i]!, 0), `link ${i} checks out`);
  check(0);
  check(1);
  assert.deepEqual([verified.checks, verified.hits, verified.kept], [2, 0, 2]);
  // Link 0 used every half age, past two ages in all: it stays, and is never checked again.
  for (let k = 0; k < 4; k++) {
    clock += CHECK_MAX_AGE_MS / 2;
    check(0);
  }
  assert.deepEqual([verified.checks, verified.hits], [2, 4], 'a check in use was forgotten');
  // Link 1, unused all that while, is gone (only link 0 is kept) and costs a check again.
  assert.equal(verified.kept, 1, 'a check unused past CHECK_MAX_AGE_MS is still kept');
  check(1);
  assert.equal(verified.checks, 3);
  // Just within the age it is kept; a second past it, checked again, even before a sweep.
  clock += CHECK_MAX_AGE_MS;
  check(1);
  assert.equal(verified.checks, 3, 'a check used CHECK_MAX_AGE_MS ago was forgotten');
  // (A sweep, at another check, 0.8 of the age after link 1's use; the next is due at 1.05.)
  const usedAt = clock;
  clock = usedAt + 0.8 * CHECK_MAX_AGE_MS;
  check(0);
  const checksThen = verified.checks;
  clock = usedAt + CHECK_MAX_AGE_MS + 1000;
  check(1);
  assert.equal(verified.checks, checksThen + 1, 'a check unused past CHECK_MAX_AGE_MS saved a check');
  check(1);
  assert.equal(verified.checks, checksThen + 1, 'a check made again was not kept');

  // Full, the less recently used half goes: used in the order 1 (above), 2, 3, 0, then 4 comes.
  for (const i of [2, 3, 0]) {
    clock += 1000;
    check(i);
  }
  assert.equal(verified.kept, 4);
  clock += 1000;
  check(4);
  assert.equal(verified.kept, 3, 'the cache grew past its size, or kept less than half');
  const checks = verified.checks;
  check(3);
  check(0);
  check(4);
  assert.equal(verified.checks, checks, 'a check among the more recently used was dropped');
  check(1);
  check(2);
  assert.equal(verified.checks, checks + 2, 'a check among the less recently used was kept');
  // A signature that fails is never kept.
  const forged = links[2]!.slice();
  forged[LINK_SIZE - 1]! ^= 1;
  const before = verified.checks;
  assert.equal(verified.link(signer.publicKey, forged, 0), false);
  assert.equal(verified.link(signer.publicKey, forged, 0), false, 'a failed check was kept as a success');
  assert.equal(verified.checks, before + 2, 'a failed check was answered from the cache');
});

test('a neighbour that never gives its link is passed over after a wait, and asked ever more seldom', () => {
  const g = randomGeometricGraph(40, 4);
  const sim = makeSim(g);
  // The best connected node that is root of no tree (whoever it is, by rank) ignores every
  // request for its link.
  const ranked = (i: number) => Array.from({ length: TREE_COUNT }, (_, t) => t).some((t) => sim.nodes.every((n) => compare(rootRank(t, sim.nodes[i]!.keys.publicKey), rootRank(t, n.keys.publicKey)) <= 0));
  const silent = sim.nodes.filter((n) => !ranked(n.index)).reduce((a, b) => (g.adjacency[b.index]!.length > g.adjacency[a.index]!.length ? b : a));
  const asked = new Map<number, number>();
  const receive = silent.agent.receive.bind(silent.agent);
  silent.agent.receive = (link, frame) => {
    if (frame[1] === KIND_TREE_REQUEST && frame[2] === 0xff) return void asked.set(link, (asked.get(link) ?? 0) + 1);
    receive(link, frame);
  };
  sim.start();
  sim.run(60_000);
  // Every tree formed under its root, none of them through the silent node.
  for (let t = 0; t < TREE_COUNT; t++) {
    const root = sim.nodes[0]!.agent.position(t).beacon.subarray(0, 32);
    for (const node of sim.nodes) {
      assert.equal(compare(node.agent.position(t).beacon.subarray(0, 32), root), 0, `tree ${t}: node ${node.index} has another root`);
      const parent = node.agent.parentOf(t);
      assert.ok(parent === 0 || node.peers[parent] !== silent.index, `tree ${t}: node ${node.index} took the silent node as parent`);
    }
  }
  assert.ok(asked.size > 0, 'nobody wanted the silent node as parent');
  // Asked after 0, 1, 3, 7, 15, 31 s, then every 30 s: 7 times in a minute at most.
  for (const [link, times] of asked) assert.ok(times <= 7, `asked ${times} times by link ${link}`);
});

test('a node holds whole only the positions it may soon follow; when its parent goes it follows one at once, and past those it asks again', () => {
  const g = randomGeometricGraph(40, 6);
  let watched = -1;
  let watchedTree = -1;
  let followable: number[] = [];
  // Positions it asked for, and those asked for while it had none of `followable` as parent.
  let requests = 0;
  let requestsBefore = 0;
  // Its places as a root sent in that tree: a spell as root between two polls shows in them.
  let rootPlaces = 0;
  const sim: Sim = makeSim(g, 0, (from, _link, frame) => {
    if (from === watched && frame[1] === KIND_TREE_STATE && frame[2] === watchedTree && frame[7] === 0) rootPlaces++;
    if (from === watched && frame[1] === KIND_TREE_REQUEST && frame[2] === watchedTree) {
      requests++;
      if (!followable.includes(sim.nodes[from]!.agent.parentOf(watchedTree))) requestsBefore++;
    }
  });
  sim.start();
  formed(sim, 30_000);
  sim.run(TREE_STABLE_MS);
  // Per node and tree, the neighbours it could take as parent (not below it, not a root's
  // place): the parent's position and at most TREE_BACKUPS others are held whole.
  const candidates = (i: number, t: number) => {
    const node = sim.nodes[i]!;
    const key = node.keys.publicKey;
    const list: { link: number; whole: boolean }[] = [];
    for (let link = 1; link < node.peers.length; link++) {
      if (!sim.linkIsUp(i, node.peers[link]!)) continue;
      const theirs = sim.nodes[node.peers[link]!]!.agent.position(t);
      const below = compare(theirs.beacon.subarray(0, 32), key) === 0 || theirs.links.some((l) => compare(l.subarray(0, 32), key) === 0);
      if (theirs.depth === 0 || below) continue;
      const held = node.agent.neighbourPosition(link, t)!;
      list.push({ link, whole: held.links.length === held.depth });
    }
    return list;
  };
  let byCoordinates = 0;
  for (const node of sim.nodes) {
    for (let t = 0; t < TREE_COUNT; t++) {
      const list = candidates(node.index, t);
      const parent = node.agent.parentOf(t);
      assert.ok(list.every((c) => c.link !== parent || c.whole), `node ${node.index} holds its parent's place by coordinates`);
      const others = list.filter((c) => c.link !== parent && c.whole).length;
      assert.ok(others <= 2, `node ${node.index}, tree ${t}: ${others} other places held whole`);
      byCoordinates += list.filter((c) => !c.whole).length;
    }
  }
  assert.ok(byCoordinates > 0, 'every place is held whole');
  // A node with a parent, two backups and more in some tree, whose mesh stays whole without its
  // links to the first three.
  let pick: { i: number; t: number; parent: number; backups: number[] } | null = null;
  for (const node of sim.nodes) {
    for (let t = 0; t < TREE_COUNT && !pick; t++) {
      const parent = node.agent.parentOf(t);
      const list = candidates(node.index, t);
      const backups = list.filter((c) => c.link !== parent && c.whole).map((c) => c.link);
      if (parent === 0 || backups.length < 2 || list.length < 5) continue;
      const gone = new Set([parent, ...backups].map((link) => node.peers[link]!));
      const reach = bfs(g, node.index, () => true, (a, b) => !(a === node.index && gone.has(b)) && !(b === node.index && gone.has(a)));
      if (reach.every((d) => d >= 0)) pick = { i: node.index, t, parent, backups };
    }
    if (pick) break;
  }
  assert.ok(pick, 'no node with two backups and more');
  const node = sim.nodes[pick.i]!;
  watched = pick.i;
  watchedTree = pick.t;
  followable = pick.backups;
  // Its parent goes: a backup is followed at once, without asking for any position first.
  sim.linkDown(pick.i, node.peers[pick.parent]!);
  const followed = sim.runUntilTrue(() => node.agent.parentOf(pick.t) !== pick.parent && node.agent.parentOf(pick.t) !== 0, 1_000, 10);
  assert.notEqual(followed, null, 'no new parent');
  assert.ok(pick.backups.includes(node.agent.parentOf(pick.t)), 'the new parent is not a backup');
  assert.equal(requestsBefore, 0, 'asked for a position to follow a backup');
  // It has found another backup meanwhile. The new parent and every backup go: a place held by
  // coordinates is asked for again and followed, and the node does not make itself root meanwhile.
  sim.run(1_000);
  const now = candidates(pick.i, pick.t);
  const parent = node.agent.parentOf(pick.t);
  const cut = now.filter((c) => c.whole || c.link === parent).map((c) => c.link);
  assert.ok(now.some((c) => !c.whole && c.link !== parent), 'no place held by coordinates left');
  const gone = new Set(cut.map((link) => node.peers[link]!));
  assert.ok(bfs(g, pick.i, () => true, (a, b) => !(a === pick.i && gone.has(b)) && !(b === pick.i && gone.has(a))).every((d) => d >= 0));
  const first = sim.now;
  requests = 0;
  rootPlaces = 0;
  for (const link of cut) sim.linkDown(pick.i, node.peers[link]!);
  let wasRoot = false;
  const again = sim.runUntilTrue(() => {
    if (node.agent.parentOf(pick.t) === 0) wasRoot = true;
    return node.agent.parentOf(pick.t) !== 0 && !cut.includes(node.agent.parentOf(pick.t));
  }, 5_000, 10);
  assert.notEqual(again, null, 'no parent after the backups went');
  assert.ok(requests > 0, 'followed a place held by coordinates without asking for it');
  assert.ok(!wasRoot && rootPlaces === 0, 'became root while it waited');
  assert.ok(again! - first <= 1_000, `a new parent after ${again! - first} ms`);
  sim.run(5_000);
  assert.deepEqual(treeProblems(sim), []);
});

test('on a grid, where the trees are deep, the places held whole to follow stay within two places 10 deep per tree; deep nodes follow by asking', () => {
  // 16 by 16: the trees are up to 30 deep, and most nodes have two neighbours a hop nearer the
  // root, one of them the parent.
  const side = 16;
  const edges: [number, number][] = [];
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      if (x + 1 < side) edges.push([y * side + x, y * side + x + 1]);
      if (y + 1 < side) edges.push([y * side + x, (y + 1) * side + x]);
    }
  }
  const g = makeGraph('grid-16', side * side, edges);
  // The places as a root in tree 0 that the node `watched` sends (a spell as root between two
  // polls shows in them).
  let watched = -1;
  let rootPlaces = 0;
  const sim = makeSim(g, 0, (from, _link, frame) => {
    if (from === watched && frame[1] === KIND_TREE_STATE && frame[2] === 0 && frame[7] === 0) rootPlaces++;
  });
  sim.start();
  formed(sim, 60_000);
  sim.run(TREE_STABLE_MS);
  const budget = 2 * 10 * LINK_SIZE;
  // The other places a node holds whole in tree t (not its parent's), and their links' bytes.
  const heldWhole = (node: (typeof sim.nodes)[number], t: number) => {
    let bytes = 0;
    let whole = 0;
    for (let link = 1; link < node.peers.length; link++) {
      const held = node.agent.neighbourPosition(link, t);
      if (link === node.agent.parentOf(t) || !held || held.depth === 0 || held.links.length !== held.depth) continue;
      bytes += held.depth * LINK_SIZE;
      whole++;
    }
    return { bytes, whole };
  };
  let withTwo = 0;
  let deepWithNone = 0;
  for (const node of sim.nodes) {
    for (let t = 0; t < TREE_COUNT; t++) {
      const { bytes, whole } = heldWhole(node, t);
      assert.ok(bytes <= budget, `node ${node.index}, tree ${t}: ${whole} other places held whole, ${bytes} bytes of links`);
      if (whole === 2) withTwo++;
      if (whole === 0 && node.agent.position(t).depth > 20) deepWithNone++;
    }
  }
  assert.ok(withTwo > 0, 'no node holds two other places whole');
  assert.ok(deepWithNone > 0, 'no deep node holds its other places by coordinates');
  // A deep node with another way up, all held by coordinates: its parent goes, and it asks for
  // the other's place and follows it within a second, without making itself root meanwhile.
  const nearer = (node: (typeof sim.nodes)[number]) =>
    node.peers.filter((_, link) => link > 0 && (node.agent.neighbourPosition(link, 0)?.depth ?? Infinity) < node.agent.position(0).depth).length;
  const deep = sim.nodes.find((node) => node.agent.position(0).depth > 20 && nearer(node) === 2 && heldWhole(node, 0).whole === 0);
  assert.ok(deep, 'no deep node with two ways up');
  const parent = deep.agent.parentOf(0);
  const depth = deep.agent.position(0).depth;
  watched = deep.index;
  sim.linkDown(deep.index, deep.peers[parent]!);
  let wasRoot = false;
  const at = sim.now;
  const followed = sim.runUntilTrue(() => {
    if (deep.agent.parentOf(0) === 0) wasRoot = true;
    return deep.agent.parentOf(0) !== 0 && deep.agent.parentOf(0) !== parent;
  }, 5_000, 10);
  assert.notEqual(followed, null, 'no new parent');
  assert.ok(!wasRoot && rootPlaces === 0, 'became root while it waited');
  assert.ok(followed! - at <= 1_000, `a new parent after ${followed! - at} ms`);
  assert.equal(deep.agent.position(0).depth, depth, 'not by the other way up');
});

test("a hop's link is one object wherever a node holds it, in whichever trees' places", () => {
  // On a line every tree goes the same way down most hops, and a link is signed for a hop
  // whatever the tree: each node's four places, and its neighbours', share those links.
  const n = 12;
  const g = makeGraph('line-12', n, Array.from({ length: n - 1 }, (_, i): [number, number] => [i, i + 1]));
  const sim = makeSim(g);
  sim.start();
  formed(sim, 30_000);
  // Links in more than one place, and in neighbours' places: what the assertions are about.
  let inSeveral = 0;
  let theirs = 0;
  for (const node of sim.nodes) {
    const byBytes = new Map<string, Set<Uint8Array>>();
    const places = new Map<Uint8Array, number>();
    const hold = (p: Position) => {
      for (const link of p.links) {
        const key = Buffer.from(link).toString('hex');
        byBytes.set(key, (byBytes.get(key) ?? new Set()).add(link));
        places.set(link, (places.get(link) ?? 0) + 1);
      }
    };
    for (let t = 0; t < TREE_COUNT; t++) {
      hold(node.agent.position(t));
      for (let link = 1; link < node.peers.length; link++) {
        const p = node.agent.neighbourPosition(link, t);
        if (p) hold(p);
        theirs += p?.links.length ?? 0;
      }
    }
    for (const [bytes, objects] of byBytes) assert.equal(objects.size, 1, `node ${node.index} holds the link ${bytes.slice(0, 16)}… ${objects.size} times`);
    for (const count of places.values()) if (count > 1) inSeveral++;
  }
  assert.ok(inSeveral > n, `${inSeveral} links are held in more than one place`);
  assert.ok(theirs > n, `the neighbours' places hold ${theirs} links`);
});

test('trees form under 10 % frame loss', () => {
  const g = randomGeometricGraph(40, 4);
  const sim = makeSim(g, 0.1);
  sim.start();
  const at = formed(sim, 60_000);
  assert.ok(at <= 20_000, `formed after ${at} ms under loss`);
  assert.ok(sim.lostFrames > 0);
});

test('a line of 70 nodes: nobody deeper than a label allows', () => {
  const n = 70;
  const g = makeGraph('line-70', n, Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as [number, number]));
  const sim = makeSim(g);
  sim.start();
  sim.run(60_000);
  for (const node of sim.nodes) for (let t = 0; t < TREE_COUNT; t++) assert.ok(node.agent.position(t).depth <= 63);
});

test('a node cannot take a place no node above it gave it, nor forge a root, a link or a beacon', () => {
  // Two nodes: the victim is honest; the attacker's frames are written by hand.
  const g = makeGraph('pair', 2, [[0, 1]]);
  // The version of the attacker's last STATE frame in each tree: the place the victim holds.
  const versions: number[] = [];
  const sim = makeSim(g, 0, (from, _link, frame) => {
    if (from === 1 && frame[1] === KIND_TREE_STATE) versions[frame[2]!] = readUint32BE(frame, 3);
  });
  sim.start();
  formed(sim, 10_000);
  const victim = sim.nodes[0]!;
  const attacker = sim.nodes[1]!;
  const sign = xeddsaSigner(attacker.keys.privateKey);
  const fakeRoot = new Uint8Array(32).fill(7);
  const before = victim.agent.counters.badSignature;
  const frames: Uint8Array[] = [];
  for (let t = 0; t < TREE_COUNT; t++) {
    // 1. A root beacon for a key that is not the signer's.
    const beacon = signRootBeacon(sign, t, attacker.keys.publicKey, Date.now());
    beacon.set(fakeRoot, 0);
    frames.push(stateFrame(t, 1, beacon, []));
    // 2. A place just below the victim as root, with a link the attacker signed in its name.
    const victimBeacon = signRootBeacon(xeddsaSigner(victim.keys.privateKey), t, victim.keys.publicKey, Date.now());
    frames.push(stateFrame(t, 2, victimBeacon, [signLink(sign, victim.keys.publicKey, attacker.keys.publicKey, 9)]));
    // 3. A link of its own, its port changed after signing.
    const link = signLink(sign, attacker.keys.publicKey, attacker.keys.publicKey, 3);
    link[33]! ^= 1;
    frames.push(stateFrame(t, 3, signRootBeacon(sign, t, attacker.keys.publicKey, Date.now()), [link]));
  }
  // 4. A link that leads to some other node, and one to the victim with a bad signature.
  const other = signLink(sign, attacker.keys.publicKey, fakeRoot, 1);
  frames.push(Uint8Array.of(FRAME_ROUTING, KIND_TREE_LINK, ...other));
  const bad = signLink(sign, attacker.keys.publicKey, victim.keys.publicKey, 1);
  bad[40]! ^= 1;
  frames.push(Uint8Array.of(FRAME_ROUTING, KIND_TREE_LINK, ...bad));
  // 5. Its own place as the victim holds it, with a signature altered: links that match a place
  //    checked before are taken unchecked only if every byte matches.
  let altered = 0;
  for (let t = 0; t < TREE_COUNT; t++) {
    const p = attacker.agent.position(t);
    if (p.depth === 0) continue;
    const links = p.links.map((link) => link.slice());
    links[p.depth - 1]![LINK_SIZE - 1]! ^= 1;
    frames.push(stateFrame(t, 4, p.beacon, links));
    altered++;
  }
  assert.ok(altered > 0, 'the attacker is below the victim in some tree');
  // 6. A newer beacon of the root of its place as the victim holds it (the victim), signed by
  //    the attacker.
  const link = victim.ifaceTo.get(1)!;
  const heldSequences: number[] = [];
  let forgedBeacons = 0;
  for (let t = 0; t < TREE_COUNT; t++) {
    const held = victim.agent.neighbourPosition(link, t)!;
    heldSequences.push(beaconSequence(held.beacon));
    if (held.depth === 0) continue; // the attacker's own root beacon: its to sign
    const forged = signRootBeacon(sign, t, held.beacon.subarray(0, 32), beaconSequence(held.beacon) + 60_000);
    frames.push(beaconFrame(t, versions[t]!, forged));
    forgedBeacons++;
  }
  assert.ok(forgedBeacons > 0, 'the attacker is the root of every tree');
  for (const frame of frames) victim.agent.receive(link, frame);
  assert.equal(victim.agent.counters.badSignature - before, frames.length, 'every forged piece is refused and counted');
  // Truncated and out-of-range frames are counted as malformed and change nothing.
  const malformedBefore = victim.agent.counters.malformed;
  victim.agent.receive(link, frames[0]!.subarray(0, 40));
  victim.agent.receive(link, Uint8Array.of(FRAME_ROUTING, KIND_TREE_STATE, TREE_COUNT));
  const deep = frames[1]!.slice();
  deep[7] = 200;
  victim.agent.receive(link, deep);
  victim.agent.receive(link, frames.at(-1)!.subarray(0, 40));
  assert.equal(victim.agent.counters.malformed - malformedBefore, 4);
  for (let t = 0; t < TREE_COUNT; t++) {
    const held = victim.agent.neighbourPosition(link, t)!;
    assert.notEqual(compare(held.beacon.subarray(0, 32), fakeRoot), 0);
    assert.equal(beaconSequence(held.beacon), heldSequences[t], 'a forged beacon renewed a place');
  }
  sim.run(5_000);
  assert.deepEqual(treeProblems(sim), []);
});

/** A root beacon for `key` at `sequence`, signed (as a root sends it). */
function signRootBeacon(sign: XeddsaSigner, tree: number, key: Uint8Array, sequence: number): Uint8Array {
  const beacon = unsignedRootBeacon(key, sequence);
  signBeaconInPlace(sign, tree, beacon);
  return beacon;
}

/** A STATE frame of a place of `depth` with all its links (none: the beacon alone). */
function stateFrame(t: number, version: number, beacon: Uint8Array, links: Uint8Array[], depth = links.length): Uint8Array {
  const frame = new Uint8Array(10 + ROOT_BEACON_SIZE + links.length * LINK_SIZE);
  frame[0] = FRAME_ROUTING;
  frame[1] = KIND_TREE_STATE;
  frame[2] = t;
  writeUint32BE(frame, 3, version);
  frame[7] = depth;
  frame[8] = 0;
  frame[9] = links.length;
  frame.set(beacon, 10);
  links.forEach((link, i) => frame.set(link, 10 + ROOT_BEACON_SIZE + i * LINK_SIZE));
  return frame;
}

/** A BEACON frame of `beacon` for the sender's place of `version` in tree t. */
function beaconFrame(t: number, version: number, beacon: Uint8Array): Uint8Array {
  const frame = new Uint8Array(7 + ROOT_BEACON_SIZE - 32);
  frame.set([FRAME_ROUTING, KIND_TREE_BEACON, t]);
  writeUint32BE(frame, 3, version);
  frame.set(beacon.subarray(32), 7);
  return frame;
}
