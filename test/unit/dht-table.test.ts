// The lookup table (src/routing/dht-table.ts): the contacts nearest a target, as a lookup step
// and an answer take them, are the nearest of all the table holds, nearest first, leaving out
// those that stopped answering when asked to; and the mesh's size, from how near the nearest are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fcAddressBytes } from '../../src/keys/address.js';
import { DhtTable, compareDistance, distanceShare, meshSizeFrom, type Contact } from '../../src/routing/dht-table.js';
import { DHT_BUCKET_SIZE } from '../../src/routing/lookups.js';
import { rng } from '../../bench/sim/graph.js';
import { equalBytes } from '../../src/util/bytes.js';
import { signLocator, type Locator, type TreePlace } from '../../src/routing/locator.js';

/** A locator of `key` with `places`, encoded as locator.ts signs one, its signature made up:
 *  the table does not check it. */
function unsigned(key: Uint8Array, sequence: number, places: TreePlace[]): Locator {
  return signLocator(() => new Uint8Array(64).fill(0xa5), key, sequence, places);
}

test('closest(n) is the n nearest contacts by distance to the target, nearest first, the failing ones left out when asked', () => {
  const table = new DhtTable(fcAddressBytes(randomBytes(32)), 64);
  for (let i = 0; i < 400; i++) {
    const key = randomBytes(32);
    // The table holds a locator's bytes as they are; its signature is the caller's to check.
    table.add(unsigned(key, 1, []), 0, true);
  }
  const all = [...table.contacts()];
  assert.ok(all.length > 100, `${all.length} contacts held`);
  for (const c of all.slice(0, 40)) {
    table.failed(c.address);
    table.failed(c.address);
  }
  const names = (list: Contact[]) => list.map((c) => Buffer.from(c.address).toString('hex'));
  for (let round = 0; round < 50; round++) {
    const target = fcAddressBytes(randomBytes(32));
    const sorted = [...all].sort((a, b) => compareDistance(target, a.address, b.address));
    for (const n of [0, 1, 3, 8, 16, all.length + 5]) {
      assert.deepEqual(names(table.closest(target, n, false)), names(sorted.slice(0, n)));
      assert.deepEqual(names(table.closest(target, n)), names(sorted.filter((c) => c.failures < 2).slice(0, n)));
    }
  }
});

test('a contact is held packed, each root once for the table: read back, its locator is the same bytes; a root goes with the last contact that names it', () => {
  const table = new DhtTable(fcAddressBytes(randomBytes(32)), 64);
  const roots = [randomBytes(8), randomBytes(8), randomBytes(8), randomBytes(8)];
  const place = (tree: number, root: Uint8Array, depth: number): TreePlace => ({ tree, root, coordinates: Uint16Array.from({ length: depth }, (_, i) => 1000 * tree + i + 1) });
  const empty = table.stateBytes();
  const keys = Array.from({ length: 20 }, () => randomBytes(32));
  const given = keys.map((k, i) => unsigned(k, 5, [place(0, roots[0]!, i % 6), place(1, roots[1]!, 3), place(2, roots[2]!, 0), place(3, roots[3]!, 7)]));
  for (const l of given) table.add(l, 0, true);
  for (const l of given) {
    const back = table.get(fcAddressBytes(l.key))!;
    assert.deepEqual(back.locator.bytes, l.bytes);
    assert.deepEqual(back.locator.places, l.places);
    assert.equal(back.sequence, 5);
    // 4 places: a version byte and 6 bytes a place less than the wire form, beside the address
    // and the times.
    assert.equal(back.bytes, l.bytes.length - 25 + 16 + 16);
  }
  // The four roots are held once: 24 bytes each with their counts and entries.
  const contacts = [...table.contacts()].reduce((n, c) => n + c.bytes, 0);
  assert.equal(table.stateBytes() - empty, contacts + 4 * 24);
  // A newer locator under another root in tree 0: the new root is held, the old stays while
  // others name it.
  const moved = unsigned(keys[0]!, 6, [place(0, Uint8Array.from(roots[1]!), 2)]);
  table.add(moved, 1, true);
  assert.deepEqual(table.get(fcAddressBytes(keys[0]!))!.locator.bytes, moved.bytes);
  assert.equal(table.get(fcAddressBytes(keys[0]!))!.sequence, 6);
  // An older one changes nothing.
  table.add(given[0]!, 2, true);
  assert.deepEqual(table.get(fcAddressBytes(keys[0]!))!.locator.bytes, moved.bytes);
  // Every contact gone, every root goes.
  for (const k of keys) table.remove(fcAddressBytes(k));
  assert.equal(table.size, 0);
  assert.equal(table.stateBytes(), empty);
});

/** `n` random fc addresses, from a seeded generator. */
function addresses(n: number, seed: number): Uint8Array[] {
  const random = rng(seed);
  return Array.from({ length: n }, () => {
    const a = new Uint8Array(16);
    a[0] = 0xfc;
    for (let i = 1; i < 16; i++) a[i] = Math.floor(random() * 256);
    return a;
  });
}

