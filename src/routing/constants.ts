// Routing constants. The frame bytes and MAX_HOPS are wire values (docs/PROTOCOL.md §4–5); the
// timers are behaviour every node shares (a node expires others by LIFETIME, so each must refresh
// well within it); DEFAULT_LINK_COST is this implementation's choice.
import { TIMER_TICK_MS } from '../session/constants.js';

/** First byte of a hop plaintext that carries a routing control frame. */
export const FRAME_ROUTING = 0x02;
/** Second byte of a routing control frame: the rest is announcements back to back. */
export const KIND_ANNOUNCEMENTS = 1;
/** Second byte of a routing control frame with nothing after it: "send me your database". */
export const KIND_DATABASE_REQUEST = 2;
/** Bytes before the first announcement of a frame (FRAME_ROUTING, kind). */
export const FRAME_HEADER = 2;
/** Third kind: acknowledgements, 41-byte entries (origin key, sequence, part) back to back. */
export const KIND_ACKNOWLEDGEMENTS = 3;
/** An announcement sent to a neighbour is sent again this long after, unacknowledged (then twice
 *  as long each time, at most RETRANSMIT_MAX_MS): well above a mesh link's round trip. */
export const RETRANSMIT_MS = 1000;
export const RETRANSMIT_MAX_MS = 30_000;
/** Tries after the first before an unacknowledged announcement is given up: with 5 % of frames
 *  lost both ways, all nine are lost with a probability of 10^-9. */
export const MAX_RETRANSMITS = 8;
/** A database request is answered unless this node sent its database to that neighbour this
 *  recently: both ends of a new link send theirs unasked (the other's request comes a round trip
 *  later), and a neighbour cannot make this node send it more often than this. A node that
 *  restarts takes longer than this to come back. */
export const DATABASE_RESEND_MS = 2000;

/** The router's clock while it has work waiting: origination, SPF and expiry are checked this
 *  often (the node's timer tick, which the simulator runs at too; a node at rest ticks once a
 *  second, and sooner when the router says it has work: RouterOptions.workDue). */
export const TICK_MS = TIMER_TICK_MS;
/** A node signs and floods a new announcement at most this often, so a flapping link costs at most
 *  one flood per second across the whole network. */
export const MIN_ORIGINATION_INTERVAL_MS = 1000;
/** An unchanged announcement is re-signed this often, well inside LIFETIME, so a live node never
 *  expires anywhere even if one refresh is lost. */
export const REFRESH_MS = 30 * 60_000;
/** Another node's announcement is forgotten this long after the last new sequence of it arrived:
 *  two refresh periods, so a node that vanished without its neighbours announcing it gone (a
 *  partition) leaves every database within the hour. */
export const LIFETIME_MS = 60 * 60_000;

/** New sequences of one origin are taken at most one per this interval, after a burst of
 *  NEW_SEQUENCE_BURST (a token bucket): an origin originates at most once per
 *  MIN_ORIGINATION_INTERVAL_MS, and a node that just got its database from a new neighbour takes
 *  that neighbour's next announcement at once. One that comes sooner is dropped unacknowledged,
 *  so its neighbour resends it a second later: an origin that floods new sequences costs every
 *  node two verifications a second at most, and an honest one loses nothing. */
export const ORIGIN_MIN_INTERVAL_MS = MIN_ORIGINATION_INTERVAL_MS / 2;
export const NEW_SEQUENCE_BURST = 2;
/** The database holds at most this many origins and bytes of announcements (a mesh of 25,000
 *  nodes needs about 8 MB): past either, announcements of new origins, or ones that would grow it
 *  past the bytes, are dropped unacknowledged and counted, so nodes that sign announcements for
 *  made-up keys cannot exhaust a node's memory. */
export const MAX_ORIGINS = 100_000;
export const MAX_DATABASE_BYTES = 64 << 20;

/** Longest route produced: a label has at most MAX_HOPS - 1 slots, which bounds the forwarding
 *  header. Nodes farther than this (in hops along the cheapest path) get no route. */
export const MAX_HOPS = 64;
/** Cost this node announces for each of its links: routes are shortest in hops until links are
 *  measured. */
export const DEFAULT_LINK_COST = 1;
