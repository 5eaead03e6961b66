// The session state machine between two in-process nodes joined by an in-memory wire that the
// test controls (session-harness.ts): messages lost, duplicated and reordered, clocks moved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MacChecker, MacGenerator } from '../../src/noise/cookie.js';
import { readU32LE } from '../../src/noise/messages.js';
import { RateLimiter } from '../../src/session/ratelimiter.js';
import { sourceKey } from '../../src/session/manager.js';
import * as c from '../../src/session/constants.js';
import { deliver, endpointArea, flush, sealData, settle, setup, strangerInitiation, types } from './session-harness.js';

test('a handshake makes a session both ways, confirmed by a keepalive', () => {
  const { a, b } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  assert.deepEqual(types(a.outbox), [1]);
  flush(a, b);
  assert.deepEqual(types(b.outbox), [2]);
  assert.ok(b.peer.next && !b.peer.current, 'the responder waits for confirmation');
  flush(b, a);
  assert.ok(a.peer.current, 'initiator has a session');
  assert.deepEqual(types(a.outbox), [4], 'initiator confirms with a keepalive');
  flush(a, b);
  assert.ok(b.peer.current && !b.peer.next, 'responder promoted its keypair');
  assert.equal(a.ups, 1);
  assert.equal(b.ups, 1);
  assert.ok(deliver(a, b, sealData(a, new Uint8Array([1, 2, 3]))));
  assert.ok(deliver(b, a, sealData(b, new Uint8Array([4, 5, 6]))));
});

/** Checks that `side`'s lost initiation is sent again `ms` plus jitter after it went, not before. */
function assertRetriedAfter(side: ReturnType<typeof setup>['a'], clock: ReturnType<typeof setup>['clock'], ms: number): void {
  clock.mono += ms - 1;
  side.manager.tick();
  assert.equal(side.outbox.length, 0, 'retransmitted too early');
  clock.mono += c.REKEY_JITTER_MS + 1;
  clock.wall += ms + c.REKEY_JITTER_MS;
  side.manager.tick();
  assert.deepEqual(types(side.outbox), [1], `not retransmitted within ${ms} ms plus jitter`);
}

test('a lost initiation is retransmitted after REKEY_TIMEOUT plus jitter', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  a.outbox.length = 0; // lost
  assertRetriedAfter(a, clock, c.REKEY_TIMEOUT_MS);
  settle(a, b);
  assert.ok(a.peer.isUp && b.peer.isUp);
});

test('a lost response: the retransmitted initiation still gets a session', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  b.outbox.length = 0; // the response is lost
  clock.mono += c.REKEY_TIMEOUT_MS + c.REKEY_JITTER_MS;
  clock.wall += 6_000;
  a.manager.tick();
  settle(a, b);
  assert.ok(a.peer.isUp && b.peer.isUp);
});

test('a duplicated initiation is refused by its timestamp', () => {
  const { a, b } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  const init = a.outbox[0]!;
  flush(a, b);
  const firstNext = b.peer.next;
  deliver(a, b, init);
  assert.equal(b.counters.replayedInitiation, 1);
  assert.equal(b.peer.next, firstNext, 'the replay replaced the keypair');
  assert.equal(b.outbox.length, 1, 'the replay was answered');
});

test('a duplicated response is refused the second time', () => {
  const { a, b } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  const response = b.outbox[0]!;
  flush(b, a);
  const current = a.peer.current;
  deliver(b, a, response);
  assert.equal(a.counters.handshakeRejected, 1);
  assert.equal(a.peer.current, current);
});

test('reordered initiations: the older one is refused, the newer one completes', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  const first = a.outbox.shift()!;
  clock.mono += c.REKEY_TIMEOUT_MS + c.REKEY_JITTER_MS;
  clock.wall += 6_000;
  a.manager.tick();
  const second = a.outbox.shift()!;
  deliver(a, b, second);
  deliver(a, b, first);
  assert.equal(b.counters.replayedInitiation, 1);
  settle(a, b);
  assert.ok(a.peer.isUp && b.peer.isUp);
});

