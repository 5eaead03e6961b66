// Routed prefixes (issue 15, 1): their text, longest-prefix match, delegations signed by a
// prefix holder, each node's judgement of who may originate what, and the announcements (version
// 2) that carry the claims.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { covers, formatPrefix, parsePrefix, PrefixError } from '../../src/fcnet/prefix.js';
import { PrefixTable } from '../../src/fcnet/prefix-table.js';
import { decodeDelegation, DELEGATION_SIZE, signDelegation } from '../../src/routing/delegation.js';
import { formatGrant, formatTrust, parseGrant, parseTrust, PrefixPolicy } from '../../src/routing/prefix-policy.js';
import {
  ANNOUNCEMENT_PART_MAX,
  announcementLength,
  decodeAnnouncement,
  signAnnouncements,
  verifyAnnouncement,
  type AnnouncedPrefix,
} from '../../src/routing/announcement.js';
import { generateKeyPair, type KeyPair } from '../../src/keys/keypair.js';
import { Router } from '../../src/routing/router.js';
import { MAX_CLAIMS_PER_NODE, RoutedPrefixes } from '../../src/node/routed-prefixes.js';
import { internetChecksum, ipv4Length, writeFragmentationNeeded } from '../../src/fcnet/ipv4.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { fcAddressBytes } from '../../src/keys/address.js';
import { parseIPv4, parseIPv6 } from '../../src/keys/ip-text.js';

const NOW = 1_800_000_000_000;
const DAY = 86_400_000;

test('prefixes parse to one canonical text, and refuse host bits, bad lengths and bad addresses', () => {
  for (const [text, canonical] of [
    ['2001:DB8:1::/48', '2001:db8:1::/48'],
    ['::/0', '::/0'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['10.7.0.0/16', '10.7.0.0/16'],
    ['192.0.2.128/25', '192.0.2.128/25'],
    ['2001:db8::1/128', '2001:db8::1/128'],
  ]) {
    assert.equal(formatPrefix(parsePrefix(text!)), canonical);
  }
  for (const [text, problem] of [
    ['2001:db8:1::1/48', /bits set past \/48: the network is 2001:db8:1::\/48/],
    ['10.7.0.1/16', /the network is 10\.7\.0\.0\/16/],
    ['10.7.0.0/33', /at most \/32/],
    ['::/129', /at most \/128/],
    ['10.7.0.0', /not ADDRESS\/LENGTH/],
    ['10.7.0.0/-1', /not ADDRESS\/LENGTH/],
    ['10.07.0.0/16', /invalid IPv4/],
    ['fe80::%eth0/64', /invalid IPv6/],
  ] as const) {
    assert.throws(() => parsePrefix(text), (err: Error) => err instanceof PrefixError && problem.test(err.message), text);
  }
  assert.ok(covers(parsePrefix('2001:db8::/32'), parsePrefix('2001:db8:1::/48')));
  assert.ok(covers(parsePrefix('::/0'), parsePrefix('2001:db8:1::/48')));
  assert.ok(!covers(parsePrefix('2001:db8:1::/48'), parsePrefix('2001:db8::/32')));
  assert.ok(!covers(parsePrefix('0.0.0.0/0'), parsePrefix('2001:db8::/32')), 'families do not mix');
  assert.ok(!covers(parsePrefix('10.7.0.0/17'), parsePrefix('10.7.128.0/17')));
});

test('longest-prefix match picks the most specific prefix, per family, allocating nothing', () => {
  const table = new PrefixTable<string>();
  table.set(parsePrefix('::/0'), 'exit');
  table.set(parsePrefix('2001:db8::/32'), 'a');
  table.set(parsePrefix('2001:db8:1::/48'), 'b');
  table.set(parsePrefix('10.0.0.0/8'), 'c');
  table.set(parsePrefix('10.7.128.0/17'), 'd');
  const v6 = (text: string) => table.lookup(6, parseIPv6(text), 0);
  const v4 = (text: string) => table.lookup(4, parseIPv4(text), 0);
  assert.equal(v6('2001:db8:1::5'), 'b');
  assert.equal(v6('2001:db8:2::5'), 'a');
  assert.equal(v6('2a01::1'), 'exit');
  assert.equal(v4('10.7.200.1'), 'd');
  assert.equal(v4('10.7.1.1'), 'c');
  assert.equal(v4('192.0.2.1'), undefined, 'no IPv4 default route was set');
  // In place, at an offset (a packet's destination field).
  const packet = new Uint8Array(40);
  packet.set(parseIPv6('2001:db8:1::9'), 24);
  assert.equal(table.lookup(6, packet, 24), 'b');
  assert.equal(table.size, 5);
  assert.ok(table.delete(parsePrefix('2001:db8:1::/48')));
  assert.ok(!table.delete(parsePrefix('2001:db8:1::/48')));
  assert.equal(v6('2001:db8:1::5'), 'a');
  assert.equal(table.get(parsePrefix('10.0.0.0/8')), 'c');
  assert.equal(table.size, 4);
});

test('a delegation is signed by its holder, covers its bytes, and decodes to null when anything is off', () => {
  const holder = generateKeyPair();
  const node = generateKeyPair();
  const bytes = signDelegation(holder, node.publicKey, parsePrefix('2001:db8:1::/48'), NOW + DAY);
  assert.equal(bytes.length, DELEGATION_SIZE);
  const d = decodeDelegation(bytes)!;
  assert.equal(formatPrefix(d.prefix), '2001:db8:1::/48');
  assert.deepEqual(d.delegate, node.publicKey);
  assert.deepEqual(d.holder, holder.publicKey);
  assert.equal(d.expires, NOW + DAY);
  for (let i = 0; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i] ^= 0x10;
    assert.equal(decodeDelegation(bad), null, `byte ${i} changed and still accepted`);
  }
  assert.equal(decodeDelegation(bytes.subarray(0, bytes.length - 1)), null);
  assert.equal(decodeDelegation(Uint8Array.from([...bytes, 0])), null);
});

