// Offsets and checks of the fixed IPv6 header (RFC 8200 §3), read in place from a packet buffer.
export const IPV6_HEADER = 40;
export const OFF_PAYLOAD_LENGTH = 4;
export const OFF_NEXT_HEADER = 6;
export const OFF_HOP_LIMIT = 7;
export const OFF_SRC = 8;
export const OFF_DST = 24;
export const NEXT_HEADER_ICMPV6 = 58;

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
