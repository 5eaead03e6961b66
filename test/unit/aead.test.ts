// The native ChaCha20-Poly1305 against node:crypto (same key and WireGuard nonce, no AAD), in
// single and batch form, plus the failure cases: tampering, wrong key, freed keys, bad bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { native, OPEN_FAILED } from '../../src/native/addon.js';
import { AeadKey, openBatch, sealBatch } from '../../src/session/aead.js';
import { PacketBatch } from '../../src/transport/batch.js';
import { TAG_SIZE } from '../../src/util/protocol.js';

const LENGTHS = [0, 1, 15, 16, 17, 63, 64, 65, 1420];
/** Around the 64 KB pieces the keystream is made in: one piece, a byte over, several. */
const LONG = [65535, 65536, 65537, 200_000];
const OFF = 48;

function nonce(counter: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(BigInt(counter), 4);
  return n;
}

/** Ciphertext || tag from node:crypto. */
function reference(key: Uint8Array, counter: number, plaintext: Uint8Array): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: 16 });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

function keys(): { raw: Buffer; tx: AeadKey; rx: AeadKey } {
  const raw = randomBytes(32);
  return { raw, tx: new AeadKey(raw, true), rx: new AeadKey(raw, false) };
}

test('single seal matches node:crypto and opens back, for every length', () => {
  const { raw, tx, rx } = keys();
  for (const len of [...LENGTHS, ...LONG]) {
    const counter = 1000 + len;
    const pt = randomBytes(len);
    const buf = new Uint8Array(7 + len + TAG_SIZE + 5);
    buf.set(pt, 7);
    assert.equal(tx.seal(counter, buf, 7, len), len + TAG_SIZE);
    assert.deepEqual(Buffer.from(buf.subarray(7, 7 + len + TAG_SIZE)), reference(raw, counter, pt), `length ${len}`);
    assert.deepEqual([...buf.subarray(0, 7), ...buf.subarray(7 + len + TAG_SIZE)], new Array(12).fill(0), 'bytes around untouched');
    assert.equal(rx.open(counter, buf, 7, len + TAG_SIZE), len);
    assert.deepEqual(Buffer.from(buf.subarray(7, 7 + len)), pt);
  }
  tx.destroy();
  rx.destroy();
});

test('batch seal matches node:crypto per slot and batch open restores the plaintext', () => {
  const { raw, tx, rx } = keys();
  const batch = new PacketBatch(LENGTHS.length, 1536);
  const plain: Buffer[] = [];
  LENGTHS.forEach((len, i) => {
    plain.push(randomBytes(len));
    batch.data.set(plain[i], batch.slot(i) + OFF);
    batch.lens[i] = len;
    batch.ids[i] = tx.id;
    batch.counters[i] = 7 * i + 3;
  });
  const n = LENGTHS.length;
  sealBatch(batch, n, OFF);
  LENGTHS.forEach((len, i) => {
    if (len === 0) {
      assert.equal(batch.lens[i], 0, 'empty slots are skipped by sealBatch');
      return;
    }
    assert.equal(batch.lens[i], len + TAG_SIZE);
    assert.deepEqual(Buffer.from(batch.packet(i, OFF)), reference(raw, 7 * i + 3, plain[i]), `slot ${i}`);
  });
  for (let i = 0; i < n; i++) batch.ids[i] = rx.id;
  openBatch(batch, n, OFF);
  LENGTHS.forEach((len, i) => {
    if (len === 0) {
      assert.equal(batch.lens[i], OPEN_FAILED, 'a slot shorter than a tag fails');
      return;
    }
    assert.equal(batch.lens[i], len);
    assert.deepEqual(Buffer.from(batch.packet(i, OFF)), plain[i]);
  });
  tx.destroy();
  rx.destroy();
});

test('an empty plaintext (keepalive) opens to length 0, distinct from failure', () => {
  const { tx, rx } = keys();
  const batch = new PacketBatch(2, 256);
  batch.lens[0] = tx.seal(5, batch.data, OFF, 0);
  batch.lens[1] = 16; // all-zero "tag": must fail
  batch.ids.fill(rx.id);
  batch.counters.fill(5);
  openBatch(batch, 2, OFF);
  assert.deepEqual([...batch.lens], [0, OPEN_FAILED]);
});