test('a node accepts a claim that it grants, or that a holder it trusts for the prefix delegated; nothing else', () => {
  const holder = generateKeyPair();
  const stranger = generateKeyPair();
  const node = generateKeyPair();
  const other = generateKeyPair();
  const nodeId = encodePeerId(node.publicKey);
  const otherId = encodePeerId(other.publicKey);
  const policy = new PrefixPolicy([parseGrant(`10.7.0.0/16 from ${otherId}`)], [parseTrust(`2001:db8::/32 by ${Buffer.from(holder.publicKey).toString('base64')}`)]);
  const p = parsePrefix;
  const delegation = signDelegation(holder, node.publicKey, p('2001:db8:1::/48'), NOW + DAY);

  assert.equal(policy.judge(other.publicKey, otherId, p('10.7.0.0/16'), null, NOW), 'granted');
  assert.equal(policy.judge(other.publicKey, otherId, p('10.7.3.0/24'), null, NOW), 'granted', 'a part of a granted prefix');
  assert.equal(policy.judge(other.publicKey, otherId, p('10.0.0.0/8'), null, NOW), 'refused', 'more than granted');
  assert.equal(policy.judge(node.publicKey, nodeId, p('10.7.0.0/16'), null, NOW), 'refused', 'granted to another node');
  assert.equal(policy.judge(node.publicKey, nodeId, p('2001:db8:1::/48'), delegation, NOW), 'delegated');
  assert.equal(policy.judge(node.publicKey, nodeId, p('2001:db8:1:5::/64'), delegation, NOW), 'delegated', 'a part of the delegated prefix');
  assert.equal(policy.judge(node.publicKey, nodeId, p('2001:db8::/47'), delegation, NOW), 'refused', 'more than delegated');
  assert.equal(policy.judge(other.publicKey, otherId, p('2001:db8:1::/48'), delegation, NOW), 'refused', 'another node\'s delegation');
  assert.equal(policy.judge(node.publicKey, nodeId, p('2001:db8:1::/48'), delegation, NOW + DAY), 'refused', 'expired');
  assert.equal(policy.judge(node.publicKey, nodeId, p('2001:db8:1::/48'), null, NOW), 'refused', 'no delegation');
  // A holder delegates only within what it is trusted for, and an untrusted holder not at all.
  const tooWide = signDelegation(holder, node.publicKey, p('2001:db0::/28'), NOW + DAY);
  assert.equal(policy.judge(node.publicKey, nodeId, p('2001:db8:1::/48'), tooWide, NOW), 'refused', 'a delegation wider than the trust');
  const forged = signDelegation(stranger, node.publicKey, p('2001:db8:1::/48'), NOW + DAY);
  assert.equal(policy.judge(node.publicKey, nodeId, p('2001:db8:1::/48'), forged, NOW), 'refused', 'an untrusted holder');
  const broken = delegation.slice();
  broken[100] ^= 1;
  assert.equal(policy.judge(node.publicKey, nodeId, p('2001:db8:1::/48'), broken, NOW), 'refused', 'a bad signature');

  // Their text round-trips; bad text says what is wrong.
  assert.equal(formatGrant(parseGrant(`10.7.0.0/16 FROM ${otherId.toUpperCase()}`)), `10.7.0.0/16 from ${otherId}`);
  const trust = `2001:db8::/32 by ${Buffer.from(holder.publicKey).toString('base64')}`;
  assert.equal(formatTrust(parseTrust(trust)), trust);
  assert.throws(() => parseGrant('10.7.0.0/16'), /is not "PREFIX from PEERID"/);
  assert.throws(() => parseGrant('10.7.0.0/16 from nobody'), /is not a peer ID/);
  assert.throws(() => parseTrust('2001:db8::/32 by short'), /is not "PREFIX by HOLDER"/);
});

