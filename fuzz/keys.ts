// Fixed keys for the fuzz targets, so that fuzz/seeds.ts can make inputs they accept (a valid
// initiation to the handshake target, a signed announcement the router stores).
import { publicKeyOf } from '../src/keys/x25519.js';
import type { KeyPair } from '../src/keys/x25519.js';

function fixed(fill: number): KeyPair {
  const privateKey = new Uint8Array(32).fill(fill);
  privateKey[0]! &= 248; // a clamped X25519 scalar, as generated keys are
  privateKey[31] = (privateKey[31]! & 127) | 64;
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/** The node under test. */
export const LOCAL = fixed(0x11);
/** Its one configured peer (the handshake target) or neighbour (the routing target). */
export const PEER = fixed(0x22);
/** A third node, origin of announcements the routing target hears about. */
export const OTHER = fixed(0x33);
