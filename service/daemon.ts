// `rovy daemon`: runs a node in the foreground from a config file. Order matters: everything
// that can be wrong with the config or the key is found before the system is touched, and
// everything the daemon creates (TUN, sockets, bus name) goes away on SIGTERM/SIGINT. SIGHUP
// re-reads the peer list and applies it without dropping sessions; SIGUSR1 logs the node's
// state. With a system bus the daemon exports the D-Bus API (service/api.ts) and, when
// NetworkManager is there, hands its interface to the `rovy` profile (service/mesh-switch.ts);
// without a bus it runs all the same and says once that the API is off.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PetnameStore } from '../src/names/petnames.js';
import { loadConfig, refuseOwnKey, type Config } from '../src/config/config.js';
import { loadOrGenerateKey, saveNewKey } from '../src/keys/keyfile.js';
import { MAX_DATAGRAM_BYTES, MeshNode, type PeerSpec } from '../src/node/node.js';
import { addressSpec, type AddressSpec } from '../src/node/peer-addresses.js';
import { linkSettingsFor } from './publish.js';
import { PrefixRoutes, ROUTE_RETRY_MS, forwards, ownAnnouncements } from './prefix-routes.js';
import type { AnnouncedPrefix } from '../src/routing/announcement.js';
import { StreamTransport } from '../src/transport/streams.js';
import { formatRule, parseRule, sameRule, type PortRule } from '../src/fcnet/port-rules.js';
import { selfSignedIdentity } from '../src/transport/self-signed.js';
import { formatMultiaddr, parseMultiaddr, type Multiaddr } from '../src/transport/multiaddr.js';
import { packageRoot } from '../src/util/package-root.js';
import { installLayout } from '../src/util/install-layout.js';
import { BusService, BusUnavailable, RovyError } from './dbus/bus.js';
import { BUS_NAME, ROOT_PATH, RovyApi, type ApiHost } from './api.js';
import { StateFile, type DaemonState } from './state.js';
import type { DiscoveryPolicy } from '../src/config/schema.js';
import { VERSION } from './version.js';
import { TUN_OFFLOADS, TunDevice } from '../src/tun/device.js';
import { UdpSocket } from '../src/transport/udp.js';
import { MeshSwitch } from './mesh-switch.js';
import { Exits } from './exit.js';
import { EXIT_MARK } from './exit-routes.js';
import { exitDnsRules } from './exit-dns.js';
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

  // Nothing is written before everything that can fail has been tried: a new key is made here
  // but written only once the sockets and the TUN are open.
  let key;
  let announce: AnnouncedPrefix[];
  try {
    key = loadOrGenerateKey(config.keyFile);
    refuseOwnKey(config, key.publicKey);
    announce = ownAnnouncements(config.prefixes, key.publicKey, Date.now(), config.source ?? 'config');
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }
  for (const warning of key.warnings) log.warn(warning);

  // The user's names: a file that cannot be read as written stops the daemon rather than be
  // overwritten by the next change.
  let petnames: PetnameStore;
  try {
    petnames = PetnameStore.load(join(dirname(config.keyFile), 'names.json'));
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }

  const stateFile = new StateFile(config.keyFile);
  const saved = stateFile.load((message) => log.warn(message));
  /** Peers added with Connect, by peer ID: their multiaddrs are kept in the state file. */
  const runtimePeers = new Map<string, string>();
  /** Ports opened at run time (rovy ports allow), kept in the state file; the config's come first. */
  const runtimePorts: PortRule[] = saved.ports.map(parseRule);
  /** The config file's [ports], as last loaded (SIGHUP applies a new one at once). */
  let filePorts = config.ports;
  const portRules = (): PortRule[] => [...filePorts.allow, ...runtimePorts.filter((r) => !filePorts.allow.some((c) => sameRule(c, r)))];
  /** The config file's [exit], as last loaded. */
  let fileExit = config.exit;
  /** What the inbound filter lets in: the open ports, and an exit's DNS port for its clients. */
  const filterRules = (): PortRule[] => [...portRules(), ...(fileExit.offer ? exitDnsRules(fileExit.clients) : [])];

  // A stop signal that arrives while the daemon is still starting is kept, not fatal (the default
  // action would leave the TUN and sockets to the kernel): it is acted on once running.
  let stopRequested: NodeJS.Signals | null = null;
  const early = (signal: NodeJS.Signals): void => {
    stopRequested ??= signal;
  };
  const dropEarly = (): void => {
    process.off('SIGTERM', early);
    process.off('SIGINT', early);
  };
  process.on('SIGTERM', early);
  process.on('SIGINT', early);

  const sockets: UdpSocket[] = [];
  // TCP and TLS: always there to dial peers with such addresses; listening only where "listen" says.
  const streams = {
    tcp: new StreamTransport({ kind: 'tcp', maxDatagram: MAX_DATAGRAM_BYTES, log: (level, message) => log.write(level, message) }),
    // A certificate only where there is something to present it on.
    tls: new StreamTransport({
      kind: 'tls',
      maxDatagram: MAX_DATAGRAM_BYTES,
      identity: config.listen.some((l) => l.transport === 'tls') ? selfSignedIdentity() : undefined,
      log: (level, message) => log.write(level, message),
    }),
  };
  /** The listen addresses with the ports their sockets got (port 0 in the config: the kernel's choice). */
  const bound: Multiaddr[] = [];
  let tun: TunDevice | null = null;
  let node: MeshNode | null = null;
  let bus: BusService | null = null;
  let api: RovyApi | null = null;
  let meshSwitch: MeshSwitch | null = null;
  let prefixRoutes: PrefixRoutes | null = null;
  let exits: Exits | null = null;
  /** A discovery policy chosen at run time, with the config's policy at that moment. */
  let discoveryChoice = saved.discovery;
  const runtimePeersWithout = (peerId: string): string[] => [...runtimePeers].filter(([id]) => id !== peerId).map(([, text]) => text);
  /** What the state file holds after a change: the running state with `change` applied. */
  const stateWith = (change: Partial<DaemonState>): DaemonState => ({
    enabled: node?.isEnabled ?? saved.enabled,
    peers: [...runtimePeers.values()],
    discovery: discoveryChoice,
    blocked: node?.inbound.blocked() ?? saved.blocked,
    ports: runtimePorts.map(formatRule),
    exit: exits ? exits.chosen : saved.exit,
    ...change,
  });
  /** Saves `state` before a change is made and acknowledged: if it cannot, the caller gets a
   *  named error and nothing changes, where before the change was lost at the next restart. */
  const persist = (state: DaemonState): void => {
    try {
      stateFile.save(state);
    } catch (err) {
      throw new RovyError('Failed', `cannot save ${stateFile.path}: ${(err as Error).message}; nothing changed`);
    }
  };
  /** Saves the running state where no caller waits for the answer (a reload, a rollback): a
   *  failure is logged. */
  const persistQuietly = (): void => {
    try {
      stateFile.save(stateWith({}));
    } catch (err) {
      log.error(`cannot save ${stateFile.path}: ${(err as Error).message}`);
    }
  };
  const release = (): void => {
    exits?.close();
    meshSwitch?.close();
    bus?.close();
    node?.stop();
    // Closing the TUN's last descriptor removes the interface with its address and route.
    tun?.close();
    for (const socket of sockets) socket.close();
    streams.tcp.close();
    streams.tls.close();
  };
  try {
    for (const listen of config.listen) {
      const what = `listen ${formatMultiaddr(listen)}`;
      let port: number;
      if (listen.transport === 'tcp' || listen.transport === 'tls') {
        port = await withContextAsync(what, () => streams[listen.transport as 'tcp' | 'tls'].listen(listen.family, listen.address, listen.port));
      } else {
        const socket = withContext(what, () => UdpSocket.open(listen.family, listen.address, listen.port, SOCKET_BUFFER_BYTES));
        sockets.push(socket);
        markForExits(socket, log);
        port = socket.port;
      }
      const address = { ...listen, port };
      bound.push(address);
      log.info(`listening on ${formatMultiaddr(address)}`);
    }
    tun = withContext(`TUN ${config.tun.name}`, () => {
      try {
        return TunDevice.open(config.tun.name, { offload: config.tun.offload });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
        throw new Error(`${(err as Error).message} (a TUN needs CAP_NET_ADMIN: run the daemon as root, or as rovyd.service, which grants it)`);
      }
    });
    log.info(`TUN ${tun.name}: ${offloadText(tun)}`);
    if (key.created) {
      key = saveNewKey(config.keyFile, key);
      refuseOwnKey(config, key.publicKey); // another process may have written a key first
      log.info(`created a new key in ${config.keyFile}`);
    }
    node = new MeshNode({
      identity: { privateKey: key.privateKey, publicKey: key.publicKey },
      tun,
      sockets,
      transports: [streams.tcp, streams.tls],
      mtu: config.tun.mtu,
      peers,
      enabled: saved.enabled,
      petnames,
      discovery: { policy: discoveryPolicy(config, saved), interfaces: config.discovery.interfaces, exclude: [tun.name], listen: bound.filter((l) => (l.transport ?? 'udp') === 'udp') },
      links: linkSettingsFor(config.links, bound),
      blocked: saved.blocked,
      ports: { filter: filePorts.filter, rules: filterRules() },
      prefixes: { announce, grants: config.prefixes.allow, trusts: config.prefixes.trust },
      log: (level, message) => log.write(level, message),
      events: {
        peerAdded: (peerId) => api?.peerAdded(peerId),
        peerRemoved: (peerId) => api?.peerRemoved(peerId),
        peerChanged: (peerId) => api?.peerChanged(peerId),
        stateChanged: () => {
          // Switched back on: the routes went with the link, and come back with it.
          if (node?.isEnabled) prefixRoutes?.sync(node.prefixes.accepted());
          else prefixRoutes?.forget();
          if (node?.isEnabled) exits?.sync();
          else exits?.linkDown();
          api?.stateChanged();
        },
        prefixesChanged: () => {
          prefixRoutes?.sync(node!.prefixes.accepted());
          exits?.sync();
        },
        exitReachabilityChanged: () => exits?.sync(),
        namesChanged: () => api?.namesChanged(),
        neighborAdded: (peerId) => api?.neighborAdded(peerId),
        neighborChanged: (peerId) => api?.neighborChanged(peerId),
        neighborRemoved: (peerId) => api?.neighborRemoved(peerId),
        discoveryChanged: () => api?.discoveryChanged(),
      },
    });
    for (const text of saved.peers) {
      try {
        const address = parseMultiaddr(text, { peer: 'required' });
        const peerId = node.connectPeer(runtimeSpec(address));
        runtimePeers.set(peerId, formatMultiaddr(address));
      } catch (err) {
        log.warn(`${stateFile.path}: peer ${text}: ${(err as Error).message}; skipped`);
      }
    }
    prefixRoutes = new PrefixRoutes(tun.name, { warn: (m) => log.warn(m), info: (m) => log.info(m) });
    for (const family of [6, 4] as const) {
      if (announce.some((a) => a.prefix.family === family) && !forwards(family)) {
        log.warn(`prefixes.announce has IPv${family} prefixes, but this machine does not forward IPv${family} (sysctl ${family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'}=1): packets for them reach it and go no further`);
      }
    }
    // The daemon's own connections keep the underlay's path while the host uses an exit.
    streams.tcp.setMark(EXIT_MARK);
    streams.tls.setMark(EXIT_MARK);
    exits = new Exits({
      node,
      device: tun.name,
      log: { warn: (m) => log.warn(m), info: (m) => log.info(m) },
      save: (exit) => persist(stateWith({ exit })),
      changed: () => api?.exitChanged(),
      profileChanged: () => meshSwitch?.exitProfileChanged(),
    });
    exits.configure(config.exit);
    exits.restore(saved.exit);
    const theExitsNow = exits;
    meshSwitch = new MeshSwitch({ node, tun, mtu: config.tun.mtu, save: (enabled) => persist(stateWith({ enabled })), exitProfile: () => theExitsNow.profile(), log: (level, message) => log.write(level, message) });
    meshSwitch.configure();
    node.start();
    log.info(`node ${node.peerId} ${saved.enabled ? 'up' : 'switched off'} as ${node.addressText} on ${tun.name}, ${node.peerStatus().length} peer(s)`);
    stateFile.setAsideIfBad((message) => log.warn(message)); // started: the defaults are in use
    if (!saved.enabled) log.info(`the mesh stays off, as it was switched off (${stateFile.path}): \`rovy up\` or the desktop's toggle switches it on`);
  } catch (err) {
    log.error((err as Error).message);
    release();
    dropEarly();
    return 1;
  }

  const running = node;
  // Never null: the daemon always gives the node discovery options (policy "off" included).
  const lan = running.lan!;
  const device = tun;
  const theSwitch = meshSwitch!;
  const theExits = exits!;
  const host: ApiHost = {
    node: running,
    interfaceName: device.name,
    listen: bound.map((l) => formatMultiaddr(l)),
    version: VERSION,
    exits: theExits,
    setEnabled: (enabled) => theSwitch.setEnabled(enabled),
    changeDiscovery(change) {
      // The policy a change leads to is the discovery layer's to work out: made, then saved,
      // and put back if the save fails.
      const before = lan.policy;
      change(lan);
      const choice = { policy: lan.policy, configPolicy: config.discovery.policy };
      try {
        persist(stateWith({ discovery: choice }));
      } catch (err) {
        if (lan.policy !== before) lan.setPolicy(before);
        throw err;
      }
      discoveryChoice = choice;
    },
    connect(address) {
      const text = formatMultiaddr(address);
      persist(stateWith({ peers: [...runtimePeers.values(), text] }));
      let peerId: string;
      try {
        peerId = running.connectPeer(runtimeSpec(address));
      } catch (err) {
        persistQuietly(); // the peer was refused: the file goes back to what it was
        throw err;
      }
      runtimePeers.set(peerId, text);
      return peerId;
    },
    disconnect(peerId) {
      if (runtimePeers.has(peerId)) persist(stateWith({ peers: runtimePeersWithout(peerId) }));
      running.disconnectPeer(peerId);
      runtimePeers.delete(peerId);
    },
    block(peerId) {
      // Saved first: a block that cannot be kept across a restart is not made.
      persist(stateWith({ peers: runtimePeersWithout(peerId), blocked: [...new Set([...running.inbound.blocked(), peerId])].sort() }));
      try {
        running.block(peerId);
      } catch (err) {
        persistQuietly();
        throw err;
      }
      runtimePeers.delete(peerId);
    },
    unblock(peerId) {
      persist(stateWith({ blocked: running.inbound.blocked().filter((id) => id !== peerId) }));
      running.unblock(peerId);
    },
    portRules: () => portRules().map((rule) => ({ rule, source: filePorts.allow.some((c) => sameRule(c, rule)) ? 'config' : 'runtime' })),
    portFilter: () => filePorts.filter,
    allowPort(rule) {
      if (portRules().some((r) => sameRule(r, rule))) return false;
      persist(stateWith({ ports: [...runtimePorts, rule].map(formatRule) }));
      runtimePorts.push(rule);
      running.filter.setRules(filterRules());
      log.info(`port ${formatRule(rule)} opened to the mesh`);
      return true;
    },
    denyPort(rule) {
      const i = runtimePorts.findIndex((r) => sameRule(r, rule));
      if (i < 0) return false;
      persist(stateWith({ ports: runtimePorts.filter((_, j) => j !== i).map(formatRule) }));
      runtimePorts.splice(i, 1);
      running.filter.setRules(filterRules());
      log.info(`port ${formatRule(rule)} closed to the mesh`);
      return true;
    },
  };
  try {
    const root = packageRoot(import.meta.url);
    bus = await BusService.connect({
      xmlPath: contractPath(root),
      busName: BUS_NAME,
      rootPath: ROOT_PATH,
      onError: (err) => log.error(`D-Bus: ${err.message}`),
      exportObjects: (service) => {
        api = new RovyApi(service, host);
        api.start();
      },
    });
    log.info(`D-Bus API on ${BUS_NAME}`);
  } catch (err) {
    api = null;
    if (!(err instanceof BusUnavailable)) {
      log.error(`D-Bus: ${(err as Error).message}`);
      release();
      dropEarly();
      return 1;
    }
    // One line that says what to do: the README's and rovyd(8)'s way to get the API.
    const how =
      (err as BusUnavailable).reason === 'policy'
        ? `install rovy (scripts/install.sh, meson install or the .deb) so that /usr/share/dbus-1/system.d/${BUS_NAME}.conf lets it own ${BUS_NAME}, then restart it`
        : 'start a system bus (Debian: apt-get install dbus) and install rovy (scripts/install.sh), then restart it';
    log.info(`D-Bus API off: ${(err as Error).message}; to use rovy status, rovy peers and the other commands, ${how}`);
  }
  // In the background: the daemon is up and answering already, whatever NetworkManager takes.
  void theSwitch.followNetworkManager();

  return await new Promise<number>((resolve) => {
    // Signal handlers do not keep Node running. Switched off and without a bus, nothing else
    // would: the daemon would end, exit code 0, as if it had been told to stop.
    const keepAlive = setInterval(() => {}, 1 << 30);
    // Routes for accepted prefixes that could not be added yet (the link down) are tried again.
    const routeRetry = setInterval(() => {
      if (running.isEnabled) prefixRoutes?.retry(running.prefixes.accepted());
      // The host's routes for the exit, if the kernel refused them when the exit's reach or claims
      // last changed (exitReachabilityChanged, prefixesChanged), are tried again.
      theExits.sync();
    }, ROUTE_RETRY_MS);
    const shutdown = (signal: string): void => {
      clearInterval(keepAlive);
      clearInterval(routeRetry);
      log.info(`${signal}: shutting down`);
      process.off('SIGHUP', reload);
      process.off('SIGUSR1', report);
      release();
      resolve(0);
    };
    const reload = (): void => {
      let next: Config;
      let nextPeers: PeerSpec[];
      let nextAnnounce: AnnouncedPrefix[];
      try {
        next = loadConfig(configPath, { mustExist: explicit });
        refuseOwnKey(next, key.publicKey);
        nextPeers = peerSpecs(next);
        nextAnnounce = ownAnnouncements(next.prefixes, key.publicKey, Date.now(), next.source ?? 'config');
      } catch (err) {
        log.error(`SIGHUP: ${(err as Error).message}; keeping the running configuration`);
        return;
      }
      log.level = next.log.level;
      running.setPeers(nextPeers);
      running.setLinkSettings(linkSettingsFor(next.links, bound));
      running.setPrefixSettings({ announce: nextAnnounce, grants: next.prefixes.allow, trusts: next.prefixes.trust });
      fileExit = next.exit;
      theExits.configure(next.exit);
      filePorts = next.ports;
      running.filter.enabled = filePorts.filter;
      running.filter.setRules(filterRules());
      // A changed [discovery] policy in the file overrides a choice made at run time.
      if (next.discovery.policy !== config.discovery.policy) {
        lan.setPolicy(next.discovery.policy);
        discoveryChoice = null;
        persistQuietly();
      }
      // A peer added with Connect and now in the config belongs to the config from here on.
      let handedOver = false;
      for (const peer of next.peers) handedOver = runtimePeers.delete(peer.peerId) || handedOver;
      if (handedOver) persistQuietly();
      const restartOnly =
        next.tun.name !== config.tun.name ||
        next.tun.mtu !== config.tun.mtu ||
        next.tun.offload !== config.tun.offload ||
        next.keyFile !== config.keyFile ||
        JSON.stringify(next.listen) !== JSON.stringify(config.listen) ||
        JSON.stringify(next.discovery.interfaces) !== JSON.stringify(config.discovery.interfaces);
      if (restartOnly) log.warn('SIGHUP: peers reloaded; key, listen, [tun] and discovery interface changes take effect on restart');
      else log.info(`SIGHUP: reloaded ${next.peers.length} peer(s)`);
      config = next;
    };
    const report = (): void => {
      const discovery = { policy: lan.policy, interfaces: lan.interfaceNames, neighbors: lan.neighbors().length, counters: lan.counters() };
      log.info(`state ${JSON.stringify({ peerId: running.peerId, address: running.addressText, peers: running.peerStatus(), counters: running.counters.snapshot(), dataPath: running.dataPath(), routing: { ...running.routing.map.stats(), counters: running.routing.map.counters.snapshot(), trees: running.routing.trees.counters.snapshot(), lookups: running.routing.lookups.counters.snapshot(), waiting: running.lookupsWaiting() }, discovery, links: running.linksReport(), prefixes: running.prefixesReport(), exit: theExits.report() })}`);
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', reload);
    process.on('SIGUSR1', report);
    dropEarly();
    if (stopRequested) shutdown(stopRequested);
  });
}

