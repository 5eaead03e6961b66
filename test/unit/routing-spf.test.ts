// The link-state database and SPF on their own, with announcements built by hand (no signatures:
// the database stores what the router has verified).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fcAddressBytes } from '../../src/keys/address.js';
import type { Announcement } from '../../src/routing/announcement.js';
import { MAX_HOPS } from '../../src/routing/constants.js';
import { LINK_STRIDE, Lsdb, partBytes, type NodeRecord } from '../../src/routing/lsdb.js';
import { Spf, type SourceLinks } from '../../src/routing/spf.js';
import { equalBytes } from '../../src/util/bytes.js';

interface FakeNode {
  key: Uint8Array;
  address: Uint8Array;
}

function fakeNode(): FakeNode {
  const key = new Uint8Array(randomBytes(32));
  return { key, address: fcAddressBytes(key) };
}

/** An announcement of `n` listing [neighbour, interface index, cost?] links: its bytes as
 *  encoded (the database reads the links of its copy), its signature left zero. */
function ann(
  n: FakeNode,
  sequence: number,
  links: [FakeNode, number, number?][],
  opts: { part?: number; parts?: number; mtu?: number } = {},
): Announcement {
  const a: Announcement = {
    origin: n.key,
    sequence,
    mtu: opts.mtu ?? 1400,
    part: opts.part ?? 0,
    parts: opts.parts ?? 1,
    links: links.map(([m, index, cost]) => ({ address: m.address, index, cost: cost ?? 1 })),
    prefixes: [],
    bytes: new Uint8Array(111 + 20 * links.length),
  };
  const view = new DataView(a.bytes.buffer);
  a.bytes[0] = 1;
  a.bytes.set(n.key, 1);
  view.setBigUint64(33, BigInt(sequence));
  view.setUint16(41, a.mtu);
  a.bytes[43] = a.part;
  a.bytes[44] = a.parts;
  view.setUint16(45, links.length);
  a.links.forEach((link, k) => {
    a.bytes.set(link.address, 47 + 20 * k);
    view.setUint16(47 + 20 * k + 16, link.index);
    view.setUint16(47 + 20 * k + 18, link.cost);
  });
  return a;
}

/** A database seen from `self`, whose live links are `[neighbour, our index]`. */
class View {
  readonly lsdb = new Lsdb();
  readonly spf = new Spf();
  readonly selfId: number;
  routed: NodeRecord[] = [];

  constructor(readonly self: FakeNode) {
    this.selfId = this.lsdb.intern(self.address);
    this.lsdb.ref(this.selfId);
  }

  store(...as: Announcement[]): void {
    for (const a of as) this.lsdb.store(a, 0, 1000);
  }

  run(links: [FakeNode, number][], mtu = 1400) {
    const source: SourceLinks = links.flatMap(([n, i]) => [this.lsdb.intern(n.address), i, 1]);
    this.spf.compute(this.lsdb, this.selfId, source);
    const changes = this.spf.updateRoutes(this.lsdb, mtu, this.routed);
    this.routed = changes.routed;
    return changes;
  }

  route(n: FakeNode) {
    return this.lsdb.recordOf(n.key, 0)?.route;
  }
}

test('a link counts only when both ends announce it', () => {
  const [s, a, b] = [fakeNode(), fakeNode(), fakeNode()];
  const v = new View(s);
  // a claims b, but b's announcement does not list a.
  v.store(ann(a, 1, [[s, 7], [b, 8]]), ann(b, 1, []));
  v.run([[a, 3]]);
  assert.equal(v.route(a)?.hops, 1);
  assert.equal(v.route(a)?.link, 3);
  assert.equal(v.route(b), undefined, 'one-way claim ignored');
  v.store(ann(b, 2, [[a, 1]]));
  v.run([[a, 3]]);
  const r = v.route(b)!;
  assert.equal(r.hops, 2);
  assert.equal(r.link, 3);
  assert.deepEqual([...r.label], [8]);
  assert.deepEqual(r.path, [v.lsdb.recordOf(a.key, 0)!.publicKey, v.lsdb.recordOf(b.key, 0)!.publicKey]);
  // Our side counts from the live links: without the link to a, nothing is reachable.
  const changes = v.run([]);
  assert.equal(changes.removed.length, 2);
  assert.equal(v.route(a), undefined);
  assert.equal(v.route(b), undefined);
});

