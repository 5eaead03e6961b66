// LAN discovery (src/discovery/): the beacon's byte layout and signature, a decoder that refuses
// every malformed variant, and the neighbour table's checks, each shown to drop (and count) what
// it should while a control beacon that differs only in that respect is accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fcAddressBytes, formatIPv6, isRovyKey, parseIPv4, parseIPv6 } from '../../src/keys/address.js';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { randomKeyPair } from '../../src/keys/x25519.js';
import { xeddsaSign, xeddsaVerify } from '../../src/keys/xeddsa.js';
import { decodeBeacon, encodeBeacon, verifyBeacon, type BeaconEndpoint } from '../../src/discovery/beacon.js';
import {
  BEACON_INTERVAL_MS,
  ENDPOINT_HOLD_MS,
  MAX_CLOCK_SKEW_MS,
  MAX_ENDPOINTS,
  NEIGHBOR_LIFETIME_MS,
  VERIFY_BURST,
  VERIFY_RATE,
} from '../../src/discovery/constants.js';
import { DiscoveryCounters } from '../../src/discovery/counters.js';
import { NeighborTable } from '../../src/discovery/neighbors.js';

const own = generateKeyPair();
const alice = generateKeyPair();
const bob = generateKeyPair();
const T0 = 1_735_689_600_123; // a wall-clock ms value: above 2^32, so both halves are used
const LL = 'fe80::1';

const ep6 = (text: string, port = 7777): BeaconEndpoint => ({ family: 6, address: parseIPv6(text), port });
const ep4 = (text: string, port = 7777): BeaconEndpoint => ({ family: 4, address: parseIPv4(text), port });
const ENDPOINTS = [ep6(LL), ep6('2001:db8::5'), ep4('192.0.2.7')];

/** A table with its counters and a clock the test moves. */
function makeTable(maxNeighbors?: number) {
  const counters = new DiscoveryCounters();
  const clock = { now: T0 };
  const table = new NeighborTable(own.publicKey, counters, () => clock.now, maxNeighbors);
  return { table, counters, clock };
}

/** The counters that are not zero, so an assertion names every one that moved. */
function moved(c: DiscoveryCounters): Record<string, number> {
  return Object.fromEntries(Object.entries(c.snapshot()).filter(([, v]) => v !== 0));
}

const SIGNING_CONTEXT = new TextEncoder().encode('rovy.net v1 discovery');
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** A beacon built field by field, independently of encodeBeacon, and signed correctly, so the
 *  decoder alone stands between a malformed field and acceptance. */
function rawBeacon(f: {
  type?: number;
  version?: number;
  reserved?: [number, number];
  key?: Uint8Array;
  privateKey?: Uint8Array;
  timestamp?: bigint;
  n?: number;
  endpoints?: Uint8Array;
}): Uint8Array {
  const header = new Uint8Array(45);
  header[0] = f.type ?? 0x10;
  header[1] = f.version ?? 1;
  header.set(f.reserved ?? [0, 0], 2);
  header.set(f.key ?? alice.publicKey, 4);
  new DataView(header.buffer).setBigUint64(36, f.timestamp ?? BigInt(T0));
  const endpoints = f.endpoints ?? concat(Uint8Array.of(6), parseIPv6(LL), Uint8Array.of(0x1e, 0x61));
  header[44] = f.n ?? 1;
  const body = concat(header, endpoints);
  return concat(body, xeddsaSign(f.privateKey ?? alice.privateKey, concat(SIGNING_CONTEXT, body)));
}

const endpointBytes = (family: number, address: Uint8Array, port: number): Uint8Array =>
  concat(Uint8Array.of(family), address, Uint8Array.of(port >> 8, port & 0xff));

