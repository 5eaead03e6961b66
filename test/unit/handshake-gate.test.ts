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
  assert.ok(gate.admit('flood', WINDOW_MS), 'the next window starts afresh');
});

test('new sources past the table bound wait for the next window once the budget is spent', () => {
  const gate = new HandshakeGate(perSecond(1), perSecond(1000), 3);
  for (const source of ['a', 'b', 'c']) gate.charge(source, 0, 1);
  assert.ok(!gate.admit('d', 1), 'a fourth source bought a share');
  assert.ok(gate.admit('a', 1), 'a counted source keeps its share');
  gate.charge('d', 1, 50);
  assert.ok(!gate.admit('d', 2), 'an uncounted source was counted after all');
  assert.ok(gate.admit('d', WINDOW_MS));
});
