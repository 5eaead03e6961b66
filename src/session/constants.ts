// Timing and sizing of sessions. The protocol constants come from the WireGuard paper (§6) via
// noise/constants.ts and are restated here in milliseconds; the rest are our implementation
// choices, each with its reason.
import * as spec from '../noise/constants.js';

/** Counters are Numbers: the spec's 2^60 and 2^64−2^13−1 are capped below 2^53 (see noise/constants.ts). */
export const REKEY_AFTER_MESSAGES = spec.REKEY_AFTER_COUNTER;
export const REJECT_AFTER_MESSAGES = spec.REJECT_AFTER_COUNTER;
export const REKEY_AFTER_TIME_MS = spec.REKEY_AFTER_TIME * 1000;
export const REJECT_AFTER_TIME_MS = spec.REJECT_AFTER_TIME * 1000;
export const REKEY_ATTEMPT_TIME_MS = spec.REKEY_ATTEMPT_TIME * 1000;
export const REKEY_TIMEOUT_MS = spec.REKEY_TIMEOUT * 1000;
export const KEEPALIVE_TIMEOUT_MS = spec.KEEPALIVE_TIMEOUT * 1000;
/** An initiator rekeys on receive when its keypair gets this old, so it never expires mid-flow. */
export const REKEY_ON_RECEIVE_AFTER_MS = REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS;
/** Retransmissions are jittered by up to a third of a second so peers do not synchronise. */
export const REKEY_JITTER_MS = 334;
/** An initiation that carries a cookie goes to a peer we know is under load, whose socket a flood
 *  may fill so that the kernel drops it unread: it is retried after this (plus jitter) instead of
 *  REKEY_TIMEOUT (seen: a restarted neighbour 5 s late when its one cookie-carrying initiation was
 *  lost so). The peer limits such handshakes per source (HANDSHAKES_PER_SOURCE_PER_SECOND), so this
 *  costs it at most one Diffie-Hellman a second per waiting peer. */
export const UNDER_LOAD_RETRY_MS = 1000;
/** At most one initiation per peer per 20 ms is processed (a flood costs one DH per message). */
export const MIN_INITIATION_INTERVAL_MS = 1000 / 50;

/** How often per-peer timers are evaluated while something settles (a node at rest ticks once a
 *  second: node.ts). Timers are timestamps checked by one tick instead of a setTimeout per peer,
 *  because re-arming a timer per packet costs more than a packet. */
export const TIMER_TICK_MS = 100;
/** Persistent keepalive for configured peers unless the config says otherwise: links of a mesh
 *  stay up, and 25 s keeps common NAT mappings alive. */
export const DEFAULT_KEEPALIVE_MS = 25_000;
/** Packets kept per peer while its handshake runs (as wireguard-go's staged queue). */
export const MAX_STAGED_PACKETS = 128;
/** Milliseconds of handshake work per second above which the node is "under load" and answers
 *  handshakes without a valid mac2 with a cookie reply instead of a Diffie-Hellman. A responder
 *  handshake costs about 0.15 ms here, so this is ~600 handshakes/s: more than any honest mesh
 *  needs (a node starting with 100 peers spends 15 ms). */
export const UNDER_LOAD_BUDGET_MS = 100;
/** Past the budget, the sources share this much work per second (15 % of a core): a source that
 *  has spent its share is dropped unread until the next accounting window, so a flood of
 *  cheap-to-make messages (valid mac1 needs only the public key) can take no more than that from
 *  the data path, and cannot take a quiet source's turn (session/handshake-gate.ts). */
export const HANDSHAKE_HARD_CAP_MS = 150;
/** Sources whose handshake work is counted at once. Past the budget a new source beyond these
 *  waits until a quiet one is forgotten, so ever-new (spoofed) addresses cannot each buy a share. */
export const MAX_HANDSHAKE_SOURCES = 1024;
/** Under load, handshakes with a valid mac2 are still limited per source address. */
export const HANDSHAKES_PER_SOURCE_PER_SECOND = 20;
export const HANDSHAKE_BURST_PER_SOURCE = 5;