test('a beacon has the documented layout, is signed with the context, and decodes back', () => {
  const bytes = encodeBeacon(alice, T0, ENDPOINTS);
  assert.equal(bytes.length, 45 + 19 + 19 + 7 + 64);
  assert.deepEqual([...bytes.subarray(0, 4)], [0x10, 1, 0, 0]);
  assert.deepEqual(bytes.subarray(4, 36), alice.publicKey);
  assert.equal(new DataView(bytes.buffer).getBigUint64(36), BigInt(T0));
  assert.equal(bytes[44], 3);
  assert.deepEqual(bytes.subarray(45, 64), endpointBytes(6, parseIPv6(LL), 7777));
  assert.deepEqual(bytes.subarray(64, 83), endpointBytes(6, parseIPv6('2001:db8::5'), 7777));
  assert.deepEqual(bytes.subarray(83, 90), endpointBytes(4, parseIPv4('192.0.2.7'), 7777));
  const body = bytes.subarray(0, 90);
  const sig = bytes.subarray(90);
  assert.ok(xeddsaVerify(alice.publicKey, concat(SIGNING_CONTEXT, body), sig));
  assert.ok(!xeddsaVerify(alice.publicKey, body, sig), 'the context string is part of the signed message');

  const b = decodeBeacon(bytes)!;
  assert.ok(b);
  assert.deepEqual(b.publicKey, alice.publicKey);
  assert.equal(b.timestamp, T0);
  assert.deepEqual(b.endpoints, ENDPOINTS);
  assert.deepEqual(b.bytes, bytes);
  assert.ok(verifyBeacon(b));

  // The decoder reads what an independent encoder wrote.
  const raw = decodeBeacon(rawBeacon({ timestamp: 2n ** 53n - 1n }))!;
  assert.equal(raw.timestamp, 2 ** 53 - 1);
  assert.deepEqual(raw.endpoints, [ep6(LL, 0x1e61)]);
  assert.ok(verifyBeacon(raw));

  const max = Array.from({ length: MAX_ENDPOINTS }, (_, i) => ep6(`2001:db8::${i + 1}`));
  assert.equal(decodeBeacon(encodeBeacon(alice, T0, max))!.endpoints.length, MAX_ENDPOINTS);
});

test('encodeBeacon refuses what the format cannot carry', () => {
  const bad: [string, number, BeaconEndpoint[]][] = [
    ['no endpoint', T0, []],
    ['17 endpoints', T0, Array.from({ length: 17 }, () => ep6(LL))],
    ['family 5', T0, [{ family: 5 as 4, address: new Uint8Array(4), port: 1 }]],
    ['port 0', T0, [ep6(LL, 0)]],
    ['port 65536', T0, [ep6(LL, 65536)]],
    ['short address', T0, [{ family: 6, address: new Uint8Array(4), port: 1 }]],
    ['negative timestamp', -1, ENDPOINTS],
    ['timestamp 2^53', 2 ** 53, ENDPOINTS],
  ];
  for (const [what, ts, eps] of bad) assert.throws(() => encodeBeacon(alice, ts, eps), RangeError, what);
});

