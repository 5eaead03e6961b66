// Routing announcements (src/routing/announcement.ts): the byte layout of docs/PROTOCOL.md,
// splitting into parts, signatures over exactly those bytes, and a strict decoder that returns
// null for anything malformed — including thousands of random mutations — and never throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fcAddressBytes } from '../../src/keys/address.js';
import { randomKeyPair } from '../../src/keys/x25519.js';
import { xeddsaSign, xeddsaVerify } from '../../src/keys/xeddsa.js';
import {
  ANNOUNCEMENT_MAX_SIZE,
  LINKS_PER_PART,
  announcementSize,
  decodeAnnouncement,
  signAnnouncements,
  verifyAnnouncement,
  type Announcement,
  type Link,
} from '../../src/routing/announcement.js';

const identity = randomKeyPair();
const MTU = 1420;
const SEQ = 1_735_689_600_123; // a wall-clock ms value: above 2^32, so both halves are used

/** `n` links to distinct neighbours (addresses of random keys), indices 1..n, costs varied. */
function makeLinks(n: number): Link[] {
  return Array.from({ length: n }, (_, i) => ({
    address: fcAddressBytes(new Uint8Array(randomBytes(32))),
    index: i + 1,
    cost: 1 + (i % 7) * 1000,
  }));
}

const plainLinks = (links: Link[]) =>
  links.map((l) => ({ address: Buffer.from(l.address).toString('hex'), index: l.index, cost: l.cost }));
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

function assertSame(a: Announcement, b: Announcement): void {
  assert.deepEqual(a.origin, b.origin);
  assert.equal(a.sequence, b.sequence);
  assert.equal(a.mtu, b.mtu);
  assert.equal(a.part, b.part);
  assert.equal(a.parts, b.parts);
  assert.deepEqual(plainLinks(a.links), plainLinks(b.links));
  assert.deepEqual(a.bytes, b.bytes);
}

test('links are split into parts of at most 50, each signed, and decode back', () => {
  for (const [n, sizes] of [
    [0, [0]],
    [1, [1]],
    [50, [50]],
    [51, [50, 1]],
    [120, [50, 50, 20]],
  ] as [number, number[]][]) {
    const links = makeLinks(n);
    const anns = signAnnouncements(identity, SEQ, MTU, links);
    assert.deepEqual(anns.map((a) => a.links.length), sizes, `${n} links`);
    anns.forEach((a, i) => {
      assert.equal(a.part, i);
      assert.equal(a.parts, sizes.length);
      assert.equal(a.sequence, SEQ);
      assert.equal(a.mtu, MTU);
      assert.deepEqual(a.origin, identity.publicKey);
      assert.equal(a.bytes.length, announcementSize(a.links.length));
      assert.ok(a.bytes.length <= ANNOUNCEMENT_MAX_SIZE);
      assert.equal(verifyAnnouncement(a), true);
      const d = decodeAnnouncement(a.bytes, 0);
      assert.ok(d);
      assert.equal(d.length, a.bytes.length);
      assertSame(d.announcement, a);
      assert.equal(verifyAnnouncement(d.announcement), true);
    });
    assert.deepEqual(plainLinks(anns.flatMap((a) => a.links)), plainLinks(links));
  }
  assert.equal(ANNOUNCEMENT_MAX_SIZE, 1111);
  assert.equal(LINKS_PER_PART, 50);
});

