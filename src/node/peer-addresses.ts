// A peer's addresses, best first, and the one in use (issue 14): a node behind a firewall that
// drops UDP lists a peer's UDP address and its TLS one, and ends up on whichever answers.
//
// The node sends to one address at a time. While the peer's session is up, that is where it
// stays (or wherever the peer roams to: its packets say). While a handshake goes unanswered for
// ADDRESS_TRY_MS — two retransmissions — the next address is tried, round and round, so a link
// that stops working moves on. A /dns address is resolved each time it is tried: a host that
// moved is found at its new address on the next try.
import type { Peer } from '../session/peer.js';
import { encodeEndpoint, type Endpoint, type TransportKind } from '../transport/endpoint.js';
import { formatMultiaddr, type Multiaddr } from '../transport/multiaddr.js';
import { native } from '../native/addon.js';

/** How long a handshake may go unanswered at one address before the next is tried. */
export const ADDRESS_TRY_MS = 11_000;

/** An address as configured: an endpoint, or a host name to resolve (a /dns multiaddr). */
export type AddressSpec = { endpoint: Endpoint; text: string } | { host: string; port: number; transport: TransportKind; text: string };

/** Where a multiaddr points: an endpoint (a link-local zone becomes its interface's index), or a
 *  host name to resolve when dialled. Throws when the zone names no interface. */
export function addressSpec(m: Multiaddr): AddressSpec {
  const text = formatMultiaddr(m);
  const transport = m.transport ?? 'udp';
  if (m.host !== undefined) return { host: m.host, port: m.port, transport, text };
  const { family, address, port, zone } = m;
  if (zone === undefined) return { endpoint: { family, address, port, transport }, text };
  const scopeId = native.ifIndex(zone);
  if (scopeId === 0) throw new Error(`no interface named "${zone}"`);
  return { endpoint: { family, address, port, scopeId, transport }, text };
}

export interface AddressHost {
  /** Resolves a host name to one address (the system's resolver). */
  resolve(host: string): Promise<{ family: 4 | 6; address: string }>;
  /** Tells the transport of `endpoint` that it may dial it (a stream); `serverName` for TLS. */
  dialable(endpoint: Endpoint, serverName?: string): void;
  /** Starts a handshake at the peer's (new) endpoint. */
  initiate(peer: Peer): void;
  log(level: 'info' | 'debug', message: string): void;
}

export class PeerAddresses {
  private index = 0;
  /** Since when the address in use has gone unanswered (null: the session is up, or no attempt yet). */
  private failingSince: number | null = null;
  /** Resolutions under way, so that a late answer for an address no longer in use is ignored. */
  private resolving = 0;

  constructor(
    readonly specs: readonly AddressSpec[],
    private readonly host: AddressHost,
  ) {
    for (const spec of specs) if ('endpoint' in spec) this.register(spec.endpoint);
  }

  /** The endpoint area of the first address if it needs no resolving, else null (resolved by start()). */
  initialEndpoint(): Uint8Array | null {
    const first = this.specs[0]!;
    return 'endpoint' in first ? encodeEndpoint(first.endpoint) : null;
  }

  /** Resolves the first address if it is a host name, and points the peer at it. */
  start(peer: Peer): void {
    if (!('endpoint' in this.specs[0]!)) this.use(peer, 0);
  }

  /** The address in use, as configured. */
  get current(): string {
    return this.specs[this.index]!.text;
  }

  /** Called about once a second: moves on if the address in use has gone unanswered. */
  tick(peer: Peer, now: number): void {
    if (peer.isUp) {
      this.failingSince = null;
      return;
    }
    if (!peer.handshake) return; // nothing tried: nothing failed
    this.failingSince ??= peer.handshake.attemptStartedAt;
    if (now - this.failingSince < ADDRESS_TRY_MS) return;
    this.failingSince = now;
    // A single address that is a host name is tried again too: resolved afresh.
    if (this.specs.length === 1 && 'endpoint' in this.specs[0]!) return;
    const next = (this.index + 1) % this.specs.length;
    this.host.log('info', `peer ${peer.peerId}: no answer at ${this.current}; trying ${this.specs[next]!.text}`);
    this.use(peer, next);
  }

  private use(peer: Peer, index: number): void {
    this.index = index;
    const spec = this.specs[index]!;
    if ('endpoint' in spec) {
      this.point(peer, spec.endpoint);
      return;
    }
    const attempt = ++this.resolving;
    this.host.resolve(spec.host).then(
      ({ family, address }) => {
        if (attempt !== this.resolving || this.index !== index) return;
        const endpoint: Endpoint = { family, address, port: spec.port, transport: spec.transport };
        this.register(endpoint, spec.host);
        this.host.log('debug', `peer ${peer.peerId}: ${spec.host} is ${address}`);
        this.point(peer, endpoint);
      },
      (err: Error) => {
        if (attempt !== this.resolving) return;
        this.host.log('info', `peer ${peer.peerId}: cannot resolve ${spec.host}: ${err.message}`);
      },
    );
  }

  private point(peer: Peer, endpoint: Endpoint): void {
    peer.endpoint = encodeEndpoint(endpoint);
    peer.configuredEndpoint = peer.endpoint.slice();
    this.host.initiate(peer);
  }

  private register(endpoint: Endpoint, serverName?: string): void {
    if ((endpoint.transport ?? 'udp') !== 'udp') this.host.dialable(endpoint, serverName);
  }
}
