// A mesh node: wires one TUN device and its transports (UDP sockets, TCP and TLS streams) to the
// session layer through the send and receive pipelines, keeps the peer list (with the links it
// makes by itself: auto-links.ts, peer-exchange.ts) and the names,
// answers DNS at fc00::1, and runs the timers. It opens no device itself — the caller (the
// daemon, or a test) hands it open ones, and the petname file loaded — so it stays embeddable;
// only LAN discovery's socket is its own, since it comes and goes with the discovery policy.
import { decodePeerId, encodePeerId } from '../keys/peerid.js';
import { fcAddressBytes, formatIPv6, meshIPv4Bytes } from '../keys/address.js';
import { AddressTable } from '../fcnet/address-table.js';
import type { StaticIdentity } from '../noise/handshake.js';
import { SessionManager, type SessionManagerOptions } from '../session/manager.js';
import { Peer } from '../session/peer.js';
import { DEFAULT_KEEPALIVE_MS, TIMER_TICK_MS } from '../session/constants.js';
import { Counters } from '../util/counters.js';
import { equalBytes } from '../util/bytes.js';
import { MTU_MAX } from '../config/schema.js';
import { DATAGRAM_OFFSET, PacketBatch, TUN_OFFSET } from '../transport/batch.js';
import { UdpTransport, type UdpSocket } from '../transport/udp.js';
import type { Transport } from '../transport/transport.js';
import { encodeEndpoint, decodeEndpoint, formatEndpoint, kindCode, type Endpoint } from '../transport/endpoint.js';
import type { PacketDevice } from '../tun/device.js';
import { CONTROL_HOP_LIMIT, KIND_ROUTING_ANSWER, encodeRoute, routedPacketMtu } from '../forward/header.js';
import { LookupQueue } from './lookup-queue.js';
import type { Route } from '../routing/router.js';
import { Routing, isFoundRoute } from '../routing/routing.js';
import type { PathSource } from '../routing/paths.js';
import { EndToEnd } from './end-to-end.js';
import { IcmpReplies } from './icmp-replies.js';
import { NameBook } from '../names/book.js';
import type { PetnameStore } from '../names/petnames.js';
import type { RovyZone } from '../names/dns.js';
import { Resolver, type DnsForwarder } from './resolver.js';
import { LanPeers, type LanPeersOptions } from './lan-peers.js';
import type { Neighbor } from '../discovery/neighbors.js';
import { LINK_ECHO_MS, Links } from './links.js';
import { InboundLinks } from './inbound.js';
import { InboundFilter } from '../fcnet/inbound-filter.js';
import type { PortRule } from '../fcnet/port-rules.js';
import { PeerAddresses, type AddressHost, type AddressSpec } from './peer-addresses.js';
import { PeerExchange, DEFAULT_EXCHANGE_OPTIONS, type ExchangeOptions } from './peer-exchange.js';
import { AutoLinks, bootstrapNodes, type AutoLinksOptions } from './auto-links.js';
import { formatMultiaddr } from '../transport/multiaddr.js';
import { randomInt } from 'node:crypto';
import { RoutedPrefixes, type ClaimStatus } from './routed-prefixes.js';
import { formatPrefix, parsePrefix } from '../fcnet/prefix.js';
import { Ipv4Bindings } from '../fcnet/ipv4-bindings.js';
import { PrefixPolicy, type PrefixGrant, type PrefixTrust } from '../routing/prefix-policy.js';
import type { AnnouncedPrefix } from '../routing/announcement.js';
import { lookup } from 'node:dns/promises';
import { defaultLinkSettings } from '../config/defaults.js';
import type { LinkSettings } from '../config/schema.js';
import { ReceivePipeline } from './receive.js';
import { SendPipeline } from './send.js';
import { DataPathCounters, dataPathReport, type DataPathReport } from './data-path.js';
import { PADDING_MULTIPLE, TAG_SIZE } from '../util/protocol.js';

export interface PeerSpec {
  publicKey: Uint8Array;
  endpoint: Endpoint | null;
  /** Where to reach the peer, best first (peer-addresses.ts); when given, `endpoint` is unused. */
  addresses?: AddressSpec[];
  psk?: Uint8Array;
  /** Persistent keepalive in seconds; 0 turns it off; absent means the default. */
  keepaliveSeconds?: number;
  name?: string;
}

export type NodeLogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface NodeOptions {
  identity: StaticIdentity;
  /** The open TUN device and UDP sockets; the node polls them but the caller closes them. */
  tun: PacketDevice;
  sockets: UdpSocket[];
  /** Transports besides UDP (TCP, TLS, the in-process hub), behind the same seam; the caller
   *  closes them too. */
  transports?: Transport[];
  mtu: number;
  peers: PeerSpec[];
  log?: (level: NodeLogLevel, message: string) => void;
  events?: NodeEvents;
  /** Whether the mesh starts switched on (default true). */
  enabled?: boolean;
  session?: SessionManagerOptions;
  /** The user's petnames (the caller loads the file); without it the node knows config names only. */
  petnames?: PetnameStore | null;
  /** LAN discovery: the policy, interfaces and the listen sockets to announce. Absent: none. */
  discovery?: Omit<LanPeersOptions, 'identity'>;
  /** Who may link to the node without being a peer (default: peers only), the links it keeps by
   *  itself and where it tells others to link to it (publish null: nowhere). */
  links?: LinkSettings;
  /** The link keeper's and peer exchange's timings, for tests that cannot wait minutes. */
  keeper?: AutoLinksOptions;
  exchange?: Partial<ExchangeOptions>;
  /** Peer IDs whose links are refused (rovy block), as saved by the embedder. */
  blocked?: string[];
  /** Routed prefixes: those this node announces (with their delegations), and whose claims it
   *  accepts (grants to nodes, holders it trusts). Absent: none of either. */
  prefixes?: { announce: AnnouncedPrefix[]; grants: PrefixGrant[]; trusts: PrefixTrust[] };
  /** The inbound filter: whether it runs (default true), and the ports open to the mesh (default none). */
  ports?: { filter: boolean; rules: PortRule[] };
  /** Whether this node offers an exit to the Internet, and to which nodes (null: any). */
  exit?: ExitOffering;
}

export interface ExitOffering {
  offer: boolean;
  /** Keys of the nodes the exit serves; null: every node of the mesh. */
  clients: readonly Uint8Array[] | null;
}

/** What an exit announces: the default route of both families. */
const EXIT_CLAIMS: readonly AnnouncedPrefix[] = [
  { prefix: parsePrefix('::/0'), delegation: null },
  { prefix: parsePrefix('0.0.0.0/0'), delegation: null },
];

export type PeerState = 'connected' | 'connecting' | 'disconnected';
export type NodeState = 'disabled' | 'offline' | 'online';