test('the bytes are laid out as docs/PROTOCOL.md says, and signed with the context string', () => {
  const address = new Uint8Array(16).map((_, i) => 0xfc + i);
  const [a] = signAnnouncements(identity, 0x0102_0304_0506, 0x0578, [{ address, index: 0xabcd, cost: 0x0203 }]);
  const b = a!.bytes;
  assert.equal(b.length, 47 + 20 + 64);
  assert.equal(b[0], 1);
  assert.deepEqual(b.subarray(1, 33), identity.publicKey);
  assert.deepEqual([...b.subarray(33, 41)], [0, 0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...b.subarray(41, 43)], [0x05, 0x78]);
  assert.deepEqual([...b.subarray(43, 47)], [0, 1, 0, 1]);
  assert.deepEqual(b.subarray(47, 63), address);
  assert.deepEqual([...b.subarray(63, 67)], [0xab, 0xcd, 0x02, 0x03]);
  const context = new TextEncoder().encode('rovy.net v1 announcement');
  assert.equal(context.length, 24);
  assert.equal(xeddsaVerify(identity.publicKey, concat(context, b.subarray(0, 67)), b.subarray(67)), true);
  assert.equal(xeddsaVerify(identity.publicKey, b.subarray(0, 67), b.subarray(67)), false);
});

test('the worked example of docs/PROTOCOL.md', () => {
  // The test key of docs/PROTOCOL.md §1, sequence 2025-01-01T00:00:00Z, MTU 1420, one link to
  // fc00::1 with interface index 1 and cost 1; the signature made with Z = 64 zero bytes (the
  // signer's random input), checked against an independent implementation of XEdDSA.
  const hex = (t: string): Uint8Array => new Uint8Array(Buffer.from(t, 'hex'));
  const privateKey = hex('6b55cc38e51e2efcd7eacd1345b1765ec545cbcc44a764a089eeb9744c223ee8');
  const publicKey = hex('7b4c7a6dff69f204be046a6b3e7fed6b92daf1d3f5c8891284e6a10d770e9f6c');
  const body = hex(
    '01' + // version
      '7b4c7a6dff69f204be046a6b3e7fed6b92daf1d3f5c8891284e6a10d770e9f6c' + // origin
      '000001941f297c00' + // sequence
      '058c' + '00' + '01' + '0001' + // mtu, part, parts, n
      'fc000000000000000000000000000001' + '0001' + '0001', // neighbour, interface, cost
  );
  const signature = hex(
    '6c86dbbf91036dbb117b4866b462b3b3917cfd04758c2c005cece4fe3b74b7db' +
      '91f6a2f129e1e8175479046d0acf78f015d86ddd3bfbb90bd6076f4947c47c0b',
  );
  const link = { address: hex('fc000000000000000000000000000001'), index: 1, cost: 1 };
  const [a] = signAnnouncements({ publicKey, privateKey }, 1_735_689_600_000, 1420, [link]);
  assert.deepEqual(a!.bytes.subarray(0, body.length), body);
  const context = new TextEncoder().encode('rovy.net v1 announcement');
  assert.deepEqual(xeddsaSign(privateKey, concat(context, body), new Uint8Array(64)), signature);
  const d = decodeAnnouncement(concat(body, signature), 0)!.announcement;
  assert.equal(verifyAnnouncement(d), true);
  assert.equal(d.sequence, 1_735_689_600_000);
  assert.deepEqual(plainLinks(d.links), plainLinks([link]));
});

test('a changed byte anywhere fails verification', () => {
  const [a] = signAnnouncements(identity, SEQ, MTU, makeLinks(3));
  for (let i = 0; i < a!.bytes.length; i++) {
    const bytes = new Uint8Array(a!.bytes);
    bytes[i]! ^= 0x10;
    const d = decodeAnnouncement(bytes, 0);
    if (d) assert.equal(verifyAnnouncement(d.announcement), false, `byte ${i}`);
  }
  // Another node's key in the origin field, or fields not matching the bytes.
  const other = randomKeyPair().publicKey;
  const bytes = new Uint8Array(a!.bytes);
  bytes.set(other, 1);
  assert.equal(verifyAnnouncement(decodeAnnouncement(bytes, 0)!.announcement), false);
  assert.equal(verifyAnnouncement({ ...a!, origin: other }), false);
  assert.equal(verifyAnnouncement({ ...a!, bytes: a!.bytes.subarray(0, 100) }), false);
});

