// `rovy daemon`: runs a node in the foreground from a config file. Order matters: everything
// that can be wrong with the config or the key is found before the system is touched, and
// everything the daemon creates (TUN, sockets) goes away on SIGTERM/SIGINT. SIGHUP re-reads the
// peer list and applies it without dropping sessions; SIGUSR1 logs the node's state.
import { loadConfig, type Config } from '../src/config/config.js';
import { loadOrCreateKey } from '../src/keys/keyfile.js';
import { MeshNode, type PeerSpec } from '../src/node/node.js';
import { TunDevice } from '../src/tun/device.js';
import { UdpSocket } from '../src/transport/udp.js';
import { formatMultiaddr } from '../src/transport/multiaddr.js';
import { configureInterface, interfaceIndex } from './iface.js';
import { Log } from './log.js';

/** Socket buffers big enough to hold a TCP window at a gigabit without drops between batches. */
const SOCKET_BUFFER_BYTES = 4 << 20;

export async function runDaemon(configPath: string, explicit: boolean): Promise<number> {
  const log = new Log();
  let config: Config;
  let peers: PeerSpec[];
  try {
    config = loadConfig(configPath, { mustExist: explicit });
    peers = peerSpecs(config);
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }
  log.level = config.log.level;

  let key;
  try {
    key = loadOrCreateKey(config.keyFile);
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }
  for (const warning of key.warnings) log.warn(warning);
  if (key.created) log.info(`created a new key in ${config.keyFile}`);

  const sockets: UdpSocket[] = [];
  let tun: TunDevice | null = null;
  let node: MeshNode | null = null;
  const release = (): void => {
    node?.stop();
    // Closing the TUN's last descriptor removes the interface with its address and route.
    tun?.close();
    for (const socket of sockets) socket.close();
  };
  try {
    for (const listen of config.listen) {
      const socket = withContext(`listen ${formatMultiaddr(listen)}`, () => UdpSocket.open(listen.family, listen.address, listen.port, SOCKET_BUFFER_BYTES));
      sockets.push(socket);
      log.info(`listening on ${formatMultiaddr({ ...listen, port: socket.port })}`);
    }
    tun = withContext(`TUN ${config.tun.name}`, () => TunDevice.open(config.tun.name));
    node = new MeshNode({
      identity: { privateKey: key.privateKey, publicKey: key.publicKey },
      tun,
      sockets,
      mtu: config.tun.mtu,
      peers,
      log: (level, message) => log.write(level, message),
    });
    configureInterface(tun.name, node.addressText, config.tun.mtu);
    node.start();
    log.info(`node ${node.peerId} up as ${node.addressText} on ${tun.name}, ${config.peers.length} peer(s)`);
  } catch (err) {
    log.error((err as Error).message);
    release();
    return 1;
  }

  const running = node;
  return await new Promise<number>((resolve) => {
    const shutdown = (signal: string): void => {
      log.info(`${signal}: shutting down`);
      process.off('SIGHUP', reload);
      process.off('SIGUSR1', report);
      release();
      resolve(0);
    };
    const reload = (): void => {
      let next: Config;
      let nextPeers: PeerSpec[];
      try {
        next = loadConfig(configPath, { mustExist: explicit });
        nextPeers = peerSpecs(next);
      } catch (err) {
        log.error(`SIGHUP: ${(err as Error).message}; keeping the running configuration`);
        return;
      }
      log.level = next.log.level;
      running.setPeers(nextPeers);
      const restartOnly = next.tun.name !== config.tun.name || next.tun.mtu !== config.tun.mtu || next.keyFile !== config.keyFile || JSON.stringify(next.listen) !== JSON.stringify(config.listen);
      if (restartOnly) log.warn('SIGHUP: peers reloaded; key, listen and [tun] changes take effect on restart');
      else log.info(`SIGHUP: reloaded ${next.peers.length} peer(s)`);
      config = next;
    };
    const report = (): void => {
      log.info(`state ${JSON.stringify({ peerId: running.peerId, address: running.addressText, peers: running.peerStatus(), counters: running.counters.snapshot() })}`);
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', reload);
    process.on('SIGUSR1', report);
  });
}

/** The node's view of the configured peers. Throws (before anything is applied) when a peer's
 *  link-local zone names no interface. */
function peerSpecs(config: Config): PeerSpec[] {
  return config.peers.map((peer, i) => {
    const { family, address, port, zone } = peer.address;
    let scopeId: number | undefined;
    if (zone !== undefined) {
      scopeId = interfaceIndex(zone);
      if (scopeId === 0) throw new Error(`${config.source ?? 'config'}: peer[${i}].address: no interface named "${zone}"`);
    }
    return {
      publicKey: peer.publicKey,
      endpoint: { family, address, port, scopeId },
      psk: peer.psk,
      keepaliveSeconds: peer.keepalive,
      name: peer.name,
    };
  });
}

/** Runs `open`, prefixing a failure with what was being opened ("listen /ip6/::/udp/7777: ..."). */
function withContext<T>(what: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}
