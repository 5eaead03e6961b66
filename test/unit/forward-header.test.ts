// The routed frame header: written, checked, rewritten hop by hop, and read backwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_LABEL,
  OFF_POINTER,
  checkRoutedHeader,
  encodeRoute,
  payloadLength,
  readSlot,
  reverseRoute,
  routeLabel,
  routeLink,
  routedHeaderLength,
  routedPacketMtu,
  writeRoutedHeader,
  writeSlot,
  KIND_MESSAGE,
} from '../../src/forward/header.js';

function frame(label: number[], payload: number): Uint8Array {
  const buf = new Uint8Array(routedHeaderLength(label.length) + payload);
  writeRoutedHeader(buf, 0, KIND_MESSAGE, 64, label, payload);
  return buf;
}

test('a written header checks out and says where its payload is', () => {
  const buf = frame([7, 300, 65535], 100);
  assert.equal(checkRoutedHeader(buf, 0, buf.length), routedHeaderLength(3));
  assert.equal(payloadLength(buf, 0), 100);
  assert.deepEqual([0, 1, 2].map((s) => readSlot(buf, 0, s)), [7, 300, 65535]);
});

test('malformed headers are refused', () => {
  const ok = frame([1, 2], 10);
  const bad = (mutate: (b: Uint8Array) => void, len = ok.length): number => {
    const b = ok.slice();
    mutate(b);
    return checkRoutedHeader(b, 0, len);
  };
  assert.equal(bad(() => {}, 6), -1, 'shorter than the fixed header');
  assert.equal(bad((b) => (b[1] = 9)), -1, 'unknown kind');
  assert.equal(bad((b) => (b[OFF_POINTER] = 3)), -1, 'pointer past the label');
  assert.equal(bad((b) => (b[4] = MAX_LABEL + 1)), -1, 'label over the bound');
  assert.equal(bad((b) => (b[6] = 11)), -1, 'payload past the frame');
  assert.equal(bad(() => {}, ok.length - 1), -1, 'frame cut short');
  // Hop padding after the payload is fine.
  const padded = new Uint8Array(ok.length + 5);
  padded.set(ok);
  assert.equal(checkRoutedHeader(padded, 0, padded.length), routedHeaderLength(2));
});

test('rewritten at each transit, the label read backwards is the route home', () => {
  // Origin → T1 → T2 → T3 → destination. Each transit reads its slot (the way out) and writes
  // the index the frame came in by.
  const outIndices = [5, 9, 2];
  const inIndices = [11, 4, 8]; // T1 knows the origin as 11, T2 knows T1 as 4, T3 knows T2 as 8
  const buf = frame(outIndices, 0);
  for (let t = 0; t < 3; t++) {
    assert.equal(readSlot(buf, 0, buf[OFF_POINTER]!), outIndices[t]);
    writeSlot(buf, 0, t, inIndices[t]!);
    buf[OFF_POINTER] = t + 1;
  }
  // The destination knows T3 as 3: out by 3, then T3 leaves by 8, T2 by 4, T1 by 11.
  const back = reverseRoute(buf, 0, 3);
  assert.equal(routeLink(back), 3);
  assert.deepEqual(routeLabel(back), [8, 4, 11]);
  // A transit (T2, before its own rewrite) gets the way back to the origin only.
  const mid = frame(outIndices, 0);
  writeSlot(mid, 0, 0, 11);
  mid[OFF_POINTER] = 1;
  const fromT2 = reverseRoute(mid, 0, 4);
  assert.equal(routeLink(fromT2), 4);
  assert.deepEqual(routeLabel(fromT2), [11]);
});

test('a route encodes and decodes', () => {
  const r = encodeRoute(513, [1, 65535]);
  assert.equal(routeLink(r), 513);
  assert.deepEqual(routeLabel(r), [1, 65535]);
  assert.deepEqual(routeLabel(encodeRoute(1, [])), []);
});

test('the packet a route carries shrinks with its label', () => {
  assert.equal(routedPacketMtu(1420, 0), 1420 - 7 - 32);
  assert.equal(routedPacketMtu(1420, 3), 1375);
});
