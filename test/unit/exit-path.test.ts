// Exits on the real data path (issue 15, 2): three nodes in one process, in a line, on the
// in-memory transport and TUNs. E offers an exit; A chooses it. What A's host sends beyond the
// mesh (IPv4 from A's mesh address, IPv6 from its fc address) comes out of E's TUN, end to end
// over two hops, and what E's host sends back reaches A. What may not pass is dropped, counted:
// a source that is not the client's, a node the exit does not serve, a reply for a client that
// no longer uses the exit.
//
//   MemoryTun A ─ A ── B ── E ─ MemoryTun E      ("the Internet" is whatever E's host routes to)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, type KeyPair } from '../../src/keys/keypair.js';
import { parseIPv4, parseIPv6 } from '../../src/keys/ip-text.js';
import { meshIPv4Bytes, fcAddressBytes } from '../../src/keys/address.js';
import { MeshNode } from '../../src/node/node.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { Ipv4Bindings, HOLD_MS, MAX_BINDINGS } from '../../src/fcnet/ipv4-bindings.js';
import { untilFast as until } from '../wait.js';
import { memoryLine } from './memory-line.js';
import { ipv4Packet, ipv6Packet } from './packets.js';

const ipv6 = (src: Uint8Array, dst: Uint8Array, fill: number) => ipv6Packet(src, dst, 24, fill);
const ipv4 = (src: Uint8Array, dst: Uint8Array, fill: number) => ipv4Packet(src, dst, 24, fill);
const HOST4 = parseIPv4('203.0.113.5');
const HOST6 = parseIPv6('2001:db8:5::5');

/** Whether `tun` was written `packet`: byte for byte, but for an IPv6 hop limit the transits lowered. */
const has = (tun: MemoryTun, packet: Uint8Array) =>
  tun.written.some((w) => w.length === packet.length && w.every((byte, i) => byte === packet[i] || (packet[0]! >> 4 === 6 && i === 7)));
const hasFill = (tun: MemoryTun, fill: number) => tun.written.some((w) => w[w.length - 1] === fill);

