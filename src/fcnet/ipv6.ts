// Offsets and checks of the fixed IPv6 header (RFC 8200 §3), read in place from a packet buffer.
export const IPV6_HEADER = 40;
export const OFF_PAYLOAD_LENGTH = 4;
export const OFF_NEXT_HEADER = 6;
export const OFF_HOP_LIMIT = 7;
export const OFF_SRC = 8;
export const OFF_DST = 24;
export const NEXT_HEADER_ICMPV6 = 58;
export const NEXT_HEADER_TCP = 6;
export const NEXT_HEADER_UDP = 17;

/** Total length of a well-formed IPv6 packet at `off`, or -1 if the header does not hold up. */
export function ipv6Length(buf: Uint8Array, off: number, available: number): number {
  if (available < IPV6_HEADER || buf[off]! >> 4 !== 6) return -1;
  const total = IPV6_HEADER + ((buf[off + OFF_PAYLOAD_LENGTH]! << 8) | buf[off + OFF_PAYLOAD_LENGTH + 1]!);
  return total <= available ? total : -1;
}

/** Whether the 16 bytes at a[ao] equal those at b[bo]. */
export function equal16(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 16; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/**
 * The Internet checksum of the upper-layer message (`length` bytes after the fixed header) of the
 * IPv6 packet at buf[off], over the pseudo-header of RFC 8200 §8.1 with `nextHeader`. Written
 * into a zeroed checksum field it makes the message verify; over a message with its checksum in
 * place it is 0 when that checksum is right.
 */
export function upperLayerChecksum(buf: Uint8Array, off: number, length: number, nextHeader: number): number {
  let sum = 0;
  for (let i = off + OFF_SRC; i < off + IPV6_HEADER; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  sum += length >>> 16;
  sum += length & 0xffff;
  sum += nextHeader;
  const start = off + IPV6_HEADER;
  const end = start + length;
  for (let i = start; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (length & 1) sum += buf[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Writes a fixed IPv6 header at out[off]: no traffic class or flow label, hop limit 64. */
export function writeIPv6Header(out: Uint8Array, off: number, payloadLength: number, nextHeader: number, source: Uint8Array, destination: Uint8Array): void {
  out[off] = 0x60;
  out[off + 1] = out[off + 2] = out[off + 3] = 0;
  out[off + OFF_PAYLOAD_LENGTH] = payloadLength >> 8;
  out[off + OFF_PAYLOAD_LENGTH + 1] = payloadLength & 0xff;
  out[off + OFF_NEXT_HEADER] = nextHeader;
  out[off + OFF_HOP_LIMIT] = 64;
  out.set(source.subarray(0, 16), off + OFF_SRC);
  out.set(destination.subarray(0, 16), off + OFF_DST);
}
