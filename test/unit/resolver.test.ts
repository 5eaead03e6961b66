// The resolver at fc00::1 (src/node/resolver.ts) inside a real MeshNode: packets are injected
// into its in-memory TUN as an application would send them, and what the node writes back to the
// TUN is read as the application would receive it. Checksums are verified here independently of
// src/fcnet, and DNS answers are read back with a small parser of this file's own.
import { test } from 'node:test';
import { tempDir } from '../temp-dir.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { fcAddressBytes, isRovyKey, parseIPv6 } from '../../src/keys/address.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { PetnameStore } from '../../src/names/petnames.js';
import { MeshNode, type PeerSpec } from '../../src/node/node.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { UdpSocket } from '../../src/transport/udp.js';
import { untilFast } from '../wait.js';

const RESOLVER = parseIPv6('fc00::1');
const UDP = 17;
const TCP = 6;
const ICMPV6 = 58;
const T = { PTR: 12, AAAA: 28 };
const RCODE = { NOERROR: 0, NXDOMAIN: 3, REFUSED: 5 };

// --- Packets, built and checked without src/fcnet -------------------------------------------

/** The Internet checksum over the IPv6 pseudo-header (RFC 8200 §8.1) and the upper-layer message. */
function pseudoChecksum(src: Uint8Array, dst: Uint8Array, next: number, upper: Uint8Array): number {
  const words: number[] = [];
  const add = (b: Uint8Array): void => {
    for (let i = 0; i < b.length; i += 2) words.push((b[i]! << 8) | (i + 1 < b.length ? b[i + 1]! : 0));
  };
  add(src);
  add(dst);
  words.push(upper.length >>> 16, upper.length & 0xffff, 0, next);
  add(upper);
  let sum = words.reduce((a, w) => a + w, 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Whether the upper-layer message of `packet` (checksum in place) verifies. */
function checksumVerifies(packet: Uint8Array): boolean {
  return pseudoChecksum(packet.subarray(8, 24), packet.subarray(24, 40), packet[6]!, packet.subarray(40)) === 0;
}

function ipv6(src: Uint8Array, dst: Uint8Array, next: number, upper: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + upper.length);
  p[0] = 0x60;
  p[4] = upper.length >> 8;
  p[5] = upper.length & 0xff;
  p[6] = next;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(upper, 40);
  return p;
}

/**
 * A UDP datagram in IPv6 with a correct checksum, unless `corrupt` flips a bit of it. `udpLength`
 * overrides the UDP length field (the checksum still covers the whole datagram and verifies).
 */
function udpPacket(
  src: Uint8Array,
  dst: Uint8Array,
  srcPort: number,
  dstPort: number,
  data: Uint8Array,
  corrupt = false,
  udpLength = 8 + data.length,
): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  u[0] = srcPort >> 8;
  u[1] = srcPort & 0xff;
  u[2] = dstPort >> 8;
  u[3] = dstPort & 0xff;
  u[4] = udpLength >> 8;
  u[5] = udpLength & 0xff;
  u.set(data, 8);
  const sum = pseudoChecksum(src, dst, UDP, u) || 0xffff;
  u[6] = sum >> 8;
  u[7] = (sum & 0xff) ^ (corrupt ? 1 : 0);
  return ipv6(src, dst, UDP, u);
}

/** An ICMPv6 echo request with a correct checksum. */
function echoRequest(src: Uint8Array, dst: Uint8Array, id: number, seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = 128;
  m[4] = id >> 8;
  m[5] = id & 0xff;
  m[6] = seq >> 8;
  m[7] = seq & 0xff;
  m.set(data, 8);
  const sum = pseudoChecksum(src, dst, ICMPV6, m);
  m[2] = sum >> 8;
  m[3] = sum & 0xff;
  return ipv6(src, dst, ICMPV6, m);
}

