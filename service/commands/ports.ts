// `rovy ports [--json]`, `rovy ports allow PORTS [--from PEER]`, `rovy ports deny PORTS [--from
// PEER]`: what of the mesh's traffic reaches this machine (net.rovy.Rovy1.Ports). PORTS is
// "22/tcp" or "FIRST-LAST/udp"; PEER a peer ID, a petname, or the fc00::/8 address of a peer.
import { NODE_IFACE, PORTS_IFACE, ROOT_PATH } from '../dbus/bus.js';
import { table, withDaemon } from './client.js';
import { peerOfText } from './names.js';

export const PORTS_USAGE = 'rovy ports [--json] | rovy ports allow|deny PORTS [--from PEER]';

export function runPorts(args: string[], json: boolean, from: string | undefined): Promise<number> | number {
  const [action, ports, ...extra] = args;
  const change = action === 'allow' || action === 'deny';
  const problem =
    action !== undefined && !change ? `unknown action ${JSON.stringify(action)}` : change && (ports === undefined || extra.length > 0) ? 'give one PORTS, like 22/tcp' : !change && from !== undefined ? '--from goes with allow or deny' : change && json ? '--json goes with the listing' : null;
  if (problem) {
    process.stderr.write(`rovy ports: ${problem} (usage: ${PORTS_USAGE})\n`);
    return 2;
  }
  return withDaemon('ports', async (client) => {
    if (change) {
      const peerId = from === undefined ? '' : await peerOfText(client, from);
      const before = rulesText(await client.getAll(ROOT_PATH, PORTS_IFACE));
      await client.call(ROOT_PATH, PORTS_IFACE, action === 'allow' ? 'Allow' : 'Deny', 'ss', [ports!, peerId]);
      const after = rulesText(await client.getAll(ROOT_PATH, PORTS_IFACE));
      const who = peerId === '' ? 'every node' : peerId;
      const done = before !== after;
      process.stdout.write(action === 'allow' ? (done ? `opened ${ports!.toLowerCase()} to ${who}\n` : `${ports!.toLowerCase()} was open to ${who} already\n`) : `closed ${ports!.toLowerCase()} to ${who}\n`);
      return;
    }
    const props = await client.getAll(ROOT_PATH, PORTS_IFACE);
    const rules = props.Rules as [string, string, string][];
    if (json) {
      const described = JSON.parse((await client.call(ROOT_PATH, NODE_IFACE, 'Describe', '', [])) as string) as { counters: { filtered: number } };
      process.stdout.write(JSON.stringify({ filter: props.Filter, rules: rules.map(([p, peerId, source]) => ({ ports: p, peerId: peerId || null, source })), filtered: described.counters.filtered }) + '\n');
      return;
    }
    if (!props.Filter) process.stdout.write('the filter is off ([ports] filter = false): the mesh reaches every port of this machine\n');
    else if (rules.length === 0) process.stdout.write('no port is open to the mesh (rovy ports allow 22/tcp opens one); replies and ping always pass\n');
    else process.stdout.write(table([['PORTS', 'OPEN TO', 'SOURCE'], ...rules.map(([p, peerId, source]) => [p, peerId || 'every node', source])]));
  });
}

function rulesText(props: Record<string, unknown>): string {
  return JSON.stringify(props.Rules);
}
