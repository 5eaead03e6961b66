// Packets for fc addresses routing has no route to, held while a lookup finds one (the first packet
// to a node beyond the map waits for one lookup, docs/ROUTING.md). When the lookup ends they go out
// again through the send path, now with their route, or, if none was found, are answered with
// ICMPv6 "no route" — and for a while after that, packets to the same address are answered at
// once instead of starting another lookup.
//
// Bounded: MAX_DESTINATIONS addresses wait at a time (a host scanning the fc00::/8 space cannot
// start a lookup per address), MAX_PACKETS_PER_DESTINATION packets each (the oldest goes first,
// as while a handshake runs). The data path asks with the address in place: allocation happens
// only when a packet is held.
import { AddressTable } from '../fcnet/address-table.js';
import { OFF_DST } from '../fcnet/ipv6.js';
import type { LookupResult } from '../routing/routing.js';

/** Destinations whose packets may wait for a lookup at once. */
export const MAX_DESTINATIONS = 256;
/** Packets kept per destination while its lookup runs. */
export const MAX_PACKETS_PER_DESTINATION = 8;
/** After a lookup found nothing, packets to that address are refused at once this long. */
export const UNREACHABLE_MS = 2000;

interface Waiting {
  address: Uint8Array;
  packets: Uint8Array[];
}

export interface LookupQueueHost {
  /** Starts a lookup of `address` (routing.locate). */
  locate(address: Uint8Array): void;
  /** Sends packets that waited, as if just read from the TUN. */
  resend(packets: Uint8Array[]): void;
  /** Answers one packet with ICMPv6 "no route". */
  noRoute(packet: Uint8Array): void;
}

export class LookupQueue {
  private readonly waiting = new AddressTable<Waiting>();
  /** Addresses a lookup found nothing for, and until when they are refused. */
  private readonly unreachable = new AddressTable<number>();
  /** Packets held, answered with "no route", and refused for lack of room. */
  held = 0;
  failed = 0;
  full = 0;

  constructor(private readonly host: LookupQueueHost) {}

  /**
   * Holds the IPv6 packet at buf[p, p+len) until its destination is found; false if it may not
   * wait (its address was not found lately, or too many addresses wait): answer it now.
   */
  hold(buf: Uint8Array, p: number, len: number, now: number): boolean {
    const dst = p + OFF_DST;
    const until = this.unreachable.lookup(buf, dst);
    if (until !== undefined) {
      if (now < until) return false;
      this.unreachable.delete(buf.subarray(dst, dst + 16));
    }
    let w = this.waiting.lookup(buf, dst);
    if (!w) {
      if (this.waiting.size >= MAX_DESTINATIONS) {
        this.full++;
        return false;
      }
      w = { address: buf.slice(dst, dst + 16), packets: [] };
      this.waiting.set(w.address, w);
      this.host.locate(w.address);
    }
    if (w.packets.length >= MAX_PACKETS_PER_DESTINATION) w.packets.shift();
    w.packets.push(buf.slice(p, p + len));
    this.held++;
    return true;
  }

  /** A lookup ended: its packets go out, or are answered "no route". Not called from inside the
   *  send path (the packets go back through it). */
  done(result: LookupResult, now: number): void {
    const w = this.waiting.lookup(result.target, 0);
    if (!w) return;
    this.waiting.delete(w.address);
    if (result.found) {
      this.host.resend(w.packets);
      return;
    }
    this.unreachable.set(w.address, now + UNREACHABLE_MS);
    for (const packet of w.packets) {
      this.failed++;
      this.host.noRoute(packet);
    }
  }

  /** Forgets the addresses refused long enough (called now and then, off the data path). */
  sweep(now: number): void {
    const expired: Uint8Array[] = [];
    this.unreachable.forEach((address, until) => {
      if (until <= now) expired.push(address);
    });
    for (const address of expired) this.unreachable.delete(address);
  }

  /** Addresses with packets waiting. */
  get size(): number {
    return this.waiting.size;
  }
}
