// Packets for tests, built byte by byte: a fixed IPv6 or IPv4 header and a payload of one byte
// value (a test tells its packets apart by it), UDP unless said otherwise. Nothing checks the
// UDP header: the payload's first bytes stand for it.

/** An IPv6 packet from `src` to `dst` with `payloadLength` bytes of `fill`. */
export function ipv6Packet(src: Uint8Array, dst: Uint8Array, payloadLength: number, fill = 0xab, nextHeader = 17): Uint8Array {
  const p = new Uint8Array(40 + payloadLength);
  p[0] = 0x60;
  p[4] = payloadLength >> 8;
  p[5] = payloadLength & 0xff;
  p[6] = nextHeader;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.fill(fill, 40);
  return p;
}

/** An IPv4 packet from `src` to `dst` with `payloadLength` bytes of `fill` (no options; the
 *  header checksum is left zero: the mesh does not look at it). */
export function ipv4Packet(src: Uint8Array, dst: Uint8Array, payloadLength: number, fill = 0xab, protocol = 17): Uint8Array {
  const p = new Uint8Array(20 + payloadLength);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = protocol;
  p.set(src, 12);
  p.set(dst, 16);
  p.fill(fill, 20);
  return p;
}