export interface PeerStatus {
  peerId: string;
  address: string;
  name: string | null;
  endpoint: string | null;
  state: PeerState;
  /** Wall-clock ms of the last completed handshake, or null. */
  lastHandshake: number | null;
  /** Round trip of the last handshake in microseconds, or 0 if none yet. */
  rttMicroseconds: number;
  rxBytes: number;
  txBytes: number;
  /**
   * "config" for peers from the config file, "runtime" for peers added with connectPeer,
   * "discovered" for nodes found on the LAN and connected to, "inbound" for nodes that linked to
   * us by the link policy (links.accept), "auto" for nodes the link keeper linked to
   * (links.target), "routed" for a node we are not linked to, known only from routing.
   */
  origin: PeerOrigin;
  /** Hops on the route to the peer: 1 for a direct neighbour, 0 when there is no route. */
  hops: number;
  /** Peer IDs of every node after us on the path, the destination last; [] when there is no route. */
  route: string[];
  /** The largest IPv6 packet the route carries; 0 when there is no route. */
  routeMtu: number;
  /** How the route was learned: "link" (a neighbour), "map" (shortest path over the signed
   *  announcements), or found by a lookup — "lookup" or "probe" (the way a request of ours went,
   *  its answer came back along it), "return" (the way the node steered back our probe),
   *  "request" (the way the node's own request came to us); "" when there is no route. */
  routeSource: RouteSource;
  /** The tree whose coordinates steered the request that found the route; -1 if none did. */
  routeTree: number;
  /** When a lookup found the route (ms since the epoch); null for "link" and "map". */
  routeFoundAt: number | null;
}

export type RouteSource = '' | 'link' | 'map' | PathSource;

type RouteFields = Pick<PeerStatus, 'hops' | 'route' | 'routeMtu' | 'routeSource' | 'routeTree' | 'routeFoundAt'>;

export type PeerOrigin = 'config' | 'runtime' | 'discovered' | 'inbound' | 'auto' | 'routed';

/** What the node tells its embedder (the D-Bus service) about changes. */
export interface NodeEvents {
  peerAdded?(peerId: string): void;
  peerRemoved?(peerId: string): void;
  /** Session up or down, endpoint moved, name changed. */
  peerChanged?(peerId: string): void;
  /** Enabled or State changed. */
  stateChanged?(): void;
  /** A petname was set or removed, or the config file's names changed. */
  namesChanged?(): void;
  /** A node appeared on, changed on, or left the local network (LAN discovery). */
  neighborAdded?(peerId: string): void;
  neighborChanged?(peerId: string): void;
  neighborRemoved?(peerId: string): void;
  /** The discovery policy, or whether it runs, or its interfaces changed. */
  discoveryChanged?(): void;
  /** The routed prefixes accepted from other nodes changed (routes via the TUN to install). */
  prefixesChanged?(): void;
  /** A route to the exit in use appeared or went (whether it offers one comes with
   *  prefixesChanged). */
  exitReachabilityChanged?(): void;
}

/** Slots per batch: enough to amortise the native calls, small enough to stay in L2. */
const BATCH = 64;
/** A slot holds the endpoint area, the transport header, the packet padded to 16 and the tag.
 *  Receive slots take the largest MTU any peer may use, so a peer configured with a larger MTU
 *  than ours is still heard. Rounded up to a cache line. */
const slotFor = (mtu: number): number => (TUN_OFFSET + mtu + PADDING_MULTIPLE - 1 + TAG_SIZE + 63) & ~63;
/** The largest datagram the node reads: what fills a receive slot. Stream transports skip
 *  longer frames. */
export const MAX_DATAGRAM_BYTES = slotFor(MTU_MAX) - DATAGRAM_OFFSET;
/** How often peers' states are compared with what was reported (handshakes starting, roaming). */
const STATUS_SCAN_MS = 1000;
/** At rest the timers run this often, not every TIMER_TICK_MS: every neighbour's hello goes out
 *  in the same wakeup, and a wakeup of the timers cost as much as the hellos themselves. Nothing
 *  at rest needs finer steps: handshake retries are seconds apart, and the tick that finds a
 *  silent link is set for the moment it falls silent. */
const REST_TICK_MS = 1000;
/** After a change (a neighbour's session up or down, routing work waiting) the timers run
 *  every TIMER_TICK_MS for this long, so links, announcements and routes settle at full pace. */
const SETTLE_MS = 2000;

export class MeshNode {
  readonly peerId: string;
  readonly address: Uint8Array;
  readonly addressText: string;
  readonly counters = new Counters();
  /** Wakeups and batches of the pipelines (with the addon's counts: dataPath()). */
  private readonly dataPathCounters = new DataPathCounters();
  readonly sessions: SessionManager;
  readonly routing: Routing;
  /** Packets waiting for a lookup of their destination. */
  private readonly lookupQueue: LookupQueue;
  /** Wall-clock ms minus the monotonic clock, taken once: monotonic times shown as dates stay
   *  the same from one report to the next. */
  private readonly wallOffset: number;
  readonly names: NameBook;
  /** Nodes on the local network and the discovery policy; null when the node has no discovery. */
  readonly lan: LanPeers | null;
  /** Links others open to us by the link policy, and the blocked keys. */
  readonly inbound: InboundLinks;
  /** What of the mesh's traffic reaches the host: ports opened, replies, ICMPv6. */
  readonly filter: InboundFilter;
  /** Networks beyond fc00::/8 behind nodes: ours, and the claims of others as this node judges them. */
  readonly prefixes: RoutedPrefixes;
  private readonly prefixPolicy: PrefixPolicy;
  private announced: AnnouncedPrefix[] = [];
  /** The prefixes the config announces; with the exit's claims when it offers one, `announced`. */
  private configured: AnnouncedPrefix[] = [];
  private exitOffering: ExitOffering = { offer: false, clients: null };
  /** The exit this node's traffic beyond the mesh goes through; null: none. */
  private exitKey: Uint8Array | null = null;
  private readonly ipv4Bindings = new Ipv4Bindings();
  private readonly resolver: Resolver;
  /** Contact records passed between neighbours, and the links the node keeps by itself. */
  readonly exchange: PeerExchange;
  private readonly autoLinks: AutoLinks;
  /** The configured addresses of the peers that have them, and which is in use. */
  private readonly addressBook = new Map<Peer, PeerAddresses>();
  private readonly addressHost: AddressHost = {
    resolve: async (host) => {
      const { family, address } = await lookup(host);
      return { family: family === 4 ? 4 : 6, address };
    },
    dialable: (endpoint, serverName) => this.transportOf[kindCode(endpoint.transport ?? 'udp')]?.addDialTarget?.(endpoint, serverName),
    initiate: (peer) => {
      if (this.timer) this.sessions.initiate(peer, this.sessions.now(), true);
    },
    log: (level, message) => this.log(level, message),
  };
  private readonly links: Links;
  private readonly e2e: EndToEnd;
  private readonly byAddress = new AddressTable<Peer>();
  /** Peer IDs of the routed (non-neighbour) destinations last reported to the embedder. */
  private readonly routedReported = new Set<string>();
  /** Routes or end-to-end peers changed since the last report. */
  private routedDirty = false;
  /** Whether the exit in use was reachable when routes were last reported. */
  private exitReachable = false;
  private readonly send: SendPipeline;
  private readonly receive: ReceivePipeline;
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (monotonic ms), and until when the node ticks at full pace. */
  private nextTickAt = Infinity;
  private settleUntil = -Infinity;
  /** TIMER_TICK_MS or REST_TICK_MS: the pace the last tick chose (reported in dataPath). */
  private pace = TIMER_TICK_MS;
  private readonly onTimer = this.guard('timers', () => {
    this.dataPathCounters.timerWakeups++;
    let delay = REST_TICK_MS; // a tick that throws leaves the timers running at the rest pace
    try {
      delay = this.tick();
    } finally {
      if (this.timer) this.armTimer(delay); // null: switched off during the tick
    }
  });
  private readonly log: (level: NodeLogLevel, message: string) => void;
  /** Every transport, UDP first; and the one for each endpoint kind (endpoint byte 1). */
  private readonly transports: readonly Transport[];
  private readonly transportOf: (Transport | undefined)[] = [];
  private readonly upPeers = new Set<Peer>();
  private readonly origins = new Map<string, PeerOrigin>();
  /** What was last reported per peer (state, endpoint, name, handshake), to notice changes. */
  private readonly reported = new Map<string, string>();
  /** When the peers were last compared with what was reported. */
  private lastScan = -Infinity;
  private readonly events: NodeEvents;
  private enabled: boolean;
  private running = false;

