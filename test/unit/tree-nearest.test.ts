// The index behind Trees.nextHop at a node of many neighbours (src/routing/tree-nearest.ts): for
// random places, the neighbour it names is the one a look at every neighbour names — the nearest
// along the tree, the lowest link among equals, and none unless strictly nearer than the bound
// (or as near, with a lower link, as a neighbour known otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../../bench/sim/graph.js';
import { treeDistance } from '../../src/routing/coordinates.js';
import { NearestIndex } from '../../src/routing/tree-nearest.js';

function scan(places: Map<number, Uint16Array>, target: Uint16Array, within: number, known = -1): number {
  let best = within;
  let chosen = known;
  for (const [link, p] of places) {
    const d = treeDistance(p, target);
    if (d < best || (d === best && chosen !== -1 && link < chosen)) {
      best = d;
      chosen = link;
    }
  }
  return chosen;
}

// Few ports, so that places share prefixes and distances tie often; and many, so that a node of
// the trie has dozens of children (a hub's own node has hundreds), kept sorted by port.
for (const ports of [3, 40]) {
  test(`the nearest neighbour by the index is the nearest by a scan of all (${ports} ports a level)`, () => {
    const random = rng(16);
    const place = () => Uint16Array.from({ length: Math.floor(random() * 7) }, () => 1 + Math.floor(random() * ports));
    let found = 0;
    for (let round = 0; round < 300; round++) {
      const places = new Map<number, Uint16Array>();
      const count = 1 + Math.floor(random() * 60);
      while (places.size < count) places.set(1 + Math.floor(random() * 500), place());
      const index = new NearestIndex();
      for (const [link, p] of places) index.add(link, p);
      for (let q = 0; q < 40; q++) {
        const target = place();
        const within = Math.floor(random() * 12);
        const expected = scan(places, target, within);
        assert.equal(index.nearest(target, within), expected, `round ${round}: target ${target.join('.')} within ${within}`);
        if (expected !== -1) found++;
        // A neighbour known otherwise at `within` hops (a child, which Trees keeps out of the
        // index): one of the index's replaces it only if nearer, or as near with a lower link.
        const known = 1 + Math.floor(random() * 500);
        assert.equal(index.nearest(target, within, known), scan(places, target, within, known), `round ${round}: known ${known}`);
      }
    }
    assert.ok(found > 3000, `only ${found} queries had an answer`);
  });
}

