// Routed prefixes on the real data path (issue 15, 1): three nodes in one process, in a line, on
// the in-memory transport and TUNs. C announces an IPv6 /48 and an IPv4 /16 behind it, B an IPv6
// /64; A grants them. What A's host sends to those networks comes out of the announcing node's
// TUN — over one hop as it is, over two end to end — IPv4 as well as IPv6, and what hosts behind
// C send back from their own addresses reaches A. What nobody may send is dropped and counted.
//
//   MemoryTun A ─ A ── B ── C ─ MemoryTun C      (B also has 2001:db8:b::/64 behind it)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, type KeyPair } from '../../src/keys/keypair.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { parseIPv4, parseIPv6 } from '../../src/keys/ip-text.js';
import { MeshNode } from '../../src/node/node.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { MemoryHub } from '../../src/transport/memory.js';
import { parsePrefix } from '../../src/fcnet/prefix.js';
import { parseGrant } from '../../src/routing/prefix-policy.js';
import { untilFast as until } from '../wait.js';
import { ipv4Packet, ipv6Packet } from './packets.js';

const ipv6 = (src: Uint8Array, dst: Uint8Array, fill: number) => ipv6Packet(src, dst, 24, fill);
const ipv4 = (src: Uint8Array, dst: Uint8Array, fill: number) => ipv4Packet(src, dst, 24, fill);

/** Whether `tun` was written `packet`: byte for byte, but for an IPv6 hop limit the transits lowered. */
const has = (tun: MemoryTun, packet: Uint8Array) =>
  tun.written.some((w) => w.length === packet.length && w.every((byte, i) => byte === packet[i] || (packet[0]! >> 4 === 6 && i === 7)));

