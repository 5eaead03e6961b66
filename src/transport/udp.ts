// UDP transport sockets over the native addon: recvmmsg/sendmmsg batches instead of one
// node:dgram syscall per datagram, which was the largest per-packet cost measured. Endpoints
// travel inside each batch slot as a 32-byte area (endpoint.ts).
// Where the kernel has UDP GRO, a socket takes datagrams coalesced (a sender's run of them as
// one message, never cut into skbs of their own) and the addon hands them out one per slot.
import { parseIPv4, parseIPv6 } from '../keys/ip-text.js';
import { native, UDP_GRO_SCRATCH_BYTES, UDP_GRO_STATE_LENGTH, type PollHandle } from '../native/addon.js';
import { DATAGRAM_OFFSET, ENDPOINT_BYTES, type PacketBatch } from './batch.js';
import { KIND_UDP, encodeEndpoint, type Endpoint } from './endpoint.js';
import type { DatagramSource, Transport } from './transport.js';

/** Socket buffer size asked for by default: room for bursts of a few thousand datagrams. */
export const DEFAULT_BUFFER_BYTES = 4 << 20;


export class UdpSocket implements DatagramSource {
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
   * endpoint's family (no socket for that family: dropped). Empty slots, and slots whose endpoint
   * names another transport, are skipped.
   * Returns how many were sent; datagrams that meet a full socket buffer are dropped.
   */
  static sendBatch(v4: UdpSocket | null, v6: UdpSocket | null, batch: PacketBatch, count: number, offset = DATAGRAM_OFFSET): number {
    const fd4 = v4 === null ? -1 : v4.liveFd();
    const fd6 = v6 === null ? -1 : v6.liveFd();
    return native.udpSendBatch(fd4, fd6, batch.data, batch.slotSize, offset, batch.lens, count);
  }

  /** Marks the socket's packets for policy routing (SO_MARK), so that they keep the underlay's
   *  own path while the host's traffic goes through an exit. Needs CAP_NET_ADMIN. */
  mark(value: number): void {
    native.socketMark(this.liveFd(), value);
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
    if (endpoint[0] !== this.family || endpoint[1] !== KIND_UDP) throw new TypeError(`an endpoint of IPv${endpoint[0]}, transport ${endpoint[1]}, on a UDP IPv${this.family} socket`);
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

/** UDP behind the transport seam: an IPv4 and an IPv6 socket (either may be absent), sent to
 *  with one native call per batch. */
export class UdpTransport implements Transport {
  readonly kinds = 1 << KIND_UDP;
  readonly sources: readonly UdpSocket[];
  private readonly v4: UdpSocket | null;
  private readonly v6: UdpSocket | null;

  constructor(sockets: readonly UdpSocket[]) {
    this.sources = sockets;
    this.v4 = sockets.find((s) => s.family === 4) ?? null;
    this.v6 = sockets.find((s) => s.family === 6) ?? null;
  }

  sendBatch(batch: PacketBatch, count: number, offset: number): number {
    return UdpSocket.sendBatch(this.v4, this.v6, batch, count, offset);
  }

  sendTo(buf: Uint8Array, off: number, len: number, endpoint: Uint8Array): boolean {
    const socket = endpoint[0] === 4 ? this.v4 : this.v6;
    return socket !== null && socket.sendTo(buf, off, len, endpoint);
  }
}
