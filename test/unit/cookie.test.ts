// mac1, mac2 and cookie replies: who can produce which MAC, and when cookies and secrets expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MacChecker, MacGenerator, cookieKey } from '../../src/noise/cookie.js';
import { Initiation, consumeInitiation } from '../../src/noise/handshake.js';
import { decodeCookieReply, decodeInitiation, decodeResponse } from '../../src/noise/messages.js';
import { generateKeyPair, xaeadOpen } from '../../src/noise/primitives.js';
import { tai64nNow } from '../../src/noise/tai64n.js';
import { COOKIE_REFRESH_TIME, COOKIE_REPLY_SIZE, MESSAGE_COOKIE_REPLY } from '../../src/noise/constants.js';

const REFRESH_MS = COOKIE_REFRESH_TIME * 1000;
const PSK = new Uint8Array(32);
const alice = generateKeyPair();
const bob = generateKeyPair();
const carol = generateKeyPair();
const SOURCE_A = Uint8Array.from([192, 0, 2, 1, 0x1e, 0x61]); // 192.0.2.1:7777
const SOURCE_B = Uint8Array.from([192, 0, 2, 2, 0x1e, 0x61]);

class Clock {
  t = 1_000_000;
  readonly now = (): number => this.t;
}

let nextIndex = 1;
/** A fresh initiation from alice to bob (MACs zero). */
function initiation(): Uint8Array {
  return Initiation.create(alice, bob.publicKey, PSK, nextIndex++, tai64nNow()).message;
}

const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);
/** The index a cookie reply to `m` names: the sender index of the message it answers. */
const senderOf = (m: Uint8Array): number => decodeInitiation(m)!.senderIndex;

/** The cookie inside a reply, decrypted as its receiver would (for checking rotation). */
function cookieOf(reply: Uint8Array, responderPublic: Uint8Array, mac1: Uint8Array): Uint8Array {
  const r = decodeCookieReply(reply)!;
  const c = xaeadOpen(cookieKey(responderPublic), r.nonce, r.encryptedCookie, mac1);
  assert.ok(c, 'cookie reply did not decrypt');
  return c;
}

test('mac1 is accepted from a sender that knows the key, and refused otherwise', () => {
  const gen = new MacGenerator(bob.publicKey);
  const checker = new MacChecker(bob.publicKey);
  const msg = initiation();
  assert.equal(checker.checkMac1(msg), false, 'zero mac1');
  gen.addMacs(msg);
  assert.equal(isZero(decodeInitiation(msg)!.mac1), false);
  assert.equal(checker.checkMac1(msg), true);
  // Any byte changed before or inside mac1 breaks it; mac2 is not covered by mac1.
  for (let i = 0; i < msg.length - 16; i++) {
    const bad = msg.slice();
    bad[i]! ^= 0x04;
    assert.equal(checker.checkMac1(bad), false, `byte ${i}`);
  }
  const m2 = msg.slice();
  m2[msg.length - 1]! ^= 1;
  assert.equal(checker.checkMac1(m2), true, 'mac2 is outside mac1');
  // Aimed at carol's key: bob refuses it.
  const toCarol = initiation();
  new MacGenerator(carol.publicKey).addMacs(toCarol);
  assert.equal(checker.checkMac1(toCarol), false);
  assert.equal(new MacChecker(carol.publicKey).checkMac1(toCarol), true);
  // Too short to carry MACs.
  assert.equal(checker.checkMac1(new Uint8Array(32)), false);
});

test('mac1 also guards responses (the last 32 bytes of any handshake message are the MACs)', () => {
  const init = Initiation.create(alice, bob.publicKey, PSK, 77, tai64nNow());
  const consumed = consumeInitiation(bob, init.message)!;
  const { message } = consumed.respond(PSK, 78);
  new MacGenerator(alice.publicKey).addMacs(message);
  assert.equal(new MacChecker(alice.publicKey).checkMac1(message), true);
  assert.equal(new MacChecker(bob.publicKey).checkMac1(message), false);
});

