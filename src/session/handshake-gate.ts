// Shares the node's handshake work fairly among the sources that ask for it.
//
// Every handshake message costs something before it can be judged: mac1 is a keyed hash, a cookie
// reply an encryption, an initiation a Diffie-Hellman. A valid mac1 needs only our public peer
// ID, so a flood of well-formed messages is cheap to make. A single budget for everybody would let
// one flooding source spend it and leave the honest peers' messages unread (issue 13: a restarted
// neighbour locked out for the whole of a 20k/s flood). So the work is accounted per source too:
// while the node is within its budget every message is looked at; past it, a source is looked at
// only while it has spent less than its share of the hard cap, which a source that has been quiet
// always has. The share keeps room for one source more than those seen, so even a lone flood
// leaves half the cap unspent. The check itself is one map lookup, made before any hashing.
//
// The node's total restarts every WINDOW_MS, with the budget and cap scaled to it: short windows
// keep each stretch of handshake work short, so the socket is read again before a flood can fill
// its buffer and crowd out everybody's packets in the kernel. What each source spent halves from
// one window to the next instead of starting over: a flooding source stays known as one, and does
// not get the first look that a new source gets in every window.
//
// Sources are counted up to a bound: a flood from ever-new (spoofed) addresses then cannot grow
// the table or buy a share each; once the table is full and the budget spent, new sources wait
// until others have been quiet long enough to be forgotten.

/** Milliseconds of one accounting window. */
export const WINDOW_MS = 100;
/** A source whose halved spending is below this (1 µs) is forgotten. */
const FORGET_MS = 0.001;

export class HandshakeGate {
  private windowStart = -Infinity;
  private totalMs = 0;
  private readonly spentMs = new Map<string, number>();
  private readonly budgetMs: number;
  private readonly hardCapMs: number;

  constructor(
    /** Work per second (ms) within which every message is looked at. */
    budgetMsPerSecond: number,
    /** Work per second (ms) shared among the sources once the budget is spent. */
    hardCapMsPerSecond: number,
    /** Sources counted per window at most. */
    private readonly maxSources: number,
  ) {
    this.budgetMs = (budgetMsPerSecond * WINDOW_MS) / 1000;
    this.hardCapMs = (hardCapMsPerSecond * WINDOW_MS) / 1000;
  }

  /** Whether a message from `source` may be looked at now. */
  admit(source: string, now: number): boolean {
    this.roll(now);
    if (this.totalMs <= this.budgetMs) return true;
    const spent = this.spentMs.get(source);
    if (spent === undefined) return this.spentMs.size < this.maxSources;
    return spent < this.hardCapMs / (this.spentMs.size + 1);
  }

  /** Adds the work one admitted message from `source` took to the source's and the node's. True
   *  when this window's work is now past the budget: the node is under load. The caller clips the
   *  measurement to what such work usually takes, so that one stretched measurement (a cold start's
   *  first Diffie-Hellman, the OS running something else in between) neither uses up a source's
   *  share nor puts the node under load: only many messages' worth of work does. */
  charge(source: string, now: number, ms: number): boolean {
    this.roll(now);
    this.totalMs += ms;
    const spent = this.spentMs.get(source);
    if (spent !== undefined) this.spentMs.set(source, spent + ms);
    else if (this.spentMs.size < this.maxSources) this.spentMs.set(source, ms);
    return this.totalMs > this.budgetMs;
  }

  private roll(now: number): void {
    if (now - this.windowStart < WINDOW_MS) return;
    // Every window that passed halves what each source spent; what is left of a quiet one is
    // forgotten once it is below FORGET_MS.
    const halvings = Math.min(64, Math.floor((now - this.windowStart) / WINDOW_MS));
    this.windowStart = now;
    this.totalMs = 0;
    const factor = 2 ** -halvings;
    for (const [source, spent] of this.spentMs) {
      const left = spent * factor;
      if (left < FORGET_MS) this.spentMs.delete(source);
      else this.spentMs.set(source, left);
    }
  }
}