test('malformed announcements decode to null', () => {
  const [a] = signAnnouncements(identity, SEQ, MTU, makeLinks(2));
  const good = a!.bytes;
  const edit = (f: (b: Uint8Array) => void): Uint8Array => {
    const b = new Uint8Array(good);
    f(b);
    return b;
  };
  const none = (b: Uint8Array, off = 0): void => assert.equal(decodeAnnouncement(b, off), null);

  none(new Uint8Array(0));
  for (let len = 0; len < good.length; len++) none(good.subarray(0, len)); // every truncation
  none(edit((b) => (b[0] = 0))); // version 0
  none(edit((b) => (b[0] = 2))); // version 2
  none(edit((b) => (b[44] = 0))); // parts 0
  none(edit((b) => (b[43] = 1))); // part 1 of 1
  none(edit((b) => ((b[43] = 5), (b[44] = 5)))); // part 5 of 5
  none(edit((b) => (b[46] = 3))); // says 3 links, holds 2
  none(concat(edit((b) => (b[46] = 51)), new Uint8Array(2000))); // 51 links, enough bytes
  none(concat(edit((b) => ((b[45] = 0xff), (b[46] = 0xff))), new Uint8Array(2000)));
  none(edit((b) => ((b[47 + 16] = 0), (b[47 + 17] = 0)))); // interface index 0
  none(edit((b) => ((b[67 + 18] = 0), (b[67 + 19] = 0)))); // cost 0 (second link)
  none(edit((b) => (b[33] = 0x00, b[34] = 0x20))); // sequence 2^53
  none(edit((b) => ((b[41] = 0x04), (b[42] = 0xff)))); // MTU 1279, below IPv6's minimum
  assert.ok(decodeAnnouncement(edit((b) => ((b[41] = 0x05), (b[42] = 0x00))), 0)); // 1280 is fine
  assert.ok(decodeAnnouncement(edit((b) => ((b[33] = 0), (b[34] = 0x1f), (b[35] = 0xff), (b[36] = 0xff))), 0));
  // Offsets outside the buffer, or not integers.
  none(good, good.length);
  none(good, good.length + 5);
  none(good, -1);
  none(good, 0.5);
  none(good, NaN);
  none(null as unknown as Uint8Array);
  // Extra bytes after an announcement are not part of it.
  const d = decodeAnnouncement(concat(good, new Uint8Array(7)), 0);
  assert.equal(d!.length, good.length);
  assert.deepEqual(d!.announcement.bytes, good);
  assert.equal(verifyAnnouncement(d!.announcement), true);
  // Most counts of links are decodable; a sequence at the top of the range too.
  assert.ok(decodeAnnouncement(edit((b) => ((b[43] = 254), (b[44] = 255))), 0));
});

test('thousands of random mutations never throw, and nothing changed verifies', () => {
  const anns = signAnnouncements(identity, SEQ, MTU, makeLinks(60)); // parts of 50 and 10
  let decoded = 0;
  let verified = 0;
  for (let i = 0; i < 4000; i++) {
    const orig = anns[i % 2]!.bytes;
    let b: Uint8Array = new Uint8Array(orig);
    switch (i % 5) {
      case 0: // a few random bytes changed
        for (let k = 1 + (i % 4); k > 0; k--) b[(Math.random() * b.length) | 0] = (Math.random() * 256) | 0;
        break;
      case 1: // truncated
        b = b.subarray(0, (Math.random() * b.length) | 0);
        break;
      case 2: // extended with garbage
        b = concat(b, new Uint8Array(randomBytes(1 + ((Math.random() * 100) | 0))));
        break;
      case 3: // header bytes changed (the fields the decoder checks)
        b[33 + ((Math.random() * 14) | 0)] = (Math.random() * 256) | 0;
        break;
      default: // pure garbage, starting like an announcement half of the time
        b = new Uint8Array(randomBytes((Math.random() * 1300) | 0));
        if (i % 2 && b.length) b[0] = 1;
    }
    const off = i % 3 === 0 ? 0 : (Math.random() * 4) | 0;
    const buf = concat(new Uint8Array(randomBytes(off)), b);
    let d: ReturnType<typeof decodeAnnouncement>;
    try {
      d = decodeAnnouncement(buf, off);
    } catch (err) {
      assert.fail(`mutation ${i} threw: ${String(err)}`);
    }
    if (d === null) continue;
    decoded++;
    const { announcement: a, length } = d;
    assert.ok(length >= 111 && length <= buf.length - off);
    assert.ok(a.parts >= 1 && a.part < a.parts && a.links.length <= LINKS_PER_PART);
    assert.ok(a.links.every((l) => l.index >= 1 && l.cost >= 1 && l.address.length === 16));
    assert.ok(Number.isSafeInteger(a.sequence));
    const ok: boolean = verifyAnnouncement(a);
    const same: boolean = a.bytes.length === orig.length && Buffer.from(a.bytes).equals(orig);
    assert.equal(ok, same, `mutation ${i}`);
    if (ok) verified++;
  }
  assert.ok(decoded > 100, `${decoded} decoded`);
  assert.ok(verified > 0, 'unchanged ones (truncation past the end, extension) still verify');
});

