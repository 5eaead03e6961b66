// Peer IDs: the text form of a public key (src/keys/peerid.ts). The expected strings were computed
// once with Python's base64.b32encode over the CID bytes, independently of this code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { base32nopad } from '@scure/base';
import {
  canonicalPeerId,
  decodePeerId,
  encodePeerId,
  PEER_ID_LENGTH,
  PEER_ID_PREFIX,
  PeerIdError,
} from '../../src/keys/peerid.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

// RFC 7748 §6.1: Alice's X25519 public key.
const ALICE = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
const ALICE_ID = 'bafzqaiefedyatcjqu5khjc353s2d5522bw7tudjghanpj25evghkvg2oni';

/** Peer-ID-shaped text for arbitrary CID bytes, to build wrong-but-well-formed inputs. */
function textOf(bytes: Uint8Array): string {
  return 'b' + base32nopad.encode(bytes).toLowerCase();
}

function rejects(input: string, reason: RegExp): void {
  assert.throws(
    () => decodePeerId(input),
    (err: unknown) => {
      assert.ok(err instanceof PeerIdError, `expected PeerIdError for ${JSON.stringify(input)}`);
      assert.match(err.reason, reason);
      assert.match(err.message, /^invalid peer ID /);
      return true;
    },
  );
}

test('a known key has its known peer ID', () => {
  assert.equal(encodePeerId(ALICE), ALICE_ID);
  assert.equal(ALICE_ID.length, PEER_ID_LENGTH);
  assert.ok(ALICE_ID.startsWith(PEER_ID_PREFIX));
  assert.deepEqual(decodePeerId(ALICE_ID), ALICE);
});

test('every key round-trips, in 59 characters starting bafzqai', () => {
  const keys = [new Uint8Array(32), new Uint8Array(32).fill(0xff)];
  for (let i = 0; i < 200; i++) keys.push(new Uint8Array(randomBytes(32)));
  for (const key of keys) {
    const id = encodePeerId(key);
    assert.equal(id.length, 59);
    assert.ok(id.startsWith('bafzqai'), id);
    assert.match(id, /^b[a-z2-7]+$/);
    assert.deepEqual(decodePeerId(id), key);
  }
});

test('upper and mixed case are accepted (DNS ignores case) and canonicalize to lower case', () => {
  assert.deepEqual(decodePeerId(ALICE_ID.toUpperCase()), ALICE);
  const mixed = ALICE_ID.slice(0, 20).toUpperCase() + ALICE_ID.slice(20);
  assert.deepEqual(decodePeerId(mixed), ALICE);
  assert.equal(canonicalPeerId(ALICE_ID.toUpperCase()), ALICE_ID);
});

test('encoding refuses keys that are not 32 bytes', () => {
  assert.throws(() => encodePeerId(new Uint8Array(31)), /32-byte public key, got 31/);
  assert.throws(() => encodePeerId(new Uint8Array(33)), /32-byte public key, got 33/);
});

test('malformed peer IDs are rejected with the reason', () => {
  rejects('', /empty/);
  rejects('z' + ALICE_ID.slice(1), /must start with "b"/);
  rejects('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', /must start with "b"/);
  rejects(ALICE_ID.slice(0, 58), /must be 59 characters long, not 58/);
  rejects(ALICE_ID + 'a', /must be 59 characters long, not 60/);
  rejects(ALICE_ID.slice(0, 10) + '1' + ALICE_ID.slice(11), /"1" at position 11 is not a base32 character/);
  rejects(ALICE_ID.slice(0, 58) + '=', /"=" at position 59 is not a base32 character/);
  rejects(ALICE_ID.slice(0, 30) + ' ' + ALICE_ID.slice(31), /" " at position 31/);
  rejects(ALICE_ID.slice(0, 30) + 'é' + ALICE_ID.slice(31), /"é" at position 31/);
  rejects(`${ALICE_ID}.rovy`, /"\." at position 60/);
});

test('a peer ID whose last character has padding bits set is not canonical', () => {
  // "i" is 8 = 0b01000: its low two bits are padding; "j" (9) sets one of them.
  assert.equal(ALICE_ID[58], 'i');
  rejects(ALICE_ID.slice(0, 58) + 'j', /not canonical/);
});

test('a well-formed CID that is not a rovy key is rejected, naming the header byte', () => {
  const cid = (header: number[]): Uint8Array => Uint8Array.from([...header, ...ALICE]);
  rejects(textOf(cid([0x00, 0x73, 0x00, 0x20])), /not a CIDv1 \(version byte 0x00\)/);
  rejects(textOf(cid([0x01, 0x72, 0x00, 0x20])), /codec is 0x72, not rovy-key \(0x73\)/);
  rejects(textOf(cid([0x01, 0x55, 0x00, 0x20])), /codec is 0x55/);
  rejects(textOf(cid([0x01, 0x73, 0x12, 0x20])), /multihash is 0x12, not identity/);
  rejects(textOf(cid([0x01, 0x73, 0x00, 0x1f])), /key length is 31, not 32/);
});
