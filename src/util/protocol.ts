// Protocol facts that several layers share, each defined once (as wireguard-go's
// device/constants.go does). Tuning constants (batch sizes, rates, our own timers) stay beside
// the code they tune; the session protocol's own constants are in noise/constants.ts.

/** IPv6's minimum link MTU (RFC 8200 §5): every link carries it, so a TUN MTU is never below it,
 *  and whatever must get through any path (ICMPv6 errors, DNS replies, control frames) fits it. */
export const IPV6_MIN_MTU = 1280;

/** The Poly1305 tag every ChaCha20-Poly1305 seal appends (RFC 8439). */
export const TAG_SIZE = 16;

/** Transport plaintext is zero-padded to a multiple of this (WireGuard paper §5.4.6). */
export const PADDING_MULTIPLE = 16;

/**
 * The length `len` bytes of transport plaintext are padded to: the next multiple of 16, but not
 * past `limit` (the MTU) unless the plaintext itself is longer.
 */
export function paddedLength(len: number, limit: number): number {
  return Math.min((len + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1), Math.max(len, limit));
}
