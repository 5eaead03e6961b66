// Routers wired together in-process: a synchronous relay carries every frame to the neighbour's
// receive() (queued, so floods run breadth-first rather than recursing), a fake clock drives the
// ticks, and announcements carry real XEdDSA signatures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fcAddressBytes } from '../../src/keys/address.js';
import { generateKeyPair, type KeyPair } from '../../src/keys/keypair.js';
import { randomKeyPair } from '../../src/keys/x25519.js';
import { RENEWAL_SIZE, decodeAnnouncement, signAnnouncements, verifyAnnouncement, writeRenewal } from '../../src/routing/announcement.js';
import { equalBytes } from '../../src/util/bytes.js';
import { DAILY_REFRESH_MS, DATABASE_RESEND_MS, FRAME_ROUTING, KIND_ACKNOWLEDGEMENTS, KIND_ANNOUNCEMENTS, KIND_DAILY_DISTANCE, KIND_DATABASE_REQUEST, KIND_HOURLY_DISTANCE, KIND_MAP_HORIZON, KIND_RENEWALS, LIFETIME_MS, LONG_REFRESH_MS, MAP_RADIUS, MAP_SCOPE_GRACE_MS, REFRESH_MS, TICK_MS } from '../../src/routing/constants.js';
import { packFrames, Router, type MapScope, type Route } from '../../src/routing/router.js';
import { partBytes, type Lsdb } from '../../src/routing/lsdb.js';

const WALL_START = 1_750_000_000_000;

class TestNode {
  router!: Router;
  readonly address: Uint8Array;
  /** Our interface index → the neighbour at the other end and its index for us. */
  readonly wires = new Map<number, { peer: TestNode; peerLink: number }>();
  largestFrame = 0;
  routeChanges = 0;
  /** The links nodes of its map took back, as its router told them: "origin's key in hex:index". */
  readonly withdrawn: string[] = [];
  /** Its wall clock's offset from the mesh's (ms): a clock set wrong, or stepped. */
  wallOffset = 0;
  /** Frames of announcements sent (acknowledgements and requests not counted). */
  announcementFrames = 0;
  /** The neighbours this node sent whole announcements, and the origins (hex keys) of the
   *  renewals it sent, with their bytes. */
  readonly wholeTo = new Set<string>();
  readonly renewedOrigins = new Set<string>();
  /** `${neighbour}:${origin hex}` for every renewal sent. */
  readonly renewalsTo = new Set<string>();
  renewalBytes = 0;

  constructor(
    readonly name: string,
    readonly identity: KeyPair,
  ) {
    this.address = fcAddressBytes(identity.publicKey);
  }

  get key(): Uint8Array {
    return this.identity.publicKey;
  }

  route(to: TestNode): Route | undefined {
    return this.router.routeTo(to.key);
  }

  linkTo(peer: TestNode): number {
    for (const [link, w] of this.wires) if (w.peer === peer) return link;
    throw new Error(`${this.name} has no link to ${peer.name}`);
  }
}

/** The frame as the hop layer delivers it: zero-padded to a multiple of 16, never past the MTU. */
function padded(frame: Uint8Array, mtu: number): Uint8Array {
  const out = new Uint8Array(Math.min((frame.length + 15) & ~15, Math.max(frame.length, mtu)));
  out.set(frame);
  return out;
}

class Mesh {
  now = 5_000;
  wall = WALL_START;
  readonly nodes: TestNode[] = [];
  private queue: { to: TestNode; link: number; frame: Uint8Array }[] = [];
  private readonly verifyCache = new Map<string, boolean>();
  /** Loses the frames it returns true for, as a lossy link would. */
  drop: ((from: TestNode, to: TestNode, frame: Uint8Array) => boolean) | null = null;

  constructor(private readonly opts: { mtu?: number; sharedVerify?: boolean; maxOrigins?: number; maxDatabaseBytes?: number; scope?: Partial<MapScope> } = {}) {}

  add(name: string, identity: KeyPair = generateKeyPair()): TestNode {
    const node = new TestNode(name, identity);
    this.start(node);
    this.nodes.push(node);
    return node;
  }

  /** (Re)creates the node's router, as after a restart; its wires stay for connect() to re-use. */
  start(node: TestNode, wallOffset = 0): void {
    node.wallOffset = wallOffset;
    node.router = new Router({
      identity: node.identity,
      mtu: this.opts.mtu ?? 1420,
      send: (link, frame) => {
        node.largestFrame = Math.max(node.largestFrame, frame.length);
        const w = node.wires.get(link);
        if (frame[1] === KIND_ANNOUNCEMENTS) {
          node.announcementFrames++;
          node.wholeTo.add(w?.peer.name ?? '');
        }
        if (frame[1] === KIND_RENEWALS) {
          node.renewalBytes += frame.length;
          for (let off = 2; off + RENEWAL_SIZE <= frame.length; off += RENEWAL_SIZE) {
            const origin = Buffer.from(frame.subarray(off, off + 32)).toString('hex');
            node.renewedOrigins.add(origin);
            node.renewalsTo.add(`${w?.peer.name ?? ''}:${origin}`);
          }
        }
        if (w && this.drop?.(node, w.peer, frame)) return;
        if (w) this.queue.push({ to: w.peer, link: w.peerLink, frame: padded(frame, this.opts.mtu ?? 1420) });
      },
      now: () => this.now,
      wallNow: () => this.wall + node.wallOffset,
      routesChanged: () => node.routeChanges++,
      linksWithdrawn: (withdrawn) => {
        for (const w of withdrawn) for (const index of w.indices) node.withdrawn.push(`${Buffer.from(w.origin).toString('hex')}:${index}`);
      },
      maxOrigins: this.opts.maxOrigins,
      maxDatabaseBytes: this.opts.maxDatabaseBytes,
      scope: this.opts.scope,
      // The hub test shares verification results between routers (as the simulator may): every
      // distinct announcement is still checked once.
      verify: this.opts.sharedVerify
        ? (a) => {
            const k = Buffer.from(a.bytes).toString('base64');
            let ok = this.verifyCache.get(k);
            if (ok === undefined) this.verifyCache.set(k, (ok = verifyAnnouncement(a)));
            return ok;
          }
        : undefined,
    });
  }

  /** Wires a and b with the given interface indices and reports the link up at both ends. */
  connect(a: TestNode, b: TestNode, la: number, lb: number): void {
    a.wires.set(la, { peer: b, peerLink: lb });
    b.wires.set(lb, { peer: a, peerLink: la });
    a.router.linkUp(la, b.key);
    b.router.linkUp(lb, a.key);
  }

  disconnect(a: TestNode, b: TestNode): void {
    const la = a.linkTo(b);
    const lb = b.linkTo(a);
    a.wires.delete(la);
    b.wires.delete(lb);
    a.router.linkDown(la);
    b.router.linkDown(lb);
  }

  deliver(): void {
    for (let i = 0; i < this.queue.length; i++) {
      const { to, link, frame } = this.queue[i]!;
      to.router.receive(link, frame);
    }
    this.queue = [];
  }

  /** Advances the clocks by `ms` in steps of `step`, ticking every router and delivering. */
  run(ms: number, step = TICK_MS, nodes = this.nodes): void {
    this.deliver();
    for (let t = 0; t < ms; t += step) {
      this.now += step;
      this.wall += step;
      for (const n of nodes) n.router.tick();
      this.deliver();
    }
  }

  inject(to: TestNode, link: number, frame: Uint8Array): void {
    to.router.receive(link, frame);
    this.deliver();
  }
}

/** Whether `needle` occurs in `haystack`. */
function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function labelOf(r: Route | undefined): number[] | undefined {
  return r ? [...r.label] : undefined;
}

/** A line n0 — n1 — ... ; n[i] reaches n[i+1] over index 100+i and n[i-1] over 200+i. */
function line(mesh: Mesh, count: number): TestNode[] {
  const nodes = Array.from({ length: count }, (_, i) => mesh.add(`n${i}`));
  for (let i = 0; i + 1 < count; i++) mesh.connect(nodes[i]!, nodes[i + 1]!, 100 + i, 200 + i + 1);
  return nodes;
}

test('a line of five learns every route, labels of transit indices, hop counts', () => {
  const mesh = new Mesh({ scope: { radius: Infinity } }); // the whole map: n0 and n4 are 4 hops apart
  const n = line(mesh, 5);
  mesh.run(3000);
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 5; j++) {
      const r = n[i]!.route(n[j]!);
      if (i === j) {
        assert.equal(r, undefined);
        continue;
      }
      assert.ok(r, `n${i} → n${j}`);
      assert.equal(r.hops, Math.abs(i - j));
      const step = j > i ? 1 : -1;
      // Our index for the first hop, then each transit node's index for the next.
      const indexAt = (k: number) => (step > 0 ? 100 + k : 200 + k);
      assert.equal(r.link, indexAt(i));
      const transit: number[] = [];
      for (let k = i + step; k !== j; k += step) transit.push(indexAt(k));
      assert.deepEqual(labelOf(r), transit);
      const path: Uint8Array[] = [];
      for (let k = i + step; k !== j + step; k += step) path.push(n[k]!.key);
      assert.deepEqual(r.path, path);
      assert.equal(r.mtu, 1420);
      assert.deepEqual(r.address, n[j]!.address);
      assert.equal(n[i]!.router.lookup(n[j]!.address, 0), r, 'lookup by address finds the same route');
    }
  }
  const routes = n[0]!.router.routes();
  assert.deepEqual(
    routes.map((r) => r.hops),
    [1, 2, 3, 4],
  );
  assert.deepEqual(n[0]!.router.keyOf(n[4]!.address), n[4]!.key);
  assert.equal(n[0]!.router.keyOf(new Uint8Array(16)), undefined);
  assert.ok(n[0]!.router.holds(n[4]!.address, 0) && !n[0]!.router.holds(new Uint8Array(16), 0));
  const stats = n[2]!.router.stats();
  assert.equal(stats.nodes, 5);
  assert.equal(stats.announcements, 5);
  // Four links, announced by both ends: in the graph, all but node 2's own two (its live links
  // are SPF's source; its announcement is held as bytes to send, not indexed again).
  assert.equal(stats.links, 6, "four links announced by both ends, less node 2's own");
  // Lookup in place: the address inside a larger buffer.
  const packet = new Uint8Array(40);
  packet.set(n[3]!.address, 24);
  assert.equal(n[0]!.router.lookup(packet, 24)?.hops, 3);

  // Nothing changes: no route churn, no SPF, no traffic beyond the periodic refresh.
  const before = n.map((x) => ({ changes: x.routeChanges, spf: x.router.counters.spfRuns, sent: x.router.counters.framesSent }));
  assert.ok(n.every((x) => !x.router.hasWork), 'something is still unacknowledged or due');
  mesh.run(10_000);
  n.forEach((x, i) => {
    assert.equal(x.routeChanges, before[i]!.changes);
    assert.equal(x.router.counters.spfRuns, before[i]!.spf);
    assert.equal(x.router.counters.framesSent, before[i]!.sent);
  });
  // The daily refresh: new announcements everywhere, SPF runs, but no route changed.
  mesh.run(DAILY_REFRESH_MS, 1000);
  n.forEach((x, i) => {
    assert.ok(x.router.counters.spfRuns > before[i]!.spf);
    assert.equal(x.routeChanges, before[i]!.changes);
  });
  assert.equal(n[0]!.route(n[4]!)?.hops, 4);
});