test('packets for routed prefixes reach the node that announces them, IPv6 and IPv4, and only from whom they may come', async (t) => {
  const hub = new MemoryHub();
  const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()] as [KeyPair, KeyPair, KeyPair];
  const [ka, kb, kc] = keys;
  const mem = ['fd00::a', 'fd00::b', 'fd00::c'].map((a) => hub.attach(a));
  const tuns = [new MemoryTun(), new MemoryTun(), new MemoryTun()] as [MemoryTun, MemoryTun, MemoryTun];
  const id = (k: KeyPair) => encodePeerId(k.publicKey);
  const ports = { filter: false, rules: [] };
  const peer = (k: KeyPair, i: number) => ({ publicKey: k.publicKey, endpoint: mem[i]!.endpoint });
  const announce = (...texts: string[]) => texts.map((text) => ({ prefix: parsePrefix(text), delegation: null }));
  const a = new MeshNode({
    identity: ka,
    tun: tuns[0],
    sockets: [],
    transports: [mem[0]!],
    mtu: 1420,
    // A's inbound filter is on, no port open: only replies reach its own address.
    ports: { filter: true, rules: [] },
    peers: [peer(kb, 1)],
    // A's host has an IPv4 network of its own (10.1.0.0/16), which C grants it.
    prefixes: { announce: announce('10.1.0.0/16'), grants: [`2001:db8:c::/48 from ${id(kc)}`, `10.7.0.0/16 from ${id(kc)}`, `2001:db8:b::/64 from ${id(kb)}`].map(parseGrant), trusts: [] },
  });
  const b = new MeshNode({ identity: kb, tun: tuns[1], sockets: [], transports: [mem[1]!], mtu: 1420, ports, peers: [peer(ka, 0), peer(kc, 2)], prefixes: { announce: announce('2001:db8:b::/64'), grants: [], trusts: [] } });
  const c = new MeshNode({
    identity: kc,
    tun: tuns[2],
    sockets: [],
    transports: [mem[2]!],
    mtu: 1420,
    ports,
    peers: [peer(kb, 1)],
    // 10.9.0.0/16 is announced but granted by nobody.
    prefixes: { announce: announce('2001:db8:c::/48', '10.7.0.0/16', '10.9.0.0/16'), grants: [parseGrant(`10.1.0.0/16 from ${id(ka)}`)], trusts: [] },
  });
  const nodes = [a, b, c];
  for (const n of nodes) n.start();
  t.after(() => {
    for (const n of nodes) n.stop();
    for (const m of mem) m.close();
  });
  await until('A accepts the three granted claims, C A\'s', () => a.prefixes.report().accepted === 3 && c.prefixes.report().accepted === 1 && (a.peerStatus(c.peerId)?.hops ?? 0) === 2);
  assert.deepEqual(a.prefixes.report(), { accepted: 3, refused: 1, conflicts: 0, exits: 0 });

  // A's host to hosts behind C (two hops: end to end) and behind B (one hop: as it is).
  const toC6 = ipv6(a.address, parseIPv6('2001:db8:c::5'), 1);
  const toC4 = ipv4(parseIPv4('10.1.0.1'), parseIPv4('10.7.3.4'), 2);
  const toB6 = ipv6(a.address, parseIPv6('2001:db8:b::9'), 3);
  for (const p of [toC6, toC4, toB6]) tuns[0].inject(p);
  await until('C\'s TUN has both', () => has(tuns[2], toC6) && has(tuns[2], toC4), 5000);
  await until('B\'s TUN has its one', () => has(tuns[1], toB6));
  // A prefix announced but granted by nobody, and one nobody announced: not sent at all.
  const before = a.counters.snapshot();
  tuns[0].inject(ipv4(parseIPv4('10.1.0.1'), parseIPv4('10.9.0.1'), 4));
  tuns[0].inject(ipv6(a.address, parseIPv6('2001:db8:d::1'), 5));
  const marker = ipv6(a.address, parseIPv6('2001:db8:c::6'), 6);
  tuns[0].inject(marker);
  await until('the marker after them', () => has(tuns[2], marker));
  assert.equal(tuns[2].written.filter((w) => w[w.length - 1] === 4 || w[w.length - 1] === 5).length, 0);
  assert.equal(a.counters.invalidPacket, before.invalidPacket);

  // Back from hosts behind C to A: from C's prefixes, accepted as C's. A reply to the UDP flow A
  // started (ports 0x0101 both ways) passes A's filter; the same host starting one does not.
  const back6 = ipv6(parseIPv6('2001:db8:c::5'), a.address, 1);
  tuns[2].inject(back6);
  await until('A\'s TUN has the answer', () => has(tuns[0], back6));
  const filtered = a.counters.filtered;
  tuns[2].inject(ipv6(parseIPv6('2001:db8:c::5'), a.address, 7));
  await until('the unasked one filtered at A', () => a.counters.filtered === filtered + 1);
  assert.ok(!tuns[0].written.some((w) => w[w.length - 1] === 7));

  // And to A's IPv4 network, from C's.
  const back4 = ipv4(parseIPv4('10.7.0.1'), parseIPv4('10.1.0.1'), 12);
  tuns[2].inject(back4);
  await until('A\'s TUN has the IPv4 answer', () => has(tuns[0], back4));

  // C sends from a prefix A does not accept as C's (B's /64, and 10.9/16 which A did not
  // grant): dropped at A as spoofed.
  const spoofed = a.counters.spoofedSource;
  tuns[2].inject(ipv6(parseIPv6('2001:db8:b::1'), a.address, 8));
  tuns[2].inject(ipv4(parseIPv4('10.9.0.1'), parseIPv4('10.1.0.1'), 9));
  await until('both counted at A', () => a.counters.spoofedSource === spoofed + 2);
  assert.ok(!tuns[0].written.some((w) => w[w.length - 1] === 8 || w[w.length - 1] === 9));
  // A stops taking 10.1/16 off the mesh (as if its announcement had not reached C yet): what C
  // still sends there is not A's to deliver, and is dropped as invalid.
  a.prefixes.setOwn([]);
  const invalid = a.counters.invalidPacket;
  tuns[2].inject(ipv4(parseIPv4('10.7.0.1'), parseIPv4('10.1.0.1'), 13));
  await until('counted at A', () => a.counters.invalidPacket === invalid + 1);
  assert.ok(!tuns[0].written.some((w) => w[w.length - 1] === 13));

  // A sends to C's networks from addresses of its host that are not A's to send from: an IPv6
  // one that is no one's prefix, an IPv4 one outside A's /16. C drops both.
  const cSpoofed = c.counters.spoofedSource;
  tuns[0].inject(ipv6(parseIPv6('2001:db8:a::1'), parseIPv6('2001:db8:c::5'), 10));
  tuns[0].inject(ipv4(parseIPv4('10.2.0.1'), parseIPv4('10.7.0.5'), 11));
  await until('counted at C', () => c.counters.spoofedSource === cSpoofed + 2);
  assert.ok(!tuns[2].written.some((w) => w[w.length - 1] === 10 || w[w.length - 1] === 11));
});
