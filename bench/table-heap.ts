// What a lookup table of signed locators (src/routing/dht-table.ts) takes of the JavaScript heap,
// beside the bytes its state count says (docs/ROUTING.md "What holds", state): tables of 92
// contacts, as powerlaw-10000's hub holds, each contact a locator in four trees 3 and 4 deep
// under the same four roots, as nearly all are. The count is of what the table keeps (keys,
// signatures, coordinates, addresses, a shared root once); the heap adds each object's header,
// the maps' entries and the cache of addresses by key (locator.ts's addressOf).
//
// Run:  npm run bench:table-heap [-- --tables N]
import { randomBytes } from 'node:crypto';
import { fcAddressBytes } from '../src/keys/address.js';
import { DhtTable } from '../src/routing/dht-table.js';
import { signLocator, type Locator } from '../src/routing/locator.js';
import { benchArgs } from './sim/args.js';
import { liveHeap } from './sim/heap.js';

const CONTACTS = 92;
const DEPTHS = [3, 4, 3, 4];
const ROOTS = DEPTHS.map(() => randomBytes(8));

/** A locator of a new key in every tree, encoded as locator.ts signs one, its signature random:
 *  the table does not check it. */
function locator(): Locator {
  const places = DEPTHS.map((depth, tree) => ({ tree, root: ROOTS[tree]!, coordinates: Uint16Array.from({ length: depth }, (_, i) => 1 + 7 * i + tree) }));
  return signLocator(() => randomBytes(64), randomBytes(32), Date.now(), places);
}

const heap = (): number => {
  const live = liveHeap();
  if (!live) throw new Error('run with node --expose-gc');
  return live.heapUsed + live.arrayBuffers;
};

const { values } = benchArgs({ tables: '500' });
const count = Number(values.tables);
const before = heap();
const tables: DhtTable[] = [];
for (let i = 0; i < count; i++) {
  const table = new DhtTable(fcAddressBytes(randomBytes(32)), CONTACTS);
  for (let j = 0; j < CONTACTS; j++) table.add(locator(), 0, true);
  tables.push(table);
}
const held = (heap() - before) / count;
const counted = tables.reduce((n, t) => n + t.stateBytes(), 0) / count;
console.log(`${count} tables of ${CONTACTS} contacts: heap ${(held / 1024).toFixed(1)} KiB a table (${(held / CONTACTS).toFixed(0)} bytes a contact), counted ${(counted / 1024).toFixed(1)} KiB (${(counted / CONTACTS).toFixed(0)} a contact); heap / count ${(held / counted).toFixed(2)}`);
