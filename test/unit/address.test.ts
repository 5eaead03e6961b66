// Keys and addresses (src/keys/address.ts, keypair.ts, ip-text.ts): the fc00::/8 derivation
// against an independent BLAKE2s (@noble/hashes), X25519 against RFC 7748, and IPv6 text
// against RFC 5952.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import {
  fcAddressBytes,
  formatIPv4,
  formatIPv6,
  isRovyKey,
  parseIPv4,
  parseIPv6,
} from '../../src/keys/address.js';
import { generateKeyPair, publicKeyFromPrivate } from '../../src/keys/keypair.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

// RFC 7748 §6.1 (Alice): not a rovy key, but any key has a derived address.
const ALICE_PRIVATE = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const ALICE_PUBLIC = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
// A rovy key: private key = SHA-256("rovy test key 571"), the first such hash whose key is in fc00::/8.
const TEST_PRIVATE = hex('6b55cc38e51e2efcd7eacd1345b1765ec545cbcc44a764a089eeb9744c223ee8');
const TEST_PUBLIC = hex('7b4c7a6dff69f204be046a6b3e7fed6b92daf1d3f5c8891284e6a10d770e9f6c');

/** The derivation written again with another BLAKE2s implementation. */
function nobleAddress(pub: Uint8Array): Uint8Array {
  return blake2s(blake2s(pub)).slice(16, 32);
}

test('X25519 public keys match RFC 7748', () => {
  assert.deepEqual(publicKeyFromPrivate(ALICE_PRIVATE), ALICE_PUBLIC);
  assert.deepEqual(publicKeyFromPrivate(TEST_PRIVATE), TEST_PUBLIC);
  assert.throws(() => publicKeyFromPrivate(new Uint8Array(31)), /32 bytes, got 31/);
});

test('fixed keys have fixed addresses, equal to an independent BLAKE2s computation', () => {
  assert.equal(formatIPv6(fcAddressBytes(TEST_PUBLIC)), 'fc62:36bf:ee9c:a784:92b5:c3c1:b3c5:269a');
  assert.equal(formatIPv6(fcAddressBytes(ALICE_PUBLIC)), 'c24b:135a:ae5e:27fc:8bdb:1e61:416c:68b6');
  assert.deepEqual(fcAddressBytes(TEST_PUBLIC), nobleAddress(TEST_PUBLIC));
  for (let i = 0; i < 50; i++) {
    const key = new Uint8Array(randomBytes(32));
    assert.deepEqual(fcAddressBytes(key), nobleAddress(key));
  }
});

test('a key is a rovy key exactly when its address starts with 0xfc', () => {
  assert.equal(isRovyKey(TEST_PUBLIC), true);
  assert.equal(isRovyKey(ALICE_PUBLIC), false);
  for (let i = 0; i < 200; i++) {
    const key = new Uint8Array(randomBytes(32));
    assert.equal(isRovyKey(key), nobleAddress(key)[0] === 0xfc);
  }
  assert.throws(() => fcAddressBytes(new Uint8Array(16)), /32-byte public key, got 16/);
});

test('generated key pairs are rovy keys, consistent and distinct', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const { privateKey, publicKey } = generateKeyPair();
    assert.equal(privateKey.length, 32);
    assert.equal(publicKey.length, 32);
    assert.equal(fcAddressBytes(publicKey)[0], 0xfc);
    assert.ok(formatIPv6(fcAddressBytes(publicKey)).startsWith('fc'));
    assert.deepEqual(publicKeyFromPrivate(privateKey), publicKey);
    seen.add(Buffer.from(publicKey).toString('hex'));
  }
  assert.equal(seen.size, 8);
});

test('IPv6 text is formatted as RFC 5952 says', () => {
  const cases: [string, string][] = [
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'], // §4.2.1: shorten as much as possible
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'], // §4.1: no leading zeros
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: one zero group stays
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3: the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3: the first of equal runs
    ['2001:DB8::AbCd', '2001:db8::abcd'], // §4.3: lower case
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['fe80:0:0:0:0:0:0:1', 'fe80::1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], // §5: IPv4-mapped in mixed notation
    ['::ffff:c000:201', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::c000:201'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['fc62:36bf:ee9c:a784:92b5:c3c1:b3c5:269a', 'fc62:36bf:ee9c:a784:92b5:c3c1:b3c5:269a'],
  ];
  for (const [input, expected] of cases) {
    assert.equal(formatIPv6(parseIPv6(input)), expected, input);
  }
});

test('IPv6 bytes round-trip through text, zero runs included', () => {
  for (let i = 0; i < 2000; i++) {
    const bytes = new Uint8Array(randomBytes(16));
    // Zero some groups so that runs of every length and position occur.
    const mask = randomBytes(1)[0];
    for (let g = 0; g < 8; g++) if (mask & (1 << g)) bytes[2 * g] = bytes[2 * g + 1] = 0;
    const text = formatIPv6(bytes);
    assert.deepEqual(parseIPv6(text), bytes, text);
    assert.equal(formatIPv6(parseIPv6(text)), text);
    assert.ok(!/:0[0-9a-f]/.test(text) && text === text.toLowerCase(), text);
  }
});

test('malformed IPv6 text is rejected with the reason', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    [':', /single ":"/],
    [':::', /single ":"|groups cannot be empty/],
    ['1::2::3', /"::" may appear only once/],
    ['1:2:3:4:5:6:7', /7 groups; without "::" it needs 8/],
    ['1:2:3:4:5:6:7:8:9', /9 groups/],
    ['1:2:3:4::5:6:7:8', /8 groups besides "::"/],
    ['12345::', /more than 4 hex digits/],
    ['g::1', /"g" is not allowed/],
    [':1::', /single ":"/],
    ['1::2:', /single ":"/],
    ['::1.2.3', /IPv4 part: it needs 4 dotted numbers/],
    ['::1.2.3.256', /256 is more than 255/],
    ['::01.2.3.4', /leading zero/],
    ['1.2.3.4::', /must come last/],
    ['::1.2.3.4:1', /must come last/],
    ['fe80::1%eth0', /zone/],
    ['[::1]', /brackets/],
    [' ::1', /" " is not allowed/],
    ['1.2.3.4', /2 groups/],
  ];
  for (const [input, reason] of cases) {
    assert.throws(() => parseIPv6(input), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, new RegExp(`^invalid IPv6 address ${escape(JSON.stringify(input))}: `));
      assert.match(err.message, reason, input);
      return true;
    });
  }
  assert.throws(() => formatIPv6(new Uint8Array(4)), /16 bytes, got 4/);
});

test('IPv4 text parses strictly and formats back', () => {
  assert.deepEqual(parseIPv4('192.0.2.1'), Uint8Array.of(192, 0, 2, 1));
  assert.equal(formatIPv4(parseIPv4('0.0.0.0')), '0.0.0.0');
  assert.equal(formatIPv4(parseIPv4('255.255.255.255')), '255.255.255.255');
  assert.throws(() => parseIPv4('1.2.3'), /4 dotted numbers/);
  assert.throws(() => parseIPv4('1.2.3.4.5'), /4 dotted numbers/);
  assert.throws(() => parseIPv4('1.2.3.256'), /more than 255/);
  assert.throws(() => parseIPv4('1.2.3.04'), /leading zero/);
  assert.throws(() => parseIPv4('1.2.3.x'), /"x" is not a number/);
  assert.throws(() => parseIPv4('1.2..4'), /"" is not a number/);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
