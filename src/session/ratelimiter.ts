// Token bucket per source address for handshakes under load, so one flooding host cannot use up
// the handshakes every other peer needs. Entries idle for a second are forgotten.
import { TokenBucket } from '../util/token-bucket.js';

export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep = 0;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  allow(source: string, now: number): boolean {
    if (now - this.lastSweep > 1000) this.sweep(now);
    let bucket = this.buckets.get(source);
    if (!bucket) this.buckets.set(source, (bucket = new TokenBucket(this.perSecond, this.burst)));
    return bucket.take(now);
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (now - bucket.lastUsed > 1000) this.buckets.delete(key);
  }
}