/** A TCP SYN (20-byte header, no options) with a correct checksum. */
function tcpSyn(src: Uint8Array, dst: Uint8Array, srcPort: number, dstPort: number): Uint8Array {
  const h = new Uint8Array(20);
  h[0] = srcPort >> 8;
  h[1] = srcPort & 0xff;
  h[2] = dstPort >> 8;
  h[3] = dstPort & 0xff;
  h.set([0x12, 0x34, 0x56, 0x78], 4); // sequence number
  h[12] = 5 << 4; // data offset: 5 words
  h[13] = 0x02; // SYN
  h[14] = 0xff; // window
  h[15] = 0xff;
  const sum = pseudoChecksum(src, dst, TCP, h);
  h[16] = sum >> 8;
  h[17] = sum & 0xff;
  return ipv6(src, dst, TCP, h);
}

// --- DNS, built and read back ---------------------------------------------------------------

function dnsQuery(name: string, qtype: number, id: number): Uint8Array {
  const bytes = [id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]; // RD, one question
  for (const label of name.split('.')) bytes.push(label.length, ...Buffer.from(label, 'ascii'));
  bytes.push(0, qtype >> 8, qtype & 0xff, 0, 1); // class IN
  return Uint8Array.from(bytes);
}

interface DnsResponse {
  id: number;
  qr: boolean;
  aa: boolean;
  rcode: number;
  question: string;
  answers: { name: string; type: number; ttl: number; rdata: Uint8Array; target: string | null }[];
}

/** Reads a (possibly compressed) name at `p`; returns it and where the name ends in place. */
function readName(m: Uint8Array, p: number): { name: string; end: number } {
  const labels: string[] = [];
  let end = -1;
  for (let jumps = 0; ; ) {
    const len = m[p]!;
    if (len === 0) return { name: labels.join('.'), end: end < 0 ? p + 1 : end };
    if ((len & 0xc0) === 0xc0) {
      if (++jumps > 10) throw new Error('compression loop');
      if (end < 0) end = p + 2;
      p = ((len & 0x3f) << 8) | m[p + 1]!;
      continue;
    }
    labels.push(Buffer.from(m.subarray(p + 1, p + 1 + len)).toString('latin1'));
    p += 1 + len;
  }
}

function parseDns(m: Uint8Array): DnsResponse {
  const u16 = (o: number): number => (m[o]! << 8) | m[o + 1]!;
  assert.equal(u16(4), 1, 'question count');
  const q = readName(m, 12);
  let p = q.end + 4;
  const answers: DnsResponse['answers'] = [];
  for (let i = 0; i < u16(6); i++) {
    const owner = readName(m, p);
    p = owner.end;
    const type = u16(p);
    const ttl = (u16(p + 4) << 16) | u16(p + 6);
    const rdlength = u16(p + 8);
    const rdata = m.subarray(p + 10, p + 10 + rdlength);
    answers.push({ name: owner.name, type, ttl, rdata, target: type === T.PTR ? readName(m, p + 10).name : null });
    p += 10 + rdlength;
  }
  return { id: u16(0), qr: (m[2]! & 0x80) !== 0, aa: (m[2]! & 0x04) !== 0, rcode: m[3]! & 0x0f, question: q.name, answers };
}

