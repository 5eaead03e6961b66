// An end-to-end peer that restarted while routing had no route to it: its old session keys are
// gone, so what the other end seals under them it cannot open. Three nodes in one process, in a
// line, on the in-memory transport and TUNs:
//
//   A ── B ── E        E stops, B's link to it goes, A loses its route; E starts again, same key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, type KeyPair } from '../../src/keys/keypair.js';
import { MeshNode } from '../../src/node/node.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { MemoryHub, type MemoryTransport } from '../../src/transport/memory.js';
import type { PeerStatus } from '../../src/node/node.js';
import { untilFast as until } from '../wait.js';
import { ipv6Packet } from './packets.js';

test('a peer back in reach after a restart is handshaken with at once, not after 15 s of unanswered sending', async (t) => {
  const hub = new MemoryHub();
  const [ka, kb, ke] = [generateKeyPair(), generateKeyPair(), generateKeyPair()] as [KeyPair, KeyPair, KeyPair];
  const mem: MemoryTransport[] = ['fd00::a', 'fd00::b', 'fd00::e'].map((a) => hub.attach(a));
  const peer = (k: KeyPair, i: number) => ({ publicKey: k.publicKey, endpoint: mem[i]!.endpoint });
  const node = (k: KeyPair, i: number, peers: ReturnType<typeof peer>[], tun = new MemoryTun()) =>
    new MeshNode({ identity: k, tun, sockets: [], transports: [mem[i]!], mtu: 1420, ports: { filter: false, rules: [] }, peers });
  const tunA = new MemoryTun();
  const a = node(ka, 0, [peer(kb, 1)], tunA);
  const b = node(kb, 1, [peer(ka, 0), peer(ke, 2)]);
  let tunE = new MemoryTun();
  let e = node(ke, 2, [peer(kb, 1)], tunE);
  const running = new Set([a, b, e]);
  for (const n of running) n.start();
  t.after(() => {
    for (const n of running) n.stop();
    for (const m of mem) m.close();
  });
  const status = (from: MeshNode, to: MeshNode) => from.peerStatus(to.peerId) as PeerStatus | undefined;
  let fill = 1;
  /** Sends a packet from A's host to E's and says whether any sent so far reached E's host
   *  (polled: one more each time, as a ping would). */
  const sent: number[] = [];
  const pingE = () => {
    if (tunE.written.some((w) => sent.includes(w[w.length - 1]!))) return true;
    const packet = ipv6Packet(a.address, e.address, 24, fill++);
    sent.push(packet[packet.length - 1]!);
    tunA.inject(packet);
    return false;
  };
  await until('A routes to E, two hops away', () => status(a, e)?.hops === 2, 5000);
  await until('A\'s packets reach E', pingE, 5000);
  assert.equal(status(a, e)?.state, 'connected');

  // E stops; B notices its link go, and A loses its route.
  e.stop();
  running.delete(e);
  mem[2]!.close();
  await until('A has no route to E', () => (status(a, e)?.hops ?? 0) === 0, 10_000);
  // E starts again with the same key, and no sessions.
  mem[2] = hub.attach('fd00::e');
  tunE = new MemoryTun();
  e = node(ke, 2, [peer(kb, 1)], tunE);
  running.add(e);
  e.start();
  await until('A routes to E again', () => status(a, e)?.hops === 2, 10_000);
  // A's session with the old E would carry these packets into nothing for 15 s.
  sent.length = 0;
  await until('A\'s packets reach the restarted E', pingE, 3000);
  assert.equal(status(e, a)?.state, 'connected', 'E has a session with A');
});
