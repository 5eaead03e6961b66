// The inbound filter (fcnet/inbound-filter.ts) and port rules (fcnet/port-rules.ts): what of the
// mesh's traffic reaches the host. Packets are built byte by byte; the clock is the test's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { fcAddressBytes } from '../../src/keys/address.js';
import { InboundFilter, TCP_FLOW_MS, UDP_FLOW_MS } from '../../src/fcnet/inbound-filter.js';
import { formatPorts, parsePorts, PortRuleError, rulePeer, type PortRule } from '../../src/fcnet/port-rules.js';

const US = fcAddressBytes(generateKeyPair().publicKey);
const aliceKey = generateKeyPair().publicKey;
const ALICE = fcAddressBytes(aliceKey);
const BOB = fcAddressBytes(generateKeyPair().publicKey);

/** An IPv6 packet src → dst with `next` and the upper-layer bytes `upper`, after `extensions`. */
function packet(src: Uint8Array, dst: Uint8Array, next: number, upper: number[], extensions: number[] = []): Uint8Array {
  const payload = [...extensions, ...upper];
  const p = new Uint8Array(40 + payload.length);
  p[0] = 0x60;
  p[4] = payload.length >> 8;
  p[5] = payload.length & 0xff;
  p[6] = next;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(payload, 40);
  return p;
}

/** A TCP or UDP header's first 8 bytes: source port, destination port, the rest zero. */
function ports(source: number, destination: number): number[] {
  return [source >> 8, source & 0xff, destination >> 8, destination & 0xff, 0, 0, 0, 0];
}

