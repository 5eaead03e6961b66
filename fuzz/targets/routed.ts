// Routed frames' headers, as a node's forwarding stage sees them: a verdict, and for a frame passed
// on, a next link that is up and not the one it came in by; for one whose next link is down, that
// link.
import { DROPPED, EXPIRED, FORWARD, FOR_US, Forwarder, NO_LINK } from '../../src/forward/forwarder.js';
import { checkRoutedHeader, returnSlots, reverseRoute } from '../../src/forward/header.js';
import { Counters } from '../../src/util/counters.js';
import { invariant } from '../expect.js';

const forwarder = new Forwarder((link) => link >= 1 && link <= 8, new Counters());

export function fuzz(data: Buffer): void {
  if (data.length < 1) return;
  const inLink = 1 + (data[0]! % 8);
  const frame = data.subarray(1);
  const header = checkRoutedHeader(frame, 0, frame.length);
  invariant(header <= frame.length, 'a header longer than the frame');
  const verdict = forwarder.decide(frame, 0, frame.length, inLink);
  invariant([DROPPED, FOR_US, FORWARD, EXPIRED, NO_LINK].includes(verdict), `verdict ${verdict}`);
  if (header < 0) invariant(verdict === DROPPED, 'a malformed header not dropped');
  if (verdict === FORWARD) invariant(forwarder.nextLink !== inLink && forwarder.nextLink >= 1 && forwarder.nextLink <= 8, `next link ${forwarder.nextLink}`);
  if (verdict === NO_LINK) {
    invariant(forwarder.nextLink !== inLink && !(forwarder.nextLink >= 1 && forwarder.nextLink <= 8), `next link ${forwarder.nextLink} is up`);
    reverseRoute(frame, 0, inLink);
  }
  if (verdict === FOR_US) returnSlots(frame, 0);
  if (verdict === FOR_US || verdict === EXPIRED) {
    invariant(forwarder.payloadStart + forwarder.payloadLength <= frame.length, 'a payload past the frame');
    reverseRoute(frame, 0, inLink);
  }
}
