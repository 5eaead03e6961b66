// What every CLI command that talks to the daemon shares: connecting to the D-Bus API, turning
// its answers into one line a person can act on, and the exit code. The CLI keeps no state and
// computes nothing the daemon can tell it.
import { parseIPv6 } from '../../src/keys/address.js';
import { BusClient, BusUnavailable, NotRunning } from '../dbus/bus.js';

/** Runs `command` with a connected client; prints failures as one line and returns the exit code. */
export async function withDaemon(name: string, command: (client: BusClient) => Promise<void>): Promise<number> {
  let client: BusClient | null = null;
  try {
    client = await BusClient.connect();
    await command(client);
    return 0;
  } catch (err) {
    process.stderr.write(`rovy ${name}: ${describeFailure(err)}\n`);
    return 1;
  } finally {
    client?.close();
  }
}

function describeFailure(err: unknown): string {
  if (err instanceof NotRunning) return 'no rovy daemon is running: start one with `rovy daemon` (or `systemctl start rovyd`)';
  if (err instanceof BusUnavailable) return `cannot reach the system bus (${err.message}), so no rovy daemon can be asked: the CLI needs the daemon's D-Bus API (start dbus, then \`rovy daemon\`)`;
  const e = err as Error & { dbusName?: string };
  if (e.dbusName === 'net.rovy.Rovy1.Error.NotAuthorized') return `not allowed: ${e.message}`;
  return e.message;
}

/** Every object the daemon exports below the root: path → interface → property → plain value. */
type ManagedObjects = Record<string, Record<string, Record<string, unknown>>>;

/** An object the daemon exports, with the properties of one of its interfaces. */
export interface BusObject {
  path: string;
  props: Record<string, unknown>;
}

/**
 * The objects with interface `iface` (peers, neighbours) in one GetManagedObjects answer, each
 * with that interface's properties, by peer ID. A command reads the objects once and takes all
 * it shows from that answer.
 */
export function objectsWith(objects: ManagedObjects, iface: string): BusObject[] {
  return Object.entries(objects)
    .filter(([, ifaces]) => iface in ifaces)
    .map(([path, ifaces]) => ({ path, props: ifaces[iface]! }))
    .sort((a, b) => String(a.props.PeerId).localeCompare(String(b.props.PeerId)));
}

/**
 * Names for peer IDs in text meant for people (a route's hops): the petname where the daemon
 * knows one, otherwise the peer ID cut short (--json output always has the whole ID).
 */
export function peerNamer(peers: BusObject[]): (peerId: string) => string {
  const petnames = new Map(peers.filter((p) => p.props.Petname).map((p) => [String(p.props.PeerId), String(p.props.Petname)]));
  return (peerId) => petnames.get(peerId) ?? shortPeerId(peerId);
}

/** A route's nodes for people: "bob > c… > erin"; a route a lookup found names only its first hop
 *  and its end (Route), so the hops between are counted: "bob > (2 more) > erin". */
export function routeText(route: readonly string[], hops: number, name: (peerId: string) => string): string {
  if (route.length >= hops || route.length < 2) return route.map(name).join(' > ');
  return `${name(route[0]!)} > (${hops - route.length} more) > ${name(route[route.length - 1]!)}`;
}

/** The first 16 characters of a peer ID and an ellipsis (every peer ID begins "bafzqai"). */
export function shortPeerId(peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 16)}…` : peerId;
}

/** Whether two IPv6 texts name one address (fc00:0::1 and fc00::1 do); false if either does not parse. */
export function sameAddress(a: string, b: string): boolean {
  try {
    return Buffer.from(parseIPv6(a)).equals(Buffer.from(parseIPv6(b)));
  } catch {
    return false;
  }
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