test('equal-cost ties go to the lower address, whatever the arrival order', () => {
  const [s, x, y, d] = [fakeNode(), fakeNode(), fakeNode(), fakeNode()];
  const lowFirst = Buffer.compare(x.address, y.address) < 0 ? x : y;
  const anns = [ann(x, 1, [[s, 1], [d, 11]]), ann(y, 1, [[s, 1], [d, 21]]), ann(d, 1, [[x, 1], [y, 2]])];
  for (const order of [anns, [...anns].reverse()]) {
    const v = new View(s);
    v.store(...order);
    for (const links of [
      [[x, 1], [y, 2]],
      [[y, 2], [x, 1]],
    ] as [FakeNode, number][][]) {
      v.run(links);
      const r = v.route(d)!;
      assert.equal(r.hops, 2);
      assert.deepEqual([...r.label], [lowFirst === x ? 11 : 21]);
      assert.equal(r.link, lowFirst === x ? 1 : 2);
    }
  }
});

test('cost decides before hops; fewer hops break cost ties', () => {
  const [s, a, b, c, d] = [fakeNode(), fakeNode(), fakeNode(), fakeNode(), fakeNode()];
  const v = new View(s);
  // s-a-d with a→d costing 5, against s-b-c-d at cost 1 each: the longer, cheaper path wins.
  v.store(
    ann(a, 1, [[s, 1], [d, 2, 5]]),
    ann(b, 1, [[s, 1], [c, 2]]),
    ann(c, 1, [[b, 1], [d, 2]]),
    ann(d, 1, [[a, 1], [c, 2]]),
  );
  v.run([[a, 1], [b, 2]]);
  assert.equal(v.route(d)!.hops, 3);
  assert.deepEqual([...v.route(d)!.label], [2, 2]);
  // At a→d cost 2, both cost 3: the 2-hop path wins.
  v.store(ann(a, 2, [[s, 1], [d, 2, 2]]));
  v.run([[a, 1], [b, 2]]);
  assert.equal(v.route(d)!.hops, 2);
  assert.equal(v.route(d)!.link, 1);
});

test('no route is longer than MAX_HOPS', () => {
  const line = Array.from({ length: MAX_HOPS + 6 }, fakeNode);
  const v = new View(line[0]!);
  for (let i = 1; i < line.length; i++) {
    const links: [FakeNode, number][] = [[line[i - 1]!, 1]];
    if (i + 1 < line.length) links.push([line[i + 1]!, 2]);
    v.store(ann(line[i]!, 1, links));
  }
  v.run([[line[1]!, 5]]);
  const far = v.route(line[MAX_HOPS]!)!;
  assert.equal(far.hops, MAX_HOPS);
  assert.equal(far.label.length, MAX_HOPS - 1);
  assert.ok(far.label.every((x) => x === 2));
  assert.equal(far.path.length, MAX_HOPS);
  assert.equal(v.route(line[MAX_HOPS + 1]!), undefined);
  assert.equal(v.routed.length, MAX_HOPS);
});

