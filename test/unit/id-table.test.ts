// The link-state database's ids (id-table.ts), against a plain Map doing the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdTable } from '../../src/routing/id-table.js';
import { rng } from '../../bench/sim/graph.js';

function address(random: () => number, tail?: number): Uint8Array {
  const a = new Uint8Array(16);
  for (let i = 0; i < 16; i++) a[i] = Math.floor(random() * 256);
  a[0] = 0xfc;
  // Addresses sharing their last four bytes land in one run of slots.
  if (tail !== undefined) new DataView(a.buffer).setUint32(12, tail);
  return a;
}

const hex = (a: Uint8Array) => Buffer.from(a).toString('hex');

test('ids follow their addresses through thousands of references taken and dropped, colliding addresses included', () => {
  const random = rng(16);
  const table = new IdTable();
  const model = new Map<string, { address: Uint8Array; id: number; refs: number }>();
  const pool = Array.from({ length: 3000 }, (_, i) => address(random, i % 5 === 0 ? 0xdeadbeef : undefined));
  for (let step = 0; step < 60_000; step++) {
    const a = pool[Math.floor(random() * pool.length)]!;
    const held = model.get(hex(a));
    // Take a reference more often than drop one while the table is small, then the other way.
    const taking = random() < (step < 30_000 ? 0.6 : 0.35);
    if (taking || !held) {
      const id = table.intern(a, 0);
      table.ref(id);
      if (held) {
        assert.equal(id, held.id, 'an address known got another id');
        held.refs++;
      } else {
        assert.ok(![...model.values()].some((m) => m.id === id), `id ${id} given out twice`);
        model.set(hex(a), { address: a, id, refs: 1 });
      }
    } else {
      const freed = table.unref(held.id);
      assert.equal(freed, --held.refs === 0);
      if (held.refs === 0) model.delete(hex(a));
    }
    if (step % 1000 === 0) {
      assert.equal(table.size, model.size);
      for (const m of model.values()) {
        assert.equal(table.idOf(m.address, 0), m.id);
        assert.ok(m.id < table.capacity);
      }
      for (let k = 0; k < 50; k++) {
        const b = pool[Math.floor(random() * pool.length)]!;
        if (!model.has(hex(b))) assert.equal(table.idOf(b, 0), undefined, 'an address dropped still has an id');
      }
    }
  }
  // Every reference dropped: nothing is left, and the id range is empty.
  for (const m of model.values()) while (m.refs-- > 0) table.unref(m.id);
  assert.equal(table.size, 0);
  assert.equal(table.capacity, 0, 'the id range did not shrink to nothing');
});

test('a freed id is reused lowest first, and the id range drops as its highest ids go', () => {
  const random = rng(3);
  const table = new IdTable();
  const addresses = Array.from({ length: 1000 }, () => address(random));
  const ids = addresses.map((a) => {
    const id = table.intern(a, 0);
    table.ref(id);
    return id;
  });
  assert.deepEqual(ids, addresses.map((_, i) => i), 'ids are not given out from 0 up');
  assert.equal(table.capacity, 1000);
  // Free 10, 500 and the 400 highest: the range ends at 600, and new addresses take 10 and 500.
  table.unref(10);
  table.unref(500);
  for (let i = 600; i < 1000; i++) table.unref(i);
  assert.equal(table.capacity, 600, 'the range kept its freed top');
  const next = [address(random), address(random), address(random)].map((a) => table.intern(a, 0));
  assert.deepEqual(next, [10, 500, 600], 'free ids were not reused lowest first');
  assert.equal(table.idOf(addresses[700]!, 0), undefined);
  assert.equal(table.idOf(addresses[599]!, 0), 599);
});

test('the table keeps its own copy of an address, not the caller’s array', () => {
  const table = new IdTable();
  const a = address(rng(1));
  const original = a.slice();
  const id = table.intern(a, 0);
  table.ref(id);
  a[15]! ^= 1;
  assert.equal(table.idOf(original, 0), id, 'the caller’s array was kept, not copied');
  assert.equal(table.idOf(a, 0), undefined);
});

test('a reference dropped once too often is refused, and leaves the id given out since alone', () => {
  const random = rng(9);
  const table = new IdTable();
  const a = address(random);
  const id = table.intern(a, 0);
  table.ref(id);
  assert.equal(table.unref(id), true);
  assert.throws(() => table.unref(id), /holds no reference/);
  // The id goes to the next address; a stray drop of the old one must not free it.
  const b = address(random);
  const reused = table.intern(b, 0);
  table.ref(reused);
  table.ref(reused);
  assert.equal(reused, id);
  assert.equal(table.unref(reused), false);
  assert.equal(table.idOf(b, 0), reused);
  assert.equal(table.unref(reused), true);
  assert.throws(() => table.unref(reused), /holds no reference/);
  assert.equal(table.size, 0);
});
