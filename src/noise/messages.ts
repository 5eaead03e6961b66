// The four wire messages of rovy's sessions in WireGuard's framing (paper §5.4): a type byte, three
// reserved zero bytes, little-endian u32 indices and a little-endian u64 counter. Decoders return
// views into the given bytes (no copies) or null when the length, type or reserved bytes are wrong.
import {
  COOKIE_REPLY_SIZE,
  INITIATION_SIZE,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_TRANSPORT,
  REJECT_AFTER_COUNTER,
  RESPONSE_SIZE,
  TRANSPORT_HEADER_SIZE,
} from './constants.js';

// Byte offsets of each field. Every message starts with type (u8) at 0 and reserved (3 zero bytes).

export const INITIATION = {
  senderIndex: 4, // u32 LE
  ephemeral: 8, // 32
  encryptedStatic: 40, // 32 + 16 tag
  encryptedTimestamp: 88, // 12 + 16 tag
  mac1: 116, // 16
  mac2: 132, // 16
} as const;

export const RESPONSE = {
  senderIndex: 4, // u32 LE
  receiverIndex: 8, // u32 LE
  ephemeral: 12, // 32
  encryptedNothing: 44, // 0 + 16 tag
  mac1: 60, // 16
  mac2: 76, // 16
} as const;

export const COOKIE_REPLY = {
  receiverIndex: 4, // u32 LE
  nonce: 8, // 24
  encryptedCookie: 32, // 16 + 16 tag
} as const;

export const TRANSPORT = {
  receiverIndex: 4, // u32 LE
  counter: 8, // u64 LE
  encryptedPacket: 16, // n + 16 tag
} as const;

