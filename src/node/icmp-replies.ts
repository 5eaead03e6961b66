// ICMPv6 errors the node writes back onto its TUN on behalf of the mesh, rate-limited so a
// flood of undeliverable packets cannot turn into a flood of errors (RFC 4443 §2.4f).
import { ICMP_DESTINATION_UNREACHABLE, UNREACHABLE_NO_ROUTE, writeIcmpError } from '../fcnet/icmp.js';
import type { PacketDevice } from '../tun/device.js';
import { PacketBatch, TUN_OFFSET } from '../transport/batch.js';

/** Errors per second, and how many may go out at once after a quiet spell. */
const ERRORS_PER_SECOND = 100;
const ERROR_BURST = 20;

export class IcmpReplies {
  /** One slot: the error is built in place at TUN_OFFSET and written from there. */
  private readonly batch = new PacketBatch(1, TUN_OFFSET + 1280);
  private readonly out = this.batch.data.subarray(TUN_OFFSET);
  private tokens = ERROR_BURST;
  private refilledAt = 0;

  constructor(
    private readonly tun: PacketDevice,
    private readonly localAddress: Uint8Array,
    private readonly now: () => number,
  ) {}

  /** "No route to destination" for the packet at buf[off, off+len). */
  noRoute(buf: Uint8Array, off: number, len: number): void {
    this.send(ICMP_DESTINATION_UNREACHABLE, UNREACHABLE_NO_ROUTE, 0, buf, off, len);
  }

  private send(type: number, code: number, parameter: number, buf: Uint8Array, off: number, len: number): void {
    const now = this.now();
    this.tokens = Math.min(ERROR_BURST, this.tokens + ((now - this.refilledAt) * ERRORS_PER_SECOND) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return;
    const length = writeIcmpError(this.out, this.localAddress, type, code, parameter, buf, off, len);
    if (length === 0) return;
    this.tokens -= 1;
    this.batch.lens[0] = length;
    this.tun.writeBatch(this.batch, 1, TUN_OFFSET);
  }
}
