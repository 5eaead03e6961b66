// Link liveness on the session harness's clock: when hellos go out, when a silent link goes down,
// and the deadline Links.tick gives the node's timer (which at rest ticks once a second).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Links,
  FRAME_LINK_PROBE,
  LINK_ANSWER_GAP_MS,
  LINK_ASK_MS,
  LINK_BUSY_DEAD_MS,
  LINK_DEAD_MS,
  LINK_ECHO_MS,
  LINK_HELLO_LATE_MS,
  LINK_HELLO_MS,
  LINK_PROBE_DEAD_MS,
  LINK_QUICK_PROBE_DEAD_MS,
  LINK_QUIET_MS,
  LINK_REPROBE_MS,
  PROBE_ANSWER,
} from '../../src/node/links.js';
import { deliver, flush, setup, settle } from './session-harness.js';

const ANSWER = Uint8Array.of(FRAME_LINK_PROBE, PROBE_ANSWER);

/**
 * A's link to B, up, its first probe (the one every link gets as it comes up) answered as B's
 * revision would: `quick`, at once by a probe answer (A's receive path then calls
 * answerReceived); else by a hello, as an older revision echoes within LINK_ECHO_MS.
 */
function linked(quick = false) {
  const s = setup();
  s.a.manager.initiate(s.a.peer, s.a.manager.now());
  settle(s.a, s.b);
  assert.ok(s.a.peer.isUp && s.b.peer.isUp, 'no session');
  const events: string[] = [];
  const links = new Links(s.a.manager, { linkUp: (link) => events.push(`up ${link}`), linkDown: (link) => events.push(`down ${link}`) });
  links.add(s.a.peer);
  links.tick(s.clock.mono, 1000);
  assert.equal(s.a.outbox.filter((m) => m.length > 32).length, 1, 'a link came up unprobed');
  flush(s.a, s.b);
  s.clock.mono += 5;
  s.b.manager.sendTransport(s.b.peer, quick ? ANSWER : null, s.clock.mono, true);
  flush(s.b, s.a);
  if (quick) links.answerReceived(s.a.peer);
  return { ...s, links, events };
}

test('a hello goes when the next tick would be too late for it, not before', () => {
  const { a, clock, links } = linked();
  const sentAt = a.peer.lastSentAt;
  clock.mono = sentAt + 200;
  links.tick(clock.mono, 100); // full pace: the next tick is 100 ms away, 700 ms early
  assert.equal(a.outbox.length, 0, 'a hello 800 ms early at full pace');
  links.tick(clock.mono, 1000); // at rest the next tick would come 200 ms after the hello is due
  assert.equal(a.outbox.length, 1, 'no hello although the next tick at rest comes too late');
  a.outbox.length = 0;

  const second = a.peer.lastSentAt;
  clock.mono = second + LINK_HELLO_MS - 100;
  links.tick(clock.mono, 100); // due exactly at the next tick: that tick sends it
  assert.equal(a.outbox.length, 0);
  clock.mono += 1;
  links.tick(clock.mono, 100);
  assert.equal(a.outbox.length, 1, 'a hello would come late at the next tick, yet none went');
});

test('a silent link is probed when a hello is late and goes down LINK_PROBE_DEAD_MS later unanswered, deadlines tick() names in advance', () => {
  // Places in the trees hang from idle links too: waiting out LINK_DEAD_MS of silence kept a
  // crashed hub's idle neighbours, and whatever hung from them, on the dead link for 3.5 s.
  const s = linked();
  const { a, b, clock, links } = s;
  clock.mono += 10;
  const heard = a.peer.lastReceivedAt;
  a.outbox.length = 0;
  assert.equal(links.tick(clock.mono, 1000), heard + LINK_HELLO_LATE_MS, 'the timer does not wake when a hello is late');
  // B's hellos, on time, keep it from being probed and move the deadline.
  for (let i = 0; i < 3; i++) {
    clock.mono += LINK_HELLO_MS;
    b.manager.sendTransport(b.peer, null, clock.mono);
    settle(b, a);
    a.outbox.length = 0;
    assert.equal(links.tick(clock.mono, 1000), clock.mono + LINK_HELLO_LATE_MS);
  }
  assert.equal(carrying(s), 0, 'probed while hellos came on time');
  // Silence from here: no probe a millisecond early, one at the deadline, then down
  // LINK_PROBE_DEAD_MS after it — long before LINK_DEAD_MS.
  const last = clock.mono;
  const death = probedThenDown(s, last + LINK_HELLO_LATE_MS, 'a hello was late');
  assert.ok(death - last < LINK_DEAD_MS);
});

