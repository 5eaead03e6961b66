// An in-memory TUN: the "kernel" side is two queues a test (or a simulator) drives directly.
// Packets injected are read by the node as if the host had sent them into the mesh; packets
// the node writes are collected as if delivered to the host. Readiness is level-triggered like
// uv_poll's: the callback runs again on the next turn while packets are still waiting.
import { TUN_OFFSET, type PacketBatch } from '../transport/batch.js';
import type { PacketDevice } from './device.js';

export class MemoryTun implements PacketDevice {
  private readonly waiting: Uint8Array[] = [];
  /** Packets the node wrote, oldest first. */
  readonly written: Uint8Array[] = [];
  /** Called for each packet the node writes. */
  onWritten: ((packet: Uint8Array) => void) | null = null;
  private callback: ((error?: Error) => void) | null = null;
  private scheduled = false;

  /** Queues a packet for the node to read. */
  inject(packet: Uint8Array): void {
    this.waiting.push(packet.slice());
    this.schedule();
  }

  onReadable(cb: (error?: Error) => void): void {
    this.callback = cb;
    this.schedule();
  }

  stop(): void {
    this.callback = null;
  }

  /** Never: readBatch leaves what does not fit in the queue, and readiness says so. */
  get pending(): boolean {
    return false;
  }

  readBatch(batch: PacketBatch, offset = TUN_OFFSET, max = batch.capacity): number {
    let n = 0;
    while (n < max && this.waiting.length > 0) {
      const packet = this.waiting.shift()!;
      const start = batch.slot(n) + offset;
      const fits = packet.length <= batch.slotSize - offset;
      if (fits) batch.data.set(packet, start);
      batch.lens[n++] = fits ? packet.length : 0;
    }
    if (this.waiting.length > 0) this.schedule();
    return n;
  }

  writeBatch(batch: PacketBatch, count: number, offset = TUN_OFFSET): number {
    let written = 0;
    for (let i = 0; i < count; i++) {
      if (batch.lens[i] === 0) continue;
      const packet = batch.packet(i, offset).slice();
      this.written.push(packet);
      this.onWritten?.(packet);
      written++;
    }
    return written;
  }

  private schedule(): void {
    if (this.scheduled || !this.callback || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.callback?.();
    });
  }
}