test('a ring reroutes when a link goes down, and back when it returns', () => {
  const mesh = new Mesh({ scope: { radius: Infinity } }); // the way round is 5 hops
  const n = Array.from({ length: 6 }, (_, i) => mesh.add(`r${i}`));
  // r[i] reaches r[i+1] over index 10+i, r[i-1] over 20+i.
  for (let i = 0; i < 6; i++) mesh.connect(n[i]!, n[(i + 1) % 6]!, 10 + i, 20 + ((i + 1) % 6));
  mesh.run(3000);
  const [r0, r1, r2] = [n[0]!, n[1]!, n[2]!];
  assert.equal(r0.route(r1)?.hops, 1);
  assert.equal(r2.route(r0)?.hops, 2);
  assert.deepEqual(labelOf(r2.route(r0)), [21]);

  const changes = r0.routeChanges;
  mesh.disconnect(r0, r1);
  mesh.run(100);
  // r0's own SPF drops the link at once (its live links); r1 goes the long way round.
  assert.equal(r0.route(r1)?.hops, 5);
  assert.equal(r0.route(r1)?.link, 20);
  assert.deepEqual(labelOf(r0.route(r1)), [25, 24, 23, 22]);
  mesh.run(2000);
  assert.equal(r2.route(r0)?.hops, 4, 'r2 learnt it from the announcements');
  assert.equal(r2.route(r0)?.link, 12);
  assert.deepEqual(labelOf(r2.route(r0)), [13, 14, 15]);
  assert.ok(r0.routeChanges > changes);

  mesh.connect(r0, r1, 10, 21);
  mesh.run(3000);
  assert.equal(r0.route(r1)?.hops, 1);
  assert.equal(r2.route(r0)?.hops, 2);
  assert.deepEqual(labelOf(r2.route(r0)), [21]);
});

test('the map reaches MAP_RADIUS hops: no farther node is flooded to a node, held or routed, and one that comes near is learned', () => {
  assert.equal(MAP_RADIUS, 3);
  const mesh = new Mesh();
  const n = line(mesh, 7);
  mesh.run(3000 + MAP_SCOPE_GRACE_MS, 100);
  // n0 knows n1–n3 and nothing past them; n3, in the middle, knows everyone.
  assert.deepEqual(n.slice(1).map((x) => n[0]!.route(x)?.hops), [1, 2, 3, undefined, undefined, undefined]);
  assert.equal(n[0]!.router.stats().nodes, 4);
  assert.deepEqual(n.filter((x) => x !== n[3]).map((x) => n[3]!.route(x)?.hops), [3, 2, 1, 1, 2, 3]);
  // The floods stopped at the radius: n4–n6 never reached n0 (nothing had to be forgotten).
  assert.equal(n[0]!.router.counters.outOfScope, 0);
  assert.ok(n[1]!.router.stats().nodes <= 5, 'n1 holds n4 at most');
  assert.equal(n[0]!.router.keyOf(n[5]!.address), undefined);
  assert.ok(!n[0]!.router.holds(n[5]!.address, 0));

  // A shortcut brings n4–n6 near n0: the new neighbour's database carries them at once.
  mesh.connect(n[0]!, n[6]!, 1000, 2000);
  mesh.run(1000, 100);
  assert.deepEqual(n.slice(1).map((x) => n[0]!.route(x)?.hops), [1, 2, 3, 3, 2, 1]);
  // Gone again: n0 forgets the far side once it has been out of reach for the grace time.
  mesh.disconnect(n[0]!, n[6]!);
  mesh.run(2000 + MAP_SCOPE_GRACE_MS, 100);
  assert.deepEqual(n.slice(1).map((x) => n[0]!.route(x)?.hops), [1, 2, 3, undefined, undefined, undefined]);
  assert.equal(n[0]!.router.stats().nodes, 4);
  assert.ok(n[0]!.router.counters.outOfScope >= 3, `forgot ${n[0]!.router.counters.outOfScope}`);
});

test('the map gives no route through nodes past its radius: their announcements no longer come, and the links they named may be gone', () => {
  const mesh = new Mesh();
  const n = line(mesh, 7);
  // A shortcut n0–n6 puts every node within 3 hops of n0.
  mesh.connect(n[0]!, n[6]!, 1000, 2000);
  mesh.run(3000 + MAP_SCOPE_GRACE_MS, 100);
  assert.deepEqual(n.slice(1).map((x) => n[0]!.route(x)?.hops), [1, 2, 3, 3, 2, 1]);
  // The shortcut and n4–n5 fail together. n0 hears of the first, but n4's and n5's word of the
  // second stops 3 hops from them, short of n0: for n0, n5 is now 5 hops away past n4, by a link
  // that is gone.
  mesh.disconnect(n[0]!, n[6]!);
  mesh.disconnect(n[4]!, n[5]!);
  mesh.run(1000, 100);
  assert.ok(n[0]!.router.keyOf(n[5]!.address) && n[0]!.router.keyOf(n[6]!.address), 'n5 and n6 forgotten before their grace ended');
  // No route to them (a lookup finds them); n4, one hop past the radius, by n1–n3's fresh word.
  assert.deepEqual(n.slice(1).map((x) => n[0]!.route(x)?.hops), [1, 2, 3, 4, undefined, undefined]);
  assert.deepEqual(n[0]!.router.routes().map((r) => r.hops), [1, 2, 3, 4]);
  assert.equal(n[0]!.router.lookup(n[5]!.address, 0), undefined);
});

test("a map whose ids have spread out is numbered anew, and routes, links going down and coming back work as before", () => {
  // Room for the hub's 120 leaves within the radius.
  const mesh = new Mesh({ scope: { maxNodes: 200, maxBytes: 1 << 20 } });
  const s = mesh.add('s');
  const hub = mesh.add('hub');
  mesh.connect(s, hub, 1, 1);
  const leaves = Array.from({ length: 120 }, (_, i) => mesh.add(`leaf${i}`));
  leaves.forEach((leaf, i) => mesh.connect(hub, leaf, 10 + i, 1));
  mesh.run(2000, 100);
  // Named after the leaves, so numbered above them at s: a line behind the hub and a second
  // neighbour of s.
  const [l0, l1, x] = [mesh.add('l0'), mesh.add('l1'), mesh.add('x')];
  mesh.connect(hub, l0, 500, 1);
  mesh.connect(l0, l1, 2, 1);
  mesh.connect(s, x, 2, 1);
  mesh.run(2000, 100);
  assert.equal(s.route(l1)?.hops, 3);
  const spread = s.router.stats();
  assert.ok(spread.idRange > 120, `id range ${spread.idRange}`);
  assert.equal(s.router.counters.idsRenumbered, 0);
  // The hub loses all but two leaves: once s has forgotten them (out of reach for the grace
  // time), it names them no more, and their ids are free below the line's and x's.
  for (const leaf of leaves.slice(2)) mesh.disconnect(hub, leaf);
  mesh.run(2000 + MAP_SCOPE_GRACE_MS, 100);
  const after = s.router.stats();
  assert.equal(s.router.counters.idsRenumbered, 1, 'the spread-out ids were not numbered anew');
  assert.equal(after.idRange, after.ids);
  assert.ok(after.ids < 12, `ids ${after.ids}`);
  assert.deepEqual([hub, x, l0, l1, leaves[0]!].map((n) => s.route(n)?.hops), [1, 1, 2, 3, 2]);
  assert.equal(s.route(l1)?.link, 1);
  // Its neighbours' ids were renumbered with the rest: a link going down takes the right
  // neighbour away, and coming back brings it back.
  mesh.disconnect(s, x);
  mesh.run(1000, 100);
  assert.deepEqual([hub, x, l1].map((n) => s.route(n)?.hops), [1, undefined, 3]);
  mesh.connect(s, x, 2, 1);
  mesh.disconnect(s, hub);
  mesh.run(2000, 100);
  assert.deepEqual([hub, x, l1].map((n) => s.route(n)?.hops), [undefined, 1, undefined]);
  mesh.connect(s, hub, 1, 1);
  mesh.run(2000, 100);
  assert.deepEqual([hub, x, l0, l1].map((n) => s.route(n)?.hops), [1, 1, 2, 3]);
});

test('the map keeps at most its node and byte bounds, the nearest first', () => {
  const mesh = new Mesh({ scope: { maxNodes: 4 } });
  // A hub with six leaves; one leaf has a leaf of its own, two hops from the hub.
  const hub = mesh.add('hub');
  const leaves = Array.from({ length: 6 }, (_, i) => mesh.add(`l${i}`));
  leaves.forEach((l, i) => mesh.connect(hub, l, 10 + i, 1));
  const far = mesh.add('far');
  mesh.connect(leaves[0]!, far, 2, 1);
  mesh.run(3000 + MAP_SCOPE_GRACE_MS, 100);
  assert.ok(hub.router.stats().nodes <= 5, `the hub holds ${hub.router.stats().nodes} nodes (itself and 4)`);
  assert.equal(hub.route(far), undefined, 'the farthest went first');
  // Leaves past the bound were not even stored: a leaf is no nearer than those held.
  assert.ok(hub.router.counters.notKept > 0);
  const bytes = new Mesh({ scope: { maxBytes: 450 } }); // a, b and c: 131 + 151 + 151 bytes; d would make 564
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => bytes.add(x)) as [TestNode, TestNode, TestNode, TestNode];
  bytes.connect(a, b, 1, 1);
  bytes.connect(b, c, 2, 1);
  bytes.connect(c, d, 2, 1);
  bytes.run(3000 + MAP_SCOPE_GRACE_MS, 100);
  assert.ok(a.router.stats().bytes <= 450, `${a.router.stats().bytes} bytes held`);
  assert.equal(a.route(d), undefined);
  assert.equal(a.route(b)?.hops, 1);
});

test('a map over its bytes forgets what it cannot place yet before its own neighbours, and then stays as it is', () => {
  // r's neighbours a and b (131 bytes each) and, linked last, a hub of 13 links (371 bytes) with
  // its leaves. r takes 540 bytes: with its own (151, then 171) a and b fit, the hub does not. The
  // hub and its leaves come before SPF has placed them, past r's bytes: the leaves (two hops) and
  // then the hub (the largest at one hop) go, not a or b.
  const mesh = new Mesh({ scope: { maxBytes: 540 } });
  const [r, a, b, hub] = ['r', 'a', 'b', 'hub'].map((x) => mesh.add(x)) as [TestNode, TestNode, TestNode, TestNode];
  for (let i = 0; i < 12; i++) mesh.connect(hub, mesh.add(`leaf${i}`), 10 + i, 1);
  mesh.connect(r, a, 1, 1);
  mesh.connect(r, b, 2, 1);
  mesh.run(3000, 100);
  const held = () => mesh.nodes.filter((x) => heldBytes(r, x)).map((x) => x.name);
  assert.deepEqual(held(), ['r', 'a', 'b']);
  mesh.connect(r, hub, 3, 1);
  mesh.run(3000 + MAP_SCOPE_GRACE_MS, 100);
  assert.deepEqual(held(), ['r', 'a', 'b']);
  // And it stays so: nothing is taken in again to be forgotten (forgetting a or b for the hub's
  // leaves had it widen its horizon, take the hub back with them and forget again, at growing
  // intervals).
  const forgotten = r.router.counters.outOfScope;
  const told = r.router.counters.horizonsTold;
  mesh.run(120_000, 100);
  assert.deepEqual(held(), ['r', 'a', 'b']);
  assert.equal(r.router.counters.outOfScope, forgotten, 'forgot again');
  assert.equal(r.router.counters.horizonsTold, told, 'told its horizon again');
  assert.equal(r.route(a)?.hops, 1);
  assert.equal(r.route(b)?.hops, 1);
});

/** A hub with six leaves (its link to leaf i is 10 + i) and a map of four nodes: it holds four
 *  of them, all one hop away, and takes nothing from two hops. */
