// The transport seam (as wireguard-go's conn.Bind): the session and forwarding layers see
// datagrams to and from endpoints (endpoint.ts), never sockets. Each transport below it — UDP
// (udp.ts), TCP and TLS over TCP (streams.ts), the in-process hub the tests use (memory.ts) —
// fills batch slots with the datagrams it received, each with its source's endpoint area, and
// sends the slots whose endpoint names it.
import type { PacketBatch } from './batch.js';
import type { Endpoint } from './endpoint.js';

/** Where datagrams come in: a UDP socket, or a stream transport's queue of received frames. */
export interface DatagramSource {
  /** Moves up to `max` waiting datagrams into the batch, each at `offset` with its source's
   *  endpoint area at the start of its slot; returns how many. */
  readBatch(batch: PacketBatch, offset: number, max: number): number;
  /** Datagrams already received that readiness will not announce again: the reader must come
   *  back for them. */
  readonly pending: boolean;
  /** Calls `cb` whenever datagrams are waiting; replaces any earlier callback. */
  onReadable(cb: (error?: Error) => void): void;
  /** Stops the readiness callback. */
  stop(): void;
}

export interface Transport {
  /** The endpoint kinds it sends to, as a bit mask of 1 << (endpoint byte 1). */
  readonly kinds: number;
  /** Where its datagrams come in. */
  readonly sources: readonly DatagramSource[];
  /** Sends the slots among the first `count` (datagram at `offset`) whose endpoint is of its
   *  kinds; empty slots and others are skipped. Returns how many went. */
  sendBatch(batch: PacketBatch, count: number, offset: number): number;
  /** Sends one datagram to an endpoint area of its kinds; false if it could not go now. */
  sendTo(buf: Uint8Array, off: number, len: number, endpoint: Uint8Array): boolean;
  /** A connection-based transport dials only the endpoints it is told of (a peer's configured
   *  address, not wherever a packet once came from); `serverName` is for TLS. */
  addDialTarget?(endpoint: Endpoint, serverName?: string): void;
}