test('mac2 flow: no cookie, cookie reply, then mac2 valid for that source only', () => {
  const clock = new Clock();
  const gen = new MacGenerator(bob.publicKey, { now: clock.now });
  const checker = new MacChecker(bob.publicKey, { now: clock.now });

  const first = initiation();
  gen.addMacs(first);
  assert.equal(gen.hasCookie, false);
  assert.ok(isZero(decodeInitiation(first)!.mac2), 'mac2 without a cookie must be zero');
  assert.equal(checker.checkMac2(first, SOURCE_A), false);

  // Under load, bob answers with a cookie reply instead of a handshake.
  const senderIndex = decodeInitiation(first)!.senderIndex;
  const reply = checker.createCookieReply(first, SOURCE_A, senderIndex);
  assert.equal(reply.length, COOKIE_REPLY_SIZE);
  assert.equal(reply[0], MESSAGE_COOKIE_REPLY);
  assert.deepEqual([...reply.subarray(1, 4)], [0, 0, 0]);
  assert.equal(decodeCookieReply(reply)!.receiverIndex, senderIndex);
  assert.equal(checker.checkMac2(first, SOURCE_A), false, 'the first message still has no mac2');

  clock.t += 1000;
  assert.equal(gen.consumeCookieReply(reply), true);
  assert.equal(gen.hasCookie, true);

  const second = initiation();
  gen.addMacs(second);
  assert.equal(isZero(decodeInitiation(second)!.mac2), false);
  assert.equal(checker.checkMac1(second), true);
  assert.equal(checker.checkMac2(second, SOURCE_A), true);
  assert.equal(checker.checkMac2(second, SOURCE_B), false, 'another source address');
  assert.equal(checker.checkMac2(second, Uint8Array.from([192, 0, 2, 1, 0x1e, 0x62])), false, 'another port');
  const tampered = second.slice();
  tampered[20]! ^= 1;
  assert.equal(checker.checkMac2(tampered, SOURCE_A), false, 'mac2 covers the message');
  const badMac1 = second.slice();
  badMac1[second.length - 20]! ^= 1;
  assert.equal(checker.checkMac2(badMac1, SOURCE_A), false, 'mac2 covers mac1');

  // Another checker (another node with the same key but its own secret) does not know the cookie.
  assert.equal(new MacChecker(bob.publicKey, { now: clock.now }).checkMac2(second, SOURCE_A), false);
});

test('a cookie reply must answer the last mac1 sent, decrypt, and count once', () => {
  const clock = new Clock();
  const gen = new MacGenerator(bob.publicKey, { now: clock.now });
  const checker = new MacChecker(bob.publicKey, { now: clock.now });
  const early = initiation();
  gen.addMacs(early);
  const late = initiation();
  gen.addMacs(late);

  const notAsked = new MacGenerator(bob.publicKey, { now: clock.now });
  assert.equal(notAsked.consumeCookieReply(checker.createCookieReply(late, SOURCE_A, senderOf(late))), false, 'no mac1 sent yet');

  assert.equal(gen.consumeCookieReply(checker.createCookieReply(early, SOURCE_A, senderOf(early))), false, 'answers an older mac1');
  assert.equal(gen.hasCookie, false);

  const fromCarol = new MacChecker(carol.publicKey, { now: clock.now }).createCookieReply(late, SOURCE_A, senderOf(late));
  assert.equal(gen.consumeCookieReply(fromCarol), false, 'encrypted under another key');

  const good = checker.createCookieReply(late, SOURCE_A, senderOf(late));
  for (const i of [0, 1, 9, 40, 63]) {
    const bad = good.slice();
    bad[i]! ^= 1;
    assert.equal(gen.consumeCookieReply(bad), false, `tampered byte ${i}`);
  }
  assert.equal(gen.consumeCookieReply(good.subarray(0, 63)), false, 'truncated');
  assert.equal(gen.consumeCookieReply(good), true);
  assert.equal(gen.consumeCookieReply(good), false, 'the same reply twice');
});