test('route objects survive runs that change nothing; mtu is the path minimum', () => {
  const [s, a, b, c] = [fakeNode(), fakeNode(), fakeNode(), fakeNode()];
  const v = new View(s);
  v.store(
    ann(a, 1, [[s, 1], [b, 2]], { mtu: 1500 }),
    ann(b, 1, [[a, 1], [c, 2]], { mtu: 1300 }),
    ann(c, 1, [[b, 1]], { mtu: 1400 }),
  );
  let changes = v.run([[a, 4]], 1420);
  assert.equal(changes.updated.length, 3);
  assert.deepEqual(
    [a, b, c].map((n) => v.route(n)!.mtu),
    [1420, 1300, 1300],
  );
  const before = [a, b, c].map((n) => v.route(n));
  changes = v.run([[a, 4]], 1420);
  assert.equal(changes.updated.length + changes.removed.length, 0);
  assert.deepEqual(
    [a, b, c].map((n) => v.route(n)),
    before,
  );
  assert.ok([a, b, c].every((n, i) => v.route(n) === before[i]));
  // a's MTU drops to 1350: a and b get new routes, c (already limited to 1300 by b) keeps its own.
  v.store(ann(a, 2, [[s, 1], [b, 2]], { mtu: 1350 }));
  changes = v.run([[a, 4]], 1420);
  assert.equal(v.route(a)!.mtu, 1350);
  assert.equal(v.route(b), before[1], 'b still 1300: unchanged');
  assert.equal(v.route(c), before[2]);
  assert.deepEqual(changes.updated, [v.lsdb.recordOf(a.key, 0)]);
  // A new interface index at b changes c's label, and only c's.
  v.store(ann(b, 2, [[a, 1], [c, 9]], { mtu: 1300 }));
  changes = v.run([[a, 4]], 1420);
  assert.deepEqual(changes.updated, [v.lsdb.recordOf(c.key, 0)]);
  assert.deepEqual([...v.route(c)!.label], [2, 9]);
});

/** A view, a hub of 120 neighbours held (each announcing its link to the hub, stored before
 *  it), and `links(from, to)`: those neighbours' links, as the hub announces them (interface
 *  index = place + 1). */
function hubOf120() {
  const hub = fakeNode();
  const others = Array.from({ length: 120 }, fakeNode);
  const v = new View(fakeNode());
  v.store(...others.map((n) => ann(n, 1, [[hub, 1]])));
  const links = (from: number, to: number): [FakeNode, number][] =>
    others.slice(from, to).map((n, i): [FakeNode, number] => [n, from + i + 1]);
  return { hub, others, v, links };
}

test('parts: the union of the newest sequence, older parts dropped', () => {
  const { hub, others, v, links } = hubOf120();
  v.store(
    ann(hub, 10, links(0, 50), { part: 0, parts: 3 }),
    ann(hub, 10, links(50, 100), { part: 1, parts: 3 }),
    ann(hub, 10, links(100, 120), { part: 2, parts: 3 }),
  );
  const record = v.lsdb.recordOf(hub.key, 0)!;
  assert.equal(record.links.length, 120 * LINK_STRIDE);
  assert.equal(v.lsdb.stats().announcements, 120 + 3);
  assert.equal(v.lsdb.isStale(hub.key, 0, 10, 1), true, 'held part');
  assert.equal(v.lsdb.isStale(hub.key, 0, 9, 3), true, 'older sequence, whatever the part');
  assert.equal(v.lsdb.isStale(hub.key, 0, 11, 1), false);
  // The next origination has one part: parts 1 and 2 of sequence 10 go with it.
  v.store(ann(hub, 11, links(0, 10), { part: 0, parts: 1 }));
  assert.equal(record.links.length, 10 * LINK_STRIDE);
  assert.equal(v.lsdb.stats().announcements, 120 + 1);
  assert.equal(v.lsdb.isStale(hub.key, 0, 10, 2), true);
  // Duplicated neighbours and self-links collapse: one entry per neighbour, the cheapest.
  v.store(ann(hub, 12, [[others[0]!, 5, 3], [others[0]!, 6, 2], [hub, 7], [others[1]!, 8]]));
  const o0 = v.lsdb.idOf(others[0]!.address, 0);
  const o1 = v.lsdb.idOf(others[1]!.address, 0);
  assert.deepEqual([...record.links], [o0, 6, 2, o1, 8, 1]);
});

