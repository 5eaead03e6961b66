// Which neighbour is nearest, along one tree, to a place: the greedy step of tree routing
// (Trees.nextHop) without looking at every neighbour. A hub passes on a tree-routed frame for
// each lookup step that crosses it, and has hundreds of neighbours.
//
// The neighbours' coordinates go into a trie. A neighbour p is d(p, x) = |p| + |x| − 2·lcp(p, x)
// hops from x along the tree; walking x's ports down the trie, the neighbours under the node at
// depth L share at least L ports with x, so |x| − 2L + (the shortest coordinates under that
// node) bounds the distance of the best of them, and is exact for the neighbours that share
// exactly L. The least bound over the walk is the least distance: |x| + 1 steps, whatever the
// number of neighbours.
import type { Coordinates } from './coordinates.js';

// A trie node's children are an array sorted by port, searched by halves: a Map each took some
// 300 bytes, where most nodes have one child or two (a hub's own node has hundreds).
interface TrieNode {
  port: number;
  children: TrieNode[] | null;
  /** The fewest ports of any neighbour under this node, and the lowest link among those. */
  shortest: number;
  link: number;
}

/** More ports than any coordinates have: a small integer, so the field holds no boxed number. */
const NONE = 1 << 30;

const trieNode = (port: number): TrieNode => ({ port, children: null, shortest: NONE, link: -1 });

/** Where `port` is in the sorted `children`, or where it would go (bitwise not, negative). */
function childAt(children: readonly TrieNode[], port: number): number {
  let lo = 0;
  let hi = children.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const p = children[mid]!.port;
    if (p === port) return mid;
    if (p < port) lo = mid + 1;
    else hi = mid - 1;
  }
  return ~lo;
}

export class NearestIndex {
  private readonly root: TrieNode = trieNode(-1);

  /** Adds the neighbour at `link` whose place in the tree is `coordinates`. */
  add(link: number, coordinates: Coordinates): void {
    const length = coordinates.length;
    let node = this.root;
    for (let depth = 0; ; depth++) {
      if (length < node.shortest || (length === node.shortest && link < node.link)) {
        node.shortest = length;
        node.link = link;
      }
      if (depth === length) return;
      const port = coordinates[depth]!;
      const children = (node.children ??= []);
      const at = childAt(children, port);
      if (at >= 0) node = children[at]!;
      else {
        const child = trieNode(port);
        children.splice(~at, 0, child);
        node = child;
      }
    }
  }

  /**
   * The link of the neighbour nearest to `coordinates` (the lowest link among equals), if it is
   * nearer than `within` hops or as near with a lower link than `known` (a neighbour at `within`
   * hops found otherwise); else `known` (-1: none).
   */
  nearest(coordinates: Coordinates, within: number, known = -1): number {
    const length = coordinates.length;
    let best = within;
    let chosen = known;
    let node: TrieNode | undefined = this.root;
    for (let depth = 0; node; depth++) {
      if (node.shortest === NONE) break; // empty
      const bound = length - 2 * depth + node.shortest;
      if (bound < best || (bound === best && chosen !== -1 && node.link < chosen)) {
        best = bound;
        chosen = node.link;
      }
      if (depth === length || !node.children) break;
      const at = childAt(node.children, coordinates[depth]!);
      node = at >= 0 ? node.children[at] : undefined;
    }
    return chosen;
  }
}