test('malformed beacons decode to null and are counted malformed', () => {
  const good = rawBeacon({});
  const seventeenth = Array.from({ length: 16 }, () => endpointBytes(4, parseIPv4('192.0.2.1'), 7777));
  const variants: [string, Uint8Array][] = [
    ['short', good.subarray(0, 40)],
    ['empty', new Uint8Array(0)],
    ['wrong type', rawBeacon({ type: 0x11 })],
    ['wrong version', rawBeacon({ version: 2 })],
    ['reserved byte 2', rawBeacon({ reserved: [1, 0] })],
    ['reserved byte 3', rawBeacon({ reserved: [0, 0x80] })],
    ['n = 0', rawBeacon({ n: 0, endpoints: new Uint8Array(0) })],
    // IPv4 endpoints, so that 17 of them still fit in the longest beacon.
    ['n = 17', rawBeacon({ n: 17, endpoints: concat(endpointBytes(6, parseIPv6(LL), 7777), ...seventeenth) })],
    ['family 5', rawBeacon({ endpoints: endpointBytes(5, parseIPv6(LL), 7777) })],
    ['family 4 with 16 address bytes', rawBeacon({ endpoints: endpointBytes(4, parseIPv6(LL), 7777) })],
    ['port 0', rawBeacon({ endpoints: endpointBytes(6, parseIPv6(LL), 0) })],
    ['n larger than the endpoints', rawBeacon({ n: 2 })],
    ['timestamp 2^53', rawBeacon({ timestamp: 2n ** 53n })],
    ['trailing byte', concat(good, Uint8Array.of(0))],
    ['truncated', good.subarray(0, good.length - 1)],
  ];
  // The control: the same construction, unmodified, is accepted.
  const control = makeTable();
  assert.equal(control.table.receive(good, LL, 'eth0', 2)?.result, 'added');

  for (const [what, bytes] of variants) {
    assert.equal(decodeBeacon(bytes), null, what);
    const { table, counters } = makeTable();
    assert.equal(table.receive(bytes, LL, 'eth0', 2), null, what);
    assert.deepEqual(moved(counters), { received: 1, malformed: 1 }, what);
  }

  // A key whose address is outside fc00::/8 is no rovy node, even with a valid signature.
  let other = randomKeyPair();
  while (isRovyKey(other.publicKey)) other = randomKeyPair();
  const foreign = rawBeacon({ key: other.publicKey, privateKey: other.privateKey });
  assert.ok(decodeBeacon(foreign) && verifyBeacon(decodeBeacon(foreign)!));
  const { table, counters } = makeTable();
  assert.equal(table.receive(foreign, LL, 'eth0', 2), null);
  assert.deepEqual(moved(counters), { received: 1, malformed: 1 });
});

test('an accepted beacon makes a neighbour with every field from it', () => {
  const { table, counters } = makeTable();
  const r = table.receive(encodeBeacon(alice, T0 - 5, ENDPOINTS), LL, 'eth0', 3)!;
  assert.equal(r.result, 'added');
  assert.deepEqual(r.neighbor, {
    publicKey: alice.publicKey,
    peerId: encodePeerId(alice.publicKey),
    address: formatIPv6(fcAddressBytes(alice.publicKey)),
    interfaceName: 'eth0',
    interfaceIndex: 3,
    endpoint: { family: 6, address: LL, port: 7777, scopeId: 3 },
    endpoints: ['/ip6zone/eth0/ip6/fe80::1/udp/7777', '/ip6/2001:db8::5/udp/7777', '/ip4/192.0.2.7/udp/7777'],
    lastSeen: T0,
    timestamp: T0 - 5,
  });
  assert.deepEqual(table.list(), [r.neighbor]);
  assert.equal(table.get(encodePeerId(alice.publicKey)), r.neighbor);
  assert.deepEqual(moved(counters), { received: 1, accepted: 1 });
});

test('a changed signature, body or key fails verification', () => {
  const good = encodeBeacon(alice, T0, ENDPOINTS);
  const flip = (at: number): Uint8Array => {
    const b = good.slice();
    b[at]! ^= 0x01;
    return b;
  };
  const forged = encodeBeacon({ publicKey: alice.publicKey, privateKey: bob.privateKey }, T0, ENDPOINTS);
  const variants: [string, Uint8Array][] = [
    ['signature bit', flip(good.length - 40)],
    ['IPv4 endpoint bit', flip(85)],
    ['timestamp bit', flip(43)],
    ['signed by another key', forged],
  ];
  for (const [what, bytes] of variants) {
    assert.ok(decodeBeacon(bytes), `${what}: still well-formed`);
    assert.equal(verifyBeacon(decodeBeacon(bytes)!), false, what);
    const { table, counters } = makeTable();
    assert.equal(table.receive(bytes, LL, 'eth0', 2), null, what);
    assert.deepEqual(moved(counters), { received: 1, badSignature: 1 }, what);
    // A forgery records nothing: the real beacon, with the same timestamp, still gets in.
    assert.equal(table.receive(good, LL, 'eth0', 2)?.result, 'added', what);
  }
  const b = decodeBeacon(good)!;
  assert.equal(verifyBeacon({ ...b, publicKey: bob.publicKey }), false, 'publicKey must be the signed key');
});

