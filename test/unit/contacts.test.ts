// Contact records, the contact book and peer exchange frames (discovery/contact.ts,
// contact-book.ts, exchange.ts): what a node believes about where others may be linked to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { randomKeyPair } from '../../src/keys/x25519.js';
import { isRovyKey } from '../../src/keys/address.js';
import { decodeContact, encodeContact, MAX_CONTACT_LIFETIME_MS, MAX_CONTACT_SIZE } from '../../src/discovery/contact.js';
import { ContactBook, MAX_CONTACTS } from '../../src/discovery/contact-book.js';
import { decodeContactsFrame, encodeContactsFrame, MAX_CONTACTS_PER_FRAME } from '../../src/discovery/exchange.js';
import { formatMultiaddr, parseMultiaddr } from '../../src/transport/multiaddr.js';

const NOW = 1_767_225_600_000;
const HOUR = 3_600_000;
const node = generateKeyPair();
const addrs = [parseMultiaddr('/ip6/2001:db8::1/tcp/443/tls'), parseMultiaddr('/dns/node.example.org/udp/7777')];

test('a record round-trips, and every byte of it is covered by its signature', () => {
  assert.equal(MAX_CONTACT_SIZE, 910, 'docs/PROTOCOL.md §9 gives the largest record');
  assert.ok(isRovyKey(node.publicKey));
  const bytes = encodeContact(node, NOW + HOUR, addrs);
  const c = decodeContact(bytes, NOW)!;
  assert.deepEqual(c.publicKey, node.publicKey);
  assert.equal(c.expires, NOW + HOUR);
  assert.deepEqual(c.addresses.map(formatMultiaddr), ['/ip6/2001:db8::1/tcp/443/tls', '/dns/node.example.org/udp/7777']);
  for (let i = 0; i < bytes.length; i++) {
    const changed = bytes.slice();
    changed[i]! ^= 0x01;
    assert.equal(decodeContact(changed, NOW), null, `byte ${i} changed, still accepted`);
  }
  assert.equal(decodeContact(bytes.subarray(0, bytes.length - 1), NOW), null, 'cut short');
  assert.equal(decodeContact(Uint8Array.from([...bytes, 0]), NOW), null, 'a trailing byte');
});

test('a record expired, or reaching further than two hours ahead, or of a key that is not a rovy key, is refused', () => {
  assert.equal(decodeContact(encodeContact(node, NOW, addrs), NOW), null, 'expired');
  assert.equal(decodeContact(encodeContact(node, NOW + MAX_CONTACT_LIFETIME_MS + 1, addrs), NOW), null, 'too long-lived');
  assert.ok(decodeContact(encodeContact(node, NOW + MAX_CONTACT_LIFETIME_MS, addrs), NOW));
  // generateKeyPair grinds for rovy keys; a plain X25519 pair is one only once in 256 tries.
  let stranger = randomKeyPair();
  while (isRovyKey(stranger.publicKey)) stranger = randomKeyPair();
  assert.equal(decodeContact(encodeContact(stranger, NOW + HOUR, addrs), NOW), null, 'not a rovy key');
  // Someone else's key, signed by us: the signature does not hold.
  const forged = encodeContact(node, NOW + HOUR, addrs);
  forged.set(generateKeyPair().publicKey, 1);
  assert.equal(decodeContact(forged, NOW), null);
});

test('the book keeps the newest record per key, drops the expired, and stays bounded keeping those that last longest', () => {
  const book = new ContactBook();
  assert.equal(book.offer(encodeContact(node, NOW + HOUR, addrs), NOW), true);
  assert.equal(book.offer(encodeContact(node, NOW + HOUR / 2, addrs), NOW), false, 'an older record replaced a newer one');
  assert.equal(book.counters.known, 1);
  assert.equal(book.offer(encodeContact(node, NOW + 2 * HOUR, [addrs[0]!]), NOW), true);
  assert.equal(book.get(node.publicKey, NOW)!.addresses.length, 1);
  assert.equal(book.get(node.publicKey, NOW + 2 * HOUR), undefined, 'expired, still given out');
  assert.equal(book.offer(new Uint8Array(100), NOW), false);
  assert.equal(book.counters.invalid, 1);

  const full = new ContactBook();
  const keys = Array.from({ length: MAX_CONTACTS }, () => generateKeyPair());
  keys.forEach((k, i) => full.offer(encodeContact(k, NOW + HOUR + i, addrs), NOW));
  assert.equal(full.size, MAX_CONTACTS);
  assert.equal(full.offer(encodeContact(generateKeyPair(), NOW + 1000, addrs), NOW), false, 'a shorter-lived record pushed one out');
  assert.equal(full.counters.full, 1);
  assert.equal(full.offer(encodeContact(generateKeyPair(), NOW + 2 * HOUR, addrs), NOW), true);
  assert.equal(full.size, MAX_CONTACTS);
  assert.equal(full.get(keys[0]!.publicKey, NOW), undefined, 'not the soonest-expiring record went');
  const sample = full.sample(5, NOW, (k) => k - 1, keys[MAX_CONTACTS - 1]!.publicKey);
  assert.equal(sample.length, 5);
  assert.ok(!sample.some((c) => Buffer.from(c.publicKey).equals(Buffer.from(keys[MAX_CONTACTS - 1]!.publicKey))), 'the excluded key was sampled');
});

test('exchange frames carry what fits, and are refused whole unless exactly one frame and its padding', () => {
  const records = Array.from({ length: 10 }, () => encodeContact(generateKeyPair(), NOW + HOUR, addrs));
  const frame = encodeContactsFrame(records, 100_000)!;
  assert.equal(decodeContactsFrame(frame)!.length, MAX_CONTACTS_PER_FRAME);
  const small = encodeContactsFrame(records, 2 + 2 * (2 + records[0]!.length))!;
  assert.equal(decodeContactsFrame(small)!.length, 2, 'more records than fit, or fewer');
  assert.equal(encodeContactsFrame(records, 10), null);
  assert.deepEqual(decodeContactsFrame(small)![1], records[1]);
  assert.equal(decodeContactsFrame(small.subarray(0, small.length - 1)), null, 'cut short');
  // The hop session's padding (up to 15 zero bytes) is no part of the frame; anything else is.
  assert.equal(decodeContactsFrame(Uint8Array.from([...small, ...new Uint8Array(15)]))!.length, 2, 'padding');
  assert.equal(decodeContactsFrame(Uint8Array.from([...small, ...new Uint8Array(16)])), null, 'more zeros than padding');
  assert.equal(decodeContactsFrame(Uint8Array.from([...small, 0, 1])), null, 'a trailing byte');
  const zero = small.slice();
  zero[1] = 0;
  assert.equal(decodeContactsFrame(zero), null, 'no record');
  const book = new ContactBook();
  for (const r of decodeContactsFrame(frame)!) book.offer(r, NOW);
  assert.equal(book.size, MAX_CONTACTS_PER_FRAME);
});