function fullHub(): { mesh: Mesh; hub: TestNode; leaves: TestNode[] } {
  const mesh = new Mesh({ scope: { maxNodes: 4 } });
  const hub = mesh.add('hub');
  const leaves = Array.from({ length: 6 }, (_, i) => mesh.add(`l${i}`));
  leaves.forEach((l, i) => mesh.connect(hub, l, 10 + i, 1));
  mesh.run(3000 + MAP_SCOPE_GRACE_MS, 100);
  return { mesh, hub, leaves };
}

test('a nearly full map tells its horizon: nothing farther is sent to it, and when it widens the neighbours send what it lacked', () => {
  const { mesh, hub, leaves } = fullHub();
  assert.ok(hub.router.counters.horizonsTold >= 1);
  // A node joins behind the first leaf: the leaf holds it one hop away, and floods it to nobody
  // that would drop it (every other leaf keeps only up to two hops, the hub only up to one).
  const r = mesh.add('r');
  const sentToHub: string[] = [];
  mesh.drop = (from, to, frame) => {
    if (from !== hub && to === hub && frame[1] === KIND_ANNOUNCEMENTS && containsBytes(frame, r.key)) sentToHub.push(from.name);
    return false;
  };
  const notKept = hub.router.counters.notKept;
  mesh.connect(leaves[0]!, r, 2, 1);
  mesh.run(3000, 100);
  assert.equal(leaves[0]!.route(r)?.hops, 1);
  assert.deepEqual(sentToHub, [], 'r went to the hub');
  assert.equal(hub.router.counters.notKept, notKept);
  assert.equal(hub.route(r), undefined);
  // Four leaves go: once the hub forgets them its map has room, it says so, and the first leaf
  // sends its database — r with it (r's own announcement is not due for half an hour).
  for (const l of leaves.slice(2)) mesh.disconnect(hub, l);
  mesh.run(3000 + MAP_SCOPE_GRACE_MS, 100);
  assert.equal(hub.route(r)?.hops, 2);
  assert.deepEqual(sentToHub, ['l0']);
});

test('a horizon that keeps widening and narrowing again widens ever more seldom (each widening costs every neighbour a database)', () => {
  const { mesh, hub, leaves } = fullHub();
  // Two of the leaves the hub holds come and go, again and again: each time they go, its map has
  // room (it forgets them after the grace) and the horizon would widen; each time they are back,
  // it is full again.
  assert.equal(leaves.filter((l) => hub.route(l)).length, 4);
  const told: number[] = [];
  mesh.drop = (from, _to, frame) => {
    if (from === hub && frame[1] === KIND_MAP_HORIZON) told.push(frame[2]!);
    return false;
  };
  const rounds = 12;
  for (let i = 0; i < rounds; i++) {
    const going = leaves.filter((l) => hub.route(l)).slice(0, 2);
    for (const l of going) mesh.disconnect(hub, l);
    mesh.run(MAP_SCOPE_GRACE_MS + 3000, 100);
    for (const l of going) mesh.connect(hub, l, 10 + leaves.indexOf(l), 1);
    mesh.run(3000, 100);
  }
  // Frames go to every neighbour: count the changes told.
  const changes = told.filter((h, i) => i === 0 || h !== told[i - 1]);
  const widenings = changes.filter((h, i) => h > (i === 0 ? 1 : changes[i - 1]!)).length;
  assert.ok(widenings >= 1, 'the horizon never widened');
  assert.ok(widenings <= 8, `widened ${widenings} times in ${rounds} rounds`);
});

test('an announcement that every neighbour sent while it was held back is flooded back to none of them', () => {
  // A diamond: o's announcement reaches x from a and from b within one tick.
  const mesh = new Mesh();
  const [o, a, b, x] = ['o', 'a', 'b', 'x'].map((name) => mesh.add(name)) as [TestNode, TestNode, TestNode, TestNode];
  mesh.connect(o, a, 1, 1);
  mesh.connect(o, b, 2, 1);
  mesh.connect(a, x, 2, 1);
  mesh.connect(b, x, 2, 2);
  mesh.run(3000, 100);
  let fromX = 0;
  mesh.drop = (from, _to, frame) => {
    if (from === x && frame[1] === KIND_ANNOUNCEMENTS && containsBytes(frame, o.key)) fromX++;
    return false;
  };
  // o takes a new neighbour and announces it.
  mesh.connect(o, mesh.add('p'), 3, 1);
  mesh.run(2000, 100);
  assert.equal(x.route(o)?.hops, 2);
  assert.ok(x.router.counters.stale >= 1, 'the second copy came');
  assert.equal(fromX, 0, 'x sent o\'s announcement back to a neighbour that had sent it');
});

test('a horizon frame that is short, says 0 hops, or has bytes after its one byte is malformed and changes nothing', () => {
  const mesh = new Mesh({ scope: { maxNodes: 4 } });
  const [a, b] = [mesh.add('a'), mesh.add('b')];
  mesh.connect(a, b, 1, 1);
  mesh.run(1000, 100);
  let sent = 0;
  mesh.drop = (from, to, frame) => {
    if (from === a && to === b && frame[1] === KIND_ANNOUNCEMENTS) sent++;
    return false;
  };
  for (const bad of [[], [0], [1, 1], [2, 0, 7]]) {
    const before = a.router.counters.malformed;
    mesh.inject(a, 1, Uint8Array.of(FRAME_ROUTING, KIND_MAP_HORIZON, ...bad));
    assert.equal(a.router.counters.malformed, before + 1, `[${bad}]`);
  }
  // Padding is no fault; a horizon of 1 hop keeps a's neighbour c's announcement from b.
  mesh.inject(a, 1, Uint8Array.of(FRAME_ROUTING, KIND_MAP_HORIZON, 1, 0, 0, 0));
  const c = mesh.add('c');
  mesh.connect(a, c, 2, 1);
  mesh.run(2000, 100);
  assert.equal(a.route(c)?.hops, 1);
  assert.equal(b.route(c), undefined);
  assert.ok(sent >= 1, 'a still sends b its own announcement');
});

test('one side reporting a link down is enough', () => {
  const mesh = new Mesh({ scope: { radius: Infinity } }); // the whole map: the way round is 5 hops
  const n = Array.from({ length: 6 }, (_, i) => mesh.add(`r${i}`));
  for (let i = 0; i < 6; i++) mesh.connect(n[i]!, n[(i + 1) % 6]!, 10 + i, 20 + ((i + 1) % 6));
  mesh.run(3000);
  const [r0, r1, r2] = [n[0]!, n[1]!, n[2]!];
  assert.equal(r2.route(r0)?.hops, 2);
  // Only r1 notices; r0 still announces the link, but r1's announcement no longer confirms it.
  r1.wires.delete(r1.linkTo(r0));
  r1.router.linkDown(21);
  mesh.run(1000);
  assert.equal(r2.route(r0)?.hops, 4);
  const r4 = n[4]!;
  assert.equal(r4.route(r1)?.hops, 3);
  assert.ok(!r4.route(r1)!.path.includes(r0.key), 'r4 no longer goes through r0 to r1');
  assert.equal(r0.route(r1)?.hops, 5, 'nor does r0, though it still has the link');
});

test('a link claimed by one end only is not used', () => {
  const mesh = new Mesh({ scope: { radius: Infinity } }); // the whole map: l is 4 hops from c
  // a — b — d — c, and l (a bare key, not a router) linked to a. l claims a link to c.
  const [a, b, d, c] = [mesh.add('a'), mesh.add('b'), mesh.add('d'), mesh.add('c')];
  mesh.connect(a, b, 1, 1);
  mesh.connect(b, d, 2, 1);
  mesh.connect(d, c, 2, 1);
  const l = new TestNode('l', generateKeyPair());
  a.router.linkUp(9, l.key);
  mesh.run(3000);
  const lie = signAnnouncements(l.identity, WALL_START, 1420, [
    { address: a.address, index: 1, cost: 1 },
    { address: c.address, index: 2, cost: 1 },
  ]);
  mesh.inject(a, 9, packFrames([lie[0]!.bytes], 1420)[0]!);
  mesh.run(300);
  assert.equal(a.route(l)?.hops, 1, 'a and l both list their link');
  assert.equal(c.route(l)?.hops, 4, 'c reaches l through a');
  assert.equal(a.route(c)?.hops, 3, 'not the 2 hops through l');
  assert.equal(a.route(c)?.link, 1);
  assert.equal(c.route(a)?.hops, 3);
  assert.equal(c.router.stats().nodes, 5, 'the claim is held (it is validly signed), just not used');
});

test('forged, malformed, stale and duplicate announcements are refused and counted', () => {
  const mesh = new Mesh({ scope: { radius: Infinity } }); // the whole map: x links to nothing that confirms it: the scoped map would hold it back
  const [a, b] = [mesh.add('a'), mesh.add('b')];
  mesh.connect(a, b, 1, 1);
  const c = mesh.add('c');
  mesh.connect(b, c, 2, 1);
  mesh.run(2000);
  const x = generateKeyPair();
  const xAddress = fcAddressBytes(x.publicKey);
  const good = signAnnouncements(x, WALL_START + 10, 1420, [{ address: a.address, index: 1, cost: 1 }])[0]!;
  const counters = b.router.counters;
  const sentBefore = b.announcementFrames;
  const statsBefore = b.router.stats();

  // A flipped bit anywhere — body or signature — breaks the signature.
  for (const at of [50, good.bytes.length - 5]) {
    const flipped = good.bytes.slice();
    flipped[at]! ^= 0x01;
    mesh.inject(b, 1, packFrames([flipped], 1420)[0]!);
  }
  // x's announcement signed with another key.
  const other = generateKeyPair();
  const forged = signAnnouncements({ publicKey: x.publicKey, privateKey: other.privateKey }, WALL_START + 10, 1420, [])[0]!;
  mesh.inject(b, 1, packFrames([forged.bytes], 1420)[0]!);
  assert.equal(counters.badSignature, 3);
  assert.deepEqual(b.router.stats(), statsBefore);
  assert.equal(b.router.keyOf(xAddress), undefined);
  assert.equal(b.announcementFrames, sentBefore, 'nothing refused is flooded');

  // Malformed: wrong frame kind, a truncated announcement (after a good one, which is kept).
  mesh.inject(b, 1, Uint8Array.of(FRAME_ROUTING, 9, 1, 2, 3));
  const frame = packFrames([good.bytes], 1420)[0]!;
  const truncated = new Uint8Array(frame.length + 100);
  truncated.set(frame);
  truncated.set(good.bytes.subarray(0, 100), frame.length);
  mesh.inject(b, 1, truncated);
  assert.equal(counters.malformed, 2);
  assert.equal(b.router.keyOf(xAddress)?.length, 32, 'the good announcement before the bad bytes is stored');
  assert.equal(b.announcementFrames, sentBefore + 1, 'and flooded to c (not back to a)');
  assert.equal(c.router.keyOf(xAddress)?.length, 32);

  // The same again: stale, not verified, not flooded. Then an older sequence.
  const stale = counters.stale;
  mesh.inject(b, 1, frame);
  const older = signAnnouncements(x, WALL_START + 5, 1420, [])[0]!;
  mesh.inject(b, 1, packFrames([older.bytes], 1420)[0]!);
  assert.equal(counters.stale, stale + 2);
  assert.equal(b.announcementFrames, sentBefore + 1);
  // A newer one replaces it.
  const newer = signAnnouncements(x, WALL_START + 20, 1420, [])[0]!;
  mesh.inject(b, 1, packFrames([newer.bytes], 1420)[0]!);
  assert.equal(b.announcementFrames, sentBefore + 2);
  assert.equal(b.router.stats().announcements, statsBefore.announcements + 1);
  assert.equal(counters.badSignature, 3);
});

