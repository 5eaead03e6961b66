// ICMPv6 errors (and IPv4's "fragmentation needed") the node writes back onto its TUN on behalf
// of the mesh, and the one it sends to the mesh for what its inbound filter refused; rate-limited
// so a flood of undeliverable packets cannot turn into a flood of errors (RFC 4443 §2.4f).
import {
  ICMP_DESTINATION_UNREACHABLE,
  ICMP_PACKET_TOO_BIG,
  ICMP_TIME_EXCEEDED,
  UNREACHABLE_NO_ROUTE,
  UNREACHABLE_PORT,
  icmpErrorAllowed,
  writeIcmpError,
} from '../fcnet/icmp.js';
import type { PacketDevice } from '../tun/device.js';
import { writeFragmentationNeeded } from '../fcnet/ipv4.js';
import { NEXT_HEADER_TCP, NEXT_HEADER_UDP } from '../fcnet/ipv6.js';
import { PacketBatch, TUN_OFFSET } from '../transport/batch.js';
import { TokenBucket } from '../util/token-bucket.js';
import { IPV6_MIN_MTU } from '../util/protocol.js';

/** Errors per second, and how many may go out at once after a quiet spell. */
const ERRORS_PER_SECOND = 100;
const ERROR_BURST = 20;

export class IcmpReplies {
  /** One slot: the error is built in place at TUN_OFFSET and written from there. */
  private readonly batch = new PacketBatch(1, TUN_OFFSET + IPV6_MIN_MTU);
  private readonly out = this.batch.data.subarray(TUN_OFFSET);
  private readonly bucket = new TokenBucket(ERRORS_PER_SECOND, ERROR_BURST);

  constructor(
    private readonly tun: PacketDevice,
    private readonly localAddress: Uint8Array,
    private readonly now: () => number,
  ) {}

  /** "No route to destination" for the packet at buf[off, off+len). */
  noRoute(buf: Uint8Array, off: number, len: number): void {
    this.send(this.localAddress, ICMP_DESTINATION_UNREACHABLE, UNREACHABLE_NO_ROUTE, 0, buf, off, len);
  }

  /** "Packet too big": the route to the packet's destination carries at most `mtu` bytes. */
  packetTooBig(buf: Uint8Array, off: number, len: number, mtu: number): void {
    this.send(this.localAddress, ICMP_PACKET_TOO_BIG, 0, mtu, buf, off, len);
  }

  /** IPv4's "fragmentation needed" (RFC 1191): the route to the packet's destination carries at
   *  most `mtu` bytes. Without it a host's TCP would send into the gap for ever. */
  fragmentationNeeded(buf: Uint8Array, off: number, len: number, mtu: number): void {
    if (!this.bucket.take(this.now())) return;
    this.batch.lens[0] = writeFragmentationNeeded(this.out, buf, off, len, mtu);
    if (this.batch.lens[0] > 0) this.tun.writeBatch(this.batch, 1, TUN_OFFSET);
  }

  /** "Port unreachable" from `from` (the resolver address): nothing listens there. */
  portUnreachable(from: Uint8Array, buf: Uint8Array, off: number, len: number): void {
    this.send(from, ICMP_DESTINATION_UNREACHABLE, UNREACHABLE_PORT, 0, buf, off, len);
  }

  /**
   * "Port unreachable" from this node, for a packet from the mesh the inbound filter refused:
   * to the mesh, as a closed port answers, so a connection fails at once and traceroute6 sees
   * its last hop. Only for TCP and UDP, and within the same rate as every error; null otherwise.
   * A new packet: it goes out through the send path after the batch.
   */
  refusal(buf: Uint8Array, off: number, len: number, protocol: number): Uint8Array | null {
    if ((protocol !== NEXT_HEADER_TCP && protocol !== NEXT_HEADER_UDP) || !icmpErrorAllowed(buf, off, len) || !this.bucket.take(this.now())) return null;
    const out = new Uint8Array(IPV6_MIN_MTU);
    return out.subarray(0, writeIcmpError(out, this.localAddress, ICMP_DESTINATION_UNREACHABLE, UNREACHABLE_PORT, 0, buf, off, len));
  }

  /** "Hop limit exceeded in transit", from the transit node at `from` (its fc address). */
  timeExceeded(from: Uint8Array, packet: Uint8Array): void {
    this.send(from, ICMP_TIME_EXCEEDED, 0, 0, packet, 0, packet.length);
  }

  private send(from: Uint8Array, type: number, code: number, parameter: number, buf: Uint8Array, off: number, len: number): void {
    // Checked first, so an error RFC 4443 forbids uses up no token; built only with a token, so
    // a flood of undeliverable packets costs a check each, not a copy and a checksum.
    if (!icmpErrorAllowed(buf, off, len) || !this.bucket.take(this.now())) return;
    this.batch.lens[0] = writeIcmpError(this.out, from, type, code, parameter, buf, off, len);
    this.tun.writeBatch(this.batch, 1, TUN_OFFSET);
  }
}
