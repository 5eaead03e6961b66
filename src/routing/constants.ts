// Routing constants. The frame bytes and MAX_HOPS are wire values (docs/PROTOCOL.md §4–5); the
// timers are behaviour every node shares (a node expires others by LIFETIME, one of an earlier
// revision within the hour, so each must refresh well within that); DEFAULT_LINK_COST is this
// implementation's choice.
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
/** Eighth kind: the sender's map horizon, one byte — it keeps announcements of origins at most
 *  that many hops from it (255: no bound), so nothing farther need be sent to it. Kinds 4–7 are
 *  the trees'. */
export const KIND_MAP_HORIZON = 8;
/** Ninth kind: renewals, 113-byte entries (announcement.ts) back to back, each an announcement
 *  the receiver holds signed again with a new sequence. Empty when a link comes up: "I take them". */
export const KIND_RENEWALS = 9;
/** Tenth kind: the hops from the sender to the nearest node that forgets an announcement an hour
 *  after its last new sequence (an earlier revision's), one byte: 1 or 2, or 255 for none within
 *  2 hops. Only such a node, and the nodes that pass renewals on to it, need the half-hourly ones. */
export const KIND_HOURLY_DISTANCE = 10;
/** Twelfth kind (twentieth revision): the hops from the sender to the nearest node that forgets an
 *  announcement 25 hours after its last new sequence (of the tenth to nineteenth revision, or
 *  earlier), one byte as the hourly distance's. Only such a node, and the nodes that pass
 *  renewals on to it, need a period crossed every twelve hours; the rest, every day. */
export const KIND_DAILY_DISTANCE = 12;
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
/** An unchanged announcement is re-signed this often while a node of an earlier revision, which
 *  forgets it an hour after its last new sequence, is within MAP_RADIUS hops (KIND_HOURLY_DISTANCE
 *  says), so that it never expires there even if one refresh is lost. */
export const REFRESH_MS = 30 * 60_000;
/** Otherwise this often while a node of the tenth to nineteenth revision, which forgets it 25
 *  hours after its last new sequence, is within MAP_RADIUS hops (KIND_DAILY_DISTANCE says): a
 *  node gone is out of every map within seconds (unreachable, its neighbours' announcements no
 *  longer name it; MAP_SCOPE_GRACE_MS), and reliable flooding carries every change, so the
 *  refresh is only a bound on how long a copy that somehow missed one can live. A renewal whose
 *  sequences lie in different periods of this length goes to every neighbour but those that
 *  need only DAILY_REFRESH_MS's; the half-hourly ones between, only towards nodes that need
 *  them. An origin with such a node near makes its sequence cross into the next period at least
 *  this often. */
export const LONG_REFRESH_MS = 12 * 60 * 60_000;
/** Otherwise this often (twentieth revision), and the same of the periods: a renewal whose
 *  sequences lie in different periods of this length goes to every neighbour, and every origin
 *  crosses one at least this often. A hub sent its neighbours a renewal of every node its flood
 *  reaches each time, the largest part of its steady traffic (powerlaw-10000's: 28 of 48 B/s). */
export const DAILY_REFRESH_MS = 24 * 60 * 60_000;
/** Another node's announcement is forgotten this long after the last new sequence of it arrived:
 *  its origin crosses a day's period at most DAILY_REFRESH_MS after the last, and that renewal
 *  goes to everyone, so two such periods and a margin: one lost crossing loses nothing. (25
 *  hours, two of LONG_REFRESH_MS's, before the twentieth revision.) */
export const LIFETIME_MS = 2 * DAILY_REFRESH_MS + 2 * REFRESH_MS;
/** A node within HOURLY_REACH of a node of an earlier revision tells its neighbours so again this
 *  often: a lost change of its hourly (or daily) distance would leave that node without renewals. */
export const HOURLY_DISTANCE_RESEND_MS = 5 * 60_000;
/** A neighbour that has not said its KIND_HOURLY_DISTANCE (KIND_DAILY_DISTANCE) this long after
 *  its link came up is of an earlier revision (the kind goes with the link's first frames); until
 *  then it is sent the half-hourly (twelve-hourly) renewals but does not make this node tell its
 *  own neighbours that one is near. */
export const HOURLY_DISTANCE_GRACE_MS = 5000;

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

/** The map's reach (docs/ROUTING.md "The map and what lies beyond it"): a node floods on the
 *  announcements of nodes fewer than MAP_RADIUS hops away and keeps those of nodes up to
 *  MAP_RADIUS hops away, at most MAP_MAX_NODES of them and MAP_MAX_BYTES of announcements, the
 *  nearest first. Beyond it, routes are found by lookups. A node held but out of reach (farther,
 *  or with no route) is forgotten once it has stayed so for MAP_SCOPE_GRACE_MS: while a mesh
 *  starts, announcements arrive before those of the nodes between. */
export const MAP_RADIUS = 3;
export const MAP_MAX_NODES = 32;
export const MAP_MAX_BYTES = 12 << 10;
export const MAP_SCOPE_GRACE_MS = 5000;
/** A map this full (of MAP_MAX_NODES or MAP_MAX_BYTES) tells its neighbours to send only what
 *  is no farther than the farthest node it holds (KIND_MAP_HORIZON); below it, the radius. The
 *  margin keeps a map that forgets a node or two from asking every neighbour for its database. */