const tcp = (src: Uint8Array, dst: Uint8Array, sport: number, dport: number) => packet(src, dst, 6, [...ports(sport, dport), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const udp = (src: Uint8Array, dst: Uint8Array, sport: number, dport: number) => packet(src, dst, 17, ports(sport, dport));
const rule = (text: string, peerId: string | null = null): PortRule => ({ ...parsePorts(text), peerId });

function filterAt(rules: PortRule[], clock = { t: 1_000_000 }) {
  const filter = new InboundFilter(rules, true);
  const admits = (p: Uint8Array) => filter.admits(p, 0, p.length, clock.t);
  const send = (p: Uint8Array) => filter.noteOutbound(p, 0, p.length, clock.t);
  return { filter, admits, send, clock };
}

test('a port opened to everyone, to one peer, or not at all', () => {
  const { admits } = filterAt([rule('22/tcp'), rule('8000-8010/udp'), rule('80/tcp', encodePeerId(aliceKey))]);
  assert.equal(admits(tcp(BOB, US, 40000, 22)), true, '22/tcp is open');
  assert.equal(admits(tcp(BOB, US, 40000, 23)), false, '23/tcp is not');
  assert.equal(admits(udp(BOB, US, 40000, 22)), false, '22/udp is not');
  assert.equal(admits(udp(BOB, US, 40000, 8000)), true);
  assert.equal(admits(udp(BOB, US, 40000, 8010)), true);
  assert.equal(admits(udp(BOB, US, 40000, 8011)), false);
  assert.equal(admits(tcp(ALICE, US, 40000, 80)), true, '80/tcp is open to alice');
  assert.equal(admits(tcp(BOB, US, 40000, 80)), false, '80/tcp is open to alice only');
});

test('replies to flows the host started come in while fresh; nothing else from the same node does', () => {
  const { admits, send, clock } = filterAt([]);
  send(tcp(US, BOB, 50000, 443));
  assert.equal(admits(tcp(BOB, US, 443, 50000)), true, 'the reply');
  assert.equal(admits(tcp(BOB, US, 444, 50000)), false, 'another port of theirs');
  assert.equal(admits(tcp(BOB, US, 443, 50001)), false, 'another port of ours');
  assert.equal(admits(tcp(ALICE, US, 443, 50000)), false, 'another node');
  assert.equal(admits(udp(BOB, US, 443, 50000)), false, 'another protocol');
  send(udp(US, BOB, 5353, 53));
  assert.equal(admits(udp(BOB, US, 53, 5353)), true);
  clock.t += UDP_FLOW_MS + 1;
  assert.equal(admits(udp(BOB, US, 53, 5353)), false, 'a UDP flow quiet for 3 minutes is gone');
  assert.equal(admits(tcp(BOB, US, 443, 50000)), true, 'a TCP flow lasts longer');
  send(tcp(US, BOB, 50000, 443)); // the host keeps it going
  clock.t += TCP_FLOW_MS - 1;
  assert.equal(admits(tcp(BOB, US, 443, 50000)), true);
  clock.t += 2;
  assert.equal(admits(tcp(BOB, US, 443, 50000)), false, 'a TCP flow quiet for 2 hours is gone');
});

test('ICMPv6 that ping, path MTU discovery and traceroute need passes; other ICMPv6 and other protocols do not', () => {
  const { admits, filter } = filterAt([]);
  for (const type of [128, 129, 1, 2, 3, 4]) assert.equal(admits(packet(BOB, US, 58, [type, 0, 0, 0, 0, 0, 0, 0])), true, `ICMPv6 type ${type}`);
  for (const type of [0, 5, 130, 133, 135, 139]) assert.equal(admits(packet(BOB, US, 58, [type, 0, 0, 0, 0, 0, 0, 0])), false, `ICMPv6 type ${type}`);
  assert.equal(admits(packet(BOB, US, 59, [])), false, 'no next header');
  assert.equal(admits(packet(BOB, US, 132, [0, 0, 0, 0, 0, 0, 0, 0])), false, 'SCTP');
  assert.equal(admits(packet(BOB, US, 6, [0, 22])), false, 'a TCP header cut short');
  filter.enabled = false;
  assert.equal(admits(tcp(BOB, US, 1, 23)), true, 'the filter switched off lets everything in');
});

test('extension headers are walked to the port; a later fragment follows its first', () => {
  const { admits } = filterAt([rule('22/tcp'), rule('7000/udp')]);
  const hopByHop = (next: number) => [next, 0, 1, 4, 0, 0, 0, 0]; // PadN: 8 bytes in all
  assert.equal(admits(packet(BOB, US, 0, [...ports(40000, 22), ...new Array(12).fill(0)], hopByHop(6))), true);
  assert.equal(admits(packet(BOB, US, 0, [...ports(40000, 23), ...new Array(12).fill(0)], hopByHop(6))), false);
  const fragment = (next: number, offset: number, id: number) => [next, 0, offset >> 8, (offset & 0xf8) | 1, id >> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff];
  assert.equal(admits(packet(BOB, US, 44, ports(40000, 7000), fragment(17, 0, 77))), true, 'the first fragment, to an open port');
  assert.equal(admits(packet(BOB, US, 44, new Array(16).fill(1), fragment(17, 1448, 77))), true, 'a later fragment of it');
  assert.equal(admits(packet(ALICE, US, 44, new Array(16).fill(1), fragment(17, 1448, 77))), false, 'the same id from another node');
  assert.equal(admits(packet(BOB, US, 44, new Array(16).fill(1), fragment(17, 1448, 78))), false, 'a later fragment of nothing that passed');
  assert.equal(admits(packet(BOB, US, 44, ports(40000, 7001), fragment(17, 0, 79))), false, 'a first fragment to a closed port');
  assert.equal(admits(packet(BOB, US, 44, new Array(16).fill(1), fragment(17, 1448, 79))), false, 'nor its later fragments');
});

test('the flow table is bounded: 100000 flows later, the newest still get their replies', () => {
  const { admits, send } = filterAt([]);
  for (let i = 0; i < 100_000; i++) send(udp(US, BOB, 1024 + (i % 60000), 53 + Math.floor(i / 60000)));
  assert.equal(admits(udp(BOB, US, 54, 1024 + (99_999 % 60000))), true, 'the newest flow was lost');
});

test('port rules parse from "22/tcp" and "FIRST-LAST/udp" and refuse the rest, naming what is wrong', () => {
  assert.deepEqual(parsePorts('22/TCP'), { protocol: 'tcp', first: 22, last: 22 });
  assert.deepEqual(parsePorts('60000-61000/udp'), { protocol: 'udp', first: 60000, last: 61000 });
  assert.equal(formatPorts(parsePorts('60000-61000/udp')), '60000-61000/udp');
  assert.equal(formatPorts(parsePorts('22/tcp')), '22/tcp');
  for (const [text, problem] of [
    ['22', /is not PORT\/tcp/],
    ['22/sctp', /is not PORT\/tcp/],
    ['0/tcp', /ports are 1–65535/],
    ['65536/udp', /ports are 1–65535/],
    ['10-5/tcp', /from low to high/],
  ] as const) {
    assert.throws(() => parsePorts(text), (err: Error) => err instanceof PortRuleError && problem.test(err.message), text);
  }
  assert.throws(() => rulePeer('nobody'), /is not a peer ID/);
  assert.equal(rulePeer(encodePeerId(aliceKey).toUpperCase()), encodePeerId(aliceKey));
});
