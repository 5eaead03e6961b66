// Keeps about `target` links up by itself (issue 14, 4; the idea of re6stnet): given candidates
// (bootstrap addresses, nodes its neighbours told it of), it links to new ones while it has too
// few links, drops the links it made that never came up or died, and now and then replaces the
// least useful of them with a candidate, so that the mesh keeps reshaping itself toward links
// that carry routes instead of freezing in the shape of whoever joined first.
//
// Every link that is up counts toward the target, whoever made it (the config file, the user,
// a node that linked to us); only the links the keeper made are ever dropped by it. A node many
// others link to therefore makes none of its own, and its degree is bounded by what it accepts
// (node/inbound.ts). Candidates that could not be linked to are left alone for a while that
// doubles with every failure.
//
// The keeper only decides; its host does the linking, and tells it what each link is worth:
// how many destinations route through it, and how much traffic it carried.

export interface KeptLink {
  peerId: string;
  up: boolean;
  /** Whether the keeper made it (only those does it drop). */
  managed: boolean;
  /** When it was made, or last came up or went down (the keeper's clock): a link is dropped
   *  once down this long, and replaced only once up this long. */
  since: number;
  /** Destinations whose route starts with this link. */
  routes: number;
  /** Bytes it carried lately, both ways. */
  traffic: number;
}

export interface KeeperHost {
  /** Every link there is now. */
  links(): KeptLink[];
  /** Peer IDs it could link to (not linked already, not blocked). */
  candidates(): string[];
  connect(peerId: string): void;
  drop(peerId: string): void;
  /** A random integer in [0, n). */
  random(n: number): number;
}

export interface KeeperOptions {
  /** Links to keep up. */
  target: number;
  /** A link it made that has been down this long, or never came up, is dropped (a dial that
   *  failed, a node that left). */
  deadAfterMs: number;
  /** How often the least useful link is replaced with a candidate. */
  replaceEveryMs: number;
  /** A link is not replaced before it has been up this long: routes need time to come through it. */
  minAgeMs: number;
  /** First wait before a candidate that failed is tried again; doubles per failure, up to 64×. */
  retryAfterMs: number;
}

export const DEFAULT_KEEPER_OPTIONS: Omit<KeeperOptions, 'target'> = {
  deadAfterMs: 60_000,
  replaceEveryMs: 300_000,
  minAgeMs: 600_000,
  retryAfterMs: 60_000,
};

export class LinkKeeper {
  private lastReplace: number;
  /** Candidates that failed: when they may be tried again, and how many times they failed. */
  private readonly failed = new Map<string, { until: number; count: number }>();

  private readonly options: KeeperOptions;

  constructor(
    options: KeeperOptions,
    private readonly host: KeeperHost,
    now: number,
  ) {
    this.options = { ...options };
    this.lastReplace = now;
  }

  /** Links to keep up from now on (a reload). */
  setTarget(target: number): void {
    this.options.target = target;
  }

  /** One round: drop what died, fill up to the target, and now and then replace the least useful. */
  tick(now: number): void {
    const links = this.host.links();
    let count = 0;
    for (const link of links) {
      if (link.managed && !link.up && now - link.since >= this.options.deadAfterMs) {
        this.fail(link.peerId, now);
        this.host.drop(link.peerId);
        continue;
      }
      // A link still coming up counts: it is not dialled twice.
      if (link.up || link.managed) count++;
    }
    if (count < this.options.target) this.connect(this.options.target - count, now, links);
    else if (now - this.lastReplace >= this.options.replaceEveryMs) {
      this.lastReplace = now;
      this.replace(now, links);
    }
  }

  /** Rests a candidate as if linking to it had failed (the user dropped its link). */
  rest(peerId: string, now: number): void {
    this.fail(peerId, now);
  }

  /** Whether a candidate is waiting out a failure now. */
  isBackingOff(peerId: string, now: number): boolean {
    const f = this.failed.get(peerId);
    return f !== undefined && now < f.until;
  }

  private connect(wanted: number, now: number, links: KeptLink[]): void {
    const linked = new Set(links.map((l) => l.peerId));
    const pool = this.host.candidates().filter((c) => !linked.has(c) && !this.isBackingOff(c, now));
    for (let i = 0; i < wanted && pool.length > 0; i++) {
      const pick = this.host.random(pool.length);
      const peerId = pool[pick]!;
      pool[pick] = pool[pool.length - 1]!;
      pool.pop();
      this.host.connect(peerId);
    }
  }

  /** Drops the least useful link the keeper made, and links to a candidate in its place. */
  private replace(now: number, links: KeptLink[]): void {
    const linked = new Set(links.map((l) => l.peerId));
    if (!this.host.candidates().some((c) => !linked.has(c) && !this.isBackingOff(c, now))) return;
    let worst: KeptLink | null = null;
    for (const link of links) {
      if (!link.managed || !link.up || now - link.since < this.options.minAgeMs) continue;
      if (!worst || link.routes < worst.routes || (link.routes === worst.routes && link.traffic < worst.traffic)) worst = link;
    }
    if (!worst) return;
    this.host.drop(worst.peerId);
    this.connect(1, now, links);
  }

  private fail(peerId: string, now: number): void {
    const count = Math.min((this.failed.get(peerId)?.count ?? 0) + 1, 7);
    this.failed.set(peerId, { until: now + this.options.retryAfterMs * 2 ** (count - 1), count });
    // Bounded: the oldest failure is forgotten first (a Map keeps insertion order).
    if (this.failed.size > 4096) this.failed.delete(this.failed.keys().next().value!);
  }
}