test('announcements expire LIFETIME after their last new sequence; live ones are refreshed', () => {
  const mesh = new Mesh({ scope: { radius: Infinity } }); // the whole map: an unreachable node is held until it expires, not forgotten as out of scope
  const [a, b, x] = line(mesh, 3);
  mesh.run(2000);
  assert.equal(a.route(x!)?.hops, 2);
  // x vanishes: b notices, a only hears b's new announcement, which no longer lists x.
  mesh.nodes.pop();
  const bx = b!.linkTo(x!);
  b!.wires.delete(bx);
  b!.router.linkDown(bx);
  mesh.run(2000);
  assert.equal(a.route(x!), undefined);
  assert.equal(a.router.stats().nodes, 3, "x's announcement is still held");
  const originated = a.router.counters.announcementsOriginated;
  mesh.run(LIFETIME_MS - 60_000, 10_000);
  assert.equal(a.router.stats().nodes, 3);
  assert.equal(a.router.counters.announcementsOriginated, originated + 2, 'two refreshes in the lifetime');
  mesh.run(120_000, 1000);
  assert.equal(a.router.stats().nodes, 2, 'x expired');
  assert.equal(b!.router.stats().nodes, 2);
  // a and b refresh each other: each daily refresh brings a newer sequence, and neither expires.
  for (let i = 0; i < 3; i++) {
    const held = heldBytes(a, b!);
    mesh.run(DAILY_REFRESH_MS, 10_000);
    assert.notDeepEqual(heldBytes(a, b!), held, `a got b's refresh ${i}`);
    assert.equal(a.route(b!)?.hops, 1);
  }
});

for (const clock of ['10 minutes slow', 'on the same sequence as before'] as const) {
  test(`a restarted node replaces its old announcement, its clock ${clock}`, () => {
    const mesh = new Mesh();
    const [a, b, c] = line(mesh, 3);
    mesh.run(2000);
    const announcements = a!.router.stats().announcements;
    // c restarts (same key, new router) and now also links to d. Its first announcement goes out
    // before it hears of its old one: no newer than that, so dropped as stale. The old one comes
    // back to it with b's database, and it announces again above it.
    const d = mesh.add('d');
    b!.router.linkDown(101);
    const firstTickWall = WALL_START + TICK_MS; // the sequence c announced at its first tick
    mesh.start(c!, clock === '10 minutes slow' ? -600_000 : firstTickWall - mesh.wall);
    const stale = b!.router.counters.stale;
    mesh.connect(b!, c!, 101, 202);
    mesh.connect(c!, d, 102, 1);
    c!.router.tick();
    mesh.run(3000);
    assert.ok(b!.router.counters.stale > stale);
    assert.equal(a!.router.stats().announcements, announcements + 1, "c's announcement replaced, d's added");
    assert.equal(a!.route(d)?.hops, 3, "a learnt c's new links");
    assert.deepEqual(labelOf(a!.route(d)), [101, 102]);
    assert.equal(d.route(a!)?.hops, 3);
  });
}

test('database sync brings a late node up to date at once', () => {
  const mesh = new Mesh({ scope: { radius: Infinity } }); // the whole map: late and n0 are 4 hops apart
  const n = line(mesh, 4);
  mesh.run(2000);
  const late = mesh.add('late');
  mesh.connect(n[3]!, late, 103, 1);
  mesh.deliver();
  assert.equal(late.router.stats().nodes, 4, 'the whole database arrived with linkUp');
  // At late's first tick it announces itself and computes routes; n3's next announcement (listing
  // late) arrives from the same round of ticks.
  mesh.run(1100);
  for (const x of n) assert.ok(late.route(x), `late → ${x.name}`);
  assert.equal(late.route(n[0]!)?.hops, 4);
  assert.deepEqual(labelOf(late.route(n[0]!)), [203, 202, 201]);
  assert.equal(n[0]!.route(late)?.hops, 4);
});

test('the hop layer\'s zero padding after the announcements of a frame is not counted malformed', () => {
  const mesh = new Mesh();
  const n = line(mesh, 4);
  mesh.run(3000);
  for (const x of n) assert.equal(x.router.counters.malformed, 0, x.name);
  // Zeros after content that is not zeros are still malformed.
  const [a, b] = n as [TestNode, TestNode];
  mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_ANNOUNCEMENTS, 0, 0, 7, 0));
  assert.equal(a.router.counters.malformed, 1);
  mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_DATABASE_REQUEST, 0, 1));
  assert.equal(a.router.counters.malformed, 2);
});

test('a new link carries each database once each way: the request each end sends is already answered', () => {
  const mesh = new Mesh();
  const n = line(mesh, 3);
  mesh.run(2000);
  const late = mesh.add('late');
  const ignored = n[2]!.router.counters.databaseRequestsIgnored;
  mesh.connect(n[2]!, late, 103, 1);
  mesh.deliver();
  assert.equal(late.router.stats().nodes, 3);
  assert.equal(n[2]!.router.counters.databaseRequestsAnswered, 0);
  assert.equal(n[2]!.router.counters.databaseRequestsIgnored, ignored + 1);
  assert.equal(late.router.counters.databaseRequestsAnswered, 0);
  assert.equal(late.router.counters.databaseRequestsIgnored, 1);
});

test('a node that restarted before its neighbour saw the link go asks for the database, and gets it', () => {
  const mesh = new Mesh();
  const [a, b, c] = line(mesh, 3) as [TestNode, TestNode, TestNode];
  mesh.run(DATABASE_RESEND_MS + 1000);
  assert.equal(c.route(a)?.hops, 2);
  // c restarts within b's 4 s of silence: b's link to it never went down, so b sees nothing new
  // and sends nothing unasked. c sees a new link, sends its (empty) database and asks for b's.
  mesh.start(c);
  c.router.linkUp(c.linkTo(b), b.key);
  mesh.deliver();
  assert.equal(b.router.counters.databaseRequestsAnswered, 1);
  assert.equal(c.router.stats().nodes, 2, "b's database arrived: a's and b's announcements (c's own old one is not kept)");
  mesh.run(1100);
  assert.equal(c.route(a)?.hops, 2);
  assert.deepEqual(labelOf(c.route(a)), [b.linkTo(a)]);
});

test('a neighbour that asks, then restarts and asks again within DATABASE_RESEND_MS, gets the database', () => {
  const mesh = new Mesh();
  const [a, b, c] = line(mesh, 3) as [TestNode, TestNode, TestNode];
  mesh.run(DATABASE_RESEND_MS + 1000);
  // c restarts twice in quick succession (switched off and on, then its daemon restarted): b's
  // link to it stays up throughout, and c asks at each start.
  for (let i = 0; i < 2; i++) {
    mesh.start(c);
    c.router.linkUp(c.linkTo(b), b.key);
    mesh.deliver();
  }
  assert.equal(c.router.stats().nodes, 0, 'the second request was answered at once: the rate limit is gone');
  mesh.run(DATABASE_RESEND_MS + TICK_MS);
  assert.equal(c.router.stats().nodes, 3, "the restarted c never got b's database");
  assert.equal(c.route(a)?.hops, 2);
});

test('a neighbour cannot make a node send its database more than once per DATABASE_RESEND_MS', () => {
  const mesh = new Mesh();
  const [a, b] = line(mesh, 2) as [TestNode, TestNode];
  mesh.run(DATABASE_RESEND_MS + 1000);
  const request = Uint8Array.of(FRAME_ROUTING, KIND_DATABASE_REQUEST);
  const sent = () => a.announcementFrames;
  const before = sent();
  for (let i = 0; i < 50; i++) mesh.inject(a, a.linkTo(b), request);
  assert.equal(a.router.counters.databaseRequestsAnswered, 1);
  assert.equal(a.router.counters.databaseRequestsIgnored, 1, 'the one at link up');
  assert.equal(a.router.counters.databaseRequestsDeferred, 49);
  assert.equal(sent() - before, 1, 'one frame: the whole database of two nodes');
  // b ticks too: it acknowledges at its tick (else a would resend, and count more frames).
  mesh.run(DATABASE_RESEND_MS - TICK_MS, TICK_MS, [a, b]);
  assert.equal(a.router.counters.databaseRequestsAnswered, 1, 'answered again within DATABASE_RESEND_MS');
  mesh.run(TICK_MS, TICK_MS, [a, b]);
  assert.equal(a.router.counters.databaseRequestsAnswered, 2, 'the 49 requests got one answer when the time was up');
  assert.equal(sent() - before, 2);
  mesh.run(DATABASE_RESEND_MS * 2, TICK_MS, [a, b]);
  assert.equal(sent() - before, 2, 'an owed answer went more than once');
  // From a link with no neighbour behind it: nothing.
  mesh.inject(a, 999, request);
  assert.equal(a.router.counters.databaseRequestsAnswered, 2);
});

test('frames never exceed the mtu, around a node with 120 neighbours', () => {
  const mtu = 1280;
  const mesh = new Mesh({ mtu, sharedVerify: true, scope: { radius: Infinity } }); // the whole map: 122 nodes
  // Plain X25519 keys: the router does not need fc00::/8 ones, and drawing 121 of those is slow.
  const hub = mesh.add('hub', randomKeyPair());
  const leaves = Array.from({ length: 120 }, (_, i) => mesh.add(`leaf${i}`, randomKeyPair()));
  leaves.forEach((leaf, i) => mesh.connect(hub, leaf, 1000 + i, 7));
  mesh.run(2000);
  assert.equal(hub.router.counters.announcementsOriginated, 3, 'one origination in three parts');
  for (const node of mesh.nodes) assert.ok(node.largestFrame <= mtu, `${node.name} sent ${node.largestFrame} bytes`);
  assert.ok(hub.largestFrame > mtu - 200, 'frames are packed');
  const [first, last] = [leaves[0]!, leaves[119]!];
  assert.equal(first.route(last)?.hops, 2);
  assert.deepEqual(labelOf(first.route(last)), [1119]);
  assert.equal(last.route(first)?.link, 7);
  assert.equal(first.router.routes().length, 120);
  assert.equal(first.router.stats().announcements, 123);

  // A late leaf gets the whole database in full frames.
  const late = mesh.add('late', randomKeyPair());
  mesh.connect(hub, late, 2000, 7);
  mesh.deliver();
  assert.ok(hub.largestFrame <= mtu);
  assert.equal(late.router.stats().announcements, 123);
  mesh.run(1500);
  assert.equal(late.route(first)?.hops, 2);
  assert.equal(first.route(late)?.hops, 2);
  for (const node of mesh.nodes) assert.ok(node.largestFrame <= mtu, `${node.name} sent ${node.largestFrame} bytes`);
});

test('packFrames fills frames in order, each a routing frame of at most mtu bytes', () => {
  const items = [300, 500, 400, 1111, 111].map((n, i) => new Uint8Array(n).fill(i + 1));
  const frames = packFrames(items, 1300);
  assert.deepEqual(
    frames.map((f) => f.length),
    [2 + 300 + 500 + 400, 2 + 1111 + 111],
  );
  assert.deepEqual(frames[1]!.subarray(2, 4), Uint8Array.of(4, 4));
  for (const f of frames) {
    assert.equal(f[0], FRAME_ROUTING);
    assert.equal(f[1], KIND_ANNOUNCEMENTS);
  }
  assert.throws(() => packFrames([new Uint8Array(1300)], 1300), RangeError);
});

