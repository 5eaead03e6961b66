// `rovy exit [--json]`, `rovy exit use PEER [--kill-switch]`, `rovy exit off`: the exit this
// machine's traffic beyond the mesh goes through (net.rovy.Rovy1.Exit). PEER is a peer ID, a
// petname, or the fc00::/8 address of a node.
import { EXIT_IFACE, NAMES_IFACE, ROOT_PATH } from '../dbus/bus.js';
import { table, withDaemon } from './client.js';
import { peerOfText } from './names.js';

export const EXIT_USAGE = 'rovy exit [--json] | rovy exit use PEER [--kill-switch] | rovy exit off';

/** What each state means, for the listing. */
const STATE_TEXT: Record<string, string> = {
  off: 'no exit: traffic beyond the mesh takes this machine\'s own routes',
  active: 'traffic beyond the mesh goes through the exit',
  unavailable: 'the exit offers nothing now or cannot be reached: this machine\'s own routes carry the traffic',
  blocked: 'the exit offers nothing now or cannot be reached: the kill switch keeps everything inside the mesh',
};

export function runExit(args: string[], json: boolean, killSwitch: boolean): Promise<number> | number {
  const [action, peer, ...extra] = args;
  const problem =
    action !== undefined && action !== 'use' && action !== 'off'
      ? `unknown action ${JSON.stringify(action)}`
      : action === 'use' && (peer === undefined || extra.length > 0)
        ? 'give one PEER'
        : action === 'off' && peer !== undefined
          ? '"off" takes no argument'
          : killSwitch && action !== 'use'
            ? '--kill-switch goes with use'
            : json && action !== undefined
              ? '--json goes with the listing'
              : null;
  if (problem) {
    process.stderr.write(`rovy exit: ${problem} (usage: ${EXIT_USAGE})\n`);
    return 2;
  }
  return withDaemon('exit', async (client) => {
    if (action !== undefined) {
      const peerId = action === 'off' ? '' : await peerOfText(client, peer!);
      await client.call(ROOT_PATH, EXIT_IFACE, 'SetExitNode', 'sb', [peerId, killSwitch]);
      const props = await client.getAll(ROOT_PATH, EXIT_IFACE);
      if (action === 'off') process.stdout.write('no exit used: this machine\'s routes are as they were\n');
      else {
        process.stdout.write(`using ${peerId} as the exit${killSwitch ? ', kill switch on' : ''}: ${props.State as string}\n`);
        const offers = props.Offers as [string, boolean, boolean, number][];
        if (!offers.some(([id]) => id === peerId)) process.stdout.write(`${peerId} offers no exit now: its traffic waits for it (rovy exit lists the nodes that do)\n`);
      }
      return;
    }
    const props = await client.getAll(ROOT_PATH, EXIT_IFACE);
    const offers = (props.Offers as [string, boolean, boolean, number][]).map(([peerId, ipv4, ipv6, hops]) => ({ peerId, ipv4, ipv6, hops: hops === 0 ? null : hops }));
    const names = (await client.getAll(ROOT_PATH, NAMES_IFACE)).Names as [string, string, string][];
    const nameOf = (peerId: string): string => names.find(([, id]) => id === peerId)?.[0] ?? '';
    const node = props.Node as string;
    if (json) {
      process.stdout.write(
        JSON.stringify({ state: props.State, node: node || null, killSwitch: props.KillSwitch, address: props.Address, offering: props.Offering, offers: offers.map((o) => ({ ...o, name: nameOf(o.peerId) || null })) }) + '\n',
      );
      return;
    }
    const state = props.State as string;
    process.stdout.write(node ? `exit: ${nameOf(node) || node}${props.KillSwitch ? ' (kill switch on)' : ''} — ${state}: ${STATE_TEXT[state] ?? state}\n` : `${STATE_TEXT.off}\n`);
    if (props.Offering) process.stdout.write('this node offers an exit ([exit] offer)\n');
    if (offers.length === 0) process.stdout.write('no node offers an exit now\n');
    else {
      const families = (o: { ipv4: boolean; ipv6: boolean }): string => [o.ipv6 ? 'IPv6' : '', o.ipv4 ? 'IPv4' : ''].filter(Boolean).join('+');
      const rows = offers.map((o) => [o.peerId === node ? '*' : '', nameOf(o.peerId) || '-', o.peerId, families(o), o.hops === null ? 'no route' : String(o.hops)]);
      process.stdout.write(table([['', 'NAME', 'PEER', 'FAMILIES', 'HOPS'], ...rows]));
    }
  });
}