test('parts: while a newer sequence comes part by part, the newest part held of each number not come yet stands in', () => {
  const { hub, v, links } = hubOf120();
  const three = (sequence: number, last = 120) => [
    ann(hub, sequence, links(0, 50), { part: 0, parts: 3 }),
    ann(hub, sequence, links(50, 100), { part: 1, parts: 3 }),
    ann(hub, sequence, links(100, last), { part: 2, parts: 3 }),
  ];
  const [p0, p1, p2] = three(10);
  v.store(p0!, p1!, p2!);
  const record = v.lsdb.recordOf(hub.key, 0)!;
  const whole = v.lsdb.stats();
  // Sequence 11, whose last part lists 10 links fewer, comes a part at a time: until its last
  // part, the hub keeps its 120 links (sequence 10's parts 1 and 2 stand in), and no part is
  // held or counted twice.
  const [q0, q1, q2] = three(11, 110);
  v.store(q0!);
  assert.equal(record.sequence, 11);
  assert.equal(record.links.length, 120 * LINK_STRIDE, 'parts 1 and 2 of sequence 10 stand in');
  assert.equal(v.lsdb.isStale(hub.key, 0, 11, 1), false, 'part 1 of 11 is still wanted');
  assert.deepEqual(v.lsdb.stats(), whole);
  v.store(q1!);
  assert.equal(record.links.length, 120 * LINK_STRIDE);
  assert.deepEqual(partBytes(record.standIns![2]!), p2!.bytes, 'part 2 of 10 stands in');
  v.store(q2!);
  assert.equal(record.links.length, 110 * LINK_STRIDE, 'whole: sequence 11 alone');
  assert.equal(record.standIns, undefined);
  // The 10 neighbours no longer named keep their ids: their records hold them.
  assert.deepEqual(v.lsdb.stats(), { ...whole, links: whole.links - 10, bytes: whole.bytes - 10 * 20 });
  // A sequence that never comes whole: its parts stand in for the next one's too.
  const [r0] = three(12);
  v.store(r0!);
  const [t0, t1] = three(13, 100);
  v.store(t1!);
  const standIns = record.standIns;
  assert.ok(standIns?.[0] && equalBytes(partBytes(standIns[0]), r0!.bytes) && standIns[1] === undefined && standIns[2] && equalBytes(partBytes(standIns[2]), q2!.bytes), "12's part 0 and 11's part 2 stand in");
  assert.equal(v.lsdb.stats().announcements, 120 + 3);
  assert.equal(record.links.length, 110 * LINK_STRIDE);
  v.store(t0!);
  assert.equal(record.links.length, 110 * LINK_STRIDE);
  assert.equal(v.lsdb.stats().announcements, 120 + 3);
  // The record's removal drops them all, and frees the hub's id: the links that named it are
  // held in their parts' bytes alone again.
  v.lsdb.remove(record);
  assert.deepEqual(v.lsdb.stats(), { nodes: 120, links: 0, announcements: 120, bytes: 120 * 131, ids: 121, idRange: 121 }, 'our own id and the 120 neighbours');
  assert.equal(v.lsdb.idOf(hub.address, 0), undefined, 'the hub kept its id');
});

