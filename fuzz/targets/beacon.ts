// LAN beacons (UDP multicast, anyone on the link): decoded or dropped and counted, once each.
import { decodeBeacon } from '../../src/discovery/beacon.js';
import { DiscoveryCounters } from '../../src/discovery/counters.js';
import { NeighborTable } from '../../src/discovery/neighbors.js';
import { invariant } from '../expect.js';

const counters = new DiscoveryCounters();
const table = new NeighborTable(new Uint8Array(32).fill(9), counters, () => 1_767_225_600_000, 8);

/** Every datagram is counted received and then exactly one way (counters.ts). */
function accounted(): boolean {
  const c = counters;
  return c.received === c.accepted + c.own + c.malformed + c.otherInterface + c.stale + c.replayed + c.spoofed + c.full + c.rateLimited + c.badSignature;
}

export function fuzz(data: Buffer): void {
  decodeBeacon(data);
  const accepted = counters.accepted;
  const result = table.receive(data, 'fe80::1', 'lan0', 2);
  invariant(accounted(), 'a datagram not counted exactly once');
  invariant((result === null) !== (counters.accepted === accepted + 1), 'a beacon kept without being counted accepted');
}
