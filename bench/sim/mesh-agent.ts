// One simulated node of the routing the daemon runs: the real Routing of src/routing (the map,
// the trees and the lookups), and the part of the data plane it needs — routed frames
// (src/forward/header.ts) passed on by their label at transits, answers and unreachable reports
// handed to routing at their destination, and an unreachable report sent back by a transit whose
// label names a link that is down. What the daemon does with the same frames (src/node) is the
// forwarder's; here it is the few lines below. Data packets are routed frames of kind 0 with a
// made-up payload: the simulator counts them, nobody opens them.
import { FRAME_ROUTING } from '../../src/routing/constants.js';
import { FRAME_TREE_ROUTED } from '../../src/routing/tree-frame.js';
import type { Behaviour, LookupResult, Lookups } from '../../src/routing/lookups.js';
import { verifyAnnouncement, type Announcement } from '../../src/routing/announcement.js';
import type { SharedPairKeys } from '../../src/routing/lookup-tags.js';
import { VerifiedSignatures } from '../../src/routing/tree-proof.js';
import { Routing } from '../../src/routing/routing.js';
import type { Trees } from '../../src/routing/trees.js';
import type { MapScope } from '../../src/routing/router.js';
import type { IdentityMemo } from '../../src/routing/lsdb.js';
import {
  CONTROL_HOP_LIMIT,
  FRAME_ROUTED,
  KIND_MESSAGE,
  KIND_ROUTING_ANSWER,
  KIND_UNREACHABLE,
  OFF_COUNT,
  OFF_HOP_LIMIT,
  OFF_KIND,
  OFF_POINTER,
  OFF_SLOTS,
  payloadLength,
  returnSlots,
  writeRoutedHeader,
} from '../../src/forward/header.js';
import type { Agent, AgentIo } from './agent-sim.js';

export interface MeshAgentOptions {
  mtu?: number;
  /** Signature checks shared by all nodes of a simulation (each still counts its own). */
  shared?: Map<string, boolean>;
  /** Pair keys of the lookups' tags derived once for both ends, by all nodes of a simulation. */
  sharedPairKeys?: SharedPairKeys;
  /** Keys and addresses shared by all nodes of a simulation (lsdb.ts: IdentityMemo). */
  identityMemo?: IdentityMemo;
  behaviour?: Behaviour;
  /** The map's reach (default the daemon's). */
  scope?: Partial<MapScope>;
  lookupDone?(index: number, result: LookupResult): void;
  /** A data packet (a routed frame of kind 0) arrived here; `tag` is what its sender put in it. */
  delivered?(index: number, tag: number): void;
}

/** A lookupDone that keeps each node's results, in the order they ended, in `done`. */
export function keepLookups(done: Map<number, LookupResult[]>): (index: number, result: LookupResult) => void {
  return (index, result) => {
    const list = done.get(index);
    if (list) list.push(result);
    else done.set(index, [result]);
  };
}

export class MeshAgent implements Agent {
  readonly routing: Routing;
  /** The node's cache of signature checks, which counts the checks it makes. */
  readonly verified: VerifiedSignatures;
  /** Routed frames this node passed on for others, and dropped (bad label, hop limit). */
  transits = 0;
  dropped = 0;
  private readonly io: AgentIo;
  private readonly links = new Set<number>();
  private readonly onDelivered: ((index: number, tag: number) => void) | undefined;

  constructor(io: AgentIo, options: MeshAgentOptions = {}) {
    this.io = io;
    this.onDelivered = options.delivered;
    const shared = options.shared;
    this.verified = new VerifiedSignatures({ now: io.now, shared });
    this.routing = new Routing({
      identity: io.keys,
      mtu: options.mtu ?? 1420,
      send: io.send,
      sendRouted: (link, slots, payload) => this.sendRouted(link, KIND_ROUTING_ANSWER, slots, payload),
      now: io.now,
      wallNow: io.wallNow,
      workDue: io.workDue,
      verified: this.verified,
      sharedPairKeys: options.sharedPairKeys,
      behaviour: options.behaviour,
      lookupDone: options.lookupDone ? (r) => options.lookupDone!(io.index, r) : undefined,
      map: { scope: options.scope, verify: shared ? (a) => sharedVerify(shared, a) : undefined, identityMemo: options.identityMemo },
    });
  }

  get trees(): Trees {
    return this.routing.trees;
  }

  get lookups(): Lookups {
    return this.routing.lookups;
  }

  get hasWork(): boolean {
    return this.routing.hasWork;
  }

