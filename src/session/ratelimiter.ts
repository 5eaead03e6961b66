// Token bucket per source address: for handshakes under load, so one flooding host cannot use up
// the handshakes every other peer needs, and for new inbound links (node/inbound.ts). A bucket is
// forgotten once it has been idle long enough to be full again: forgetting it then changes nothing.
import { TokenBucket } from '../util/token-bucket.js';

export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep = 0;
  /** Idle time after which a bucket is full again (at least a second between sweeps). */
  private readonly refillMs: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.refillMs = Math.max(1000, (burst * 1000) / perSecond);
  }

  allow(source: string, now: number): boolean {
    if (now - this.lastSweep > this.refillMs) this.sweep(now);
    let bucket = this.buckets.get(source);
    if (!bucket) this.buckets.set(source, (bucket = new TokenBucket(this.perSecond, this.burst)));
    return bucket.take(now);
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (now - bucket.lastUsed > this.refillMs) this.buckets.delete(key);
  }
}
