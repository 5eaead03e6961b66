// The MACs that guard handshake messages (paper §5.4.4, §5.4.7). mac1 proves the sender knows the
// receiver's static public key, so a node answers nothing without it; mac2 proves the sender can
// receive at its source address, and is demanded (by answering with a cookie reply) only under load.
// MacGenerator is the sending side, one per remote peer; MacChecker the receiving side, one per
// local identity. Every timestamp comes from an injectable now() in milliseconds.
import { randomBytes } from 'node:crypto';
import {
  COOKIE_NONCE_SIZE,
  COOKIE_REFRESH_TIME,
  COOKIE_REPLY_SIZE,
  LABEL_COOKIE,
  LABEL_MAC1,
  MAC_SIZE,
  MESSAGE_RESPONSE,
} from './constants.js';
import { RandomPool } from '../util/random-pool.js';
import { INITIATION, RESPONSE, decodeCookieReply, encodeCookieReply, readU32LE } from './messages.js';
import { equalConstantTime, hash, mac, wipe, xaeadOpen, xaeadSeal } from './primitives.js';

const COOKIE_REFRESH_MS = COOKIE_REFRESH_TIME * 1000;
const MACS_SIZE = 2 * MAC_SIZE;
const encoder = new TextEncoder();

export interface MacOptions {
  /** Clock in milliseconds (any origin: only differences are used); Date.now unless given. */
  now?: () => number;
}

/** HASH(LABEL_MAC1 || publicKey): the key of every mac1 sent to the owner of `publicKey`. */
export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return hash(encoder.encode(LABEL_MAC1), publicKey);
}

/** HASH(LABEL_COOKIE || publicKey): the key of cookie replies sent by the owner of `publicKey`. */
export function cookieKey(publicKey: Uint8Array): Uint8Array {
  return hash(encoder.encode(LABEL_COOKIE), publicKey);
}

/** mac1 of a handshake message: MAC over every byte before the mac1 field (the last 32 bytes
 *  of a message are mac1 then mac2). */
function computeMac1(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return mac(key, msg.subarray(0, msg.length - MACS_SIZE));
}

/** mac2: MAC keyed by the cookie over every byte before the mac2 field (mac1 included). */
function computeMac2(cookie: Uint8Array, msg: Uint8Array): Uint8Array {
  return mac(cookie, msg.subarray(0, msg.length - MAC_SIZE));
}

/** Adds the MACs to handshake messages for one remote peer and takes its cookie replies. */
export class MacGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private cookie: Uint8Array | null = null;
  private cookieReceivedAt = 0;
  // The mac1 of the last initiation and of the last response sent, each with the sender index a
  // cookie reply to it names. One slot for both (the mac1 of whichever went last)
  // loses a cookie: when a peer under load is sent our initiation and then, before its cookie reply
  // is back, our response to its own initiation, the reply to the initiation no longer decrypts,
  // and the session waits out REKEY_TIMEOUT (seen: a restarted neighbour 5 s late under a flood).
  private readonly sent = new Map<number, { senderIndex: number; mac1: Uint8Array }>();

  private readonly now: () => number;

  /** `remoteStatic`: the static public key of the peer the messages go to. */
  constructor(remoteStatic: Uint8Array, options: MacOptions = {}) {
    this.now = options.now ?? Date.now;
    this.mac1Key = mac1Key(remoteStatic);
    this.cookieKey = cookieKey(remoteStatic);
  }

  /** Writes mac1 and mac2 into the last 32 bytes of a handshake message (initiation or
   *  response), in place. mac2 is zeros unless a cookie arrived less than COOKIE_REFRESH_TIME
   *  ago. Remembers mac1 to authenticate the cookie reply this message may draw. Says whether
   *  mac2 was written. */
  addMacs(msg: Uint8Array): boolean {
    if (msg.length <= MACS_SIZE) throw new RangeError('not a handshake message');
    const mac1At = msg.length - MACS_SIZE;
    const mac2At = msg.length - MAC_SIZE;
    const mac1 = computeMac1(this.mac1Key, msg);
    msg.set(mac1, mac1At);
    const type = msg[0]!;
    const senderIndex = readU32LE(msg, type === MESSAGE_RESPONSE ? RESPONSE.senderIndex : INITIATION.senderIndex);
    this.sent.set(type, { senderIndex, mac1 });
    if (this.cookie !== null && this.now() - this.cookieReceivedAt < COOKIE_REFRESH_MS) {
      msg.set(computeMac2(this.cookie, msg), mac2At);
      return true;
    }
    msg.fill(0, mac2At, msg.length);
    return false;
  }

  /** Takes a cookie reply (64 bytes) from the peer: true and the cookie is stored when it
   *  decrypts under the mac1 of the last initiation or the last response sent, whichever the
   *  reply's receiver index names; false otherwise. A reply is good once: that mac1 is forgotten,
   *  so a replayed reply cannot refresh an old cookie. The caller has already matched the reply's
   *  receiver index to this peer. */
  consumeCookieReply(reply: Uint8Array): boolean {
    const decoded = decodeCookieReply(reply);
    if (decoded === null) return false;
    for (const [type, { senderIndex, mac1 }] of this.sent) {
      if (senderIndex !== decoded.receiverIndex) continue;
      const cookie = xaeadOpen(this.cookieKey, decoded.nonce, decoded.encryptedCookie, mac1);
      if (cookie === null) return false;
      wipe(this.cookie);
      this.cookie = cookie;
      this.cookieReceivedAt = this.now();
      this.sent.delete(type);
      return true;
    }
    return false;
  }

  /** True while a received cookie is fresh enough to be used for mac2. */
  get hasCookie(): boolean {
    return this.cookie !== null && this.now() - this.cookieReceivedAt < COOKIE_REFRESH_MS;
  }
}