test('a late hello answered by the probe keeps the link, and the next probe waits for the next late hello', () => {
  const s = linked();
  const { a, b, clock, links, events } = s;
  clock.mono += LINK_HELLO_LATE_MS + 10;
  links.tick(clock.mono, 1000);
  const sent = a.outbox.splice(0);
  assert.equal(sent.filter((m) => m.length > 32).length, 1, 'no probe');
  for (const m of sent) deliver(a, b, m);
  clock.mono += 100;
  b.manager.sendTransport(b.peer, null, clock.mono); // the echo
  flush(b, a);
  const echoed = clock.mono;
  a.outbox.length = 0;
  clock.mono = echoed + LINK_HELLO_LATE_MS - 1;
  links.tick(clock.mono, 1000);
  assert.deepEqual(events, [`up ${a.peer.link}`], 'a neighbour that answered the probe was taken down');
  assert.equal(carrying(s), 0, 'probed again before the next hello was late');
  clock.mono = echoed + LINK_HELLO_LATE_MS;
  links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 1, 'no probe when the next hello was late');
});

/** B sends A a packet (A's receive path marks packets and routed messages as traffic). */
function packetFromB(s: ReturnType<typeof linked>, traffic = true): void {
  s.b.manager.sendTransport(s.b.peer, Uint8Array.of(0x60, 0, 0, 0), s.clock.mono);
  flush(s.b, s.a);
  if (traffic) s.a.peer.trafficReceivedAt = s.clock.mono;
}

/** A's messages since the last call that carry something (a hello is 32 bytes, header and tag). */
function carrying(s: ReturnType<typeof linked>): number {
  const n = s.a.outbox.filter((m) => m.length > 32).length;
  s.a.outbox.length = 0;
  return n;
}

/**
 * From silence until a link is down: no probe a millisecond before `probeAt`, one at it, and
 * the link down LINK_PROBE_DEAD_MS after (the deadline tick() names), not a millisecond sooner,
 * with no second probe meanwhile. Returns when it went down.
 */
function probedThenDown(s: ReturnType<typeof linked>, probeAt: number, why: string): number {
  const { a, clock, links, events } = s;
  clock.mono = probeAt - 1;
  links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 0, `probed before ${why}`);
  clock.mono = probeAt;
  const death = links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 1, `no probe when ${why}`);
  assert.equal(death, clock.mono + LINK_PROBE_DEAD_MS, 'the timer does not wake when the probe goes unanswered');
  clock.mono = death - 1;
  links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 0, 'an older neighbour probed twice in one silence');
  assert.deepEqual(events, [`up ${a.peer.link}`]);
  clock.mono = death;
  assert.equal(links.tick(clock.mono, 1000), Infinity, 'a down link still has a deadline');
  assert.deepEqual(events, [`up ${a.peer.link}`, `down ${a.peer.link}`]);
  return death;
}

test('a neighbour whose packets stop is probed LINK_QUIET_MS after, and its link is down LINK_PROBE_DEAD_MS after the probe if nothing answers', () => {
  // The receiving end of a one-way flow: its place in the trees may hang from this link, and
  // senders find it again only once it has noticed the failure. Idle, that once took LINK_DEAD_MS.
  const s = linked();
  const { a, clock, links } = s;
  clock.mono += 10;
  packetFromB(s);
  const heard = a.peer.lastReceivedAt;
  a.outbox.length = 0;
  assert.equal(links.tick(clock.mono, 1000), heard + LINK_ECHO_MS, 'the timer does not wake for the echo');
  // Nothing answers: down at the deadline, not LINK_DEAD_MS after.
  const deadline = probedThenDown(s, heard + LINK_QUIET_MS, 'the neighbour fell silent');
  assert.ok(deadline - heard < LINK_DEAD_MS / 2);
});

test('a live neighbour answers the probe and keeps its link; one probe per burst, none after control traffic', () => {
  const s = linked();
  const { a, b, clock, links, events } = s;
  clock.mono += 10;
  packetFromB(s);
  packetFromB(s);
  clock.mono += LINK_QUIET_MS;
  links.tick(clock.mono, 1000);
  const sent = a.outbox.splice(0);
  assert.equal(sent.filter((m) => m.length > 32).length, 1, 'no probe');
  for (const m of sent) deliver(a, b, m);
  clock.mono += 50;
  b.manager.sendTransport(b.peer, null, clock.mono); // B answers, as its links would within LINK_ECHO_MS
  flush(b, a);
  a.outbox.length = 0;
  // Up well past the probe's deadline, and no second probe: no packet came since.
  for (let t = 0; t < 3; t++) {
    clock.mono += LINK_HELLO_MS;
    b.manager.sendTransport(b.peer, null, clock.mono); // its hellos
    flush(b, a);
    links.tick(clock.mono, 1000);
  }
  assert.deepEqual(events, [`up ${a.peer.link}`], 'a neighbour that answered was taken down');
  assert.equal(carrying(s), 0, 'probed again without new packets');
  // Control traffic (routing frames, contacts) is answered by echoes both ways already.
  packetFromB(s, false);
  clock.mono += LINK_QUIET_MS * 2;
  links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 0, 'probed after control traffic');
});

