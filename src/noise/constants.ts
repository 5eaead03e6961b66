// Protocol constants of rovy's sessions. Each says where it comes from: "paper" is the WireGuard
// whitepaper (Donenfeld, "WireGuard: Next Generation Kernel Network Tunnel", NDSS 2017);
// "rovy" marks values that are ours.
// Times are in seconds, as the paper states them; session/constants.ts restates them in ms.
import { TAG_SIZE } from '../util/protocol.js';

// ---- Construction and identifiers (rovy) --------------------------------------------------------

/** The Noise protocol name; hashed to form the initial chaining key (Noise spec §5.2). */
export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
/** rovy's identifier, mixed into the handshake hash where WireGuard mixes its own identifier
 *  (paper §5.4.2). Being different, it makes a rovy handshake fail against a WireGuard peer. */
export const IDENTIFIER = 'rovy.net v1 mesh';
/** Label hashed with a static public key to form the mac1 key (paper §5.4.4). */
export const LABEL_MAC1 = 'mac1----';
/** Label hashed with a static public key to form the cookie-reply key (paper §5.4.7). */
export const LABEL_COOKIE = 'cookie--';

// ---- Limits and timers (paper §6.1, table of constants) ----------------------------------------

/** Paper §6.1: a sender starts a new handshake after this many messages under one key.
 *  A bigint: it is past the range in which a Number counts exactly (see REKEY_AFTER_COUNTER). */
export const REKEY_AFTER_MESSAGES = 2n ** 60n;
/** Paper §6.1: no message is sent or accepted under one key after this many.
 *  The 2^13 margin keeps the replay window's arithmetic clear of the 64-bit limit. */
export const REJECT_AFTER_MESSAGES = 2n ** 64n - 2n ** 13n - 1n;

/** rovy: transport counters are JavaScript Numbers, exact only below 2^53. This is the practical
 *  reject cap: the paper's limit restated under 2^53 with the same 2^13 margin. A counter at or
 *  above it is never sent nor accepted. (At 10^7 packets/s it is reached after 28 years; the
 *  time limits below end every key after 3 minutes, so in practice it never binds.) */
export const REJECT_AFTER_COUNTER = 2 ** 53 - 2 ** 13 - 1;
/** rovy: the practical rekey cap, in the paper's proportion (2^60 of 2^64 is 2^49 of 2^53). */
export const REKEY_AFTER_COUNTER = 2 ** 49;

/** Paper §6.1: an initiator starts a new handshake when its current keys are this old (s). */
export const REKEY_AFTER_TIME = 120;
/** Paper §6.1: keys this old (s) are neither used nor accepted. */
export const REJECT_AFTER_TIME = 180;
/** Paper §6.1: give up retrying a handshake after this long (s). */
export const REKEY_ATTEMPT_TIME = 90;
/** Paper §6.1: retransmit an unanswered initiation after this long (s), plus jitter. */
export const REKEY_TIMEOUT = 5;
/** Paper §6.1: send an empty keepalive when data was received but nothing sent for this long (s). */
export const KEEPALIVE_TIMEOUT = 10;
/** Paper §5.4.7 and §6.1: lifetime (s) of the cookie secret and of a received cookie. */
export const COOKIE_REFRESH_TIME = 120;

// ---- Message types and sizes (paper §5.4) -------------------------------------------------------

/** Paper §5.4.2: handshake initiation. */
export const MESSAGE_INITIATION = 1;
/** Paper §5.4.3: handshake response. */
export const MESSAGE_RESPONSE = 2;
/** Paper §5.4.7: cookie reply. */
export const MESSAGE_COOKIE_REPLY = 3;
/** Paper §5.4.6: transport data. */
export const MESSAGE_TRANSPORT = 4;

/** Paper §5.4.2: 4 header + 4 sender + 32 ephemeral + 48 static + 28 timestamp + 16 mac1 + 16 mac2. */
export const INITIATION_SIZE = 148;
/** Paper §5.4.3: 4 header + 4 sender + 4 receiver + 32 ephemeral + 16 empty + 16 mac1 + 16 mac2. */
export const RESPONSE_SIZE = 92;
/** Paper §5.4.7: 4 header + 4 receiver + 24 nonce + 32 encrypted cookie. */
export const COOKIE_REPLY_SIZE = 64;
/** Paper §5.4.6: 4 header + 4 receiver + 8 counter, before the encrypted packet. */
export const TRANSPORT_HEADER_SIZE = 16;
/** Poly1305 tag appended by every AEAD (RFC 8439): defined with the facts all layers share. */
export { TAG_SIZE };
/** A transport message carrying an empty packet (a keepalive): header and tag. */
export const TRANSPORT_MIN_SIZE = TRANSPORT_HEADER_SIZE + TAG_SIZE;

// ---- Field sizes (paper §5.4, Noise spec §4) ----------------------------------------------------

/** X25519 key and shared-secret length. */
export const KEY_SIZE = 32;
/** BLAKE2s-256 output length (Noise HASHLEN). */
export const HASH_SIZE = 32;
/** Keyed BLAKE2s-128 output: mac1, mac2 and the cookie (paper §5.4.4). */
export const MAC_SIZE = 16;
/** TAI64N timestamp (paper §5.4.2). */
export const TIMESTAMP_SIZE = 12;
/** XChaCha20-Poly1305 nonce of a cookie reply (paper §5.4.7). */
export const COOKIE_NONCE_SIZE = 24;