export const MAP_HORIZON_FULLNESS = 0.75;

/** Longest route produced: a label has at most MAX_HOPS - 1 slots, which bounds the forwarding
 *  header. Nodes farther than this (in hops along the cheapest path) get no route. */
export const MAX_HOPS = 64;
/** Cost this node announces for each of its links: routes are shortest in hops until links are
 *  measured. */
export const DEFAULT_LINK_COST = 1;

// Spanning trees (docs/ROUTING.md "Trees", docs/PROTOCOL.md §12).
/** Trees every node takes part in. Routing over the best of four, probed both ways, keeps mean
 *  stretch within 1.05 on every shared graph (bench/tree-stretch.ts); each tree costs every node
 *  its position and its neighbours' in it. */
export const TREE_COUNT = 4;
/** Routing control kinds of the trees (docs/PROTOCOL.md §12): a node's position in one tree (in
 *  parts), "send me your position (or link) again", a node's signed link to the neighbour it
 *  sends it to, and "I hold your position of this version and beacon" (a position is sent again
 *  until then). */
export const KIND_TREE_STATE = 4;
export const KIND_TREE_REQUEST = 5;
export const KIND_TREE_LINK = 6;
export const KIND_TREE_ACK = 7;
/** A root's newer beacon for the place the receiver holds of the sender, without the root key
 *  that place already names (docs/PROTOCOL.md §12, twelfth revision): a node passes one on to
 *  each neighbour below it every ROOT_REFRESH_MS, the steady traffic of a hub. */
export const KIND_TREE_BEACON = 11;

/** Whether a routing control kind is the trees' (the rest are the map's). */
export function isTreeKind(kind: number): boolean {
  return (kind >= KIND_TREE_STATE && kind <= KIND_TREE_ACK) || kind === KIND_TREE_BEACON;
}
/** A node that starts listens before it offers itself as a root: up to this long, in proportion
 *  to its rank in each tree (the best-ranked at once). When every node starts together the
 *  best roots' trees then reach most nodes before the worse ones do, and a node joining a
 *  running mesh takes its place under the existing roots without offering itself first. */
export const ROOT_LISTEN_MS = 3000;
/** A root signs a new beacon this often, and every node passes it on to the neighbours below
 *  it. A root that fails is replaced in seconds (its links go down); the beacons only time out
 *  a root that stays linked and stops signing, so they can be rare: each costs a node about 94
 *  bytes a tree and a child (its BEACON frame and the acknowledgement), the steady traffic of a
 *  hub (docs/ROUTING.md, "Beacons only where they renew a place"). Within the 25 minutes after
 *  which nodes of earlier revisions (PROTOCOL.md §12) give a root up. */
export const ROOT_REFRESH_MS = 20 * 60_000;
/** ... and this often where every node below it in the tree says it waits that long (fourteenth
 *  revision, PROTOCOL.md §12): such nodes give a root up only after ROOT_EXPIRY_MS. The beacons
 *  were the largest part of a hub's steady traffic (powerlaw-10000's: 104 of its 233 B/s). */
export const ROOT_REFRESH_PACED_MS = 40 * 60_000;
/** A root not heard of anew for this long is taken for gone and the tree elects another, by a
 *  node that does not say it waits ROOT_EXPIRY_SLOW_MS (below). */
export const ROOT_EXPIRY_MS = 50 * 60_000;
/** ... and this often where every node below it says it waits that long (nineteenth revision):
 *  such nodes give a root up only after ROOT_EXPIRY_SLOW_MS when they said so. A hub's beacons
 *  to the neighbours below it were still the largest part of its steady traffic (powerlaw-10000's:
 *  53 of its 83 B/s). The cost: a root that hangs with its links up, still linked and no longer
 *  signing, is taken for gone after 130 minutes where all say so; one that fails is replaced in
 *  seconds as before. */
export const ROOT_REFRESH_SLOW_MS = 120 * 60_000;
export const ROOT_EXPIRY_SLOW_MS = 130 * 60_000;
/** Deepest place in a tree: coordinates must fit a label. A node that would be deeper stays out
 *  of that tree (it is in the others, or routed by the rest of the mesh). */
export const MAX_TREE_DEPTH = MAX_HOPS - 1;
/** A position sent and not acknowledged goes again after TREE_RETRY_MS, then twice as long each
 *  time, at most TREE_RETRY_MAX_MS apart; a missing link or part of a position is asked for
 *  again after TREE_RETRY_MS. */
export const TREE_RETRY_MS = 1000;
export const TREE_RETRY_MAX_MS = 30_000;
/** A neighbour's position no shallower than ours (under the same root and beacon) may lead back
 *  through a part of the tree that has just failed and not yet said so; it is taken only once it
 *  has stood unchanged this long (docs/ROUTING.md "Trees": no path hunting). */
export const TREE_STABLE_MS = 3000;
/** A node whose place in a tree got worse this recently (around a failure) acts on that tree's
 *  frames at once, not at its next tick, so that the tree mends at the links' pace; otherwise
 *  the tick gathers what came meanwhile. Acting at once everywhere, powerlaw-10000's cold start
 *  sent 340 KiB a node for 235 and checked twice the signatures (docs/ROUTING.md, "Trees that
 *  mend at the links' pace"). */
export const TREE_PROMPT_MS = 10_000;