/** The config's discovery policy, unless one chosen at run time since (and the file has not changed it). */
function discoveryPolicy(config: Config, saved: DaemonState): DiscoveryPolicy {
  const choice = saved.discovery;
  return choice && choice.configPolicy === config.discovery.policy ? choice.policy : config.discovery.policy;
}

/** The node's view of the configured peers. Throws (before anything is applied) when a peer's
 *  link-local zone names no interface. */
function peerSpecs(config: Config): PeerSpec[] {
  return config.peers.map((peer, i) => {
    let addresses: AddressSpec[];
    try {
      addresses = peer.addresses.map(addressSpec);
    } catch (err) {
      throw new Error(`${config.source ?? 'config'}: peer[${i}].address: ${(err as Error).message}`);
    }
    return {
      publicKey: peer.publicKey,
      endpoint: null,
      addresses,
      psk: peer.psk,
      keepaliveSeconds: peer.keepalive,
      name: peer.name,
    };
  });
}

/** As withContext, for what opens asynchronously (a TCP or TLS listener). */
async function withContextAsync<T>(what: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

/** Runs `open`, prefixing a failure with what was being opened ("listen /ip6/::/udp/7777: ..."). */
function withContext<T>(what: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

/** A peer added at run time: keepalive and psk take their defaults. */
function runtimeSpec(address: Multiaddr): PeerSpec {
  return { publicKey: address.publicKey!, endpoint: null, addresses: [addressSpec(address)] };
}

/** An installed bundle's own contract (in its datadir); from a checkout, the repository's, else the one in /usr/share. */
function contractPath(root: string | null): string {
  const installed = join('dbus-1', 'interfaces', 'net.rovy.Rovy1.xml');
  const layout = installLayout(import.meta.url);
  if (layout !== null) return join(layout.datadir, installed);
  return root !== null && existsSync(join(root, 'dbus', 'net.rovy.Rovy1.xml')) ? join(root, 'dbus', 'net.rovy.Rovy1.xml') : join('/usr/share', installed);
}

/** What the TUN's offloads are, for the log: "offloads csum tso6 uso6", "offloads off", ... */
function offloadText(tun: TunDevice): string {
  if (!tun.offload) return 'offloads off (tun.offload = false)';
  const names = Object.entries(TUN_OFFLOADS).flatMap(([name, bit]) => (tun.offloads & bit ? [name] : []));
  return names.length ? `offloads ${names.join(' ')}` : 'offloads refused by the kernel: writes still coalesce';
}

/** Marks a UDP socket of the daemon's (SO_MARK), so that its packets keep the underlay's path
 *  while the host uses an exit; without CAP_NET_ADMIN (it has it as a service) that is said. */
function markForExits(socket: UdpSocket, log: Log): void {
  try {
    socket.mark(EXIT_MARK);
  } catch (err) {
    log.warn(`cannot mark the UDP socket on port ${socket.port} (${(err as Error).message}): while an exit is in use, its packets would go into the mesh`);
  }
}
