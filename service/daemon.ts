// `rovy daemon`: runs a node in the foreground from a config file. Order matters: everything
// that can be wrong with the config or the key is found before the system is touched, and
// everything the daemon creates (TUN, sockets) goes away on SIGTERM/SIGINT. SIGHUP re-reads the
// peer list and applies it without dropping sessions.
import { loadConfig, type Config } from '../src/config/config.js';
import { loadOrCreateKey } from '../src/keys/keyfile.js';
import { parseIPv4, parseIPv6 } from '../src/keys/address.js';
import { MeshNode, type OpenSocket, type PeerSpec } from '../src/node/node.js';
import { native } from '../src/native/addon.js';
import { configureInterface } from './iface.js';
import { Log } from './log.js';

/** Socket buffers big enough to hold a TCP window at a gigabit without drops between batches. */
const SOCKET_BUFFER_BYTES = 4 << 20;

export async function runDaemon(configPath: string, explicit: boolean): Promise<number> {
  const log = new Log();
  let config: Config;
  try {
    config = loadConfig(configPath, { mustExist: explicit });
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

  const opened: number[] = [];
  let node: MeshNode | null = null;
  try {
    const sockets: OpenSocket[] = [];
    for (const listen of config.listen) {
      const { fd, port } = native.udpOpen(listen.family, listen.family === 6 ? parseIPv6(listen.address) : parseIPv4(listen.address), listen.port, SOCKET_BUFFER_BYTES);
      opened.push(fd);
      sockets.push({ fd, family: listen.family });
      log.info(`listening on /ip${listen.family}/${listen.address}/udp/${port}`);
    }
    const tun = native.tunOpen(config.tun.name);
    opened.push(tun.fd);
    node = new MeshNode({
      identity: { privateKey: key.privateKey, publicKey: key.publicKey },
      tunFd: tun.fd,
      sockets,
      mtu: config.tun.mtu,
      peers: peerSpecs(config),
      log: (level, message) => log.write(level, message),
    });
    configureInterface(tun.name, node.addressText, config.tun.mtu);
    node.start();
    log.info(`node ${node.peerId} up as ${node.addressText} on ${tun.name}, ${config.peers.length} peer(s)`);
  } catch (err) {
    log.error((err as Error).message);
    node?.stop();
    for (const fd of opened) native.closeFd(fd);
    return 1;
  }

  const running = node;
  return await new Promise<number>((resolve) => {
    const shutdown = (signal: string): void => {
      log.info(`${signal}: shutting down`);
      process.off('SIGHUP', reload);
      running.stop();
      // Closing the TUN's last descriptor removes the interface with its address and route.
      for (const fd of opened) native.closeFd(fd);
      resolve(0);
    };
    const reload = (): void => {
      try {
        const next = loadConfig(configPath, { mustExist: explicit });
        log.level = next.log.level;
        running.setPeers(peerSpecs(next));
        if (next.tun.name !== config.tun.name || next.tun.mtu !== config.tun.mtu || next.keyFile !== config.keyFile || JSON.stringify(next.listen) !== JSON.stringify(config.listen)) {
          log.warn('SIGHUP: key, listen and [tun] changes take effect on restart; peers were reloaded');
        } else {
          log.info(`SIGHUP: reloaded ${next.peers.length} peer(s)`);
        }
        config = next;
      } catch (err) {
        log.error(`SIGHUP: ${(err as Error).message}; keeping the running configuration`);
      }
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', reload);
  });
}

function peerSpecs(config: Config): PeerSpec[] {
  return config.peers.map((peer) => ({
    publicKey: peer.publicKey,
    endpoint: { family: peer.address.family, address: peer.address.address, port: peer.address.port },
    psk: peer.psk,
    keepaliveSeconds: peer.keepalive,
    name: peer.name,
  }));
}
