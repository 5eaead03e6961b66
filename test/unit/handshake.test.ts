// rovy's WireGuard-style handshake: matching keys, every field authenticated, replies only to the
// right initiation, and the construction exactly as docs/PROTOCOL.md writes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Initiation, consumeInitiation, type StaticIdentity } from '../../src/noise/handshake.js';
import { MacChecker, MacGenerator, cookieKey, mac1Key } from '../../src/noise/cookie.js';
import { INITIATION, RESPONSE, decodeInitiation, decodeResponse } from '../../src/noise/messages.js';
import { aeadOpen, aeadSeal, dh, generateKeyPair, hash, hkdf, mac, publicKeyOf } from '../../src/noise/primitives.js';
import { tai64nAfter, tai64nNow } from '../../src/noise/tai64n.js';
import {
  CONSTRUCTION,
  IDENTIFIER,
  INITIATION_SIZE,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  RESPONSE_SIZE,
} from '../../src/noise/constants.js';

const alice: StaticIdentity = generateKeyPair();
const bob: StaticIdentity = generateKeyPair();
const carol: StaticIdentity = generateKeyPair();
const PSK = new Uint8Array(32).fill(0x5a);
const ZERO_PSK = new Uint8Array(32);
const EMPTY = new Uint8Array(0);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function handshake(psk = PSK) {
  const ts = tai64nNow();
  const init = Initiation.create(alice, bob.publicKey, psk, 0x01020304, ts);
  const consumed = consumeInitiation(bob, init.message);
  assert.ok(consumed, 'bob rejected a genuine initiation');
  const { message, keys: bobKeys } = consumed.respond(psk, 0xa0b0c0d0);
  const done = init.consumeResponse(message);
  assert.ok(done, 'alice rejected a genuine response');
  return { ts, init, consumed, response: message, bobKeys, aliceKeys: done.keys, remoteIndex: done.remoteIndex };
}

test('a full handshake gives both sides matching transport keys', () => {
  const { ts, init, consumed, response, bobKeys, aliceKeys, remoteIndex } = handshake();
  assert.equal(init.message.length, INITIATION_SIZE);
  assert.equal(response.length, RESPONSE_SIZE);
  assert.equal(init.message[0], MESSAGE_INITIATION);
  assert.equal(response[0], MESSAGE_RESPONSE);
  assert.equal(hex(decodeInitiation(init.message)!.mac1), '00'.repeat(16), 'MACs are left to cookie.ts');
  assert.equal(hex(decodeResponse(response)!.mac2), '00'.repeat(16));

  assert.equal(hex(consumed.remoteStatic), hex(alice.publicKey));
  assert.equal(consumed.remoteIndex, 0x01020304);
  assert.equal(hex(consumed.timestamp), hex(ts));
  assert.equal(remoteIndex, 0xa0b0c0d0);
  assert.equal(decodeResponse(response)!.receiverIndex, 0x01020304);

  assert.equal(aliceKeys.send.length, 32);
  assert.equal(hex(aliceKeys.send), hex(bobKeys.receive));
  assert.equal(hex(aliceKeys.receive), hex(bobKeys.send));
  assert.notEqual(hex(aliceKeys.send), hex(aliceKeys.receive));
  const sealed = aeadSeal(aliceKeys.send, 0, enc('hello bob'), EMPTY);
  assert.equal(new TextDecoder().decode(aeadOpen(bobKeys.receive, 0, sealed, EMPTY)!), 'hello bob');

  // Two handshakes between the same two nodes never share keys (fresh ephemerals).
  const again = handshake();
  assert.notEqual(hex(again.aliceKeys.send), hex(aliceKeys.send));
});

test('the default psk of zeros works, and a wrong psk is rejected without spoiling the handshake', () => {
  handshake(ZERO_PSK);
  const init = Initiation.create(alice, bob.publicKey, PSK, 7, tai64nNow());
  const wrong = consumeInitiation(bob, init.message)!.respond(ZERO_PSK, 8);
  assert.equal(init.consumeResponse(wrong.message), null, 'response made with another psk');
  assert.ok(init.isPending, 'a rejected response leaves the initiation waiting');
  const right = consumeInitiation(bob, init.message)!.respond(PSK, 9);
  const done = init.consumeResponse(right.message);
  assert.ok(done, 'the genuine response after a bad one');
  assert.equal(hex(done.keys.send), hex(right.keys.receive));
});

