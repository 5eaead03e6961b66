// What each simulated node sends, by kind: the steady traffic of a node split into the map's
// announcements and the rest of its frames, the trees', and the lookups' requests and answers —
// those a node sends for itself and those it passes on for others. Where the busiest node's
// bytes go is what says which part of the routing to make cheaper.
import { FRAME_ROUTED, KIND_ROUTING_ANSWER, OFF_KIND, OFF_POINTER } from '../../src/forward/header.js';
import { FRAME_ROUTING, KIND_ANNOUNCEMENTS, KIND_RENEWALS, isTreeKind } from '../../src/routing/constants.js';
import { FRAME_TREE_ROUTED, OFF_TREE_ORIGIN } from '../../src/routing/tree-frame.js';
import { equalBytes } from '../../src/util/bytes.js';

export const TRAFFIC_KINDS = [
  'map announcements and renewals',
  'map, other',
  'trees',
  'lookups sent',
  'lookups passed on',
  'answers sent',
  'answers passed on',
  'data and reports',
] as const;

export class TrafficKinds {
  /** bytes[kind * n + node] since the last take. */
  private bytes: Float64Array;

  constructor(private readonly n: number) {
    this.bytes = new Float64Array(TRAFFIC_KINDS.length * n);
  }

  /** A frame `node` (whose fc address is `address`) sends. */
  count(node: number, address: Uint8Array, frame: Uint8Array): void {
    this.bytes[kindOf(frame, address) * this.n + node] += frame.length;
  }

  /** Bytes per kind since the last take: for every node's mean, and for each of `nodes`. */
  take(nodes: number[]): { kind: string; mean: number; atNodes: number[] }[] {
    const out = TRAFFIC_KINDS.map((kind, k) => {
      let sum = 0;
      for (let i = 0; i < this.n; i++) sum += this.bytes[k * this.n + i]!;
      return { kind, mean: sum / this.n, atNodes: nodes.map((node) => this.bytes[k * this.n + node]!) };
    });
    this.bytes.fill(0);
    return out;
  }
}

function kindOf(frame: Uint8Array, address: Uint8Array): number {
  if (frame[0] === FRAME_ROUTING) {
    if (frame[1] === KIND_ANNOUNCEMENTS || frame[1] === KIND_RENEWALS) return 0;
    return isTreeKind(frame[1]!) ? 2 : 1;
  }
  if (frame[0] === FRAME_TREE_ROUTED) return equalBytes(frame.subarray(OFF_TREE_ORIGIN, OFF_TREE_ORIGIN + address.length), address) ? 3 : 4;
  if (frame[0] === FRAME_ROUTED && frame[OFF_KIND] === KIND_ROUTING_ANSWER) return frame[OFF_POINTER] === 0 ? 5 : 6;
  return 7;
}
