// The daemon's D-Bus API (dbus/net.rovy.Rovy1.xml): the node object, one object per peer, and
// the glue that turns node events into InterfacesAdded/Removed and PropertiesChanged. It reads
// state from the node. A change that touches what the daemon owns (the interface, the state
// file) goes through the daemon (ApiHost); one that stays within the node (a name, connecting
// to a node on the LAN) is asked of the node directly.
import { parseMultiaddr, type Multiaddr } from '../src/transport/multiaddr.js';
import { canonicalPeerId, decodePeerId, encodePeerId, PeerIdError } from '../src/keys/peerid.js';
import { isRovyKey } from '../src/keys/address.js';
import type { MeshNode, PeerStatus } from '../src/node/node.js';
import { BusService, DISCOVERY_IFACE, EXIT_IFACE, NAMES_IFACE, NEIGHBOR_IFACE, NODE_IFACE, PEER_IFACE, PORTS_IFACE, ROOT_PATH, RovyError, type CallContext, type InterfaceImpl } from './dbus/bus.js';
import { formatPorts, parsePorts, PortRuleError, rulePeer, sameRule, type PortRule } from '../src/fcnet/port-rules.js';
import { toJson } from './json.js';
import { NameError } from '../src/names/label.js';
import { DISCOVERY_POLICIES } from '../src/config/schema.js';
import type { LanPeers } from '../src/node/lan-peers.js';
import { formatEndpoint } from '../src/transport/endpoint.js';
import type { Neighbor } from '../src/discovery/neighbors.js';
import { quoteShort } from '../src/util/quote.js';
import type { Exits } from './exit.js';

export { BUS_NAME, ROOT_PATH } from './dbus/bus.js';
const ACTION_TOGGLE = 'net.rovy.toggle';
const ACTION_PEERS = 'net.rovy.manage-peers';
const ACTION_NAMES = 'net.rovy.manage-names';
const ACTION_PORTS = 'net.rovy.manage-ports';
const ACTION_EXIT = 'net.rovy.use-exit';

/** What the API asks of the daemon. */
export interface ApiHost {
  readonly node: MeshNode;
  readonly interfaceName: string;
  /** The listen multiaddrs with the ports actually bound. */
  readonly listen: string[];
  readonly version: string;
  /** The exit this host uses, and the one it offers. */
  readonly exits: Exits;
  /** Switches the mesh; resolves once NetworkManager, where it manages the interface, was asked too. */
  setEnabled(enabled: boolean): Promise<void>;
  /** Changes discovery (its policy, or switches it) and remembers the choice. */
  changeDiscovery(change: (lan: LanPeers) => void): void;
  /** Adds a peer at a parsed multiaddr (with /rovy/<peer ID>); returns its peer ID. */
  connect(address: Multiaddr & { publicKey: Uint8Array }): string;
  disconnect(peerId: string): void;
  /** Blocks a peer ID (saved; its link dropped) / lifts a block. */
  block(peerId: string): void;
  unblock(peerId: string): void;
  /** The ports open to the mesh: the config file's, then those opened at run time. */
  portRules(): { rule: PortRule; source: 'config' | 'runtime' }[];
  /** Whether the inbound filter runs (the config's ports.filter). */
  portFilter(): boolean;
  /** Opens / closes a port at run time (saved); false if it was open / not opened at run time. */
  allowPort(rule: PortRule): boolean;
  denyPort(rule: PortRule): boolean;
}

export class RovyApi {
  private readonly paths = new Map<string, string>();
  private nextPeerNumber = 0;
  private readonly neighborPaths = new Map<string, string>();
  private nextNeighborNumber = 0;

  constructor(
    private readonly bus: BusService,
    private readonly host: ApiHost,
  ) {}

  /** Exports the node object and an object for every peer the node has now. */
  start(): void {
    this.bus.setObject(ROOT_PATH, {
      [NODE_IFACE]: this.nodeInterface(),
      [NAMES_IFACE]: this.namesInterface(),
      [DISCOVERY_IFACE]: this.discoveryInterface(),
      [PORTS_IFACE]: this.portsInterface(),
      [EXIT_IFACE]: this.exitInterface(),
    });
    for (const peer of this.host.node.peerStatus()) this.peerAdded(peer.peerId);
    for (const n of this.host.node.lan?.neighbors() ?? []) this.neighborAdded(n.peerId);
  }

  // ---- node events -------------------------------------------------------------------------

