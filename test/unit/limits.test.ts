// The limits that keep a node's own answers and state bounded whatever others send it: the rate
// of ICMPv6 errors, the number of end-to-end peers, and the messages one keypair may send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { IcmpReplies } from '../../src/node/icmp-replies.js';
import { EndToEnd } from '../../src/node/end-to-end.js';
import { Links } from '../../src/node/links.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { fcAddressBytes } from '../../src/keys/address.js';
import { Counters } from '../../src/util/counters.js';
import * as c from '../../src/session/constants.js';
import { setup, settle, deliver, sealData, types } from './session-harness.js';

/** A packet from `src` to an fc address nobody has. */
function undeliverable(src: Uint8Array): Uint8Array {
  const p = new Uint8Array(64);
  p.set([0x60, 0, 0, 0, 0, 24, 17, 64]);
  p.set(src, 8);
  p.set([0xfc, 0, 0x12, 0x34], 24);
  return p;
}

test('ICMPv6 errors are limited to a burst of 20, then 100 a second', () => {
  const clock = { now: 0 };
  const tun = new MemoryTun();
  const own = fcAddressBytes(randomBytes(32));
  const icmp = new IcmpReplies(tun, own, () => clock.now);
  const lost = undeliverable(own);
  for (let i = 0; i < 1000; i++) icmp.noRoute(lost, 0, lost.length);
  assert.equal(tun.written.length, 20, 'a flood of undeliverable packets became a flood of errors');
  clock.now += 100; // 10 more tokens
  for (let i = 0; i < 1000; i++) icmp.noRoute(lost, 0, lost.length);
  assert.equal(tun.written.length, 30);
  assert.equal(tun.written[0]![40], 1, 'not a destination-unreachable');
});

test('at most 4096 end-to-end peers are kept; past that new nodes are refused and counted', () => {
  const { b, keysB } = setup();
  const counters = new Counters();
  const links = new Links(b.manager, { linkUp() {}, linkDown() {} });
  const icmp = new IcmpReplies(new MemoryTun(), fcAddressBytes(keysB.publicKey), b.manager.now);
  const e2e = new EndToEnd(keysB, b.manager, links, icmp, counters, { changed() {}, resend() {}, routeLost() {}, internalError() {} }, 1420, b.manager.now);
  const routeTo = (publicKey: Uint8Array) => ({ publicKey, address: fcAddressBytes(publicKey), link: 1, label: [2] }) as unknown as Parameters<EndToEnd['peerFor']>[0];
  for (let i = 0; i < 4096; i++) assert.ok(e2e.peerFor(routeTo(randomBytes(32))), `peer ${i + 1} refused`);
  assert.equal(counters.rateLimited, 0);
  assert.equal(e2e.peerFor(routeTo(randomBytes(32))), undefined, 'a 4097th end-to-end peer was made');
  assert.equal(counters.rateLimited, 1);
  assert.equal([...e2e.all()].length, 4096);
  e2e.destroy();
});

test('a keypair that has sent REJECT_AFTER_MESSAGES messages sends no more', () => {
  const { a, b } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  const kp = a.peer.current!;
  kp.sendCounter = c.REJECT_AFTER_MESSAGES - 1;
  assert.ok(deliver(a, b, sealData(a, new Uint8Array(32))), 'the last counter was refused');
  assert.equal(kp.sendCounter, c.REJECT_AFTER_MESSAGES);
  a.outbox.length = 0;
  assert.equal(a.manager.sendingKeypair(a.peer, a.manager.now()), null, 'a keypair past its last counter was used');
  assert.equal(a.manager.sendTransport(a.peer, new Uint8Array(32), a.manager.now()), false);
  assert.ok(!types(a.outbox).includes(4), 'a transport message went out past the counter cap');
});

