// TAI64N timestamps: layout, ordering, monotonic over time, and the coarse nanosecond field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TAI64N_GRANULARITY_NS, tai64nAfter, tai64nNow } from '../../src/noise/tai64n.js';

const seconds = (t: Uint8Array): bigint => new DataView(t.buffer, t.byteOffset).getBigUint64(0, false);
const nanos = (t: Uint8Array): number => new DataView(t.buffer, t.byteOffset).getUint32(8, false);

test('layout: 2^62 + 10 + Unix seconds, big-endian, then nanoseconds', () => {
  const t = tai64nNow(0);
  assert.equal(t.length, 12);
  assert.equal(Buffer.from(t).toString('hex'), '400000000000000a' + '00000000');
  const u = tai64nNow(1_700_000_000_500);
  assert.equal(seconds(u), 2n ** 62n + 10n + 1_700_000_000n);
  assert.equal(nanos(u), 500_000_000 - (500_000_000 % 2 ** 24));
  assert.equal(u[0], 0x40, 'seconds are big-endian');
});

test('the nanoseconds are coarse: multiples of 2^24 ns, so stamps within one step are equal', () => {
  assert.equal(TAI64N_GRANULARITY_NS, 2 ** 24);
  for (let ms = 0; ms < 1000; ms += 7) assert.equal(nanos(tai64nNow(5_000_000 + ms)) % 2 ** 24, 0, `${ms} ms`);
  // 2^24 ns = 16.777216 ms: 1 ms and 16 ms fall in the first step, 17 ms in the second.
  assert.deepEqual(tai64nNow(1_000_001), tai64nNow(1_000_016));
  assert.equal(tai64nAfter(tai64nNow(1_000_017), tai64nNow(1_000_016)), true);
  assert.equal(nanos(tai64nNow(1_000_017)), 2 ** 24);
  // The last step of a second stays below 10^9 ns.
  assert.ok(nanos(tai64nNow(1_000_999)) < 1e9);
});

test('monotonic: later times never give an earlier stamp, and do give a later one across steps', () => {
  let prev = tai64nNow(1_600_000_000_000);
  let increases = 0;
  for (let ms = 1_600_000_000_000; ms < 1_600_000_003_000; ms += 3) {
    const t = tai64nNow(ms);
    assert.equal(tai64nAfter(prev, t), false, `went backwards at ${ms}`);
    if (tai64nAfter(t, prev)) increases++;
    prev = t;
  }
  // 3 s hold 3 × 60 steps of 16.8 ms (59.6 per second, rounded by each second boundary).
  assert.ok(increases >= 175 && increases <= 180, `${increases} increases`);
  // Successive real calls do not go backwards either.
  const a = tai64nNow();
  const b = tai64nNow();
  assert.equal(tai64nAfter(a, b), false);
});

test('ordering: strictly later only; equal is not later; seconds outweigh nanoseconds', () => {
  const a = tai64nNow(2_000_000_000);
  const b = tai64nNow(2_000_000_100);
  assert.equal(tai64nAfter(b, a), true);
  assert.equal(tai64nAfter(a, b), false);
  assert.equal(tai64nAfter(a, a.slice()), false);
  const endOfSecond = tai64nNow(2_000_000_999); // large nanoseconds
  const nextSecond = tai64nNow(2_000_001_000); // zero nanoseconds
  assert.equal(tai64nAfter(nextSecond, endOfSecond), true);
  assert.equal(tai64nAfter(endOfSecond, nextSecond), false);
  // A year apart, and the byte order matters (a little-endian compare would get this wrong).
  assert.equal(tai64nAfter(tai64nNow(1_700_000_000_000 + 365 * 86_400_000), tai64nNow(1_700_000_000_000)), true);
  assert.equal(tai64nAfter(tai64nNow(256_000), tai64nNow(255_000)), true);
  assert.throws(() => tai64nAfter(new Uint8Array(11), a));
});