  peerAdded(peerId: string): void {
    if (this.paths.has(peerId)) return;
    // Numbers are never reused while the daemon runs, so a stale path can't name a new peer.
    const path = `${ROOT_PATH}/peer/${this.nextPeerNumber++}`;
    this.paths.set(peerId, path);
    this.bus.setObject(path, { [PEER_IFACE]: this.peerInterface(peerId) });
    this.neighborChanged(peerId); // its Peer and Connected
  }

  peerRemoved(peerId: string): void {
    const path = this.paths.get(peerId);
    if (!path) return;
    this.paths.delete(peerId);
    this.bus.removeObject(path);
    this.neighborChanged(peerId);
  }

  neighborAdded(peerId: string): void {
    if (this.neighborPaths.has(peerId)) return;
    const path = `${ROOT_PATH}/neighbor/${this.nextNeighborNumber++}`;
    this.neighborPaths.set(peerId, path);
    this.bus.setObject(path, { [NEIGHBOR_IFACE]: this.neighborInterface(peerId) });
  }

  neighborRemoved(peerId: string): void {
    const path = this.neighborPaths.get(peerId);
    if (!path) return;
    this.neighborPaths.delete(peerId);
    this.bus.removeObject(path);
  }

  neighborChanged(peerId: string): void {
    const path = this.neighborPaths.get(peerId);
    if (path && this.host.node.lan?.neighbor(peerId)) {
      this.bus.propertiesChanged(path, NEIGHBOR_IFACE, ['Petname', 'Endpoint', 'Endpoints', 'Interface', 'Connected', 'Peer']);
    }
  }

  discoveryChanged(): void {
    this.bus.propertiesChanged(ROOT_PATH, DISCOVERY_IFACE, ['Policy', 'Enabled', 'Interfaces']);
  }

  peerChanged(peerId: string): void {
    const path = this.paths.get(peerId);
    if (path && this.host.node.peerStatus(peerId)) {
      this.bus.propertiesChanged(path, PEER_IFACE, ['State', 'Endpoint', 'LastHandshake', 'RttMicroseconds', 'Petname', 'Origin', 'HopCount', 'Route', 'RouteMtu', 'RouteSource', 'RouteTree', 'RouteFound']);
    }
    this.neighborChanged(peerId);
  }

  private blockedChanged(): void {
    this.bus.propertiesChanged(ROOT_PATH, NODE_IFACE, ['Blocked']);
  }

  stateChanged(): void {
    this.bus.propertiesChanged(ROOT_PATH, NODE_IFACE, ['Enabled', 'State']);
  }

  exitChanged(): void {
    this.bus.propertiesChanged(ROOT_PATH, EXIT_IFACE, ['Node', 'KillSwitch', 'State', 'Offers']);
  }

  namesChanged(): void {
    this.bus.propertiesChanged(ROOT_PATH, NAMES_IFACE, ['Names']);
  }

  // ---- interfaces --------------------------------------------------------------------------