test('announcements carry the prefixes an origin claims, with their delegations, signed; without any they stay version 1', () => {
  const keys = generateKeyPair();
  const holder = generateKeyPair();
  const neighbour = fcAddressBytes(generateKeyPair().publicKey);
  const links = [{ address: neighbour, index: 1, cost: 1 }];
  const v1 = signAnnouncements(keys, 7, 1420, links);
  assert.equal(v1.length, 1);
  assert.equal(v1[0]!.bytes[0], 1);
  assert.deepEqual(v1[0]!.prefixes, []);

  const delegation = signDelegation(holder, keys.publicKey, parsePrefix('2001:db8:1::/48'), NOW + DAY);
  const claims: AnnouncedPrefix[] = [
    { prefix: parsePrefix('2001:db8:1::/48'), delegation },
    { prefix: parsePrefix('0.0.0.0/0'), delegation: null },
    { prefix: parsePrefix('::/0'), delegation: null },
    { prefix: parsePrefix('192.0.2.128/25'), delegation: null },
  ];
  const [a] = signAnnouncements(keys, 8, 1420, links, claims);
  assert.equal(a!.bytes[0], 2);
  assert.ok(verifyAnnouncement(a!));
  assert.equal(announcementLength(a!.bytes, 0), a!.bytes.length);
  const decoded = decodeAnnouncement(a!.bytes, 0)!.announcement;
  assert.deepEqual(decoded.prefixes.map((c) => formatPrefix(c.prefix)), ['2001:db8:1::/48', '0.0.0.0/0', '::/0', '192.0.2.128/25']);
  assert.deepEqual(decoded.prefixes[0]!.delegation, delegation);
  assert.equal(decoded.prefixes[1]!.delegation, null);
  assert.equal(decoded.links.length, 1);
  // Every byte is signed.
  for (const i of [47 + 20 + 1, a!.bytes.length - 70, 100]) {
    const bad = a!.bytes.slice();
    bad[i] ^= 1;
    const d = decodeAnnouncement(bad, 0);
    assert.ok(!d || !verifyAnnouncement(d.announcement), `byte ${i} changed and still verified`);
  }
  // Host bits set, a family that is none, a delegation of the wrong size: refused.
  const hostBits = a!.bytes.slice();
  const entry = 47 + 20 + 1 + 3 + 6 + 155 + 3 + 3 + 3; // the /25's last address byte, after three entries
  assert.equal(hostBits[entry + 2]! & 0x7f, 0);
  hostBits[entry + 2]! |= 1;
  assert.equal(decodeAnnouncement(hostBits, 0), null);
  const family = a!.bytes.slice();
  family[47 + 20 + 1] = 5;
  assert.equal(decodeAnnouncement(family, 0), null);
  const dlen = a!.bytes.slice();
  dlen[47 + 20 + 1 + 2 + 6] = 154;
  assert.equal(announcementLength(dlen, 0), -1);
  assert.equal(decodeAnnouncement(a!.bytes.subarray(0, a!.bytes.length - 1), 0), null, 'cut short');

  // Many claims spread over parts, none over the largest part.
  const many = Array.from({ length: 40 }, (_, i) => ({ prefix: parsePrefix(`2001:db8:${i.toString(16)}::/48`), delegation }));
  const parts = signAnnouncements(keys, 9, 1420, links, many);
  assert.ok(parts.length > 1);
  for (const part of parts) {
    assert.ok(part.bytes.length <= ANNOUNCEMENT_PART_MAX, `${part.bytes.length} bytes`);
    assert.ok(verifyAnnouncement(part));
  }
  assert.equal(parts.reduce((n, part) => n + part.prefixes.length, 0), 40);
  assert.equal(parts.reduce((n, part) => n + part.links.length, 0), 1);
});

