// LAN discovery constants. The group, port and timers are behaviour every node shares (a node
// expires others by NEIGHBOR_LIFETIME_MS, so each must beacon well within it; docs/PROTOCOL.md,
// "LAN discovery"); the limits are this implementation's bounds on what strangers can make it
// store or compute.

/** The multicast group beacons go to: link-local scope (ff02), group ID "rovy" in ASCII. */
export const DISCOVERY_GROUP = 'ff02::726f:7679';
/** A socket of its own, beside the data plane's 7777, so the data path never sees beacons. */
export const DISCOVERY_PORT = 7778;

/** A node beacons on each interface this often, give or take BEACON_JITTER, so that nodes
 *  started together do not stay in step. */
export const BEACON_INTERVAL_MS = 5000;
export const BEACON_JITTER = 0.2;
/** The first beacon goes out at start, the next ones 0.5, 1, 2 and 4 s apart (each doubling), then
 *  one per interval. */
export const STARTUP_INTERVAL_MS = 500;
/** A neighbour is forgotten this long after its last accepted beacon: four intervals, so a node
 *  survives three lost beacons in a row. */
export const NEIGHBOR_LIFETIME_MS = 20_000;
/** A neighbour heard by two ways (a laptop on both the wired and the wireless side of one LAN:
 *  on two of our interfaces, or from two of its addresses on one) stays on the way it was first
 *  heard by while that one still carries its beacons: it moves only after this long without one
 *  there, two of its longest intervals. Without the hold it would switch with every beacon
 *  round, and its endpoint with it. */
export const ENDPOINT_HOLD_MS = 2 * BEACON_INTERVAL_MS * (1 + BEACON_JITTER);
/** A new neighbour is answered with a beacon on its interface at most this often, so a newcomer
 *  learns us at once rather than within an interval, and a burst of newcomers costs one beacon. */
export const ANSWER_INTERVAL_MS = 1000;
/** Of a burst of newcomers, the first is answered after a random delay below this, so that not
 *  every node of a LAN answers in the same instant. */
export const ANSWER_JITTER_MS = 100;

/** Beacons whose timestamp is this far from our clock (either way) are refused: a captured beacon
 *  cannot be replayed later than this, even to a node that never saw its sender. */
export const MAX_CLOCK_SKEW_MS = 10 * 60_000;

/** Neighbours held at once; beacons of further keys are refused until some expire. */
export const MAX_NEIGHBORS = 1024;
/** Endpoints per beacon (the count is one byte; this bounds a beacon at 413 bytes). */
export const MAX_ENDPOINTS = 16;

/** Signature verifications per second (about 135 µs each: under 1% of a core), and the burst
 *  allowed after a quiet spell: a LAN of 100 nodes all answering a newcomer at once. */
export const VERIFY_RATE = 50;
export const VERIFY_BURST = 100;

/** After a neighbour expires, its last timestamp is remembered this long, so its beacons captured
 *  earlier cannot bring it back (later than this, MAX_CLOCK_SKEW_MS already refuses them). */
export const REPLAY_MEMORY_MS = 60 * 60_000;
/** Expired keys remembered at most; the oldest is forgotten first. */
export const REPLAY_MEMORY_KEYS = 4096;