  private nodeInterface(): InterfaceImpl {
    const { host } = this;
    return {
      properties: {
        PeerId: () => host.node.peerId,
        Address: () => host.node.addressText,
        Listen: () => host.listen,
        InterfaceName: () => host.interfaceName,
        Enabled: () => host.node.isEnabled,
        State: () => host.node.state,
        Version: () => host.version,
        Blocked: () => host.node.inbound.blocked(),
      },
      methods: {
        SetEnabled: async (ctx: CallContext, enabled: boolean) => {
          await this.bus.authorize(ctx, ACTION_TOGGLE);
          await host.setEnabled(enabled);
        },
        Connect: async (ctx: CallContext, multiaddr: string, options: Record<string, unknown>) => {
          await this.bus.authorize(ctx, ACTION_PEERS);
          // A key like "__proto__" would hide from Object.keys: any odd prototype is refused too.
          const unknown = Object.keys(options);
          if (unknown.length > 0 || Object.getPrototypeOf(options) !== Object.prototype) {
            throw new RovyError('InvalidArgument', `unknown option ${quoteShort(unknown[0] ?? '__proto__')}: Connect takes no options yet`);
          }
          if (!multiaddr.startsWith('/')) return this.connectNeighbor(multiaddr);
          let address: Multiaddr;
          try {
            address = parseMultiaddr(multiaddr, { peer: 'required' });
          } catch (err) {
            throw new RovyError('InvalidAddress', (err as Error).message);
          }
          const peerId = address.peerId!;
          if (peerId === host.node.peerId) throw new RovyError('InvalidAddress', `${multiaddr} names this node itself`);
          // A node known only by route may become a neighbour (the node replaces its object).
          const known = host.node.peerStatus(peerId);
          if (known && known.origin !== 'routed') throw new RovyError('PeerExists', `${peerId} is already a peer (${this.paths.get(peerId)})`);
          refuseBlocked(host.node, peerId);
          try {
            host.connect(address as Multiaddr & { publicKey: Uint8Array });
          } catch (err) {
            throw err instanceof RovyError ? err : new RovyError('InvalidAddress', `${multiaddr}: ${(err as Error).message}`);
          }
          return this.paths.get(peerId)!;
        },
        Disconnect: async (ctx: CallContext, path: string) => {
          await this.bus.authorize(ctx, ACTION_PEERS);
          const peerId = [...this.paths].find(([, p]) => p === path)?.[0];
          if (!peerId) throw new RovyError('NoSuchPeer', `no peer object ${quoteShort(path)}`);
          // A configured peer would come back with the next reload: the config file is where it goes.
          const status = host.node.peerStatus(peerId);
          if (status?.origin === 'config') {
            throw new RovyError('InvalidArgument', `${peerId} comes from the config file: remove its [[peer]] block there and reload (SIGHUP)`);
          }
          // A routed peer is reached through other nodes: there is no link of ours to close.
          if (status?.origin === 'routed') {
            const how = status.route.length > 0 ? `reached by route, ${status.hops} hops via ${status.route[0]}` : 'known from routing, with no route now';
            throw new RovyError('NotALink', `${peerId} is not a neighbour (${how}): there is no link to disconnect`);
          }
          host.disconnect(peerId);
        },
        Block: async (ctx: CallContext, peerIdText: string) => {
          await this.bus.authorize(ctx, ACTION_PEERS);
          const peerId = peerIdArgument(peerIdText);
          if (peerId === host.node.peerId) throw new RovyError('InvalidArgument', `${peerId} is this node itself`);
          if (host.node.peerStatus(peerId)?.origin === 'config') {
            throw new RovyError('InvalidArgument', `${peerId} comes from the config file: remove its [[peer]] block there and reload (SIGHUP)`);
          }
          if (host.node.inbound.isBlocked(peerId)) return;
          host.block(peerId);
          this.blockedChanged();
        },
        Unblock: async (ctx: CallContext, peerIdText: string) => {
          await this.bus.authorize(ctx, ACTION_PEERS);
          const peerId = peerIdArgument(peerIdText);
          if (!host.node.inbound.isBlocked(peerId)) return;
          host.unblock(peerId);
          this.blockedChanged();
        },
        Describe: () => JSON.stringify(this.describe()),
      },
    };
  }

  /** Connects to a node found on the LAN (authorization already checked). */
  private connectNeighbor(text: string): string {
    const lan = this.host.node.lan;
    let peerId: string;
    try {
      peerId = canonicalPeerId(text);
    } catch (err) {
      throw new RovyError('InvalidAddress', `${quoteShort(text)} is neither a multiaddr nor a peer ID: ${(err as Error).message}`);
    }
    const known = this.host.node.peerStatus(peerId);
    if (known && known.origin !== 'routed') throw new RovyError('PeerExists', `${peerId} is already a peer (${this.paths.get(peerId)})`);
    refuseBlocked(this.host.node, peerId);
    if (!lan?.connect(peerId)) {
      const why = !lan ? 'this node has no LAN discovery' : !lan.active ? 'LAN discovery is off (rovy discovery on)' : 'it is not on the local network now (rovy discovery lists who is)';
      throw new RovyError('NoSuchNeighbor', `cannot connect to ${peerId}: ${why}; give its multiaddr instead`);
    }
    return this.paths.get(peerId)!;
  }

  private discoveryInterface(): InterfaceImpl {
    const { host } = this;
    return {
      properties: {
        Policy: () => host.node.lan?.policy ?? 'off',
        Enabled: () => host.node.lan?.active ?? false,
        Interfaces: () => host.node.lan?.interfaceNames ?? [],
      },
      methods: {
        SetEnabled: async (ctx: CallContext, enabled: boolean) => {
          await this.bus.authorize(ctx, ACTION_TOGGLE);
          host.changeDiscovery((lan) => lan.setEnabled(enabled));
        },
        SetPolicy: async (ctx: CallContext, policy: string) => {
          await this.bus.authorize(ctx, ACTION_TOGGLE);
          const known = DISCOVERY_POLICIES.find((p) => p === policy);
          if (!known) throw new RovyError('InvalidArgument', `unknown policy ${quoteShort(policy)}: it is one of ${DISCOVERY_POLICIES.join(', ')}`);
          host.changeDiscovery((lan) => lan.setPolicy(known));
        },
      },
    };
  }

