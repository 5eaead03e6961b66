// The routes a node has found, per destination: soft state, held while used. Each destination
// keeps the distinct paths its lookups and probes brought back (one per tree, each way), and the
// shortest of them is its route; a path whose first hop goes down is dropped, and the next best
// takes over at once. At most MAX_DESTINATIONS are kept: past that the one used longest ago goes.
import { bytesKey } from '../util/bytes.js';
import { addressOf, type Locator } from './locator.js';
import type { Route } from './spf.js';

/** How a route was learned (docs/ROUTING.md "Lookups"): a link to the node itself (a
 *  neighbour's route, which lookups.ts keeps apart from these); the way a request of ours went
 *  to it (a lookup's, or a probe's in one tree), its answer having come
 *  back along it; the way it steered the return of our probe; the way its own request came. */
export type PathSource = 'neighbour' | 'lookup' | 'probe' | 'return' | 'request';

export interface FoundPath {
  /** Our interface index for the first hop. */
  link: number;
  /** The interface index each transit leaves by. */
  slots: Uint16Array;
  mtu: number;
  source: PathSource;
  /** The tree its frame was steered in (-1 for a neighbour). */
  tree: number;
  /** Monotonic ms when found. */
  at: number;
}

export interface Destination {
  address: Uint8Array;
  publicKey: Uint8Array;
  paths: FoundPath[];
  route: FoundRoute | null;
  usedAt: number;
  /** Its newest locator known where the lookups' table holds none as new (lookups.ts), and the
   *  sequence of the one it was last asked in every tree with: a newer locator may name trees,
   *  or places, the last probes missed. */
  locator: Locator | null;
  probedSequence: number;
}

/** A Route (the data plane's type) and how it was found. */
export interface FoundRoute extends Route {
  source: PathSource;
  tree: number;
  foundAt: number;
}

const MAX_PATHS_PER_DESTINATION = 10;

export class Paths {
  private readonly byAddress = new Map<string, Destination>();

  constructor(
    private readonly maxDestinations: number,
    /** Told of a destination forgotten to make room for another. */
    private readonly evicted?: (d: Destination) => void,
  ) {}

  get size(): number {
    return this.byAddress.size;
  }

  get(address: Uint8Array): Destination | undefined {
    return this.byAddress.get(bytesKey(address));
  }

  /** Takes in a path to `publicKey`; true if its route changed. */
  add(publicKey: Uint8Array, path: FoundPath, now: number): boolean {
    const address = addressOf(publicKey);
    const key = bytesKey(address);
    let d = this.byAddress.get(key);
    if (!d) {
      if (this.byAddress.size >= this.maxDestinations) this.evictOldest();
      d = { address, publicKey: publicKey.slice(), paths: [], route: null, usedAt: now, locator: null, probedSequence: -1 };
      this.byAddress.set(key, d);
    }
    const same = d.paths.findIndex((p) => p.link === path.link && equalSlots(p.slots, path.slots));
    if (same >= 0) d.paths[same] = path;
    else {
      d.paths.push(path);
      if (d.paths.length > MAX_PATHS_PER_DESTINATION) {
        d.paths.sort(byLength);
        d.paths.length = MAX_PATHS_PER_DESTINATION;
      }
    }
    return this.choose(d);
  }

  /** Our link `link` went down: every path over it goes. Returns the destinations whose route changed. */
  linkDown(link: number): Destination[] {
    return this.dropWhere((p) => p.link === link);
  }

  /**
   * The node reached by `link` and `slots` cannot pass frames on by its index `failed`: every
   * path that goes that way is dropped. Returns the destinations whose route changed.
   */
  breakAt(link: number, slots: Uint16Array, failed: number): Destination[] {
    return this.dropWhere((p) => leavesBy(p.link, p.slots, link, slots, failed));
  }

  /** Drops every path `broken` says is; returns the destinations whose route changed. */
  dropWhere(broken: (p: FoundPath) => boolean): Destination[] {
    const changed: Destination[] = [];
    for (const [key, d] of this.byAddress) {
      // A new list only where a path goes: most calls drop nothing, over thousands of destinations.
      let kept: FoundPath[] | undefined;
      for (let i = 0; i < d.paths.length; i++) {
        const p = d.paths[i]!;
        if (broken(p)) kept ??= d.paths.slice(0, i);
        else kept?.push(p);
      }
      if (!kept) continue;
      d.paths = kept;
      if (d.paths.length === 0) this.byAddress.delete(key);
      if (this.choose(d)) changed.push(d);
    }
    return changed;
  }

  /** Forgets the destination at `address`; true if it was held. */
  forget(address: Uint8Array): boolean {
    return this.byAddress.delete(bytesKey(address));
  }

  /** Forgets the destinations not used since `before`, and returns them. */
  expire(before: number): Destination[] {
    const gone: Destination[] = [];
    for (const [key, d] of this.byAddress) {
      if (d.usedAt < before) {
        this.byAddress.delete(key);
        gone.push(d);
      }
    }
    return gone;
  }

  destinations(): IterableIterator<Destination> {
    return this.byAddress.values();
  }

  /** Bytes held: per destination its address, key and locator, per path its label. */
  stateBytes(): number {
    let bytes = 0;
    for (const d of this.byAddress.values()) {
      bytes += 48 + (d.locator?.bytes.length ?? 0);
      for (const p of d.paths) bytes += 16 + 2 * p.slots.length;
    }
    return bytes;
  }

  private choose(d: Destination): boolean {
    let best: FoundPath | null = null;
    for (const p of d.paths) if (!best || byLength(p, best) < 0) best = p;
    const old = d.route;
    if (!best) {
      d.route = null;
      return old !== null;
    }
    if (old && old.link === best.link && equalSlots(old.label, best.slots) && old.mtu === best.mtu) return false;
    d.route = {
      publicKey: d.publicKey,
      address: d.address,
      link: best.link,
      label: best.slots,
      hops: best.slots.length + 1,
      mtu: best.mtu,
      path: [d.publicKey],
      source: best.source,
      tree: best.tree,
      foundAt: best.at,
    };
    return true;
  }

  private evictOldest(): void {
    let oldest: [string, Destination] | null = null;
    for (const entry of this.byAddress) if (!oldest || entry[1].usedAt < oldest[1].usedAt) oldest = entry;
    if (!oldest) return;
    this.byAddress.delete(oldest[0]);
    this.evicted?.(oldest[1]);
  }
}

/** Whether the way out by `link` and `label` passes the node reached by `atLink` and `atSlots`
 *  and leaves it by its index `failed`. */
export function leavesBy(link: number, label: ArrayLike<number>, atLink: number, atSlots: ArrayLike<number>, failed: number): boolean {
  if (link !== atLink || label.length <= atSlots.length || label[atSlots.length] !== failed) return false;
  for (let i = 0; i < atSlots.length; i++) if (label[i] !== atSlots[i]) return false;
  return true;
}

/** Shorter first; between equals, the one found first (so a route does not flap between them). */
function byLength(a: FoundPath, b: FoundPath): number {
  return a.slots.length - b.slots.length || a.at - b.at;
}

function equalSlots(a: Uint16Array, b: Uint16Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
