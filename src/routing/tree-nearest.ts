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

interface TrieNode {
  children: Map<number, TrieNode> | null;
  /** The fewest ports of any neighbour under this node, and the lowest link among those. */
  shortest: number;
  link: number;
}

export class NearestIndex {
  private readonly root: TrieNode = { children: null, shortest: Infinity, link: -1 };

  /** Adds the neighbour at `link` whose place in the tree is `coordinates`. */
  add(link: number, coordinates: Uint16Array): void {
    const length = coordinates.length;
    let node = this.root;
    for (let depth = 0; ; depth++) {
      if (length < node.shortest || (length === node.shortest && link < node.link)) {
        node.shortest = length;
        node.link = link;
      }
      if (depth === length) return;
      const port = coordinates[depth]!;
      node.children ??= new Map();
      let child = node.children.get(port);
      if (!child) node.children.set(port, (child = { children: null, shortest: Infinity, link: -1 }));
      node = child;
    }
  }

  /**
   * The link of the neighbour nearest to `coordinates` (the lowest link among equals), if it is
   * nearer than `within` hops or as near with a lower link than `known` (a neighbour at `within`
   * hops found otherwise); else `known` (-1: none).
   */
  nearest(coordinates: Uint16Array, within: number, known = -1): number {
    const length = coordinates.length;
    let best = within;
    let chosen = known;
    let node: TrieNode | undefined = this.root;
    for (let depth = 0; node; depth++) {
      const bound = length - 2 * depth + node.shortest;
      if (bound < best || (bound === best && chosen !== -1 && node.link < chosen)) {
        best = bound;
        chosen = node.link;
      }
      if (depth === length || !node.children) break;
      node = node.children.get(coordinates[depth]!);
    }
    return chosen;
  }
}
