// LAN discovery's I/O: one UDP socket on [::]:DISCOVERY_PORT, joined to DISCOVERY_GROUP on each
// interface in use, sending this node's beacons and handing what it hears to a NeighborTable.
//
// Every BEACON_INTERVAL_MS (jittered), one tick: rescan the interfaces (join new ones, leave gone
// ones; neighbours heard on a gone one leave at expiry), send a beacon on each, expire neighbours.
// A new neighbour is answered at once with a beacon on its interface (at most one answer per
// ANSWER_INTERVAL_MS per interface), so two nodes learn each other within a round trip rather
// than within an interval. Socket errors are logged and counted, never thrown: an interface that
// goes down between a scan and a send costs one sendErrors.
import dgram from 'node:dgram';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isLinkLocal, parseIPv4, parseIPv6 } from '../keys/ip-text.js';
import { equalBytes } from '../util/bytes.js';
import { native } from '../native/addon.js';
import { encodeBeacon, type BeaconEndpoint } from './beacon.js';
import {
  ANSWER_INTERVAL_MS,
  ANSWER_JITTER_MS,
  BEACON_INTERVAL_MS,
  BEACON_JITTER,
  STARTUP_INTERVAL_MS,
  DISCOVERY_GROUP,
  DISCOVERY_PORT,
  MAX_ENDPOINTS,
} from './constants.js';
import { DiscoveryCounters } from './counters.js';
import { NeighborTable, type Neighbor } from './neighbors.js';

export interface LanDiscoveryOptions {
  identity: { publicKey: Uint8Array; privateKey: Uint8Array };
  /** The data sockets as bound, announced as endpoints: a wildcard address stands for every
   *  address of its family on the interface, a specific one is announced where the interface has
   *  it. Port 0 entries are skipped (pass the port the system chose). */
  listen: { family: 4 | 6; address: string; port: number }[];
  /** Interface names to use; null: every non-loopback interface with an IPv6 link-local address. */
  interfaces: string[] | null;
  /** Interfaces never used, even if listed or matched (the node's own TUN). */
  exclude: string[];
  /** Called for each change of the neighbour list; an exception thrown here is logged. */
  events: {
    added(n: Neighbor): void;
    changed(n: Neighbor): void;
    removed(peerId: string): void;
    /** The interfaces in use changed (one joined or left). */
    interfacesChanged?(): void;
  };
  log?: (level: 'error' | 'warn' | 'info' | 'debug', message: string) => void;
  /** Wall clock, ms since the epoch (tests). */
  now?: () => number;
  /** Default DISCOVERY_PORT. */
  port?: number;
}

/** An interface in use: joined, with the endpoints our beacons list on it. */
interface Iface {
  name: string;
  index: number;
  endpoints: BeaconEndpoint[];
}

export class LanDiscovery {
  readonly counters = new DiscoveryCounters();
  private readonly table: NeighborTable;
  private readonly now: () => number;
  private readonly port: number;
  private readonly exclude: Set<string>;
  private socket: dgram.Socket | null = null;
  private starting: { promise: Promise<void>; abort(): void } | null = null;
  private readonly ifaces = new Map<string, Iface>();
  private tickTimer: NodeJS.Timeout | null = null;
  /** Per interface: the answer pending, and when (monotonic ms) the last one went. */
  private readonly answers = new Map<string, { timer: NodeJS.Timeout | null; at: number }>();
  private lastTimestamp = 0;
  /** Ticks since start, for the quick start-up cadence. */
  private ticks = 0;
  /** Problems ("<interface>:<what>") logged already, so that a tick every 5 s does not repeat them. */
  private readonly reported = new Set<string>();

  constructor(private readonly options: LanDiscoveryOptions) {
    this.now = options.now ?? Date.now;
    this.port = options.port ?? DISCOVERY_PORT;
    this.exclude = new Set(options.exclude);
    this.table = new NeighborTable(options.identity.publicKey, this.counters, this.now);
  }