test('a response to a superseded initiation is refused', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  const staleResponse = b.outbox.shift()!;
  clock.mono += c.REKEY_TIMEOUT_MS + c.REKEY_JITTER_MS;
  clock.wall += 6_000;
  a.manager.tick(); // a new initiation replaces the first
  deliver(b, a, staleResponse);
  assert.equal(a.counters.handshakeRejected, 1);
  assert.ok(!a.peer.isUp);
  settle(a, b);
  assert.ok(a.peer.isUp);
});

test('a response for a handshake we gave up on is refused', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  const late = b.outbox.shift()!;
  // A retries until REKEY_ATTEMPT_TIME and gives up at the next retransmission; its indices are gone.
  for (let t = 0; t <= c.REKEY_ATTEMPT_TIME_MS + c.REKEY_TIMEOUT_MS + c.REKEY_JITTER_MS; t += 1000) {
    clock.mono += 1000;
    clock.wall += 1000;
    a.manager.tick();
  }
  assert.equal(a.peer.handshake, null);
  deliver(b, a, late);
  assert.equal(a.counters.handshakeRejected, 1);
  assert.ok(!a.peer.isUp);
});

test('a handshake without a valid mac1 gets no reply at all', () => {
  const { a, b } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  const init = a.outbox.shift()!;
  init[20] ^= 1;
  deliver(a, b, init);
  assert.equal(b.outbox.length, 0);
  assert.equal(b.counters.invalidMac1, 1);
});

test('a response without a valid mac1 is dropped unread, like an initiation', () => {
  const { a, b } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  const response = b.outbox.shift()!;
  assert.equal(response[0], 2);
  response[60] ^= 1; // mac1 of a response: bytes 60..76 (not in the Noise transcript)
  deliver(b, a, response);
  assert.equal(a.counters.invalidMac1, 1);
  assert.equal(a.counters.handshakeRejected, 0, 'the response was read although its mac1 is wrong');
  assert.ok(!a.peer.isUp, 'a response with a bad mac1 made a session');
});

test('under load, an initiation without mac2 gets a cookie reply, and with the cookie a session', () => {
  const { a, b, clock, keysB } = setup({ budgetB: 0, hardCapB: Infinity });
  // Any handshake work beyond a zero budget puts B under load for a second.
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), endpointArea(9));
  assert.equal(b.counters.unknownPeer, 1);
  assert.equal(b.outbox.length, 0);
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  assert.deepEqual(types(b.outbox), [3], 'expected a cookie reply, not a handshake');
  assert.equal(b.counters.cookieReplies, 1);
  assert.ok(!b.peer.next, 'no Diffie-Hellman work was done');
  // The cookie brings A's retransmission forward: it is sent at once, now with mac2, and read.
  clock.wall += 1;
  flush(b, a);
  assert.deepEqual(types(a.outbox), [1], 'the cookie reply did not bring the initiation forward');
  assert.ok(a.outbox[0]!.subarray(132).some((x) => x !== 0), 'the resent initiation has no mac2');
  settle(a, b);
  assert.ok(a.peer.isUp && b.peer.isUp);
  assert.equal(b.counters.cookieReplies, 1);
});

test('an answer carrying the cookie gets a look of its own, though its source spent its share on the first', () => {
  // A hard cap of zero: past the budget, a source that spent anything is shed. The cookie-carrying
  // retry is the source's first message among those that carry one, so it is still read.
  const { a, b, clock, keysB } = setup({ budgetB: 0, hardCapB: 0 });
  const elsewhere = endpointArea(9);
  elsewhere[11] = 1; // another /64: another source
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), elsewhere);
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  assert.deepEqual(types(b.outbox), [3]);
  clock.wall += 1;
  flush(b, a); // the cookie: A resends at once, with mac2
  settle(a, b);
  assert.ok(a.peer.isUp && b.peer.isUp, 'the answer with the cookie was shed with the cookie-less flood');
  // A second cookie-less initiation from A's address is shed: its share is spent.
  const shed = b.counters.handshakesShed;
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), a.endpoint);
  assert.equal(b.counters.handshakesShed, shed + 1);
});

