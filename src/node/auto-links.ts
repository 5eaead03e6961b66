// The node's side of the link keeper (link-keeper.ts): what it decides with, read off the node —
// each neighbour's link (up for routing or not, and since when; whether the keeper made it; how
// many routes start with it; its traffic over the last window) and the candidates (the bootstrap
// nodes, and the nodes whose contact records peer exchange brought: peer-exchange.ts) — and
// what it decides, done through the node: a link of origin "auto" made or dropped.
import { LinkKeeper, DEFAULT_KEEPER_OPTIONS, type KeeperOptions, type KeptLink } from './link-keeper.js';
import { addressSpec, type AddressSpec } from './peer-addresses.js';
import type { ContactBook } from '../discovery/contact-book.js';
import { formatMultiaddr } from '../transport/multiaddr.js';
import type { PeerMultiaddr } from '../config/schema.js';
import type { Peer } from '../session/peer.js';
import { decodePeerId, encodePeerId } from '../keys/peerid.js';

/** The keeper looks at the links this often: it acts on minutes, and each look counts routes. */
export const KEEPER_TICK_MS = 5000;

/** The keeper's timings, and how often it looks (tests shorten them). */
export type AutoLinksOptions = Partial<Omit<KeeperOptions, 'target'>> & { tickMs?: number };

/** A public node to join through, with its addresses best first. */
export interface BootstrapNode {
  peerId: string;
  publicKey: Uint8Array;
  addresses: AddressSpec[];
}

/** The bootstrap nodes of the config's addresses, each with its addresses in the order given,
 *  `self` left out. An address whose link-local zone names no interface is left out, said. */
export function bootstrapNodes(addresses: readonly PeerMultiaddr[], self: string, log: (level: 'warn', message: string) => void): BootstrapNode[] {
  const nodes = new Map<string, BootstrapNode>();
  for (const m of addresses) {
    if (m.peerId === self) continue;
    let spec: AddressSpec;
    try {
      spec = addressSpec(m);
    } catch (err) {
      log('warn', `links.bootstrap ${formatMultiaddr(m)}: ${(err as Error).message}`);
      continue;
    }
    const node = nodes.get(m.peerId) ?? { peerId: m.peerId, publicKey: m.publicKey, addresses: [] };
    node.addresses.push(spec);
    nodes.set(m.peerId, node);
  }
  return [...nodes.values()];
}

export interface AutoLinksHost {
  /** Every neighbour, whatever made it. */
  peers(): Iterable<Peer>;
  /** Whether a neighbour's link is up for routing. */
  isUp(peer: Peer): boolean;
  /** Whether the keeper made this link (origin "auto"). */
  isManaged(peer: Peer): boolean;
  /** How many routes start with each link, by interface index. */
  routesByLink(): Map<number, number>;
  /** Whether a node may not be linked to (blocked, or this node itself). */
  isExcluded(peerId: string): boolean;
  /** Links to a node at its addresses, as origin "auto". */
  connect(peerId: string, publicKey: Uint8Array, addresses: AddressSpec[]): void;
  /** Drops a link of origin "auto". */
  drop(peerId: string): void;
  wallNow(): number;
  random(n: number): number;
  log(level: 'info' | 'debug', message: string): void;
}

interface LinkState {
  up: boolean;
  since: number;
  /** Bytes both ways at the start of the current window, and in the last whole window. */
  mark: number;
  traffic: number;
}

export class AutoLinks {
  private readonly keeper: LinkKeeper;
  private bootstrap = new Map<string, BootstrapNode>();
  private target: number;
  private readonly states = new Map<Peer, LinkState>();
  /** Traffic is counted in windows as long as the keeper's replacement period. */
  private readonly windowMs: number;
  private windowStart: number;
  private lastTick = -Infinity;
  private readonly tickMs: number;

