// The lookup table (src/routing/dht-table.ts): the contacts nearest a target, as a lookup step
// and an answer take them, are the nearest of all the table holds, nearest first, leaving out
// those that stopped answering when asked to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fcAddressBytes } from '../../src/keys/address.js';
import { DhtTable, compareDistance, type Contact } from '../../src/routing/dht-table.js';
import type { Locator } from '../../src/routing/locator.js';

test('closest(n) is the n nearest contacts by distance to the target, nearest first, the failing ones left out when asked', () => {
  const table = new DhtTable(fcAddressBytes(randomBytes(32)), 64);
  for (let i = 0; i < 400; i++) {
    const key = randomBytes(32);
    // The table reads a locator's key and sequence only; its signature is the caller's to check.
    table.add({ key, sequence: 1, places: [], bytes: new Uint8Array(0) } satisfies Locator, 0, true);
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