test('a cookie reply to an initiation that carried a cookie waits for the retransmission timer', () => {
  const { a, b, clock, keysB } = setup({ budgetB: 0, hardCapB: Infinity });
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), endpointArea(9));
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  flush(b, a); // the cookie: A resends at once, with mac2
  assert.deepEqual(types(a.outbox), [1]);
  const resent = a.outbox.shift()!;
  // B's cookie secret is replaced (as every two minutes), so the resent initiation's mac2 no
  // longer verifies and draws another cookie reply. That one must not bring anything forward.
  clock.mono += 120_000;
  clock.wall += 1;
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), endpointArea(9));
  deliver(a, b, resent);
  assert.deepEqual(types(b.outbox), [3]);
  flush(b, a);
  assert.equal(a.outbox.length, 0, 'a second cookie reply brought a second initiation forward');
  assert.equal(a.counters.handshakeRejected, 0, 'the cookie reply was not taken');
});

test('crossing initiations under load: the cookie reply to ours still brings it forward after we answered theirs', () => {
  // A (restarted) initiates to B, who is under load; B initiates to A at the same moment. A answers
  // B's initiation before B's cookie reply to A's is back. That reply must still be taken, and A's
  // initiation resent with the cookie at once, not after REKEY_TIMEOUT.
  const { a, b, clock, keysB } = setup({ budgetB: 0, hardCapB: Infinity });
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), endpointArea(9));
  a.manager.initiate(a.peer, a.manager.now());
  b.manager.initiate(b.peer, b.manager.now());
  flush(a, b); // A's initiation: B is under load and answers with a cookie reply
  assert.deepEqual(types(b.outbox), [1, 3]);
  clock.wall += 1;
  flush(b, a); // B's initiation, which A answers; then B's cookie reply to A's initiation
  assert.deepEqual(types(a.outbox), [2, 1], 'the cookie reply did not bring A\'s initiation forward');
  assert.equal(a.counters.handshakeRejected, 0, 'the cookie reply was refused');
  assert.ok(a.outbox[1]!.subarray(132).some((x) => x !== 0), 'the resent initiation has no mac2');
  settle(a, b);
  assert.ok(a.peer.isUp && b.peer.isUp);
});

test('a lost initiation that carried a cookie is retried after UNDER_LOAD_RETRY_MS, not REKEY_TIMEOUT', () => {
  const { a, b, clock, keysB } = setup({ budgetB: 0, hardCapB: Infinity });
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), endpointArea(9));
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  clock.wall += 1;
  flush(b, a); // the cookie: A resends at once, with mac2
  assert.deepEqual(types(a.outbox), [1]);
  a.outbox.length = 0; // lost: B's socket was full
  assertRetriedAfter(a, clock, c.UNDER_LOAD_RETRY_MS);
  assert.ok(a.outbox[0]!.subarray(132).some((x) => x !== 0), 'the retry has no mac2');
  // B is still under load (a second more of work): the retry with the cookie gets a session.
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), endpointArea(9));
  settle(a, b);
  assert.ok(a.peer.isUp && b.peer.isUp);
  assert.equal(b.counters.cookieReplies, 1);
});

test('random handshake bodies with a valid mac1 change nothing and get no answer', () => {
  const { a, b, clock, keysB } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  const before = { current: b.peer.current, next: b.peer.next, previous: b.peer.previous };
  const mac = new MacGenerator(keysB.publicKey);
  for (let i = 0; i < 200; i++) {
    const msg = new Uint8Array(i % 2 ? 148 : 92);
    crypto.getRandomValues(msg);
    msg[0] = i % 2 ? 1 : 2;
    msg[1] = msg[2] = msg[3] = 0;
    mac.addMacs(msg);
    clock.mono += 25;
    b.manager.handleHandshake(msg, endpointArea(9));
  }
  assert.equal(b.outbox.length, 0);
  assert.equal(b.counters.handshakeRejected, 200);
  assert.deepEqual({ current: b.peer.current, next: b.peer.next, previous: b.peer.previous }, before);
  assert.ok(deliver(a, b, sealData(a, new Uint8Array(48))), 'the session broke');
});

test('initiations from one peer faster than one per 20 ms are dropped', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  clock.wall += 1000; // a newer timestamp, so only the rate can refuse it
  clock.mono += c.MIN_INITIATION_INTERVAL_MS - 1;
  a.manager.initiate(a.peer, a.manager.now(), true);
  flush(a, b);
  assert.equal(b.counters.rateLimited, 1);
  assert.equal(b.outbox.length, 1, 'only the first initiation was answered');
});

