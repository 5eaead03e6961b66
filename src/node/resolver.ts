// The resolver at fc00::1: every packet the TUN hands us for that address is answered here, in
// the daemon, so `.rovy` names work on every node without a socket on port 53 (and without
// racing systemd-resolved or dnsmasq for it).
//
//   UDP to port 53     → the DNS query is answered (names/dns.ts) with a UDP reply from fc00::1:53;
//                        a name outside rovy's zones, while the node uses an exit, is forwarded
//                        (setForwarder: the daemon asks the exit) and answered when it answers.
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

/** Sends a query on (a copy, the caller's to keep) and calls `answer` with the response, or
 *  with null if none came; false if it cannot take the query now. */
export type DnsForwarder = (query: Uint8Array, answer: (response: Uint8Array | null) => void) => boolean;

/** Forwarded queries waiting for an answer, at most: past it, REFUSED at once. */
export const MAX_FORWARDED = 256;

export class Resolver {
  private forwarder: DnsForwarder | null = null;
  private forwarding = 0;

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

  /** Where queries for names outside rovy's zones go (the exit in use); null: REFUSED here. */
  setForwarder(forwarder: DnsForwarder | null): void {
    this.forwarder = forwarder;
  }

  private answer(buf: Uint8Array, off: number, u: number, payload: number): void {
    const query = buf.subarray(u + UDP_HEADER, u + payload);
    const { length, outcome } = answerDnsQuery(query, this.zone, this.dns);
    if (length === 0) {
      this.counters.dnsDropped++;
      return;
    }
    if (outcome === 'outside' && this.forward(query, buf.slice(off + OFF_SRC, off + OFF_SRC + 16), (buf[u]! << 8) | buf[u + 1]!)) return;
    this.counters.dnsAnswered++;
    if (outcome === 'refused' || outcome === 'outside') this.counters.dnsRefused++;
    this.reply(buf.subarray(off + OFF_SRC, off + OFF_SRC + 16), (buf[u]! << 8) | buf[u + 1]!, length);
  }

  /** Hands the query to the forwarder; the answer goes back to `client`:`port` when it comes
   *  (SERVFAIL if none does). False if there is no forwarder or it is busy. */
  private forward(query: Uint8Array, client: Uint8Array, port: number): boolean {
    if (!this.forwarder || this.forwarding >= MAX_FORWARDED) return false;
    const copy = query.slice();
    const taken = this.forwarder(copy, (response) => {
      this.forwarding--;
      this.counters.dnsForwarded++;
      const usable = response !== null && isAnswerTo(response, copy) && response.length <= this.dns.length;
      if (usable) this.dns.set(response);
      const length = usable ? response.length : servfail(copy, this.dns);
      if (length === 0) {
        this.counters.dnsDropped++;
        return;
      }
      this.reply(client, port, length);
    });
    if (taken) this.forwarding++;
    return taken;
  }

  /** Writes the DNS message at this.dns[0, length) to the TUN, from fc00::1:53 to client:port. */
  private reply(client: Uint8Array, port: number, length: number): void {
    const { out } = this;
    const udpLength = UDP_HEADER + length;
    writeIPv6Header(out, 0, udpLength, NEXT_HEADER_UDP, RESOLVER_ADDRESS, client);
    const r = IPV6_HEADER;
    out[r] = DNS_PORT >> 8;
    out[r + 1] = DNS_PORT & 0xff;
    out[r + 2] = port >> 8; // back to the query's source port
    out[r + 3] = port & 0xff;
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

/** Whether `response` is a response (QR set) with the query's ID and question. */
function isAnswerTo(response: Uint8Array, query: Uint8Array): boolean {
  if (response.length < 12 || (response[2]! & 0x80) === 0 || response[0] !== query[0] || response[1] !== query[1]) return false;
  // The question section follows the 12-byte header in both; the query's may carry EDNS after it.
  const end = questionEnd(query);
  if (end < 0 || response.length < end) return false;
  for (let i = 12; i < end; i++) if ((response[i]! | 0x20) !== (query[i]! | 0x20)) return false;
  return true;
}

/** The end of the first question of a DNS message, or -1. */
function questionEnd(message: Uint8Array): number {
  let i = 12;
  while (i < message.length && message[i] !== 0) {
    if (message[i]! >= 64) return -1; // no compression in a question we sent
    i += message[i]! + 1;
  }
  return i + 5 <= message.length ? i + 5 : -1;
}

/** A SERVFAIL for `query` in `out` (header and question); its length, 0 if the query has none. */
function servfail(query: Uint8Array, out: Uint8Array): number {
  const end = questionEnd(query);
  if (end < 0 || end > out.length) return 0;
  out.set(query.subarray(0, end));
  out[2] = 0x80 | (query[2]! & 0x79); // QR, the opcode and RD kept
  out[3] = 2; // SERVFAIL
  out[4] = 0;
  out[5] = 1;
  out.fill(0, 6, 12);
  return end;
}
