// Offsets and checks of the IPv4 header (RFC 791 §3.1), read in place from a packet buffer. rovy0
// carries IPv4 only to and from routed prefixes (issue 15): nodes have no IPv4 address of their own.
export const IPV4_MIN_HEADER = 20;
export const OFF4_TOTAL_LENGTH = 2;
export const OFF4_TTL = 8;
export const OFF4_SRC = 12;
export const OFF4_DST = 16;

/** Total length of a well-formed IPv4 packet at `off`, or -1 if its header does not hold up:
 *  version 4, a header of 20–60 bytes, a total length that covers it and is all there. */
export function ipv4Length(buf: Uint8Array, off: number, available: number): number {
  if (available < IPV4_MIN_HEADER || buf[off]! >> 4 !== 4) return -1;
  const header = (buf[off]! & 0x0f) * 4;
  const total = (buf[off + OFF4_TOTAL_LENGTH]! << 8) | buf[off + OFF4_TOTAL_LENGTH + 1]!;
  return header >= IPV4_MIN_HEADER && total >= header && total <= available ? total : -1;
}
