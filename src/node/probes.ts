// Copies of the packets sent that will run out of hop limit inside the mesh — traceroute's
// probes — so that when a transit reports the expiry (forward/report.ts), the origin can quote
// the packet in the ICMPv6 error as RFC 4443 requires. Ordinary traffic never lands here: only a
// packet whose hop limit is no more than the route's transit count.
import { IPV6_MIN_MTU } from '../util/protocol.js';

/** Probes remembered at once (traceroute6 sends 16 at a time by default). */
const CAPACITY = 64;
/** How long a probe waits for its report. */
const TTL_MS = 10_000;
/** An ICMPv6 error quotes at most this much of the invoking packet (the minimum MTU less its
 *  IPv6 and ICMPv6 headers). */
const QUOTE_MAX = IPV6_MIN_MTU - 40 - 8;

interface Probe {
  index: number;
  counter: number;
  at: number;
  packet: Uint8Array;
}

export class ProbeCache {
  private readonly ring: (Probe | undefined)[] = new Array<Probe | undefined>(CAPACITY);
  private next = 0;

  /** Remembers the packet at buf[off, off+len) sent with this end-to-end receiver index and counter. */
  remember(index: number, counter: number, buf: Uint8Array, off: number, len: number, now: number): void {
    this.ring[this.next] = { index, counter, at: now, packet: buf.slice(off, off + Math.min(len, QUOTE_MAX)) };
    this.next = (this.next + 1) % CAPACITY;
  }

  /** Whether a packet sent with this index and counter is still waiting for its report. */
  has(index: number, counter: number, now: number): boolean {
    return this.find(index, counter, now) >= 0;
  }

  /** The packet sent with this index and counter, once: a second report for it finds nothing. */
  take(index: number, counter: number, now: number): Uint8Array | undefined {
    const i = this.find(index, counter, now);
    if (i < 0) return undefined;
    const packet = this.ring[i]!.packet;
    this.ring[i] = undefined;
    return packet;
  }

  private find(index: number, counter: number, now: number): number {
    for (let i = 0; i < CAPACITY; i++) {
      const probe = this.ring[i];
      if (probe && probe.index === index && probe.counter === counter && now - probe.at <= TTL_MS) return i;
    }
    return -1;
  }
}
