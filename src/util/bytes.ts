// Byte-array comparison for control paths (keys, addresses, endpoint areas); the packet path
// compares in place (fcnet/ipv6.ts equal16).

/** Whether `a` and `b` hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