/** The byte ranges of each field, for the tamper tests. */
const INITIATION_FIELDS: [string, number, number][] = [
  ['type', 0, 1],
  ['reserved', 1, 4],
  ['sender index', INITIATION.senderIndex, INITIATION.ephemeral],
  ['ephemeral', INITIATION.ephemeral, INITIATION.encryptedStatic],
  ['encrypted static', INITIATION.encryptedStatic, INITIATION.encryptedTimestamp],
  ['encrypted timestamp', INITIATION.encryptedTimestamp, INITIATION.mac1],
  ['mac1', INITIATION.mac1, INITIATION.mac2],
  ['mac2', INITIATION.mac2, INITIATION_SIZE],
];
const RESPONSE_FIELDS: [string, number, number][] = [
  ['type', 0, 1],
  ['reserved', 1, 4],
  ['sender index', RESPONSE.senderIndex, RESPONSE.receiverIndex],
  ['receiver index', RESPONSE.receiverIndex, RESPONSE.ephemeral],
  ['ephemeral', RESPONSE.ephemeral, RESPONSE.encryptedNothing],
  ['encrypted nothing', RESPONSE.encryptedNothing, RESPONSE.mac1],
  ['mac1', RESPONSE.mac1, RESPONSE.mac2],
  ['mac2', RESPONSE.mac2, RESPONSE_SIZE],
];
const AUTHENTICATED_BY_NOISE = new Set(['ephemeral', 'encrypted static', 'encrypted timestamp', 'encrypted nothing']);

test('a tampered byte in any field of the initiation is rejected', () => {
  const source = Uint8Array.from([127, 0, 0, 1, 0x1e, 0x61]);
  const checker = new MacChecker(bob.publicKey);
  const gen = new MacGenerator(bob.publicKey);
  const init = Initiation.create(alice, bob.publicKey, PSK, 42, tai64nNow());
  const msg = init.message;
  gen.addMacs(msg);
  // Give alice a cookie so mac2 is in use (as under load).
  assert.ok(gen.consumeCookieReply(checker.createCookieReply(msg, source, 42)));
  gen.addMacs(msg);
  assert.ok(checker.checkMac1(msg) && checker.checkMac2(msg, source) && consumeInitiation(bob, msg));

  // What the receiving path does: mac1, then (under load) mac2, then the handshake.
  const accepted = (m: Uint8Array): boolean =>
    checker.checkMac1(m) && checker.checkMac2(m, source) && consumeInitiation(bob, m) !== null;
  for (const [field, from, to] of INITIATION_FIELDS) {
    for (let i = from; i < to; i++) {
      for (const flip of [0x01, 0x80]) {
        const bad = msg.slice();
        bad[i]! ^= flip;
        assert.equal(accepted(bad), false, `${field}, byte ${i}, bit ${flip}`);
        if (AUTHENTICATED_BY_NOISE.has(field)) {
          // An attacker can recompute mac1 (bob's public key is no secret): Noise still refuses.
          new MacGenerator(bob.publicKey).addMacs(bad);
          assert.ok(checker.checkMac1(bad));
          assert.equal(consumeInitiation(bob, bad), null, `${field}, byte ${i}, bit ${flip}, re-MACed`);
        }
      }
    }
  }
  assert.equal(consumeInitiation(bob, msg.subarray(0, INITIATION_SIZE - 1)), null, 'truncated');
  const longer = new Uint8Array(INITIATION_SIZE + 1);
  longer.set(msg);
  assert.equal(consumeInitiation(bob, longer), null, 'extended');
});

