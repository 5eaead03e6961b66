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

/** The Internet checksum (RFC 1071) of buf[off, off + len). */
export function internetChecksum(buf: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i + 1 < len; i += 2) sum += (buf[off + i]! << 8) | buf[off + i + 1]!;
  if (len & 1) sum += buf[off + len - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Writes at out[0] ICMPv4 "fragmentation needed" (type 3, code 4, RFC 1191) for the IPv4 packet at
 * buf[off, off + len), whose path carries at most `mtu` bytes; returns its length, or 0 when none
 * is owed: the packet does not forbid fragmenting (DF clear), is a fragment past the first, or is
 * itself an ICMP error. It comes from the packet's own destination: a rovy node has no IPv4
 * address of its own, and the host checks an ICMP error against the header it carries, not its
 * source. It carries the invoking header and 8 bytes of its payload.
 */
export function writeFragmentationNeeded(out: Uint8Array, buf: Uint8Array, off: number, len: number, mtu: number): number {
  const header = (buf[off]! & 0x0f) * 4;
  const flags = buf[off + 6]!;
  if (!(flags & 0x40) || ((flags & 0x1f) | buf[off + 7]!) !== 0) return 0; // DF clear, or not the first fragment
  if (buf[off + 9] === 1 && len > header) {
    const type = buf[off + header]!;
    if (type !== 0 && type !== 8 && type !== 13 && type !== 15 && type !== 17) return 0; // an ICMP error
  }
  const quoted = Math.min(len, header + 8);
  const total = IPV4_MIN_HEADER + 8 + quoted;
  out.fill(0, 0, total);
  out[0] = 0x45;
  out[OFF4_TOTAL_LENGTH] = total >> 8;
  out[OFF4_TOTAL_LENGTH + 1] = total & 0xff;
  out[OFF4_TTL] = 64;
  out[9] = 1; // ICMP
  out.set(buf.subarray(off + OFF4_DST, off + OFF4_DST + 4), OFF4_SRC);
  out.set(buf.subarray(off + OFF4_SRC, off + OFF4_SRC + 4), OFF4_DST);
  const headerSum = internetChecksum(out, 0, IPV4_MIN_HEADER);
  out[10] = headerSum >> 8;
  out[11] = headerSum & 0xff;
  const icmp = IPV4_MIN_HEADER;
  out[icmp] = 3;
  out[icmp + 1] = 4;
  out[icmp + 6] = mtu >> 8;
  out[icmp + 7] = mtu & 0xff;
  out.set(buf.subarray(off, off + quoted), icmp + 8);
  const sum = internetChecksum(out, icmp, 8 + quoted);
  out[icmp + 2] = sum >> 8;
  out[icmp + 3] = sum & 0xff;
  return total;
}