test('an announcement lost on a link is sent again until acknowledged, then no more', () => {
  const mesh = new Mesh();
  const [a, b] = line(mesh, 2) as [TestNode, TestNode];
  mesh.run(3000);
  assert.ok(!a.router.hasWork && !b.router.hasWork, 'unacknowledged announcements after the start');
  // b's next announcements to a are lost twice; c, a new neighbour of b, is what they announce.
  let lost = 0;
  mesh.drop = (from, to, frame) => from === b && to === a && frame[1] === KIND_ANNOUNCEMENTS && lost++ < 2;
  const c = mesh.add('c');
  mesh.connect(b, c, 7, 1);
  mesh.run(1000);
  assert.equal(a.route(c), undefined, 'the first flood was not lost: the test would prove nothing');
  mesh.run(4000);
  assert.ok(lost >= 3, 'nothing came after the two losses');
  assert.equal(a.route(c)?.hops, 2, 'a never learned of c');
  assert.ok(b.router.counters.announcementsRetransmitted >= 2);
  // Acknowledged: nothing is resent any more.
  const resent = b.router.counters.announcementsRetransmitted;
  mesh.run(60_000, 1000);
  assert.equal(b.router.counters.announcementsRetransmitted, resent);
  assert.equal(b.router.counters.retransmissionsAbandoned, 0);
  assert.ok(a.router.counters.acknowledgementsSent > 0);
});

/** Loses what a node of the seventh revision or before neither sends nor takes, to and from
 *  `node`: renewals and hourly and daily distances. It forgets an announcement an hour after its
 *  last new sequence. */
function earlierRevision(name: string) {
  return (from: TestNode, to: TestNode, frame: Uint8Array) => (from.name === name || to.name === name) && (frame[1] === KIND_RENEWALS || frame[1] === KIND_HOURLY_DISTANCE || frame[1] === KIND_DAILY_DISTANCE);
}

/** Loses what a node of the tenth to nineteenth revision neither sends nor takes, to and from
 *  `node`: daily distances. It forgets an announcement 25 hours after its last new sequence. */
function nineteenthRevision(name: string) {
  return (from: TestNode, to: TestNode, frame: Uint8Array) => (from.name === name || to.name === name) && frame[1] === KIND_DAILY_DISTANCE;
}

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined) => !!a && !!b && equalBytes(a, b);

/** The bytes of `origin`'s announcement (part `part`) that `node` holds. */
function heldBytes(node: TestNode, origin: TestNode, part = 0): Uint8Array | undefined {
  const lsdb = (node.router as unknown as { lsdb: Lsdb }).lsdb;
  const held = lsdb.recordOf(origin.key, 0)?.parts[part];
  return held && partBytes(held);
}

/** A KIND_RENEWALS frame of one renewal of `held` (an announcement's bytes) to a sequence 1000
 *  ms later, naming `base` as the sequence it renews (held's own by default), with `held`'s
 *  signature: not the origin's for the new sequence, so it verifies only if never rebuilt. */
function renewalFrame(held: Uint8Array, base?: number): Uint8Array {
  const sequence = Buffer.from(held.subarray(33, 41)).readBigUInt64BE();
  const next = held.slice();
  next.set(Buffer.from((sequence + 1000n).toString(16).padStart(16, '0'), 'hex'), 33);
  const frame = new Uint8Array(2 + RENEWAL_SIZE);
  frame[0] = FRAME_ROUTING;
  frame[1] = KIND_RENEWALS;
  writeRenewal(next, base ?? Number(sequence), frame, 2);
  return frame;
}

test('an announcement signed again unchanged goes as a renewal to the neighbours that take them, whole to one that does not or lacks the one before, and all hold the same bytes', () => {
  const mesh = new Mesh();
  // A hub b of 12 links (its announcement is long), a line a-b-c beyond it, and `old`, a node of
  // an earlier revision: it neither sends renewals nor takes them (it counts them malformed).
  const [a, b, c] = line(mesh, 3) as [TestNode, TestNode, TestNode];
  for (let i = 0; i < 9; i++) mesh.connect(b, mesh.add(`leaf${i}`), 10 + i, 1);
  const old = mesh.add('old');
  const olderRevision = earlierRevision('old');
  mesh.drop = olderRevision;
  mesh.connect(b, old, 30, 1);
  mesh.run(3000);
  assert.equal(old.route(a)?.hops, 2);
  b.wholeTo.clear();
  const renewed = b.renewalBytes;
  const sequenceOf = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes.subarray(33, 41)).readBigUInt64BE() : -1n);
  const before = sequenceOf(heldBytes(b, b));
  // To just before the refreshes, then at the routers' pace (acknowledgements go at the next tick:
  // with ticks a second apart, everything would be sent again before they came).
  mesh.run(REFRESH_MS - 10_000, 1000);
  mesh.run(20_000);
  const own = heldBytes(b, b)!;
  assert.ok(sequenceOf(own) > before, 'b signed its announcement again');
  for (const n of [a, c, old]) assert.deepEqual(heldBytes(n, b), own, `${n.name} holds b's new announcement byte for byte`);
  assert.deepEqual(heldBytes(c, a), heldBytes(a, a), "a's renewal rebuilt at c, two hops away");
  // Whole announcements went only to `old`, renewals to the rest: b's own (113 bytes for 351),
  // and a's and c's, which b passed on.
  assert.deepEqual([...b.wholeTo], ['old'], 'whole announcements to old only');
  assert.ok(b.renewalBytes > renewed, 'b sent renewals');
  const hex = (n: TestNode) => Buffer.from(n.key).toString('hex');
  for (const n of [a, b, c]) assert.ok(b.renewedOrigins.has(hex(n)), `b renewed ${n.name}'s`);
  assert.equal(c.router.counters.renewalsLacked, 0);

  // c misses a whole refresh of b (every frame from b lost for 5 minutes, past b's resending):
  // b's next renewal names a sequence c never got; c drops it unacknowledged and gets it whole.
  mesh.run(REFRESH_MS - 2 * 60_000, 10_000);
  mesh.drop = (from, to, frame) => olderRevision(from, to, frame) || (from === b && to === c);
  mesh.run(5 * 60_000, 1000);
  const missed = heldBytes(b, b)!;
  assert.notDeepEqual(heldBytes(c, b), missed, 'c missed that refresh');
  mesh.drop = olderRevision;
  mesh.run(REFRESH_MS, 1000);
  assert.ok(c.router.counters.renewalsLacked > 0, 'c lacked what the renewal renewed');
  assert.deepEqual(heldBytes(c, b), heldBytes(b, b), 'c got it whole');
  assert.equal(c.route(old)?.hops, 2);

  // A renewal made by anyone but the origin: its rebuilt announcement does not verify, and
  // nothing changes.
  const held = heldBytes(c, a)!;
  const forged = renewalFrame(held);
  const bad = c.router.counters.badSignature;
  mesh.inject(c, c.linkTo(b), forged);
  assert.equal(c.router.counters.badSignature - bad, 1);
  assert.deepEqual(heldBytes(c, a), held);
  // One that names a base c does not hold is not rebuilt at all (so not checked): c lacks it.
  const otherBase = renewalFrame(held, Number(sequenceOf(held)) - 1);
  const lacked = c.router.counters.renewalsLacked;
  mesh.inject(c, c.linkTo(b), otherBase);
  assert.equal(c.router.counters.renewalsLacked - lacked, 1);
  assert.equal(c.router.counters.badSignature - bad, 1, 'no signature checked');
  assert.deepEqual(heldBytes(c, a), held);
  // A frame whose last renewal is cut short: the rest is counted malformed, nothing changes.
  const cut = new Uint8Array(2 + RENEWAL_SIZE + 40).fill(7);
  cut.set(forged.subarray(0, 2 + RENEWAL_SIZE));
  const malformed = c.router.counters.malformed;
  mesh.inject(c, c.linkTo(b), cut);
  assert.equal(c.router.counters.malformed - malformed, 1);
  assert.deepEqual(heldBytes(c, a), held);
});

test('with its map nearly full, a renewal of an origin a node holds nothing of is acknowledged and dropped; with room it is lacked, and comes again whole', () => {
  // A line r-a-b-c-x, and r's map takes 4 nodes: a, b and c make it three quarters full, not
  // full; x, four hops away, is past its radius.
  const mesh = new Mesh({ scope: { maxNodes: 4 } });
  const [r, a, b, c, x] = line(mesh, 5) as [TestNode, TestNode, TestNode, TestNode, TestNode];
  mesh.run(3000 + MAP_SCOPE_GRACE_MS, 100);
  const held = () => mesh.nodes.filter((n) => heldBytes(r, n)).map((n) => n.name);
  assert.deepEqual(held(), [r, a, b, c].map((n) => n.name));
  // x's announcement signed again, as a renewal from a (its signature is not reached: r holds
  // no base to rebuild it on).
  const renewal = () => renewalFrame(heldBytes(x, x)!);
  const counts = () => ({ notKept: r.router.counters.notKept, lacked: r.router.counters.renewalsLacked, acks: r.router.counters.acknowledgementsSent });
  let before = counts();
  mesh.inject(r, r.linkTo(a), renewal());
  mesh.run(1000, 100);
  let after = counts();
  assert.equal(after.notKept - before.notKept, 1, 'not dropped as not kept');
  assert.equal(after.lacked, before.lacked);
  assert.ok(after.acks > before.acks, 'not acknowledged');
  assert.deepEqual(held(), [r, a, b, c].map((n) => n.name));
  // The link b-c goes: with two nodes of four the map has room, and the same renewal is lacked,
  // unacknowledged, so that its sender sends it whole.
  mesh.disconnect(b, c);
  mesh.run(3000 + MAP_SCOPE_GRACE_MS, 100);
  assert.deepEqual(held(), [r, a, b].map((n) => n.name));
  before = counts();
  mesh.inject(r, r.linkTo(a), renewal());
  mesh.run(1000, 100);
  after = counts();
  assert.equal(after.lacked - before.lacked, 1, 'not lacked');
  assert.equal(after.notKept, before.notKept);
  assert.equal(after.acks, before.acks, 'acknowledged');
});

test('a renewal that comes by two ways before it is passed on goes back by neither', () => {
  const mesh = new Mesh();
  // o's renewal reaches n from x and from y in the same round: n passes it on to z alone.
  const [o, x, y, n, z] = ['o', 'x', 'y', 'n', 'z'].map((name) => mesh.add(name)) as [TestNode, TestNode, TestNode, TestNode, TestNode];
  mesh.connect(o, x, 1, 1);
  mesh.connect(o, y, 2, 1);
  mesh.connect(x, n, 2, 1);
  mesh.connect(y, n, 2, 2);
  mesh.connect(n, z, 3, 1);
  mesh.run(3000);
  assert.equal(z.route(o)?.hops, 3);
  const before = heldBytes(z, o);
  mesh.run(DAILY_REFRESH_MS - 10_000, 1000);
  mesh.run(20_000);
  assert.notDeepEqual(heldBytes(z, o), before, "z holds o's next announcement");
  const hex = Buffer.from(o.key).toString('hex');
  assert.ok(x.renewalsTo.has(`n:${hex}`) && y.renewalsTo.has(`n:${hex}`), 'x and y both renewed it to n');
  assert.ok(n.renewalsTo.has(`z:${hex}`), 'n renewed it to z');
  assert.ok(!n.renewalsTo.has(`x:${hex}`) && !n.renewalsTo.has(`y:${hex}`), 'and to neither x nor y');
});

const hexOf = (node: TestNode) => Buffer.from(node.key).toString('hex');

