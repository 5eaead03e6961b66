// TCP, or TLS over TCP, behind the transport seam: for networks that pass no UDP. Each connection
// carries datagrams as frames (stream-frames.ts); the layers above see the connection as the
// endpoint of its far end, kind "tcp" or "tls" (endpoint.ts), and cannot tell it from UDP.
//
//   in:  frames from every connection, queued (bounded) and handed out in batches like a UDP
//        socket's datagrams, each with its connection's endpoint area
//   out: the slots of a batch whose endpoint is a connection of ours, gathered per connection
//        into one write; an endpoint with no connection is dialled if the node said it may be
//
// What a stranger can hold is bounded: connections in all, connections not yet through their
// preamble (in all and per address, refused at once past either cap), the time to get through
// the TLS handshake and the preamble, the silence a connection may keep, the frames queued and the
// bytes waiting to be sent per connection. Every refusal is counted (StreamCounters).
import { createServer as createTcpServer, connect as tcpConnect, Socket as NetSocket, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP, isIPv4 } from 'node:net';
import type { PacketBatch } from './batch.js';
import { ENDPOINT_BYTES } from './batch.js';
import { decodeEndpoint, encodeEndpoint, formatEndpoint, kindCode, type Endpoint } from './endpoint.js';
import { FRAME_HEADER_BYTES, FrameReader, PREAMBLE, StreamCounters } from './stream-frames.js';
import type { DatagramSource, Transport } from './transport.js';
import type { TlsIdentity } from './self-signed.js';
import { native } from '../native/addon.js';
import { parseIPv4, parseIPv6 } from '../keys/ip-text.js';

export interface StreamLimits {
  /** Connections at once, in all. */
  maxConnections: number;
  /** Connections not yet through the TLS handshake and the preamble: in all, and per address. */
  maxStarting: number;
  maxStartingPerAddress: number;
  /** Time a connection has to get through the TLS handshake and the preamble. */
  startTimeoutMs: number;
  /** A connection that received nothing for this long is closed (keepalives come every 25 s). */
  idleTimeoutMs: number;
  /** Bytes a connection may have waiting to be sent before datagrams for it are dropped. */
  sendBacklogBytes: number;
  /** Frames received and not yet read, in all; past it the connections wait (TCP pushes back). */
  receiveQueueFrames: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxConnections: 1024,
  maxStarting: 256,
  maxStartingPerAddress: 8,
  startTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  sendBacklogBytes: 4 << 20,
  receiveQueueFrames: 4096,
};

export interface StreamTransportOptions {
  kind: 'tcp' | 'tls';
  /** The largest datagram read: longer frames are skipped. */
  maxDatagram: number;
  /** TLS: what a listener presents (self-signed.ts). Needed to listen, not to dial. */
  identity?: TlsIdentity;
  limits?: Partial<StreamLimits>;
  log?: (level: 'info' | 'debug', message: string) => void;
}

interface Connection {
  readonly key: string;
  readonly endpoint: Uint8Array;
  readonly socket: Socket;
  readonly reader: FrameReader;
  started: boolean;
  /** Gives back its place among the connections starting (inbound ones). */
  readonly release: (() => void) | undefined;
  /** The frames of the batch being sent, as slot numbers (reused). */
  readonly outgoing: number[];
}

export class StreamTransport implements Transport, DatagramSource {
  readonly kinds: number;
  readonly sources: readonly DatagramSource[] = [this];
  readonly counters = new StreamCounters();
  private readonly kind: number;
  private readonly limits: StreamLimits;
  private readonly servers: Server[] = [];
  /** SO_MARK of dialled connections (setMark); 0: none. */
  private mark = 0;
  private readonly connections = new Map<string, Connection>();
  /** Sockets not through their preamble (TLS: counted from the raw connection), by address. */
  private starting = 0;
  private readonly startingBy = new Map<string, number>();
  /** How each inbound connection still starting gives its place back, by its raw socket. */
  private readonly releases = new WeakMap<Socket, () => void>();
  /** Endpoints (keys) the node asked us to dial when there is no connection, with a TLS server name. */
  private readonly dialTargets = new Map<string, string | undefined>();
  /** Received frames not read yet: a FIFO with a moving head. */
  private queue: { endpoint: Uint8Array; data: Uint8Array }[] = [];
  private head = 0;
  private readonly paused = new Set<Socket>();
  private readable: ((error?: Error) => void) | null = null;
  private readonly sending = new Set<Connection>();
  private closed = false;