  constructor(
    target: number,
    bootstrap: BootstrapNode[],
    private readonly book: ContactBook,
    private readonly host: AutoLinksHost,
    now: number,
    { tickMs = KEEPER_TICK_MS, ...options }: AutoLinksOptions = {},
  ) {
    this.tickMs = tickMs;
    this.target = target;
    this.setBootstrap(bootstrap);
    const keeperOptions = { ...DEFAULT_KEEPER_OPTIONS, ...options, target };
    this.windowMs = keeperOptions.replaceEveryMs;
    this.windowStart = now;
    this.keeper = new LinkKeeper(keeperOptions, this.keeperHost(), now);
  }

  /** New settings (a reload): links already made stay until the keeper judges them. */
  configure(target: number, bootstrap: BootstrapNode[]): void {
    this.target = target;
    this.keeper.setTarget(target);
    this.setBootstrap(bootstrap);
  }

  /** Follows the links' states, and lets the keeper act every tickMs (not at all while target is 0). */
  tick(now: number): void {
    if (now - this.lastTick < this.tickMs) return;
    this.lastTick = now;
    const newWindow = now - this.windowStart >= this.windowMs;
    if (newWindow) this.windowStart = now;
    for (const peer of this.host.peers()) {
      const up = this.host.isUp(peer);
      const total = peer.rxBytes + peer.txBytes;
      let state = this.states.get(peer);
      if (!state) this.states.set(peer, (state = { up, since: now, mark: total, traffic: 0 }));
      else if (state.up !== up) Object.assign(state, { up, since: now });
      if (newWindow) Object.assign(state, { traffic: total - state.mark, mark: total });
    }
    if (this.target > 0) this.keeper.tick(now);
  }

  /** The user dropped a link the keeper made: it is not made again at once. */
  dropped(peerId: string, now: number): void {
    this.keeper.rest(peerId, now);
  }

  /** A neighbour is gone: nothing of it is kept. */
  removed(peer: Peer): void {
    this.states.delete(peer);
  }

  report(): { target: number; kept: number; candidates: number; bootstrap: number } {
    let kept = 0;
    for (const peer of this.host.peers()) if (this.host.isManaged(peer) && this.host.isUp(peer)) kept++;
    return { target: this.target, kept, candidates: this.candidates().length, bootstrap: this.bootstrap.size };
  }

  private setBootstrap(nodes: BootstrapNode[]): void {
    this.bootstrap = new Map(nodes.map((n) => [n.peerId, n]));
  }

  private candidates(): string[] {
    const ids = new Set(this.bootstrap.keys());
    for (const contact of this.book.contacts(this.host.wallNow())) ids.add(encodePeerId(contact.publicKey));
    return [...ids].filter((id) => !this.host.isExcluded(id));
  }

  private keeperHost(): ConstructorParameters<typeof LinkKeeper>[1] {
    return {
      links: () => {
        const routes = this.host.routesByLink();
        const links: KeptLink[] = [];
        for (const peer of this.host.peers()) {
          const state = this.states.get(peer);
          links.push({
            peerId: peer.peerId,
            up: this.host.isUp(peer),
            managed: this.host.isManaged(peer),
            since: state?.since ?? this.lastTick,
            routes: routes.get(peer.link) ?? 0,
            traffic: state?.traffic ?? 0,
          });
        }
        return links;
      },
      candidates: () => this.candidates(),
      connect: (peerId) => {
        const addresses = this.addressesOf(peerId);
        if (!addresses) return;
        this.host.log('info', `linking to ${peerId} (keeping ${this.target} links)`);
        this.host.connect(peerId, decodePeerId(peerId), addresses);
      },
      drop: (peerId) => {
        this.host.log('info', `dropping the link to ${peerId} (keeping ${this.target} links)`);
        this.host.drop(peerId);
      },
      random: (n) => this.host.random(n),
    };
  }

  /** A candidate's addresses: a bootstrap node's as configured, else its contact record's. */
  private addressesOf(peerId: string): AddressSpec[] | null {
    const bootstrap = this.bootstrap.get(peerId);
    if (bootstrap) return bootstrap.addresses;
    const contact = this.book.get(decodePeerId(peerId), this.host.wallNow());
    // Records carry no link-local zones (contact.ts), so no address here can fail to convert.
    return contact ? contact.addresses.map(addressSpec) : null;
  }
}