test('a tampered byte in any field of the response is rejected, and the initiation survives it', () => {
  const init = Initiation.create(alice, bob.publicKey, PSK, 1000, tai64nNow());
  const { message } = consumeInitiation(bob, init.message)!.respond(PSK, 2000);
  const gen = new MacGenerator(alice.publicKey);
  gen.addMacs(message);
  const checker = new MacChecker(alice.publicKey);
  const accepted = (m: Uint8Array): boolean => checker.checkMac1(m) && init.consumeResponse(m) !== null;
  for (const [field, from, to] of RESPONSE_FIELDS) {
    if (field === 'mac2') continue; // no cookie in play: mac2 is checked only under load (cookie test)
    for (let i = from; i < to; i++) {
      const bad = message.slice();
      bad[i]! ^= 0x10;
      assert.equal(accepted(bad), false, `${field}, byte ${i}`);
      if (AUTHENTICATED_BY_NOISE.has(field) || field === 'receiver index') {
        new MacGenerator(alice.publicKey).addMacs(bad);
        assert.equal(init.consumeResponse(bad), null, `${field}, byte ${i}, re-MACed`);
      }
    }
  }
  assert.ok(init.isPending);
  assert.ok(accepted(message), 'the genuine response after all the forgeries');
});

test('a response is accepted once only', () => {
  const init = Initiation.create(alice, bob.publicKey, PSK, 5, tai64nNow());
  const { message } = consumeInitiation(bob, init.message)!.respond(PSK, 6);
  assert.ok(init.consumeResponse(message));
  assert.equal(init.isPending, false);
  assert.equal(init.consumeResponse(message), null, 'duplicated response');
});

test("a response to someone else's initiation is rejected", () => {
  const mine = Initiation.create(alice, bob.publicKey, PSK, 11, tai64nNow());
  const carols = Initiation.create(carol, bob.publicKey, PSK, 11, tai64nNow());
  const toCarol = consumeInitiation(bob, carols.message)!.respond(PSK, 12).message;
  assert.equal(decodeResponse(toCarol)!.receiverIndex, 11, 'same index, so only the crypto can tell');
  assert.equal(mine.consumeResponse(toCarol), null);
  // A response to an earlier initiation of alice's own (a retransmission raced it) is refused too.
  const older = Initiation.create(alice, bob.publicKey, PSK, 13, tai64nNow());
  const newer = Initiation.create(alice, bob.publicKey, PSK, 13, tai64nNow());
  const toOlder = consumeInitiation(bob, older.message)!.respond(PSK, 14).message;
  assert.equal(newer.consumeResponse(toOlder), null);
  assert.ok(older.consumeResponse(toOlder));
  // Addressed to another index.
  const other = Initiation.create(alice, bob.publicKey, PSK, 15, tai64nNow());
  const toOther = consumeInitiation(bob, other.message)!.respond(PSK, 16).message;
  const wrongIndex = Initiation.create(alice, bob.publicKey, PSK, 99, tai64nNow());
  assert.equal(wrongIndex.consumeResponse(toOther), null);
  assert.ok(mine.isPending && other.isPending);
});

test('an initiation for another responder static key is rejected', () => {
  const init = Initiation.create(alice, carol.publicKey, PSK, 1, tai64nNow());
  assert.equal(consumeInitiation(bob, init.message), null);
  assert.ok(consumeInitiation(carol, init.message), 'carol, its addressee, accepts it');
});

test('an initiation with a low-order ephemeral key is rejected', () => {
  const init = Initiation.create(alice, bob.publicKey, PSK, 1, tai64nNow());
  const bad = init.message.slice();
  bad.fill(0, INITIATION.ephemeral, INITIATION.encryptedStatic); // the point 0: every DH with it is zero
  assert.equal(consumeInitiation(bob, bad), null);
});