test('the per-source limiter allows a burst, then the rate', () => {
  const limiter = new RateLimiter(20, 5);
  let allowed = 0;
  for (let i = 0; i < 10; i++) if (limiter.allow('x', 0)) allowed++;
  assert.equal(allowed, 5);
  assert.ok(limiter.allow('y', 0), 'another source has its own bucket');
  assert.ok(!limiter.allow('x', 49));
  assert.ok(limiter.allow('x', 50), 'one token comes back every 50 ms');
});

test('either side rekeys after REKEY_AFTER_MESSAGES', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  b.peer.current!.sendCounter = c.REKEY_AFTER_MESSAGES;
  clock.mono += c.REKEY_TIMEOUT_MS; // B answered a handshake just now: it waits that long
  clock.wall += c.REKEY_TIMEOUT_MS;
  assert.ok(b.manager.sendingKeypair(b.peer, b.manager.now()));
  assert.deepEqual(types(b.outbox), [1], 'the responder did not rekey');
});

test('the initiator rekeys when it receives on a keypair 165 s old', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  clock.mono += c.REKEY_ON_RECEIVE_AFTER_MS;
  clock.wall += c.REKEY_ON_RECEIVE_AFTER_MS;
  a.outbox.length = 0;
  assert.ok(deliver(b, a, sealData(b, new Uint8Array(48))));
  assert.deepEqual(types(a.outbox), [1]);
});

test('data sent with no reply for 15 s starts a new handshake', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  a.manager.sentData(a.peer, a.manager.now());
  clock.mono += c.KEEPALIVE_TIMEOUT_MS + c.REKEY_TIMEOUT_MS - 1;
  a.manager.tick();
  assert.equal(a.outbox.length, 0);
  clock.mono += 1;
  clock.wall += 15_000;
  a.manager.tick();
  assert.deepEqual(types(a.outbox), [1]);
});

test('after a rekey, packets still in flight on the old keypair decrypt', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  const old = a.peer.current;
  const inFlight = sealData(b, new Uint8Array(48)); // B still on the old keypair
  clock.mono += c.REKEY_TIMEOUT_MS;
  clock.wall += c.REKEY_TIMEOUT_MS;
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  flush(b, a);
  assert.notEqual(a.peer.current, old);
  assert.equal(a.peer.previous, old);
  assert.ok(deliver(b, a, inFlight), 'the previous keypair no longer decrypts');
});

test('the initiator rekeys after REKEY_AFTER_TIME when it sends', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  const first = a.peer.current;
  clock.mono += c.REKEY_AFTER_TIME_MS;
  clock.wall += c.REKEY_AFTER_TIME_MS;
  assert.equal(a.manager.sendingKeypair(a.peer, a.manager.now()), first, 'the old keypair still carries data meanwhile');
  assert.deepEqual(types(a.outbox), [1]);
  settle(a, b);
  assert.notEqual(a.peer.current, first);
  assert.equal(a.peer.previous, first);
});

test('keypairs are refused and wiped after REJECT_AFTER_TIME', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  const kp = a.peer.current!;
  const bkp = b.peer.current!;
  clock.mono += c.REJECT_AFTER_TIME_MS - 1;
  a.manager.tick();
  assert.ok(!kp.isDestroyed);
  assert.ok(kp.receivable(a.manager.now()));
  clock.mono += 1;
  assert.equal(kp.usable(a.manager.now()), false, 'usable for sending at 180 s');
  assert.equal(kp.receivable(a.manager.now()), false, 'usable for receiving at 180 s');
  a.manager.tick();
  b.manager.tick();
  assert.ok(kp.isDestroyed && bkp.isDestroyed, 'an expired keypair was kept');
  assert.equal(a.peer.current, null);
  assert.equal(a.downs, 1);
  assert.equal(a.manager.indices.get(kp.localIndex), undefined, 'its index still resolves');
});

test('a peer that received data and sent nothing owes a keepalive after KEEPALIVE_TIMEOUT', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  assert.ok(deliver(a, b, sealData(a, new Uint8Array(40))));
  clock.mono += c.KEEPALIVE_TIMEOUT_MS - 1;
  b.manager.tick();
  assert.equal(b.outbox.length, 0);
  clock.mono += 1;
  b.manager.tick();
  assert.deepEqual(types(b.outbox), [4]);
  assert.equal(b.outbox[0]!.length, 32, 'a keepalive is an empty transport message');
});