test('tampering fails only the tampered slot and leaves the others intact', () => {
  const { tx, rx } = keys();
  const batch = new PacketBatch(4, 512);
  const plain = [0, 1, 2, 3].map(() => randomBytes(100));
  for (let i = 0; i < 4; i++) {
    batch.data.set(plain[i], batch.slot(i) + OFF);
    batch.lens[i] = 100;
    batch.ids[i] = tx.id;
    batch.counters[i] = i;
  }
  sealBatch(batch, 4, OFF);
  batch.data[batch.slot(1) + OFF + 10] ^= 1; // ciphertext bit
  batch.data[batch.slot(2) + OFF + 100 + 15] ^= 0x80; // tag bit
  const before = Buffer.from(batch.data);
  batch.ids.fill(rx.id);
  openBatch(batch, 4, OFF);
  assert.deepEqual([...batch.lens], [100, OPEN_FAILED, OPEN_FAILED, 100]);
  assert.deepEqual(Buffer.from(batch.packet(0, OFF)), plain[0]);
  assert.deepEqual(Buffer.from(batch.packet(3, OFF)), plain[3]);
  // Failed slots: the unauthenticated plaintext is wiped; the tag and everything else stay.
  for (const i of [1, 2]) {
    const s = batch.slot(i);
    assert.deepEqual(batch.data.subarray(s + OFF, s + OFF + 100), new Uint8Array(100), `slot ${i} wiped`);
    assert.deepEqual(Buffer.from(batch.data.subarray(s, s + OFF)), before.subarray(s, s + OFF));
    assert.deepEqual(Buffer.from(batch.data.subarray(s + OFF + 100, s + batch.slotSize)), before.subarray(s + OFF + 100, s + batch.slotSize));
  }
  // A single open of a tampered packet fails the same way.
  const one = new Uint8Array(64 + TAG_SIZE);
  tx.seal(9, one, 0, 64);
  one[0] ^= 1;
  assert.equal(rx.open(9, one, 0, 64 + TAG_SIZE), -1);
  // So does one longer than a keystream piece, tampered in its last piece.
  const long = randomBytes(200_000 + TAG_SIZE);
  tx.seal(10, long, 0, 200_000);
  long[199_999] ^= 1;
  assert.equal(rx.open(10, long, 0, 200_000 + TAG_SIZE), -1);
  assert.ok(long.subarray(0, 200_000).every((b) => b === 0), 'a long tampered packet was not wiped');
  // A failure leaves OpenSSL's error queue clean: node:crypto still works.
  assert.equal(reference(randomBytes(32), 1, new Uint8Array(3)).length, 19);
});

test('a wrong key or a wrong counter fails', () => {
  const a = keys();
  const b = keys();
  const buf = new Uint8Array(50 + TAG_SIZE);
  a.tx.seal(42, buf, 0, 50);
  const copy = buf.slice();
  assert.equal(b.rx.open(42, buf, 0, buf.length), -1);
  assert.equal(a.rx.open(43, copy.slice(), 0, buf.length), -1);
  assert.equal(a.rx.open(42, copy, 0, buf.length), 50);
  for (const k of [a, b]) {
    k.tx.destroy();
    k.rx.destroy();
  }
});

test('counters up to 2^53-1 work; larger or fractional ones are rejected', () => {
  const { raw, tx, rx } = keys();
  for (const counter of [0, 2 ** 32, 2 ** 53 - 1]) {
    const buf = new Uint8Array(20 + TAG_SIZE);
    buf.fill(7, 0, 20);
    tx.seal(counter, buf, 0, 20);
    assert.deepEqual(Buffer.from(buf), reference(raw, counter, new Uint8Array(20).fill(7)), `counter ${counter}`);
    assert.equal(rx.open(counter, buf, 0, buf.length), 20);
  }
  const buf = new Uint8Array(64);
  for (const bad of [2 ** 53, -1, 1.5, Number.NaN, Infinity]) {
    assert.throws(() => tx.seal(bad, buf, 0, 10), RangeError, `counter ${bad}`);
  }
  const batch = new PacketBatch(1, 256);
  batch.lens[0] = 10;
  batch.ids[0] = tx.id;
  batch.counters[0] = 2 ** 53;
  assert.throws(() => sealBatch(batch, 1, OFF), RangeError);
  assert.equal(batch.lens[0], 10, 'nothing done on a rejected batch');
  tx.destroy();
  rx.destroy();
});

