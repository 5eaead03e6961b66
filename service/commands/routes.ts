// `rovy routes`: every node there is a route to, neighbours and routed peers alike, nearest
// first. Read from the daemon's peer objects (HopCount, Route, RouteMtu); nothing is computed
// here that the daemon does not say.
import { parseIPv6 } from '../../src/keys/address.js';
import { NODE_IFACE, PEER_IFACE, ROOT_PATH } from '../dbus/bus.js';
import { objectsWith, peerNamer, routeText, table, withDaemon, type BusObject } from './client.js';

/**
 * One line of `rovy routes --json`. These field names are part of the CLI's interface
 * (docs/DBUS.md); new fields may be added, none renamed.
 */
export interface RouteEntry {
  /** The destination's peer ID. */
  peerId: string;
  /** Its petname, "" if none. */
  petname: string;
  /** Its fc00::/8 address. */
  address: string;
  /** "config" or "runtime" for a neighbour, "routed" for a node reached through others. */
  origin: string;
  /** The session's state: "connected", "connecting" or "disconnected". */
  state: string;
  /** Hops to it: 1 for a neighbour. */
  hops: number;
  /** The peer ID of the first hop (the destination itself for a neighbour). */
  via: string;
  /** Peer IDs of every node after this one on the path, the destination last. */
  route: string[];
  /** The largest IPv6 packet the route carries. */
  routeMtu: number;
  /** How the route was learned (the peer's RouteSource): "link", "map", or a lookup's "lookup",
   *  "probe", "return" or "request". */
  source: string;
  /** The tree that steered the request which found it (RouteTree); -1 for "link" and "map". */
  tree: number;
  /** When a lookup found it, ms since the epoch (RouteFound); null for "link" and "map". */
  foundAt: number | null;
  /** The destination's D-Bus object (as in `rovy peers --json`). */
  path: string;
}

/** The peer objects with a route (HopCount > 0), sorted by hops, then by address. */
export function routesOf(peers: BusObject[]): RouteEntry[] {
  const entries: RouteEntry[] = [];
  for (const { path, props } of peers) {
    const hops = Number(props.HopCount);
    const route = (props.Route as string[] | undefined) ?? [];
    if (!(hops > 0) || route.length === 0) continue;
    entries.push({
      peerId: String(props.PeerId),
      petname: String(props.Petname ?? ''),
      address: String(props.Address),
      origin: String(props.Origin),
      state: String(props.State),
      hops,
      via: route[0]!,
      route,
      routeMtu: Number(props.RouteMtu),
      source: String(props.RouteSource ?? ''),
      tree: Number(props.RouteTree ?? -1),
      foundAt: props.RouteFound ? Math.round(Number(props.RouteFound) / 1000) : null,
      path,
    });
  }
  return entries.sort((a, b) => a.hops - b.hops || compareAddresses(a.address, b.address));
}

export function runRoutes(json: boolean): Promise<number> {
  return withDaemon('routes', async (client) => {
    const peers = objectsWith(await client.managedObjects(ROOT_PATH), PEER_IFACE);
    const routes = routesOf(peers);
    if (json) {
      process.stdout.write(JSON.stringify(routes) + '\n');
      return;
    }
    const name = peerNamer(peers);
    // Routed prefixes (networks behind nodes) come after the nodes, with what this node made of each claim.
    const described = JSON.parse((await client.call(ROOT_PATH, NODE_IFACE, 'Describe', '', [])) as string) as {
      peerId: string;
      prefixes?: { claims: { prefix: string; origin: string; verdict: string }[] };
      routing?: { trees: { tree: number; root: string; depth: number }[] };
    };
    const claims = described.prefixes?.claims ?? [];
    if (routes.length === 0 && claims.length === 0) process.stdout.write('no routes\n');
    else if (routes.length === 0) process.stdout.write('no routes to nodes\n');
    else printNodes(routes, name);
    if (claims.length > 0) {
      const verdicts: Record<string, string> = { granted: 'routed (granted)', delegated: 'routed (delegated)', refused: 'refused', conflict: 'conflict: not routed' };
      process.stdout.write('\n' + table([['PREFIX', 'CLAIMED BY', 'HERE'], ...claims.map((c) => [c.prefix, name(c.origin), verdicts[c.verdict] ?? c.verdict])]));
    }
    // The trees that lookups are steered along ("lookup, tree 2" above): whose root this node is
    // under in each, and how deep.
    const trees = described.routing?.trees ?? [];
    if (trees.length > 0) {
      const root = (peerId: string) => (peerId === described.peerId ? 'this node' : name(peerId));
      process.stdout.write('\n' + table([['TREE', 'ROOT', 'DEPTH'], ...trees.map((t) => [String(t.tree), root(t.root), String(t.depth)])]));
    }
  });
}

function printNodes(routes: RouteEntry[], name: (peerId: string) => string): void {
  const now = Date.now();
  const rows = [
    ['DESTINATION', 'ADDRESS', 'HOPS', 'VIA', 'MTU', 'FOUND BY', 'PATH'],
    ...routes.map((r) => [r.petname || r.peerId, r.address, String(r.hops), r.hops === 1 ? 'direct' : name(r.via), String(r.routeMtu), foundBy(r, now), routeText(r.route, r.hops, name)]),
  ];
  process.stdout.write(table(rows));
}

/** "link", "map", or how and when a lookup found it: "probe, tree 2, 40 s ago". */
function foundBy(r: RouteEntry, now: number): string {
  if (r.foundAt === null) return r.source;
  const seconds = Math.max(0, Math.round((now - r.foundAt) / 1000));
  const ago = seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
  return r.tree >= 0 ? `${r.source}, tree ${r.tree}, ${ago}` : `${r.source}, ${ago}`;
}

/** Orders IPv6 texts by their 128-bit value; text that does not parse sorts last, as text. */
function compareAddresses(a: string, b: string): number {
  const bytes = (s: string): Buffer | null => {
    try {
      return Buffer.from(parseIPv6(s));
    } catch {
      return null;
    }
  };
  const x = bytes(a);
  const y = bytes(b);
  if (x && y) return Buffer.compare(x, y);
  if (x || y) return x ? -1 : 1;
  return a.localeCompare(b);
}