test('replayed and older beacons are refused, also after the neighbour expired', () => {
  const { table, counters, clock } = makeTable();
  const first = encodeBeacon(alice, T0, ENDPOINTS);
  assert.equal(table.receive(first, LL, 'eth0', 2)?.result, 'added');
  assert.equal(table.receive(first, LL, 'eth0', 2), null, 'the same bytes');
  assert.equal(table.receive(encodeBeacon(alice, T0 - 1, ENDPOINTS), LL, 'eth0', 2), null, 'older');
  assert.equal(table.receive(encodeBeacon(alice, T0, [ep6(LL, 9)]), LL, 'eth0', 2), null, 'same timestamp');
  assert.deepEqual(moved(counters), { received: 4, accepted: 1, replayed: 3 });
  assert.equal(table.get(encodePeerId(alice.publicKey))!.endpoint.port, 7777);

  clock.now += NEIGHBOR_LIFETIME_MS;
  assert.deepEqual(table.expire(), [encodePeerId(alice.publicKey)]);
  assert.equal(table.receive(first, LL, 'eth0', 2), null, 'replayed after expiry');
  assert.equal(counters.replayed, 4);
  assert.equal(table.receive(encodeBeacon(alice, T0 + 1, ENDPOINTS), LL, 'eth0', 2)?.result, 'added');

  // clear() remembers too.
  table.clear();
  assert.equal(table.receive(encodeBeacon(alice, T0 + 1, ENDPOINTS), LL, 'eth0', 2), null);
  assert.equal(counters.replayed, 5);
});

test('timestamps more than MAX_CLOCK_SKEW_MS from our clock are stale', () => {
  const { table, counters } = makeTable();
  assert.equal(table.receive(encodeBeacon(alice, T0 - MAX_CLOCK_SKEW_MS - 1, ENDPOINTS), LL, 'eth0', 2), null);
  assert.equal(table.receive(encodeBeacon(bob, T0 + MAX_CLOCK_SKEW_MS + 1, ENDPOINTS), LL, 'eth0', 2), null);
  assert.deepEqual(moved(counters), { received: 2, stale: 2 });
  assert.equal(table.receive(encodeBeacon(alice, T0 - MAX_CLOCK_SKEW_MS, ENDPOINTS), LL, 'eth0', 2)?.result, 'added');
  assert.equal(table.receive(encodeBeacon(bob, T0 + MAX_CLOCK_SKEW_MS, ENDPOINTS), LL, 'eth0', 2)?.result, 'added');
});

test('a source that is not a link-local address the beacon lists is spoofed', () => {
  const { table, counters } = makeTable();
  const bytes = encodeBeacon(alice, T0, ENDPOINTS);
  assert.equal(table.receive(bytes, 'fe80::2', 'eth0', 2), null, 'not listed');
  assert.equal(table.receive(bytes, '2001:db8::5', 'eth0', 2), null, 'listed, not link-local');
  assert.equal(table.receive(bytes, '::ffff:192.0.2.7', 'eth0', 2), null, 'its IPv4 endpoint, mapped');
  assert.equal(table.receive(bytes, 'not an address', 'eth0', 2), null, 'unparseable');
  const v4only = encodeBeacon(alice, T0, [ep4('192.0.2.7'), ep6('fe80::2', 1)]);
  assert.equal(table.receive(v4only, 'fe80::1', 'eth0', 2), null, 'only other endpoints');
  assert.deepEqual(moved(counters), { received: 5, spoofed: 5 });
  assert.equal(table.receive(bytes, 'fe80:0:0:0::1', 'eth0', 2)?.result, 'added', 'compared as bytes');
});

