// `rovy connect`, `rovy disconnect`, `rovy up`, `rovy down`: the actions, each one D-Bus call.
import { parseIPv6 } from '../../src/keys/address.js';
import { NODE_IFACE, ROOT_PATH, listPeers, withDaemon } from './client.js';

export function runConnect(multiaddr: string, json: boolean): Promise<number> {
  return withDaemon('connect', async (client) => {
    const path = (await client.call(ROOT_PATH, NODE_IFACE, 'Connect', 'sa{sv}', [multiaddr, {}])) as string;
    process.stdout.write(json ? JSON.stringify({ path }) + '\n' : `added ${path}\n`);
  });
}

/** `peer` is a peer ID or an fc00::/8 address. */
export function runDisconnect(peer: string): Promise<number> {
  return withDaemon('disconnect', async (client) => {
    const wanted = peer.toLowerCase();
    const match = (await listPeers(client)).find((p) => p.props.PeerId === wanted || sameAddress(String(p.props.Address), wanted));
    if (!match) throw new Error(`no peer ${peer} (rovy peers lists them)`);
    await client.call(ROOT_PATH, NODE_IFACE, 'Disconnect', 'o', [match.path]);
    process.stdout.write(`removed ${String(match.props.PeerId)}\n`);
  });
}

export function runToggle(enabled: boolean): Promise<number> {
  return withDaemon(enabled ? 'up' : 'down', async (client) => {
    await client.call(ROOT_PATH, NODE_IFACE, 'SetEnabled', 'b', [enabled]);
    process.stdout.write(enabled ? 'mesh switched on\n' : 'mesh switched off\n');
  });
}

/** Whether two IPv6 texts name one address (fc00:0::1 and fc00::1 do). */
function sameAddress(a: string, b: string): boolean {
  try {
    return Buffer.from(parseIPv6(a)).equals(Buffer.from(parseIPv6(b)));
  } catch {
    return false;
  }
}
