// `rovy discovery [--json]`: the nodes found on the local network and the policy;
// `rovy discovery on|off|auto|manual`: switches it (net.rovy.Rovy1.Discovery).
import { toJson } from '../json.js';
import { DISCOVERY_IFACE, NEIGHBOR_IFACE, NODE_IFACE, ROOT_PATH, type BusClient } from '../dbus/bus.js';
import { objectsWith, shortPeerId, table, withDaemon } from './client.js';

export const DISCOVERY_USAGE = 'rovy discovery [--json] | rovy discovery on|off|auto|manual';
const ACTIONS = ['on', 'off', 'auto', 'manual'];

export function runDiscovery(args: string[], json: boolean): Promise<number> | number {
  const [action] = args;
  const problem =
    args.length > 1
      ? `unexpected argument "${args[1]}"`
      : action !== undefined && !ACTIONS.includes(action)
        ? `unknown action ${JSON.stringify(action)}`
        : action !== undefined && json
          ? `--json goes only with the listing, not with ${ACTIONS.join('|')}`
          : null;
  if (problem !== null) {
    process.stderr.write(`rovy discovery: ${problem} (usage: ${DISCOVERY_USAGE})\n`);
    return 2;
  }
  return withDaemon('discovery', async (client) => {
    if (action === 'on' || action === 'off') {
      await client.call(ROOT_PATH, DISCOVERY_IFACE, 'SetEnabled', 'b', [action === 'on']);
    } else if (action !== undefined) {
      await client.call(ROOT_PATH, DISCOVERY_IFACE, 'SetPolicy', 's', [action]);
    }
    await show(client, json, action !== undefined);
  });
}

async function show(client: BusClient, json: boolean, brief: boolean): Promise<void> {
  const props = await client.getAll(ROOT_PATH, DISCOVERY_IFACE);
  const neighbors = brief ? [] : objectsWith(await client.managedObjects(ROOT_PATH), NEIGHBOR_IFACE);
  if (json) {
    process.stdout.write(JSON.stringify({ ...(toJson(props) as object), neighbors: neighbors.map((n) => toJson({ path: n.path, ...n.props })) }) + '\n');
    return;
  }
  const interfaces = (props.Interfaces as string[]).join(', ') || 'none';
  // Not running under a policy other than off: the mesh is off, or discovery could not start.
  let why = '';
  if (!props.Enabled && props.Policy !== 'off') {
    const mesh = await client.getAll(ROOT_PATH, NODE_IFACE);
    why = mesh.Enabled ? " (not running: it could not start, the daemon's log says why)" : ' (mesh switched off)';
  }
  process.stdout.write(`discovery ${String(props.Policy)}${why}, interfaces: ${interfaces}\n`);
  if (brief) return;
  if (neighbors.length === 0) {
    process.stdout.write('no nodes found on the local network\n');
    return;
  }
  const now = Date.now();
  const rows = neighbors.map(({ props: n }) => [
    String(n.Petname) || shortPeerId(String(n.PeerId)),
    String(n.Address),
    String(n.Interface),
    String(n.Endpoint),
    `${Math.max(0, Math.round((now - Number(BigInt(n.LastSeen as bigint) / 1000n)) / 1000))}s ago`,
    n.Connected ? 'connected' : n.Peer !== '/' ? 'peer' : '-',
  ]);
  process.stdout.write(table([['NODE', 'ADDRESS', 'IFACE', 'ENDPOINT', 'SEEN', 'PEER'], ...rows]));
  if (props.Policy === 'manual') process.stdout.write('connect to one with: rovy connect PEERID (rovy discovery --json has the IDs)\n');
}
