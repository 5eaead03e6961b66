// `rovy status` and `rovy peers`: what the daemon says about the node and its peers.
import { toJson } from '../json.js';
import { DISCOVERY_IFACE, NEIGHBOR_IFACE, NODE_IFACE, PEER_IFACE, ROOT_PATH } from '../dbus/bus.js';
import { objectsWith, peerNamer, routeText, withDaemon, type BusObject } from './client.js';

const isRouted = (p: BusObject): boolean => p.props.Origin === 'routed';

export function runStatus(json: boolean): Promise<number> {
  return withDaemon('status', async (client) => {
    const props = await client.getAll(ROOT_PATH, NODE_IFACE);
    const objects = await client.managedObjects(ROOT_PATH);
    const all = objectsWith(objects, PEER_IFACE);
    // "peers" are the neighbours; nodes reached through them are counted apart.
    const peers = all.filter((p) => !isRouted(p));
    const routed = all.length - peers.length;
    const connected = peers.filter((p) => p.props.State === 'connected').length;
    const discovery = await client.getAll(ROOT_PATH, DISCOVERY_IFACE);
    const onLan = objectsWith(objects, NEIGHBOR_IFACE).length;
    // What was dropped and why, the data path's work per wakeup and call, the links kept: from Describe().
    const described = JSON.parse((await client.call(ROOT_PATH, NODE_IFACE, 'Describe', '', [])) as string) as { counters: object; dataPath: object; links: LinksReport; prefixes: PrefixesReport; routing?: RoutingReport; exit?: ExitReport };
    if (json) {
      const summary = { peers: peers.length, connectedPeers: connected, routedPeers: routed, discovery: discovery.Policy, lanNodes: onLan };
      process.stdout.write(JSON.stringify({ ...(toJson(props) as object), ...summary, links: described.links, prefixes: described.prefixes, routing: described.routing, exit: described.exit, counters: described.counters, dataPath: described.dataPath }) + '\n');
      return;
    }
    const rows: [string, unknown][] = [
      ['peer id', props.PeerId],
      ['address', props.Address],
      ['interface', props.InterfaceName],
      ['state', `${String(props.State)}${props.Enabled ? '' : ' (switched off: rovy up)'}`],
      ['listen', (props.Listen as string[]).join(', ')],
      ['peers', `${connected} connected of ${peers.length}${routed ? `, ${routed} more reached by route (rovy routes)` : ''}`],
      ['discovery', discovery.Policy === 'off' ? 'off' : `${String(discovery.Policy)}, ${onLan} node(s) on the local network (rovy discovery)`],
      ...linkRows(described.links),
      ...meshRows(described.routing),
      ...prefixRows(described.prefixes),
      ...exitRows(described.exit),
      ...((props.Blocked as string[]).length > 0 ? [['blocked', `${(props.Blocked as string[]).length} node(s) (rovy blocked)`] as [string, unknown]] : []),
      ['version', props.Version],
    ];
    process.stdout.write(rows.map(([k, v]) => `${k.padEnd(10)} ${String(v)}`).join('\n') + '\n');
  });
}

interface LinksReport {
  keeper?: { target: number; kept: number; candidates: number };
  exchange?: { publishing: string[] };
}

/** What the node does about links by itself, when it does anything: the links it keeps, and
 *  where it tells the mesh to reach it. */
function linkRows(links: LinksReport): [string, unknown][] {
  const rows: [string, unknown][] = [];
  const keeper = links.keeper;
  if (keeper && keeper.target > 0) rows.push(['links', `${keeper.kept} of ${keeper.target} kept by the node itself, ${keeper.candidates} candidate(s) known`]);
  const publishing = links.exchange?.publishing ?? [];
  if (publishing.length > 0) rows.push(['published', publishing.join(', ')]);
  return rows;
}

interface RoutingReport {
  mapNodes: number;
  contacts: number;
  meshSize: number;
  publishPeriodSeconds: number;
}

/** The mesh as the node sees it beyond its routes: its size as the node estimates it (from the
 *  lookup table), how often its locator goes out for that, and what it holds to find nodes. */
function meshRows(routing: RoutingReport | undefined): [string, unknown][] {
  if (!routing) return [];
  const { meshSize, publishPeriodSeconds, contacts, mapNodes } = routing;
  return [['mesh', `about ${meshSize.toLocaleString('en-US')} node(s), as estimated; locator published every ${periodText(publishPeriodSeconds)}; ${contacts} lookup contact(s), ${mapNodes} node(s) in the map`]];
}

