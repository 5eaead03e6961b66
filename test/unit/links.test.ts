// Link liveness on the session harness's clock: when hellos go out, when a silent link goes down,
// and the deadline Links.tick gives the node's timer (which at rest ticks once a second).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Links, LINK_DEAD_MS, LINK_HELLO_MS } from '../../src/node/links.js';
import { setup, settle } from './session-harness.js';

function linked() {
  const s = setup();
  s.a.manager.initiate(s.a.peer, s.a.manager.now());
  settle(s.a, s.b);
  assert.ok(s.a.peer.isUp && s.b.peer.isUp, 'no session');
  const events: string[] = [];
  const links = new Links(s.a.manager, { linkUp: (link) => events.push(`up ${link}`), linkDown: (link) => events.push(`down ${link}`) });
  links.add(s.a.peer);
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

test('a link silent for LINK_DEAD_MS goes down at that moment, which tick() names in advance', () => {
  const { a, b, clock, links, events } = linked();
  clock.mono += 10;
  const heard = a.peer.lastReceivedAt;
  assert.equal(links.tick(clock.mono, 1000), heard + LINK_DEAD_MS, 'the deadline is not when the link falls silent');
  assert.deepEqual(events, [`up ${a.peer.link}`]);
  // B's hellos keep it up and move the deadline.
  clock.mono = heard + LINK_DEAD_MS - 1;
  b.manager.sendTransport(b.peer, null, clock.mono);
  settle(b, a);
  a.outbox.length = 0;
  const later = links.tick(clock.mono, 1000);
  assert.equal(later, clock.mono + LINK_DEAD_MS);
  // Silence from here: up one millisecond before the deadline, down at it.
  clock.mono = later - 1;
  links.tick(clock.mono, 1000);
  assert.deepEqual(events, [`up ${a.peer.link}`]);
  clock.mono = later;
  assert.equal(links.tick(clock.mono, 1000), Infinity, 'a down link still has a deadline');
  assert.deepEqual(events, [`up ${a.peer.link}`, `down ${a.peer.link}`]);
});