test('packets staged during a handshake go out when it completes', () => {
  const { a, b } = setup();
  assert.equal(a.manager.sendingKeypair(a.peer, a.manager.now()), null);
  a.peer.stage(new Uint8Array(64).fill(7));
  a.peer.stage(new Uint8Array(80).fill(8));
  flush(a, b);
  flush(b, a);
  assert.deepEqual(types(a.outbox), [4, 4], 'staged packets replace the confirming keepalive');
  assert.deepEqual(a.outbox.map((m) => m.length), [16 + 64 + 16, 16 + 80 + 16]);
  assert.equal(a.peer.staged.length, 0);
});

test('a handshake gives up after REKEY_ATTEMPT_TIME and drops what was staged', () => {
  const { a, clock } = setup();
  a.manager.sendingKeypair(a.peer, a.manager.now());
  a.peer.stage(new Uint8Array(64));
  // It gives up at the first retransmission due after REKEY_ATTEMPT_TIME.
  const end = c.REKEY_ATTEMPT_TIME_MS + c.REKEY_TIMEOUT_MS + c.REKEY_JITTER_MS;
  for (let t = 0; t <= end; t += c.TIMER_TICK_MS) {
    clock.mono += c.TIMER_TICK_MS;
    clock.wall += c.TIMER_TICK_MS;
    a.manager.tick();
  }
  // One initiation every 5–5.33 s for 90 s.
  assert.ok(a.outbox.length >= 17 && a.outbox.length <= 19, `${a.outbox.length} initiations in 90 s`);
  assert.equal(a.peer.handshake, null);
  assert.equal(a.peer.staged.length, 0);
});

test('persistent keepalive keeps an idle link talking', () => {
  const { a, b, clock } = setup();
  a.peer.keepaliveMs = 25_000;
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  clock.mono += 25_000;
  a.manager.tick();
  assert.deepEqual(types(a.outbox), [4]);
});

test('an initiation from an unknown key is refused without an answer', () => {
  const { a, b } = setup();
  b.manager.removePeer(b.peer);
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  assert.equal(b.outbox.length, 0);
  assert.equal(b.counters.unknownPeer, 1);
});

test('an idle link rekeys through its keepalives and never loses its session', () => {
  const { a, b, clock } = setup();
  a.peer.keepaliveMs = b.peer.keepaliveMs = 25_000;
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  for (let t = 0; t < 400_000; t += c.TIMER_TICK_MS * 10) {
    clock.mono += c.TIMER_TICK_MS * 10;
    clock.wall += c.TIMER_TICK_MS * 10;
    a.manager.tick();
    b.manager.tick();
    settle(a, b);
    assert.ok(a.peer.isUp && b.peer.isUp, `a side lost its session at ${t} ms`);
  }
  assert.equal(a.downs + b.downs, 0);
});

test('a responder starts no handshake of its own right after answering one', () => {
  const { a, b } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  // B has data for A while its new keypair still waits for confirmation.
  assert.equal(b.manager.sendingKeypair(b.peer, b.manager.now()), null);
  assert.deepEqual(types(b.outbox), [2], 'the responder initiated as well');
});

test('a new "next" keypair retires the responder\'s previous one', () => {
  const { a, b, clock } = setup();
  const rekey = () => {
    clock.mono += c.REKEY_TIMEOUT_MS;
    clock.wall += c.REKEY_TIMEOUT_MS;
    a.manager.initiate(a.peer, a.manager.now());
    settle(a, b);
  };
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  const first = b.peer.current!;
  rekey();
  assert.equal(b.peer.previous, first);
  clock.mono += c.REKEY_TIMEOUT_MS;
  clock.wall += c.REKEY_TIMEOUT_MS;
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b); // B answers: its keypair becomes "next"
  assert.ok(b.peer.next);
  assert.equal(b.peer.previous, null);
  assert.ok(first.isDestroyed);
});

