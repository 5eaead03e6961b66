// What the router received, sent and refused. Every announcement dropped by receive() increments
// exactly one of malformed, notKept, unplaced, badSignature, stale, tooFrequent or
// databaseFull, so a missing route is always explainable.
import { CounterSet } from '../util/counters.js';

export class RoutingCounters extends CounterSet {
  /** Frames or announcements that do not parse; the rest of their frame is dropped too. */
  malformed = 0;
  /** Announcements whose signature does not verify under their origin's key. */
  badSignature = 0;
  /** Announcements not newer than the one held for their origin (duplicates of a flood, mostly):
   *  dropped without verifying and without flooding. */
  stale = 0;
  /** New sequences of an origin that came within ORIGIN_MIN_INTERVAL_MS of its last: dropped
   *  unacknowledged (its neighbour resends it). */
  tooFrequent = 0;
  /** Announcements that would take the database past MAX_ORIGINS or MAX_DATABASE_BYTES. */
  databaseFull = 0;
  /** Announcements of nodes the map would not keep (no nearer than all it holds, when full):
   *  acknowledged, not checked, not stored. */
  notKept = 0;
  /** Announcements of nodes the map cannot place yet (it has room, and they name no node it
   *  knows, or only ones that put them past the radius): dropped unacknowledged, so the
   *  neighbour sends them again, when the nodes between are known. */
  unplaced = 0;
  /** Nodes forgotten because they lie beyond the map's scope (its radius, node or byte bounds):
   *  lookups reach them. */
  outOfScope = 0;
  /** Database requests answered with the whole database. */
  databaseRequestsAnswered = 0;
  /** Database requests answered later: an answer went to that neighbour within
   *  DATABASE_RESEND_MS, so the next goes when that time is up (once, however many came). */
  databaseRequestsDeferred = 0;
  /** Database requests not answered: the database greeted that neighbour's new link within
   *  DATABASE_RESEND_MS, or the sender is not (yet) a neighbour. */
  databaseRequestsIgnored = 0;
  /** Announcements acknowledged to the neighbours that sent them (each entry counted). */
  acknowledgementsSent = 0;
  /** Renewals whose base (the announcement they sign again) was not held: dropped
   *  unacknowledged, so the neighbour sends the announcement whole. */
  renewalsLacked = 0;
  /** Announcements sent again because their neighbour had not acknowledged them in time. */
  announcementsRetransmitted = 0;
  /** Announcements no longer resent to a neighbour that did not acknowledge them in 9 tries. */
  retransmissionsAbandoned = 0;
  framesSent = 0;
  framesReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;
  /** Announcements (parts) this node signed. */
  announcementsOriginated = 0;
  /** Times this node told its neighbours a new map horizon. */
  horizonsTold = 0;
  /** Shortest-path computations run (one per tick at most, only when something changed). */
  spfRuns = 0;
  /** Times the map's ids were numbered anew, its id range grown past twice the ids in use
   *  (Lsdb.compactIds). */
  idsRenumbered = 0;
}