/** Checks the MACs of handshake messages sent to one local identity and writes cookie replies. */
export class MacChecker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private secret: Uint8Array | null = null;
  private secretCreatedAt = 0;
  /** Cookie-reply nonces: under a flood, one call to the system generator per reply cost more
   *  than the rest of the reply. */
  private readonly nonces = new RandomPool();

  private readonly now: () => number;

  /** `localStatic`: this node's static public key (the key senders aim their mac1 at). */
  constructor(localStatic: Uint8Array, options: MacOptions = {}) {
    this.now = options.now ?? Date.now;
    this.mac1Key = mac1Key(localStatic);
    this.cookieKey = cookieKey(localStatic);
  }

  /** True when the message's mac1 is right. Cheap (one keyed BLAKE2s): run it before anything
   *  else, and drop the message silently when false. */
  checkMac1(msg: Uint8Array): boolean {
    if (msg.length <= MACS_SIZE) return false;
    const expected = computeMac1(this.mac1Key, msg);
    return equalConstantTime(expected, msg.subarray(msg.length - MACS_SIZE, msg.length - MAC_SIZE));
  }

  /** True when the message's mac2 is right for `source` (bytes naming the sender's address and
   *  port; the session layer passes its endpoint area's first 20): it carries a cookie this checker issued to that source under the current
   *  secret. False once the secret is COOKIE_REFRESH_TIME old: cookies die with their secret. */
  checkMac2(msg: Uint8Array, source: Uint8Array): boolean {
    if (msg.length <= MACS_SIZE) return false;
    if (this.secret === null || this.now() - this.secretCreatedAt >= COOKIE_REFRESH_MS) return false;
    const cookie = mac(this.secret, source);
    const expected = computeMac2(cookie, msg);
    wipe(cookie);
    return equalConstantTime(expected, msg.subarray(msg.length - MAC_SIZE));
  }

  /** A cookie reply (64 bytes) to a handshake message from `source`, addressed to
   *  `receiverIndex` (the message's sender index). The cookie, MAC(secret, source), is encrypted
   *  with XChaCha20-Poly1305 under a random 24-byte nonce, authenticated with the message's mac1.
   *  The secret is replaced by a new random one when it is COOKIE_REFRESH_TIME old. Only for
   *  messages whose mac1 passed checkMac1. */
  createCookieReply(msg: Uint8Array, source: Uint8Array, receiverIndex: number): Uint8Array {
    if (msg.length <= MACS_SIZE) throw new RangeError('not a handshake message');
    const now = this.now();
    if (this.secret === null || now - this.secretCreatedAt >= COOKIE_REFRESH_MS) {
      wipe(this.secret);
      this.secret = new Uint8Array(randomBytes(32));
      this.secretCreatedAt = now;
    }
    const cookie = mac(this.secret, source);
    const nonce = this.nonces.take(COOKIE_NONCE_SIZE);
    const mac1 = msg.subarray(msg.length - MACS_SIZE, msg.length - MAC_SIZE);
    const encryptedCookie = xaeadSeal(this.cookieKey, nonce, cookie, mac1);
    wipe(cookie);
    return encodeCookieReply({ receiverIndex, nonce, encryptedCookie }, new Uint8Array(COOKIE_REPLY_SIZE));
  }
}
