// What LAN discovery heard, sent and refused. Every datagram received increments `received` and
// then exactly one of the others in the first group, so a neighbour that does not appear is
// always explainable:
//   received = accepted + own + malformed + otherInterface + stale + replayed + spoofed + full
//              + rateLimited + badSignature
import { CounterSet } from '../util/counters.js';

export class DiscoveryCounters extends CounterSet {
  /** Datagrams that arrived on the discovery socket. */
  received = 0;
  /** Beacons that added or refreshed a neighbour. */
  accepted = 0;
  /** Our own beacons, looped back by multicast: expected, not an error. */
  own = 0;
  /** Datagrams that are not a well-formed beacon of a rovy key, or that came without the
   *  interface they arrived on (only link-local sources carry one). */
  malformed = 0;
  /** Datagrams that arrived on an interface discovery does not use (the group is joined per host,
   *  so another socket's membership lets them in). */
  otherInterface = 0;
  /** Beacons whose timestamp is more than MAX_CLOCK_SKEW_MS from our clock. */
  stale = 0;
  /** Beacons not newer than the last one accepted from their key (also after it expired). */
  replayed = 0;
  /** Beacons whose source address is not a link-local address they list: sent, or forwarded,
   *  by someone else. */
  spoofed = 0;
  /** Beacons of a new key while MAX_NEIGHBORS are held. */
  full = 0;
  /** Beacons that passed every other check while the verification budget was spent. */
  rateLimited = 0;
  /** Beacons whose signature does not verify under the key they carry. */
  badSignature = 0;

  /** Beacons sent (one per interface per interval, plus answers to newcomers). */
  sent = 0;
  /** Beacons the socket refused to send (an interface going down, mostly). */
  sendErrors = 0;
}
