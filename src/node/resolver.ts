// The resolver at fc00::1: every packet the TUN hands us for that address is answered here, in
// the daemon, so `.rovy` names work on every node without a socket on port 53 (and without
// racing systemd-resolved or dnsmasq for it).
//
//   UDP to port 53     → the DNS query is answered (names/dns.ts) with a UDP reply from fc00::1:53.
//   ICMPv6 echo        → echo reply, so `ping fc00::1` shows the resolver is there.
//   other UDP, TCP     → ICMPv6 port unreachable: the client fails at once instead of timing out.
//   anything else, and queries that do not parse or whose UDP checksum is wrong: dropped, counted.
import { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, icmpChecksum } from '../fcnet/icmp.js';
import {
  IPV6_HEADER,
  NEXT_HEADER_ICMPV6,
  NEXT_HEADER_TCP,
  NEXT_HEADER_UDP,
  OFF_NEXT_HEADER,
  OFF_SRC,
  upperLayerChecksum,
  writeIPv6Header,
} from '../fcnet/ipv6.js';
import { answerDnsQuery, type RovyZone } from '../names/dns.js';
import type { PacketDevice } from '../tun/device.js';
import { PacketBatch, TUN_OFFSET } from '../transport/batch.js';
import type { Counters } from '../util/counters.js';
import type { IcmpReplies } from './icmp-replies.js';
import { IPV6_MIN_MTU } from '../util/protocol.js';

/** fc00::1: inside fc00::/8, so the route to the mesh brings it to the TUN on every node. */
export const RESOLVER_ADDRESS = new Uint8Array([0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

const DNS_PORT = 53;
const UDP_HEADER = 8;
/** Replies stay within the IPv6 minimum MTU: with EDNS we offer 1232 bytes (the DNS flag day figure). */
const MAX_REPLY = IPV6_MIN_MTU;

/** Whether the 16 bytes at buf[off] are fc00::1 (checked after the first byte matched 0xfc). */
export function isResolverAddress(buf: Uint8Array, off: number): boolean {
  if (buf[off + 15] !== 1) return false;
  for (let i = 1; i < 15; i++) if (buf[off + i] !== 0) return false;
  return buf[off] === 0xfc;
}

export class Resolver {
  private readonly batch = new PacketBatch(1, TUN_OFFSET + MAX_REPLY + 64);
  private readonly out = this.batch.data.subarray(TUN_OFFSET, TUN_OFFSET + MAX_REPLY);
  private readonly dns = this.out.subarray(IPV6_HEADER + UDP_HEADER);

  constructor(
    private readonly tun: PacketDevice,
    private readonly zone: RovyZone,
    private readonly icmp: IcmpReplies,
    private readonly counters: Counters,
  ) {}

  /** The well-formed IPv6 packet at buf[off, off+len), addressed to fc00::1. */
  handle(buf: Uint8Array, off: number, len: number): void {
    const next = buf[off + OFF_NEXT_HEADER];
    const payload = len - IPV6_HEADER;
    const u = off + IPV6_HEADER;
    if (next === NEXT_HEADER_UDP && payload >= UDP_HEADER) {
      const udpLength = (buf[u + 4]! << 8) | buf[u + 5]!;
      // A zero checksum field is "none", forbidden over IPv6 (RFC 8200 §8.1): dropped like a wrong one.
      if (udpLength !== payload || (buf[u + 6]! | buf[u + 7]!) === 0 || upperLayerChecksum(buf, off, payload, NEXT_HEADER_UDP) !== 0) {
        this.counters.dnsDropped++;
        return;
      }
      if (((buf[u + 2]! << 8) | buf[u + 3]!) === DNS_PORT) this.answer(buf, off, u, payload);
      else this.icmp.portUnreachable(RESOLVER_ADDRESS, buf, off, len);
    } else if (next === NEXT_HEADER_TCP) {
      this.icmp.portUnreachable(RESOLVER_ADDRESS, buf, off, len);
    } else if (next === NEXT_HEADER_ICMPV6 && payload >= 8 && buf[u] === ICMP_ECHO_REQUEST && buf[u + 1] === 0) {
      this.echo(buf, off, len);
    } else {
      this.counters.dnsDropped++;
    }
  }

  private answer(buf: Uint8Array, off: number, u: number, payload: number): void {
    const { length, outcome } = answerDnsQuery(buf.subarray(u + UDP_HEADER, u + payload), this.zone, this.dns);
    if (length === 0) {
      this.counters.dnsDropped++;
      return;
    }
    this.counters.dnsAnswered++;
    if (outcome === 'refused') this.counters.dnsRefused++;
    const { out } = this;
    const udpLength = UDP_HEADER + length;
    writeIPv6Header(out, 0, udpLength, NEXT_HEADER_UDP, RESOLVER_ADDRESS, buf.subarray(off + OFF_SRC, off + OFF_SRC + 16));
    const r = IPV6_HEADER;
    out[r] = DNS_PORT >> 8;
    out[r + 1] = DNS_PORT & 0xff;
    out[r + 2] = buf[u]!; // back to the query's source port
    out[r + 3] = buf[u + 1]!;
    out[r + 4] = udpLength >> 8;
    out[r + 5] = udpLength & 0xff;
    out[r + 6] = out[r + 7] = 0;
    // A computed 0 is sent as 0xffff: in IPv6 a zero UDP checksum means "none" (RFC 8200 §8.1).
    const sum = upperLayerChecksum(out, 0, udpLength, NEXT_HEADER_UDP) || 0xffff;
    out[r + 6] = sum >> 8;
    out[r + 7] = sum & 0xff;
    this.write(IPV6_HEADER + udpLength);
  }

  private echo(buf: Uint8Array, off: number, len: number): void {
    if (len > MAX_REPLY) {
      this.counters.dnsDropped++; // a jumbo ping gets no answer rather than a truncated one
      return;
    }
    const { out } = this;
    writeIPv6Header(out, 0, len - IPV6_HEADER, NEXT_HEADER_ICMPV6, RESOLVER_ADDRESS, buf.subarray(off + OFF_SRC, off + OFF_SRC + 16));
    out.set(buf.subarray(off + IPV6_HEADER, off + len), IPV6_HEADER);
    out[IPV6_HEADER] = ICMP_ECHO_REPLY;
    out[IPV6_HEADER + 2] = out[IPV6_HEADER + 3] = 0;
    const sum = icmpChecksum(out, 0, len - IPV6_HEADER);
    out[IPV6_HEADER + 2] = sum >> 8;
    out[IPV6_HEADER + 3] = sum & 0xff;
    this.write(len);
  }

  private write(length: number): void {
    this.batch.lens[0] = length;
    this.tun.writeBatch(this.batch, 1, TUN_OFFSET);
  }
}
