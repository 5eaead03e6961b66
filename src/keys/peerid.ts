// Peer ID: a node's X25519 public key written as text.
//
// The bytes are a CIDv1 whose multihash is the key itself (identity hash), under the multicodec
// 0x73 "rovy-key":
//   0x01 (CID version 1) 0x73 (rovy-key) 0x00 (identity multihash) 0x20 (32 bytes) <32 key bytes>
// The text is "b" (multibase: base32) followed by those 36 bytes in RFC 4648 base32, lower case,
// without padding: 59 characters, always starting "bafzqai". It fits in one DNS label, so
// "<peerid>.rovy" is a valid name; since DNS ignores case, decoding accepts upper case too.
import { base32nopad } from '@scure/base';
import { quoteShort } from '../util/quote.js';

/** Multicodec code of "rovy-key": a raw 32-byte X25519 public key. */
export const ROVY_KEY_CODEC = 0x73;
/** Length of a peer ID in text form (always the same). */
export const PEER_ID_LENGTH = 59;
/** Every peer ID starts with these characters (multibase "b" + the fixed header bytes). */
export const PEER_ID_PREFIX = 'bafzqai';

const CID_VERSION = 0x01;
const IDENTITY_MULTIHASH = 0x00;
const KEY_LENGTH = 32;
const HEADER = Uint8Array.of(CID_VERSION, ROVY_KEY_CODEC, IDENTITY_MULTIHASH, KEY_LENGTH);
const BASE32_LOWER = /^[a-z2-7]*$/;

/** A string that is not a well-formed peer ID. `reason` says what is wrong, without the input. */
export class PeerIdError extends Error {
  readonly reason: string;
  constructor(input: string, reason: string) {
    super(`invalid peer ID ${quoteShort(input)}: ${reason}`);
    this.name = 'PeerIdError';
    this.reason = reason;
  }
}

/** The peer ID text of a 32-byte X25519 public key. */
export function encodePeerId(publicKey: Uint8Array): string {
  if (publicKey.length !== KEY_LENGTH) {
    throw new Error(`a peer ID needs a ${KEY_LENGTH}-byte public key, got ${publicKey.length} bytes`);
  }
  const bytes = new Uint8Array(HEADER.length + KEY_LENGTH);
  bytes.set(HEADER, 0);
  bytes.set(publicKey, HEADER.length);
  return 'b' + base32nopad.encode(bytes).toLowerCase();
}

/** The 32-byte public key named by a peer ID. Throws PeerIdError saying what is wrong. */
export function decodePeerId(text: string): Uint8Array {
  if (text.length === 0) throw new PeerIdError(text, 'it is empty');
  const s = text.replace(/[A-Z]/g, (c) => c.toLowerCase()); // ASCII only: keeps positions
  if (s[0] !== 'b') {
    throw new PeerIdError(text, `it must start with "b" (multibase base32), not ${JSON.stringify(text[0])}`);
  }
  const body = s.slice(1);
  if (!BASE32_LOWER.test(body)) {
    const at = body.search(/[^a-z2-7]/);
    throw new PeerIdError(
      text,
      `${JSON.stringify(String.fromCodePoint(text.codePointAt(at + 1) ?? 0))} at position ${at + 2} is not a base32 character (a-z, 2-7)`,
    );
  }
  if (s.length !== PEER_ID_LENGTH) {
    throw new PeerIdError(text, `it must be ${PEER_ID_LENGTH} characters long, not ${s.length}`);
  }
  // 58 base32 characters carry 290 bits for 288 bits of data: the last 2 bits must be zero, or
  // two different strings would name the same key.
  if ((base32Value(body[body.length - 1]) & 0b11) !== 0) {
    throw new PeerIdError(text, 'its last character is not canonical (its two padding bits are not zero)');
  }
  const bytes = base32nopad.decode(body.toUpperCase());
  if (bytes[0] !== CID_VERSION) {
    throw new PeerIdError(text, `it is not a CIDv1 (version byte ${hexByte(bytes[0])})`);
  }
  if (bytes[1] !== ROVY_KEY_CODEC) {
    throw new PeerIdError(text, `its codec is ${hexByte(bytes[1])}, not rovy-key (0x73)`);
  }
  if (bytes[2] !== IDENTITY_MULTIHASH) {
    throw new PeerIdError(text, `its multihash is ${hexByte(bytes[2])}, not identity (0x00)`);
  }
  if (bytes[3] !== KEY_LENGTH) {
    throw new PeerIdError(text, `its key length is ${bytes[3]}, not ${KEY_LENGTH}`);
  }
  return bytes.slice(HEADER.length);
}

/** The canonical (lower-case) form of a peer ID; throws like decodePeerId. */
export function canonicalPeerId(text: string): string {
  return encodePeerId(decodePeerId(text));
}

function base32Value(c: string): number {
  const code = c.charCodeAt(0);
  return code >= 0x61 ? code - 0x61 : code - 0x32 + 26; // 'a'..'z' → 0..25, '2'..'7' → 26..31
}

function hexByte(b: number): string {
  return '0x' + b.toString(16).padStart(2, '0');
}


/** Whether `text` is a peer ID (any case): names that share the .rovy zone with peer IDs must not be. */
export function isPeerId(text: string): boolean {
  try {
    decodePeerId(text);
    return true;
  } catch {
    return false;
  }
}
