// Token bucket per source address for handshakes under load, so one flooding host cannot use up
// the handshakes every other peer needs. Entries idle for a second are forgotten.
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  allow(source: string, now: number): boolean {
    if (now - this.lastSweep > 1000) this.sweep(now);
    let bucket = this.buckets.get(source);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(source, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.perSecond) / 1000);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (now - bucket.at > 1000) this.buckets.delete(key);
  }
}
