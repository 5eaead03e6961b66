// A token bucket: `rate` events per second on average, at most `burst` at once after a quiet
// spell. Rate limits for what the node sends on its own initiative (ICMPv6 errors, reports) and,
// one bucket per source, for handshakes under load (session/ratelimiter.ts).
export class TokenBucket {
  private tokens: number;
  private refilledAt = -Infinity;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** When the bucket was last asked (monotonic ms; -Infinity if never). */
  get lastUsed(): number {
    return this.refilledAt;
  }

  /** Takes a token if there is one. */
  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
