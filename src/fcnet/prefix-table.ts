// Longest-prefix match for the routed prefixes (prefix.ts): which node a packet for an address
// outside fc00::/8 goes to. A binary trie per family, one level per bit: a lookup walks at most
// 32 or 128 steps and allocates nothing, so it can sit on the send path. Prefixes are few (what
// nodes announce, not the Internet's table), so the trie's size does not matter.
import type { Prefix } from './prefix.js';

class TrieNode<T> {
  zero: TrieNode<T> | null = null;
  one: TrieNode<T> | null = null;
  value: T | undefined = undefined;
}

export class PrefixTable<T> {
  private readonly roots = { 4: new TrieNode<T>(), 6: new TrieNode<T>() };
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Sets the value of exactly `p` (replacing one there). */
  set(p: Prefix, value: T): void {
    let node = this.roots[p.family];
    for (let bit = 0; bit < p.length; bit++) {
      const one = ((p.address[bit >> 3]! >> (7 - (bit & 7))) & 1) === 1;
      let next = one ? node.one : node.zero;
      if (!next) {
        next = new TrieNode<T>();
        if (one) node.one = next;
        else node.zero = next;
      }
      node = next;
    }
    if (node.value === undefined) this.count++;
    node.value = value;
  }

  /** The value of exactly `p`, if set. */
  get(p: Prefix): T | undefined {
    let node: TrieNode<T> | null = this.roots[p.family];
    for (let bit = 0; bit < p.length && node; bit++) node = ((p.address[bit >> 3]! >> (7 - (bit & 7))) & 1) === 1 ? node.one : node.zero;
    return node?.value;
  }

  /** Removes exactly `p`; whether it was there. Emptied branches stay (prefixes are few). */
  delete(p: Prefix): boolean {
    let node: TrieNode<T> | null = this.roots[p.family];
    for (let bit = 0; bit < p.length && node; bit++) node = ((p.address[bit >> 3]! >> (7 - (bit & 7))) & 1) === 1 ? node.one : node.zero;
    if (!node || node.value === undefined) return false;
    node.value = undefined;
    this.count--;
    return true;
  }

  /** The value of the longest prefix containing the address at buf[off, off + 4 or 16). */
  lookup(family: 4 | 6, buf: Uint8Array, off: number): T | undefined {
    let node: TrieNode<T> | null = this.roots[family];
    let best = node.value;
    const bits = family === 6 ? 128 : 32;
    for (let bit = 0; bit < bits; bit++) {
      node = ((buf[off + (bit >> 3)]! >> (7 - (bit & 7))) & 1) === 1 ? node.one : node.zero;
      if (!node) break;
      if (node.value !== undefined) best = node.value;
    }
    return best;
  }

  clear(): void {
    this.roots[4] = new TrieNode<T>();
    this.roots[6] = new TrieNode<T>();
    this.count = 0;
  }
}