  constructor(private readonly options: NodeOptions) {
    this.log = options.log ?? (() => {});
    this.events = options.events ?? {};
    this.enabled = options.enabled ?? true;
    this.peerId = encodePeerId(options.identity.publicKey);
    this.address = fcAddressBytes(options.identity.publicKey);
    this.addressText = formatIPv6(this.address);
    this.names = new NameBook(options.petnames ?? null);
    this.sessions = new SessionManager(
      options.identity,
      {
        sendDatagram: (endpoint, message) => this.sendControl(endpoint, message),
        sessionUp: (peer, first) => {
          // Rekeys happen every two minutes per peer: worth a line only when debugging.
          const wasOnline = this.upPeers.size > 0;
          if (first || !this.upPeers.has(peer)) this.log('info', `peer ${peer.peerId} connected`);
          else this.log('debug', `peer ${peer.peerId} rekeyed`);
          // A new link for routing to take up at full pace; a rekey (every two minutes per peer)
          // changes nothing the timers follow.
          if (!this.upPeers.has(peer)) this.wake();
          this.upPeers.add(peer);
          this.inbound.sessionUp(peer.peerId);
          this.reportIfChanged(peer);
          if (!wasOnline) this.events.stateChanged?.();
        },
        sessionDown: (peer) => {
          if (!this.upPeers.delete(peer)) return;
          this.inbound.sessionDown(peer.peerId, this.sessions.now());
          this.wake();
          this.log('info', `peer ${peer.peerId} disconnected`);
          this.reportIfChanged(peer);
          if (this.upPeers.size === 0) this.events.stateChanged?.();
        },
        internalError: (err) => {
          this.counters.internalErrors++;
          this.log('error', `timers: ${(err as Error).stack ?? String(err)}`);
        },
      },
      this.counters,
      { mtu: options.mtu, ...options.session, acceptPeer: (key, source, sourceKey) => this.acceptInitiator(key, source, sourceKey) },
    );
    this.transports = [new UdpTransport(options.sockets), ...(options.transports ?? [])];
    for (const transport of this.transports) {
      for (let kind = 0; kind < 32; kind++) if (transport.kinds & (1 << kind)) this.transportOf[kind] = transport;
    }
    this.links = new Links(this.sessions, {
      linkUp: (link, peer) => {
        this.routing.linkUp(link, peer.publicKey);
        this.exchange.linkUp(peer, this.sessions.now());
      },
      linkDown: (link, peer) => {
        // Reverse routes out by it go too (routesBroken): their packets wait for a route instead.
        this.routing.linkDown(link);
        // Silent while its session still stands: the far end may have lost the session (it
        // restarted, or dropped this link); a handshake finds out now rather than at WireGuard's
        // next timer, up to half a minute later.
        if (this.timer && peer.isUp) this.sessions.initiate(peer, this.sessions.now());
      },
    });
    this.wallOffset = Date.now() - this.sessions.now();
    this.routing = new Routing({
      identity: options.identity,
      mtu: options.mtu,
      now: this.sessions.now,
      send: (link, frame) => {
        const peer = this.links.peer(link);
        if (!peer || !this.sessions.sendTransport(peer, frame, this.sessions.now())) this.counters.noSession++;
      },
      sendRouted: (link, slots, payload) => this.e2e.sendFrame(encodeRoute(link, slots), KIND_ROUTING_ANSWER, CONTROL_HOP_LIMIT, payload),
      routesChanged: () => {
        this.e2e.routesChanged((key) => this.routing.routeTo(key));
        this.routedDirty = true;
      },
      routesBroken: (broken) => this.e2e.dropEndpoints(broken),
      workDue: () => this.wake(),
      // Off the send path: the packets that waited go back through it.
      lookupDone: (result) => setImmediate(() => this.lookupQueue.done(result, this.sessions.now())),
    });
    this.lookupQueue = new LookupQueue({
      locate: (address) => this.routing.locate(address),
      resend: (packets) => this.send.sendPackets(packets),
      noRoute: (packet) => {
        this.counters.noRoute++;
        icmp.noRoute(packet, 0, packet.length);
      },
    });
    const icmp = new IcmpReplies(options.tun, this.address, this.sessions.now);
    this.e2e = new EndToEnd(
      options.identity,
      this.sessions,
      this.links,
      icmp,
      this.counters,
      {
        changed: () => (this.routedDirty = true), // reported at the next tick, within a second
        resend: (packets) => this.send.sendPackets(packets),
        // Off the stack that told routing's change: the lookup starts from a settled routing.
        routeLost: (peer) => setImmediate(() => this.timer && this.routing.locate(peer.address)),
        internalError: (err) => {
          this.counters.internalErrors++;
          this.log('error', `end-to-end: ${(err as Error).stack ?? String(err)}`);
        },
      },
      options.mtu,
      options.session?.now,
    );
    const resolver = new Resolver(options.tun, this.zone(), icmp, this.counters);
    this.resolver = resolver;
    this.filter = new InboundFilter(options.ports?.rules ?? [], options.ports?.filter ?? true);
    this.exchange = new PeerExchange(
      options.identity,
      {
        send: (peer, frame) => this.sessions.sendTransport(peer, frame, this.sessions.now()),
        wallNow: Date.now,
        random: randomInt,
      },
      options.mtu,
      { ...DEFAULT_EXCHANGE_OPTIONS, ...options.exchange },
    );
    const linkSettings = options.links ?? defaultLinkSettings();
    this.exchange.publish(linkSettings.publish ?? []);
    this.autoLinks = new AutoLinks(linkSettings.target, bootstrapNodes(linkSettings.bootstrap, this.peerId, this.log), this.exchange.book, this.autoLinksHost(), this.sessions.now(), options.keeper);
    this.prefixPolicy = new PrefixPolicy(options.prefixes?.grants, options.prefixes?.trusts);
    this.prefixes = new RoutedPrefixes(this.prefixPolicy, this.log);
    this.configured = options.prefixes?.announce ?? [];
    this.exitOffering = options.exit ?? this.exitOffering;
    this.applyOwnPrefixes();
    const context = {
      prefixes: this.prefixes,
      ipv4Bindings: this.ipv4Bindings,
      filter: this.filter,
      exchange: this.exchange,
      tun: options.tun,
      transports: this.transports,
      mtu: options.mtu,
      hop: this.sessions,
      links: this.links,
      routing: this.routing,
      e2e: this.e2e,
      counters: this.counters,
      dataPath: this.dataPathCounters,
    };
    this.send = new SendPipeline(new PacketBatch(BATCH, slotFor(options.mtu)), { ...context, neighbours: this.byAddress, icmp, resolver, lookups: this.lookupQueue });
    this.receive = new ReceivePipeline(new PacketBatch(BATCH, slotFor(MTU_MAX)), {
      ...context,
      localAddress: this.address,
      servesExit: (key: Uint8Array) => this.servesExit(key),
      icmp,
      sendToMesh: (packet) => this.send.sendPackets([packet]),
    });
    this.lan = options.discovery ? new LanPeers({ ...options.discovery, identity: options.identity }, this.lanHost()) : null;
    this.inbound = new InboundLinks(linkSettings, {
      add: (peerId, publicKey, endpoint) => {
        this.add(peerId, { publicKey, endpoint: null, keepaliveSeconds: 0 }, endpoint, 'inbound', this.sessions.now(), false);
        return this.sessions.getPeer(publicKey)!;
      },
      forget: (peerId) => {
        const peer = this.sessions.getPeer(decodePeerId(peerId));
        if (peer) this.forget(peer);
      },
      degreeOf: (peerId) => this.routing.map.degreeOf(decodePeerId(peerId)),
      log: this.log,
    });
    for (const peerId of options.blocked ?? []) this.inbound.block(peerId);
    this.setPeers(options.peers);
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  get state(): NodeState {
    return !this.enabled ? 'disabled' : this.upPeers.size > 0 ? 'online' : 'offline';
  }

  /** The data path's work per wakeup, system call and AEAD call so far (data-path.ts). */
  dataPath(): DataPathReport {
    return dataPathReport(this.dataPathCounters, this.pace);
  }

  /** Starts the node; while it is switched off (setEnabled(false)) it stays quiet until switched on. */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.enabled) this.startIO();
  }

  /** Stops all I/O and wipes every key, pre-shared keys included. The caller closes the devices. */
  stop(): void {
    if (this.running && this.enabled) this.stopIO();
    this.running = false;
    this.sessions.destroy();
    this.e2e.destroy();
  }

  /**
   * Switches the mesh on or off. Off: no I/O at all, every session closed and its keys wiped
   * (the caller takes the interface down); the peers are kept. On: I/O resumes and every peer is
   * contacted again.
   */
  setEnabled(enabled: boolean): void {
    if (enabled === this.enabled) return;
    this.enabled = enabled;
    if (this.running) {
      if (enabled) this.startIO();
      else {
        this.stopIO();
        this.sessions.closeAll();
        this.e2e.closeAll();
        // No links, so no routes: said now, since the timers that would notice are stopped.
        this.links.downAll();
        this.routing.tick();
        this.reportRouted();
      }
    }
    this.log('info', enabled ? 'mesh switched on' : 'mesh switched off');
    for (const peer of this.sessions.allPeers()) this.reportIfChanged(peer);
    this.events.stateChanged?.();
  }

  private startIO(): void {
    this.options.tun.onReadable(this.drainer('TUN read', this.options.tun, this.send.onReadable));
    for (const transport of this.transports) {
      for (const source of transport.sources) {
        source.onReadable(
          this.drainer('receive', source, () => {
            this.receive.drain(source);
            this.echoSoon();
          }),
        );
      }
    }
    this.wake();
    this.armTimer(TIMER_TICK_MS);
    const now = this.sessions.now();
    for (const peer of this.sessions.allPeers()) this.sessions.initiate(peer, now);
    this.lan?.start();
  }

  private stopIO(): void {
    this.lan?.stop();
    this.options.tun.stop();
    for (const transport of this.transports) for (const source of transport.sources) source.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.nextTickAt = Infinity;
  }

  /** Ticks at full pace for a while: something changed that the timers should follow closely. */
  private wake(): void {
    const now = this.sessions.now();
    this.settleUntil = now + SETTLE_MS;
    this.pace = TIMER_TICK_MS;
    if (this.timer && this.nextTickAt - now > TIMER_TICK_MS) this.armTimer(TIMER_TICK_MS);
  }

  /** Packets waiting for lookups: destinations now, and packets held, answered "no route" after a
   *  lookup found nothing, and refused because too many destinations waited, so far. */
  lookupsWaiting(): { destinations: number; held: number; failed: number; full: number } {
    const q = this.lookupQueue;
    return { destinations: q.size, held: q.held, failed: q.failed, full: q.full };
  }

  /** Data that came in owes its neighbour an echo within LINK_ECHO_MS (links.ts): the timers
   *  run by then. A flag test per received batch. */
  private echoSoon(): void {
    if (!this.sessions.keepaliveOwed) return;
    this.sessions.keepaliveOwed = false;
    if (this.timer && this.nextTickAt - this.sessions.now() > LINK_ECHO_MS) this.armTimer(LINK_ECHO_MS);
  }

  private armTimer(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.nextTickAt = this.sessions.now() + delay;
    this.timer = setTimeout(this.onTimer, delay);
  }

  /** TIMER_TICK_MS while something settles or routing has work waiting, else REST_TICK_MS. */
  private paceAt(now: number): number {
    return now < this.settleUntil || this.routing.hasWork ? TIMER_TICK_MS : REST_TICK_MS;
  }

  /** Runs every timer; returns how long until the next tick. */
  private tick(): number {
    const started = this.sessions.now();
    this.sessions.tick();
    const linkDeath = this.links.tick(started, this.paceAt(started));
    this.e2e.tick((key) => (this.routing.routeTo(key)?.hops ?? 0) > 1);
    this.routing.tick();
    this.lookupQueue.sweep(this.sessions.now());
    this.lan?.tick(this.sessions.now());
    this.inbound.tick(this.sessions.now(), (peerId) => this.sessions.getPeer(decodePeerId(peerId))?.handshake != null);
    if (this.prefixes.update(this.routing.map, this.sessions.now(), Date.now())) this.events.prefixesChanged?.();
    this.exchange.tick(this.sessions.now(), this.upPeers);
    this.autoLinks.tick(this.sessions.now());
    // Handshakes starting or giving up, roaming and route changes are noticed here, off the
    // packet path, once a second: a status is built per peer, and at every tick that was a fifth
    // of the daemon's cost at rest. Sessions coming up or down are reported at once anyway.
    const now = this.sessions.now();
    if (now - this.lastScan >= STATUS_SCAN_MS) {
      this.lastScan = now;
      for (const [peer, addresses] of this.addressBook) addresses.tick(peer, now);
      for (const peer of this.sessions.allPeers()) this.reportIfChanged(peer);
    }
    if (this.routedDirty) this.reportRouted();
    this.pace = this.paceAt(now);
    // At least a millisecond: a link that fell silent this very tick was handled by it.
    return Math.max(1, Math.min(this.pace, linkDeath - now));
  }

  /** Tells the embedder which routed destinations appeared, went, or changed. */
  private reportRouted(): void {
    this.routedDirty = false;
    // The exit in use coming back into reach changes none of its claims: told on its own, so that
    // the embedder's routes and DNS forwarding follow at this tick, not at its next poll (the
    // status said "active" up to 5 s before names beyond .rovy went to the exit again).
    const exitReachable = this.exitRouted();
    if (exitReachable !== this.exitReachable) {
      this.exitReachable = exitReachable;
      this.events.exitReachabilityChanged?.();
    }
    const current = new Set<string>();
    for (const status of this.routedStatuses()) {
      current.add(status.peerId);
      const snapshot = statusSnapshot(status);
      if (!this.routedReported.has(status.peerId)) {
        this.routedReported.add(status.peerId);
        this.reported.set(status.peerId, snapshot);
        this.events.peerAdded?.(status.peerId);
      } else if (this.reported.get(status.peerId) !== snapshot) {
        this.reported.set(status.peerId, snapshot);
        this.events.peerChanged?.(status.peerId);
      }
    }
    for (const peerId of [...this.routedReported]) {
      if (current.has(peerId)) continue;
      this.routedReported.delete(peerId);
      this.reported.delete(peerId);
      this.events.peerRemoved?.(peerId);
    }
  }

  /** Tells the embedder about a peer whose visible state changed since it last heard. */
  private reportIfChanged(peer: Peer): void {
    if (!this.events.peerChanged) return;
    const snapshot = this.snapshotOf(peer);
    if (this.reported.get(peer.peerId) === snapshot) return;
    this.reported.set(peer.peerId, snapshot);
    this.events.peerChanged(peer.peerId);
  }

  private snapshotOf(peer: Peer): string {
    return statusSnapshot(this.neighbourStatus(peer));
  }

  /**
   * Makes the peer list equal to `specs`: new peers are added (and contacted if running),
   * missing ones removed with their keys wiped, and the others updated in place so their
   * sessions survive (a SIGHUP reload).
   */
  setPeers(specs: PeerSpec[]): void {
    // Everything that can fail is worked out before anything changes.
    const wanted = new Map<string, { spec: PeerSpec; endpoint: Uint8Array | null }>();
    for (const spec of specs) {
      wanted.set(encodePeerId(spec.publicKey), { spec, endpoint: spec.endpoint ? encodeEndpoint(spec.endpoint) : null });
    }
    for (const peer of [...this.sessions.allPeers()]) {
      if (!wanted.has(peer.peerId) && this.origins.get(peer.peerId) === 'config') this.forget(peer);
    }
    this.setConfigNames(specs);
    const now = this.sessions.now();
    for (const [peerId, { spec, endpoint }] of wanted) {
      const existing = this.sessions.getPeer(spec.publicKey);
      if (existing) {
        const psk = pskOf(spec);
        this.origins.set(peerId, 'config');
        existing.keepaliveMs = keepaliveMsOf(spec);
        this.reportIfChanged(existing);
        if (existing.psk !== psk) existing.psk.fill(0);
        existing.psk = psk;
        // The live endpoint may have roamed; only a changed config entry overrides it.
        if (spec.addresses?.length) {
          const texts = spec.addresses.map((a) => a.text).join(' ');
          if (texts !== this.addressBook.get(existing)?.specs.map((a) => a.text).join(' ')) {
            const addresses = new PeerAddresses(spec.addresses, this.addressHost);
            this.addressBook.set(existing, addresses);
            const first = addresses.initialEndpoint();
            if (first) {
              existing.endpoint = first;
              existing.configuredEndpoint = first.slice();
            }
            addresses.start(existing);
          }
        } else if (endpoint && !(existing.configuredEndpoint && equalBytes(endpoint, existing.configuredEndpoint))) {
          existing.endpoint = endpoint;
          existing.configuredEndpoint = endpoint.slice();
        }
        continue;
      }
      this.add(peerId, spec, endpoint, 'config', now);
    }
  }

  /**
   * Adds a peer at run time (not from the config: a SIGHUP leaves it alone) and contacts it.
   * Throws if the key is already a peer's or the endpoint is unusable.
   */
  connectPeer(spec: PeerSpec): string {
    const peerId = encodePeerId(spec.publicKey);
    if (peerId === this.peerId) throw new Error(`${peerId} is this node itself`);
    if (this.sessions.getPeer(spec.publicKey)) throw new Error(`${peerId} is already a peer`);
    if (this.inbound.isBlocked(peerId)) throw new Error(`${peerId} is blocked (rovy unblock ${peerId} lifts it)`);
    const endpoint = spec.endpoint ? encodeEndpoint(spec.endpoint) : null;
    this.add(peerId, spec, endpoint, 'runtime', this.sessions.now());
    return peerId;
  }

  /** Removes a peer, whichever way it came, wiping its keys. False if there is no such peer. */
  disconnectPeer(peerId: string): boolean {
    const peer = [...this.sessions.allPeers()].find((p) => p.peerId === peerId);
    if (!peer) return false;
    // Whichever way it came, neither discovery's "auto" nor the link keeper brings it straight back.
    this.lan?.refuse(peerId);
    if (this.origins.get(peerId) === 'auto') this.autoLinks.dropped(peerId, this.sessions.now());
    this.forget(peer);
    return true;
  }

  /**
   * Refuses `peerId`'s links from now on — inbound, from the LAN, added with connectPeer — and
   * drops the link it has. A peer from the config file cannot be blocked: the file lists it on
   * purpose (remove it there). False if it was blocked already. The node may still reach this
   * one through others, as any node of the mesh can.
   */
  block(peerId: string): boolean {
    if (peerId === this.peerId) throw new Error(`${peerId} is this node itself`);
    if (this.origins.get(peerId) === 'config') throw new Error(`${peerId} comes from the config file: remove its [[peer]] block there and reload`);
    const changed = this.inbound.block(peerId);
    const peer = this.sessions.getPeer(decodePeerId(peerId));
    if (peer) {
      this.log('info', `peer ${peerId} blocked: its link is dropped`);
      this.forget(peer);
    } else if (changed) this.log('info', `peer ${peerId} blocked`);
    return changed;
  }

  /** Lets `peerId` link again. False if it was not blocked. */
  unblock(peerId: string): boolean {
    const changed = this.inbound.unblock(peerId);
    if (changed) this.log('info', `peer ${peerId} unblocked`);
    return changed;
  }

  /** New link settings (a reload): whom to accept, how many links to keep and where to be
   *  reached from now on; links kept stay. */
  setLinkSettings(settings: LinkSettings): void {
    this.inbound.configure(settings);
    this.autoLinks.configure(settings.target, bootstrapNodes(settings.bootstrap, this.peerId, this.log));
    const published = (settings.publish ?? []).map((m) => formatMultiaddr(m)).join(' ');
    if (published !== this.published().join(' ')) this.exchange.publish(settings.publish ?? []);
  }

  /** New routed prefixes settings (a reload): what to announce, whose claims to accept. */
  setPrefixSettings(settings: { announce: AnnouncedPrefix[]; grants: PrefixGrant[]; trusts: PrefixTrust[] }): void {
    this.configured = settings.announce;
    this.applyOwnPrefixes();
    this.prefixPolicy.configure(settings.grants, settings.trusts);
    if (this.prefixes.update(this.routing.map, this.sessions.now(), Date.now(), true)) this.events.prefixesChanged?.();
  }

  /** New exit settings (a reload): whether this node offers an exit, and to whom. */
  setExitOffering(offering: ExitOffering): void {
    this.exitOffering = offering;
    this.applyOwnPrefixes();
  }

  /** Sends this node's traffic beyond the mesh (every address no routed prefix holds) through the
   *  exit of `publicKey`, from the next judgement on, as long as it offers one; null: no exit. */
  useExit(publicKey: Uint8Array | null): void {
    this.exitKey = publicKey;
    // The embedder syncs after choosing: only later changes of reach are told.
    this.exitReachable = this.exitRouted();
    this.prefixes.choose(publicKey);
    this.applyOwnPrefixes();
    if (this.prefixes.update(this.routing.map, this.sessions.now(), Date.now(), true)) this.events.prefixesChanged?.();
  }

  /** Whether routing has a route to the exit in use. */
  private exitRouted(): boolean {
    return this.exitKey !== null && this.routing.routeTo(this.exitKey) !== undefined;
  }

  /** Where the resolver at fc00::1 sends queries for names outside .rovy: the embedder's way to
   *  the exit in use (the daemon's, service/exit-dns.ts); null: they are REFUSED. */
  setDnsForwarder(forwarder: DnsForwarder | null): void {
    this.resolver.setForwarder(forwarder);
  }

  /** The node's mesh IPv4 address (keys/address.ts), its source for IPv4 through an exit. */
  get meshIPv4(): Uint8Array {
    return meshIPv4Bytes(this.address);
  }

  /** On the receive path, per packet for the exit: allocates nothing. */
  private servesExit(key: Uint8Array): boolean {
    const { offer, clients } = this.exitOffering;
    if (!offer) return false;
    if (clients === null) return true;
    for (let i = 0; i < clients.length; i++) if (equalBytes(clients[i]!, key)) return true;
    return false;
  }

  /** What the node announces and takes off the mesh: the config's prefixes, an exit's default
   *  routes, and while it uses an exit, its mesh IPv4 address (the replies come back to it). */
  private applyOwnPrefixes(): void {
    const announce = this.exitOffering.offer ? [...this.configured, ...EXIT_CLAIMS] : this.configured;
    this.announced = announce;
    const own = announce.map((a) => a.prefix);
    if (this.exitKey) own.push({ family: 4, address: this.meshIPv4, length: 32 });
    this.prefixes.setOwn(own);
    this.routing.map.setPrefixes(announce);
  }

  /** Exits: what this node offers, the exit it uses (and whether it is there and reachable now),
   *  and the nodes that offer one. */
  exitReport(): {
    offering: { offer: boolean; clients: string[] | null; bound: number };
    using: { peerId: string; available: boolean; reachable: boolean; ipv4: boolean; ipv6: boolean } | null;
    offers: { peerId: string; ipv4: boolean; ipv6: boolean; hops: number | null }[];
  } {
    const chosen = this.prefixes.chosenExit();
    const hops = (key: Uint8Array): number | null => this.routing.routeTo(key)?.hops ?? null;
    return {
      offering: {
        offer: this.exitOffering.offer,
        clients: this.exitOffering.clients?.map((c) => encodePeerId(c)) ?? null,
        bound: this.ipv4Bindings.size,
      },
      using: this.exitKey
        ? {
            peerId: encodePeerId(this.exitKey),
            available: chosen !== null,
            reachable: chosen !== null && this.exitRouted(),
            ipv4: chosen?.ipv4 ?? false,
            ipv6: chosen?.ipv6 ?? false,
          }
        : null,
      offers: this.prefixes.exitOffers().map((o) => ({ peerId: o.peerId, ipv4: o.ipv4, ipv6: o.ipv6, hops: hops(o.publicKey) })),
    };
  }

  /** Routed prefixes, for status reports: what this node announces, every claim heard with what
   *  it made of it, and the counts. */
  prefixesReport(): { announced: string[]; claims: ClaimStatus[]; accepted: number; refused: number; conflicts: number; exits: number } {
    return { announced: this.announced.map((a) => formatPrefix(a.prefix)), claims: this.prefixes.list(), ...this.prefixes.report() };
  }

  /** What the node knows of the mesh beyond its routes, for status reports: the map's nodes,
   *  the lookup table's, the mesh's size as the node estimates it and how often it publishes
   *  its locator for that, and its place in each tree (the root's peer ID and its depth). */
  routingReport(): { mapNodes: number; contacts: number; meshSize: number; publishPeriodSeconds: number; trees: { tree: number; root: string; depth: number }[] } {
    const { trees, publishPeriodMs, meshSize, ...counts } = this.routing.report();
    return {
      ...counts,
      // An estimate from 8 distances: a whole number of nodes says as much.
      meshSize: Math.round(meshSize),
      publishPeriodSeconds: Math.round(publishPeriodMs / 1000),
      trees: trees.map(({ root, depth }, tree) => ({ tree, root: encodePeerId(root), depth })),
    };
  }

  /** The link policy, the link keeper and peer exchange, for status reports. */
  linksReport(): ReturnType<InboundLinks['report']> & {
    keeper: ReturnType<AutoLinks['report']>;
    exchange: { publishing: string[]; contacts: number; counters: Record<string, number>; records: Record<string, number> };
  } {
    return {
      ...this.inbound.report(),
      keeper: this.autoLinks.report(),
      exchange: { publishing: this.published(), contacts: this.exchange.book.size, counters: this.exchange.counters.snapshot(), records: this.exchange.book.counters.snapshot() },
    };
  }

  /** The addresses this node's contact record gives, as multiaddr text. */
  private published(): string[] {
    return this.exchange.ownRecord ? this.exchange.publishedAddresses.map((m) => formatMultiaddr(m)) : [];
  }

  /** What the link keeper may see of the node and do to its peer list. */
  private autoLinksHost(): ConstructorParameters<typeof AutoLinks>[3] {
    return {
      peers: () => this.sessions.allPeers(),
      isUp: (peer) => this.links.isUp(peer),
      isManaged: (peer) => this.origins.get(peer.peerId) === 'auto',
      routesByLink: () => {
        const counts = new Map<number, number>();
        for (const route of this.routing.routes()) counts.set(route.link, (counts.get(route.link) ?? 0) + 1);
        return counts;
      },
      isExcluded: (peerId) => peerId === this.peerId || this.inbound.isBlocked(peerId),
      connect: (peerId, publicKey, addresses) => {
        if (!this.sessions.getPeer(publicKey)) this.add(peerId, { publicKey, endpoint: null, addresses }, null, 'auto', this.sessions.now());
      },
      drop: (peerId) => {
        const peer = this.sessions.getPeer(decodePeerId(peerId));
        if (peer && this.origins.get(peerId) === 'auto') this.forget(peer);
      },
      wallNow: Date.now,
      random: randomInt,
      log: this.log,
    };
  }

  /** What LAN discovery may do to the peer list. */
  private lanHost(): ConstructorParameters<typeof LanPeers>[1] {
    const discovered = (): Peer[] => [...this.sessions.allPeers()].filter((p) => this.origins.get(p.peerId) === 'discovered');
    return {
      isNeighbour: (peerId) => this.origins.has(peerId),
      connect: (n) => {
        if (!this.sessions.getPeer(n.publicKey) && !this.inbound.isBlocked(n.peerId)) this.addDiscovered(n, true);
      },
      moved: (n) => {
        const peer = this.sessions.getPeer(n.publicKey);
        if (!peer) return;
        peer.endpoint = encodeEndpoint(n.endpoint);
        peer.configuredEndpoint = peer.endpoint.slice();
        this.reportIfChanged(peer);
      },
      discovered: () => discovered().map((p) => ({ peerId: p.peerId, up: p.isUp })),
      forget: (peerId) => {
        const peer = this.sessions.getPeer(decodePeerId(peerId));
        if (peer && this.origins.get(peerId) === 'discovered') this.forget(peer);
      },
      now: this.sessions.now,
      log: this.log,
      events: this.events,
    };
  }

  /**
   * An authentic initiation from a key that is no peer of ours. Under discovery policy "auto", a
   * node whose beacon we accepted becomes a neighbour when it initiates, even before our own
   * connect to it; anyone else is for the link policy to judge (inbound.ts). A blocked key is
   * neither. Answering this initiation is the handshake: no initiation of our own on top.
   */
  private acceptInitiator(publicKey: Uint8Array, source: Uint8Array, sourceKey: string): Peer | undefined {
    const peerId = encodePeerId(publicKey);
    if (this.inbound.isBlocked(peerId)) {
      this.inbound.refusedBlocked();
      return undefined;
    }
    const neighbor = this.lan?.acceptable(peerId);
    if (neighbor) return this.addDiscovered(neighbor, false);
    return this.inbound.accept(publicKey, peerId, source, sourceKey, this.sessions.now());
  }

  /** Makes a LAN neighbour a peer of origin "discovered", at the endpoint it announced. */
  private addDiscovered(n: Neighbor, initiate: boolean): Peer {
    this.add(n.peerId, { publicKey: n.publicKey, endpoint: n.endpoint }, encodeEndpoint(n.endpoint), 'discovered', this.sessions.now(), initiate);
    return this.sessions.getPeer(n.publicKey)!;
  }

  private add(peerId: string, spec: PeerSpec, endpoint: Uint8Array | null, origin: PeerOrigin, now: number, initiate = true): void {
    const addresses = spec.addresses?.length ? new PeerAddresses(spec.addresses, this.addressHost) : null;
    if (addresses) endpoint = addresses.initialEndpoint();
    const address = fcAddressBytes(spec.publicKey);
    const peer = new Peer({ publicKey: spec.publicKey, peerId, address, addressText: formatIPv6(address), endpoint, psk: pskOf(spec), keepaliveMs: keepaliveMsOf(spec) });
    peer.configuredEndpoint = endpoint?.slice() ?? null;
    this.sessions.addPeer(peer);
    this.links.add(peer);
    // A node known until now only by routing becomes a neighbour: one peer object, not two.
    if (this.routedReported.delete(peerId)) this.events.peerRemoved?.(peerId);
    this.byAddress.set(address, peer);
    this.origins.set(peerId, origin);
    this.reported.set(peerId, this.snapshotOf(peer));
    this.log('info', `peer ${peerId} added`);
    this.events.peerAdded?.(peerId);
    if (addresses) this.addressBook.set(peer, addresses);
    if (this.timer && initiate) this.sessions.initiate(peer, now);
    addresses?.start(peer);
  }

  private forget(peer: Peer): void {
    this.sessions.removePeer(peer); // reports sessionDown first if it was connected
    this.links.remove(peer);
    this.byAddress.delete(peer.address);
    this.addressBook.delete(peer);
    this.upPeers.delete(peer);
    this.origins.delete(peer.peerId);
    this.reported.delete(peer.peerId);
    this.inbound.removed(peer.peerId);
    this.exchange.removed(peer);
    this.autoLinks.removed(peer);
    this.log('info', `peer ${peer.peerId} removed`);
    this.events.peerRemoved?.(peer.peerId);
    this.routedDirty = true; // it may still be reachable through others
  }

  /**
   * Names `peerId` `name` (NameError when the name is invalid or taken, or the file cannot be
   * written: then nothing changed) and tells the embedder whose Petname changed.
   */
  setName(name: string, peerId: string): void {
    const changed = this.names.set(name, peerId);
    if (changed.length === 0) return;
    this.log('info', `name ${name.toLowerCase()} set for ${this.names.peerOf(name)}`);
    this.namesChanged(changed);
  }

  /** Removes the petname `name` (NameError('NoSuchName') if there is none). */
  removeName(name: string): void {
    const changed = this.names.remove(name);
    this.log('info', `name ${name.toLowerCase()} of ${changed[0]} removed`);
    this.namesChanged(changed);
  }

  private setConfigNames(specs: PeerSpec[]): void {
    const names = new Map<string, string>();
    for (const spec of specs) if (spec.name !== undefined) names.set(spec.name, encodePeerId(spec.publicKey));
    const { changed, shadowed } = this.names.setConfigNames(names);
    for (const warning of shadowed) this.log('warn', warning);
    if (changed.length > 0) this.namesChanged(changed);
  }

  /** Tells the embedder that the names changed, and whose Petname with them: through the
   *  usual reports for peers (a name is part of their status), directly for LAN nodes that are
   *  not peers. */
  private namesChanged(peerIds: string[]): void {
    for (const peerId of peerIds) {
      const peer = this.sessions.getPeer(decodePeerId(peerId));
      if (peer) this.reportIfChanged(peer);
      else if (this.lan?.neighbor(peerId)) this.events.neighborChanged?.(peerId);
    }
    this.reportRouted();
    this.events.namesChanged?.();
  }

  /** What the resolver at fc00::1 answers from: peer IDs, names, and every node we know of. */
  private zone(): RovyZone {
    return {
      addressOf: (label) => this.names.addressOf(label),
      labelOf: (address) => {
        const key = this.keyAt(address);
        const peerId = key ? encodePeerId(key) : this.names.peerAt(address);
        return peerId === undefined ? null : (this.names.nameOf(peerId) ?? peerId);
      },
    };
  }

  /** The key of the node at fc address `address`, if this node has met or heard of it. */
  private keyAt(address: Uint8Array): Uint8Array | undefined {
    if (equalBytes(address, this.address)) return this.options.identity.publicKey;
    const known = this.byAddress.lookup(address, 0)?.publicKey ?? this.routing.keyOf(address) ?? this.e2e.lookup(address, 0)?.publicKey;
    if (known) return known;
    const text = formatIPv6(address);
    return this.lan?.neighbors().find((n) => n.address === text)?.publicKey;
  }

  /** Every peer's status — neighbours, then nodes reached through them — or one peer's (by peer ID). */
  peerStatus(): PeerStatus[];
  peerStatus(peerId: string): PeerStatus | undefined;
  peerStatus(peerId?: string): PeerStatus[] | PeerStatus | undefined {
    if (peerId !== undefined) {
      for (const peer of this.sessions.allPeers()) if (peer.peerId === peerId) return this.neighbourStatus(peer);
      return this.routedStatuses().find((s) => s.peerId === peerId);
    }
    const statuses: PeerStatus[] = [];
    for (const peer of this.sessions.allPeers()) statuses.push(this.neighbourStatus(peer));
    statuses.push(...this.routedStatuses());
    return statuses;
  }

  private neighbourStatus(peer: Peer): PeerStatus {
    const route = this.routing.routeTo(peer.publicKey);
    const direct = !route && peer.isUp; // routing has not caught up with a fresh link yet
    return {
      peerId: peer.peerId,
      address: peer.addressText,
      name: this.names.nameOf(peer.peerId) ?? null,
      endpoint: this.endpointText(peer),
      ...sessionFields(peer),
      origin: this.origins.get(peer.peerId) ?? 'config',
      ...(direct ? { hops: 1, route: [peer.peerId], routeMtu: this.options.mtu, routeSource: 'link', routeTree: -1, routeFoundAt: null } : this.routeFields(route)),
    };
  }

  /** Nodes that are not neighbours but have a route, an end-to-end session, or both. */
  private routedStatuses(): PeerStatus[] {
    const known = new Map<string, { address: string; route?: Route; session?: Peer }>();
    for (const route of this.routing.routes()) {
      if (!this.sessions.getPeer(route.publicKey)) known.set(encodePeerId(route.publicKey), { address: formatIPv6(route.address), route });
    }
    for (const peer of this.e2e.all()) {
      if (!this.sessions.getPeer(peer.publicKey)) known.set(peer.peerId, { ...known.get(peer.peerId), address: peer.addressText, session: peer });
    }
    return [...known].map(([peerId, { address, route, session }]) => ({
      peerId,
      address,
      name: this.names.nameOf(peerId) ?? null,
      endpoint: null,
      ...sessionFields(session),
      origin: 'routed',
      ...this.routeFields(route),
    }));
  }

  private routeFields(route: Route | undefined): RouteFields {
    if (!route) return { hops: 0, route: [], routeMtu: 0, routeSource: '', routeTree: -1, routeFoundAt: null };
    const routeMtu = route.hops === 1 ? route.mtu : routedPacketMtu(route.mtu, route.hops - 1);
    if (!isFoundRoute(route)) {
      return { hops: route.hops, route: route.path.map((key) => encodePeerId(key)), routeMtu, routeSource: route.hops === 1 ? 'link' : 'map', routeTree: -1, routeFoundAt: null };
    }
    // A found route knows its label, not who is on it: the first hop and the destination.
    const firstHop = this.links.peer(route.link);
    const path = route.hops > 1 && firstHop ? [firstHop.peerId, encodePeerId(route.publicKey)] : [encodePeerId(route.publicKey)];
    return {
      hops: route.hops,
      route: path,
      routeMtu,
      routeSource: route.source === 'neighbour' ? 'link' : route.source,
      routeTree: route.tree,
      routeFoundAt: route.source === 'neighbour' ? null : Math.round(this.wallOffset + route.foundAt),
    };
  }

  private endpointText(peer: Peer): string | null {
    return peer.endpoint ? formatEndpoint(decodeEndpoint(peer.endpoint)) : null;
  }

  /**
   * A readiness callback that drains `source`, and comes back on the next turn while the source
   * still holds what readiness will not announce again: the rest of a segment split from the TUN,
   * or coalesced datagrams a batch had no room for. A wakeup is bounded (MAX_BATCHES_PER_WAKEUP)
   * so the other direction and the timers get their turn.
   */
  private drainer(what: string, source: { readonly pending: boolean }, drain: () => void): (error?: Error) => void {
    // One resumption queued at a time: readiness callbacks in between must not start more.
    let scheduled = false;
    const resume = (): void => {
      scheduled = false;
      if (source.pending) run();
    };
    const run = this.guard(what, () => {
      drain();
      if (source.pending && !scheduled) {
        scheduled = true;
        setImmediate(resume);
      }
    });
    return run;
  }

  /**
   * Runs an I/O or timer callback so that a failure is logged and counted instead of taking the
   * daemon down: the batch in hand is lost, the node keeps running. Also reports a poll that
   * libuv stopped with an error.
   */
  private guard(what: string, run: () => void): (error?: Error) => void {
    return (error?: Error) => {
      if (error) {
        this.log('error', `${what}: polling stopped: ${error.message}`);
        return;
      }
      try {
        run();
      } catch (err) {
        this.counters.internalErrors++;
        this.log('error', `${what}: ${(err as Error).stack ?? String(err)}`);
      }
    };
  }

  private sendControl(endpoint: Uint8Array, message: Uint8Array): void {
    const transport = this.transportOf[endpoint[1]!];
    if (!transport || !transport.sendTo(message, 0, message.length, endpoint)) this.counters.noSession++;
  }
}