  constructor(private readonly options: StreamTransportOptions) {
    this.kind = kindCode(options.kind);
    this.kinds = 1 << this.kind;
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...options.limits };
  }

  /** Listens on address:port (0: any); resolves to the port bound. IPv6 listeners are v6-only. */
  listen(family: 4 | 6, address: string, port: number): Promise<number> {
    const server = this.options.kind === 'tls' ? this.tlsServer() : createTcpServer();
    // Counted from the raw connection, so that a TLS handshake that never ends is held to the caps.
    server.on('connection', (socket: Socket) => {
      if (this.admit(socket) && this.options.kind === 'tcp') this.adopt(socket, false);
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address, port, ipv6Only: family === 6 }, () => {
        server.off('error', reject);
        server.on('error', () => {}); // a listener's later errors concern one connection
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  /** Lets endpoint `to` (of this transport's kind) be dialled when a datagram is sent to it and
   *  there is no connection; `serverName` is the TLS server name to ask for (a /dns host). */
  addDialTarget(to: Endpoint, serverName?: string): void {
    this.dialTargets.set(keyOf(encodeEndpoint({ ...to, transport: this.options.kind })), serverName);
  }

  /** Connections now, and of those (with raw TLS ones) not through their preamble yet. */
  get connectionCount(): number {
    return this.connections.size;
  }

  get startingCount(): number {
    return this.starting;
  }

  // ---- receiving ---------------------------------------------------------------------------

  readBatch(batch: PacketBatch, offset: number, max: number): number {
    let n = 0;
    const { data, lens, slotSize } = batch;
    while (n < max && this.head < this.queue.length) {
      const frame = this.queue[this.head]!;
      this.queue[this.head++] = undefined as never; // let the chunk go
      const slot = n * slotSize;
      data.set(frame.endpoint, slot);
      data.set(frame.data, slot + offset);
      lens[n++] = frame.data.length;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      for (const socket of this.paused) socket.resume();
      this.paused.clear();
    }
    return n;
  }

  get pending(): boolean {
    return this.head < this.queue.length;
  }

  onReadable(cb: (error?: Error) => void): void {
    this.readable = cb;
    if (this.pending) cb();
  }

  stop(): void {
    this.readable = null;
  }

  // ---- sending -----------------------------------------------------------------------------

  sendBatch(batch: PacketBatch, count: number, offset: number): number {
    const { data, lens, slotSize } = batch;
    for (let i = 0; i < count; i++) {
      const slot = i * slotSize;
      if (lens[i] === 0 || data[slot + 1] !== this.kind) continue;
      const connection = this.connectionFor(data.subarray(slot, slot + ENDPOINT_BYTES));
      if (connection === null) {
        this.counters.sendDropped++;
        continue;
      }
      connection.outgoing.push(i);
      this.sending.add(connection);
    }
    let sent = 0;
    for (const connection of this.sending) {
      let bytes = 0;
      for (const i of connection.outgoing) bytes += FRAME_HEADER_BYTES + lens[i]!;
      if (connection.socket.writableLength + bytes > this.limits.sendBacklogBytes) {
        this.counters.sendDropped += connection.outgoing.length;
      } else {
        // One buffer and one write per connection and batch.
        const out = Buffer.allocUnsafe(bytes);
        let at = 0;
        for (const i of connection.outgoing) {
          const start = i * slotSize + offset;
          const len = lens[i]!;
          out[at] = len >>> 8;
          out[at + 1] = len & 0xff;
          out.set(data.subarray(start, start + len), at + FRAME_HEADER_BYTES);
          at += FRAME_HEADER_BYTES + len;
        }
        connection.socket.write(out);
        sent += connection.outgoing.length;
      }
      connection.outgoing.length = 0;
    }
    this.sending.clear();
    return sent;
  }

  sendTo(buf: Uint8Array, off: number, len: number, endpoint: Uint8Array): boolean {
    const connection = endpoint[1] === this.kind ? this.connectionFor(endpoint) : null;
    if (connection === null || connection.socket.writableLength + len > this.limits.sendBacklogBytes) {
      this.counters.sendDropped++;
      return false;
    }
    const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + len);
    out[0] = len >>> 8;
    out[1] = len & 0xff;
    out.set(buf.subarray(off, off + len), FRAME_HEADER_BYTES);
    connection.socket.write(out);
    return true;
  }

  /** Closes the listeners and every connection. */
  close(): void {
    this.closed = true;
    this.readable = null;
    for (const server of this.servers) server.close();
    for (const connection of this.connections.values()) connection.socket.destroy();
    this.connections.clear();
  }

  // ---- connections -------------------------------------------------------------------------

  /** The connection to `endpoint`, dialling it if the node allowed that; null if none. */
  private connectionFor(endpoint: Uint8Array): Connection | null {
    const key = keyOf(endpoint);
    const existing = this.connections.get(key);
    if (existing) return existing;
    if (!this.dialTargets.has(key) || this.closed || this.connections.size >= this.limits.maxConnections) return null;
    return this.dial(endpoint, key, this.dialTargets.get(key));
  }

  private dial(endpoint: Uint8Array, key: string, serverName: string | undefined): Connection {
    const { address, port } = decodeEndpoint(endpoint);
    const raw = this.mark === 0 ? null : this.markedSocket(address, port);
    const socket: Socket =
      this.options.kind === 'tls'
        ? tlsConnect({ ...(raw ? { socket: raw } : { host: address, port }), servername: serverName, rejectUnauthorized: false, minVersion: 'TLSv1.2' })
        : (raw ?? tcpConnect({ host: address, port }));
    this.counters.dialled++;
    const connection = this.adopt(socket, true, endpoint.slice(0, ENDPOINT_BYTES), key)!; // known endpoint: never null
    // Counted as failed if it never got through to the far end's preamble.
    socket.once('close', () => {
      if (!connection.started) this.counters.dialFailed++;
    });
    return connection;
  }

  /** Marks dialled connections from now on (SO_MARK; 0: none), as the UDP sockets are. */
  setMark(mark: number): void {
    this.mark = mark;
  }

  /** A TCP connection being made, marked from its first segment (native/marks.c). */
  private markedSocket(address: string, port: number): Socket {
    const family = isIPv4(address) ? 4 : 6;
    try {
      const fd = native.tcpDial(family, family === 4 ? parseIPv4(address) : parseIPv6(address), port, this.mark);
      return new NetSocket({ fd, readable: true, writable: true });
    } catch (err) {
      // As a connect that fails: the socket closes with the error (and is counted as failed).
      const failed = new NetSocket();
      process.nextTick(() => failed.destroy(err as Error));
      return failed;
    }
  }

  private tlsServer(): Server {
    const identity = this.options.identity;
    if (!identity) throw new Error('a TLS listener needs its identity');
    const server = createTlsServer({ key: identity.key, cert: identity.cert, minVersion: 'TLSv1.2', handshakeTimeout: this.limits.startTimeoutMs }, (socket: TLSSocket) =>
      this.adopt(socket, false),
    );
    server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') this.counters.handshakeTimeouts++;
      else this.counters.badPreamble++;
      this.releases.get(rawSocket(socket))?.();
    });
    return server;
  }

  /** A raw inbound connection, before TLS: held to the caps (true), or closed at once. */
  private admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.startingBy.get(address) ?? 0;
    if (
      this.closed ||
      this.connections.size >= this.limits.maxConnections ||
      this.starting >= this.limits.maxStarting ||
      fromAddress >= this.limits.maxStartingPerAddress
    ) {
      this.counters.refused++;
      socket.destroy();
      return false;
    }
    this.counters.accepted++;
    this.starting++;
    this.startingBy.set(address, fromAddress + 1);
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      this.starting--;
      const left = (this.startingBy.get(address) ?? 1) - 1;
      if (left > 0) this.startingBy.set(address, left);
      else this.startingBy.delete(address);
    };
    // Found again when the connection is adopted (TLS wraps the socket).
    this.releases.set(socket, release);
    socket.once('close', release);
    socket.on('error', () => {});
    return true;
  }

  /** Takes a connection (inbound once TLS is up, or one we dial) into the table; null for an
   *  inbound one that is gone already (its far end closed during the TLS handshake). */
  private adopt(socket: Socket, outbound: boolean, known?: Uint8Array, knownKey?: string): Connection | null {
    let endpoint = known;
    if (!endpoint) {
      const address = (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
      if (!isIP(address) || socket.remotePort === undefined) {
        socket.destroy();
        return null;
      }
      endpoint = encodeEndpoint({ family: isIPv4(address) ? 4 : 6, address, port: socket.remotePort, transport: this.options.kind });
    }
    const key = knownKey ?? keyOf(endpoint);
    const connection: Connection = {
      key,
      endpoint,
      socket,
      started: false,
      release: outbound ? undefined : this.releases.get(rawSocket(socket)),
      outgoing: [],
      reader: new FrameReader(this.options.maxDatagram, this.counters, (frame) => this.received(connection, frame)),
    };
    this.connections.get(key)?.socket.destroy(); // a connection from the same address and port is a new one
    this.connections.set(key, connection);
    socket.setNoDelay(true);
    socket.setTimeout(this.limits.startTimeoutMs);
    socket.on('timeout', () => {
      if (connection.started) this.counters.idleClosed++;
      else this.counters.handshakeTimeouts++;
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      if (!connection.reader.push(chunk)) {
        socket.destroy();
        return;
      }
      if (!connection.started && connection.reader.started) this.started(connection);
      if (this.pending) this.readable?.();
    });
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', () => {
      if (connection.reader.midFrame) this.counters.truncatedFrames++;
      if (this.connections.get(key) === connection) this.connections.delete(key);
      this.paused.delete(socket);
      connection.release?.();
      this.options.log?.('debug', `${this.options.kind} connection ${formatEndpoint(decodeEndpoint(connection.endpoint))} closed`);
    });
    socket.write(PREAMBLE);
    if (!outbound) this.options.log?.('debug', `${this.options.kind} connection from ${formatEndpoint(decodeEndpoint(endpoint))}`);
    return connection;
  }

  private started(connection: Connection): void {
    connection.started = true;
    connection.socket.setTimeout(this.limits.idleTimeoutMs);
    connection.release?.();
  }

  private received(connection: Connection, frame: Uint8Array): void {
    if (this.queue.length - this.head >= this.limits.receiveQueueFrames) {
      this.counters.receiveDropped++;
      connection.socket.pause();
      this.paused.add(connection.socket);
      return;
    }
    this.queue.push({ endpoint: connection.endpoint, data: frame });
  }
}

/** The TCP socket under a TLS one (node:tls keeps it as _parent), or the socket itself. */
function rawSocket(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}

/** The map key of an endpoint area: its family, kind, port and address (20 bytes). */
function keyOf(endpoint: Uint8Array): string {
  return Buffer.from(endpoint.buffer, endpoint.byteOffset, 20).toString('latin1');
}
