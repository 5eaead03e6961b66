// `rovy connect`, `rovy disconnect`, `rovy block`, `rovy unblock`, `rovy up`, `rovy down`: the
// actions, each one D-Bus call; and `rovy blocked`, the list blocking keeps.
import { NODE_IFACE, PEER_IFACE, ROOT_PATH } from '../dbus/bus.js';
import { objectsWith, sameAddress, withDaemon } from './client.js';

/** `target` is a multiaddr, or the bare peer ID of a node found on the LAN (rovy discovery). */
export function runConnect(target: string, json: boolean): Promise<number> {
  return withDaemon('connect', async (client) => {
    const path = (await client.call(ROOT_PATH, NODE_IFACE, 'Connect', 'sa{sv}', [target, {}])) as string;
    process.stdout.write(json ? JSON.stringify({ path }) + '\n' : `added ${path}\n`);
  });
}

/** `peer` is a peer ID or an fc00::/8 address. */
export function runDisconnect(peer: string): Promise<number> {
  return withDaemon('disconnect', async (client) => {
    const wanted = peer.toLowerCase();
    const match = objectsWith(await client.managedObjects(ROOT_PATH), PEER_IFACE).find((p) => p.props.PeerId === wanted || sameAddress(String(p.props.Address), wanted));
    if (!match) throw new Error(`no peer ${peer} (rovy peers lists them)`);
    await client.call(ROOT_PATH, NODE_IFACE, 'Disconnect', 'o', [match.path]);
    process.stdout.write(`removed ${String(match.props.PeerId)}\n`);
  });
}

/** `peer` is a peer ID, or the fc00::/8 address of a peer the node knows. */
export function runBlock(peer: string, block: boolean): Promise<number> {
  return withDaemon(block ? 'block' : 'unblock', async (client) => {
    let peerId = peer.toLowerCase();
    if (peer.includes(':')) {
      const match = objectsWith(await client.managedObjects(ROOT_PATH), PEER_IFACE).find((p) => sameAddress(String(p.props.Address), peerId));
      if (!match) throw new Error(`no peer at ${peer}: give its peer ID`);
      peerId = String(match.props.PeerId);
    }
    const before = (await client.getAll(ROOT_PATH, NODE_IFACE)).Blocked as string[];
    await client.call(ROOT_PATH, NODE_IFACE, block ? 'Block' : 'Unblock', 's', [peerId]);
    const after = (await client.getAll(ROOT_PATH, NODE_IFACE)).Blocked as string[];
    const changed = before.length !== after.length;
    const id = after.find((b) => !before.includes(b)) ?? before.find((b) => !after.includes(b)) ?? peerId;
    process.stdout.write(block ? (changed ? `blocked ${id}\n` : `${id} was blocked already\n`) : changed ? `unblocked ${id}\n` : `${id} was not blocked\n`);
  });
}

export function runBlocked(json: boolean): Promise<number> {
  return withDaemon('blocked', async (client) => {
    const blocked = (await client.getAll(ROOT_PATH, NODE_IFACE)).Blocked as string[];
    process.stdout.write(json ? JSON.stringify(blocked) + '\n' : blocked.length === 0 ? 'no node is blocked\n' : blocked.join('\n') + '\n');
  });
}

export function runToggle(enabled: boolean): Promise<number> {
  return withDaemon(enabled ? 'up' : 'down', async (client) => {
    await client.call(ROOT_PATH, NODE_IFACE, 'SetEnabled', 'b', [enabled]);
    process.stdout.write(enabled ? 'mesh switched on\n' : 'mesh switched off\n');
  });
}