test('a cookie reply to our initiation is taken after we answered the peer\'s crossing initiation', () => {
  // Alice initiates to Bob, who is under load; before his cookie reply is back, she answers his
  // own initiation. Either reply must still decrypt: each names the message it answers.
  const clock = new Clock();
  const gen = new MacGenerator(bob.publicKey, { now: clock.now });
  const checker = new MacChecker(bob.publicKey, { now: clock.now });
  const ours = initiation();
  gen.addMacs(ours);
  const bobs = Initiation.create(bob, alice.publicKey, PSK, 7, tai64nNow()).message;
  const answer = consumeInitiation(alice, bobs)!.respond(PSK, 900_001).message;
  gen.addMacs(answer);
  const answerIndex = decodeResponse(answer)!.senderIndex;

  const toNeither = checker.createCookieReply(ours, SOURCE_A, 900_002);
  assert.equal(gen.consumeCookieReply(toNeither), false, 'a reply naming an index we never sent from');
  assert.equal(gen.consumeCookieReply(checker.createCookieReply(answer, SOURCE_A, senderOf(ours))), false, 'the right index, the wrong mac1');
  assert.equal(gen.consumeCookieReply(checker.createCookieReply(ours, SOURCE_A, senderOf(ours))), true, 'the reply to our initiation was lost');
  assert.equal(gen.hasCookie, true);
  assert.equal(gen.consumeCookieReply(checker.createCookieReply(answer, SOURCE_A, answerIndex)), true, 'the reply to our answer');
  assert.equal(gen.consumeCookieReply(checker.createCookieReply(ours, SOURCE_A, senderOf(ours))), false, 'each mac1 is good once');
});

test('a received cookie expires after COOKIE_REFRESH_TIME', () => {
  const clock = new Clock();
  const gen = new MacGenerator(bob.publicKey, { now: clock.now });
  const checker = new MacChecker(bob.publicKey, { now: clock.now });
  const first = initiation();
  gen.addMacs(first);
  assert.equal(gen.consumeCookieReply(checker.createCookieReply(first, SOURCE_A, senderOf(first))), true);

  clock.t += REFRESH_MS - 1;
  const stillFresh = initiation();
  gen.addMacs(stillFresh);
  assert.equal(checker.checkMac2(stillFresh, SOURCE_A), true, 'one ms before expiry');

  clock.t += 1;
  assert.equal(gen.hasCookie, false);
  const expired = initiation();
  gen.addMacs(expired);
  assert.ok(isZero(decodeInitiation(expired)!.mac2), 'an expired cookie must not be used');
  assert.equal(checker.checkMac2(expired, SOURCE_A), false);
  assert.equal(checker.checkMac1(expired), true, 'mac1 does not expire');
});

test('the cookie secret rotates every COOKIE_REFRESH_TIME', () => {
  const genClock = new Clock();
  const checkClock = new Clock();
  const gen = new MacGenerator(bob.publicKey, { now: genClock.now });
  const checker = new MacChecker(bob.publicKey, { now: checkClock.now });

  const m1 = initiation();
  gen.addMacs(m1);
  const mac1Of = (m: Uint8Array): Uint8Array => decodeInitiation(m)!.mac1.slice();
  const r1 = checker.createCookieReply(m1, SOURCE_A, senderOf(m1));
  const r1again = checker.createCookieReply(m1, SOURCE_A, senderOf(m1));
  assert.notDeepEqual(decodeCookieReply(r1)!.nonce, decodeCookieReply(r1again)!.nonce, 'nonces are random');
  const c1 = cookieOf(r1, bob.publicKey, mac1Of(m1));
  assert.deepEqual(cookieOf(r1again, bob.publicKey, mac1Of(m1)), c1, 'same secret, same source: same cookie');
  assert.notDeepEqual(cookieOf(checker.createCookieReply(m1, SOURCE_B, senderOf(m1)), bob.publicKey, mac1Of(m1)), c1);
  assert.equal(gen.consumeCookieReply(r1), true);

  // The generator's clock stands still, so it keeps using the old cookie; the checker's moves on.
  checkClock.t += REFRESH_MS - 1;
  const m2 = initiation();
  gen.addMacs(m2);
  assert.equal(checker.checkMac2(m2, SOURCE_A), true, 'secret still current');
  checkClock.t += 1;
  assert.equal(checker.checkMac2(m2, SOURCE_A), false, 'the secret is too old: its cookies are void');

  const r2 = checker.createCookieReply(m2, SOURCE_A, senderOf(m2));
  const c2 = cookieOf(r2, bob.publicKey, mac1Of(m2));
  assert.notDeepEqual(c2, c1, 'a new secret gives a new cookie');
  assert.equal(gen.consumeCookieReply(r2), true);
  const m3 = initiation();
  gen.addMacs(m3);
  assert.equal(checker.checkMac2(m3, SOURCE_A), true, 'the new cookie works');

  // Within the new period the secret stays.
  checkClock.t += REFRESH_MS / 2;
  assert.deepEqual(cookieOf(checker.createCookieReply(m3, SOURCE_A, senderOf(m3)), bob.publicKey, mac1Of(m3)), c2);
});
