// The transport replay window: each counter once, reordering within 8192 counters, nothing older.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayWindow, WINDOW_SIZE } from '../../src/session/replay.js';
import { REJECT_AFTER_COUNTER } from '../../src/noise/constants.js';

test('the window is 8192 counters', () => {
  assert.equal(WINDOW_SIZE, 8192);
});

test('in-order counters are accepted, from counter 0', () => {
  const w = new ReplayWindow();
  assert.equal(w.highest, -1);
  for (let c = 0; c < 20_000; c++) assert.equal(w.accept(c), true, `counter ${c}`);
  assert.equal(w.highest, 19_999);
});

test('counter 0 is accepted once', () => {
  const w = new ReplayWindow();
  assert.equal(w.mayAccept(0), true);
  assert.equal(w.accept(0), true);
  assert.equal(w.mayAccept(0), false);
  assert.equal(w.accept(0), false);
});

test('duplicates are refused', () => {
  const w = new ReplayWindow();
  for (const c of [0, 1, 2, 5, 100]) assert.equal(w.accept(c), true);
  for (const c of [0, 1, 2, 5, 100]) {
    assert.equal(w.mayAccept(c), false, `mayAccept ${c}`);
    assert.equal(w.accept(c), false, `accept ${c}`);
  }
});

test('reordered counters within the window are accepted exactly once', () => {
  const w = new ReplayWindow();
  assert.equal(w.accept(5000), true);
  const order = [4999, 10, 0, 4000, 3, 4998, 1];
  for (const c of order) assert.equal(w.accept(c), true, `first ${c}`);
  for (const c of order) assert.equal(w.accept(c), false, `again ${c}`);
  // Gaps stay open.
  assert.equal(w.accept(2), true);
  assert.equal(w.accept(4997), true);
});

test('a shuffled block of counters is accepted once each, across word boundaries', () => {
  const w = new ReplayWindow();
  const counters = Array.from({ length: 3000 }, (_, i) => i + 100_000);
  // Deterministic shuffle, displacements well inside the window.
  let seed = 7;
  for (let i = counters.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [counters[i], counters[j]] = [counters[j]!, counters[i]!];
  }
  for (const c of counters) assert.equal(w.accept(c), true, `first ${c}`);
  for (const c of counters) assert.equal(w.accept(c), false, `again ${c}`);
});

test('the window boundary: 8191 behind the highest is accepted, 8192 behind is refused', () => {
  for (const top of [8192, 8192 + 31, 8192 + 32, 100_000, 100_017, 2 ** 40 + 5]) {
    const w = new ReplayWindow();
    assert.equal(w.accept(top), true);
    assert.equal(w.mayAccept(top - WINDOW_SIZE), false, `top ${top}: exactly 8192 back`);
    assert.equal(w.accept(top - WINDOW_SIZE), false);
    assert.equal(w.accept(top - WINDOW_SIZE - 1), false);
    assert.equal(w.accept(top - (WINDOW_SIZE - 1)), true, `top ${top}: 8191 back`);
    assert.equal(w.accept(top - (WINDOW_SIZE - 1)), false);
  }
});

test('counters that fall out of the window as it advances are refused', () => {
  const w = new ReplayWindow();
  const x = 11;
  assert.equal(w.accept(x + WINDOW_SIZE - 2), true);
  assert.equal(w.mayAccept(x), true, '8190 behind the top');
  assert.equal(w.accept(x + WINDOW_SIZE - 1), true);
  assert.equal(w.mayAccept(x), true, '8191 behind the top');
  assert.equal(w.accept(x + WINDOW_SIZE), true);
  assert.equal(w.mayAccept(x), false, 'now 8192 behind the top');
  assert.equal(w.mayAccept(x + 1), true);
});

test('advancing word by word never loses a seen counter inside the window', () => {
  const w = new ReplayWindow();
  // Accept every third counter while advancing far past one ring; every accepted counter still in
  // the window must stay refused, every skipped one in the window must stay acceptable.
  const seen = new Set<number>();
  for (let c = 0; c < 40_000; c += 3) {
    assert.equal(w.accept(c), true);
    seen.add(c);
    if (c % 999 === 0) {
      for (let back = 0; back < WINDOW_SIZE && back <= c; back += 37) {
        const k = c - back;
        assert.equal(w.mayAccept(k), !seen.has(k), `at ${c}, counter ${k}`);
      }
    }
  }
});

test('a large jump clears the window', () => {
  const w = new ReplayWindow();
  for (let c = 0; c < 100; c++) w.accept(c);
  const far = 1_000_000;
  assert.equal(w.accept(far), true);
  // Everything before far − 8191 is too old; everything after it except `far` is open, including
  // counters whose ring words held bits before the jump.
  assert.equal(w.accept(50), false);
  for (let c = far - WINDOW_SIZE + 1; c < far; c++) assert.equal(w.mayAccept(c), true, `counter ${c}`);
  assert.equal(w.mayAccept(far), false);
  // A jump by less than a ring's worth reuses words: the bits of the old positions must be gone.
  const v = new ReplayWindow();
  for (let c = 0; c < 8192; c++) v.accept(c);
  assert.equal(v.accept(8192 + 4000), true);
  for (let c = 8192; c < 8192 + 4000; c++) assert.equal(v.mayAccept(c), true, `after jump, ${c}`);
  for (let c = 4001; c < 8192; c++) assert.equal(v.mayAccept(c), false, `after jump, old ${c}`);
});

test('mayAccept does not change the window', () => {
  const w = new ReplayWindow();
  for (let c = 0; c < 64; c++) assert.equal(w.mayAccept(c), true);
  assert.equal(w.mayAccept(1_000_000), true);
  assert.equal(w.highest, -1, 'mayAccept moved the window');
  assert.equal(w.accept(10), true);
  assert.equal(w.mayAccept(1_000_000), true);
  assert.equal(w.mayAccept(3), true);
  assert.equal(w.highest, 10);
  assert.equal(w.accept(3), true, '3 was only looked at, not recorded');
  assert.equal(w.accept(1_000_000 - WINDOW_SIZE - 5), true, 'the window did not advance to 1 000 000');
});

test('negative, fractional and too-large counters are refused', () => {
  const w = new ReplayWindow();
  for (const c of [-1, 0.5, Number.NaN, Infinity, REJECT_AFTER_COUNTER, 2 ** 53, 2 ** 60]) {
    assert.equal(w.mayAccept(c), false, `counter ${c}`);
    assert.equal(w.accept(c), false, `counter ${c}`);
  }
  assert.equal(w.accept(REJECT_AFTER_COUNTER - 1), true);
  assert.equal(w.accept(REJECT_AFTER_COUNTER - 1), false);
  assert.equal(w.accept(REJECT_AFTER_COUNTER - 100), true);
  const small = new ReplayWindow(10);
  assert.equal(small.accept(9), true);
  assert.equal(small.accept(10), false);
});

test('reset forgets everything', () => {
  const w = new ReplayWindow();
  for (let c = 0; c < 50; c++) w.accept(c);
  w.accept(123_456);
  w.reset();
  assert.equal(w.highest, -1);
  for (let c = 0; c < 50; c++) assert.equal(w.accept(c), true);
});