test('a link joins the graph once a node it names is held and names its origin back; only then', () => {
  const [s, a, b, c] = [fakeNode(), fakeNode(), fakeNode(), fakeNode()];
  const v = new View(s);
  // a names b and c before either is held: those links are in its bytes alone.
  v.store(ann(a, 1, [[s, 1], [b, 2], [c, 3]]));
  const recordA = v.lsdb.recordOf(a.key, 0)!;
  assert.deepEqual([...recordA.links], [v.selfId, 1, 1], 'only the link to us, whose address has an id');
  assert.equal(v.lsdb.stats().ids, 2, 'no id for an address only named');
  assert.equal(v.lsdb.announcedDegree(recordA), 3);
  // A node's degree counts each neighbour once, itself not, whether held or not.
  const twice = fakeNode();
  v.store(ann(twice, 1, [[a, 1], [a, 2], [twice, 3], [fakeNode(), 4]]));
  assert.equal(v.lsdb.announcedDegree(v.lsdb.recordOf(twice.key, 0)!), 2);
  // b comes, naming a back: a's link to b joins the graph, and SPF routes b through a.
  v.store(ann(b, 1, [[a, 1]]));
  const idB = v.lsdb.idOf(b.address, 0)!;
  assert.deepEqual([...recordA.links], [v.selfId, 1, 1, idB, 2, 1]);
  v.run([[a, 7]]);
  assert.deepEqual([...v.route(b)!.label], [2]);
  // c comes naming only b: a's link to c stays in its bytes (SPF would not take it: c does not
  // name a), and c is reached through b once b names it.
  v.store(ann(c, 1, [[b, 4]]));
  assert.equal(recordA.links.length, 2 * LINK_STRIDE);
  v.store(ann(b, 2, [[a, 1], [c, 5]]));
  v.run([[a, 7]]);
  assert.deepEqual([...v.route(c)!.label], [2, 5]);
  assert.equal(v.lsdb.linkTarget(recordA, 3)?.publicKey.join(), c.key.join(), 'read from the bytes');
  // c goes: its id is freed, and b's link to it leaves the graph.
  v.lsdb.remove(v.lsdb.recordOf(c.key, 0)!);
  assert.equal(v.lsdb.recordOf(b.key, 0)!.links.length, LINK_STRIDE);
  assert.equal(v.lsdb.idOf(c.address, 0), undefined);
  // Held again, naming a back this time: a's link to it and b's both join the graph.
  v.store(ann(c, 2, [[b, 4], [a, 6]]));
  const idC = v.lsdb.idOf(c.address, 0)!;
  assert.deepEqual([...recordA.links], [v.selfId, 1, 1, idB, 2, 1, idC, 3, 1]);
  assert.equal(v.lsdb.recordOf(b.key, 0)!.links.length, 2 * LINK_STRIDE);
  // An address held from outside (a router's live link) has an id, so a link stored naming it is
  // in the graph; once the outside lets go, no record holding it, the link leaves.
  const n = fakeNode();
  const idN = v.lsdb.intern(n.address);
  v.lsdb.ref(idN);
  v.store(ann(b, 3, [[a, 1], [c, 5], [n, 7]]));
  const recordB = v.lsdb.recordOf(b.key, 0)!;
  assert.deepEqual([...recordB.links], [recordA.id, 1, 1, idC, 5, 1, idN, 7, 1]);
  v.lsdb.unref(idN);
  assert.equal(v.lsdb.idOf(n.address, 0), undefined);
  assert.deepEqual([...recordB.links], [recordA.id, 1, 1, idC, 5, 1]);
  // So does a link in a part that stands in (a newer sequence of its node is coming part by part).
  const [h, x] = [fakeNode(), fakeNode()];
  v.store(ann(h, 1, [[a, 1]], { part: 0, parts: 2 }), ann(h, 1, [[x, 2]], { part: 1, parts: 2 }));
  v.store(ann(h, 2, [[a, 1]], { part: 0, parts: 2 }));
  const recordH = v.lsdb.recordOf(h.key, 0)!;
  assert.ok(recordH.standIns?.[1], 'part 1 of sequence 1 stands in');
  v.store(ann(x, 1, [[h, 3]]));
  assert.deepEqual([...recordH.links], [recordA.id, 1, 1, v.lsdb.idOf(x.address, 0), 2, 1]);
});

