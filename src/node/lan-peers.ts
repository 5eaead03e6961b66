// Nodes on the local network, and what the node does about them: the discovery policy.
//
//   "auto"    every node discovered becomes a neighbour (origin "discovered");
//   "manual"  nodes are listed; connect(peerId) makes one a neighbour, whose session comes up once
//             the other side connects to us too (or runs "auto"): both users consent;
//   "off"     no discovery socket at all, and the neighbours it brought are dropped.
//
// A discovered neighbour stays while it is on the network or its session is up: once it has
// stopped announcing itself and its session is down, it is forgotten (its link-local address
// means nothing elsewhere). While discovery is off (mesh switched off, policy off) nothing is
// forgotten that way, nor in the first neighbour lifetime after it restarts. One the user disconnected is not connected again by "auto" until
// the user connects it again. Discovery runs only while the mesh is switched on.
import type { DiscoveryPolicy } from '../config/schema.js';
import { LanDiscovery, type LanDiscoveryOptions } from '../discovery/lan.js';
import type { Neighbor } from '../discovery/neighbors.js';
import { NEIGHBOR_LIFETIME_MS } from '../discovery/constants.js';

/** How often discovered neighbours that left are looked for. */
const SWEEP_MS = 1000;

export interface LanPeersOptions extends Omit<LanDiscoveryOptions, 'events' | 'log'> {
  policy: DiscoveryPolicy;
}

/** What LanPeers asks of the node. */
export interface LanPeersHost {
  /** Whether `peerId` is a neighbour already (any origin). */
  isNeighbour(peerId: string): boolean;
  /** Makes the node a neighbour with origin "discovered", at its endpoint. */
  connect(neighbor: Neighbor): void;
  /** A discovered neighbour moved: its endpoint changed. */
  moved(neighbor: Neighbor): void;
  /** The neighbours with origin "discovered", and whether each has a session up. */
  discovered(): { peerId: string; up: boolean }[];
  /** Forgets a neighbour with origin "discovered". */
  forget(peerId: string): void;
  /** The node's monotonic clock, ms (the one tick() is given). */
  now(): number;
  log(level: 'error' | 'warn' | 'info' | 'debug', message: string): void;
  events: {
    neighborAdded?(peerId: string): void;
    neighborChanged?(peerId: string): void;
    neighborRemoved?(peerId: string): void;
    /** Policy, Enabled or Interfaces changed. */
    discoveryChanged?(): void;
  };
}

export class LanPeers {
  private policyNow: DiscoveryPolicy;
  /** The policy "on" returns to. */
  private lastOn: 'auto' | 'manual';
  /** One for the node's life, started and stopped with the policy: its replay memory and its
   *  counters outlast a restart. */
  private readonly discovery: LanDiscovery;
  /** Whether discovery runs now (started, and not stopped or failed since). */
  private opened = false;
  /** Counts starts, so a failure reported late is not taken for the current run's. */
  private runs = 0;
  private running = false;
  /** Disconnected by the user: "auto" leaves them alone. */
  private readonly refused = new Set<string>();
  private lastSweep = 0;
  /** When discovery last started (node clock): until neighbours have had a lifetime to be heard
   *  again, a discovered peer missing from the table has not left, discovery just restarted. */
  private openedAt = -Infinity;

  constructor(
    options: LanPeersOptions,
    private readonly host: LanPeersHost,
  ) {
    this.policyNow = options.policy;
    this.lastOn = options.policy === 'off' ? 'manual' : options.policy;
    this.discovery = new LanDiscovery({
      ...options,
      log: (level, message) => host.log(level, message),
      events: {
        added: (n) => {
          host.log('info', `discovered ${n.peerId} on ${n.interfaceName}`);
          host.events.neighborAdded?.(n.peerId);
          this.consider(n);
        },
        changed: (n) => {
          if (host.discovered().some((d) => d.peerId === n.peerId)) host.moved(n);
          host.events.neighborChanged?.(n.peerId);
          this.consider(n);
        },
        removed: (peerId) => {
          host.log('info', `${peerId} left the local network`);
          host.events.neighborRemoved?.(peerId);
        },
        interfacesChanged: () => host.events.discoveryChanged?.(),
      },
    });
  }

