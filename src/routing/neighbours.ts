// The neighbours whose hop sessions are up, by link and by address: one table that Routing keeps
// and the map, the trees and the lookups read, so that a node of many links holds each
// neighbour's key once (the three copied it) and the lookups keep no map of their own.
// A neighbour with two links is found by its address at the first that came up, and at another
// once that one goes.
import { AddressTable } from '../fcnet/address-table.js';
import { equalBytes } from '../util/bytes.js';
import { addressOf } from './locator.js';
import type { FoundRoute } from './paths.js';

const ADDRESS_SIZE = 16;
/** Bytes the lookups counted for a route before it was made only when asked for. */
const ROUTE_SIZE = 40;
const NO_SLOTS = new Uint16Array(0);

export interface Neighbour {
  readonly link: number;
  /** Its X25519 public key (the table's copy: the modules keep this object, not copies). */
  readonly key: Uint8Array;
  readonly address: Uint8Array;
  /** The one-hop route to it by this link, made when first asked for (routeAt): at a hub most
   *  neighbours are never asked for one. */
  route: FoundRoute | null;
}

/** A neighbour taken out of the table, and whether the way to its address changed with it (it
 *  was the link its address was found at). */
export interface GoneNeighbour {
  neighbour: Neighbour;
  rerouted: boolean;
}

export class NeighbourTable {
  private readonly byLink = new Map<number, Neighbour>();
  private readonly byAddress = new AddressTable<Neighbour>();
  private readonly mtu: number;

  constructor(mtu: number) {
    this.mtu = mtu;
  }

  get size(): number {
    return this.byLink.size;
  }

  /** The neighbour `key` (copied) is up at `link`. Returns its entry, whether its address is
   *  found at this link, and the neighbour with another key it replaced there, if one was. */
  add(link: number, key: Uint8Array): { neighbour: Neighbour; first: boolean; replaced?: GoneNeighbour } {
    const held = this.byLink.get(link);
    if (held && equalBytes(held.key, key)) return { neighbour: held, first: this.byAddress.lookup(held.address, 0) === held };
    const replaced = held && this.remove(link);
    const copy = key.slice();
    const neighbour: Neighbour = { link, key: copy, address: addressOf(copy), route: null };
    this.byLink.set(link, neighbour);
    const first = !this.byAddress.lookup(neighbour.address, 0);
    if (first) this.byAddress.setShared(neighbour.address, neighbour);
    return { neighbour, first, replaced };
  }

  /** The neighbour at `link` is gone: its entry, and whether its address moved to another link
   *  (or is no longer a neighbour's). */
  remove(link: number): GoneNeighbour | undefined {
    const neighbour = this.byLink.get(link);
    if (!neighbour) return undefined;
    this.byLink.delete(link);
    if (this.byAddress.lookup(neighbour.address, 0) !== neighbour) return { neighbour, rerouted: false };
    this.byAddress.delete(neighbour.address);
    for (const other of this.byLink.values()) {
      if (!equalBytes(other.key, neighbour.key)) continue;
      this.byAddress.setShared(other.address, other);
      break;
    }
    return { neighbour, rerouted: true };
  }

  get(link: number): Neighbour | undefined {
    return this.byLink.get(link);
  }

  /** The neighbour whose 16-byte address is at buf[off] (at the link it is found at). Allocates
   *  nothing. */
  at(buf: Uint8Array, off: number): Neighbour | undefined {
    return this.byAddress.lookup(buf, off);
  }

  /** The route to the neighbour whose address is at buf[off]. Allocates only the first time. */
  routeAt(buf: Uint8Array, off: number): FoundRoute | undefined {
    const n = this.byAddress.lookup(buf, off);
    if (!n) return undefined;
    // Nobody is shown when a neighbour's route was found (its link is its route): foundAt 0.
    return (n.route ??= { publicKey: n.key, address: n.address, link: n.link, label: NO_SLOTS, hops: 1, mtu: this.mtu, path: [n.key], source: 'neighbour', tree: -1, foundAt: 0 });
  }

  links(): IterableIterator<number> {
    return this.byLink.keys();
  }

  values(): IterableIterator<Neighbour> {
    return this.byLink.values();
  }

  /** Bytes held beside the keys (the trees count those, holding one per neighbour as they
   *  always did): per neighbour its address and link, and the routes made. */
  stateBytes(): number {
    let bytes = 0;
    for (const n of this.byLink.values()) bytes += ADDRESS_SIZE + 8 + (n.route ? ROUTE_SIZE : 0);
    return bytes;
  }
}