test('a replayed initiation decrypts but its timestamp is not newer', () => {
  const t0 = Date.now();
  const first = Initiation.create(alice, bob.publicKey, PSK, 1, tai64nNow(t0));
  const second = Initiation.create(alice, bob.publicKey, PSK, 2, tai64nNow(t0 + 1000));
  const got2 = consumeInitiation(bob, second.message)!;
  let newest = got2.timestamp; // what the state machine remembers for alice
  const replayOld = consumeInitiation(bob, first.message)!;
  assert.ok(replayOld, 'the cryptography alone cannot tell a replay');
  assert.equal(tai64nAfter(replayOld.timestamp, newest), false, 'an older initiation replayed');
  const replaySame = consumeInitiation(bob, second.message)!;
  assert.equal(tai64nAfter(replaySame.timestamp, newest), false, 'the same initiation replayed');
  const third = consumeInitiation(bob, Initiation.create(alice, bob.publicKey, PSK, 3, tai64nNow(t0 + 2000)).message)!;
  assert.equal(tai64nAfter(third.timestamp, newest), true, 'a genuinely new initiation');
  newest = third.timestamp;
  assert.equal(newest.length, 12);
});

test('a response with no matching initiation state is rejected', () => {
  // Bob answers an initiation alice never completed (she lost it, restarted, or made a new one):
  // whatever initiation she now holds under that index has other secrets.
  const lost = Initiation.create(alice, bob.publicKey, PSK, 77, tai64nNow());
  const orphan = consumeInitiation(bob, lost.message)!.respond(PSK, 78).message;
  lost.wipe();
  assert.equal(lost.consumeResponse(orphan), null, 'a wiped initiation takes nothing');
  const fresh = Initiation.create(alice, bob.publicKey, PSK, 77, tai64nNow());
  assert.equal(fresh.consumeResponse(orphan), null);
  // Messages of one kind are not taken as the other.
  assert.equal(consumeInitiation(bob, orphan), null);
  assert.equal(fresh.consumeResponse(fresh.message), null);
});

test('respond() works once', () => {
  const init = Initiation.create(alice, bob.publicKey, PSK, 1, tai64nNow());
  const consumed = consumeInitiation(bob, init.message)!;
  consumed.respond(PSK, 2);
  assert.throws(() => consumed.respond(PSK, 3));
  const other = consumeInitiation(bob, init.message)!;
  other.wipe();
  assert.throws(() => other.respond(PSK, 3));
});

test('the messages follow the documented construction step by step', () => {
  // Recomputes both messages with the formulas of docs/PROTOCOL.md (WireGuard paper §5.4 with
  // rovy's CONSTRUCTION and IDENTIFIER), independently of ik.ts.
  const ephemeral = generateKeyPair();
  const ts = tai64nNow();
  const init = Initiation.create(alice, bob.publicKey, PSK, 0x11223344, ts, ephemeral);
  const kdf1 = (ck: Uint8Array, x: Uint8Array) => hkdf(ck, x, 1)[0];
  const kdf2 = (ck: Uint8Array, x: Uint8Array) => hkdf(ck, x, 2);

  let c = hash(enc(CONSTRUCTION));
  let h = hash(c, enc(IDENTIFIER));
  h = hash(h, bob.publicKey);
  c = kdf1(c, ephemeral.publicKey);
  h = hash(h, ephemeral.publicKey);
  let k: Uint8Array;
  [c, k] = kdf2(c, dh(ephemeral.privateKey, bob.publicKey)!);
  const encStatic = aeadSeal(k, 0, alice.publicKey, h);
  h = hash(h, encStatic);
  [c, k] = kdf2(c, dh(alice.privateKey, bob.publicKey)!);
  const encTimestamp = aeadSeal(k, 0, ts, h);
  h = hash(h, encTimestamp);
  const expected = new Uint8Array(INITIATION_SIZE);
  expected.set([1, 0, 0, 0, 0x44, 0x33, 0x22, 0x11]);
  expected.set(ephemeral.publicKey, 8);
  expected.set(encStatic, 40);
  expected.set(encTimestamp, 88);
  assert.equal(hex(init.message), hex(expected));

  // The response, checked from alice's side of the formulas.
  const { message, keys: bobKeys } = consumeInitiation(bob, init.message)!.respond(PSK, 0x55667788);
  const r = decodeResponse(message)!;
  assert.equal(hex(message.subarray(0, 12)), '02000000' + '88776655' + '44332211');
  c = kdf1(c, r.ephemeral);
  h = hash(h, r.ephemeral);
  c = kdf1(c, dh(ephemeral.privateKey, r.ephemeral)!);
  c = kdf1(c, dh(alice.privateKey, r.ephemeral)!);
  const [c2, tau, k2] = hkdf(c, PSK, 3);
  c = c2;
  h = hash(h, tau);
  assert.equal(hex(aeadSeal(k2, 0, EMPTY, h)), hex(r.encryptedNothing));
  h = hash(h, r.encryptedNothing);
  const [send, receive] = kdf2(c, EMPTY);
  assert.equal(hex(bobKeys.receive), hex(send));
  assert.equal(hex(bobKeys.send), hex(receive));
  const finished = init.consumeResponse(message)!;
  assert.equal(hex(finished.keys.send), hex(send));
  assert.equal(hex(finished.keys.receive), hex(receive));
});

