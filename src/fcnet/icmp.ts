// ICMPv6 error messages (RFC 4443) that the node writes back onto its own TUN, so applications
// learn at once why a packet went nowhere instead of waiting for a timeout.
import { IPV6_HEADER, NEXT_HEADER_ICMPV6, OFF_DST, OFF_NEXT_HEADER, OFF_SRC } from './ipv6.js';

export const ICMP_DESTINATION_UNREACHABLE = 1;
export const ICMP_PACKET_TOO_BIG = 2;
export const ICMP_TIME_EXCEEDED = 3;
export const UNREACHABLE_NO_ROUTE = 0;
export const UNREACHABLE_ADDRESS = 3;

/** An ICMPv6 error plus the packet that caused it never exceeds the IPv6 minimum MTU (§2.4c). */
const MAX_ERROR_PACKET = 1280;
const ICMP_HEADER = 8;

/**
 * Writes into `out` an IPv6 packet from `source` carrying an ICMPv6 error about the packet at
 * invoking[off, off+len), and returns its length — or 0 where RFC 4443 §2.4e forbids an error:
 * in answer to an ICMPv6 error, or to a packet from the unspecified or a multicast address.
 */
export function writeIcmpError(
  out: Uint8Array,
  source: Uint8Array,
  type: number,
  code: number,
  parameter: number,
  invoking: Uint8Array,
  off: number,
  len: number,
): number {
  if (len < IPV6_HEADER) return 0;
  const srcFirst = invoking[off + OFF_SRC]!;
  if (srcFirst === 0xff || isUnspecified(invoking, off + OFF_SRC)) return 0;
  if (invoking[off + OFF_NEXT_HEADER] === NEXT_HEADER_ICMPV6 && len > IPV6_HEADER && invoking[off + IPV6_HEADER]! < 128) return 0;

  const quoted = Math.min(len, MAX_ERROR_PACKET - IPV6_HEADER - ICMP_HEADER);
  const payload = ICMP_HEADER + quoted;
  out[0] = 0x60;
  out[1] = out[2] = out[3] = 0;
  out[4] = payload >> 8;
  out[5] = payload & 0xff;
  out[6] = NEXT_HEADER_ICMPV6;
  out[7] = 64;
  out.set(source.subarray(0, 16), OFF_SRC);
  out.set(invoking.subarray(off + OFF_SRC, off + OFF_SRC + 16), OFF_DST);
  const icmp = IPV6_HEADER;
  out[icmp] = type;
  out[icmp + 1] = code;
  out[icmp + 2] = out[icmp + 3] = 0;
  out[icmp + 4] = parameter >>> 24;
  out[icmp + 5] = parameter >>> 16;
  out[icmp + 6] = parameter >>> 8;
  out[icmp + 7] = parameter;
  out.set(invoking.subarray(off, off + quoted), icmp + ICMP_HEADER);
  const sum = icmpChecksum(out, 0, payload);
  out[icmp + 2] = sum >> 8;
  out[icmp + 3] = sum & 0xff;
  return IPV6_HEADER + payload;
}

/** The ICMPv6 checksum of the packet at buf[off] whose ICMPv6 message is `icmpLength` long. */
export function icmpChecksum(buf: Uint8Array, off: number, icmpLength: number): number {
  let sum = 0;
  for (let i = off + OFF_SRC; i < off + IPV6_HEADER; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  sum += icmpLength >>> 16;
  sum += icmpLength & 0xffff;
  sum += NEXT_HEADER_ICMPV6;
  const start = off + IPV6_HEADER;
  const end = start + icmpLength;
  for (let i = start; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (icmpLength & 1) sum += buf[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function isUnspecified(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[off + i] !== 0) return false;
  return true;
}