test('persistent keepalive counts packets received as well as sent', () => {
  const { a, b, clock } = setup();
  a.peer.keepaliveMs = 25_000;
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  clock.mono += 20_000;
  assert.ok(deliver(b, a, sealData(b, new Uint8Array(48))));
  a.outbox.length = 0; // the keepalive A owes for that data is not the persistent one
  clock.mono += 5_000;
  a.manager.tick();
  assert.deepEqual(types(a.outbox), [], 'sent a persistent keepalive 5 s after receiving');
  clock.mono += 20_000;
  a.manager.tick();
  assert.deepEqual(types(a.outbox), [4]);
});

test('a handshake from the peer counts as hearing from it: no new handshake for silence', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  a.manager.sentData(a.peer, a.manager.now());
  clock.mono += 10_000;
  clock.wall += 10_000;
  b.manager.initiate(b.peer, b.manager.now());
  flush(b, a); // A answers B's initiation
  a.outbox.length = 0;
  clock.mono += 5_000;
  a.manager.tick();
  assert.deepEqual(types(a.outbox), [], 'A started a handshake although it just heard from B');
});

test('no new initiation within REKEY_TIMEOUT of the last one, even after it completed', () => {
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  clock.mono += c.REKEY_TIMEOUT_MS - 1;
  a.manager.initiate(a.peer, a.manager.now());
  assert.equal(a.outbox.length, 0);
  clock.mono += 1;
  a.manager.initiate(a.peer, a.manager.now());
  assert.deepEqual(types(a.outbox), [1]);
});

test('one slow handshake (a cold start, a preempted measurement) does not put the node under load', () => {
  // The default budget, and a first message whose work takes 30 ms of real time: three windows'
  // budget at once. Counted in full, it would make B answer A with a cookie reply for a second.
  let slow = true;
  const { a, b, clock, keysB } = setup({
    budgetB: c.UNDER_LOAD_BUDGET_MS,
    acceptPeerB: () => {
      const until = performance.now() + 30;
      while (slow && performance.now() < until);
      slow = false;
      return undefined;
    },
  });
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), endpointArea(9));
  assert.equal(slow, false, 'the slow work did not run');
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  assert.deepEqual(types(b.outbox), [2], 'one slow message put the node under load');
  assert.equal(b.counters.cookieReplies, 0);
});

test('under load ends a second after the work stops', () => {
  const { a, b, clock, keysB } = setup({ budgetB: 0, hardCapB: Infinity });
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), endpointArea(9));
  clock.mono += 1001;
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b);
  assert.deepEqual(types(b.outbox), [2], 'still answering with cookies');
});

test('a source that spent its share of the handshake work is dropped unread; a quiet source is still read', () => {
  const { b, clock, keysB } = setup({ budgetB: 0, hardCapB: 0 });
  const flood = endpointArea(9);
  b.manager.handleHandshake(strangerInitiation(keysB.publicKey, clock.wall), flood);
  const junk = new Uint8Array(148);
  junk[0] = 1;
  b.manager.handleHandshake(junk, flood);
  assert.equal(b.counters.invalidMac1, 0, 'mac1 was still checked for the flooding source');
  assert.equal(b.counters.handshakesShed, 1);
  const quiet = endpointArea(10);
  quiet[11] = 1; // another /64: another source
  b.manager.handleHandshake(junk, quiet);
  assert.equal(b.counters.invalidMac1, 1, 'a quiet source was shed with the flood');
  clock.mono += 1000;
  b.manager.handleHandshake(junk, flood);
  assert.equal(b.counters.invalidMac1, 2, 'the next second starts afresh');
});

test('handshakes under load are limited per IPv4 address or IPv6 /64, not per port', () => {
  const v6 = (last: number, port: number, net = 0) => {
    const e = endpointArea(last);
    e[2] = port >> 8;
    e[3] = port & 0xff;
    e[11] = net;
    return e;
  };
  assert.equal(sourceKey(v6(1, 1000)), sourceKey(v6(1, 2000)), 'a new port is a new bucket');
  assert.equal(sourceKey(v6(1, 1000)), sourceKey(v6(2, 1000)), 'a new host in the /64 is a new bucket');
  assert.notEqual(sourceKey(v6(1, 1000)), sourceKey(v6(1, 1000, 1)), 'two /64s share a bucket');
  const v4 = (last: number, port: number) => {
    const e = new Uint8Array(32);
    e[0] = 4;
    e[2] = port >> 8;
    e[3] = port & 0xff;
    e[4] = 198;
    e[5] = 18;
    e[7] = last;
    return e;
  };
  assert.equal(sourceKey(v4(1, 1000)), sourceKey(v4(1, 2000)));
  assert.notEqual(sourceKey(v4(1, 1000)), sourceKey(v4(2, 1000)));
});