test('ids are reference counted and reused; expiry forgets records', () => {
  const s = fakeNode();
  const v = new View(s);
  const ring = Array.from({ length: 20 }, fakeNode);
  const ringAnn = (seq: number) =>
    ring.map((n, i) =>
      ann(n, seq, [
        [ring[(i + 1) % ring.length]!, 1],
        [ring[(i + ring.length - 1) % ring.length]!, 2],
      ]),
    );
  v.store(...ringAnn(1));
  const capacity = v.lsdb.capacity;
  assert.equal(capacity, 21);
  assert.deepEqual(v.lsdb.stats(), { nodes: 20, links: 40, announcements: 20, bytes: 20 * 151, ids: 21, idRange: 21 });
  for (let seq = 2; seq < 10; seq++) v.store(...ringAnn(seq));
  assert.equal(v.lsdb.capacity, capacity, 'replacing announcements allocates no ids');
  assert.equal(v.lsdb.expire(999), 0);
  assert.equal(v.lsdb.expire(1000), 20);
  assert.deepEqual(v.lsdb.stats(), { nodes: 0, links: 0, announcements: 0, bytes: 0, ids: 1, idRange: 1 }, 'only our own id is left');
  assert.equal(v.lsdb.idOf(ring[0]!.address, 0), undefined, 'freed');
  assert.equal(v.lsdb.idOf(s.address, 0), v.selfId, 'held by its owner');
  // Another set of nodes reuses the freed ids.
  const other = Array.from({ length: 20 }, fakeNode);
  v.store(...other.map((n) => ann(n, 1, [[s, 1]])));
  assert.equal(v.lsdb.capacity, capacity);
  v.run(other.map((n, i): [FakeNode, number] => [n, i + 1]));
  assert.equal(v.routed.length, 20);
});

test('SPF over a 2000-node grid is fast and deterministic', () => {
  const side = 45;
  const grid = Array.from({ length: side * side }, fakeNode);
  const at = (x: number, y: number) => grid[y * side + x]!;
  const anns: Announcement[] = [];
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const links: [FakeNode, number][] = [];
      if (x > 0) links.push([at(x - 1, y), 1]);
      if (x + 1 < side) links.push([at(x + 1, y), 2]);
      if (y > 0) links.push([at(x, y - 1), 3]);
      if (y + 1 < side) links.push([at(x, y + 1), 4]);
      anns.push(ann(at(x, y), 1, links));
    }
  }
  // From a corner, the far corner is 88 hops away: past MAX_HOPS, so only x + y <= 64 is reached.
  const corner = at(0, 0);
  const c = new View(corner);
  c.store(...anns);
  c.run([
    [at(1, 0), 2],
    [at(0, 1), 4],
  ]);
  let inReach = 0;
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) if (x + y > 0 && x + y <= MAX_HOPS) inReach++;
  assert.equal(c.routed.length, inReach);
  assert.equal(c.route(at(side - 1, side - 1)), undefined);
  // From the centre everything is within 44 hops.
  const mid = (side - 1) / 2;
  const centre = at(mid, mid);
  const v = new View(centre);
  v.store(...anns);
  const source: [FakeNode, number][] = [
    [at(mid - 1, mid), 1],
    [at(mid + 1, mid), 2],
    [at(mid, mid - 1), 3],
    [at(mid, mid + 1), 4],
  ];
  let t = performance.now();
  v.run(source);
  const first = performance.now() - t;
  assert.equal(v.routed.length, side * side - 1);
  const far = v.route(at(side - 1, side - 1))!;
  assert.equal(far.hops, 2 * mid);
  const runs = 20;
  t = performance.now();
  for (let i = 0; i < runs; i++) assert.equal(v.run(source).updated.length, 0);
  const steady = (performance.now() - t) / runs;
  console.log(`# SPF on a ${side}x${side} grid: first run (routes built) ${first.toFixed(2)} ms, re-run ${steady.toFixed(2)} ms`);
  // Same routes from a database filled in the opposite order.
  const w = new View(centre);
  w.store(...[...anns].reverse());
  w.run(source);
  for (const n of grid) {
    if (n === centre) continue;
    const r1 = v.route(n)!;
    const r2 = w.route(n)!;
    assert.equal(r1.link, r2.link);
    assert.deepEqual(r1.label, r2.label);
  }
});