test('freed or wrong-direction key ids are rejected; free is idempotent; ids are reused', () => {
  const { tx, rx } = keys();
  const id = tx.id;
  const buf = new Uint8Array(64);
  assert.throws(() => native.aeadOpen(id, 0, buf, 0, 32), RangeError, 'a sealing key cannot open');
  assert.throws(() => native.aeadSeal(rx.id, 0, buf, 0, 16), RangeError, 'an opening key cannot seal');
  tx.destroy();
  tx.destroy();
  assert.equal(tx.id, -1);
  assert.throws(() => tx.seal(0, buf, 0, 16), /after destroy/);
  assert.throws(() => native.aeadSeal(id, 0, buf, 0, 16), RangeError, 'the native id is gone');
  native.aeadFree(id);
  const batch = new PacketBatch(1, 256);
  batch.lens[0] = 10;
  batch.ids[0] = id;
  assert.throws(() => sealBatch(batch, 1, OFF), RangeError);
  const again = new AeadKey(randomBytes(32), true);
  assert.equal(again.id, id, 'the freed slot is reused');
  again.destroy();
  rx.destroy();
  assert.throws(() => new AeadKey(new Uint8Array(31), true), RangeError);
});

test('out-of-bounds and mistyped arguments throw before touching memory', () => {
  const { tx, rx } = keys();
  const buf = new Uint8Array(100);
  assert.throws(() => tx.seal(0, buf, 0, 85), RangeError, 'no room for the tag');
  assert.throws(() => tx.seal(0, buf, 90, 5), RangeError);
  assert.throws(() => tx.seal(0, buf, 101, 0), RangeError);
  assert.throws(() => tx.seal(0, buf, -1, 0), RangeError);
  assert.throws(() => rx.open(0, buf, 50, 51), RangeError);
  assert.throws(() => native.aeadSeal(tx.id, 0, new Uint16Array(50) as unknown as Uint8Array, 0, 10), TypeError);
  assert.equal(tx.seal(0, buf, 0, 84), 100, 'exactly fits');

  const batch = new PacketBatch(4, 128);
  batch.ids.fill(tx.id);
  batch.lens.fill(10);
  const args = (over: Partial<Record<'slotSize' | 'offset' | 'count', number>>) => {
    const { slotSize = batch.slotSize, offset = OFF, count = 4 } = over;
    return () => native.aeadSealBatch(batch.ids, batch.counters, batch.data, slotSize, offset, batch.lens, count);
  };
  assert.throws(args({ count: 5 }), RangeError, 'count beyond the slots');
  assert.throws(args({ slotSize: 129, count: 4 }), RangeError, '4 slots of 129 do not fit in 512 bytes');
  assert.throws(args({ offset: 129 }), RangeError, 'offset beyond the slot');
  assert.throws(args({ slotSize: 0 }), RangeError);
  batch.lens[3] = 128 - OFF - 15; // the tag would spill into the next slot
  assert.throws(args({}), RangeError);
  assert.deepEqual([...batch.lens], [10, 10, 10, 128 - OFF - 15], 'nothing sealed');
  batch.lens[3] = 10;
  assert.throws(() => native.aeadSealBatch(batch.ids.subarray(0, 2), batch.counters, batch.data, 128, OFF, batch.lens, 4), RangeError);
  assert.throws(() => native.aeadSealBatch(batch.ids, batch.counters, batch.data, 128, OFF, new Uint32Array(batch.data.buffer, 0, 4), 4), TypeError, 'lens inside data');
  args({})();
  assert.deepEqual([...batch.lens], [26, 26, 26, 26]);
  tx.destroy();
  rx.destroy();
});