/** Routers wired in a line, frames handed over until none is left: the real flooding. */
function line(count: number) {
  const keys = Array.from({ length: count }, () => generateKeyPair());
  const queue: { to: number; link: number; frame: Uint8Array }[] = [];
  let now = 1000;
  const routers = keys.map(
    (identity, i) =>
      new Router({
        identity,
        mtu: 1420,
        // Link i+1 leads right, link i leads left (indices from 1).
        send: (link, frame) => queue.push({ to: link === 1 ? i + 1 : i - 1, link: link === 1 ? 2 : 1, frame }),
        now: () => now,
        wallNow: () => NOW + now,
      }),
  );
  for (let i = 0; i + 1 < count; i++) {
    routers[i]!.linkUp(1, keys[i + 1]!.publicKey);
    routers[i + 1]!.linkUp(2, keys[i]!.publicKey);
  }
  const settle = () => {
    for (let round = 0; round < 50; round++) {
      now += 100;
      for (const r of routers) r.tick();
      while (queue.length > 0) {
        const { to, link, frame } = queue.shift()!;
        routers[to]!.receive(link, frame);
      }
    }
  };
  return { keys, routers, settle };
}

test('claims flood with announcements; each node routes the prefixes it accepts, refuses the rest, and uses neither side of a conflict', () => {
  const { keys, routers, settle } = line(4);
  const [, b, c, d] = keys as [KeyPair, KeyPair, KeyPair, KeyPair];
  const holder = generateKeyPair();
  const id = (k: KeyPair) => encodePeerId(k.publicKey);
  // b holds a delegated /48; c claims 10.7.0.0/16 (granted) and 10.8.0.0/16 (granted to nobody);
  // c and d both claim 192.0.2.0/24, and node a grants it to both.
  routers[1]!.setPrefixes([{ prefix: parsePrefix('2001:db8:1::/48'), delegation: signDelegation(holder, b.publicKey, parsePrefix('2001:db8:1::/48'), NOW + DAY) }]);
  routers[2]!.setPrefixes(['10.7.0.0/16', '10.8.0.0/16', '192.0.2.0/24'].map((t) => ({ prefix: parsePrefix(t), delegation: null })));
  routers[3]!.setPrefixes([{ prefix: parsePrefix('192.0.2.0/24'), delegation: null }]);
  settle();
  const policy = new PrefixPolicy(
    [parseGrant(`10.7.0.0/16 from ${id(c)}`), parseGrant(`192.0.2.0/24 from ${id(c)}`), parseGrant(`192.0.0.0/16 from ${id(d)}`)],
    [parseTrust(`2001:db8::/32 by ${Buffer.from(holder.publicKey).toString('base64')}`)],
  );
  const logs: string[] = [];
  const routed = new RoutedPrefixes(policy, (_level, message) => logs.push(message));
  assert.equal(routed.update(routers[0]!, 0, NOW), true);
  const to = (family: 4 | 6, text: string) => {
    const key = routed.lookup(family, family === 4 ? parseIPv4(text) : parseIPv6(text), 0);
    return key ? encodePeerId(key) : undefined;
  };
  assert.equal(to(6, '2001:db8:1::7'), id(b));
  assert.equal(to(4, '10.7.3.4'), id(c));
  assert.equal(to(4, '10.8.3.4'), undefined, 'a claim nobody granted was routed');
  assert.equal(to(4, '192.0.2.9'), undefined, 'a conflict was settled in silence');
  assert.deepEqual(routed.report(), { accepted: 2, refused: 1, conflicts: 2, exits: 0 });
  assert.ok(logs.some((l) => /10\.8\.0\.0\/16 claimed by .*: refused/.test(l)));
  assert.ok(logs.some((l) => /192\.0\.2\.0\/24 is claimed by both/.test(l)));
  // Nothing changed: no new judgement, and the same warnings are not said again.
  assert.equal(routed.update(routers[0]!, 1000, NOW), false);
  assert.equal(routed.update(routers[0]!, 1000, NOW, true), false);
  assert.equal(logs.length, 2);

  // d withdraws: c's claim stands alone and is used.
  routers[3]!.setPrefixes([]);
  settle();
  assert.equal(routed.update(routers[0]!, 2000, NOW), true);
  assert.equal(to(4, '192.0.2.9'), id(c));
  // The delegation expires: b's prefix goes at the next judgement, within a minute.
  assert.equal(routed.update(routers[0]!, 2000 + 60_000, NOW + DAY), true);
  assert.equal(to(6, '2001:db8:1::7'), undefined);
});