test('where no node of an earlier revision is near, an unchanged announcement is signed again only every day, and nothing is sent between', () => {
  const mesh = new Mesh();
  const n = line(mesh, 5);
  mesh.run(10_000);
  const routesRight = () => {
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) if (i !== j && Math.abs(i - j) <= MAP_RADIUS) assert.equal(n[i]!.route(n[j]!)?.hops, Math.abs(i - j), `n${i} → n${j}`);
  };
  routesRight();
  const sent = n.map((x) => x.router.counters.framesSent);
  const held = heldBytes(n[0]!, n[2]!);
  // Twenty-three hours and a half: not a frame, and nothing forgotten.
  mesh.run(DAILY_REFRESH_MS - REFRESH_MS, 10_000);
  n.forEach((x, i) => assert.equal(x.router.counters.framesSent, sent[i], `${x.name} sent something`));
  assert.deepEqual(heldBytes(n[0]!, n[2]!), held);
  routesRight();
  // By the twenty-fourth hour every node has signed again, and its renewals reached the map.
  mesh.run(REFRESH_MS - 10_000, 1000);
  mesh.run(20_000);
  assert.notDeepEqual(heldBytes(n[0]!, n[2]!), held, "n0 holds n2's next announcement");
  assert.deepEqual(heldBytes(n[0]!, n[2]!), heldBytes(n[2]!, n[2]!));
  assert.ok(n[1]!.renewalsTo.has(`n0:${hexOf(n[2]!)}`), 'as a renewal');
  // Two days on (a lifetime: two refreshes), nothing has expired.
  mesh.run(2 * DAILY_REFRESH_MS, 10_000);
  routesRight();
});

test('a node of an earlier revision gets the half-hourly renewals of the nodes within 3 hops of it, and the rest of the mesh sends none', () => {
  const mesh = new Mesh();
  // n0 tells no hourly distance and takes no renewals: after the grace n1 tells 1, n2 tells 2;
  // n1–n3 sign again every half hour, and send their renewals towards n0 only.
  mesh.drop = earlierRevision('n0');
  const n = line(mesh, 8);
  mesh.run(10_000);
  // (The two hours lie within one twelve-hour period: WALL_START is 3.1 hours into one, so no
  // renewal crosses a period, which would go everywhere.)
  const quiet = [4, 5, 6, 7].map((i) => n[i]!.router.counters.framesSent);
  for (let round = 0; round < 4; round++) {
    const before = [1, 2, 3].map((k) => heldBytes(n[0]!, n[k]!));
    const n4HoldsN3 = heldBytes(n[4]!, n[3]!);
    mesh.run(REFRESH_MS - 10_000, 1000);
    mesh.run(20_000);
    [1, 2, 3].forEach((k, i) => {
      assert.notDeepEqual(heldBytes(n[0]!, n[k]!), before[i], `round ${round}: n0 got n${k}'s renewal`);
      assert.deepEqual(heldBytes(n[0]!, n[k]!), heldBytes(n[k]!, n[k]!));
    });
    assert.deepEqual(heldBytes(n[4]!, n[3]!), n4HoldsN3, `round ${round}: n4 was sent n3's renewal`);
    assert.equal(n[0]!.route(n[3]!)?.hops, 3);
  }
  assert.ok(![...n[3]!.renewalsTo].some((r) => r.startsWith('n4:')), 'n3 renewed nothing to n4');
  [4, 5, 6, 7].forEach((i, k) => assert.equal(n[i]!.router.counters.framesSent, quiet[k], `n${i} sent something`));
});

test('an hourly distance that was lost is made good: by the next one told, or again when a renewal shows it; a malformed one is counted and changes nothing', () => {
  const mesh = new Mesh();
  // b's first hourly distance to a is lost: after the grace, a takes b for a node of an earlier
  // revision and tells it 1; b tells 2 back, and a, hearing b at last, tells 255 (none near), as
  // b then does too.
  let lost = 0;
  mesh.drop = (from, to, frame) => from.name === 'n1' && to.name === 'n0' && frame[1] === KIND_HOURLY_DISTANCE && lost++ === 0;
  const [a, b] = line(mesh, 3) as [TestNode, TestNode, TestNode];
  mesh.run(10_000);
  assert.ok(lost > 1, 'b told a its distance again');
  const originated = a.router.counters.announcementsOriginated;
  mesh.run(4 * REFRESH_MS, 10_000);
  assert.equal(a.router.counters.announcementsOriginated, originated, 'a signs again every half hour');

  // b had told a 1 (an older node was near it then), and its 255 since was lost: at the half
  // hour a signs again and renews to b, which tells it 255 again on that renewal.
  mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_HOURLY_DISTANCE, 1));
  mesh.run(REFRESH_MS, 1000);
  assert.equal(a.router.counters.announcementsOriginated, originated + 1);
  assert.ok(a.renewalsTo.has(`n1:${hexOf(a)}`));
  mesh.run(4 * REFRESH_MS, 10_000);
  assert.equal(a.router.counters.announcementsOriginated, originated + 1, 'a still signs every half hour');

  // A distance of 0 or 3 (none is told: 255 stands for them), or one with bytes after it.
  const malformed = a.router.counters.malformed;
  for (const bad of [[0], [3], [255, 1], []]) mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_HOURLY_DISTANCE, ...bad));
  assert.equal(a.router.counters.malformed - malformed, 4);
  mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_HOURLY_DISTANCE, 255, 0, 0));
  assert.equal(a.router.counters.malformed - malformed, 4, 'padding is not malformed');
  mesh.run(4 * REFRESH_MS, 10_000);
  assert.equal(a.router.counters.announcementsOriginated, originated + 1);
});

for (const n0 of ['twentieth', 'nineteenth'] as const) {
  test(`an origin whose sequence runs ahead of its clock still crosses a period with each refresh, a day's, or twelve hours' next to a node of the ${n0} revision: no node forgets it`, () => {
    const mesh = new Mesh();
    if (n0 === 'nineteenth') mesh.drop = nineteenthRevision('n0');
    const n = ['n0', 'n1', 'n2', 'n3'].map((name) => mesh.add(name));
    // n1's clock was two days fast when it signed, and is set right at once: its sequences run
    // ahead of it, and max(sequence + 1, clock) never leaves their period by itself.
    mesh.start(n[1]!, 2 * 24 * 60 * 60_000);
    for (let i = 0; i + 1 < 4; i++) mesh.connect(n[i]!, n[i + 1]!, 100 + i, 200 + i + 1);
    mesh.run(10_000);
    n[1]!.wallOffset = 0;
    // n0 gets n1's renewal that crosses a period at least once a period (a node of the
    // nineteenth revision would forget it 25 hours after the last), and, past two lifetimes,
    // neither n0 nor n3 forgot n1.
    const period = n0 === 'nineteenth' ? LONG_REFRESH_MS : DAILY_REFRESH_MS;
    let held = heldBytes(n[0]!, n[1]!);
    let heldSince = mesh.now;
    for (let hour = 1; hour <= (2 * LIFETIME_MS) / 3_600_000 + 2; hour++) {
      for (let m = 0; m < 6; m++) {
        mesh.run(10 * 60_000, 10_000);
        const now = heldBytes(n[0]!, n[1]!);
        if (!sameBytes(now, held)) [held, heldSince] = [now, mesh.now];
        assert.ok(mesh.now - heldSince <= period + 10 * 60_000, `n0 waited over ${period / 3_600_000} hours for n1's renewal`);
      }
      assert.equal(n[0]!.route(n[2]!)?.hops, 2, `n0 → n2 through n1 after ${hour} hours`);
      assert.equal(n[3]!.route(n[1]!)?.hops, 2, `n3 → n1 after ${hour} hours`);
    }
  });
}

test("an origin whose first announcement of a run follows its earlier run's, signed when its clock was days fast, still crosses a day's period within a day: no node forgets it", () => {
  const mesh = new Mesh();
  const [a, x, b] = line(mesh, 3) as [TestNode, TestNode, TestNode];
  mesh.start(x, 3 * DAILY_REFRESH_MS);
  x.router.linkUp(x.linkTo(a), a.key);
  x.router.linkUp(x.linkTo(b), b.key);
  mesh.run(10_000);
  assert.ok(decodeAnnouncement(heldBytes(a, x)!, 0)!.announcement.sequence > mesh.wall + 2 * DAILY_REFRESH_MS, 'a holds the announcement x signed days ahead');
  // x restarts with its clock right: its earlier run's announcement comes back before its first
  // tick, and its first announcement lies in that one's period.
  mesh.start(x, 0);
  x.router.linkUp(x.linkTo(a), a.key);
  x.router.linkUp(x.linkTo(b), b.key);
  mesh.run(10_000);
  for (let hour = 1; hour <= (LIFETIME_MS + DAILY_REFRESH_MS) / 3_600_000; hour++) {
    mesh.run(60 * 60_000, 10_000);
    assert.equal(b.route(a)?.hops, 2, `b → a through x after ${hour} hours`);
  }
});

test('a lost daily distance under 255 is told again within minutes: the node of the nineteenth revision gets a twelve-hour period crossed every twelve hours', () => {
  const mesh = new Mesh();
  // n2's first daily distance to n3 (2) is lost: n3 would take itself for 3 hops from any node
  // of the nineteenth revision, and sign every day, but for the one told again 5 minutes on.
  const nineteenth = nineteenthRevision('n0');
  let lost = 0;
  mesh.drop = (from, to, frame) => nineteenth(from, to, frame) || (from.name === 'n2' && to.name === 'n3' && frame[1] === KIND_DAILY_DISTANCE && frame[2] === 2 && lost++ === 0);
  const [x, , , a] = line(mesh, 4) as [TestNode, TestNode, TestNode, TestNode];
  mesh.run(10_000);
  assert.equal(lost, 1);
  for (let round = 0; round < 3; round++) {
    const before = heldBytes(x, a);
    mesh.run(LONG_REFRESH_MS - 10_000, 10_000);
    mesh.run(20_000);
    assert.ok(!sameBytes(heldBytes(x, a), before), `round ${round}: x got a's renewal`);
    assert.ok(sameBytes(heldBytes(x, a), heldBytes(a, a)));
  }
});

test('near a node of an earlier revision, every part of an announcement in several parts goes to every neighbour, spared to none', () => {
  const mesh = new Mesh({ sharedVerify: true });
  mesh.drop = earlierRevision('old');
  // A hub h of 91 leaves (two parts) next to `old`; c tells 2, d (beyond c) 255.
  const [h, c, d, old] = ['h', 'c', 'd', 'old'].map((name) => mesh.add(name)) as [TestNode, TestNode, TestNode, TestNode];
  for (let i = 0; i < 91; i++) mesh.connect(h, mesh.add(`leaf${i}`), 1 + i, 1);
  mesh.connect(h, old, 100, 1);
  mesh.connect(h, c, 101, 1);
  mesh.connect(c, d, 2, 1);
  mesh.run(10_000);
  assert.equal(d.route(h)?.hops, 2);
  for (let round = 0; round < 2; round++) {
    const before = heldBytes(d, h, 1);
    mesh.run(REFRESH_MS - 10_000, 10_000);
    mesh.run(20_000);
    assert.notDeepEqual(heldBytes(d, h, 1), before, `round ${round}: d got h's half-hourly renewal`);
    for (const part of [0, 1]) assert.deepEqual(heldBytes(d, h, part), heldBytes(h, h, part), `round ${round}: d holds h's part ${part}`);
  }
});