  private portsInterface(): InterfaceImpl {
    const { host } = this;
    /** The rule a call names: ports as "22/tcp" or "FIRST-LAST/udp", a peer ID or "" for everyone. */
    const ruleOf = (ports: string, peerId: string): PortRule => {
      try {
        return { ...parsePorts(ports), peerId: peerId === '' ? null : rulePeer(peerId) };
      } catch (err) {
        if (!(err instanceof PortRuleError)) throw err;
        throw new RovyError(/peer ID/.test(err.message) ? 'InvalidPeerId' : 'InvalidArgument', err.message);
      }
    };
    const changed = (): void => this.bus.propertiesChanged(ROOT_PATH, PORTS_IFACE, ['Rules']);
    return {
      properties: {
        Filter: () => host.portFilter(),
        Rules: () => host.portRules().map(({ rule, source }) => [formatPorts(rule), rule.peerId ?? '', source]),
      },
      methods: {
        Allow: async (ctx: CallContext, ports: string, peerId: string) => {
          await this.bus.authorize(ctx, ACTION_PORTS);
          if (host.allowPort(ruleOf(ports, peerId))) changed();
        },
        Deny: async (ctx: CallContext, ports: string, peerId: string) => {
          await this.bus.authorize(ctx, ACTION_PORTS);
          const rule = ruleOf(ports, peerId);
          const open = host.portRules().find((r) => sameRule(r.rule, rule));
          if (open?.source === 'config') throw new RovyError('InvalidArgument', `${formatPorts(rule)} is opened in the config file ([ports] allow): close it there and reload (SIGHUP)`);
          if (!open) throw new RovyError('InvalidArgument', `${formatPorts(rule)}${rule.peerId ? ` from ${rule.peerId}` : ''} is not open (Rules lists what is)`);
          if (host.denyPort(rule)) changed();
        },
      },
    };
  }

  private exitInterface(): InterfaceImpl {
    const { exits } = this.host;
    return {
      properties: {
        Node: () => exits.chosen?.peerId ?? '',
        KillSwitch: () => exits.chosen?.killSwitch ?? false,
        State: () => exits.state,
        Address: () => exits.report().meshIPv4,
        Offers: () => exits.report().offers.map((o) => [o.peerId, o.ipv4, o.ipv6, o.hops ?? 0]),
        Offering: () => exits.report().offering.offer,
      },
      methods: {
        SetExitNode: async (ctx: CallContext, peerId: string, killSwitch: boolean) => {
          await this.bus.authorize(ctx, ACTION_EXIT);
          const choice = peerId === '' ? null : { peerId: peerIdArgument(peerId), killSwitch };
          if (choice?.peerId === this.host.node.peerId) throw new RovyError('InvalidArgument', 'this node cannot be its own exit');
          if (choice && this.host.node.inbound.isBlocked(choice.peerId)) throw new RovyError('InvalidArgument', `${choice.peerId} is blocked: rovy unblock ${choice.peerId} first`);
          try {
            exits.use(choice);
          } catch (err) {
            throw err instanceof RovyError ? err : new RovyError('Failed', (err as Error).message);
          }
        },
      },
    };
  }

  private neighborInterface(peerId: string): InterfaceImpl {
    const neighbor = (): Neighbor => {
      const n = this.host.node.lan?.neighbor(peerId);
      if (!n) throw new RovyError('NoSuchNeighbor', `${peerId} has left the local network`);
      return n;
    };
    return {
      properties: {
        PeerId: () => peerId,
        Address: () => neighbor().address,
        Petname: () => this.host.node.names.nameOf(peerId) ?? '',
        Endpoint: () => {
          const n = neighbor();
          return formatEndpoint(n.endpoint, n.interfaceName);
        },
        Endpoints: () => neighbor().endpoints,
        Interface: () => neighbor().interfaceName,
        LastSeen: () => BigInt(neighbor().lastSeen) * 1000n,
        Connected: () => this.host.node.peerStatus(peerId)?.state === 'connected',
        Peer: () => this.paths.get(peerId) ?? '/',
      },
      methods: {
        Connect: async (ctx: CallContext) => {
          await this.bus.authorize(ctx, ACTION_PEERS);
          // One that left meanwhile is a NoSuchNeighbor from there (a PeerExists if it is a peer).
          return this.connectNeighbor(peerId);
        },
      },
    };
  }

