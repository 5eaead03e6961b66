// UDP transport sockets over the native addon: recvmmsg/sendmmsg batches instead of one
// node:dgram syscall per datagram, which was the largest per-packet cost measured. Endpoints
// travel inside each batch slot as a 32-byte area; this module converts it to and from text.
// Where the kernel has UDP GRO, a socket takes datagrams coalesced (a sender's run of them as
// one message, never cut into skbs of their own) and the addon hands them out one per slot.
import { isIPv4, isIPv6 } from 'node:net';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../keys/ip-text.js';
import { native, UDP_GRO_SCRATCH_BYTES, UDP_GRO_STATE_LENGTH, type PollHandle } from '../native/addon.js';
import { DATAGRAM_OFFSET, ENDPOINT_BYTES, type PacketBatch } from './batch.js';

/** A UDP endpoint. `scopeId` is the interface index of a link-local IPv6 address (0 or absent: none). */
export interface Endpoint {
  family: 4 | 6;
  address: string;
  port: number;
  scopeId?: number;
}

/** Socket buffer size asked for by default: room for bursts of a few thousand datagrams. */
export const DEFAULT_BUFFER_BYTES = 4 << 20;

/**
 * Writes `ep` as an endpoint area at out[offset, offset+32):
 *   [0] family 4|6, [1] 0, [2..4) port big-endian, [4..20) address (IPv4 in [4..8)),
 *   [20..24) IPv6 scope id little-endian, the rest zero.
 */
export function encodeEndpoint(ep: Endpoint, out: Uint8Array = new Uint8Array(ENDPOINT_BYTES), offset = 0): Uint8Array {
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 65535) throw new RangeError(`invalid UDP port ${ep.port}`);
  const scope = ep.scopeId ?? 0;
  if (!Number.isInteger(scope) || scope < 0 || scope > 0xffffffff) throw new RangeError(`invalid IPv6 scope id ${scope}`);
  let addr: Uint8Array;
  if (ep.family === 4 && isIPv4(ep.address)) addr = parseIPv4(ep.address);
  else if (ep.family === 6 && isIPv6(ep.address) && !ep.address.includes('%')) addr = parseIPv6(ep.address);
  else throw new TypeError(`${JSON.stringify(ep.address)} is not an IPv${ep.family} address`);
  if (scope !== 0 && ep.family === 4) throw new RangeError('an IPv4 endpoint has no scope id');
  out.fill(0, offset, offset + ENDPOINT_BYTES);
  out[offset] = ep.family;
  out[offset + 2] = ep.port >>> 8;
  out[offset + 3] = ep.port & 0xff;
  out.set(addr, offset + 4);
  for (let i = 0; i < 4; i++) out[offset + 20 + i] = (scope >>> (8 * i)) & 0xff;
  return out;
}

/** Reads the endpoint area at bytes[offset, offset+32). */
export function decodeEndpoint(bytes: Uint8Array, offset = 0): Endpoint {
  const family = bytes[offset];
  if (bytes.length - offset < ENDPOINT_BYTES || (family !== 4 && family !== 6)) {
    throw new RangeError('not an endpoint area (family byte must be 4 or 6)');
  }
  const port = (bytes[offset + 2] << 8) | bytes[offset + 3];
  if (family === 4) return { family, address: formatIPv4(bytes.subarray(offset + 4, offset + 8)), port };
  const address = formatIPv6(bytes.subarray(offset + 4, offset + 20));
  const b = offset + 20;
  const scopeId = (bytes[b] | (bytes[b + 1] << 8) | (bytes[b + 2] << 16) | (bytes[b + 3] << 24)) >>> 0;
  return scopeId === 0 ? { family, address, port } : { family, address, port, scopeId };
}

/**
 * `host:port` or `[host]:port` text for logs. A scoped IPv6 address carries its zone as the
 * interface index, or as `interfaceName` when the caller knows it ("[fe80::1%eth0]:7777").
 */
export function formatEndpoint(ep: Endpoint, interfaceName?: string): string {
  if (ep.family === 4) return `${ep.address}:${ep.port}`;
  return `[${ep.address}${ep.scopeId ? `%${interfaceName ?? ep.scopeId}` : ''}]:${ep.port}`;
}