/** A period of hours to months as people say it: "3 days", "36 hours". */
function periodText(seconds: number): string {
  const hours = seconds / 3600;
  if (hours >= 48) return `${Math.round(hours / 24)} days`;
  if (hours >= 2) return `${Math.round(hours)} hours`;
  return `${Math.round(seconds / 60)} minutes`;
}

interface PrefixesReport {
  announced?: string[];
  accepted?: number;
  refused?: number;
  conflicts?: number;
}

/** Routed prefixes, when there are any: what this node announces, and what it made of others' claims (rovy routes lists them). */
function prefixRows(prefixes: PrefixesReport | undefined): [string, unknown][] {
  const rows: [string, unknown][] = [];
  if (!prefixes) return rows;
  if (prefixes.announced?.length) rows.push(['announces', prefixes.announced.join(', ')]);
  const { accepted = 0, refused = 0, conflicts = 0 } = prefixes;
  if (accepted + refused + conflicts > 0) {
    const parts = [`${accepted} routed`, ...(refused ? [`${refused} refused`] : []), ...(conflicts ? [`${conflicts} in conflict`] : [])];
    rows.push(['prefixes', `${parts.join(', ')} (rovy routes)`]);
  }
  return rows;
}

interface ExitReport {
  state: string;
  using: string | null;
  killSwitch: boolean;
  offering: { offer: boolean; bound: number };
  offers: unknown[];
}

/** Exits, when there is anything to say: the one in use, what this node offers, how many do. */
function exitRows(exit: ExitReport | undefined): [string, unknown][] {
  const rows: [string, unknown][] = [];
  if (!exit) return rows;
  if (exit.using) rows.push(['exit', `${exit.using}, ${exit.state}${exit.killSwitch ? ', kill switch on' : ''} (rovy exit)`]);
  else if (exit.offers.length > 0) rows.push(['exit', `none used; ${exit.offers.length} node(s) offer one (rovy exit)`]);
  if (exit.offering.offer) rows.push(['offering', `an exit, ${exit.offering.bound} client address(es) bound`]);
  return rows;
}

export function runPeers(json: boolean): Promise<number> {
  return withDaemon('peers', async (client) => {
    const peers = objectsWith(await client.managedObjects(ROOT_PATH), PEER_IFACE);
    if (json) {
      process.stdout.write(JSON.stringify(peers.map((p) => ({ path: p.path, ...(toJson(p.props) as object) }))) + '\n');
      return;
    }
    if (peers.length === 0) {
      process.stdout.write('no peers\n');
      return;
    }
    // Neighbours first, by peer ID; then the nodes reached through them, nearest first.
    const neighbours = peers.filter((p) => !isRouted(p));
    const routed = peers.filter(isRouted).sort((a, b) => hopsOrder(a) - hopsOrder(b));
    const namer = peerNamer(peers);
    for (const { props } of [...neighbours, ...routed]) {
      const name = props.Petname ? ` (${String(props.Petname)})` : '';
      const rtt = Number(props.RttMicroseconds) > 0 ? `, rtt ${(Number(props.RttMicroseconds) / 1000).toFixed(1)} ms` : '';
      const route = (props.Route as string[] | undefined) ?? [];
      const hops = Number(props.HopCount);
      const counters = `received ${String(props.RxBytes)} B, sent ${String(props.TxBytes)} B`;
      let kind: string;
      let where: string;
      if (props.Origin === 'routed') {
        kind = hops > 0 && route.length > 0 ? `routed, ${hops} hops via ${namer(route[0]!)}` : 'routed, no route now';
        where = route.length > 0 ? `route ${routeText(route, hops, namer)}, mtu ${String(props.RouteMtu)}` : 'route -';
      } else {
        kind = `neighbour (${String(props.Origin)})`;
        where = `endpoint ${String(props.Endpoint) || '-'}`;
      }
      process.stdout.write(`${String(props.PeerId)}${name}\n  ${String(props.Address)}  ${String(props.State)}${rtt}, ${kind}\n  ${where}, ${counters}\n`);
    }
  });
}

/** Routed peers with a route by hop count; those without one last. */
function hopsOrder(p: BusObject): number {
  const hops = Number(p.props.HopCount);
  return hops > 0 ? hops : Number.MAX_SAFE_INTEGER;
}