export interface InitiationMessage {
  senderIndex: number;
  ephemeral: Uint8Array;
  encryptedStatic: Uint8Array;
  encryptedTimestamp: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface ResponseMessage {
  senderIndex: number;
  receiverIndex: number;
  ephemeral: Uint8Array;
  encryptedNothing: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface CookieReplyMessage {
  receiverIndex: number;
  nonce: Uint8Array;
  encryptedCookie: Uint8Array;
}

export function readU32LE(buf: Uint8Array, offset: number): number {
  return (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0;
}

export function writeU32LE(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value & 0xff;
  buf[offset + 1] = (value >>> 8) & 0xff;
  buf[offset + 2] = (value >>> 16) & 0xff;
  buf[offset + 3] = (value >>> 24) & 0xff;
}

function hasHeader(msg: Uint8Array, type: number): boolean {
  return msg[0] === type && msg[1] === 0 && msg[2] === 0 && msg[3] === 0;
}

function writeHeader(out: Uint8Array, type: number, offset = 0): void {
  out[offset] = type;
  out[offset + 1] = out[offset + 2] = out[offset + 3] = 0;
}

function checkSize(field: Uint8Array, size: number, what: string): void {
  if (field.length !== size) throw new RangeError(`${what} must be ${size} bytes, got ${field.length}`);
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff) throw new RangeError(`bad index ${index}`);
}

// ---- Initiation (type 1, 148 bytes) --------------------------------------------------------------

export function decodeInitiation(msg: Uint8Array): InitiationMessage | null {
  if (msg.length !== INITIATION_SIZE || !hasHeader(msg, MESSAGE_INITIATION)) return null;
  const o = INITIATION;
  return {
    senderIndex: readU32LE(msg, o.senderIndex),
    ephemeral: msg.subarray(o.ephemeral, o.encryptedStatic),
    encryptedStatic: msg.subarray(o.encryptedStatic, o.encryptedTimestamp),
    encryptedTimestamp: msg.subarray(o.encryptedTimestamp, o.mac1),
    mac1: msg.subarray(o.mac1, o.mac2),
    mac2: msg.subarray(o.mac2, INITIATION_SIZE),
  };
}

/** Writes an initiation into `out` (148 bytes, a new buffer if absent). Absent MACs are zeros. */
export function encodeInitiation(
  fields: Omit<InitiationMessage, 'mac1' | 'mac2'> & Partial<Pick<InitiationMessage, 'mac1' | 'mac2'>>,
  out: Uint8Array = new Uint8Array(INITIATION_SIZE),
): Uint8Array {
  checkSize(out, INITIATION_SIZE, 'initiation');
  checkIndex(fields.senderIndex);
  checkSize(fields.ephemeral, 32, 'ephemeral');
  checkSize(fields.encryptedStatic, 48, 'encrypted static');
  checkSize(fields.encryptedTimestamp, 28, 'encrypted timestamp');
  const o = INITIATION;
  writeHeader(out, MESSAGE_INITIATION);
  writeU32LE(out, o.senderIndex, fields.senderIndex);
  out.set(fields.ephemeral, o.ephemeral);
  out.set(fields.encryptedStatic, o.encryptedStatic);
  out.set(fields.encryptedTimestamp, o.encryptedTimestamp);
  writeMacs(out, o.mac1, fields.mac1, fields.mac2);
  return out;
}

// ---- Response (type 2, 92 bytes) -----------------------------------------------------------------

export function decodeResponse(msg: Uint8Array): ResponseMessage | null {
  if (msg.length !== RESPONSE_SIZE || !hasHeader(msg, MESSAGE_RESPONSE)) return null;
  const o = RESPONSE;
  return {
    senderIndex: readU32LE(msg, o.senderIndex),
    receiverIndex: readU32LE(msg, o.receiverIndex),
    ephemeral: msg.subarray(o.ephemeral, o.encryptedNothing),
    encryptedNothing: msg.subarray(o.encryptedNothing, o.mac1),
    mac1: msg.subarray(o.mac1, o.mac2),
    mac2: msg.subarray(o.mac2, RESPONSE_SIZE),
  };
}

/** Writes a response into `out` (92 bytes, a new buffer if absent). Absent MACs are zeros. */
export function encodeResponse(
  fields: Omit<ResponseMessage, 'mac1' | 'mac2'> & Partial<Pick<ResponseMessage, 'mac1' | 'mac2'>>,
  out: Uint8Array = new Uint8Array(RESPONSE_SIZE),
): Uint8Array {
  checkSize(out, RESPONSE_SIZE, 'response');
  checkIndex(fields.senderIndex);
  checkIndex(fields.receiverIndex);
  checkSize(fields.ephemeral, 32, 'ephemeral');
  checkSize(fields.encryptedNothing, 16, 'encrypted nothing');
  const o = RESPONSE;
  writeHeader(out, MESSAGE_RESPONSE);
  writeU32LE(out, o.senderIndex, fields.senderIndex);
  writeU32LE(out, o.receiverIndex, fields.receiverIndex);
  out.set(fields.ephemeral, o.ephemeral);
  out.set(fields.encryptedNothing, o.encryptedNothing);
  writeMacs(out, o.mac1, fields.mac1, fields.mac2);
  return out;
}

function writeMacs(out: Uint8Array, at: number, mac1: Uint8Array | undefined, mac2: Uint8Array | undefined): void {
  if (mac1) checkSize(mac1, 16, 'mac1');
  if (mac2) checkSize(mac2, 16, 'mac2');
  if (mac1) out.set(mac1, at);
  else out.fill(0, at, at + 16);
  if (mac2) out.set(mac2, at + 16);
  else out.fill(0, at + 16, at + 32);
}

// ---- Cookie reply (type 3, 64 bytes) -------------------------------------------------------------

export function decodeCookieReply(msg: Uint8Array): CookieReplyMessage | null {
  if (msg.length !== COOKIE_REPLY_SIZE || !hasHeader(msg, MESSAGE_COOKIE_REPLY)) return null;
  const o = COOKIE_REPLY;
  return {
    receiverIndex: readU32LE(msg, o.receiverIndex),
    nonce: msg.subarray(o.nonce, o.encryptedCookie),
    encryptedCookie: msg.subarray(o.encryptedCookie, COOKIE_REPLY_SIZE),
  };
}

/** Writes a cookie reply into `out` (64 bytes, a new buffer if absent). */
export function encodeCookieReply(fields: CookieReplyMessage, out: Uint8Array = new Uint8Array(COOKIE_REPLY_SIZE)): Uint8Array {
  checkSize(out, COOKIE_REPLY_SIZE, 'cookie reply');
  checkIndex(fields.receiverIndex);
  checkSize(fields.nonce, 24, 'nonce');
  checkSize(fields.encryptedCookie, 32, 'encrypted cookie');
  const o = COOKIE_REPLY;
  writeHeader(out, MESSAGE_COOKIE_REPLY);
  writeU32LE(out, o.receiverIndex, fields.receiverIndex);
  out.set(fields.nonce, o.nonce);
  out.set(fields.encryptedCookie, o.encryptedCookie);
  return out;
}

// ---- Transport data (type 4, 16-byte header + packet + 16-byte tag) ------------------------------

/** Writes the 16-byte transport header at out[offset] (the packet follows it in place). */
export function encodeTransportHeader(out: Uint8Array, receiverIndex: number, counter: number, offset = 0): void {
  if (out.length < offset + TRANSPORT_HEADER_SIZE) throw new RangeError('buffer shorter than a transport header');
  if (!Number.isSafeInteger(counter) || counter < 0 || counter >= REJECT_AFTER_COUNTER) {
    throw new RangeError(`bad transport counter ${counter}`);
  }
  writeHeader(out, MESSAGE_TRANSPORT, offset);
  writeU32LE(out, offset + TRANSPORT.receiverIndex, receiverIndex);
  const low = counter % 0x1_0000_0000;
  writeU32LE(out, offset + TRANSPORT.counter, low);
  writeU32LE(out, offset + TRANSPORT.counter + 4, (counter - low) / 0x1_0000_0000);
}

/** The little-endian u64 at `offset` as a Number, or -1 when it is REJECT_AFTER_COUNTER or more:
 *  no such counter is ever sent, and above 2^53 a Number could not even hold it exactly. */
export function readTransportCounter(buf: Uint8Array, offset: number): number {
  const low = readU32LE(buf, offset);
  const high = readU32LE(buf, offset + 4);
  if (high >= 0x20_0000) return -1; // at least 2^53
  const counter = high * 0x1_0000_0000 + low;
  return counter >= REJECT_AFTER_COUNTER ? -1 : counter;
}