  private namesInterface(): InterfaceImpl {
    const { node } = this.host;
    return {
      properties: {
        Names: () => node.names.list().map((e) => [e.name, e.peerId, e.source]),
      },
      methods: {
        Set: async (ctx: CallContext, name: string, peerId: string) => {
          await this.bus.authorize(ctx, ACTION_NAMES);
          namesCall(() => node.setName(name, peerId));
        },
        Remove: async (ctx: CallContext, name: string) => {
          await this.bus.authorize(ctx, ACTION_NAMES);
          namesCall(() => node.removeName(name));
        },
      },
    };
  }

  private peerInterface(peerId: string): InterfaceImpl {
    const status = (): PeerStatus => {
      const s = this.host.node.peerStatus(peerId);
      if (!s) throw new RovyError('NoSuchPeer', `peer ${peerId} is gone`);
      return s;
    };
    return {
      properties: {
        PeerId: () => peerId,
        Petname: () => status().name ?? '',
        Address: () => status().address,
        Endpoint: () => status().endpoint ?? '',
        State: () => status().state,
        LastHandshake: () => BigInt(status().lastHandshake ?? 0) * 1000n,
        RttMicroseconds: () => status().rttMicroseconds,
        Origin: () => status().origin,
        HopCount: () => status().hops,
        Route: () => status().route,
        RouteMtu: () => status().routeMtu,
        RouteSource: () => status().routeSource,
        RouteTree: () => status().routeTree,
        RouteFound: () => BigInt(status().routeFoundAt ?? 0) * 1000n,
        RxBytes: () => BigInt(status().rxBytes),
        TxBytes: () => BigInt(status().txBytes),
      },
    };
  }

  /** Everything Describe() returns. */
  describe(): object {
    const { node } = this.host;
    return {
      peerId: node.peerId,
      address: node.addressText,
      listen: this.host.listen,
      interfaceName: this.host.interfaceName,
      enabled: node.isEnabled,
      state: node.state,
      version: this.host.version,
      peers: [...this.paths].map(([peerId, path]) => ({ path, ...propertyValues(this.peerInterface(peerId)) })),
      names: node.names.list(),
      discovery: {
        policy: node.lan?.policy ?? 'off',
        interfaces: node.lan?.interfaceNames ?? [],
        neighbors: [...this.neighborPaths].map(([peerId, path]) => ({ path, ...propertyValues(this.neighborInterface(peerId)) })),
        counters: node.lan?.counters() ?? {},
      },
      links: node.linksReport(),
      prefixes: node.prefixesReport(),
      routing: node.routingReport(),
      ports: propertyValues(this.portsInterface()),
      exit: this.host.exits.report(),
      counters: node.counters.snapshot(),
      dataPath: node.dataPath(),
    };
  }
}

/** Every property of `impl` read now, keys in camelCase, as Describe() shows an object. */
function propertyValues(impl: InterfaceImpl): object {
  return toJson(Object.fromEntries(Object.entries(impl.properties).map(([name, get]) => [name, get()]))) as object;
}

/** Connect refuses a blocked node: the block is lifted on purpose, not by the way. */
function refuseBlocked(node: MeshNode, peerId: string): void {
  if (node.inbound.isBlocked(peerId)) throw new RovyError('InvalidArgument', `${peerId} is blocked: rovy unblock ${peerId} first`);
}

/** A peer ID argument in canonical text, or InvalidPeerId. */
function peerIdArgument(text: string): string {
  try {
    const key = decodePeerId(text);
    if (!isRovyKey(key)) throw new Error('its key has no fc00::/8 address: not a rovy node');
    return encodePeerId(key);
  } catch (err) {
    throw new RovyError('InvalidPeerId', `${quoteShort(text)} is not a peer ID: ${err instanceof PeerIdError ? err.reason : (err as Error).message}`);
  }
}

/** Runs a change to the names, turning its refusal into the matching named error. */
function namesCall(change: () => void): void {
  try {
    change();
  } catch (err) {
    if (err instanceof NameError) throw new RovyError(err.kind, err.message);
    throw new RovyError('Failed', `cannot save the names: ${(err as Error).message}`);
  }
}
