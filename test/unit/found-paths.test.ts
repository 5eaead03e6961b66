// The routes lookups found (src/routing/paths.ts) and what an unreachable report does to them: a
// report that came back along a way names the transit at its end and the index that failed there;
// exactly the routes that go that way and on by that index are dropped, the next best takes over,
// and end-to-end peers' reverse routes that go that way are forgotten (src/node/end-to-end.ts).
// The simulator's flows measure the same under a crash (bench/lookups.ts).
// A neighbour's route, its link, is no found route: kept apart, and never forgotten while the link is up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { addressOf } from '../../src/routing/locator.js';
import { Paths, type FoundPath } from '../../src/routing/paths.js';
import { Routing, isFoundRoute } from '../../src/routing/routing.js';

const path = (link: number, slots: number[], at = 0): FoundPath => ({ link, slots: Uint16Array.from(slots), mtu: 1420, source: 'lookup', tree: 0, at });

test('an unreachable report drops the routes through that transit and index, and no other; the next takes over', () => {
  const paths = new Paths(16);
  const [d, e, f, g] = [generateKeyPair().publicKey, generateKeyPair().publicKey, generateKeyPair().publicKey, generateKeyPair().publicKey];
  // To d: out by 3, then 7, 9 (the best), and a longer way out by 4.
  paths.add(d, path(3, [7, 9]), 0);
  paths.add(d, path(4, [1, 2, 5]), 1);
  // To e: out by 3 then 7 too, but on by 8 at that transit.
  paths.add(e, path(3, [7, 8]), 2);
  // To f: 7 and 9 also, but from another first hop (out by 5); to g, out by 3 but then by 6.
  paths.add(f, path(5, [7, 9]), 3);
  paths.add(g, path(3, [6, 9]), 4);
  assert.deepEqual([...paths.get(addressOf(d))!.route!.label], [7, 9]);
  // The transit reached by 3, 7 says its index 9 leads nowhere.
  const changed = paths.breakAt(3, Uint16Array.of(7), 9);
  assert.deepEqual(
    changed.map((x) => x.address),
    [addressOf(d)],
  );
  const route = paths.get(addressOf(d))!.route!;
  assert.equal(route.link, 4, 'the longer way took over');
  assert.deepEqual([...route.label], [1, 2, 5]);
  assert.deepEqual([...paths.get(addressOf(e))!.route!.label], [7, 8], 'another index at that transit');
  assert.deepEqual([...paths.get(addressOf(f))!.route!.label], [7, 9], 'the same indices from another first hop');
  assert.deepEqual([...paths.get(addressOf(g))!.route!.label], [6, 9], 'the same index after another way');
  // The first hop itself failing (a report from the neighbour: no slots before it).
  paths.breakAt(4, new Uint16Array(0), 1);
  assert.equal(paths.get(addressOf(d)), undefined, 'no way left: the destination is forgotten');
  // A report naming an index past the end of a route (the destination itself) drops nothing.
  assert.deepEqual(paths.breakAt(3, Uint16Array.of(7, 8), 1), []);
  assert.ok(paths.get(addressOf(e))?.route);
});

test("a neighbour's route is its link, kept apart from the found routes; with two links to it, the other takes over", () => {
  let changes = 0;
  let clock = 0;
  const routing = new Routing({
    identity: generateKeyPair(),
    mtu: 1420,
    send: () => {},
    sendRouted: () => {},
    now: () => clock,
    routesChanged: () => void changes++,
  });
  const [a, b] = [generateKeyPair().publicKey, generateKeyPair().publicKey];
  routing.linkUp(1, a);
  routing.linkUp(2, b);
  routing.linkUp(3, a); // a second link to a
  const route = (key: Uint8Array) => routing.lookup(addressOf(key), 0);
  assert.equal(route(a)?.link, 1);
  assert.equal(route(b)?.link, 2);
  assert.equal(route(a)?.label.length, 0);
  const toA = route(a)!;
  assert.ok(isFoundRoute(toA) && toA.source === 'neighbour');
  assert.deepEqual(routing.keyOf(addressOf(b)), b);
  assert.ok(routing.knows(addressOf(b), 0));
  assert.equal(routing.lookups.paths.size, 0, 'a neighbour is held as a found destination');
  // Nor is the way back of a request from it kept: its link is shorter.
  (routing.lookups as unknown as { addPath(key: Uint8Array, path: FoundPath): void }).addPath(b, path(1, [4]));
  assert.equal(routing.lookups.paths.size, 0, 'a way to a neighbour is kept as a found route');
  // A node found through b that then becomes a neighbour: its link replaces the way found.
  const c = generateKeyPair().publicKey;
  (routing.lookups as unknown as { addPath(key: Uint8Array, path: FoundPath): void }).addPath(c, path(2, [4]));
  assert.equal(route(c)?.link, 2);
  routing.linkUp(4, c);
  assert.equal(route(c)?.link, 4, 'the way found before still wins over the new link');
  assert.equal(routing.lookups.paths.size, 0, 'the way found before is kept beside the link');
  assert.deepEqual(routing.routes(), [], 'a neighbour is listed as a routed peer');
  assert.ok(changes >= 2, 'no route change told for the neighbours');
  // Its first link goes: the second carries the route. Then that too.
  clock = 1000;
  const before = changes;
  routing.linkDown(1);
  assert.equal(route(a)?.link, 3);
  assert.ok(changes > before);
  routing.linkDown(3);
  assert.equal(route(a), undefined);
  assert.equal(routing.keyOf(addressOf(a)), undefined);
  assert.ok(!routing.knows(addressOf(a), 0));
  assert.equal(route(b)?.link, 2);
  // The neighbour's route is not found state: idle for longer than found routes live, it stays.
  clock = 60 * 60_000;
  routing.tick();
  assert.equal(route(b)?.link, 2);
  routing.linkDown(2);
  assert.equal(route(b), undefined);
});

test("a destination's locator is counted in the state", () => {
  const paths = new Paths(16);
  const key = generateKeyPair().publicKey;
  paths.add(key, path(3, [7, 9]), 0);
  const without = paths.stateBytes();
  paths.get(addressOf(key))!.locator = { key, sequence: 1, places: [], bytes: new Uint8Array(170) };
  assert.equal(paths.stateBytes() - without, 170);
});