  get policy(): DiscoveryPolicy {
    return this.policyNow;
  }

  /** Whether discovery is running (its policy is not "off" and the mesh is on). */
  get active(): boolean {
    return this.opened;
  }

  get interfaceNames(): string[] {
    return this.discovery.interfaceNames;
  }

  neighbors(): Neighbor[] {
    return this.discovery.neighbors();
  }

  neighbor(peerId: string): Neighbor | undefined {
    return this.discovery.neighbor(peerId);
  }

  /** What discovery heard, sent and refused since the node started. */
  counters(): Record<string, number> {
    return this.discovery.counters.snapshot();
  }

  /** The mesh was switched on (or the node started): discovery follows unless its policy is off. */
  start(): void {
    this.running = true;
    this.open();
  }

  /** The mesh was switched off or the node stops. */
  stop(): void {
    this.running = false;
    this.close();
  }

  setPolicy(policy: DiscoveryPolicy): void {
    if (policy === this.policyNow) return;
    const was = this.policyNow;
    this.policyNow = policy;
    if (policy !== 'off') this.lastOn = policy;
    this.host.log('info', `discovery policy ${policy}`);
    if (policy === 'off') {
      this.close(false); // announced once, below
      for (const { peerId } of this.host.discovered()) this.host.forget(peerId);
    } else if (was === 'off') {
      this.open();
    } else if (policy === 'auto') {
      for (const n of this.neighbors()) this.consider(n);
    }
    this.host.events.discoveryChanged?.();
  }

  /** "on": the policy it had before it was switched off. */
  setEnabled(enabled: boolean): void {
    this.setPolicy(enabled ? this.lastOn : 'off');
  }

  /** Connects to a node on the LAN, by peer ID. False if no such node is there now. */
  connect(peerId: string): boolean {
    const neighbor = this.neighbor(peerId);
    if (!neighbor) return false;
    this.refused.delete(peerId);
    this.host.connect(neighbor);
    return true;
  }

  /**
   * The neighbour `peerId` may become a peer by initiating a session with us: only under "auto".
   * Under "manual" a session needs both users' consent, each side connecting to the other, so no
   * stranger on a café network gets a link just by asking.
   */
  acceptable(peerId: string): Neighbor | undefined {
    if (this.policyNow !== 'auto' || this.refused.has(peerId)) return undefined;
    return this.neighbor(peerId);
  }

  /** The user disconnected `peerId`: "auto" must not bring it straight back. */
  refuse(peerId: string): void {
    this.refused.add(peerId);
  }

  /** Called on the node's timer: forgets discovered neighbours that left. */
  tick(now: number): void {
    if (now - this.lastSweep < SWEEP_MS) return;
    this.lastSweep = now;
    if (this.opened && now - this.openedAt >= NEIGHBOR_LIFETIME_MS) {
      for (const { peerId, up } of this.host.discovered()) {
        if (!up && !this.neighbor(peerId)) this.host.forget(peerId);
      }
    }
  }

  private open(): void {
    if (!this.running || this.policyNow === 'off' || this.opened) return;
    this.opened = true;
    const run = ++this.runs;
    this.openedAt = this.host.now();
    this.discovery.start().then(
      () => {
        this.host.log('info', `discovery (${this.policyNow}) on ${this.discovery.interfaceNames.join(', ') || 'no interface yet'}`);
        this.host.events.discoveryChanged?.();
      },
      (err: Error) => {
        if (run !== this.runs || !this.opened) return; // stopped while starting
        this.opened = false;
        this.host.log('warn', `LAN discovery is off: ${err.message}`);
        this.host.events.discoveryChanged?.();
      },
    );
  }

  private close(announce = true): void {
    if (!this.opened) return;
    this.opened = false;
    this.discovery.stop(); // reports every neighbour removed
    if (announce) this.host.events.discoveryChanged?.();
  }

  private consider(n: Neighbor): void {
    if (this.policyNow === 'auto' && !this.refused.has(n.peerId) && !this.host.isNeighbour(n.peerId)) this.host.connect(n);
  }
}
