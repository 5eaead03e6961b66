// The neighbours' table (src/routing/neighbours.ts) that the map, the trees and the lookups share:
// by link and by address, a neighbour of two links found at the first until it goes, routes made
// only when asked for, and a key that changes at a link replacing the neighbour there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOf } from '../../src/routing/locator.js';
import { NeighbourTable } from '../../src/routing/neighbours.js';

const key = (b: number) => new Uint8Array(32).fill(b);

test('a neighbour of two links is found at the first, then at the other once the first goes', () => {
  const table = new NeighbourTable(1280);
  const a = key(1);
  const up = table.add(3, a);
  assert.equal(up.first, true);
  assert.notEqual(up.neighbour.key, a, 'the table keeps its own copy');
  a.fill(9);
  assert.deepEqual(up.neighbour.key, key(1));
  const second = table.add(7, key(1));
  assert.equal(second.first, false);
  const address = addressOf(key(1));
  assert.equal(table.at(address, 0)?.link, 3);
  // Reported up again: nothing changes.
  assert.equal(table.add(3, key(1)).neighbour, up.neighbour);
  assert.equal(table.size, 2);
  // The second link goes: the address stays at the first.
  assert.equal(table.remove(7)?.rerouted, false);
  assert.equal(table.at(address, 0)?.link, 3);
  table.add(7, key(1));
  // The first goes: found at the other now.
  assert.equal(table.remove(3)?.rerouted, true);
  assert.equal(table.at(address, 0)?.link, 7);
  assert.equal(table.routeAt(address, 0)?.link, 7);
  assert.equal(table.remove(7)?.rerouted, true);
  assert.equal(table.at(address, 0), undefined);
  assert.equal(table.routeAt(address, 0), undefined);
  assert.equal(table.remove(7), undefined);
  assert.equal(table.size, 0);
});

test('a route to a neighbour is made when first asked for, once, and counted then', () => {
  const table = new NeighbourTable(1400);
  table.add(5, key(2));
  const bare = table.stateBytes();
  const address = addressOf(key(2));
  const route = table.routeAt(address, 0)!;
  assert.equal(route.link, 5);
  assert.equal(route.hops, 1);
  assert.equal(route.label.length, 0);
  assert.equal(route.mtu, 1400);
  assert.equal(route.source, 'neighbour');
  assert.equal(table.routeAt(address, 0), route, 'made once');
  assert.ok(table.stateBytes() > bare);
});

test('another key at a link replaces the neighbour there', () => {
  const table = new NeighbourTable(1280);
  table.add(4, key(3));
  const next = table.add(4, key(4));
  assert.equal(next.first, true);
  // Named, so that Routing tells the map, the trees and the lookups the old one is gone.
  assert.deepEqual(next.replaced?.neighbour.key, key(3));
  assert.equal(next.replaced?.rerouted, true);
  assert.equal(table.add(4, key(4)).replaced, undefined, 'the same key again replaces nothing');
  assert.equal(table.at(addressOf(key(3)), 0), undefined);
  assert.equal(table.at(addressOf(key(4)), 0)?.link, 4);
  assert.equal(table.size, 1);
});
