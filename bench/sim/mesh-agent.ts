// One simulated node of the scalable routing: the real Trees and Lookups of src/routing, and the
// part of the data plane they need — routed frames (src/forward/header.ts) passed on by their
// label at transits and handed to Lookups at their destination. What the daemon does with the
// same frames (src/node) is the forwarder's; here it is the few lines below.
import { FRAME_ROUTING } from '../../src/routing/constants.js';
import { FRAME_TREE_ROUTED } from '../../src/routing/tree-frame.js';
import { Lookups, type Behaviour, type LookupResult } from '../../src/routing/lookups.js';
import { VerifiedSignatures } from '../../src/routing/tree-proof.js';
import { Trees } from '../../src/routing/trees.js';
import {
  CONTROL_HOP_LIMIT,
  FRAME_ROUTED,
  KIND_ROUTING_ANSWER,
  OFF_COUNT,
  OFF_HOP_LIMIT,
  OFF_POINTER,
  OFF_SLOTS,
  payloadLength,
  writeRoutedHeader,
} from '../../src/forward/header.js';
import type { Agent, AgentIo } from './agent-sim.js';

export interface MeshAgentOptions {
  mtu?: number;
  /** Signature checks shared by all nodes of a simulation (each still counts its own). */
  shared?: Map<string, boolean>;
  behaviour?: Behaviour;
  lookupDone?(index: number, result: LookupResult): void;
}

export class MeshAgent implements Agent {
  readonly trees: Trees;
  readonly lookups: Lookups;
  /** Routed frames this node passed on for others, and dropped (bad label, hop limit). */
  transits = 0;
  dropped = 0;
  private readonly io: AgentIo;
  private readonly links = new Set<number>();

  constructor(io: AgentIo, options: MeshAgentOptions = {}) {
    this.io = io;
    const mtu = options.mtu ?? 1420;
    const verified = new VerifiedSignatures(4096, options.shared);
    this.trees = new Trees({ identity: io.keys, mtu, send: io.send, now: io.now, wallNow: io.wallNow, workDue: io.workDue, verified });
    this.lookups = new Lookups({
      identity: io.keys,
      trees: this.trees,
      mtu,
      send: io.send,
      sendRouted: (link, slots, payload) => this.sendRouted(link, slots, payload),
      now: io.now,
      wallNow: io.wallNow,
      verified,
      behaviour: options.behaviour,
      lookupDone: options.lookupDone ? (r) => options.lookupDone!(io.index, r) : undefined,
    });
  }

  get hasWork(): boolean {
    return this.trees.hasWork || this.lookups.hasWork;
  }

  linkUp(link: number, key: Uint8Array): void {
    this.links.add(link);
    this.trees.linkUp(link, key);
    this.lookups.linkUp(link, key);
  }

  linkDown(link: number): void {
    this.links.delete(link);
    this.trees.linkDown(link);
    this.lookups.linkDown(link);
  }

  tick(): void {
    this.trees.tick();
    this.lookups.tick();
  }

  receive(link: number, frame: Uint8Array): void {
    if (frame[0] === FRAME_ROUTING) this.trees.receive(link, frame);
    else if (frame[0] === FRAME_TREE_ROUTED) this.lookups.receive(link, frame);
    else if (frame[0] === FRAME_ROUTED) this.routed(link, frame);
  }

  stateBytes(): number {
    return this.trees.stateBytes() + this.lookups.stateBytes();
  }

  private sendRouted(link: number, slots: Uint16Array, payload: Uint8Array): void {
    const frame = new Uint8Array(OFF_SLOTS + 2 * slots.length + payload.length);
    const header = writeRoutedHeader(frame, 0, KIND_ROUTING_ANSWER, CONTROL_HOP_LIMIT, slots, payload.length);
    frame.set(payload, header);
    if (this.links.has(link)) this.io.send(link, frame);
  }

  /** A routed frame: passed on by its label (the slot rewritten to the way back), or ours. */
  private routed(link: number, frame: Uint8Array): void {
    const count = frame[OFF_COUNT]!;
    const pointer = frame[OFF_POINTER]!;
    if (pointer < count) {
      const slot = OFF_SLOTS + 2 * pointer;
      const next = (frame[slot]! << 8) | frame[slot + 1]!;
      if (!this.links.has(next) || next === link || frame[OFF_HOP_LIMIT]! <= 1) return void this.dropped++;
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
    const slots = new Uint16Array(count);
    for (let i = 0; i < count; i++) slots[i] = (frame[OFF_SLOTS + 2 * (count - 1 - i)]! << 8) | frame[OFF_SLOTS + 2 * (count - 1 - i) + 1]!;
    const at = OFF_SLOTS + 2 * count;
    this.lookups.receiveAnswer(link, slots, frame.subarray(at, at + payloadLength(frame, 0)));
  }
}