test('IPv4 "fragmentation needed" answers a DF packet too big for its route, and nothing else', () => {
  const packet = (flags: number, protocol = 6, type = 0) => {
    const p = new Uint8Array(1400);
    p[0] = 0x45;
    p[2] = 1400 >> 8;
    p[3] = 1400 & 0xff;
    p[6] = flags;
    p[8] = 64;
    p[9] = protocol;
    p.set(parseIPv4('10.1.0.2'), 12);
    p.set(parseIPv4('10.7.0.2'), 16);
    p[20] = type;
    return p;
  };
  const out = new Uint8Array(200);
  const n = writeFragmentationNeeded(out, packet(0x40), 0, 1400, 1375);
  assert.equal(n, 20 + 8 + 28);
  assert.equal(ipv4Length(out, 0, n), n);
  assert.equal(internetChecksum(out, 0, 20), 0, 'IPv4 header checksum');
  assert.equal(internetChecksum(out, 20, n - 20), 0, 'ICMP checksum');
  assert.deepEqual([out[20], out[21], (out[26]! << 8) | out[27]!], [3, 4, 1375]);
  assert.deepEqual([...out.subarray(12, 16)], [10, 7, 0, 2], 'from the packet\'s destination');
  assert.deepEqual([...out.subarray(16, 20)], [10, 1, 0, 2], 'to its source');
  assert.equal(writeFragmentationNeeded(out, packet(0), 0, 1400, 1375), 0, 'DF clear: the host may fragment');
  const later = packet(0x40);
  later[7] = 1;
  assert.equal(writeFragmentationNeeded(out, later, 0, 1400, 1375), 0, 'a fragment past the first');
  assert.equal(writeFragmentationNeeded(out, packet(0x40, 1, 3), 0, 1400, 1375), 0, 'an ICMP error');
  assert.equal(writeFragmentationNeeded(out, packet(0x40, 1, 8), 0, 1400, 1375), 56, 'an echo request is answered');
});

test('a node claiming more prefixes than are judged gets only the first judged, and it is said', () => {
  const { keys, routers, settle } = line(2);
  const [, b] = keys as [KeyPair, KeyPair];
  const many = Array.from({ length: MAX_CLAIMS_PER_NODE + 10 }, (_, i) => ({ prefix: parsePrefix(`10.${i >> 8}.${i & 0xff}.0/24`), delegation: null }));
  routers[1]!.setPrefixes(many);
  settle();
  const logs: string[] = [];
  const routed = new RoutedPrefixes(new PrefixPolicy([parseGrant(`10.0.0.0/8 from ${encodePeerId(b.publicKey)}`)]), (_l, m) => logs.push(m));
  routed.update(routers[0]!, 0, NOW);
  assert.equal(routed.report().accepted, MAX_CLAIMS_PER_NODE);
  assert.equal(routed.lookup(4, parseIPv4(`10.1.9.1`), 0), undefined, 'a claim past the cap was routed');
  assert.ok(logs.some((l) => l.includes(`claims ${MAX_CLAIMS_PER_NODE + 10} routed prefixes: only the first ${MAX_CLAIMS_PER_NODE} are judged`)));
});