  /** The interface names in use now. */
  get interfaceNames(): string[] {
    return [...this.ifaces.keys()];
  }

  neighbors(): Neighbor[] {
    return this.table.list();
  }

  neighbor(peerId: string): Neighbor | undefined {
    return this.table.get(peerId);
  }

  /**
   * Binds [::]:port (with SO_REUSEADDR, so several daemons on one host share it: each gets every
   * beacon), joins the group on each interface and sends the first beacons. Rejects if the socket
   * cannot be bound, or if stop() comes first.
   */
  start(): Promise<void> {
    if (this.starting) return this.starting.promise;
    if (this.socket) return Promise.resolve();
    const socket = dgram.createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: true, lookup: literalLookup });
    let settled = false;
    let abort!: () => void;
    const promise = new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        this.starting = null;
        socket.close();
        reject(err);
      };
      abort = () => fail(new Error('LanDiscovery stopped before it started'));
      socket.once('error', fail);
      socket.bind({ address: '::', port: this.port }, () => {
        if (settled) return;
        settled = true;
        socket.off('error', fail);
        this.starting = null;
        this.socket = socket;
        socket.on('error', (err) => this.log('warn', `discovery socket: ${err.message}`));
        socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address));
        this.tick();
        resolve();
      });
    });
    if (!settled) this.starting = { promise, abort };
    return promise;
  }

  /** Closes the socket, stops the timers and forgets every neighbour (calling removed for each).
   *  Safe to call twice, or before start(). */
  stop(): void {
    this.starting?.abort();
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.tickTimer = null;
    for (const a of this.answers.values()) if (a.timer) clearTimeout(a.timer);
    this.answers.clear();
    this.socket?.close();
    this.socket = null;
    this.ticks = 0;
    this.ifaces.clear();
    this.reported.clear();
    for (const peerId of this.table.clear()) this.emit(() => this.options.events.removed(peerId));
  }

  private tick(): void {
    const socket = this.socket;
    try {
      this.rescan();
      for (const iface of this.ifaces.values()) this.sendBeacon(iface);
      for (const peerId of this.table.expire()) this.emit(() => this.options.events.removed(peerId));
    } catch (err) {
      this.log('error', `discovery tick: ${(err as Error).message}`);
    }
    // An event handler may have stopped (and even restarted) discovery meanwhile.
    if (this.socket !== socket || !socket) return;
    // Quick at first (0.5, 1, 2, 4 s), then every interval: a link that just came up still has a
    // tentative link-local address (duplicate address detection), and beacons sent before it is
    // usable are lost.
    const jitter = 1 + BEACON_JITTER * (2 * Math.random() - 1);
    const interval = Math.min(BEACON_INTERVAL_MS, STARTUP_INTERVAL_MS * 2 ** this.ticks++);
    this.tickTimer = setTimeout(() => this.tick(), interval * jitter);
  }

  /** One datagram; `from` is Node's text of its source: "fe80::1%eth0" for a link-local one. */
  private onMessage(msg: Uint8Array, from: string): void {
    const c = this.counters;
    // The zone is the interface the datagram arrived on. Only link-local sources have one, and
    // only they can be neighbours.
    const at = from.indexOf('%');
    if (at < 0) {
      c.received++;
      c.malformed++;
      return;
    }
    const iface = this.ifaces.get(from.slice(at + 1));
    if (!iface) {
      c.received++;
      c.otherInterface++;
      return;
    }
    const r = this.table.receive(msg, from.slice(0, at), iface.name, iface.index);
    if (!r) return;
    const { events } = this.options;
    if (r.result === 'added') {
      this.emit(() => events.added(r.neighbor));
      this.answer(iface.name);
    } else if (r.result === 'changed') {
      this.emit(() => events.changed(r.neighbor));
    }
  }

  /** Sends a beacon on `name` soon: after a random delay of up to ANSWER_JITTER_MS, and at least
   *  ANSWER_INTERVAL_MS after the last answer there. One pending answer serves every newcomer. */
  private answer(name: string): void {
    if (!this.socket) return; // an event handler stopped discovery
    let a = this.answers.get(name);
    if (!a) this.answers.set(name, (a = { timer: null, at: -Infinity }));
    if (a.timer) return;
    const state = a;
    const delay = Math.max(Math.random() * ANSWER_JITTER_MS, state.at + ANSWER_INTERVAL_MS - performance.now());
    state.timer = setTimeout(() => {
      state.timer = null;
      state.at = performance.now();
      const iface = this.ifaces.get(name);
      if (iface) this.sendBeacon(iface);
    }, delay);
  }

  private sendBeacon(iface: Iface): void {
    const socket = this.socket;
    // Without a link-local endpoint, every receiver would refuse the beacon as spoofed.
    if (!socket || !hasLinkLocal(iface.endpoints)) return;
    const c = this.counters;
    const timestamp = Math.max(this.now(), this.lastTimestamp + 1);
    this.lastTimestamp = timestamp;
    try {
      const bytes = encodeBeacon(this.options.identity, timestamp, iface.endpoints);
      socket.send(bytes, this.port, `${DISCOVERY_GROUP}%${iface.name}`, (err) => {
        if (!err) {
          c.sent++;
          return;
        }
        c.sendErrors++;
        this.log('debug', `discovery: sending on ${iface.name}: ${err.message}`);
      });
    } catch (err) {
      c.sendErrors++;
      this.log('debug', `discovery: sending on ${iface.name}: ${(err as Error).message}`);
    }
  }

  /** Brings the joined interfaces in line with the system's and the options'. */
  private rescan(): void {
    const socket = this.socket;
    if (!socket) return;
    const before = this.interfaceNames.join(',');
    const wanted = new Map<string, Iface>();
    for (const [name, addrs] of Object.entries(networkInterfaces())) {
      if (!addrs || this.exclude.has(name)) continue;
      const listed = this.options.interfaces ? this.options.interfaces.includes(name) : !addrs.some((a) => a.internal);
      if (!listed) continue;
      // The index comes with the link-local address (its scope), from the same system call.
      const ll = addrs.find((a) => a.family === 'IPv6' && isLinkLocal(parseIPv6(bare(a.address))));
      if (!ll) continue;
      wanted.set(name, { name, index: ll.scopeid!, endpoints: this.endpointsOf(addrs) });
    }

    for (const old of [...this.ifaces.values()]) {
      if (wanted.get(old.name)?.index !== old.index) this.leave(socket, old);
    }
    for (const iface of wanted.values()) {
      if (!this.ifaces.has(iface.name)) {
        if (!this.join(socket, iface)) continue;
        this.ticks = 0; // a link that just came up: the quick cadence again, for its address's sake
      }
      this.ifaces.set(iface.name, iface);
      const problem = `${iface.name}:no-link-local-endpoint`;
      if (hasLinkLocal(iface.endpoints)) this.reported.delete(problem);
      else if (!this.reported.has(problem)) {
        this.reported.add(problem);
        this.log('warn', `discovery: not announcing on ${iface.name}: no IPv6 data socket on its link-local address`);
      }
    }
    if (this.options.interfaces) {
      for (const name of this.options.interfaces) {
        const problem = `${name}:unusable`;
        if (wanted.has(name)) this.reported.delete(problem);
        else if (!this.reported.has(problem)) {
          this.reported.add(problem);
          const why = this.exclude.has(name) ? 'is excluded' : 'is missing or has no IPv6 link-local address';
          this.log('warn', `discovery: interface ${name} ${why}`);
        }
      }
    }
    if (this.interfaceNames.join(',') !== before) this.emit(() => this.options.events.interfacesChanged?.());
  }

  private join(socket: dgram.Socket, iface: Iface): boolean {
    const problem = `${iface.name}:join`;
    try {
      socket.addMembership(DISCOVERY_GROUP, `::%${iface.name}`);
    } catch (err) {
      // Already a member (an earlier leave could not drop the membership): as good as joined.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        if (!this.reported.has(problem)) {
          this.log('warn', `discovery: joining on ${iface.name}: ${(err as Error).message}`);
        }
        this.reported.add(problem);
        return false;
      }
    }
    this.reported.delete(problem);
    this.log('info', `discovery: using ${iface.name}`);
    return true;
  }

  private leave(socket: dgram.Socket, iface: Iface): void {
    this.ifaces.delete(iface.name);
    this.log('info', `discovery: no longer using ${iface.name}`);
    // The membership is dropped by name, and the name of a deleted interface resolves to index 0,
    // which the kernel takes for "whichever interface is a member": another one of ours. So only
    // drop it while the name still means the interface joined; a deleted one receives nothing.
    if (native.ifIndex(iface.name) !== iface.index) return;
    try {
      socket.dropMembership(DISCOVERY_GROUP, `::%${iface.name}`);
    } catch (err) {
      this.log('debug', `discovery: leaving ${iface.name}: ${(err as Error).message}`);
    }
  }

  /** The endpoints our beacons list on an interface with these addresses: link-local first (the
   *  one receivers connect to), then other IPv6, then IPv4; at most MAX_ENDPOINTS. */
  private endpointsOf(addrs: NetworkInterfaceInfo[]): BeaconEndpoint[] {
    const linkLocal: BeaconEndpoint[] = [];
    const ipv6: BeaconEndpoint[] = [];
    const ipv4: BeaconEndpoint[] = [];
    const seen = new Set<string>();
    for (const l of this.options.listen) {
      if (l.port === 0) continue;
      const listenBytes = l.family === 4 ? parseIPv4(l.address) : parseIPv6(bare(l.address));
      const wildcard = listenBytes.every((b) => b === 0);
      for (const a of addrs) {
        if ((a.family === 'IPv4' ? 4 : 6) !== l.family) continue;
        const address = l.family === 4 ? parseIPv4(a.address) : parseIPv6(bare(a.address));
        if (!wildcard && !equalBytes(address, listenBytes)) continue;
        const key = `${a.address}/${l.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const ep: BeaconEndpoint = { family: l.family, address, port: l.port };
        (l.family === 4 ? ipv4 : isLinkLocal(address) ? linkLocal : ipv6).push(ep);
      }
    }
    return [...linkLocal, ...ipv6, ...ipv4].slice(0, MAX_ENDPOINTS);
  }

  private emit(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.log('error', `discovery event handler: ${(err as Error).stack ?? String(err)}`);
    }
  }

  private log(level: 'error' | 'warn' | 'info' | 'debug', message: string): void {
    this.options.log?.(level, message);
  }
}

/**
 * node:dgram's default lookup sends a destination through dns.lookup, which passes "ff02::1%eth0"
 * through but resolves "ff02::1%br_lan" (a zone net.isIPv6 does not accept) with getaddrinfo and
 * loses the zone, so the beacon leaves by whichever interface the routing table picks. The
 * destinations here are always literal: hand them on as they are, and libuv resolves the zone.
 */
function literalLookup(
  address: string,
  _family: unknown,
  callback: (err: Error | null, address: string, family: number) => void,
): void {
  process.nextTick(callback, null, address, 6); // later, as dns.lookup answers
}

function hasLinkLocal(endpoints: BeaconEndpoint[]): boolean {
  return endpoints.some((ep) => ep.family === 6 && isLinkLocal(ep.address));
}

/** IPv6 text without its zone. */
function bare(address: string): string {
  const at = address.indexOf('%');
  return at < 0 ? address : address.slice(0, at);
}
