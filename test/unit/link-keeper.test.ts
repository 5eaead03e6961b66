// The self-maintaining set of links (node/link-keeper.ts) against a host the test plays: which
// links there are, which candidates, what each link is worth; the keeper's decisions recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_KEEPER_OPTIONS, LinkKeeper, type KeptLink } from '../../src/node/link-keeper.js';

function harness(target = 3, candidates: string[] = ['c1', 'c2', 'c3', 'c4', 'c5'], options: Partial<typeof DEFAULT_KEEPER_OPTIONS> = {}) {
  const links = new Map<string, KeptLink>();
  const calls: string[] = [];
  let now = 0;
  const keeper = new LinkKeeper(
    { ...DEFAULT_KEEPER_OPTIONS, ...options, target },
    {
      links: () => [...links.values()],
      candidates: () => candidates.filter((c) => !links.has(c)),
      connect: (peerId) => {
        calls.push(`connect ${peerId}`);
        links.set(peerId, { peerId, up: false, managed: true, since: now, routes: 0, traffic: 0 });
      },
      drop: (peerId) => {
        calls.push(`drop ${peerId}`);
        links.delete(peerId);
      },
      random: () => 0, // always the first candidate: the test knows which
    },
    now,
  );
  const tick = (at: number) => {
    now = at;
    keeper.tick(at);
  };
  const up = (peerId: string, routes = 0) => Object.assign(links.get(peerId)!, { up: true, routes });
  return { keeper, links, calls, tick, up };
}

test('below the target it links to candidates; links of every origin count, and pending ones are not dialled twice', () => {
  const { links, calls, tick } = harness(3);
  links.set('config', { peerId: 'config', up: true, managed: false, since: 0, routes: 10, traffic: 0 });
  tick(1000);
  // random() is 0: the first candidate, then the last moved into its place.
  assert.deepEqual(calls, ['connect c1', 'connect c5'], 'two more to reach three');
  tick(2000);
  assert.deepEqual(calls, ['connect c1', 'connect c5'], 'dialled again while the first dials were pending');
});

test('a link it made that never comes up is dropped, and its node rests, twice as long each time', () => {
  // A dial is given 10 s; a node that failed rests 60 s, then 120 s.
  const { calls, tick } = harness(1, ['c1', 'c2'], { deadAfterMs: 10_000, retryAfterMs: 60_000 });
  tick(0);
  tick(10_000);
  assert.deepEqual(calls, ['connect c1', 'drop c1', 'connect c2'], 'the dead link was kept, or its node dialled again at once');
  tick(20_000);
  assert.deepEqual(calls.slice(3), ['drop c2'], 'a resting node was dialled');
  tick(69_999);
  assert.equal(calls.length, 4, 'c1 was dialled before its rest was over');
  tick(70_000);
  assert.deepEqual(calls.slice(4), ['connect c1']);
  tick(80_000); // c1 fails again: it rests 120 s now; c2's 60 s are over
  assert.deepEqual(calls.slice(5), ['drop c1', 'connect c2']);
  tick(90_000); // c2 fails again, and rests 120 s
  tick(199_999);
  assert.deepEqual(calls.slice(7), ['drop c2'], 'a node that failed twice rested only as long as the first time');
  tick(200_000);
  assert.deepEqual(calls.slice(8), ['connect c1']);
});

test('now and then the least useful link it made gives way to a candidate; links it did not make never do', () => {
  const { links, calls, tick, up } = harness(2, ['c1', 'c2', 'c3']);
  links.set('config', { peerId: 'config', up: true, managed: false, since: 0, routes: 0, traffic: 0 });
  tick(0);
  assert.deepEqual(calls, ['connect c1']);
  up('c1', 7);
  const { replaceEveryMs, minAgeMs } = DEFAULT_KEEPER_OPTIONS;
  tick(replaceEveryMs);
  assert.deepEqual(calls, ['connect c1'], 'replaced a link younger than minAgeMs');
  tick(minAgeMs + replaceEveryMs);
  assert.deepEqual(calls, ['connect c1', 'drop c1', 'connect c2'], 'the config link (no routes) was dropped, or nothing was replaced');
  // Two of its own: the one with fewer routes goes.
  const { calls: calls2, tick: tick2, up: up2 } = harness(2, ['c1', 'c2', 'c3']);
  tick2(0);
  assert.deepEqual(calls2, ['connect c1', 'connect c3']);
  up2('c1', 9);
  up2('c3', 4);
  tick2(minAgeMs + replaceEveryMs);
  assert.deepEqual(calls2.slice(2), ['drop c3', 'connect c2']);
});

test('with no candidate to take its place, no link is dropped', () => {
  const { calls, tick, up } = harness(1, ['c1']);
  tick(0);
  up('c1');
  tick(DEFAULT_KEEPER_OPTIONS.minAgeMs + DEFAULT_KEEPER_OPTIONS.replaceEveryMs);
  assert.deepEqual(calls, ['connect c1']);
});
