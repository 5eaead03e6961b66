// A node's fc00::/8 IPv6 address, derived from its X25519 public key.
//
//   address = last 16 bytes of BLAKE2s-256(BLAKE2s-256(public key))
//
// A key is a rovy key only if its address starts with 0xfc, so that every node sits in fc00::/8
// and the source address of a packet can be checked against the key of the session it came out
// of. Key generation retries until this holds (1 key in 256 does). The formula is the one of
// rovy's Go prototype (go-rovy), so addresses stay the same across the two.
import { createHash } from 'node:crypto';

export { formatIPv6, parseIPv6, formatIPv4, parseIPv4, isLinkLocal } from './ip-text.js';

/** The first byte of every rovy address: the network is fc00::/8. */
export const ROVY_ADDRESS_PREFIX = 0xfc;

/** The 16-byte IPv6 address derived from a 32-byte public key (whether or not it is a rovy key). */
export function fcAddressBytes(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) {
    throw new Error(`an address derives from a 32-byte public key, got ${publicKey.length} bytes`);
  }
  const inner = createHash('blake2s256').update(publicKey).digest();
  const outer = createHash('blake2s256').update(inner).digest();
  return new Uint8Array(outer.subarray(16, 32));
}

/** True if the key's derived address is in fc00::/8, the condition for a key to be used by rovy. */
export function isRovyKey(publicKey: Uint8Array): boolean {
  return isRovyAddress(fcAddressBytes(publicKey));
}

/** isRovyKey for a key whose address is already at hand (derived once, two hashes). */
export function isRovyAddress(address: Uint8Array): boolean {
  return address[0] === ROVY_ADDRESS_PREFIX;
}

/**
 * The node's IPv4 address inside the mesh, 100.64.0.0/10 (shared address space, RFC 6598), from
 * the low 22 bits of its fc address. A node has one only to send IPv4 through an exit: rovy0
 * carries it then, the exit masquerades it and binds it to the key it came from. 22 bits do
 * collide now and then (two keys in 4 million share one); an exit that holds one binding refuses
 * a second key on the same address while the first is in use (fcnet/ipv4-bindings.ts).
 */
export function meshIPv4Bytes(fcAddress: Uint8Array): Uint8Array {
  return Uint8Array.of(100, 0x40 | (fcAddress[13]! & 0x3f), fcAddress[14]!, fcAddress[15]!);
}

/** Whether the IPv4 address at buf[off, off + 4) is in 100.64.0.0/10. Allocates nothing. */
export function isMeshIPv4(buf: Uint8Array, off: number): boolean {
  return buf[off] === 100 && (buf[off + 1]! & 0xc0) === 0x40;
}

/** Whether the IPv4 address at buf[off, off + 4) is the mesh IPv4 address of the node whose fc
 *  address is `fcAddress`. Allocates nothing. */
export function isMeshIPv4Of(buf: Uint8Array, off: number, fcAddress: Uint8Array): boolean {
  return isMeshIPv4(buf, off) && (buf[off + 1]! & 0x3f) === (fcAddress[13]! & 0x3f) && buf[off + 2] === fcAddress[14] && buf[off + 3] === fcAddress[15];
}
