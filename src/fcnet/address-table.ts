// fc00::/8 address → value, looked up straight from the bytes of a packet header: no string or
// object is made per lookup, because this runs for every packet read from the TUN.
import { equal16 } from './ipv6.js';

interface Slot<T> {
  address: Uint8Array;
  value: T;
}

export class AddressTable<T> {
  // Keyed by 30 bits of the address (a small integer: V8 keeps it unboxed), then compared whole.
  private readonly buckets = new Map<number, Slot<T>[]>();
  private count = 0;

  set(address: Uint8Array, value: T): void {
    const key = hashAt(address, 0);
    const bucket = this.buckets.get(key);
    if (!bucket) {
      this.buckets.set(key, [{ address: address.slice(), value }]);
      this.count++;
      return;
    }
    const slot = bucket.find((s) => equal16(s.address, 0, address, 0));
    if (slot) slot.value = value;
    else {
      bucket.push({ address: address.slice(), value });
      this.count++;
    }
  }

  /** The value for the 16-byte address at buf[off], if any. */
  lookup(buf: Uint8Array, off: number): T | undefined {
    const bucket = this.buckets.get(hashAt(buf, off));
    if (!bucket) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      const slot = bucket[i]!;
      if (equal16(slot.address, 0, buf, off)) return slot.value;
    }
    return undefined;
  }

  delete(address: Uint8Array): void {
    const key = hashAt(address, 0);
    const bucket = this.buckets.get(key);
    if (!bucket) return;
    const i = bucket.findIndex((s) => equal16(s.address, 0, address, 0));
    if (i < 0) return;
    bucket.splice(i, 1);
    this.count--;
    if (bucket.length === 0) this.buckets.delete(key);
  }

  get size(): number {
    return this.count;
  }

  forEach(visit: (address: Uint8Array, value: T) => void): void {
    for (const bucket of this.buckets.values()) for (const slot of bucket) visit(slot.address, slot.value);
  }
}

function hashAt(buf: Uint8Array, off: number): number {
  // The address is a hash output already: its last four bytes are uniformly spread.
  return ((buf[off + 12]! << 22) ^ (buf[off + 13]! << 14) ^ (buf[off + 14]! << 7) ^ buf[off + 15]!) & 0x3fffffff;
}