test('our own beacon is counted own', () => {
  const { table, counters } = makeTable();
  assert.equal(table.receive(encodeBeacon(own, T0, ENDPOINTS), LL, 'eth0', 2), null);
  assert.deepEqual(moved(counters), { received: 1, own: 1 });
});

test('neighbours expire NEIGHBOR_LIFETIME_MS after their last accepted beacon', () => {
  const { table, clock } = makeTable();
  const a = encodePeerId(alice.publicKey);
  const b = encodePeerId(bob.publicKey);
  table.receive(encodeBeacon(alice, T0, ENDPOINTS), LL, 'eth0', 2);
  table.receive(encodeBeacon(bob, T0, [ep6('fe80::2')]), 'fe80::2', 'eth0', 2);
  clock.now = T0 + 10_000;
  const refresh = table.receive(encodeBeacon(bob, T0 + 10_000, [ep6('fe80::2')]), 'fe80::2', 'eth0', 2);
  assert.equal(refresh?.result, 'refreshed');
  clock.now = T0 + NEIGHBOR_LIFETIME_MS - 1;
  assert.deepEqual(table.expire(), []);
  assert.equal(table.list().length, 2);
  clock.now = T0 + NEIGHBOR_LIFETIME_MS;
  assert.deepEqual(table.expire(), [a]);
  assert.equal(table.get(a), undefined);
  assert.deepEqual(table.list().map((n) => n.peerId), [b]);
  clock.now = T0 + 10_000 + NEIGHBOR_LIFETIME_MS;
  assert.deepEqual(table.expire(), [b]);
  assert.deepEqual(table.list(), []);

  // A wall clock stepped back does not keep a neighbour forever.
  clock.now = T0 + 100_000;
  table.receive(encodeBeacon(alice, T0 + 100_000, ENDPOINTS), LL, 'eth0', 2);
  clock.now = T0 + 100_000 - NEIGHBOR_LIFETIME_MS;
  assert.deepEqual(table.expire(), [a]);
});

test('a new endpoint, port or interface is a change; the same ones a refresh', () => {
  const { table, clock } = makeTable();
  let ts = T0;
  const hear = (eps: BeaconEndpoint[], source = LL, ifname = 'eth0', index = 2) =>
    table.receive(encodeBeacon(alice, ++ts, eps), source, ifname, index)!;
  assert.equal(hear(ENDPOINTS).result, 'added');
  assert.equal(hear(ENDPOINTS).result, 'refreshed');
  let r = hear([ep6(LL, 7000), ...ENDPOINTS.slice(1)]);
  assert.equal(r.result, 'changed');
  assert.deepEqual(r.neighbor.endpoint, { family: 6, address: LL, port: 7000, scopeId: 2 });
  // Another source address, once the first has been silent for ENDPOINT_HOLD_MS.
  clock.now += ENDPOINT_HOLD_MS;
  r = hear([ep6('fe80::9'), ep6(LL, 7000)], 'fe80::9');
  assert.equal(r.result, 'changed', 'source address');
  assert.equal(r.neighbor.endpoint.address, 'fe80::9');
  r = hear([ep6('fe80::9'), ep6(LL, 7000), ep4('192.0.2.8')], 'fe80::9');
  assert.equal(r.result, 'changed', 'one more endpoint');
  assert.deepEqual(r.neighbor.endpoints.at(-1), '/ip4/192.0.2.8/udp/7777');
  r = hear([ep6('fe80::9'), ep6(LL, 7000), ep4('192.0.2.9')], 'fe80::9');
  assert.equal(r.result, 'changed', 'another endpoint address');
  r = hear([ep6('fe80::9'), ep6(LL, 7000), ep4('192.0.2.8')], 'fe80::9');
  // The same node on a second interface, once the first has been silent for ENDPOINT_HOLD_MS:
  // still one entry, the latest beacon's.
  clock.now += ENDPOINT_HOLD_MS;
  r = hear([ep6('fe80::9'), ep6(LL, 7000), ep4('192.0.2.8')], 'fe80::9', 'wlan0', 5);
  assert.equal(r.result, 'changed', 'interface');
  assert.deepEqual([r.neighbor.interfaceName, r.neighbor.interfaceIndex, r.neighbor.endpoint.scopeId], ['wlan0', 5, 5]);
  assert.equal(r.neighbor.endpoints[0], '/ip6zone/wlan0/ip6/fe80::9/udp/7777');
  assert.equal(table.list().length, 1);
  assert.equal(hear([ep6('fe80::9'), ep6(LL, 7000), ep4('192.0.2.8')], 'fe80::9', 'wlan0', 5).result, 'refreshed');
  // Changes that leave the endpoint list as it was: the source, and the interface's index.
  assert.equal(hear([ep6('fe80::9'), ep6(LL)], 'fe80::9', 'wlan0', 5).result, 'changed');
  clock.now += ENDPOINT_HOLD_MS;
  r = hear([ep6('fe80::9'), ep6(LL)], LL, 'wlan0', 5);
  assert.equal(r.result, 'changed', 'source only');
  assert.deepEqual(r.neighbor.endpoint, { family: 6, address: LL, port: 7777, scopeId: 5 });
  r = hear([ep6('fe80::9'), ep6(LL)], LL, 'wlan0', 6);
  assert.equal(r.result, 'changed', 'index only');
  assert.deepEqual(r.neighbor.endpoint.scopeId, 6);
});

