// The forwarding stage: what a node does with a routed frame a neighbour passed it.
//
//   in:  a routed frame, the hop plaintext at buf[p, p+len), and the link it came in by
//   out: one verdict —
//        FOR_US   the label is used up: the payload (an end-to-end message, or a report) is at
//                 payloadStart, payloadLength bytes long, for the end-to-end layer;
//        FORWARD  rewritten in place for the next hop (hop limit decremented, the label slot it
//                 read replaced by the link it came in by, the pointer moved on): `nextLink` says
//                 where it goes, and it leaves with the same bytes and length through the hop-out
//                 stage;
//        EXPIRED  its hop limit runs out here: its origin should be told (along reverseRoute);
//        NO_LINK  its label names no live link of ours: the route is broken here, and its origin
//                 should be told (along reverseRoute) which index failed (`nextLink`);
//        DROPPED  malformed, or its label names the link it came in by.
// Every drop is counted. A transit reads nothing past the routed header: what it carries is
// sealed end to end.
import type { Counters } from '../util/counters.js';
import { OFF_COUNT, OFF_HOP_LIMIT, OFF_POINTER, checkRoutedHeader, payloadLength, readSlot, writeSlot } from './header.js';

export const DROPPED = 0;
export const FOR_US = 1;
export const FORWARD = 2;
export const EXPIRED = 3;
export const NO_LINK = 4;
export type Verdict = typeof DROPPED | typeof FOR_US | typeof FORWARD | typeof EXPIRED | typeof NO_LINK;

export class Forwarder {
  /** After FOR_US: where the payload starts in the buffer, and its length. */
  payloadStart = 0;
  payloadLength = 0;
  /** After FORWARD: the link to pass the frame to; after NO_LINK, the index that named none. */
  nextLink = 0;

  constructor(
    /** Whether `link` names a neighbour whose link is up. */
    private readonly isUp: (link: number) => boolean,
    private readonly counters: Counters,
  ) {}

  decide(buf: Uint8Array, p: number, len: number, inLink: number): Verdict {
    const header = checkRoutedHeader(buf, p, len);
    if (header < 0) {
      this.counters.malformed++;
      return DROPPED;
    }
    const pointer = buf[p + OFF_POINTER]!;
    if (pointer === buf[p + OFF_COUNT]!) {
      this.payloadStart = p + header;
      this.payloadLength = payloadLength(buf, p);
      return FOR_US;
    }
    const hopLimit = buf[p + OFF_HOP_LIMIT]!;
    if (hopLimit <= 1) {
      this.counters.hopLimitExceeded++;
      this.payloadStart = p + header;
      this.payloadLength = payloadLength(buf, p);
      return EXPIRED;
    }
    const next = readSlot(buf, p, pointer);
    if (next === inLink) {
      this.counters.badLabel++;
      return DROPPED;
    }
    if (!this.isUp(next)) {
      this.counters.badLabel++;
      this.nextLink = next;
      return NO_LINK;
    }
    writeSlot(buf, p, pointer, inLink);
    buf[p + OFF_POINTER] = pointer + 1;
    buf[p + OFF_HOP_LIMIT] = hopLimit - 1;
    this.nextLink = next;
    return FORWARD;
  }
}