test('once most ids have gone, the rest are numbered anew in their order: records, links and routes as before, the range back to the ids in use', () => {
  const s = fakeNode();
  const v = new View(s);
  const hub = fakeNode();
  const leaves = Array.from({ length: 300 }, fakeNode);
  const line = Array.from({ length: 5 }, fakeNode);
  // 300 leaves, held, name the hub first, then a line of five behind it: the line's ids are
  // above theirs.
  v.store(...leaves.map((leaf) => ann(leaf, 1, [[hub, 1]])));
  v.store(ann(hub, 1, [[s, 1], ...leaves.map((leaf, i): [FakeNode, number] => [leaf, i + 3])]));
  v.store(ann(hub, 2, [[s, 1], [line[0]!, 2], ...leaves.map((leaf, i): [FakeNode, number] => [leaf, i + 3])]));
  line.forEach((n, i) => i !== 1 && v.store(ann(n, 1, [[i === 0 ? hub : line[i - 1]!, 1], ...(i < 4 ? [[line[i + 1]!, 2] as [FakeNode, number]] : [])])));
  // The second of the line announces in two parts (each part's links are renumbered, not only
  // the union's).
  const secondPart1 = () => ann(line[1]!, 1, [[line[2]!, 2]], { part: 1, parts: 2 });
  v.store(ann(line[1]!, 1, [[line[0]!, 1]], { part: 0, parts: 2 }), secondPart1());
  v.run([[hub, 7]]);
  const before = line.map((n) => ({ hops: v.route(n)!.hops, label: [...v.route(n)!.label], link: v.route(n)!.link }));
  assert.equal(before[4]!.hops, 6);
  // The leaves go: their 300 ids are free below the line's.
  for (const leaf of leaves) v.lsdb.remove(v.lsdb.recordOf(leaf.key, 0)!);
  v.store(ann(hub, 3, [[s, 1]], { part: 0, parts: 2 }), ann(hub, 3, [[line[0]!, 2]], { part: 1, parts: 2 }));
  // And a new sequence's first part, so that the second part held stands in (and is renumbered).
  v.store(ann(hub, 4, [[s, 1]], { part: 0, parts: 2 }));
  const sparse = v.lsdb.stats();
  assert.ok(sparse.idRange > 300 && sparse.ids < 20, `range ${sparse.idRange}, ids ${sparse.ids}`);
  const renumbered = v.lsdb.compactIds();
  assert.ok(renumbered, 'a sparse range was not renumbered');
  assert.equal(renumbered[v.selfId], v.selfId, 'our own id, the first, moved');
  assert.deepEqual(v.lsdb.stats(), { ...sparse, idRange: sparse.ids }, 'the range is not the ids in use');
  for (const n of [hub, ...line]) {
    const record = v.lsdb.recordOf(n.key, 0)!;
    assert.equal(v.lsdb.idOf(n.address, 0), record.id);
    assert.equal(v.lsdb.records[record.id], record);
  }
  // SPF over the renumbered links finds the same routes.
  v.run([[hub, 7]]);
  assert.deepEqual(line.map((n) => ({ hops: v.route(n)!.hops, label: [...v.route(n)!.label], link: v.route(n)!.link })), before);
  assert.equal(v.lsdb.compactIds(), undefined, 'a dense range was renumbered again');
  // The line's second node's second part again: the union is made again, of it and the first.
  v.store(secondPart1());
  v.run([[hub, 7]]);
  assert.deepEqual(line.map((n) => ({ hops: v.route(n)!.hops, label: [...v.route(n)!.label], link: v.route(n)!.link })), before);
  // Another sequence's first part: the union is made again from the parts held and the one
  // standing in, its link to the line with it.
  v.store(ann(hub, 5, [[s, 1]], { part: 0, parts: 2 }));
  v.run([[hub, 7]]);
  assert.deepEqual(line.map((n) => ({ hops: v.route(n)!.hops, label: [...v.route(n)!.label], link: v.route(n)!.link })), before);
});