test('a client\'s traffic beyond the mesh goes through the exit it chose, and only what may pass does', async (t) => {
  // A's filter is on, no port open: what comes back must be a reply to a flow A's host started.
  const line = memoryLine(t, [{ ports: { filter: true, rules: [] } }, {}, { exit: { offer: true, clients: null } }]);
  const [a, b, e] = line.nodes as [MeshNode, MeshNode, MeshNode];
  const [ka, kb, ke] = line.keys as [KeyPair, KeyPair, KeyPair];
  const [tunA, tunB, tunE] = line.tuns as [MemoryTun, MemoryTun, MemoryTun];
  await until('A hears E\'s offer, two hops away', () => a.exitReport().offers.some((o) => o.peerId === e.peerId && o.ipv4 && o.ipv6 && o.hops === 2), 5000);
  // (E's answers go to A by E's own route to it.)
  await until('E routes to A', () => (e.peerStatus(a.peerId)?.hops ?? 0) === 2, 5000);
  assert.deepEqual(a.prefixesReport().claims.map((c) => c.verdict), ['exit', 'exit']);
  assert.equal(a.prefixes.accepted().length, 0, 'an offer is no route until chosen');

  // Before A chooses the exit, nothing of A's beyond the mesh goes anywhere.
  tunA.inject(ipv4(a.meshIPv4, HOST4, 1));
  tunA.inject(ipv6(a.address, HOST6, 2));
  const marker = ipv6(a.address, b.address, 20);
  tunA.inject(marker);
  await until('A\'s TUN read (the marker after them reached B)', () => has(tunB, marker));

  a.useExit(ke.publicKey);
  assert.deepEqual(a.exitReport().using, { peerId: e.peerId, available: true, reachable: true, ipv4: true, ipv6: true });
  const out4 = ipv4(a.meshIPv4, HOST4, 3);
  const out6 = ipv6(a.address, HOST6, 4);
  tunA.inject(out4);
  tunA.inject(out6);
  await until('E\'s TUN has both', () => has(tunE, out4) && has(tunE, out6), 5000);
  assert.ok(!hasFill(tunE, 1) && !hasFill(tunE, 2), 'sent before the exit was chosen');
  assert.equal(e.exitReport().offering.bound, 1);

  // E's host answers (its masquerading undone): back to A's mesh IPv4 address and fc address.
  const back4 = ipv4(HOST4, a.meshIPv4, 5);
  // (The payload is the fill byte: the answer's UDP ports are the request's, 0x0404 both ways.)
  const back6 = ipv6(HOST6, a.address, 4);
  tunE.inject(back4);
  tunE.inject(back6);
  await until('A\'s TUN has both answers', () => has(tunA, back4) && has(tunA, back6), 5000).catch((err: Error) =>
    assert.fail(`${err.message}: IPv4 ${has(tunA, back4)}, IPv6 ${has(tunA, back6)}; E ${JSON.stringify(e.counters.snapshot())}; A ${JSON.stringify(a.counters.snapshot())}`),
  );
  // Something from the Internet that is no reply to A's host: A's filter keeps it out.
  const filtered = a.counters.filtered;
  tunE.inject(ipv6(HOST6, a.address, 7));
  await until('filtered at A', () => a.counters.filtered === filtered + 1);

  // A sends from addresses that are not its own: another mesh IPv4 address, a private one, an
  // IPv6 one. E drops all three as spoofed.
  const spoofed = e.counters.spoofedSource;
  const other = meshIPv4Bytes(fcAddressBytes(generateKeyPair().publicKey));
  tunA.inject(ipv4(other, HOST4, 8));
  tunA.inject(ipv4(parseIPv4('10.0.0.1'), HOST4, 9));
  tunA.inject(ipv6(parseIPv6('2001:db8:a::1'), HOST6, 10));
  await until('counted at E', () => e.counters.spoofedSource === spoofed + 3);
  assert.ok(![8, 9, 10].some((fill) => hasFill(tunE, fill)));

  // Another key holds A's mesh IPv4 address at E (as a key whose address shares A's low 22 bits
  // would, once it sent first; found by trying keys, that would take minutes): A is refused.
  const bindings = (e as unknown as { ipv4Bindings: Ipv4Bindings }).ipv4Bindings;
  const later = performance.now() + HOLD_MS;
  const squatter = generateKeyPair().publicKey;
  assert.equal(bindings.bind(a.meshIPv4, 0, squatter, fcAddressBytes(squatter), later), true);
  const refusedHeld = e.counters.exitRefused;
  tunA.inject(ipv4(a.meshIPv4, HOST4, 17));
  await until('refused at E: the address is held', () => e.counters.exitRefused === refusedHeld + 1);
  assert.ok(!hasFill(tunE, 17));
  assert.equal(bindings.bind(a.meshIPv4, 0, ka.publicKey, a.address, later + 2 * HOLD_MS), true); // A's again

  // E serves B only now: A's traffic is refused, both families, and counted.
  e.setExitOffering({ offer: true, clients: [kb.publicKey] });
  const refused = e.counters.exitRefused;
  tunA.inject(ipv4(a.meshIPv4, HOST4, 11));
  tunA.inject(ipv6(a.address, HOST6, 12));
  await until('refused at E', () => e.counters.exitRefused === refused + 2);
  assert.ok(!hasFill(tunE, 11) && !hasFill(tunE, 12));
  e.setExitOffering({ offer: true, clients: null });

  // A stops using the exit: nothing more goes there, and what comes back for A's mesh IPv4
  // address is no longer A's to take.
  a.useExit(null);
  assert.equal(a.exitReport().using, null);
  tunA.inject(ipv4(a.meshIPv4, HOST4, 13));
  const invalid = a.counters.invalidPacket;
  tunE.inject(ipv4(HOST4, a.meshIPv4, 14));
  await until('dropped at A', () => a.counters.invalidPacket === invalid + 1);
  assert.ok(!hasFill(tunA, 14) && !hasFill(tunE, 13));

  // A chooses B, which offers no exit: A routes nothing beyond the mesh there.
  a.useExit(kb.publicKey);
  assert.equal(a.exitReport().using?.available, false);
  tunA.inject(ipv6(a.address, HOST6, 15));
  tunA.inject(ipv4(a.meshIPv4, HOST4, 16));
  const marker2 = ipv6(a.address, b.address, 21);
  tunA.inject(marker2);
  await until('the marker after them reached B', () => has(tunB, marker2));
  assert.ok(![13, 15, 16].some((fill) => hasFill(tunB, fill) || hasFill(tunE, fill)));
});

