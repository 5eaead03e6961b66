// The fair share of handshake work (src/session/handshake-gate.ts), on a logical clock and with
// the work given in milliseconds, so every boundary is exact. Budgets are per second; the gate
// accounts them per window of WINDOW_MS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HandshakeGate, WINDOW_MS } from '../../src/session/handshake-gate.js';

const perSecond = (msPerWindow: number) => (msPerWindow * 1000) / WINDOW_MS;

test('within the budget every source is looked at', () => {
  const gate = new HandshakeGate(perSecond(10), perSecond(40), 3);
  assert.equal(gate.charge('flood', 0, 9), false, 'not yet under load');
  assert.ok(gate.admit('flood', 0) && gate.admit('quiet', 0));
});

test('past the budget a source that spent its share is shed, and a quiet one still gets its turn', () => {
  const gate = new HandshakeGate(perSecond(10), perSecond(40), 3);
  assert.equal(gate.charge('flood', 0, 11), true, 'past the budget: under load');
  assert.ok(gate.admit('flood', 1), 'alone, the flood may use half the cap');
  gate.charge('flood', 1, 10);
  assert.ok(!gate.admit('flood', 2), 'past half the cap');
  assert.ok(gate.admit('quiet', 2), 'a source that spent nothing is looked at');
  gate.charge('quiet', 2, 0.1);
  assert.ok(!gate.admit('flood', 3), 'two sources: the flood is past its third');
  assert.ok(gate.admit('quiet', 3), 'and the quiet one is still within its own');
  // What each source spent halves with every window (21 → 10.5 ms here) instead of starting
  // over: once the next window's budget is spent too, the flood is still past its share (a
  // quarter of 40 ms, with three sources known) and the quiet source is not.
  gate.charge('other', WINDOW_MS, 11);
  assert.ok(!gate.admit('flood', WINDOW_MS + 1), 'a new window forgave a flooding source');
  assert.ok(gate.admit('quiet', WINDOW_MS + 1));
  // Three more windows bring it to 1.3 ms: under its share again.
  gate.charge('other', 4 * WINDOW_MS, 11);
  assert.ok(gate.admit('flood', 4 * WINDOW_MS + 1), 'a source that stopped flooding was never forgiven');
});

test('new sources past the table bound wait until known ones are forgotten', () => {
  const gate = new HandshakeGate(perSecond(1), perSecond(1000), 3);
  for (const source of ['a', 'b', 'c']) gate.charge(source, 0, 1);
  assert.ok(!gate.admit('d', 1), 'a fourth source bought a share');
  assert.ok(gate.admit('a', 1), 'a counted source keeps its share');
  gate.charge('d', 1, 50);
  assert.ok(!gate.admit('d', 2), 'an uncounted source was counted after all');
  gate.charge('a', WINDOW_MS, 2); // the budget spent in the next window too: still full
  assert.ok(!gate.admit('d', WINDOW_MS + 1), 'a known source was forgotten after one window');
  // Ten windows of quiet halve 1 ms below 1 µs: the table is empty again.
  gate.charge('x', 11 * WINDOW_MS, 5);
  assert.ok(gate.admit('d', 11 * WINDOW_MS + 1), 'the quiet sources were never forgotten');
});
