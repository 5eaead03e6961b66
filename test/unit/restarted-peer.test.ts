// An end-to-end peer that restarted while routing had no route to it: its old session keys are
// gone, so what the other end seals under them it cannot open. Three nodes in one process, in a
// line, on the in-memory transport and TUNs:
//
//   A ── B ── E        E stops, B's link to it goes, A loses its route; E starts again, same key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshNode, PeerStatus } from '../../src/node/node.js';
import { untilFast as until } from '../wait.js';
import { memoryLine } from './memory-line.js';
import { ipv6Packet } from './packets.js';

test('a peer back in reach after a restart is handshaken with at once, not after 15 s of unanswered sending', async (t) => {
  const line = memoryLine(t, [{}, {}, {}]);
  const a = line.nodes[0]!;
  let e = line.nodes[2]!;
  const status = (from: MeshNode, to: MeshNode) => from.peerStatus(to.peerId) as PeerStatus | undefined;
  let fill = 1;
  /** Sends a packet from A's host to E's and says whether any sent so far reached E's host
   *  (polled: one more each time, as a ping would). */
  const sent: number[] = [];
  const pingE = () => {
    if (line.tuns[2]!.written.some((w) => sent.includes(w[w.length - 1]!))) return true;
    const packet = ipv6Packet(a.address, e.address, 24, fill++);
    sent.push(packet[packet.length - 1]!);
    line.tuns[0]!.inject(packet);
    return false;
  };
  await until('A routes to E, two hops away', () => status(a, e)?.hops === 2, 5000);
  await until('A\'s packets reach E', pingE, 5000);
  assert.equal(status(a, e)?.state, 'connected');

  // E stops; B notices its link go, and A loses its route.
  line.stop(2);
  await until('A has no route to E', () => (status(a, e)?.hops ?? 0) === 0, 10_000);
  // E starts again with the same key, and no sessions.
  e = line.startAgain(2);
  await until('A routes to E again', () => status(a, e)?.hops === 2, 10_000);
  // A's session with the old E would carry these packets into nothing for 15 s.
  sent.length = 0;
  await until('A\'s packets reach the restarted E', pingE, 3000);
  assert.equal(status(e, a)?.state, 'connected', 'E has a session with A');
});