  nextDue(): number {
    return this.routing.nextDue();
  }

  linkUp(link: number, key: Uint8Array): void {
    this.links.add(link);
    this.routing.linkUp(link, key);
  }

  linkDown(link: number): void {
    this.links.delete(link);
    this.routing.linkDown(link);
  }

  tick(): void {
    this.routing.tick();
  }

  receive(link: number, frame: Uint8Array): void {
    if (frame[0] === FRAME_ROUTING) this.routing.receive(link, frame);
    else if (frame[0] === FRAME_TREE_ROUTED) this.routing.receiveTreeFrame(link, frame);
    else if (frame[0] === FRAME_ROUTED) this.routed(link, frame);
  }

  /** Sends a data packet carrying `tag` to the node at `address` along its route; false if there is none. */
  sendData(address: Uint8Array, tag: number): boolean {
    const route = this.routing.lookup(address, 0);
    if (!route) return false;
    const payload = Uint8Array.of(tag >>> 24, (tag >>> 16) & 0xff, (tag >>> 8) & 0xff, tag & 0xff);
    this.sendRouted(route.link, KIND_MESSAGE, route.label, payload);
    return true;
  }

  /** Bytes of routing state: the neighbours' table's, the trees', the lookups', and the map's
   *  (its announcements, and per node and link what the database keeps beside them). */
  stateBytes(): number {
    const { neighbours, trees, lookups, map } = this.stateParts();
    return neighbours + trees + lookups + map;
  }

  /** stateBytes, part by part. */
  stateParts(): { neighbours: number; trees: number; lookups: number; map: number } {
    const map = this.routing.map.stats();
    return {
      neighbours: this.routing.neighbours.stateBytes(),
      trees: this.routing.trees.stateBytes(),
      lookups: this.routing.lookups.stateBytes(),
      map: map.bytes + 96 * map.nodes + 12 * map.links,
    };
  }

  private sendRouted(link: number, kind: number, slots: ArrayLike<number>, payload: Uint8Array): void {
    const frame = new Uint8Array(OFF_SLOTS + 2 * slots.length + payload.length);
    const header = writeRoutedHeader(frame, 0, kind, CONTROL_HOP_LIMIT, slots, payload.length);
    frame.set(payload, header);
    if (this.links.has(link)) this.io.send(link, frame);
  }

  /** A routed frame: passed on by its label (the slot rewritten to the way back), or ours. */
  private routed(link: number, frame: Uint8Array): void {
    const count = frame[OFF_COUNT]!;
    const pointer = frame[OFF_POINTER]!;
    const kind = frame[OFF_KIND]!;
    if (pointer < count) {
      const slot = OFF_SLOTS + 2 * pointer;
      const next = (frame[slot]! << 8) | frame[slot + 1]!;
      if (next === link || frame[OFF_HOP_LIMIT]! <= 1) return void this.dropped++;
      if (!this.links.has(next)) {
        // Broken here: the origin is told which index failed (docs/PROTOCOL.md §5).
        this.dropped++;
        if (kind === KIND_MESSAGE) this.sendRouted(link, KIND_UNREACHABLE, returnSlots(frame, 0), Uint8Array.of(next >> 8, next & 0xff));
        return;
      }
      const out = frame.slice();
      out[slot] = link >> 8;
      out[slot + 1] = link & 0xff;
      out[OFF_POINTER] = pointer + 1;
      out[OFF_HOP_LIMIT] = frame[OFF_HOP_LIMIT]! - 1;
      this.transits++;
      this.io.send(next, out);
      return;
    }
    // Ours: the way back is the link it came by, then the slots read backwards.
    const at = OFF_SLOTS + 2 * count;
    const payload = frame.subarray(at, at + payloadLength(frame, 0));
    const back = returnSlots(frame, 0);
    if (kind === KIND_ROUTING_ANSWER) this.routing.receiveAnswer(link, back, payload);
    else if (kind === KIND_UNREACHABLE) this.routing.receiveUnreachable(link, back, payload);
    else if (kind === KIND_MESSAGE && payload.length === 4) this.onDelivered?.(this.io.index, ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0);
  }
}

/** An announcement's signature, checked once per simulation (each node still asks). */
function sharedVerify(shared: Map<string, boolean>, a: Announcement): boolean {
  const key = `a${Buffer.from(a.bytes.buffer, a.bytes.byteOffset, a.bytes.length).toString('latin1')}`;
  let ok = shared.get(key);
  if (ok === undefined) shared.set(key, (ok = verifyAnnouncement(a)));
  return ok;
}
