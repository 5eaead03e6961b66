// Byte-array comparison and reading for control paths (keys, addresses, endpoint areas, sequence
// numbers); the packet path compares in place (fcnet/ipv6.ts equal16).

/** Whether `a` and `b` hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The big-endian 64-bit unsigned integer at buf[off] as a Number: exact below 2^53, which the
 *  callers' formats guarantee (routing sequences are checked before they are read). */
export function readUint64BE(buf: Uint8Array, off: number): number {
  let hi = 0;
  for (let i = 0; i < 4; i++) hi = hi * 256 + buf[off + i]!;
  let lo = 0;
  for (let i = 4; i < 8; i++) lo = lo * 256 + buf[off + i]!;
  return hi * 2 ** 32 + lo;
}

/** Writes `value` (a safe non-negative integer) at buf[off] as a big-endian 64-bit unsigned integer. */
export function writeUint64BE(buf: Uint8Array, off: number, value: number): void {
  let hi = Math.floor(value / 2 ** 32);
  let lo = value >>> 0;
  for (let i = 3; i >= 0; i--, hi = Math.floor(hi / 256)) buf[off + i] = hi & 0xff;
  for (let i = 7; i >= 4; i--, lo >>>= 8) buf[off + i] = lo & 0xff;
}

/** Lower-case hex of `bytes` (a map key for a public key, say). */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** `bytes` as a string of the same length (latin1), a cheap Map key for a key or an address. */
export function bytesKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function readUint16BE(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

export function writeUint16BE(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value >>> 8;
  buf[off + 1] = value & 0xff;
}

export function readUint32BE(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

export function writeUint32BE(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value >>> 24;
  buf[off + 1] = (value >>> 16) & 0xff;
  buf[off + 2] = (value >>> 8) & 0xff;
  buf[off + 3] = value & 0xff;
}
