// The nodes heard on the local network: one entry per key, from the last beacon accepted of it,
// forgotten NEIGHBOR_LIFETIME_MS after that. Pure (no I/O, time injected), so every check below
// is tested without sockets.
//
// A received datagram passes these checks in order, cheapest first, and is dropped at the first
// that fails, counted under the name in brackets:
//   1. it decodes as a beacon of a rovy key                      (malformed)
//   2. the key is not ours                                       (own)
//   3. its timestamp is within MAX_CLOCK_SKEW_MS of our clock    (stale)
//   4. its timestamp is above the last accepted of that key,
//      remembered REPLAY_MEMORY_MS past the neighbour's expiry   (replayed)
//   5. its source is link-local and one of its IPv6 endpoints    (spoofed)
//   6. the key is known, or the table has room                   (full)
//   7. the verification budget has a token                       (rateLimited)
//   8. the signature verifies                                    (badSignature)
// Only then is the timestamp recorded, so a forged beacon cannot move a key's timestamp forward
// and shut its real beacons out. Check 5 ties a beacon to its sender's link: one captured and
// re-sent by another host comes from an address its signer did not list, unless that host also
// forges its source address (which needs a place on the same link).
//
// A neighbour heard by more than one way (on two of our interfaces, or from two of its addresses)
// keeps the one it is reached by until that one has been silent for ENDPOINT_HOLD_MS; beacons
// that come by the others only refresh it meanwhile.
import { fcAddressBytes, formatIPv4, formatIPv6, isLinkLocal, isRovyKey, parseIPv6 } from '../keys/address.js';
import { equalBytes } from '../util/bytes.js';
import { encodePeerId } from '../keys/peerid.js';
import { formatMultiaddr } from '../transport/multiaddr.js';
import type { Endpoint } from '../transport/endpoint.js';
import { TokenBucket } from '../util/token-bucket.js';
import { decodeBeacon, verifyBeacon, type BeaconEndpoint } from './beacon.js';
import {
  ENDPOINT_HOLD_MS,
  MAX_CLOCK_SKEW_MS,
  MAX_NEIGHBORS,
  NEIGHBOR_LIFETIME_MS,
  REPLAY_MEMORY_KEYS,
  REPLAY_MEMORY_MS,
  VERIFY_BURST,
  VERIFY_RATE,
} from './constants.js';
import type { DiscoveryCounters } from './counters.js';

export interface Neighbor {
  publicKey: Uint8Array;
  peerId: string;
  /** Its fc00::/8 address, as text. */
  address: string;
  /** The interface it is reached on: the one its beacons arrive on (see ENDPOINT_HOLD_MS for a
   *  node heard by several ways). */
  interfaceName: string;
  interfaceIndex: number;
  /** Where to reach it: the beacon's link-local source address, with the port the beacon gives
   *  for that address, scoped to interfaceIndex. */
  endpoint: Endpoint;
  /** Every endpoint the beacon lists, as multiaddr text without /rovy; link-local ones are
   *  scoped to interfaceName ("/ip6zone/eth0/ip6/fe80::1/udp/7777"). */
  endpoints: string[];
  /** Our wall clock (ms) when its last beacon was accepted, on any interface. */
  lastSeen: number;
  /** That beacon's timestamp. */
  timestamp: number;
}

export type ReceiveResult = 'added' | 'changed' | 'refreshed';

export class NeighborTable {
  private readonly neighbors = new Map<string, Neighbor>();
  /** Our wall clock when each neighbour was last heard by the way it is reached: from its
   *  endpoint's address, on its interface. */
  private readonly heardAtEndpoint = new Map<string, number>();
  /** Last accepted timestamp of expired neighbours, and until when it is kept; oldest first. */
  private readonly remembered = new Map<string, { timestamp: number; until: number }>();
  private readonly limiter = new TokenBucket(VERIFY_RATE, VERIFY_BURST);
  /** A clock for the limiter that only moves forward: a wall clock stepped back must not leave
   *  the bucket owing tokens for the time it "lost". */
  private limiterMs = 0;
  private lastNow: number | undefined;

  constructor(
    private readonly ownPublicKey: Uint8Array,
    private readonly counters: DiscoveryCounters,
    /** Wall clock, ms since the epoch: beacon timestamps are compared with it. */
    private readonly now: () => number = Date.now,
    /** MAX_NEIGHBORS but in tests, which cannot afford a thousand rovy keys. */
    private readonly maxNeighbors = MAX_NEIGHBORS,
  ) {}