for (const revision of ['twentieth', 'nineteenth'] as const) {
  test(`an origin that stops signing every half hour still crosses a period within one of its last crossing: a day's, or twelve hours' next to a node of the ${revision} revision`, () => {
  const mesh = new Mesh();
  // x (of an earlier revision) — m — b — a — r: a signs every half hour, and r, which tells 255,
  // is sent only the renewals that cross a day's period (a twelve-hour one, if of the nineteenth
  // revision). Just before a period ends x goes, and a signs every day (every twelve hours) from
  // its last half-hourly renewal on: r must not wait two periods for the next.
  const old = earlierRevision('n0');
  const nineteenth = nineteenthRevision('n4');
  mesh.drop = revision === 'nineteenth' ? (from, to, frame) => old(from, to, frame) || nineteenth(from, to, frame) : old;
  const [x, m, , a, r] = line(mesh, 5) as [TestNode, TestNode, TestNode, TestNode, TestNode];
  mesh.run(10_000);
  const period = revision === 'nineteenth' ? LONG_REFRESH_MS : DAILY_REFRESH_MS;
  const boundary = Math.ceil(mesh.wall / period) * period;
  let changedAt = [mesh.now];
  let held = heldBytes(r, a);
  const watch = (until: number) => {
    while (mesh.wall < until) {
      mesh.run(10_000, 10_000);
      const now = heldBytes(r, a);
      if (now && held && !Buffer.from(now).equals(Buffer.from(held))) changedAt.push(mesh.now);
      held = now;
    }
  };
  watch(boundary + period - 15 * 60_000);
  changedAt = changedAt.filter((t) => t > mesh.now - period); // from the crossing after the boundary
  mesh.disconnect(x, m);
  watch(boundary + 3 * period);
  for (let i = 1; i < changedAt.length; i++) assert.ok(changedAt[i]! - changedAt[i - 1]! <= period + 60_000, `r waited ${((changedAt[i]! - changedAt[i - 1]!) / 3_600_000).toFixed(1)} h for a's renewal`);
  assert.ok(changedAt.length >= 3);
  assert.equal(r.route(a)?.hops, 1);
  });
}

test('a node of the nineteenth revision gets a period crossed every twelve hours by the nodes within 3 hops of it; the rest of the mesh signs again every day', () => {
  const mesh = new Mesh();
  // n0 tells no daily distance: after the grace n1 tells 1, n2 tells 2; n1–n3 sign again every
  // twelve hours, and send the renewals that cross a twelve-hour period but not a day's towards
  // n0 only. WALL_START lies 15.1 hours into a day's period of the origins' clocks: the renewals
  // after 12 and 36 hours cross a day's period, those after 24 and 48 hours a twelve-hour one only.
  mesh.drop = nineteenthRevision('n0');
  const n = line(mesh, 8);
  mesh.run(10_000);
  const originated = n.map((x) => x.router.counters.announcementsOriginated);
  const spared: number[] = [];
  for (let round = 0; round < 4; round++) {
    mesh.run(LONG_REFRESH_MS - 10_000, 10_000);
    mesh.run(20_000, 1000);
    for (const k of [1, 2, 3]) assert.ok(sameBytes(heldBytes(n[0]!, n[k]!), heldBytes(n[k]!, n[k]!)), `round ${round}: n0 holds n${k}'s newest`);
    if (!sameBytes(heldBytes(n[4]!, n[3]!), heldBytes(n[3]!, n[3]!))) spared.push(round);
    assert.equal(n[0]!.route(n[3]!)?.hops, 3);
  }
  assert.deepEqual(spared, [1, 3], "n3's renewals that crossed a twelve-hour period only were spared to n4");
  n.forEach((x, k) => assert.equal(x.router.counters.announcementsOriginated - originated[k]!, k <= 3 ? 4 : 2, `n${k} signed again every ${k <= 3 ? 'twelve hours' : 'day'}`));
});

test("a neighbour whose first distances come late is not taken for one of an earlier revision within the grace: every distance told is 255, and none signs every half hour", () => {
  // A neighbour's first frames, its distances among them, may come a while after its link is up
  // here (the link comes up at each end by its own handshake message). It counts as one of an
  // earlier revision only once it has been silent about them for HOURLY_DISTANCE_GRACE_MS: taken
  // for one at once, its neighbour would tell 1, theirs 2, and sign every half hour.
  const mesh = new Mesh();
  const told: number[] = [];
  const late: Uint8Array[] = [];
  const isDistance = (frame: Uint8Array) => frame[1] === KIND_HOURLY_DISTANCE || frame[1] === KIND_DAILY_DISTANCE;
  mesh.drop = (from, to, frame) => {
    if (!isDistance(frame)) return false;
    told.push(frame[2]!);
    // n2's to n1 come 3 s late.
    if (from.name !== 'n2' || to.name !== 'n1' || mesh.now >= 8_000) return false;
    late.push(frame);
    return true;
  };
  const n = line(mesh, 5);
  mesh.run(3_000);
  assert.equal(late.length, 2, "n2's two distances are on their way");
  for (const frame of late) mesh.inject(n[1]!, n[1]!.linkTo(n[2]!), frame);
  mesh.run(10_000);
  // Each end of the four links tells both distances as it comes up.
  assert.ok(told.length >= 2 * 8, `${told.length} distances told`);
  assert.deepEqual(told.filter((d) => d !== 255), [], 'a distance under 255 was told');
  const originated = n.map((x) => x.router.counters.announcementsOriginated);
  mesh.run(2 * REFRESH_MS, 10_000);
  n.forEach((x, k) => assert.equal(x.router.counters.announcementsOriginated, originated[k], `n${k} signed again within an hour`));
});

test('a daily distance that was lost is told again when a renewal shows it; a malformed one is counted and changes nothing', () => {
  const mesh = new Mesh();
  const [a, b] = line(mesh, 2) as [TestNode, TestNode];
  mesh.run(10_000);
  // b had told a 1 (a node of the nineteenth revision was near it then), and its 255 since was
  // lost: a signs every twelve hours, and its renewal that crosses a twelve-hour period only
  // makes b tell it 255 again; a signs every day from then on.
  const toldByB: number[] = [];
  mesh.drop = (from, _to, frame) => {
    if (from === b && frame[1] === KIND_DAILY_DISTANCE) toldByB.push(frame[2]!);
    return false;
  };
  mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_DAILY_DISTANCE, 1));
  const originated = a.router.counters.announcementsOriginated;
  mesh.run(2 * LONG_REFRESH_MS, 10_000);
  assert.equal(a.router.counters.announcementsOriginated - originated, 2, 'a signed every twelve hours');
  assert.deepEqual(toldByB, [255], 'b told a its daily distance again');
  mesh.run(2 * DAILY_REFRESH_MS, 10_000);
  assert.equal(a.router.counters.announcementsOriginated - originated, 4, 'a signs every day again');

  // A distance of 0 or 3 (none is told: 255 stands for them), or one with bytes after it.
  const malformed = a.router.counters.malformed;
  for (const bad of [[0], [3], [255, 1], []]) mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_DAILY_DISTANCE, ...bad));
  assert.equal(a.router.counters.malformed - malformed, 4);
  mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_DAILY_DISTANCE, 255, 0, 0));
  assert.equal(a.router.counters.malformed - malformed, 4, 'padding is not malformed');
  mesh.run(DAILY_REFRESH_MS, 10_000);
  assert.equal(a.router.counters.announcementsOriginated - originated, 5);
});

test("a lost hourly distance under 255 is told again within minutes: the node of an earlier revision gets every half-hourly renewal", () => {
  const mesh = new Mesh();
  // x (of an earlier revision) — m — b — a: after the grace m tells 1, b tells 2; that 2 is lost
  // on its way to a, which then signs only every twelve hours, and spares b its renewals, until
  // b tells it again.
  mesh.drop = earlierRevision('n0');
  let lost = 0;
  const drop = mesh.drop;
  mesh.drop = (from, to, frame) => drop(from, to, frame) || (from.name === 'n2' && to.name === 'n3' && frame[1] === KIND_HOURLY_DISTANCE && frame[2] === 2 && lost++ === 0);
  const [x, , , a] = line(mesh, 4) as [TestNode, TestNode, TestNode, TestNode];
  mesh.run(10_000);
  assert.equal(lost, 1, "b's 2 was lost");
  for (let round = 0; round < 3; round++) {
    const before = heldBytes(x, a);
    mesh.run(REFRESH_MS - 10_000, 10_000);
    mesh.run(20_000);
    assert.notDeepEqual(heldBytes(x, a), before, `round ${round}: x got a's renewal`);
    assert.deepEqual(heldBytes(x, a), heldBytes(a, a));
  }
});

test("a neighbour's first frames that overtake the report of its link are not lost: its hourly and daily distances and that it takes renewals", () => {
  const mesh = new Mesh();
  const [a, b] = [mesh.add('a'), mesh.add('b')];
  const toldByB: number[] = [];
  const dailyByB: number[] = [];
  mesh.drop = (from, _to, frame) => {
    if (from === b && frame[1] === KIND_HOURLY_DISTANCE) toldByB.push(frame[2]!);
    if (from === b && frame[1] === KIND_DAILY_DISTANCE) dailyByB.push(frame[2]!);
    return false;
  };
  a.wires.set(1, { peer: b, peerLink: 1 });
  b.wires.set(1, { peer: a, peerLink: 1 });
  a.router.linkUp(1, b.key);
  mesh.deliver(); // a's first frames reach b before b's link is up
  b.router.linkUp(1, a.key);
  mesh.run(10_000);
  assert.equal(b.route(a)?.hops, 1);
  assert.deepEqual(toldByB, [255], 'b took a for a node of an earlier revision');
  assert.deepEqual(dailyByB, [255], 'b took a for a node of the nineteenth revision or before');
  b.wholeTo.clear();
  mesh.run(DAILY_REFRESH_MS, 10_000);
  mesh.run(20_000);
  assert.ok(b.renewalsTo.has(`a:${hexOf(b)}`), 'b renewed its announcement to a');
  assert.ok(!b.wholeTo.has('a'), 'whole, as to a node that takes no renewals');
});

test('while the parts of a new sequence come one by one, the parts before stand in: no route through their origin flaps', () => {
  const mesh = new Mesh({ sharedVerify: true, scope: { maxNodes: 128, maxBytes: 128 << 10 } });
  // A hub b of 92 links, its announcement in two parts: c (interface 200) is in the second.
  const [a, b, c] = [mesh.add('a'), mesh.add('b'), mesh.add('c')];
  // a takes no renewals (an older node): b's parts come to it whole, each in a frame of its own,
  // every half hour.
  const noRenewals = earlierRevision('a');
  mesh.drop = noRenewals;
  for (let i = 0; i < 90; i++) mesh.connect(b, mesh.add(`leaf${i}`), 1 + i, 1);
  mesh.connect(a, b, 1, 100);
  mesh.connect(b, c, 200, 1);
  mesh.run(3000);
  assert.equal(a.route(c)?.hops, 2);
  // At b's refresh, the frame with its second part is lost on the way to a, once: it comes again
  // a second later, after the first part.
  const secondPart = (frame: Uint8Array) => frame[1] === KIND_ANNOUNCEMENTS && frame.length > 2 + 32 && Buffer.from(frame.subarray(3, 35)).equals(b.key) && frame[2 + 43] === 1;
  let lost = 0;
  mesh.drop = (from, to, frame) => noRenewals(from, to, frame) || (from === b && to === a && lost === 0 && secondPart(frame) && ++lost > 0);
  const before = a.route(c)!;
  mesh.run(REFRESH_MS - 5000, 1000);
  for (let t = 0; t < 10_000; t += TICK_MS) {
    mesh.run(TICK_MS);
    assert.deepEqual(labelOf(a.route(c)), labelOf(before), `a's route to c at ${t} ms`);
  }
  assert.equal(lost, 1, "b's second part was lost once");
  assert.deepEqual(heldBytes(a, b), heldBytes(b, b), "a holds b's new first part");
});