test('data sent and unanswered takes the link down LINK_BUSY_DEAD_MS after it, not LINK_PROBE_DEAD_MS, and no probe goes meanwhile', () => {
  // Data is echoed within LINK_ECHO_MS, or by the hello a first-revision node sends each second:
  // the wait for it is longer than for a probe's echo.
  const s = linked();
  const { a, clock, links, events } = s;
  clock.mono += 10;
  a.manager.sendTransport(a.peer, Uint8Array.of(0x60, 0, 0, 0), clock.mono);
  const sent = clock.mono;
  a.outbox.length = 0;
  assert.equal(links.tick(clock.mono, 1000), sent + LINK_BUSY_DEAD_MS);
  clock.mono = sent + LINK_BUSY_DEAD_MS - 1;
  links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 0, 'probed while waiting for an echo anyway');
  assert.deepEqual(events, [`up ${a.peer.link}`], 'down before LINK_BUSY_DEAD_MS: taken for a probe');
  clock.mono += 1;
  links.tick(clock.mono, 1000);
  assert.deepEqual(events, [`up ${a.peer.link}`, `down ${a.peer.link}`]);
});

/**
 * For a neighbour that answers at once: from the probe at `probeAt`, probed again every
 * LINK_REPROBE_MS (the deadlines tick() names), and down LINK_QUICK_PROBE_DEAD_MS after the first
 * probe, not a millisecond sooner. Returns when it went down.
 */
function quickProbesThenDown(s: ReturnType<typeof linked>, probeAt: number): number {
  const { a, clock, links, events } = s;
  clock.mono = probeAt - 1;
  links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 0, 'probed early');
  clock.mono = probeAt;
  let due = links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 1, 'no probe');
  const death = probeAt + LINK_QUICK_PROBE_DEAD_MS;
  const probes = [probeAt];
  while (due < death) {
    assert.equal(due, probes.at(-1)! + LINK_REPROBE_MS, 'the timer does not wake to probe again');
    clock.mono = due - 1;
    links.tick(clock.mono, 1000);
    assert.equal(carrying(s), 0, 'probed again early');
    clock.mono = due;
    due = links.tick(clock.mono, 1000);
    assert.equal(carrying(s), 1, 'not probed again');
    probes.push(clock.mono);
  }
  assert.equal(probes.length, 4, `probes at ${probes.map((t) => t - probeAt).join(', ')} ms`);
  assert.equal(due, death, 'the timer does not wake when the probes go unanswered');
  clock.mono = death - 1;
  links.tick(clock.mono, 1000);
  assert.deepEqual(events, [`up ${a.peer.link}`], 'down early');
  clock.mono = death;
  assert.equal(links.tick(clock.mono, 1000), Infinity);
  assert.deepEqual(events, [`up ${a.peer.link}`, `down ${a.peer.link}`]);
  for (clock.mono = death; clock.mono < death + 1000; clock.mono += 50) links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 0, 'a link down is probed on');
  clock.mono = death;
  return death;
}

test('a neighbour that answers probes at once: a late hello, probes every LINK_REPROBE_MS, down LINK_QUICK_PROBE_DEAD_MS after the first', () => {
  const s = linked(true);
  const { a, clock } = s;
  clock.mono += 10;
  const heard = a.peer.lastReceivedAt;
  a.outbox.length = 0;
  const death = quickProbesThenDown(s, heard + LINK_HELLO_LATE_MS);
  assert.equal(death - heard, LINK_HELLO_LATE_MS + LINK_QUICK_PROBE_DEAD_MS);
});

test('a neighbour that answers probes at once, whose packets stop: down LINK_QUICK_PROBE_DEAD_MS after the probe, though a frame of ours awaits an answer', () => {
  // A routing frame sent into the silence once held the wait at LINK_BUSY_DEAD_MS (seen in the
  // one-way flow's network-namespace test: 1.7 s instead of 0.8).
  for (const frameSent of [false, true]) {
    const s = linked(true);
    const { a, clock } = s;
    clock.mono += 10;
    packetFromB(s);
    const heard = a.peer.lastReceivedAt;
    clock.mono += 100;
    if (frameSent) a.manager.sendTransport(a.peer, Uint8Array.of(0x02, 4, 0, 0), clock.mono);
    a.outbox.length = 0;
    assert.equal(quickProbesThenDown(s, heard + LINK_QUIET_MS) - heard, LINK_QUIET_MS + LINK_QUICK_PROBE_DEAD_MS, frameSent ? 'with a frame awaiting an answer' : 'idle');
  }
});