test('the worked example of docs/PROTOCOL.md', () => {
  const kp = (label: string) => {
    const privateKey = hash(enc(label));
    return { privateKey, publicKey: publicKeyOf(privateKey) };
  };
  const si = kp('rovy example: initiator static');
  const sr = kp('rovy example: responder static');
  const ei = kp('rovy example: initiator ephemeral');
  const er = kp('rovy example: responder ephemeral');
  assert.equal(hex(si.publicKey), 'bb8acbb37a0c497f06b4b4895703c7984858afb7e178382b3c3940a1c38f5e09');
  assert.equal(hex(sr.publicKey), 'fe018bfb8685f867d3ed6558f6f13bbe315f80abe70729e4b5e964a73f5df607');
  assert.equal(hex(mac1Key(sr.publicKey)), 'e16412f55b3889771852d2c092bf67a001550a0eec2d08784e9b152b4cde3a56');
  assert.equal(hex(cookieKey(sr.publicKey)), '7b1f0ed1b80f8c62e82394e02184a6d1b47af76b436b6c9a6342cbc8b920d374');
  const ts = tai64nNow(Date.parse('2023-11-14T22:13:20.201Z'));
  assert.equal(hex(ts), '400000006553f10a0b000000');

  const init = Initiation.create(si, sr.publicKey, ZERO_PSK, 0x01020304, ts, ei);
  new MacGenerator(sr.publicKey).addMacs(init.message);
  assert.equal(
    hex(init.message),
    '01000000' +
      '04030201' +
      '8fbcd81ef182aac38d5e41ac6d47ab35adba07efcadda374462890b7603c084f' +
      'b51d14e58066901bde1a3f37fd78cac74f5932c84cbd272672cf96844f5b1c61' +
      '2697fc5165959fbb8e3cb6ef1415b383' +
      '00ac05c59f908fde50ebbb50b0ff834345941ca56bfc9f72719397a9' +
      'c921fe37dc141c746f9f2927a3f9450a' +
      '00000000000000000000000000000000',
  );
  const consumed = consumeInitiation(sr, init.message, er)!;
  const { message, keys } = consumed.respond(ZERO_PSK, 0x0a0b0c0d);
  new MacGenerator(si.publicKey).addMacs(message);
  assert.equal(
    hex(message),
    '02000000' +
      '0d0c0b0a' +
      '04030201' +
      'cfea5ea9da8877d25e36837a2322744a19bb4a94eea017f4e9e82d9a3bed3725' +
      'a2035d7458baca5df0dc30adf3c478a7' +
      '249eda735187d5f0723d0814976571bf' +
      '00000000000000000000000000000000',
  );
  const finished = init.consumeResponse(message)!;
  assert.equal(hex(finished.keys.send), '8a66d015b3719454e09749161c0c8af825316aca7c8ec11fb9aca1c6bfbc7d3f');
  assert.equal(hex(finished.keys.receive), 'c32b05ed5be7d14c6076376309a8c4f90163ea2cea4e622cfac9f391ea5f4bad');
  assert.equal(hex(keys.receive), hex(finished.keys.send));

  const cookie = new Uint8Array(Buffer.from('00ba4701ae4cd8d8d839cc450282911d', 'hex'));
  assert.equal(hex(mac(cookie, init.message.subarray(0, INITIATION.mac2))), 'cc4938ac05f0eba0a5da1807db9ba96e');
});