test('the mesh\'s size, from the distances of the 8 nodes nearest an address, is within 0.4 to 2.5 times the true one, and about right in the middle, from 100 nodes to a million', () => {
  for (const n of [100, 10_000, 1_000_000]) {
    const all = addresses(n, n);
    const estimates: number[] = [];
    for (let trial = 0; trial < 25; trial++) {
      const self = all[trial]!;
      // The 8 nearest, kept in order in one pass (sorting a million each trial took 20 s).
      const nearest: number[] = [];
      for (const a of all) {
        if (a === self) continue;
        const d = distanceShare(self, a);
        if (nearest.length === DHT_BUCKET_SIZE && d >= nearest.at(-1)!) continue;
        if (nearest.length === DHT_BUCKET_SIZE) nearest.pop();
        let at = nearest.length;
        while (at > 0 && nearest[at - 1]! > d) at--;
        nearest.splice(at, 0, d);
      }
      estimates.push(meshSizeFrom(nearest));
    }
    estimates.sort((a, b) => a - b);
    const median = estimates[12]!;
    assert.ok(median >= 0.75 * n && median <= 1.33 * n, `${n} nodes: the median estimate ${median.toFixed(0)}`);
    assert.ok(estimates[0]! >= n / 2.5 && estimates.at(-1)! <= 2.5 * n, `${n} nodes: estimates from ${estimates[0]!.toFixed(0)} to ${estimates.at(-1)!.toFixed(0)}`);
  }
});

test('the table estimates the mesh\'s size from its contacts nearest us that it heard from itself and that still answer; with fewer than 8 it counts them and us', () => {
  const random = rng(5);
  /** 32 bytes from the seeded generator: a key the table takes as it is (it checks nothing). */
  const seededKey = () => Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
  const self = fcAddressBytes(seededKey());
  const table = new DhtTable(self, DHT_BUCKET_SIZE);
  for (let i = 0; i < 5; i++) table.add(unsigned(seededKey(), 1, []), 0, true);
  assert.equal(table.meshSize(), 6);
  for (let i = 0; i < 3000; i++) table.add(unsigned(seededKey(), 1, []), 0, true);
  const estimate = table.meshSize();
  assert.ok(estimate >= 3005 / 2.5 && estimate <= 3005 * 2.5, `3,005 nodes taken for ${estimate.toFixed(0)}`);
  assert.ok(estimate >= table.size + 1, 'fewer than the table holds');
  // The nearest stop answering: the estimate is of the nodes that still do, farther out.
  const nearest = table.closest(self, DHT_BUCKET_SIZE);
  for (const c of nearest) {
    table.failed(c.address);
    table.failed(c.address);
  }
  const without = table.closest(self, DHT_BUCKET_SIZE);
  assert.ok(!without.some((c) => nearest.includes(c)));
  const honest = table.meshSize();
  assert.equal(honest, Math.max(table.size + 1, meshSizeFrom(without.map((c) => distanceShare(self, c.address)))));
  // Locators handed on by others, of keys ground to lie nearer us than any node we heard from,
  // count for nothing until their nodes answer us themselves.
  let ground = 0;
  const near = without[0]!;
  while (ground < DHT_BUCKET_SIZE) {
    const key = seededKey();
    if (compareDistance(self, fcAddressBytes(key), near.address) >= 0) continue;
    if (table.add(unsigned(key, 1, []), 0, false)) ground++;
  }
  assert.equal(table.meshSize(), honest, 'contacts never heard from moved the estimate');
  assert.ok(meshSizeFrom(table.closest(self, DHT_BUCKET_SIZE).map((c) => distanceShare(self, c.address))) > 2 * honest, 'the ground keys lie no nearer than the honest nodes');
});

test('the contacts forgotten are those whose locators, read back as held, a predicate names: here those under none of our roots, by tree; the rest are kept whole', () => {
  const table = new DhtTable(fcAddressBytes(randomBytes(32)), 64);
  const ours = [randomBytes(8), randomBytes(8), randomBytes(8), randomBytes(8)];
  const old = [randomBytes(8), randomBytes(8), randomBytes(8), randomBytes(8)];
  const place = (tree: number, root: Uint8Array, depth: number): TreePlace => ({ tree, root, coordinates: Uint16Array.from({ length: depth }, (_, i) => i + 1) });
  // Each with its places at other depths, so a place misread would be read at the wrong bytes.
  const underOurs = (l: Locator) => l.places.some((p) => equalBytes(p.root, ours[p.tree]!));
  const cases: [TreePlace[], boolean][] = [
    [[place(0, old[0]!, 3), place(1, old[1]!, 0), place(2, old[2]!, 5), place(3, old[3]!, 2)], false],
    [[place(0, old[0]!, 3), place(1, old[1]!, 0), place(2, old[2]!, 5), place(3, ours[3]!, 2)], true],
    [[place(0, ours[0]!, 1)], true],
    // Our root of another tree names nothing of ours in this one.
    [[place(0, ours[1]!, 2), place(1, ours[0]!, 4)], false],
    [[], false],
  ];
  const keys = cases.map(() => randomBytes(32));
  const given = cases.map(([places], i) => unsigned(keys[i]!, 1, places));
  for (const l of given) table.add(l, 0, true);
  for (const [i, [, named]] of cases.entries()) assert.equal(underOurs(table.get(fcAddressBytes(keys[i]!))!.locator), named, `case ${i}`);
  const kept = cases.filter(([, named]) => named).length;
  assert.equal(table.forgetWhere((l) => !underOurs(l)), cases.length - kept);
  assert.equal(table.size, kept);
  for (const [i, [, named]] of cases.entries()) {
    const c = table.get(fcAddressBytes(keys[i]!));
    assert.equal(!!c, named);
    if (c) assert.deepEqual(c.locator.bytes, given[i]!.bytes);
  }
});
