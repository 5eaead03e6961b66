// The forwarding stage (src/forward/forwarder.ts) on frames the test writes, at their boundaries:
// what it decides, what it counts, and how it rewrites a frame it passes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROPPED, EXPIRED, FORWARD, FOR_US, Forwarder, NO_LINK } from '../../src/forward/forwarder.js';
import {
  KIND_MESSAGE,
  MAX_LABEL,
  OFF_HOP_LIMIT,
  OFF_POINTER,
  OFF_SLOTS,
  checkRoutedHeader,
  readSlot,
  routedHeaderLength,
  writeRoutedHeader,
} from '../../src/forward/header.js';
import { Counters } from '../../src/util/counters.js';

/** Links 1..4 are up. */
function forwarder() {
  const counters = new Counters();
  return { f: new Forwarder((link) => link >= 1 && link <= 4, counters), counters };
}

/** A frame at offset 3 of a larger buffer (so offsets are not assumed 0), with `payload` bytes. */
function frame(label: number[], hopLimit: number, payload: number, pointer = 0): { buf: Uint8Array; len: number } {
  const buf = new Uint8Array(3 + routedHeaderLength(label.length) + payload + 5);
  writeRoutedHeader(buf, 3, KIND_MESSAGE, hopLimit, label, payload);
  buf[3 + OFF_POINTER] = pointer;
  return { buf, len: routedHeaderLength(label.length) + payload };
}

test('passed on: the slot becomes the way back, the pointer moves on, the hop limit drops by one', () => {
  const { f, counters } = forwarder();
  const { buf, len } = frame([2, 3], 9, 20);
  assert.equal(f.decide(buf, 3, len, 1), FORWARD);
  assert.equal(f.nextLink, 2);
  assert.equal(readSlot(buf, 3, 0), 1, 'the slot does not name the link it came in by');
  assert.equal(buf[3 + OFF_POINTER], 1);
  assert.equal(buf[3 + OFF_HOP_LIMIT], 8);
  assert.equal(readSlot(buf, 3, 1), 3, 'the next slot was touched');
  assert.deepEqual({ ...counters.snapshot() }, { ...new Counters().snapshot() }, 'something was counted');
});

test('for us: the label is used up; the payload is where the header says', () => {
  const { f } = forwarder();
  const { buf, len } = frame([2], 1, 20, 1);
  assert.equal(f.decide(buf, 3, len, 1), FOR_US, 'a frame for us was held to its hop limit');
  assert.equal(f.payloadStart, 3 + routedHeaderLength(1));
  assert.equal(f.payloadLength, 20);
});

test('a hop limit of 1 or 0 expires at a transit and is counted; 2 goes on', () => {
  for (const [hopLimit, verdict] of [
    [0, EXPIRED],
    [1, EXPIRED],
    [2, FORWARD],
  ] as const) {
    const { f, counters } = forwarder();
    const { buf, len } = frame([2], hopLimit, 12);
    assert.equal(f.decide(buf, 3, len, 1), verdict, `hop limit ${hopLimit}`);
    assert.equal(counters.hopLimitExceeded, verdict === EXPIRED ? 1 : 0);
    if (verdict === EXPIRED) {
      assert.equal(f.payloadStart, 3 + routedHeaderLength(1));
      assert.equal(f.payloadLength, 12);
      assert.equal(buf[3 + OFF_POINTER], 0, 'an expired frame was rewritten');
    }
  }
});

test('a label back the way it came is dropped; one to a link that is down too, naming that link for the report; both counted', () => {
  for (const next of [1, 5, 0]) {
    const { f, counters } = forwarder();
    const { buf, len } = frame([next], 9, 4);
    assert.equal(f.decide(buf, 3, len, 1), next === 1 ? DROPPED : NO_LINK, `next link ${next}`);
    if (next !== 1) assert.equal(f.nextLink, next);
    assert.equal(buf[3 + OFF_POINTER], 0, 'a dropped frame was rewritten');
    assert.equal(counters.badLabel, 1);
  }
});

test('malformed frames are dropped and counted; the boundaries of a valid header hold', () => {
  const { f, counters } = forwarder();
  const short = frame([], 9, 0);
  assert.equal(checkRoutedHeader(short.buf, 3, OFF_SLOTS), OFF_SLOTS, 'a header of OFF_SLOTS bytes with no slots is valid');
  assert.equal(checkRoutedHeader(short.buf, 3, OFF_SLOTS - 1), -1);
  const longest = frame(new Array<number>(MAX_LABEL).fill(2), 9, 0);
  assert.equal(checkRoutedHeader(longest.buf, 3, longest.len), routedHeaderLength(MAX_LABEL), 'a label of MAX_LABEL slots is valid');
  longest.buf[3 + 4] = MAX_LABEL + 1;
  assert.equal(checkRoutedHeader(longest.buf, 3, longest.buf.length - 3), -1);
  const cut = frame([2], 9, 10);
  assert.equal(f.decide(cut.buf, 3, cut.len - 1, 1), DROPPED, 'a payload past the frame');
  assert.equal(counters.malformed, 1);
});
