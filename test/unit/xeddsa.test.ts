// XEdDSA (src/keys/xeddsa.ts): signatures round-trip, any change refuses them, they are plain
// Ed25519 signatures under the Edwards form of the key (checked with @noble/curves and a
// conversion written here again), and malformed keys and signatures give false, not exceptions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { edwardsPublicKey, xeddsaSign, xeddsaSigner, xeddsaVerify } from '../../src/keys/xeddsa.js';
import { randomKeyPair } from '../../src/keys/x25519.js';
import { generateKeyPair, publicKeyFromPrivate } from '../../src/keys/keypair.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const P = 2n ** 255n - 19n;
const Q = 2n ** 252n + 27742317777372353535851937790883648493n;

const toLE = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
};
const fromLE = (b: Uint8Array): bigint => {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
};
const modPow = (b: bigint, e: bigint, m: bigint): bigint => {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
};

/** The birational map again, independently of the module: y = (u - 1) / (u + 1) mod p. */
function edwardsY(u: Uint8Array): Uint8Array {
  const n = fromLE(u);
  return toLE((((n - 1n + P) % P) * modPow(n + 1n, P - 2n, P)) % P);
}

const message = new TextEncoder().encode('rovy.net v1 announcement: a test message');

test('a signature verifies, and fails for any flipped bit in message, R or s, or another key', () => {
  const { privateKey, publicKey } = generateKeyPair();
  const sig = xeddsaSign(privateKey, message);
  assert.equal(sig.length, 64);
  assert.equal(xeddsaVerify(publicKey, message, sig), true);

  const other = randomKeyPair().publicKey;
  assert.equal(xeddsaVerify(other, message, sig), false);

  for (let bit = 0; bit < message.length * 8; bit += 7) {
    const m = new Uint8Array(message);
    m[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(xeddsaVerify(publicKey, m, sig), false, `message bit ${bit}`);
  }
  for (let bit = 0; bit < 512; bit++) {
    const s = new Uint8Array(sig);
    s[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(xeddsaVerify(publicKey, message, s), false, `signature bit ${bit} (${bit < 256 ? 'R' : 's'})`);
  }
  assert.equal(xeddsaVerify(publicKey, message.subarray(1), sig), false);
  assert.equal(xeddsaVerify(publicKey, new Uint8Array(0), sig), false);
});

test('an empty message and a long one sign and verify', () => {
  const { privateKey, publicKey } = randomKeyPair();
  for (const m of [new Uint8Array(0), new Uint8Array(randomBytes(100_000))]) {
    assert.equal(xeddsaVerify(publicKey, m, xeddsaSign(privateKey, m)), true);
  }
});

test('signatures are plain Ed25519 under the Edwards key with sign bit 0, for keys of both signs', () => {
  const seen = { 0: 0, 1: 0 };
  for (let i = 0; i < 24; i++) {
    const { privateKey, publicKey } = randomKeyPair();
    // Which case this key is: the sign of x in kB, the Edwards form of the X25519 key.
    const k = fromLE(privateKey) % Q; // randomKeyPair's keys are stored clamped
    const sign = (ed25519.Point.BASE.multiply(k).toBytes()[31]! >> 7) as 0 | 1;
    seen[sign]++;

    const sig = xeddsaSign(privateKey, message);
    assert.equal(xeddsaVerify(publicKey, message, sig), true, `sign bit ${sign}`);
    const y = edwardsY(publicKey);
    assert.deepEqual(edwardsPublicKey(publicKey), y);
    assert.equal(ed25519.verify(sig, message, y, { zip215: false }), true, `noble, sign bit ${sign}`);
    // The same y with sign bit 1 is the other point of that y: the signature is not valid there.
    const flipped = new Uint8Array(y);
    flipped[31]! |= 0x80;
    assert.equal(ed25519.verify(sig, message, flipped, { zip215: false }), false);
  }
  assert.ok(seen[0] > 0 && seen[1] > 0, `both signs occurred: ${JSON.stringify(seen)}`);
});

test('the Montgomery to Edwards map agrees with an external Curve25519 signature', () => {
  // libsignal-protocol-c tests/test_curve25519.c, test_curve25519_signature: a signature of the
  // older Curve25519 scheme, which keeps the Edwards sign bit in the top bit of s instead of
  // negating the scalar. With that bit moved back into the key it is a plain Ed25519 signature
  // under y = (u - 1) / (u + 1), which checks the conversion against an independent signer.
  const u = hex('ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64');
  const msg = hex('05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a');
  const sig = hex(
    '5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfb' +
      'ede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88',
  );
  const ed = edwardsPublicKey(u)!;
  ed[31]! |= sig[63]! & 0x80;
  const s = new Uint8Array(sig);
  s[63]! &= 0x7f;
  assert.equal(ed25519.verify(s, msg, ed, { zip215: false }), true);
  // XEdDSA forces sign bit 0, so the unmodified signature is not an XEdDSA one (s >= q).
  assert.equal(xeddsaVerify(u, msg, sig), false);
});

test('signatures with a fixed random input match an independent implementation of the specification', () => {
  // Computed from the specification's text with plain Python integers (affine Edwards arithmetic,
  // hashlib SHA-512), not from this module: private key = SHA-256("xeddsa test key <i>"),
  // message "abc", Z = bytes 0, 1, ..., 63. Keys 0 and 2 have an Edwards point of sign bit 1 (the
  // scalar is negated), keys 1 and 3 of sign bit 0.
  const z = Uint8Array.from({ length: 64 }, (_, i) => i);
  const abc = new TextEncoder().encode('abc');
  const known: [string, string][] = [
    [
      '42991205e3c5b828b2c5cb3a7994891873f7eefa3ecb64f79c43ce63b0349c2a',
      '8c4bf78da61533bb4b5ffa45a4287b8ff33de54981839a5efcefb0429c5172c905b6596fe370c90b85acd1fb8e1d5ff64cf4c3f14aeb55afb38a4cd5e9de690c',
    ],
    [
      '3bcd7d05c98f09bda935c67d46ddcfef1c8bbf04c0a7879e50742f964a27866c',
      'b533d34784a9a81588532d6f1fbbc37217cec7d10a83c1a8a0089e8294b82c5efae821da4cd2b8f167cac4fbb40165bc28bf256eb3809408facb5dd4c815db0c',
    ],
    [
      '947fda0855b76ac1a8815ecdeefc00086b328337f6aa2b082321a062cbf6e5ff',
      'da2a93a66cd1cf305b03b6abbe2a25680656347edab6f17e1e6d56cf4eb499a6d545191507ab12b035a1eb008eb0d3be9ec3c8ebf01eaddaf4146c7203169b04',
    ],
    [
      'dc3c0d8f31b157612d6706632016d4d054a58e2e96d812400be6938df6d9a561',
      'c07eb1cb8cd7a2c1f5bad654ae1cf330574c473b99d2995cba8817343687c7630e99efafbf0fcdab4ee475ecffe4bf4216992bba23395854e133cee80e08cf0b',
    ],
  ];
  for (const [priv, sig] of known) {
    assert.equal(Buffer.from(xeddsaSign(hex(priv), abc, z)).toString('hex'), sig);
    assert.equal(xeddsaVerify(publicKeyFromPrivate(hex(priv)), abc, hex(sig)), true);
  }
});

test('signing is deterministic for a fixed random input and differs for another', () => {
  const { privateKey, publicKey } = randomKeyPair();
  const z = new Uint8Array(64).fill(7);
  const a = xeddsaSign(privateKey, message, z);
  assert.deepEqual(xeddsaSign(privateKey, message, z), a);
  const b = xeddsaSign(privateKey, message, new Uint8Array(64).fill(8));
  assert.notDeepEqual(b, a);
  assert.equal(xeddsaVerify(publicKey, message, a), true);
  assert.equal(xeddsaVerify(publicKey, message, b), true);
  // Clamping is applied, as X25519 applies it: unclamped bits do not change the signature.
  const unclamped = new Uint8Array(privateKey);
  unclamped[0]! |= 7;
  unclamped[31]! |= 0x80;
  assert.deepEqual(xeddsaSign(unclamped, message, z), a);
});

test('s >= q is refused, even where s - q would be valid', () => {
  const { privateKey, publicKey } = randomKeyPair();
  for (let i = 0; i < 8; i++) {
    const sig = xeddsaSign(privateKey, message);
    const s = fromLE(sig.subarray(32));
    const bad = new Uint8Array(sig);
    bad.set(toLE(s + Q), 32); // the same s mod q: a malleated signature
    assert.equal(xeddsaVerify(publicKey, message, bad), false);
    assert.equal(xeddsaVerify(publicKey, message, sig), true);
  }
  const sig = xeddsaSign(privateKey, message);
  const maxS = new Uint8Array(sig);
  maxS.fill(0xff, 32);
  assert.equal(xeddsaVerify(publicKey, message, maxS), false);
});

test('malformed keys and signatures give false, never an exception', () => {
  const { privateKey, publicKey } = randomKeyPair();
  const sig = xeddsaSign(privateKey, message);
  const bad = (key: Uint8Array, s = sig): void => assert.equal(xeddsaVerify(key, message, s), false);

  bad(publicKey.subarray(0, 31));
  bad(new Uint8Array(33));
  bad(publicKey, sig.subarray(0, 63));
  bad(publicKey, new Uint8Array(65));
  bad(publicKey, new Uint8Array(64)); // R = 0 is no point; s = 0
  // u >= p: p itself (an alias of 0), p + 1, 2^256 - 1, and the key with its top bit set.
  bad(toLE(P));
  bad(toLE(P + 1n));
  bad(new Uint8Array(32).fill(0xff));
  const top = new Uint8Array(publicKey);
  top[31]! |= 0x80;
  bad(top);
  // u = -1 has no Edwards form.
  bad(toLE(P - 1n));
  // The small-order points: 0, 1 and the two of order 8 (all-zero key among them).
  for (const u of [
    0n,
    1n,
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  ]) {
    bad(toLE(u));
    assert.equal(edwardsPublicKey(toLE(u)), null);
  }
  // A u on the twist (u^3 + 486662u^2 + u not a square mod p) is no point of the curve.
  let twist = 0;
  for (let i = 0; i < 200 && twist < 3; i++) {
    const u = fromLE(new Uint8Array(randomBytes(32))) % P;
    const rhs = (u * u * u + 486662n * u * u + u) % P;
    if (modPow(rhs, (P - 1n) / 2n, P) !== P - 1n) continue;
    twist++;
    bad(toLE(u));
    assert.throws(() => ed25519.Point.fromBytes(edwardsPublicKey(toLE(u))!));
  }
  assert.equal(twist, 3);
  // Not Uint8Arrays at all (from untyped callers).
  assert.equal(xeddsaVerify(null as unknown as Uint8Array, message, sig), false);
  assert.equal(xeddsaVerify(publicKey, 'text' as unknown as Uint8Array, sig), false);
  assert.equal(xeddsaVerify(publicKey, message, [1, 2] as unknown as Uint8Array), false);
  // Random garbage of the right lengths.
  for (let i = 0; i < 200; i++) {
    assert.equal(xeddsaVerify(new Uint8Array(randomBytes(32)), message, new Uint8Array(randomBytes(64))), false);
  }
});

test('a key and signature given as views into larger buffers verify', () => {
  const { privateKey, publicKey } = randomKeyPair();
  const sig = xeddsaSign(privateKey, message);
  const buf = new Uint8Array(200);
  buf.set(publicKey, 3);
  buf.set(sig, 50);
  buf.set(message, 120);
  assert.equal(xeddsaVerify(buf.subarray(3, 35), buf.subarray(120, 120 + message.length), buf.subarray(50, 114)), true);
});

test('sign refuses private keys and random inputs of the wrong length', () => {
  assert.throws(() => xeddsaSign(new Uint8Array(31), message), RangeError);
  assert.throws(() => xeddsaSign(new Uint8Array(32).fill(1), message, new Uint8Array(32)), RangeError);
});

test('a key array signed with, then changed in place, signs as the new key (the signer made for it is not reused)', () => {
  const first = randomKeyPair();
  const second = randomKeyPair();
  const key = first.privateKey.slice();
  const message = randomBytes(40);
  const signer = xeddsaSigner(key);
  assert.equal(xeddsaSigner(key), signer, 'the same array and bytes: the signer made for it');
  assert.ok(xeddsaVerify(first.publicKey, message, xeddsaSign(key, message)));
  key.set(second.privateKey);
  const signature = xeddsaSign(key, message);
  assert.ok(xeddsaVerify(second.publicKey, message, signature));
  assert.ok(!xeddsaVerify(first.publicKey, message, signature));
});