test('announcements decode at an offset and back to back', () => {
  const many = [
    ...signAnnouncements(identity, SEQ, MTU, makeLinks(0)),
    ...signAnnouncements(randomKeyPair(), SEQ + 1, 1280, makeLinks(75)),
    ...signAnnouncements(identity, SEQ + 2, MTU, makeLinks(4)),
  ];
  const junk = new Uint8Array([9, 9, 9]);
  const buf = concat(junk, ...many.map((a) => a.bytes));
  let off = junk.length;
  for (const a of many) {
    const d = decodeAnnouncement(buf, off);
    assert.ok(d, `at ${off}`);
    assertSame(d.announcement, a);
    assert.equal(verifyAnnouncement(d.announcement), true);
    off += d.length;
  }
  assert.equal(off, buf.length);
  assert.equal(decodeAnnouncement(buf, off), null);
  // The decoded announcement owns a copy: the frame buffer can be reused.
  const d = decodeAnnouncement(buf, junk.length)!;
  buf.fill(0);
  assert.equal(verifyAnnouncement(d.announcement), true);
  assert.deepEqual(d.announcement.origin, identity.publicKey);
});

test('signing refuses what the format cannot carry', () => {
  const link = makeLinks(1)[0]!;
  const bad = (f: () => unknown): void => assert.throws(f, RangeError);
  bad(() => signAnnouncements(identity, -1, MTU, []));
  bad(() => signAnnouncements(identity, 1.5, MTU, []));
  bad(() => signAnnouncements(identity, 2 ** 53, MTU, []));
  bad(() => signAnnouncements(identity, SEQ, 65536, []));
  bad(() => signAnnouncements(identity, SEQ, MTU, [{ ...link, index: 0 }]));
  bad(() => signAnnouncements(identity, SEQ, MTU, [{ ...link, index: 65536 }]));
  bad(() => signAnnouncements(identity, SEQ, MTU, [{ ...link, cost: 0 }]));
  bad(() => signAnnouncements(identity, SEQ, MTU, [{ ...link, address: new Uint8Array(15) }]));
  bad(() => signAnnouncements(identity, SEQ, MTU, new Array(255 * 50 + 1).fill(link)));
  bad(() => signAnnouncements({ publicKey: new Uint8Array(31), privateKey: identity.privateKey }, SEQ, MTU, []));
  // The largest sequence and the extremes of the link fields do encode.
  const [a] = signAnnouncements(identity, 2 ** 53 - 1, 65535, [{ ...link, index: 65535, cost: 65535 }]);
  const d = decodeAnnouncement(a!.bytes, 0)!.announcement;
  assert.equal(d.sequence, 2 ** 53 - 1);
  assert.equal(d.links[0]!.index, 65535);
  assert.equal(verifyAnnouncement(d), true);
});