/** `<nibbles>.ip6.arpa` of a 16-byte address. */
function reverseName(address: Uint8Array): string {
  const nibbles: string[] = [];
  for (const b of address) nibbles.push((b >> 4).toString(16), (b & 0xf).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

// --- A node on its own --------------------------------------------------------------------

interface Harness {
  node: MeshNode;
  tun: MemoryTun;
  /** Injects `packet` and returns the next packet the node writes to the TUN. */
  exchange(packet: Uint8Array): Promise<Uint8Array>;
  /** Sends a DNS query from [node]:40000 and returns the reply packet, checked as a UDP reply. */
  ask(name: string, qtype: number): Promise<DnsResponse>;
}

let nextId = 0x1000;

async function harness(t: { after: (fn: () => void) => void }, options: { peers?: PeerSpec[]; petnames?: PetnameStore } = {}): Promise<Harness> {
  const tun = new MemoryTun();
  const udp = UdpSocket.open(6, '::1', 0);
  const node = new MeshNode({ identity: generateKeyPair(), tun, sockets: [udp], mtu: 1420, peers: options.peers ?? [], petnames: options.petnames ?? null });
  node.start();
  t.after(() => {
    node.stop();
    udp.close();
  });
  const exchange = async (packet: Uint8Array): Promise<Uint8Array> => {
    const before = tun.written.length;
    tun.inject(packet);
    await untilFast('a packet on the TUN', () => tun.written.length > before);
    assert.equal(tun.written.length, before + 1, 'more than one packet written');
    return tun.written[before]!;
  };
  const ask = async (name: string, qtype: number): Promise<DnsResponse> => {
    const id = nextId++;
    const reply = await exchange(udpPacket(node.address, RESOLVER, 40000, 53, dnsQuery(name, qtype, id)));
    assert.equal(reply[6], UDP, 'not UDP');
    assert.deepEqual(reply.subarray(8, 24), RESOLVER, 'not from fc00::1');
    assert.deepEqual(reply.subarray(24, 40), node.address, 'not to the asker');
    assert.equal((reply[40]! << 8) | reply[41]!, 53, 'source port');
    assert.equal((reply[42]! << 8) | reply[43]!, 40000, 'destination port');
    assert.ok(checksumVerifies(reply), 'UDP checksum');
    const response = parseDns(reply.subarray(48));
    assert.equal(response.id, id, 'DNS ID');
    assert.equal(response.qr, true, 'not a response');
    return response;
  };
  return { node, tun, exchange, ask };
}

function tempStore(t: { after: (fn: () => void) => void }): PetnameStore {
  return PetnameStore.load(join(tempDir(t, 'rovy-resolver-'), 'names.json'));
}

// --- Tests ------------------------------------------------------------------------------------

test('a DNS query for <peer ID>.rovy is answered from [fc00::1]:53 with the derived address', async (t) => {
  const h = await harness(t);
  const peer = generateKeyPair();
  const name = `${encodePeerId(peer.publicKey)}.rovy`;
  const query = udpPacket(h.node.address, RESOLVER, 40000, 53, dnsQuery(name, T.AAAA, 0x4242));
  const reply = await h.exchange(query);

  assert.equal(reply[0]! >> 4, 6, 'IP version');
  assert.equal(reply[6], UDP);
  assert.equal(reply[7], 64, 'hop limit');
  assert.equal((reply[4]! << 8) | reply[5]!, reply.length - 40, 'IPv6 payload length');
  assert.equal((reply[44]! << 8) | reply[45]!, reply.length - 40, 'UDP length');
  assert.deepEqual(reply.subarray(8, 24), RESOLVER);
  assert.deepEqual(reply.subarray(24, 40), h.node.address);
  assert.equal((reply[40]! << 8) | reply[41]!, 53);
  assert.equal((reply[42]! << 8) | reply[43]!, 40000);
  assert.notEqual((reply[46]! << 8) | reply[47]!, 0, 'no UDP checksum (0 is "none" in IPv6)');
  assert.ok(checksumVerifies(reply), 'UDP checksum does not verify');

  const dns = parseDns(reply.subarray(48));
  assert.equal(dns.id, 0x4242);
  assert.equal(dns.qr, true);
  assert.equal(dns.aa, true);
  assert.equal(dns.rcode, RCODE.NOERROR);
  assert.equal(dns.question, name);
  assert.equal(dns.answers.length, 1);
  assert.equal(dns.answers[0]!.name, name);
  assert.equal(dns.answers[0]!.type, T.AAAA);
  assert.equal(dns.answers[0]!.ttl, 60);
  assert.deepEqual(dns.answers[0]!.rdata, fcAddressBytes(peer.publicKey));
  assert.equal(h.node.counters.dnsAnswered, 1);
  assert.equal(h.node.counters.dnsRefused, 0);
  assert.equal(h.node.counters.dnsDropped, 0);
});

test('the peer ID of a key without an fc00::/8 address is no name: NXDOMAIN', async (t) => {
  const h = await harness(t);
  const notANode = new Uint8Array(32).fill(1);
  assert.equal(isRovyKey(notANode), false, 'the test key is a rovy key after all');
  const reply = await h.ask(`${encodePeerId(notANode)}.rovy`, T.AAAA);
  assert.equal(reply.rcode, RCODE.NXDOMAIN);
  assert.equal(reply.aa, true);
  assert.equal(reply.answers.length, 0);
});

test('a reply goes back to whichever source address and port asked', async (t) => {
  const h = await harness(t);
  const other = parseIPv6('fc12:3456::9');
  const query = udpPacket(other, RESOLVER, 5353, 53, dnsQuery(`${h.node.peerId}.rovy`, T.AAAA, 7));
  const reply = await h.exchange(query);
  assert.deepEqual(reply.subarray(24, 40), other);
  assert.equal((reply[42]! << 8) | reply[43]!, 5353);
  assert.ok(checksumVerifies(reply));
  assert.deepEqual(parseDns(reply.subarray(48)).answers[0]!.rdata, h.node.address);
});

test('a petname answers AAAA and PTR, and stops when it is removed', async (t) => {
  const h = await harness(t, { petnames: tempStore(t) });
  const peer = generateKeyPair();
  const peerId = encodePeerId(peer.publicKey);
  const address = fcAddressBytes(peer.publicKey);

  const before = await h.ask('alice.rovy', T.AAAA);
  assert.equal(before.rcode, RCODE.NXDOMAIN, 'alice resolved before she was named');

  h.node.setName('alice', peerId);
  const aaaa = await h.ask('alice.rovy', T.AAAA);
  assert.equal(aaaa.rcode, RCODE.NOERROR);
  assert.equal(aaaa.answers.length, 1);
  assert.deepEqual(aaaa.answers[0]!.rdata, address);

  // The peer was never met: reverse DNS knows it from the name book alone.
  const ptr = await h.ask(reverseName(address), T.PTR);
  assert.equal(ptr.rcode, RCODE.NOERROR);
  assert.equal(ptr.answers.length, 1);
  assert.equal(ptr.answers[0]!.type, T.PTR);
  assert.equal(ptr.answers[0]!.target, 'alice.rovy');

  // The peer ID keeps resolving beside the petname.
  const byId = await h.ask(`${peerId}.rovy`, T.AAAA);
  assert.deepEqual(byId.answers[0]!.rdata, address);

  h.node.removeName('alice');
  assert.equal((await h.ask('alice.rovy', T.AAAA)).rcode, RCODE.NXDOMAIN);
  assert.equal((await h.ask(reverseName(address), T.PTR)).rcode, RCODE.NXDOMAIN);
});

test('a config name answers AAAA and PTR; the node\'s own address has its peer ID', async (t) => {
  const bob = generateKeyPair();
  const h = await harness(t, { peers: [{ publicKey: bob.publicKey, endpoint: null, name: 'bob' }] });
  const address = fcAddressBytes(bob.publicKey);

  const aaaa = await h.ask('bob.rovy', T.AAAA);
  assert.equal(aaaa.rcode, RCODE.NOERROR);
  assert.deepEqual(aaaa.answers[0]!.rdata, address);

  const ptr = await h.ask(reverseName(address), T.PTR);
  assert.equal(ptr.answers.length, 1);
  assert.equal(ptr.answers[0]!.target, 'bob.rovy');

  const own = await h.ask(reverseName(h.node.address), T.PTR);
  assert.equal(own.answers.length, 1);
  assert.equal(own.answers[0]!.target, `${h.node.peerId}.rovy`);
});

test('a query with a bad UDP checksum is dropped and counted, then a good one is answered', async (t) => {
  const h = await harness(t);
  const name = `${h.node.peerId}.rovy`;
  h.tun.inject(udpPacket(h.node.address, RESOLVER, 40000, 53, dnsQuery(name, T.AAAA, 1), true));
  await untilFast('the drop', () => h.node.counters.dnsDropped === 1);
  assert.equal(h.tun.written.length, 0, 'a query with a bad checksum was answered');
  assert.equal(h.node.counters.dnsAnswered, 0);

  // The same query with its checksum right: the resolver is still there, and answers this one.
  const reply = await h.ask(name, T.AAAA);
  assert.deepEqual(reply.answers[0]!.rdata, h.node.address);
  assert.equal(h.node.counters.dnsDropped, 1);
});

/** The source port from which `data` to [fc00::1]:53 sums to a checksum of 0, sent as 0xffff. */
function portForChecksumFfff(src: Uint8Array, data: Uint8Array): number {
  for (let port = 1; port <= 0xffff; port++) {
    const p = udpPacket(src, RESOLVER, port, 53, data);
    if (p[46] === 0xff && p[47] === 0xff) return port;
  }
  throw new Error('no source port gives the checksum 0xffff');
}

test('a zero UDP checksum field ("none", forbidden in IPv6) is dropped even where the sum verifies', async (t) => {
  const h = await harness(t);
  const data = dnsQuery(`${h.node.peerId}.rovy`, T.AAAA, 0x0ff0);
  const port = portForChecksumFfff(h.node.address, data);
  const sent = udpPacket(h.node.address, RESOLVER, port, 53, data);
  assert.deepEqual(sent.subarray(46, 48), Uint8Array.of(0xff, 0xff));
  const reply = await h.exchange(sent);
  assert.equal((reply[42]! << 8) | reply[43]!, port, 'destination port');
  assert.ok(checksumVerifies(reply), 'UDP checksum');
  assert.deepEqual(parseDns(reply.subarray(48)).answers[0]!.rdata, h.node.address);
  assert.equal(h.node.counters.dnsAnswered, 1);

  // 0 and 0xffff are the same in ones' complement: only the field's value tells them apart.
  const none = Uint8Array.from(sent);
  none[46] = none[47] = 0;
  assert.ok(checksumVerifies(none), 'the test\'s datagram does not sum like the one answered');
  const written = h.tun.written.length;
  h.tun.inject(none);
  await untilFast('the drop', () => h.node.counters.dnsDropped === 1);
  assert.equal(h.tun.written.length, written, 'a datagram with no checksum was answered');
  assert.equal(h.node.counters.dnsAnswered, 1);
});

test('a UDP length that disagrees with the IPv6 payload length is dropped and counted', async (t) => {
  const h = await harness(t);
  const query = dnsQuery(`${h.node.peerId}.rovy`, T.AAAA, 1);
  for (const [i, udpLength] of [8 + query.length - 1, 8 + query.length + 1].entries()) {
    const packet = udpPacket(h.node.address, RESOLVER, 40000, 53, query, false, udpLength);
    assert.ok(checksumVerifies(packet), 'the test broke the checksum, not only the length');
    h.tun.inject(packet);
    await untilFast(`drop ${i + 1}`, () => h.node.counters.dnsDropped === i + 1);
  }
  assert.equal(h.tun.written.length, 0, 'a datagram with a wrong UDP length was answered');
  assert.equal(h.node.counters.dnsAnswered, 0);
});

test('a payload that is not a DNS query is dropped and counted, with a valid checksum', async (t) => {
  const h = await harness(t);
  const garbage = [
    Uint8Array.of(1, 2, 3), // shorter than a DNS header
    Uint8Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff),
    (() => {
      const response = dnsQuery('x.rovy', T.AAAA, 9);
      response[2]! |= 0x80; // QR: a response, never answered
      return response;
    })(),
  ];
  for (const [i, data] of garbage.entries()) {
    h.tun.inject(udpPacket(h.node.address, RESOLVER, 40000, 53, data));
    await untilFast(`drop ${i + 1}`, () => h.node.counters.dnsDropped === i + 1);
  }
  assert.equal(h.tun.written.length, 0, 'garbage was answered');
  assert.equal(h.node.counters.dnsAnswered, 0);
});

test('a name outside .rovy and the reverse zone is REFUSED and counted', async (t) => {
  const h = await harness(t);
  const reply = await h.ask('example.com', T.AAAA);
  assert.equal(reply.rcode, RCODE.REFUSED);
  assert.equal(reply.aa, false);
  assert.equal(reply.question, 'example.com');
  assert.equal(reply.answers.length, 0);
  assert.equal(h.node.counters.dnsRefused, 1);
  assert.equal(h.node.counters.dnsAnswered, 1, 'a REFUSED reply is an answer too');
  assert.equal(h.node.counters.dnsDropped, 0);
});

/** Checks `icmp` is a "port unreachable" from fc00::1 to `to`, quoting `invoking` whole. */
function assertPortUnreachable(icmp: Uint8Array, to: Uint8Array, invoking: Uint8Array): void {
  assert.equal(icmp[6], ICMPV6);
  assert.equal(icmp[7], 64);
  assert.deepEqual(icmp.subarray(8, 24), RESOLVER, 'not from fc00::1');
  assert.deepEqual(icmp.subarray(24, 40), to);
  assert.equal((icmp[4]! << 8) | icmp[5]!, icmp.length - 40);
  assert.equal(icmp[40], 1, 'type: destination unreachable');
  assert.equal(icmp[41], 4, 'code: port unreachable');
  assert.deepEqual(icmp.subarray(44, 48), Uint8Array.of(0, 0, 0, 0), 'unused field');
  assert.deepEqual(icmp.subarray(48), invoking, 'the invoking packet is not quoted whole');
  assert.ok(checksumVerifies(icmp), 'ICMPv6 checksum');
}

test('UDP to another port of fc00::1 gets ICMPv6 port unreachable quoting it', async (t) => {
  const h = await harness(t);
  const packet = udpPacket(h.node.address, RESOLVER, 40000, 54, dnsQuery(`${h.node.peerId}.rovy`, T.AAAA, 3));
  assertPortUnreachable(await h.exchange(packet), h.node.address, packet);
  assert.equal(h.node.counters.dnsAnswered, 0);
});

test('TCP to port 53 of fc00::1 gets ICMPv6 port unreachable quoting it', async (t) => {
  const h = await harness(t);
  const syn = tcpSyn(h.node.address, RESOLVER, 40001, 53);
  assertPortUnreachable(await h.exchange(syn), h.node.address, syn);
  assert.equal(h.node.counters.dnsAnswered, 0);
  assert.equal(h.node.counters.dnsDropped, 0);
});

test('ping fc00::1: an echo reply with the same identifier, sequence and data', async (t) => {
  const h = await harness(t);
  const data = Uint8Array.from({ length: 56 }, (_, i) => (i * 7 + 3) & 0xff);
  const request = echoRequest(h.node.address, RESOLVER, 0xbeef, 0x0102, data);
  const reply = await h.exchange(request);
  assert.equal(reply[6], ICMPV6);
  assert.equal(reply[7], 64);
  assert.equal(reply.length, request.length);
  assert.equal((reply[4]! << 8) | reply[5]!, reply.length - 40);
  assert.deepEqual(reply.subarray(8, 24), RESOLVER);
  assert.deepEqual(reply.subarray(24, 40), h.node.address);
  assert.equal(reply[40], 129, 'type: echo reply');
  assert.equal(reply[41], 0);
  assert.equal((reply[44]! << 8) | reply[45]!, 0xbeef, 'identifier');
  assert.equal((reply[46]! << 8) | reply[47]!, 0x0102, 'sequence');
  assert.deepEqual(reply.subarray(48), data);
  assert.ok(checksumVerifies(reply), 'ICMPv6 checksum');
});

test('a packet to fc00::2 is not the resolver\'s: ICMPv6 no route from the node itself', async (t) => {
  const h = await harness(t);
  const packet = udpPacket(h.node.address, parseIPv6('fc00::2'), 40000, 53, dnsQuery(`${h.node.peerId}.rovy`, T.AAAA, 5));
  const icmp = await h.exchange(packet);
  assert.equal(icmp[6], ICMPV6);
  assert.deepEqual(icmp.subarray(8, 24), h.node.address, 'not from the node\'s own address');
  assert.deepEqual(icmp.subarray(24, 40), h.node.address);
  assert.equal(icmp[40], 1, 'type: destination unreachable');
  assert.equal(icmp[41], 0, 'code: no route');
  assert.deepEqual(icmp.subarray(48), packet);
  assert.ok(checksumVerifies(icmp));
  assert.equal(h.node.counters.noRoute, 1);
  assert.equal(h.node.counters.dnsAnswered, 0);
  assert.equal(h.node.counters.dnsDropped, 0);
});

test('a ping larger than 1280 bytes gets no reply rather than a truncated one', async (t) => {
  const h = await harness(t);
  const big = echoRequest(h.node.address, RESOLVER, 1, 1, new Uint8Array(1300 - 48).fill(0x5a));
  assert.equal(big.length, 1300);
  const small = echoRequest(h.node.address, RESOLVER, 1, 2, new Uint8Array(16).fill(0x5a));
  // Read in one batch, in order: the reply to the small one comes after whatever the big one got.
  h.tun.inject(big);
  h.tun.inject(small);
  await untilFast('the reply to the small ping', () => h.tun.written.some((p) => p.length === small.length));
  assert.equal(h.tun.written.length, 1, 'the big ping was answered');
  const reply = h.tun.written[0]!;
  assert.equal(reply[40], 129);
  assert.equal((reply[46]! << 8) | reply[47]!, 2);
  assert.equal(h.node.counters.dnsDropped, 1, 'the unanswered ping was not counted');
  assert.equal(h.node.counters.internalErrors, 0);
});

test('with a forwarder (an exit in use), names outside .rovy are asked of it; its answer, or SERVFAIL, goes back', async (t) => {
  const h = await harness(t);
  const asked: { query: Uint8Array; answer: (response: Uint8Array | null) => void }[] = [];
  h.node.setDnsForwarder((query, answer) => {
    asked.push({ query, answer });
    return true;
  });
  // The forwarder's answer, as the exit sent it: the query's ID and question, one AAAA record.
  const pending = h.ask('example.com', T.AAAA);
  await untilFast('the query forwarded', () => asked.length === 1);
  const q = asked[0]!.query;
  const aaaa = Uint8Array.of(0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, ...parseIPv6('2001:db8::80'));
  const response = Uint8Array.from([...q.subarray(0, 12), ...q.subarray(12)]);
  response[2] = 0x81;
  response[3] = 0x80;
  response[7] = 1; // one answer
  asked[0]!.answer(Uint8Array.from([...response, ...aaaa]));
  const reply = await pending;
  assert.equal(reply.rcode, RCODE.NOERROR);
  assert.deepEqual(reply.answers.map((a) => a.rdata), [parseIPv6('2001:db8::80')]);
  // .rovy names are still answered here, never forwarded.
  assert.equal((await h.ask(h.node.peerId + '.rovy', T.AAAA)).rcode, RCODE.NOERROR);
  assert.equal(asked.length, 1);

  // No answer (the exit did not reply in time): SERVFAIL. One that is not an answer to the query
  // (another ID) counts as none.
  const failing = h.ask('example.org', T.AAAA);
  await untilFast('forwarded', () => asked.length === 2);
  asked[1]!.answer(null);
  assert.equal((await failing).rcode, 2);
  const wrong = h.ask('example.net', T.AAAA);
  await untilFast('forwarded', () => asked.length === 3);
  const other = asked[2]!.query.slice();
  other[0]! ^= 0xff;
  other[2]! |= 0x80;
  asked[2]!.answer(other);
  assert.equal((await wrong).rcode, 2);
  assert.equal(h.node.counters.dnsForwarded, 3);

  // The forwarder gone (the exit no longer in use): REFUSED here again.
  h.node.setDnsForwarder(null);
  assert.equal((await h.ask('example.com', T.AAAA)).rcode, RCODE.REFUSED);
  assert.equal(asked.length, 3);
});