test('a probe or answer lost does not take down the link of a neighbour that answers at once: the next probe is answered', () => {
  const s = linked(true);
  const { a, b, clock, links, events } = s;
  clock.mono += 10;
  const probeAt = a.peer.lastReceivedAt + LINK_HELLO_LATE_MS;
  clock.mono = probeAt;
  links.tick(clock.mono, 1000);
  assert.equal(carrying(s), 1);
  // Lost. The second probe goes and is answered.
  clock.mono = probeAt + LINK_REPROBE_MS;
  links.tick(clock.mono, 1000);
  const sent = a.outbox.splice(0);
  assert.equal(sent.filter((m) => m.length > 32).length, 1, 'not probed again');
  for (const m of sent) deliver(a, b, m);
  clock.mono += 20;
  b.manager.sendTransport(b.peer, ANSWER, clock.mono, true);
  flush(b, a);
  for (clock.mono = probeAt; clock.mono <= probeAt + LINK_QUICK_PROBE_DEAD_MS + LINK_REPROBE_MS; clock.mono += 10) links.tick(clock.mono, 1000);
  assert.deepEqual(events, [`up ${a.peer.link}`], 'a neighbour that answered the second probe was taken down');
  assert.equal(carrying(s), 0, 'probed again after the answer');
});

test('a probe is answered at once, once per LINK_ANSWER_GAP_MS; the answer awaits no reply, so it cannot take the link down', () => {
  const s = linked();
  const { a, b, clock, links } = s;
  clock.mono += 10;
  a.outbox.length = 0;
  b.manager.sendTransport(b.peer, Uint8Array.of(FRAME_LINK_PROBE), clock.mono);
  flush(b, a);
  links.probeReceived(a.peer, clock.mono);
  assert.equal(carrying(s), 1, 'no answer');
  assert.equal(a.peer.awaitingReplySince, -Infinity, 'the answer awaits a reply');
  assert.equal(a.peer.owesKeepaliveSince, -Infinity, 'an echo still owed after the answer');
  clock.mono += LINK_ANSWER_GAP_MS - 1;
  links.probeReceived(a.peer, clock.mono);
  assert.equal(carrying(s), 0, 'answered twice within LINK_ANSWER_GAP_MS');
  clock.mono += 1;
  links.probeReceived(a.peer, clock.mono);
  assert.equal(carrying(s), 1, 'not answered after LINK_ANSWER_GAP_MS');
});

test('a link that comes up again is not probed again once its neighbour is known to answer at once', () => {
  const s = linked(true);
  const { a, clock, links, events } = s;
  clock.mono += 10;
  a.outbox.length = 0;
  // Silent past LINK_DEAD_MS... (probes unanswered: down)
  clock.mono = quickProbesThenDown(s, a.peer.lastReceivedAt + LINK_HELLO_LATE_MS);
  // ... then heard again: up, and no probe for its coming up.
  clock.mono += 100;
  s.b.manager.sendTransport(s.b.peer, null, clock.mono);
  flush(s.b, a);
  links.tick(clock.mono, 1000);
  assert.deepEqual(events, [`up ${a.peer.link}`, `down ${a.peer.link}`, `up ${a.peer.link}`]);
  assert.equal(carrying(s), 0, 'probed as it came up again');
});

test('a neighbour not known to answer at once is asked again every LINK_ASK_MS (one probe), one that answers is not', () => {
  for (const quick of [false, true]) {
    const s = linked(quick);
    const { a, b, clock, links, events } = s;
    const upAt = clock.mono;
    a.outbox.length = 0;
    const probesAt: number[] = [];
    for (let t = 100; t <= LINK_ASK_MS + 1000; t += 100) {
      clock.mono = upAt + t;
      if (t % 1000 === 0) {
        b.manager.sendTransport(b.peer, null, clock.mono); // B's hellos
        flush(b, a);
      }
      links.tick(clock.mono, 100);
      if (carrying(s) > 0) probesAt.push(t);
    }
    assert.deepEqual(probesAt, quick ? [] : [LINK_ASK_MS], `${quick ? 'a quick' : 'an older'} neighbour probed at ${probesAt.join(', ')} ms`);
    assert.deepEqual(events, [`up ${a.peer.link}`]);
  }
});
