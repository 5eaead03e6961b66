// `rovy name set NAME PEER`, `rovy name rm NAME`, `rovy name list [--json]`: petnames, kept by
// the daemon (net.rovy.Rovy1.Names). PEER is a peer ID, or the fc00::/8 address of a node the
// daemon knows (a peer or a neighbour on the LAN).
import { NAMES_IFACE, NEIGHBOR_IFACE, PEER_IFACE, ROOT_PATH, type BusClient } from '../dbus/bus.js';
import { objectsWith, sameAddress, table, withDaemon } from './client.js';

export const NAME_USAGE = 'rovy name set NAME PEER | rovy name rm NAME | rovy name list [--json]';

export function runName(args: string[], json: boolean): Promise<number> | number {
  const [action, ...rest] = args;
  const want = action === 'set' ? 2 : action === 'rm' ? 1 : action === 'list' ? 0 : -1;
  if (want < 0 || rest.length !== want || (json && action !== 'list')) {
    process.stderr.write(`rovy name: ${want < 0 ? `unknown action ${JSON.stringify(action ?? '')}` : 'wrong arguments'} (usage: ${NAME_USAGE})\n`);
    return 2;
  }
  return withDaemon('name', async (client) => {
    if (action === 'set') {
      const peerId = await peerIdOf(client, rest[1]!);
      await client.call(ROOT_PATH, NAMES_IFACE, 'Set', 'ss', [rest[0]!, peerId]);
      process.stdout.write(`${rest[0]!.toLowerCase()}.rovy is ${peerId}\n`);
    } else if (action === 'rm') {
      await client.call(ROOT_PATH, NAMES_IFACE, 'Remove', 's', [rest[0]!]);
      process.stdout.write(`removed ${rest[0]!.toLowerCase()}\n`);
    } else {
      const names = (await client.getAll(ROOT_PATH, NAMES_IFACE)).Names as [string, string, string][];
      if (json) {
        process.stdout.write(JSON.stringify(names.map(([name, peerId, source]) => ({ name, peerId, source }))) + '\n');
      } else if (names.length === 0) {
        process.stdout.write('no names (rovy name set NAME PEER gives one)\n');
      } else {
        process.stdout.write(table([['NAME', 'PEER ID', 'SOURCE'], ...names]));
      }
    }
  });
}

/** A peer ID as given, the peer of a petname, or of an fc address. */
export async function peerOfText(client: BusClient, text: string): Promise<string> {
  if (text.includes(':')) return peerIdOf(client, text);
  const names = (await client.getAll(ROOT_PATH, NAMES_IFACE)).Names as [string, string, string][];
  return names.find(([name]) => name === text.toLowerCase())?.[1] ?? text;
}

/** A peer ID as given, or the peer ID of the peer or neighbour with fc address `text`. */
export async function peerIdOf(client: BusClient, text: string): Promise<string> {
  if (!text.includes(':')) return text; // a peer ID: the daemon checks it and says what is wrong
  const objects = await client.managedObjects(ROOT_PATH);
  const known = [...objectsWith(objects, PEER_IFACE), ...objectsWith(objects, NEIGHBOR_IFACE)].find((o) => sameAddress(String(o.props.Address), text));
  if (known) return String(known.props.PeerId);
  throw new Error(`no peer or neighbour has the address ${text}: name it by its peer ID`);
}
