// Packets held while a lookup runs (src/node/lookup-queue.ts): one lookup per address however many
// packets wait, at most 8 packets per address (the oldest go), at most 256 addresses at once (the
// rest refused and counted, so a host scanning fc00::/8 cannot start a lookup per address); the
// packets go out when the lookup finds the node, or are answered "no route" when it does not, as
// are packets to that address for UNREACHABLE_MS after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LookupQueue, MAX_DESTINATIONS, MAX_PACKETS_PER_DESTINATION, UNREACHABLE_MS } from '../../src/node/lookup-queue.js';
import type { LookupResult } from '../../src/routing/routing.js';

/** A 48-byte IPv6 header to `dst` (fc00::/8, ending in `n`), tagged `tag` in its last byte. */
function packet(n: number, tag = 0): Uint8Array {
  const p = new Uint8Array(48);
  p[0] = 0x60;
  p[24] = 0xfc;
  p[38] = n >> 8;
  p[39] = n & 0xff;
  p[47] = tag;
  return p;
}

function harness() {
  const located: number[] = [];
  const resent: Uint8Array[][] = [];
  const refused: Uint8Array[] = [];
  const queue = new LookupQueue({
    locate: (address) => located.push((address[14]! << 8) | address[15]!),
    resend: (packets) => resent.push(packets),
    noRoute: (p) => refused.push(p),
  });
  const result = (n: number, found: boolean): LookupResult => ({ target: packet(n).subarray(24, 40), found, located: found, hops: 4, requests: 3, ms: 10 });
  return { queue, located, resent, refused, result };
}

test('packets wait for one lookup per address, at most 8 each, and go out when it finds the node', () => {
  const h = harness();
  for (let tag = 0; tag < 10; tag++) assert.ok(h.queue.hold(packet(1, tag), 0, 48, 0));
  assert.deepEqual(h.located, [1], 'one lookup for ten packets');
  assert.equal(h.queue.size, 1);
  h.queue.done(h.result(1, true), 5);
  assert.equal(h.resent.length, 1);
  assert.equal(h.resent[0]!.length, MAX_PACKETS_PER_DESTINATION);
  assert.deepEqual(
    h.resent[0]!.map((p) => p[47]),
    [2, 3, 4, 5, 6, 7, 8, 9],
    'the newest eight, in order',
  );
  assert.equal(h.queue.size, 0);
  // A result nobody waits for changes nothing.
  h.queue.done(h.result(7, true), 6);
  assert.equal(h.resent.length, 1);
});

test('a lookup that finds nothing: its packets get "no route", and so does the address for UNREACHABLE_MS', () => {
  const h = harness();
  h.queue.hold(packet(2, 1), 0, 48, 0);
  h.queue.hold(packet(2, 2), 0, 48, 0);
  h.queue.done(h.result(2, false), 100);
  assert.deepEqual(
    h.refused.map((p) => p[47]),
    [1, 2],
  );
  assert.equal(h.queue.failed, 2);
  assert.equal(h.queue.hold(packet(2, 3), 0, 48, 100 + UNREACHABLE_MS - 1), false, 'refused at once');
  assert.deepEqual(h.located, [2], 'no second lookup within the window');
  h.queue.sweep(100 + UNREACHABLE_MS);
  assert.equal(h.queue.hold(packet(2, 4), 0, 48, 100 + UNREACHABLE_MS), true, 'looked for again after it');
  assert.deepEqual(h.located, [2, 2]);
});

test('at most MAX_DESTINATIONS addresses wait at once: the rest are refused and counted, and start no lookup', () => {
  const h = harness();
  for (let n = 0; n < MAX_DESTINATIONS; n++) assert.ok(h.queue.hold(packet(n), 0, 48, 0));
  assert.equal(h.queue.hold(packet(MAX_DESTINATIONS), 0, 48, 0), false);
  assert.equal(h.queue.full, 1);
  assert.equal(h.located.length, MAX_DESTINATIONS);
  // An address already waiting still takes packets; once one ends, a new address may wait.
  assert.ok(h.queue.hold(packet(3, 9), 0, 48, 0));
  h.queue.done(h.result(3, true), 1);
  assert.ok(h.queue.hold(packet(MAX_DESTINATIONS), 0, 48, 1));
  assert.equal(h.located.length, MAX_DESTINATIONS + 1);
});