test('keepalives and staged packets are padded, but never past the MTU', () => {
  const { a, b } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  a.manager.sendTransport(a.peer, new Uint8Array(1418), a.manager.now());
  a.manager.sendTransport(a.peer, new Uint8Array(17), a.manager.now());
  assert.deepEqual(a.outbox.map((m) => m.length), [16 + 1420 + 16, 16 + 32 + 16]);
});

test('removing a peer or stopping wipes its pre-shared key and held packets', () => {
  const { a, b } = setup();
  a.peer.psk.fill(7);
  a.peer.stage(new Uint8Array(64).fill(9));
  const staged = a.peer.staged[0]!;
  a.manager.destroy();
  assert.ok(a.peer.psk.every((x) => x === 0) && staged.every((x) => x === 0));
  b.peer.psk.fill(7);
  b.manager.removePeer(b.peer);
  assert.ok(b.peer.psk.every((x) => x === 0));
});

test('a session confirmed by the peer\'s first message stops our own handshake\'s retransmission', () => {
  // Both initiate; A's initiation is lost, B's completes with A as responder and B's confirming
  // keepalive promotes A's keypair. A's own attempt is then moot: WireGuard stops the retry timer
  // when any handshake completes, so no second handshake follows 5 s later.
  const { a, b, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  a.outbox.length = 0; // lost
  clock.mono += c.REKEY_TIMEOUT_MS; // B's own attempt is not held back by A's
  clock.wall += c.REKEY_TIMEOUT_MS;
  b.manager.initiate(b.peer, b.manager.now());
  settle(b, a);
  assert.ok(a.peer.isUp && b.peer.isUp && !a.peer.next, 'no confirmed session');
  assert.equal(a.peer.handshake, null, 'the session is up, yet A still has a handshake pending');
  clock.mono += c.REKEY_TIMEOUT_MS + c.REKEY_JITTER_MS;
  clock.wall += c.REKEY_TIMEOUT_MS + c.REKEY_JITTER_MS;
  a.manager.tick();
  assert.deepEqual(types(a.outbox), [], 'A retransmitted an initiation for a session already up');
});

test('a handshake message with its reserved bytes set is malformed and not read', () => {
  const { a, b } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  const initiation = a.outbox.shift()!;
  for (const at of [1, 2, 3]) {
    const bad = initiation.slice();
    bad[at] = 1;
    deliver(a, b, bad);
  }
  assert.equal(b.counters.malformed, 3);
  assert.equal(b.outbox.length, 0, 'a message with reserved bytes set was answered');
  deliver(a, b, initiation);
  assert.deepEqual(types(b.outbox), [2], 'the well-formed one was not');
});

test('a cookie reply to our response only takes the cookie: no initiation of ours is brought forward', () => {
  const { a, b, clock } = setup();
  b.manager.initiate(b.peer, b.manager.now()); // B's own handshake in flight, lost
  b.outbox.length = 0;
  a.manager.initiate(a.peer, a.manager.now());
  flush(a, b); // B answers: B's last message to A is a response
  const response = b.outbox.shift()!;
  assert.equal(response[0], 2);
  assert.ok(b.peer.handshake, 'B has no handshake of its own in flight: the test would prove nothing');
  // A, under load, answers B's response with a cookie reply (as WireGuard may).
  const cookie = new MacChecker(a.manager.identity.publicKey).createCookieReply(response, b.endpoint.subarray(0, 20), readU32LE(response, 4));
  clock.mono += 1;
  b.manager.handleHandshake(cookie, a.endpoint);
  assert.equal(b.counters.handshakeRejected, 0, 'the cookie reply was not taken');
  assert.equal(b.outbox.length, 0, 'a cookie reply to a response brought an initiation forward');
});