test('a client is told when the exit in use goes out of reach and comes back, though its claims stay as they were', async (t) => {
  const told: boolean[] = [];
  let prefixChanges = 0;
  const events = { exitReachabilityChanged: () => told.push(a.exitReport().using!.reachable), prefixesChanged: () => prefixChanges++ };
  const line = memoryLine(t, [{ events }, {}, { exit: { offer: true, clients: null } }]);
  const [a, b, e] = line.nodes as [MeshNode, MeshNode, MeshNode];
  const ke = line.keys[2]!;
  await until('A hears E\'s offer, two hops away', () => a.exitReport().offers.some((o) => o.peerId === e.peerId && o.hops === 2), 5000);
  // Chosen while reachable: the embedder syncs after choosing, and is told nothing more.
  a.useExit(ke.publicKey);
  assert.equal(a.exitReport().using?.reachable, true);
  const claimsBefore = prefixChanges;
  // B drops its link to E: E's announcement stays in A's map for its grace, unreachable.
  b.disconnectPeer(e.peerId);
  await until('A is told E went out of reach', () => told.length > 0, 5000);
  assert.deepEqual(told, [false]);
  assert.equal(a.prefixesReport().exits, 1, 'the offer was forgotten already: the test cut too slowly');
  b.connectPeer({ publicKey: ke.publicKey, endpoint: line.endpoint(2) });
  await until('A is told E is back in reach', () => told.length > 1, 5000);
  assert.deepEqual(told, [false, true]);
  assert.equal(prefixChanges, claimsBefore, 'the claims changed: the reach was not told on its own');
});

test('a mesh IPv4 address is held by the first key that sends from it, while it keeps sending', () => {
  const bindings = new Ipv4Bindings();
  const address = parseIPv4('100.64.1.2');
  const [k1, k2] = [generateKeyPair().publicKey, generateKeyPair().publicKey];
  assert.equal(bindings.bind(address, 0, k1, fcAddressBytes(k1), 0), true);
  assert.equal(bindings.bind(address, 0, k2, fcAddressBytes(k2), 1000), false, 'another key while the first holds it');
  assert.equal(bindings.lookup(address, 0), k1);
  assert.equal(bindings.bind(address, 0, k1, fcAddressBytes(k1), HOLD_MS - 1), true, 'the holder refreshes it');
  assert.equal(bindings.bind(address, 0, k2, fcAddressBytes(k2), 2 * HOLD_MS - 2), false);
  assert.equal(bindings.bind(address, 0, k2, fcAddressBytes(k2), 2 * HOLD_MS), true, 'taken over once the holder went quiet');
  assert.equal(bindings.lookup(address, 0), k2);
  assert.equal(bindings.lookup(parseIPv4('100.64.1.3'), 0), undefined);

  // A full table of live bindings refuses newcomers; stale ones make room.
  const full = new Ipv4Bindings();
  const one = new Uint8Array(4);
  for (let i = 0; i < MAX_BINDINGS; i++) {
    one.set([100, 64 + (i >> 16), (i >> 8) & 0xff, i & 0xff]);
    full.bind(one, 0, k1, fcAddressBytes(k1), 0);
  }
  assert.equal(full.size, MAX_BINDINGS);
  assert.equal(full.bind(parseIPv4('100.127.0.1'), 0, k2, fcAddressBytes(k2), 1000), false);
  assert.equal(full.bind(parseIPv4('100.127.0.1'), 0, k2, fcAddressBytes(k2), HOLD_MS), true);
  assert.equal(full.size, 1);
});
