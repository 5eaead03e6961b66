// fc00::/8 address → value, looked up straight from the bytes of a packet header: no string or
// object is made per lookup, because this runs for every packet read from the TUN.
import { equal16 } from './ipv6.js';

interface Slot<T> {
  address: Uint8Array;
  value: T;
}

export class AddressTable<T> {
  // Keyed by 30 bits of the address (a small integer: V8 keeps it unboxed), then compared whole.
  // A bucket is one slot (almost always) or an array of colliding ones: a table that names every
  // node a routing map mentions holds thousands, and an array per bucket doubled their cost.
  private readonly buckets = new Map<number, Slot<T> | Slot<T>[]>();
  private count = 0;

  /** Maps `address` (copied) to `value`. */
  set(address: Uint8Array, value: T): void {
    this.put(address, value, true);
  }

  /**
   * Maps `address` to `value`, keeping the array itself rather than a copy: for a caller that
   * holds one array per address already and never modifies it (the link-state database).
   */
  setShared(address: Uint8Array, value: T): void {
    this.put(address, value, false);
  }

  /** The value for the 16-byte address at buf[off], if any. */
  lookup(buf: Uint8Array, off: number): T | undefined {
    const bucket = this.buckets.get(hashAt(buf, off));
    if (bucket === undefined) return undefined;
    if (!Array.isArray(bucket)) return equal16(bucket.address, 0, buf, off) ? bucket.value : undefined;
    for (let i = 0; i < bucket.length; i++) {
      const slot = bucket[i]!;
      if (equal16(slot.address, 0, buf, off)) return slot.value;
    }
    return undefined;
  }

  delete(address: Uint8Array): void {
    const key = hashAt(address, 0);
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return;
    if (!Array.isArray(bucket)) {
      if (!equal16(bucket.address, 0, address, 0)) return;
      this.buckets.delete(key);
      this.count--;
      return;
    }
    const i = bucket.findIndex((s) => equal16(s.address, 0, address, 0));
    if (i < 0) return;
    bucket.splice(i, 1);
    this.count--;
    if (bucket.length === 1) this.buckets.set(key, bucket[0]!);
  }

  get size(): number {
    return this.count;
  }

  forEach(visit: (address: Uint8Array, value: T) => void): void {
    for (const bucket of this.buckets.values()) {
      if (!Array.isArray(bucket)) visit(bucket.address, bucket.value);
      else for (const slot of bucket) visit(slot.address, slot.value);
    }
  }

  private put(address: Uint8Array, value: T, copy: boolean): void {
    const key = hashAt(address, 0);
    const bucket = this.buckets.get(key);
    const slot = (): Slot<T> => ({ address: copy ? address.slice(0, 16) : address, value });
    if (bucket === undefined) {
      this.buckets.set(key, slot());
    } else if (!Array.isArray(bucket)) {
      if (equal16(bucket.address, 0, address, 0)) return void (bucket.value = value);
      this.buckets.set(key, [bucket, slot()]);
    } else {
      const held = bucket.find((s) => equal16(s.address, 0, address, 0));
      if (held) return void (held.value = value);
      bucket.push(slot());
    }
    this.count++;
  }
}

function hashAt(buf: Uint8Array, off: number): number {
  // The address is a hash output already: its last four bytes are uniformly spread.
  return ((buf[off + 12]! << 22) ^ (buf[off + 13]! << 14) ^ (buf[off + 14]! << 7) ^ buf[off + 15]!) & 0x3fffffff;
}