/** What the embedder is told about when it changes. */
function statusSnapshot(s: PeerStatus): string {
  return `${s.origin} ${s.state} ${s.endpoint} ${s.name} ${s.lastHandshake} ${s.rttMicroseconds} ${s.hops} ${s.route.join(',')} ${s.routeMtu} ${s.routeSource} ${s.routeTree} ${s.routeFoundAt}`;
}

/** A session's part of a status; no session at all reads as disconnected. */
function sessionFields(peer: Peer | undefined): Pick<PeerStatus, 'state' | 'lastHandshake' | 'rttMicroseconds' | 'rxBytes' | 'txBytes'> {
  if (!peer) return { state: 'disconnected', lastHandshake: null, rttMicroseconds: 0, rxBytes: 0, txBytes: 0 };
  return {
    state: peerState(peer),
    lastHandshake: peer.lastHandshakeWallMs || null,
    rttMicroseconds: Math.round(peer.rttMs * 1000),
    rxBytes: peer.rxBytes,
    txBytes: peer.txBytes,
  };
}

function peerState(peer: Peer): PeerState {
  return peer.isUp ? 'connected' : peer.handshake ? 'connecting' : 'disconnected';
}

function keepaliveMsOf(spec: PeerSpec): number {
  return spec.keepaliveSeconds === undefined ? DEFAULT_KEEPALIVE_MS : spec.keepaliveSeconds * 1000;
}

/** The peer's pre-shared key; none is 32 zero bytes (Noise's psk with nothing shared). */
function pskOf(spec: PeerSpec): Uint8Array {
  return spec.psk ?? new Uint8Array(32);
}