test('store: a part keeps its own copy of the bytes and of its delegations', () => {
  const [a, b] = [fakeNode(), fakeNode()];
  const v = new View(a);
  const given = ann(b, 1, [[a, 3]]);
  given.bytes.fill(7);
  const announced: Announcement = { ...given, prefixes: [{ prefix: { family: 6, address: new Uint8Array(16), length: 48 }, delegation: given.bytes.subarray(20, 40) }] };
  v.store(announced);
  const part = v.lsdb.recordOf(b.key, 0)!.parts[0]!;
  given.bytes.fill(9); // the caller's buffer, reused
  const bytes = partBytes(part);
  assert.ok(bytes.length === given.bytes.length && bytes.every((x) => x === 7), 'the bytes are a copy');
  assert.equal(part.links.length, LINK_STRIDE, 'one link');
  const delegation = part.prefixes[0]!.delegation!;
  assert.ok(delegation.buffer !== given.bytes.buffer && delegation.length === 20 && delegation.every((x) => x === 7), 'the delegation is a copy');
});

test('spf: an update reads its run once, and a second without a run between is refused', () => {
  const [a, b] = [fakeNode(), fakeNode()];
  const v = new View(a);
  v.store(ann(b, 1, [[a, 3]]));
  assert.equal(v.run([[b, 5]]).routed.length, 1);
  assert.throws(() => v.spf.updateRoutes(v.lsdb, 1400, v.routed), /no run computed since the last update/);
  assert.equal(v.run([[b, 5]]).routed.length, 1, 'a new run is read as before');
});

test('records whose keys begin alike are told apart by the whole key, and each route gives its own key and address', () => {
  const s = fakeNode();
  // Three keys sharing the four bytes the key table hashes: one bucket.
  const alike = [0, 1, 2].map(() => {
    const key = new Uint8Array(randomBytes(32));
    key.set([9, 8, 7, 6]);
    return { key, address: fcAddressBytes(key) };
  });
  const [a, b, c] = alike as [FakeNode, FakeNode, FakeNode];
  const v = new View(s);
  v.store(ann(a, 1, [[s, 1], [b, 2]]), ann(b, 1, [[a, 1], [c, 2]]), ann(c, 1, [[b, 1]]));
  v.run([[a, 4]]);
  for (const n of alike) {
    const record = v.lsdb.recordOf(n.key, 0)!;
    assert.ok(equalBytes(record.publicKey, n.key) && equalBytes(record.address, n.address));
    assert.equal(v.lsdb.recordAt(n.address, 0), record);
    const route = v.route(n)!;
    assert.ok(equalBytes(route.publicKey, n.key) && equalBytes(route.address, n.address));
  }
  assert.deepEqual(v.route(c)!.path.map((k) => Buffer.from(k).toString('hex')), alike.map((n) => Buffer.from(n.key).toString('hex')));
  // The send path finds a packet's session by the route's address at each packet: made once.
  assert.equal(v.route(c)!.address, v.route(c)!.address);
  // What a caller does to the arrays it was given stays its own.
  v.route(c)!.publicKey.fill(0);
  v.lsdb.recordOf(c.key, 0)!.address.fill(0);
  assert.ok(equalBytes(v.route(c)!.publicKey, c.key) && equalBytes(v.route(c)!.address, c.address));
  // Removing the one in the middle of the bucket leaves the others found, and it is not.
  v.lsdb.remove(v.lsdb.recordOf(b.key, 0)!);
  assert.equal(v.lsdb.recordOf(b.key, 0), undefined);
  assert.ok(equalBytes(v.lsdb.recordOf(a.key, 0)!.publicKey, a.key));
  assert.ok(equalBytes(v.lsdb.recordOf(c.key, 0)!.publicKey, c.key));
  v.lsdb.remove(v.lsdb.recordOf(a.key, 0)!);
  assert.ok(equalBytes(v.lsdb.recordOf(c.key, 0)!.publicKey, c.key));
  assert.equal(v.lsdb.recordOf(a.key, 0), undefined);
});
