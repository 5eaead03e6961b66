// `rovy status` and `rovy peers`: what the daemon says about the node and its peers.
import { toJson } from '../json.js';
import { NODE_IFACE, ROOT_PATH, listPeers, withDaemon } from './client.js';

export function runStatus(json: boolean): Promise<number> {
  return withDaemon('status', async (client) => {
    const props = await client.getAll(ROOT_PATH, NODE_IFACE);
    const peers = await listPeers(client);
    const connected = peers.filter((p) => p.props.State === 'connected').length;
    if (json) {
      process.stdout.write(JSON.stringify({ ...(toJson(props) as object), peers: peers.length, connectedPeers: connected }) + '\n');
      return;
    }
    const rows: [string, unknown][] = [
      ['peer id', props.PeerId],
      ['address', props.Address],
      ['interface', props.InterfaceName],
      ['state', `${String(props.State)}${props.Enabled ? '' : ' (switched off: rovy up)'}`],
      ['listen', (props.Listen as string[]).join(', ')],
      ['peers', `${connected} connected of ${peers.length}`],
      ['version', props.Version],
    ];
    process.stdout.write(rows.map(([k, v]) => `${k.padEnd(10)} ${String(v)}`).join('\n') + '\n');
  });
}

export function runPeers(json: boolean): Promise<number> {
  return withDaemon('peers', async (client) => {
    const peers = await listPeers(client);
    if (json) {
      process.stdout.write(JSON.stringify(peers.map((p) => ({ path: p.path, ...(toJson(p.props) as object) }))) + '\n');
      return;
    }
    if (peers.length === 0) {
      process.stdout.write('no peers\n');
      return;
    }
    for (const { props } of peers) {
      const name = props.Petname ? ` (${String(props.Petname)})` : '';
      const rtt = Number(props.RttMicroseconds) > 0 ? `, rtt ${(Number(props.RttMicroseconds) / 1000).toFixed(1)} ms` : '';
      process.stdout.write(
        `${String(props.PeerId)}${name}\n  ${String(props.Address)}  ${String(props.State)}${rtt}\n` +
          `  endpoint ${String(props.Endpoint) || '-'}, received ${String(props.RxBytes)} B, sent ${String(props.TxBytes)} B\n`,
      );
    }
  });
}