// A node reached two ways: Alice's laptop with its cable and its Wi-Fi on our one LAN, heard
// either on two of our interfaces or, with one interface of ours, from two of its addresses.
const twoWays = [
  { ways: 'two of our interfaces', second: { source: 'fe80::2', ifname: 'wlan0', index: 3 } },
  { ways: 'two of its addresses on one interface', second: { source: 'fe80::2', ifname: 'eth0', index: 2 } },
];
for (const { ways, second } of twoWays) {
  test(`a node heard by ${ways} stays on the first way until that one falls silent`, () => {
    const { table, clock } = makeTable();
    const wired = (t: number) => table.receive(encodeBeacon(alice, t, [ep6(LL)]), LL, 'eth0', 2)!;
    const wireless = (t: number) => table.receive(encodeBeacon(alice, t, [ep6(second.source)]), second.source, second.ifname, second.index)!;
    assert.equal(wired(T0).result, 'added');
    // A minute of beacons both ways, every interval: every one a refresh, and it stays on LL.
    for (let t = T0 + 1; t < T0 + 60_000; t += BEACON_INTERVAL_MS) {
      clock.now = t;
      const r = wireless(t);
      assert.equal(r.result, 'refreshed', `second way at ${t - T0} ms`);
      assert.deepEqual([r.neighbor.interfaceName, r.neighbor.endpoint.address, r.neighbor.lastSeen], ['eth0', LL, t]);
      clock.now = t + 1;
      assert.equal(wired(t + 1).result, 'refreshed', `first way at ${t + 1 - T0} ms`);
    }
    // The cable is pulled: it stays on the first way until that has been silent for the hold,
    // alive all the while on the second way's beacons, then moves there.
    const lastWired = clock.now;
    clock.now = lastWired + ENDPOINT_HOLD_MS - 1;
    assert.equal(wireless(clock.now).neighbor.endpoint.address, LL);
    assert.deepEqual(table.expire(), []);
    clock.now = lastWired + ENDPOINT_HOLD_MS;
    const moved = wireless(clock.now);
    assert.equal(moved.result, 'changed');
    assert.deepEqual(moved.neighbor.endpoint, { family: 6, address: second.source, port: 7777, scopeId: second.index });
    assert.equal(moved.neighbor.interfaceName, second.ifname);
    // Now the second way is the one it is reached by, and the first's return does not take it back.
    clock.now += 1;
    const back = wired(clock.now);
    assert.equal(back.result, 'refreshed');
    assert.equal(back.neighbor.endpoint.address, second.source);
    // Expired and heard again, it starts on whichever way it is heard by first.
    clock.now += NEIGHBOR_LIFETIME_MS;
    assert.deepEqual(table.expire(), [encodePeerId(alice.publicKey)]);
    const again = wired(clock.now);
    assert.deepEqual([again.result, again.neighbor.interfaceName, again.neighbor.endpoint.address], ['added', 'eth0', LL]);
  });
}
test('a full table refuses new keys and still refreshes known ones', () => {
  const { table, counters } = makeTable(2);
  const carol = generateKeyPair();
  assert.equal(table.receive(encodeBeacon(alice, T0, ENDPOINTS), LL, 'eth0', 2)?.result, 'added');
  assert.equal(table.receive(encodeBeacon(bob, T0, ENDPOINTS), LL, 'eth0', 2)?.result, 'added');
  assert.equal(table.receive(encodeBeacon(carol, T0, ENDPOINTS), LL, 'eth0', 2), null);
  assert.deepEqual(moved(counters), { received: 3, accepted: 2, full: 1 });
  assert.equal(table.receive(encodeBeacon(alice, T0 + 1, ENDPOINTS), LL, 'eth0', 2)?.result, 'refreshed');
});

