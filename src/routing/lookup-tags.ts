// Tags that tie a lookup's request, answer and probe return to the two nodes that exchange them
// (docs/PROTOCOL.md §12, "Tags"). A locator is signed once and passed around by everyone, so it
// proves where a node is, not who is speaking: without more, a node on a request's way that holds
// the target's locator could answer in its name, and the route the asker takes from that answer
// would lead to the impostor. Each request, answer and return therefore ends with a tag only its
// two ends can make:
//
//   pair key  HMAC-BLAKE2s(X25519(own private key, peer's public key), "rovy.net v1 lookup tag")
//   tag       HMAC-BLAKE2s(pair key, role ‖ request id ‖ body), its first 16 bytes
//
// role 1 request (body: kind, origin address, payload before the tag), 2 answer (body: the
// answer's payload before the tag), 3 probe return (no body). Both ends compute the same pair key
// from their static keys, as the static-static DH of the Noise handshake does, so a tag is checked
// with one X25519 and no signature: a lookup makes and checks a tag per request and per answer,
// where an XEdDSA signature and its check would cost some seven times as much (docs/ROUTING.md).
import { createHmac } from 'node:crypto';
import { dh } from '../keys/x25519.js';
import { bytesKey } from '../util/bytes.js';

export const TAG_SIZE = 16;
export const ROLE_REQUEST = 1;
export const ROLE_ANSWER = 2;
export const ROLE_RETURN = 3;

const KEY_SIZE = 32;
const CONTEXT = new TextEncoder().encode('rovy.net v1 lookup tag');
/** Pair keys kept at most, and for how long after their last use: a lookup asks its target in
 *  every tree, and the target answers each request and returns each probe, all within a second
 *  or two, so each end computes the key once for them all; a node at rest keeps none. */
const PAIR_KEYS_KEPT = 16;
export const PAIR_KEY_KEEP_MS = 10_000;

interface KeptKey {
  key: Uint8Array;
  usedAt: number;
}

/**
 * The simulator's memo of pair keys across all its nodes: both ends of a pair derive the same
 * key, and a node of 10,000 derives one for each node it asks or answers (the X25519 and the
 * import of the peer's key were 11 % of powerlaw-10000's cold start), so each pair's is derived
 * once. A node still keeps and wipes its own copies as it would alone.
 */
export class SharedPairKeys {
  private readonly keys = new Map<string, Uint8Array>();

  constructor(private readonly limit = 1 << 20) {}

  /** The key of the pair of nodes `a` and `b` (either order), if derived before. */
  get(a: Uint8Array, b: Uint8Array): Uint8Array | undefined {
    return this.keys.get(pairId(a, b));
  }

  set(a: Uint8Array, b: Uint8Array, key: Uint8Array): void {
    if (this.keys.size >= this.limit) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(pairId(a, b), new Uint8Array(key));
  }

  /** Forgets every key (a bench weighing the nodes' own memory clears the memo first). */
  clear(): void {
    this.keys.clear();
  }
}

function pairId(a: Uint8Array, b: Uint8Array): string {
  const x = bytesKey(a);
  const y = bytesKey(b);
  return x < y ? x + y : y + x;
}

/** The pair keys of one node with the nodes it exchanges lookups with, the last few kept. */
export class PairKeys {
  /** By the peer's key, least recently used first. */
  private readonly kept = new Map<string, KeptKey>();

  /** `shared`: the simulator's memo (SharedPairKeys), and this node's public key to find its
   *  pairs there by. */
  constructor(
    private readonly privateKey: Uint8Array,
    private readonly shared?: { memo: SharedPairKeys; publicKey: Uint8Array },
  ) {}

  /** The key shared with the node of `peerKey`; null for a low-order key (no secret to share). */
  with(peerKey: Uint8Array, now = 0): Uint8Array | null {
    if (peerKey.length !== KEY_SIZE) return null;
    const id = bytesKey(peerKey);
    const kept = this.kept.get(id);
    if (kept) {
      this.kept.delete(id);
      kept.usedAt = now;
      this.kept.set(id, kept);
      return kept.key;
    }
    const memo = this.shared?.memo.get(this.shared.publicKey, peerKey);
    const key = memo ? new Uint8Array(memo) : derive(this.privateKey, peerKey);
    if (!key) return null;
    if (!memo) this.shared?.memo.set(this.shared.publicKey, peerKey, key);
    if (this.kept.size >= PAIR_KEYS_KEPT) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(id, { key, usedAt: now });
    return key;
  }

  /** Forgets the keys not used since PAIR_KEY_KEEP_MS before `now`. */
  expire(now: number): void {
    for (const [id, kept] of this.kept) {
      if (now - kept.usedAt < PAIR_KEY_KEEP_MS) break;
      kept.key.fill(0);
      this.kept.delete(id);
    }
  }

  get size(): number {
    return this.kept.size;
  }

  /** When expire() next forgets a key (Infinity: none kept). */
  nextExpiry(): number {
    for (const kept of this.kept.values()) return kept.usedAt + PAIR_KEY_KEEP_MS;
    return Infinity;
  }

  /** Bytes held: a key, its id and its time per pair. */
  stateBytes(): number {
    return this.kept.size * (KEY_SIZE + 2 * KEY_SIZE + 8);
  }
}

/** HMAC-BLAKE2s(X25519(privateKey, peerKey), CONTEXT); null for a low-order peer key. */
function derive(privateKey: Uint8Array, peerKey: Uint8Array): Uint8Array | null {
  const secret = dh(privateKey, peerKey);
  if (!secret) return null;
  const key = new Uint8Array(createHmac('blake2s256', secret).update(CONTEXT).digest());
  secret.fill(0);
  return key;
}

/** The tag of `role` for request `id` over `body` (each part in order), under `pairKey`. */
export function lookupTag(pairKey: Uint8Array, role: number, id: Uint8Array, ...body: Uint8Array[]): Uint8Array {
  const mac = createHmac('blake2s256', pairKey).update(Uint8Array.of(role)).update(id);
  for (const part of body) mac.update(part);
  return new Uint8Array(mac.digest().subarray(0, TAG_SIZE));
}

/** Whether `tag` (TAG_SIZE bytes at tag[off]) is the tag of `role` for `id` over `body`. */
export function tagMatches(pairKey: Uint8Array, tag: Uint8Array, off: number, role: number, id: Uint8Array, ...body: Uint8Array[]): boolean {
  if (tag.length < off + TAG_SIZE) return false;
  const expected = lookupTag(pairKey, role, id, ...body);
  // Not secret-dependent timing that matters (a wrong tag only drops the frame), but no reason to
  // tell a forger how many bytes it got right.
  let diff = 0;
  for (let i = 0; i < TAG_SIZE; i++) diff |= expected[i]! ^ tag[off + i]!;
  return diff === 0;
}