test('end-to-end peers whose routes come back are handshaken anew at most 32 a tick, and each at most once a second (later, not never)', () => {
  const { a, b, keysB, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  // A real keypair stands for each peer's session: only that there is one matters here.
  const session = a.peer.current!;
  const counters = new Counters();
  const links = new Links(b.manager, { linkUp() {}, linkDown() {} });
  const icmp = new IcmpReplies(new MemoryTun(), fcAddressBytes(keysB.publicKey), b.manager.now);
  const e2e = new EndToEnd(keysB, b.manager, links, icmp, counters, { changed() {}, resend() {}, routeLost() {}, internalError() {} }, 1420, b.manager.now);
  const routeOf = (publicKey: Uint8Array) => ({ publicKey, address: fcAddressBytes(publicKey), link: 1, label: [2] }) as unknown as Parameters<EndToEnd['peerFor']>[0];
  const peers = Array.from({ length: 100 }, () => e2e.peerFor(routeOf(randomBytes(32)))!);
  for (const peer of peers) peer.current = session;
  // Each initiation goes to link 1, which has no session here: counted as such.
  const sent = () => counters.noSession;
  // One link, every route through it: gone, then back.
  e2e.routesChanged(() => undefined);
  assert.equal(sent(), 0);
  e2e.routesChanged(routeOf);
  assert.equal(sent(), 32, 'the first tick');
  for (const expected of [64, 96, 100, 100]) {
    e2e.tick(() => true);
    assert.equal(sent(), expected);
  }
  assert.ok(peers.every((p) => p.lastInitiationSentAt === clock.mono), 'a peer was not sent one');
  // Gone and back again within the second: none now ...
  e2e.routesChanged(() => undefined);
  e2e.routesChanged(routeOf);
  e2e.tick(() => true);
  assert.equal(sent(), 100);
  // ... but once the second is up, 32 a tick again.
  clock.mono += 1000;
  e2e.tick(() => true);
  assert.equal(sent(), 132);
  e2e.destroy();
});

test('an end-to-end peer whose first handshake is unanswered is sent the initiation again by its new route at once when the route moves (at most once a second)', () => {
  const { b, keysB, clock } = setup();
  const counters = new Counters();
  const links = new Links(b.manager, { linkUp() {}, linkDown() {} });
  const icmp = new IcmpReplies(new MemoryTun(), fcAddressBytes(keysB.publicKey), b.manager.now);
  const e2e = new EndToEnd(keysB, b.manager, links, icmp, counters, { changed() {}, resend() {}, routeLost() {}, internalError() {} }, 1420, b.manager.now);
  type RouteArg = Parameters<EndToEnd['peerFor']>[0];
  const by = (label: number[]) => (publicKey: Uint8Array) => ({ publicKey, address: fcAddressBytes(publicKey), link: 1, label }) as unknown as RouteArg;
  const waiting = e2e.peerFor(by([2])(randomBytes(32)))!;
  const idle = e2e.peerFor(by([2])(randomBytes(32)))!;
  // Initiations go to link 1, which has no session here: counted as such.
  const sent = () => counters.noSession;
  const t0 = clock.mono;
  e2e.sessions.initiate(waiting, t0);
  assert.equal(sent(), 1);
  assert.ok(waiting.handshake && !waiting.current && !idle.handshake);
  // A second on, the same route again: nothing new to try.
  clock.mono = t0 + 1000;
  e2e.routesChanged(by([2]));
  e2e.tick(() => true);
  assert.equal(sent(), 1, 'sent again by the route it went by');
  // The route moved: at once.
  e2e.routesChanged(by([3, 4]));
  assert.equal(sent(), 2, 'the initiation did not go again by the new route');
  assert.equal(waiting.lastInitiationSentAt, t0 + 1000);
  // Moved again within the second: at the first tick a second after the last.
  clock.mono = t0 + 1500;
  e2e.routesChanged(by([5]));
  assert.equal(sent(), 2);
  clock.mono = t0 + 1999;
  e2e.tick(() => true);
  assert.equal(sent(), 2);
  clock.mono = t0 + 2000;
  e2e.tick(() => true);
  assert.equal(sent(), 3);
  // The peer that never initiated gets none: it has no handshake to finish.
  assert.equal(idle.lastInitiationSentAt, -Infinity);
  // Moved within the second, then the handshake given up (REKEY_ATTEMPT_TIME) before the next
  // tick: none starts.
  clock.mono = t0 + 2500;
  e2e.routesChanged(by([6]));
  waiting.handshake = null;
  clock.mono = t0 + 3000;
  e2e.tick(() => true);
  assert.equal(sent(), 3, 'a handshake given up was started again');
  e2e.destroy();
});

test('an end-to-end peer awaiting its first session whose route goes is looked up at once, once until its route is back; a peer with a session is not', () => {
  const { a, b, keysB, clock } = setup();
  a.manager.initiate(a.peer, a.manager.now());
  settle(a, b);
  const counters = new Counters();
  const links = new Links(b.manager, { linkUp() {}, linkDown() {} });
  const icmp = new IcmpReplies(new MemoryTun(), fcAddressBytes(keysB.publicKey), b.manager.now);
  const lost: unknown[] = [];
  const e2e = new EndToEnd(keysB, b.manager, links, icmp, counters, { changed() {}, resend() {}, routeLost: (peer) => void lost.push(peer), internalError() {} }, 1420, b.manager.now);
  type RouteArg = Parameters<EndToEnd['peerFor']>[0];
  const by = (label: number[]) => (publicKey: Uint8Array) => ({ publicKey, address: fcAddressBytes(publicKey), link: 1, label }) as unknown as RouteArg;
  const waiting = e2e.peerFor(by([2])(randomBytes(32)))!;
  const withSession = e2e.peerFor(by([2])(randomBytes(32)))!;
  withSession.current = a.peer.current!;
  const never = e2e.peerFor(by([2])(randomBytes(32)))!;
  e2e.sessions.initiate(waiting, clock.mono);
  assert.ok(waiting.handshake && !never.handshake);
  e2e.routesChanged(by([2]));
  assert.deepEqual(lost, [], 'looked up with a route');
  e2e.routesChanged(() => undefined);
  assert.deepEqual(lost, [waiting]);
  // Routing changes again, still without a route to it: the lookup runs already (or found nothing).
  e2e.routesChanged(() => undefined);
  assert.deepEqual(lost, [waiting], 'looked up again while still routeless');
  // Back, and gone again: once more.
  e2e.routesChanged(by([3]));
  e2e.routesChanged(() => undefined);
  assert.deepEqual(lost, [waiting, waiting]);
  // Its handshake given up: nothing more to wait for.
  e2e.routesChanged(by([3]));
  waiting.handshake = null;
  e2e.routesChanged(() => undefined);
  assert.deepEqual(lost, [waiting, waiting]);
  e2e.destroy();
});