test('verifications are limited to VERIFY_RATE per second after a burst of VERIFY_BURST', () => {
  const { table, counters, clock } = makeTable();
  const good = encodeBeacon(alice, T0, ENDPOINTS);
  const bad = good.slice();
  bad[bad.length - 1]! ^= 1;
  for (let i = 0; i < VERIFY_BURST; i++) assert.equal(table.receive(bad, LL, 'eth0', 2), null);
  assert.deepEqual(moved(counters), { received: VERIFY_BURST, badSignature: VERIFY_BURST });
  assert.equal(table.receive(good, LL, 'eth0', 2), null, 'no token left, even for a good beacon');
  assert.deepEqual(moved(counters), { received: VERIFY_BURST + 1, badSignature: VERIFY_BURST, rateLimited: 1 });
  clock.now += 1000 / VERIFY_RATE;
  assert.equal(table.receive(good, LL, 'eth0', 2)?.result, 'added', 'one token after 1/rate s');
  assert.equal(table.receive(encodeBeacon(alice, T0 + 1, ENDPOINTS), LL, 'eth0', 2), null);
  assert.equal(counters.rateLimited, 2);
  // Stepping the wall clock back costs nothing: the next token comes 1/rate s later as usual.
  clock.now -= 60_000;
  assert.equal(table.receive(encodeBeacon(alice, T0 + 2, ENDPOINTS), LL, 'eth0', 2), null);
  clock.now += 1000 / VERIFY_RATE;
  assert.equal(table.receive(encodeBeacon(alice, T0 + 3, ENDPOINTS), LL, 'eth0', 2)?.result, 'refreshed');
});

test('counters add up: every datagram received is counted once more', () => {
  const { table, counters } = makeTable();
  table.receive(new Uint8Array(3), LL, 'eth0', 2);
  table.receive(encodeBeacon(own, T0, ENDPOINTS), LL, 'eth0', 2);
  table.receive(encodeBeacon(alice, T0, ENDPOINTS), LL, 'eth0', 2);
  table.receive(encodeBeacon(alice, T0, ENDPOINTS), LL, 'eth0', 2);
  const s = counters.snapshot();
  // sent and sendErrors count what we send, not what we received.
  const { received, sent: _sent, sendErrors: _sendErrors, ...outcomes } = s;
  assert.equal(received, 4);
  assert.equal(Object.values(outcomes).reduce((a, b) => a + b, 0), received);
});