export class UdpSocket {
  private poll: PollHandle | null = null;
  private _fd: number;
  /** Endpoint area for sendTo(Endpoint): reused, so control sends allocate nothing here. */
  private readonly scratch = new Uint8Array(ENDPOINT_BYTES);
  /** Coalesced datagrams being handed out, and where that stands (native/udp.c); null without GRO. */
  private readonly groScratch: Uint8Array | null;
  private readonly groState: Uint32Array | null;

  private constructor(
    fd: number,
    readonly family: 4 | 6,
    /** The bound port (the kernel's choice when 0 was asked for). */
    readonly port: number,
    /** Whether the kernel hands this socket coalesced datagrams (UDP GRO). */
    readonly gro: boolean,
  ) {
    this._fd = fd;
    this.groScratch = gro ? new Uint8Array(UDP_GRO_SCRATCH_BYTES) : null;
    this.groState = gro ? new Uint32Array(UDP_GRO_STATE_LENGTH) : null;
  }

  /** A non-blocking socket bound to address:port (port 0: any). IPv6 sockets are v6-only. */
  static open(family: 4 | 6, address: string, port = 0, bufBytes = DEFAULT_BUFFER_BYTES): UdpSocket {
    const addr = family === 4 ? parseIPv4(address) : parseIPv6(address);
    const opened = native.udpOpen(family, addr, port, bufBytes);
    return new UdpSocket(opened.fd, family, opened.port, opened.gro);
  }

  /**
   * Sends the first `count` slots, each to the endpoint in its slot, on `v4` or `v6` by the
   * endpoint's family (no socket for that family: dropped). Empty slots are skipped.
   * Returns how many were sent; datagrams that meet a full socket buffer are dropped.
   */
  static sendBatch(v4: UdpSocket | null, v6: UdpSocket | null, batch: PacketBatch, count: number, offset = DATAGRAM_OFFSET): number {
    const fd4 = v4 === null ? -1 : v4.liveFd();
    const fd6 = v6 === null ? -1 : v6.liveFd();
    return native.udpSendBatch(fd4, fd6, batch.data, batch.slotSize, offset, batch.lens, count);
  }

  /** The file descriptor; -1 once closed. */
  get fd(): number {
    return this._fd;
  }

  /** Receives up to `max` waiting datagrams into the batch (sender in each slot's endpoint area). */
  readBatch(batch: PacketBatch, offset = DATAGRAM_OFFSET, max = batch.capacity): number {
    return native.udpRecvBatch(this.liveFd(), batch.data, batch.slotSize, offset, batch.lens, max, this.groScratch, this.groState);
  }

  /**
   * Datagrams already received that did not fit the last batch: readiness will not say so, the
   * reader must come back for them. Only while someone reads (onReadable).
   */
  get pending(): boolean {
    return this.poll !== null && this.groState !== null && this.groState[1]! < this.groState[0]!;
  }

  /** One datagram; false if the socket buffer is full (it was dropped). */
  sendTo(buf: Uint8Array, off: number, len: number, to: Endpoint | Uint8Array): boolean {
    const endpoint = to instanceof Uint8Array ? to : encodeEndpoint(to, this.scratch);
    if (endpoint[0] !== this.family) throw new TypeError(`an IPv${endpoint[0]} endpoint on an IPv${this.family} socket`);
    return native.udpSendTo(this.liveFd(), buf, off, len, endpoint);
  }

  /** Calls `cb` whenever datagrams are waiting; it should drain them with readBatch. Replaces any earlier callback. */
  onReadable(cb: (error?: Error) => void): void {
    this.stop();
    this.poll = native.poll(this.liveFd(), cb);
  }

  /** Stops the readiness callback. */
  stop(): void {
    if (this.poll !== null) native.pollStop(this.poll);
    this.poll = null;
  }

  /** Stops polling and closes the socket. Idempotent. */
  close(): void {
    this.stop();
    if (this._fd >= 0) native.closeFd(this._fd);
    this._fd = -1;
    this.groState?.fill(0); // what was held is gone with the socket
  }

  private liveFd(): number {
    if (this._fd < 0) throw new Error(`UDP socket (IPv${this.family}, port ${this.port}) is closed`);
    return this._fd;
  }
}
