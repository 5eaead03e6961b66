// The in-process transport: nodes in one process exchanging datagrams through a hub, no sockets.
// In-process tests link their nodes this way, and watch, hold, drop or inject what crosses.
//
// A member is reached at an endpoint of kind "memory" (endpoint.ts) whose address is the one it
// was given (fd00::N, say) and port 1. Datagrams are copied when sent and handed over on a later
// turn of the event loop, as a network would: a sender never re-enters its receiver.
import { ENDPOINT_BYTES, type PacketBatch } from './batch.js';
import { decodeEndpoint, encodeEndpoint, KIND_MEMORY, type Endpoint } from './endpoint.js';
import type { DatagramSource, Transport } from './transport.js';

/** What a tap decides for a datagram crossing the hub: deliver it, or not. */
export type TapVerdict = 'deliver' | 'drop';

export class MemoryHub {
  private readonly members = new Map<string, MemoryTransport>();
  /** Sees every datagram sent through the hub, with the addresses of both ends. */
  tap: ((from: string, to: string, datagram: Uint8Array) => TapVerdict) | null = null;
  /** Datagrams handed to members so far, by receiving address. */
  readonly delivered = new Map<string, number>();

  /** A new member reached at `address` (an IPv6 address in text). */
  attach(address: string): MemoryTransport {
    const member = new MemoryTransport(this, address);
    const key = decodeEndpoint(member.area).address;
    if (this.members.has(key)) throw new Error(`${key} is taken on this hub`);
    this.members.set(key, member);
    return member;
  }

  /** Sends `datagram` to `to` as if `from` had (the tap does not see it): a test's own traffic. */
  inject(from: MemoryTransport, to: string, datagram: Uint8Array): void {
    this.members.get(to)?.arrive(from.area, datagram.slice());
  }

  /** A datagram from member `from` to the endpoint area `to`. */
  send(from: MemoryTransport, to: Uint8Array, datagram: Uint8Array): boolean {
    const address = decodeEndpoint(to).address;
    const member = this.members.get(address);
    if (!member) return false;
    const copy = datagram.slice();
    if (this.tap && this.tap(from.address, address, copy) === 'drop') return true;
    this.delivered.set(address, (this.delivered.get(address) ?? 0) + 1);
    member.arrive(from.area, copy);
    return true;
  }

  detach(member: MemoryTransport): void {
    if (this.members.get(member.address) === member) this.members.delete(member.address);
  }
}

export class MemoryTransport implements Transport, DatagramSource {
  readonly kinds = 1 << KIND_MEMORY;
  readonly sources: readonly DatagramSource[] = [this];
  /** This member's endpoint area, and the endpoint others reach it at. */
  readonly area: Uint8Array;
  readonly endpoint: Endpoint;
  readonly address: string;
  /** Datagrams dropped for not fitting a receive slot. */
  tooLong = 0;
  private queue: { from: Uint8Array; data: Uint8Array }[] = [];
  private head = 0;
  private readable: ((error?: Error) => void) | null = null;
  private scheduled = false;

  constructor(
    private readonly hub: MemoryHub,
    address: string,
  ) {
    this.endpoint = { family: 6, address, port: 1, transport: 'memory' };
    this.area = encodeEndpoint(this.endpoint);
    this.address = decodeEndpoint(this.area).address;
  }

  sendBatch(batch: PacketBatch, count: number, offset: number): number {
    const { data, lens, slotSize } = batch;
    let sent = 0;
    for (let i = 0; i < count; i++) {
      const slot = i * slotSize;
      if (lens[i] === 0 || data[slot + 1] !== KIND_MEMORY) continue;
      if (this.hub.send(this, data.subarray(slot, slot + ENDPOINT_BYTES), data.subarray(slot + offset, slot + offset + lens[i]!))) sent++;
    }
    return sent;
  }

  sendTo(buf: Uint8Array, off: number, len: number, endpoint: Uint8Array): boolean {
    return endpoint[1] === KIND_MEMORY && this.hub.send(this, endpoint, buf.subarray(off, off + len));
  }

  readBatch(batch: PacketBatch, offset: number, max: number): number {
    const { data, lens, slotSize } = batch;
    let n = 0;
    while (n < max && this.head < this.queue.length) {
      const { from, data: datagram } = this.queue[this.head++]!;
      if (datagram.length > slotSize - offset) {
        this.tooLong++; // as a datagram past the MTU would be on a real link: gone
        continue;
      }
      const slot = n * slotSize;
      data.set(from, slot);
      data.set(datagram, slot + offset);
      lens[n++] = datagram.length;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    return n;
  }

  get pending(): boolean {
    return this.head < this.queue.length;
  }

  onReadable(cb: (error?: Error) => void): void {
    this.readable = cb;
  }

  stop(): void {
    this.readable = null;
  }

  /** Leaves the hub: nothing reaches it any more. */
  close(): void {
    this.stop();
    this.hub.detach(this);
  }

  /** A datagram for this member, from the endpoint area `from`: read on a later turn. */
  arrive(from: Uint8Array, datagram: Uint8Array): void {
    this.queue.push({ from, data: datagram });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.pending) this.readable?.();
    });
  }
}
