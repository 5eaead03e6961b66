// ICMPv6 error messages (RFC 4443) that the node writes back onto its own TUN, so applications
// learn at once why a packet went nowhere instead of waiting for a timeout.
import { IPV6_HEADER, NEXT_HEADER_ICMPV6, OFF_NEXT_HEADER, OFF_SRC, upperLayerChecksum, writeIPv6Header } from './ipv6.js';
import { IPV6_MIN_MTU } from '../util/protocol.js';

export const ICMP_DESTINATION_UNREACHABLE = 1;
export const ICMP_PACKET_TOO_BIG = 2;
export const ICMP_TIME_EXCEEDED = 3;
export const UNREACHABLE_NO_ROUTE = 0;
export const UNREACHABLE_ADDRESS = 3;
export const UNREACHABLE_PORT = 4;
export const ICMP_ECHO_REQUEST = 128;
export const ICMP_ECHO_REPLY = 129;

/** An ICMPv6 error plus the packet that caused it never exceeds the IPv6 minimum MTU (§2.4c). */
const MAX_ERROR_PACKET = IPV6_MIN_MTU;
const ICMP_HEADER = 8;

/**
 * Whether RFC 4443 §2.4e allows an ICMPv6 error about the packet at invoking[off, off+len): not
 * in answer to an ICMPv6 error, nor to a packet from the unspecified or a multicast address.
 */
export function icmpErrorAllowed(invoking: Uint8Array, off: number, len: number): boolean {
  if (len < IPV6_HEADER) return false;
  if (invoking[off + OFF_SRC] === 0xff || isUnspecified(invoking, off + OFF_SRC)) return false;
  return !(invoking[off + OFF_NEXT_HEADER] === NEXT_HEADER_ICMPV6 && len > IPV6_HEADER && invoking[off + IPV6_HEADER]! < 128);
}

/**
 * Writes into `out` an IPv6 packet from `source` carrying an ICMPv6 error about the packet at
 * invoking[off, off+len), and returns its length — or 0 where icmpErrorAllowed says no.
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
  if (!icmpErrorAllowed(invoking, off, len)) return 0;

  const quoted = Math.min(len, MAX_ERROR_PACKET - IPV6_HEADER - ICMP_HEADER);
  const payload = ICMP_HEADER + quoted;
  writeIPv6Header(out, 0, payload, NEXT_HEADER_ICMPV6, source, invoking.subarray(off + OFF_SRC, off + OFF_SRC + 16));
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
  return upperLayerChecksum(buf, off, icmpLength, NEXT_HEADER_ICMPV6);
}

function isUnspecified(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[off + i] !== 0) return false;
  return true;
}
