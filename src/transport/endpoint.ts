// Endpoints: where a datagram comes from or goes to, as the layers above the transports see it.
// In the data path an endpoint is a 32-byte area at the start of each batch slot, so it travels
// with its datagram and costs no allocation; this module converts it to and from an object.
//
// The area names the transport too, so one session can move between them (roaming): a peer's
// endpoint is whatever its last authentic packet came from, over UDP, a TCP or TLS connection, or
// the in-process hub. For a stream transport the address and port are the connection's far end.

import { isIPv4, isIPv6 } from 'node:net';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../keys/ip-text.js';
import { ENDPOINT_BYTES } from './batch.js';

/** The transports an endpoint can name, by their code in byte 1 of the endpoint area. */
export type TransportKind = 'udp' | 'tcp' | 'tls' | 'memory';
export const KIND_UDP = 0;
export const KIND_TCP = 1;
export const KIND_TLS = 2;
export const KIND_MEMORY = 3;
const KINDS: readonly TransportKind[] = ['udp', 'tcp', 'tls', 'memory'];

/** `scopeId` is the interface index of a link-local IPv6 address (0 or absent: none); `transport`
 *  absent means UDP. */
export interface Endpoint {
  family: 4 | 6;
  address: string;
  port: number;
  scopeId?: number;
  transport?: TransportKind;
}

/** The code of a transport kind (byte 1 of an endpoint area). */
export function kindCode(kind: TransportKind): number {
  return KINDS.indexOf(kind);
}

/**
 * Writes `ep` as an endpoint area at out[offset, offset+32):
 *   [0] family 4|6, [1] transport (0 UDP, 1 TCP, 2 TLS, 3 memory), [2..4) port big-endian,
 *   [4..20) address (IPv4 in [4..8)), [20..24) IPv6 scope id little-endian, the rest zero.
 */
export function encodeEndpoint(ep: Endpoint, out: Uint8Array = new Uint8Array(ENDPOINT_BYTES), offset = 0): Uint8Array {
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 65535) throw new RangeError(`invalid port ${ep.port}`);
  const scope = ep.scopeId ?? 0;
  if (!Number.isInteger(scope) || scope < 0 || scope > 0xffffffff) throw new RangeError(`invalid IPv6 scope id ${scope}`);
  const kind = kindCode(ep.transport ?? 'udp');
  if (kind < 0) throw new RangeError(`unknown transport ${JSON.stringify(ep.transport)}`);
  let addr: Uint8Array;
  if (ep.family === 4 && isIPv4(ep.address)) addr = parseIPv4(ep.address);
  else if (ep.family === 6 && isIPv6(ep.address) && !ep.address.includes('%')) addr = parseIPv6(ep.address);
  else throw new TypeError(`${JSON.stringify(ep.address)} is not an IPv${ep.family} address`);
  if (scope !== 0 && ep.family === 4) throw new RangeError('an IPv4 endpoint has no scope id');
  out.fill(0, offset, offset + ENDPOINT_BYTES);
  out[offset] = ep.family;
  out[offset + 1] = kind;
  out[offset + 2] = ep.port >>> 8;
  out[offset + 3] = ep.port & 0xff;
  out.set(addr, offset + 4);
  for (let i = 0; i < 4; i++) out[offset + 20 + i] = (scope >>> (8 * i)) & 0xff;
  return out;
}

/** Reads the endpoint area at bytes[offset, offset+32). */
export function decodeEndpoint(bytes: Uint8Array, offset = 0): Endpoint {
  const family = bytes[offset];
  const kind = KINDS[bytes[offset + 1]!];
  if (bytes.length - offset < ENDPOINT_BYTES || (family !== 4 && family !== 6) || kind === undefined) {
    throw new RangeError('not an endpoint area (family byte must be 4 or 6, transport byte 0 to 3)');
  }
  const port = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  const transport = kind === 'udp' ? {} : { transport: kind };
  if (family === 4) return { family, address: formatIPv4(bytes.subarray(offset + 4, offset + 8)), port, ...transport };
  const address = formatIPv6(bytes.subarray(offset + 4, offset + 20));
  const b = offset + 20;
  const scopeId = (bytes[b]! | (bytes[b + 1]! << 8) | (bytes[b + 2]! << 16) | (bytes[b + 3]! << 24)) >>> 0;
  return scopeId === 0 ? { family, address, port, ...transport } : { family, address, port, scopeId, ...transport };
}

/**
 * `host:port` or `[host]:port` text for logs, with the transport after it unless it is UDP
 * ("[2001:db8::1]:443 tls"). A scoped IPv6 address carries its zone as the interface index, or as
 * `interfaceName` when the caller knows it ("[fe80::1%eth0]:7777").
 */
export function formatEndpoint(ep: Endpoint, interfaceName?: string): string {
  const kind = ep.transport && ep.transport !== 'udp' ? ` ${ep.transport}` : '';
  if (ep.family === 4) return `${ep.address}:${ep.port}${kind}`;
  return `[${ep.address}${ep.scopeId ? `%${interfaceName ?? ep.scopeId}` : ''}]:${ep.port}${kind}`;
}
