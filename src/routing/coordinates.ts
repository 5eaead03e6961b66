// Coordinates in a spanning tree: the ports (interface indices) from the root down to a node,
// one per hop. A port names one child of one node, so two nodes' coordinates share exactly the
// prefix that leads to their lowest common ancestor, and the hops between them along the tree
// follow from the two lists alone. The coordinates of a node are also the label that leads to it
// from the root.

/** Coordinates as read from a frame (a Uint16Array) or held (a plain array: a typed array's view
 *  and buffer took some 180 bytes before its first port, at every place a node holds). */
export type Coordinates = ArrayLike<number>;

/** Hops along the tree between the nodes at coordinates a and b. */
export function treeDistance(a: Coordinates, b: Coordinates): number {
  const n = Math.min(a.length, b.length);
  let common = 0;
  while (common < n && a[common] === b[common]) common++;
  return a.length + b.length - 2 * common;
}
