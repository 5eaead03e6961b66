// Which node a packet for a mesh IPv4 address (100.64.0.0/10, keys/address.ts meshIPv4Bytes)
// goes to, learned from the packets that come from it: a node sends IPv4 through an exit from the
// address its key derives, and the exit, once the packet has passed the source check, binds that
// address to the key so that replies (de-masqueraded by the host) find their way back.
//
// The address has 22 bits, so two keys may share one. The first key holds it while it keeps
// sending (HOLD_MS): another key's packets from it are refused, never let in to take its replies.
// The table is bounded; a full table of live bindings refuses newcomers.
import { equalBytes } from '../util/bytes.js';

/** A binding stays this long after the last packet from its key, against any other key. */
export const HOLD_MS = 5 * 60_000;
/** Bindings at most: one per client of an exit. */
export const MAX_BINDINGS = 65_536;

interface Binding {
  key: Uint8Array;
  /** The key's fc address, to find its end-to-end session when routing has no route to it yet. */
  fcAddress: Uint8Array;
  seen: number;
}

export class Ipv4Bindings {
  private readonly bindings = new Map<number, Binding>();
  private sweptAt = -Infinity;

  get size(): number {
    return this.bindings.size;
  }

  /**
   * Binds the address at buf[off, off + 4) to `key` (whose derived address it was checked to be),
   * or refreshes the binding. False if another key holds it, or the table is full of live ones.
   * Allocates only for a new binding.
   */
  bind(buf: Uint8Array, off: number, key: Uint8Array, fcAddress: Uint8Array, now: number): boolean {
    const address = addressAt(buf, off);
    const held = this.bindings.get(address);
    if (held) {
      if (held.key !== key && !equalBytes(held.key, key) && now - held.seen < HOLD_MS) return false;
      held.key = key;
      held.fcAddress = fcAddress;
      held.seen = now;
      return true;
    }
    if (this.bindings.size >= MAX_BINDINGS && !this.evictStale(now)) return false;
    this.bindings.set(address, { key, fcAddress, seen: now });
    return true;
  }

  /** The key bound to the address at buf[off, off + 4), if any. Allocates nothing. */
  lookup(buf: Uint8Array, off: number): Uint8Array | undefined {
    return this.bindings.get(addressAt(buf, off))?.key;
  }

  /** The fc address of the node bound to the address at buf[off, off + 4), if any. */
  fcAddressOf(buf: Uint8Array, off: number): Uint8Array | undefined {
    return this.bindings.get(addressAt(buf, off))?.fcAddress;
  }

  /** Drops the bindings not refreshed for HOLD_MS; whether any went. Once a second at most, so
   *  that newcomers knocking at a full table do not make every packet walk it. */
  private evictStale(now: number): boolean {
    if (now - this.sweptAt < 1000) return false;
    this.sweptAt = now;
    const before = this.bindings.size;
    for (const [address, b] of this.bindings) if (now - b.seen >= HOLD_MS) this.bindings.delete(address);
    return this.bindings.size < before;
  }
}

function addressAt(buf: Uint8Array, off: number): number {
  // 100.64.0.0/10 stays below 2^31: a small integer, no allocation as a Map key.
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