  /**
   * One datagram from `source` (IPv6 text without zone) that arrived on the interface
   * `interfaceName` / `interfaceIndex`. Returns what it did to the table and the neighbour as it
   * is now, or null if it was dropped (and counted).
   */
  receive(
    bytes: Uint8Array,
    source: string,
    interfaceName: string,
    interfaceIndex: number,
  ): { result: ReceiveResult; neighbor: Neighbor } | null {
    const c = this.counters;
    c.received++;
    const now = this.now();
    const beacon = decodeBeacon(bytes);
    if (!beacon || !isRovyKey(beacon.publicKey)) return drop(c, 'malformed');
    if (equalBytes(beacon.publicKey, this.ownPublicKey)) return drop(c, 'own');
    if (Math.abs(beacon.timestamp - now) > MAX_CLOCK_SKEW_MS) return drop(c, 'stale');
    const peerId = encodePeerId(beacon.publicKey);
    const old = this.neighbors.get(peerId);
    const last = old?.timestamp ?? this.remembered.get(peerId)?.timestamp;
    if (last !== undefined && beacon.timestamp <= last) return drop(c, 'replayed');
    const src = linkLocalBytes(source);
    const announced = src && beacon.endpoints.find((ep) => ep.family === 6 && equalBytes(ep.address, src));
    if (!src || !announced) return drop(c, 'spoofed');
    if (!old && this.neighbors.size >= this.maxNeighbors) return drop(c, 'full');
    if (!this.limiter.take(this.limiterClock(now))) return drop(c, 'rateLimited');
    if (!verifyBeacon(beacon)) return drop(c, 'badSignature');

    c.accepted++;
    this.remembered.delete(peerId);
    const address = formatIPv6(src);
    const otherWay = old && (old.interfaceName !== interfaceName || old.endpoint.address !== address);
    if (otherWay && Math.abs(now - this.heardAtEndpoint.get(peerId)!) < ENDPOINT_HOLD_MS) {
      const neighbor = { ...old, lastSeen: now, timestamp: beacon.timestamp };
      this.neighbors.set(peerId, neighbor);
      return { result: 'refreshed', neighbor };
    }
    this.heardAtEndpoint.set(peerId, now);
    const publicKey = beacon.publicKey.slice();
    const neighbor: Neighbor = {
      publicKey,
      peerId,
      address: old?.address ?? formatIPv6(fcAddressBytes(publicKey)),
      interfaceName,
      interfaceIndex,
      endpoint: { family: 6, address, port: announced.port, scopeId: interfaceIndex },
      endpoints: beacon.endpoints.map((ep) => multiaddrText(ep, interfaceName)).filter((t) => t !== ''),
      lastSeen: now,
      timestamp: beacon.timestamp,
    };
    this.neighbors.set(peerId, neighbor);
    const result = !old ? 'added' : samePlace(old, neighbor) ? 'refreshed' : 'changed';
    return { result, neighbor };
  }

  /** Removes the neighbours not heard for NEIGHBOR_LIFETIME_MS and returns their peer IDs. */
  expire(): string[] {
    const now = this.now();
    const gone: string[] = [];
    for (const [peerId, n] of this.neighbors) {
      // Either way: after our clock is stepped back, lastSeen is in the future, and a neighbour
      // that left would otherwise stay until the clock caught up.
      if (Math.abs(now - n.lastSeen) >= NEIGHBOR_LIFETIME_MS) {
        this.forget(n, now);
        gone.push(peerId);
      }
    }
    for (const [peerId, r] of this.remembered) if (r.until <= now) this.remembered.delete(peerId);
    return gone;
  }

  /** Removes every neighbour (their timestamps are remembered) and returns their peer IDs. */
  clear(): string[] {
    const now = this.now();
    const gone = [...this.neighbors.keys()];
    for (const n of [...this.neighbors.values()]) this.forget(n, now);
    return gone;
  }

  list(): Neighbor[] {
    return [...this.neighbors.values()];
  }

  get(peerId: string): Neighbor | undefined {
    return this.neighbors.get(peerId);
  }

  private forget(n: Neighbor, now: number): void {
    this.neighbors.delete(n.peerId);
    this.heardAtEndpoint.delete(n.peerId);
    if (this.remembered.size >= REPLAY_MEMORY_KEYS) this.remembered.delete(this.remembered.keys().next().value!);
    this.remembered.set(n.peerId, { timestamp: n.timestamp, until: now + REPLAY_MEMORY_MS });
  }

  private limiterClock(now: number): number {
    if (this.lastNow !== undefined && now > this.lastNow) this.limiterMs += now - this.lastNow;
    this.lastNow = now;
    return this.limiterMs;
  }
}

type DropReason = 'malformed' | 'own' | 'stale' | 'replayed' | 'spoofed' | 'full' | 'rateLimited' | 'badSignature';

function drop(c: DiscoveryCounters, reason: DropReason): null {
  c[reason]++;
  return null;
}

/** The 16 bytes of `text` if it is a link-local IPv6 address (fe80::/10), else null. */
function linkLocalBytes(text: string): Uint8Array | null {
  let bytes: Uint8Array;
  try {
    bytes = parseIPv6(text);
  } catch {
    return null;
  }
  return isLinkLocal(bytes) ? bytes : null;
}

/** Multiaddr text of a beacon endpoint heard on `interfaceName`; '' if it has none (a link-local
 *  address and an interface name multiaddrs cannot carry, such as one with "%"). */
function multiaddrText(ep: BeaconEndpoint, interfaceName: string): string {
  try {
    if (ep.family === 4) return formatMultiaddr({ family: 4, address: formatIPv4(ep.address), port: ep.port });
    const m = { family: 6 as const, address: formatIPv6(ep.address), port: ep.port };
    return formatMultiaddr(isLinkLocal(ep.address) ? { ...m, zone: interfaceName } : m);
  } catch {
    return '';
  }
}

/** Whether two states of a neighbour are reached the same way (endpoint.scopeId is the
 *  interface index). */
function samePlace(a: Neighbor, b: Neighbor): boolean {
  return (
    a.interfaceName === b.interfaceName &&
    a.interfaceIndex === b.interfaceIndex &&
    a.endpoint.address === b.endpoint.address &&
    a.endpoint.port === b.endpoint.port &&
    a.endpoints.length === b.endpoints.length &&
    a.endpoints.every((t, i) => t === b.endpoints[i])
  );
}