test('a node of the map that takes a link back is told of once its announcement is whole: a link that only moved to another part is not taken back', () => {
  const mesh = new Mesh({ sharedVerify: true, scope: { maxNodes: 128, maxBytes: 128 << 10 } });
  // A hub b of 61 links, its announcement in two parts (50 links a part, by interface index):
  // 2–51 in the first, 52–61 and a's (100) in the second.
  const [a, b] = [mesh.add('a'), mesh.add('b')];
  const leaves = Array.from({ length: 60 }, (_, i) => mesh.add(`leaf${i}`));
  leaves.forEach((leaf, i) => mesh.connect(b, leaf, 2 + i, 1));
  mesh.connect(a, b, 1, 100);
  mesh.run(3000);
  assert.equal(a.route(leaves[59]!)?.hops, 2);
  assert.deepEqual(a.withdrawn, []);
  // A link at index 1: 51 moves to the second part. While the first part of the new sequence has
  // come and the second has not, the union of b's parts lacks 51; it was not taken back.
  const more = mesh.add('more');
  mesh.connect(b, more, 1, 1);
  mesh.run(3000);
  assert.equal(a.route(more)?.hops, 2);
  assert.deepEqual(a.withdrawn, [], 'a link that moved to another part was taken for gone');
  // b's link at index 30 goes: a is told, once.
  mesh.disconnect(b, leaves[28]!);
  mesh.run(3000);
  assert.deepEqual(a.withdrawn, [`${Buffer.from(b.key).toString('hex')}:30`]);
  assert.equal(a.route(leaves[28]!), undefined);
});

test('a neighbour that never acknowledges is sent an announcement 9 times, at growing intervals, then no more', () => {
  const mesh = new Mesh();
  const [a, b] = line(mesh, 2) as [TestNode, TestNode];
  mesh.run(3000);
  mesh.drop = (from, to, frame) => from === a && to === b && frame[1] === KIND_ACKNOWLEDGEMENTS;
  const c = mesh.add('c');
  mesh.connect(b, c, 7, 1);
  mesh.run(3 * 60_000, 1000);
  // What b sends a that a never acknowledges: its new announcement and c's, each tried 9 times
  // (less an entry replaced by a newer announcement of its origin, which is then tried 9 times).
  const { retransmissionsAbandoned: abandoned, announcementsRetransmitted: resent } = b.router.counters;
  assert.ok(resent >= 8 * abandoned && resent < 8 * (abandoned + 1), `${resent} resent, ${abandoned} abandoned`);
  assert.ok(b.router.counters.retransmissionsAbandoned >= 2);
  assert.ok(!b.router.hasWork, 'b is still resending');
});

test('acknowledgements: entries of 41 bytes then zero padding are read; anything else is malformed', () => {
  const mesh = new Mesh();
  const [a, b] = line(mesh, 2) as [TestNode, TestNode];
  mesh.run(3000);
  const malformed = a.router.counters.malformed;
  const entry = new Uint8Array(41).fill(7);
  mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_ACKNOWLEDGEMENTS, ...entry, 0, 0, 0));
  assert.equal(a.router.counters.malformed, malformed);
  mesh.inject(a, a.linkTo(b), Uint8Array.of(FRAME_ROUTING, KIND_ACKNOWLEDGEMENTS, ...entry, 1, 2, 3));
  assert.equal(a.router.counters.malformed, malformed + 1);
});

// ---- routing under attack (issue 13, 14) ---------------------------------------------------
// An attacker m, a neighbour of n1 on the line n0 — n1 — n2 — n3, sends n1 whatever it likes over
// its (authenticated) hop session. The rest of the mesh must keep correct routes, its memory
// bounded, and each case counted.

/** The line, settled, with m a neighbour of n1; returns a function checking every line route. */
function attacked(options: { maxOrigins?: number; maxDatabaseBytes?: number } = {}) {
  const mesh = new Mesh(options);
  const n = line(mesh, 4);
  const m = mesh.add('m');
  mesh.connect(n[1]!, m, 150, 1);
  mesh.run(3000);
  const routesRight = () => {
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (i !== j) assert.equal(n[i]!.route(n[j]!)?.hops, Math.abs(i - j), `n${i} → n${j}`);
  };
  routesRight();
  const fromM = (frame: Uint8Array) => mesh.inject(n[1]!, n[1]!.linkTo(m), frame);
  return { mesh, n, m, routesRight, fromM };
}

test('under attack: a node flooding new announcements of its own gets two a second taken; routes stay right', () => {
  const { mesh, n, m, routesRight, fromM } = attacked();
  const n1 = n[1]!.router.counters;
  const before = { verified: n1.badSignature, stored: n[0]!.router.counters.framesReceived };
  for (let i = 1; i <= 100; i++) {
    fromM(packFrames([signAnnouncements(m.identity, mesh.wall + i, 1420, [{ address: n[1]!.address, index: 1, cost: 1 }])[0]!.bytes], 1420)[0]!);
  }
  assert.equal(n1.tooFrequent, 98, 'more than the burst of new sequences was taken at once');
  // Flooded on: n0 heard of m at most twice more (one frame each).
  assert.ok(n[0]!.router.counters.framesReceived - before.stored <= 2 + 2, 'the flood went on through n1');
  mesh.run(1000);
  routesRight();
  assert.equal(n1.badSignature, before.verified);
});

test('under attack: replayed old announcements and claimed links change nothing, and are counted', () => {
  const { mesh, n, m, routesRight, fromM } = attacked();
  const n1 = n[1]!.router.counters;
  // n3's own key signs an old announcement (as a captured one would be): stale.
  const stale = n1.stale;
  fromM(packFrames([signAnnouncements(n[3]!.identity, WALL_START - 1000, 1420, [])[0]!.bytes], 1420)[0]!);
  assert.equal(n1.stale, stale + 1);
  // m claims a link to n3, which n3 does not announce: nobody routes through it.
  fromM(packFrames([signAnnouncements(m.identity, mesh.wall + 5000, 1420, [{ address: n[3]!.address, index: 9, cost: 1 }, { address: n[1]!.address, index: 1, cost: 1 }])[0]!.bytes], 1420)[0]!);
  mesh.run(2000);
  routesRight();
  assert.equal(n[0]!.route(n[3]!)?.path.length, 3, 'a route through m');
});

test('under attack: oversized and malformed announcements are dropped and counted, nothing stored', () => {
  const { n, fromM } = attacked();
  const n1 = n[1]!.router;
  const before = { malformed: n1.counters.malformed, stats: n1.stats() };
  const a = signAnnouncements(generateKeyPair(), WALL_START + 10, 1420, [])[0]!.bytes;
  const tooMany = a.slice();
  tooMany[45] = 0;
  tooMany[46] = 51; // LINKS_PER_PART + 1 links
  const noParts = a.slice();
  noParts[44] = 0;
  const pastParts = a.slice();
  pastParts[43] = 1; // part 1 of 1
  const huge = new Uint8Array(70_000).fill(0x55);
  huge.set([FRAME_ROUTING, KIND_ANNOUNCEMENTS, 1]);
  for (const bad of [tooMany, noParts, pastParts]) fromM(Uint8Array.of(FRAME_ROUTING, KIND_ANNOUNCEMENTS, ...bad));
  fromM(huge);
  assert.equal(n1.counters.malformed, before.malformed + 4);
  assert.deepEqual(n1.stats(), before.stats);
});

test('under attack: announcements for made-up keys stop at the database bound; routes stay right', () => {
  const { mesh, n, m, routesRight, fromM } = attacked({ maxOrigins: 10 });
  const n1 = n[1]!.router;
  assert.equal(n1.stats().nodes, 5);
  // Made-up nodes that name nobody n1 knows are not even stored: the map cannot place them.
  for (let i = 0; i < 3; i++) fromM(packFrames([signAnnouncements(generateKeyPair(), mesh.wall, 1420, [])[0]!.bytes], 1420)[0]!);
  assert.equal(n1.counters.unplaced, 3);
  assert.equal(n1.stats().nodes, 5);
  // Made-up neighbours of m are placed (two hops from n1), up to the bound.
  const nextToM = [{ address: m.address, index: 1, cost: 1 }];
  for (let i = 0; i < 20; i++) fromM(packFrames([signAnnouncements(generateKeyPair(), mesh.wall, 1420, nextToM)[0]!.bytes], 1420)[0]!);
  assert.equal(n1.stats().nodes, 10);
  assert.equal(n1.counters.databaseFull, 15);
  mesh.run(2000);
  routesRight();
  // The bound holds as updates of held origins go on: n3's next announcement is still taken.
  assert.equal(n[1]!.route(n[3]!)?.hops, 2);
});

test('under attack: the database stops at its byte bound too', () => {
  // Room for what the settled line holds (measured on a line without the bound) and two more
  // announcements of one link (131 bytes each).
  const line = attacked().n[1]!.router.stats().bytes;
  const { mesh, n, m, routesRight, fromM } = attacked({ maxDatabaseBytes: line + 2 * 131 });
  const n1 = n[1]!.router;
  assert.equal(n1.stats().bytes, line);
  const nextToM = [{ address: m.address, index: 1, cost: 1 }];
  for (let i = 0; i < 10; i++) fromM(packFrames([signAnnouncements(generateKeyPair(), mesh.wall, 1420, nextToM)[0]!.bytes], 1420)[0]!);
  assert.equal(n1.stats().bytes, line + 2 * 131);
  assert.equal(n1.counters.databaseFull, 8);
  mesh.run(2000);
  routesRight();
});

test('a node forgotten while a link between was down is learned again when the link returns, though none of its own links changed', () => {
  const mesh = new Mesh();
  // s — a — b — x, and a — c — d — x: x is 3 hops from s through b, 4 through c and d.
  const [s, a, b, c, d, x] = ['s', 'a', 'b', 'c', 'd', 'x'].map((name) => mesh.add(name)) as [TestNode, TestNode, TestNode, TestNode, TestNode, TestNode];
  mesh.connect(s, a, 1, 2);
  mesh.connect(a, b, 3, 4);
  mesh.connect(b, x, 5, 6);
  mesh.connect(a, c, 7, 8);
  mesh.connect(c, d, 9, 10);
  mesh.connect(d, x, 11, 12);
  mesh.run(3000, 100);
  assert.equal(s.route(x)?.hops, 3);
  // a — b down past the grace: x is 4 hops from s, forgotten; a still holds it, 3 hops away.
  mesh.disconnect(a, b);
  mesh.run(2000 + MAP_SCOPE_GRACE_MS, 100);
  assert.equal(s.router.keyOf(x.address), undefined);
  assert.equal(a.route(x)?.hops, 3);
  // Back: x is near again for a, which floods it on to s (x and s re-announce nothing of it).
  mesh.connect(a, b, 3, 4);
  mesh.run(2000, 100);
  assert.equal(s.route(x)?.hops, 3);
});

test('a node that restarts, after a neighbour two hops away forgot it and before the one between did, reaches that neighbour again: its unchanged announcement is not spared as a renewal', () => {
  const mesh = new Mesh();
  const [c, m, e] = ['c', 'm', 'e'].map((name) => mesh.add(name)) as [TestNode, TestNode, TestNode];
  mesh.connect(c, m, 1, 2);
  mesh.connect(m, e, 3, 4);
  mesh.run(3000, 100);
  assert.equal(c.route(e)?.hops, 2);
  // e goes away. c hears m's new links and, the grace over, forgets e; m has not swept since.
  mesh.disconnect(m, e);
  for (let i = 0; i < 50 && c.route(e); i++) mesh.run(100, 100);
  assert.equal(c.route(e), undefined, 'c still routes to e');
  mesh.run(MAP_SCOPE_GRACE_MS + 1000, 100, [c]);
  assert.equal(c.router.keyOf(e.address), undefined, 'c did not forget e');
  const old = heldBytes(m, e);
  assert.notEqual(old, undefined, 'm forgot e too early for this test');
  // e restarts (its links as before: an announcement that signs the old one again unchanged), and
  // its first announcement reaches m before m's next sweep.
  mesh.start(e);
  mesh.connect(m, e, 3, 4);
  mesh.run(100, 100, [e]);
  assert.notDeepEqual(heldBytes(m, e), old, 'm has not got the new announcement yet');
  mesh.run(3000, 100);
  assert.equal(c.route(e)?.hops, 2, 'c never learnt e again');
});
