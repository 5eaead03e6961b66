// The tree-routed frame: a control message that finds its own way to a node's coordinates in one
// of the trees, each hop passing it to the neighbour nearest to them (Trees.nextHop), and
// records on its way the interface index each node received it by, so that the receiver holds a
// route back and the sender, from the answer, a route there (docs/PROTOCOL.md §12). It carries
// lookups and path probes; a transit node reads the header and never the payload.
//
//   0      u8   0x04 (FRAME_TREE_ROUTED)
//   1      u8   kind: 1 find, 2 probe, 3 probe return
//   2      u8   tree
//   3      u8   hop limit, decremented by every transit
//   4      u8   c: interface indices recorded so far
//   5      u16  the smallest TUN MTU so far, lowered by every node on the way
//   7      8    request id, chosen by the sender
//   15     8    root key prefix of the tree the coordinates are in
//   23     16   destination fc address (the node at the coordinates must be it)
//   39     16   origin fc address
//   55     u8   d: depth of the coordinates
//   56     2d   coordinates
//   56+2d  u16  payload length
//   58+2d       payload
//   then   2c   the recorded interface indices, in the order of the nodes that received it
import type { Coordinates } from './coordinates.js';
import { readUint16BE, writeUint16BE } from '../util/bytes.js';
import { ROOT_PREFIX_SIZE } from './locator.js';

export const FRAME_TREE_ROUTED = 0x04;
export const KIND_FIND = 1;
export const KIND_PROBE = 2;
export const KIND_PROBE_RETURN = 3;
export const TREE_FRAME_HOP_LIMIT = 64;

const ADDRESS_SIZE = 16;
const OFF_DESTINATION = 23;
/** Where the origin's address is: what a transit, or a counter of what a node sends, reads. */
export const OFF_TREE_ORIGIN = 39;
const OFF_COORDINATES = 56;

export interface TreeFrame {
  kind: number;
  tree: number;
  hopLimit: number;
  mtu: number;
  id: Uint8Array;
  root: Uint8Array;
  destination: Uint8Array;
  origin: Uint8Array;
  coordinates: Coordinates;
  payload: Uint8Array;
  /** Interface indices recorded by the nodes that received the frame, in order. */
  recorded: Uint16Array;
}

export function encodeTreeFrame(f: TreeFrame): Uint8Array {
  const d = f.coordinates.length;
  const payloadAt = OFF_COORDINATES + 2 * d + 2;
  const frame = new Uint8Array(payloadAt + f.payload.length + 2 * f.recorded.length);
  frame[0] = FRAME_TREE_ROUTED;
  frame[1] = f.kind;
  frame[2] = f.tree;
  frame[3] = f.hopLimit;
  frame[4] = f.recorded.length;
  frame[5] = f.mtu >>> 8;
  frame[6] = f.mtu & 0xff;
  frame.set(f.id, 7);
  frame.set(f.root.subarray(0, ROOT_PREFIX_SIZE), 15);
  frame.set(f.destination, OFF_DESTINATION);
  frame.set(f.origin, OFF_TREE_ORIGIN);
  frame[55] = d;
  for (let i = 0; i < d; i++) writeUint16BE(frame, OFF_COORDINATES + 2 * i, f.coordinates[i]!);
  writeUint16BE(frame, payloadAt - 2, f.payload.length);
  frame.set(f.payload, payloadAt);
  const recordedAt = payloadAt + f.payload.length;
  for (let i = 0; i < f.recorded.length; i++) writeUint16BE(frame, recordedAt + 2 * i, f.recorded[i]!);
  return frame;
}

/** The frame in `buf` (views into it), or null if it does not parse. Bytes after the recorded
 *  indices are the hop layer's padding. */
export function decodeTreeFrame(buf: Uint8Array): TreeFrame | null {
  if (buf.length < OFF_COORDINATES + 2 || buf[0] !== FRAME_TREE_ROUTED) return null;
  const d = buf[55]!;
  const payloadAt = OFF_COORDINATES + 2 * d + 2;
  if (d > 63 || buf.length < payloadAt) return null;
  const payloadLength = readUint16BE(buf, payloadAt - 2);
  const c = buf[4]!;
  const recordedAt = payloadAt + payloadLength;
  if (c > 64 || buf.length < recordedAt + 2 * c) return null;
  const coordinates = new Uint16Array(d);
  for (let i = 0; i < d; i++) coordinates[i] = readUint16BE(buf, OFF_COORDINATES + 2 * i);
  const recorded = new Uint16Array(c);
  for (let i = 0; i < c; i++) recorded[i] = readUint16BE(buf, recordedAt + 2 * i);
  return {
    kind: buf[1]!,
    tree: buf[2]!,
    hopLimit: buf[3]!,
    mtu: readUint16BE(buf, 5),
    id: buf.subarray(7, 15),
    root: buf.subarray(15, 15 + ROOT_PREFIX_SIZE),
    destination: buf.subarray(OFF_DESTINATION, OFF_DESTINATION + ADDRESS_SIZE),
    origin: buf.subarray(OFF_TREE_ORIGIN, OFF_TREE_ORIGIN + ADDRESS_SIZE),
    coordinates,
    payload: buf.subarray(payloadAt, recordedAt),
    recorded,
  };
}

/**
 * The route from the receiver of a frame back to where it came from: the first hop is the last
 * index recorded (the receiver's own), then each transit's, last to first. As a label: the first
 * hop and the transit slots.
 */
export function routeBack(recorded: Uint16Array): { link: number; slots: Uint16Array } {
  const n = recorded.length;
  const slots = new Uint16Array(Math.max(0, n - 1));
  for (let i = 0; i < n - 1; i++) slots[i] = recorded[n - 2 - i]!;
  return { link: recorded[n - 1] ?? 0, slots };
}

/**
 * The frame a transit passes on: `frame` (decoded from `buf`) with the hop limit one less, the
 * MTU no more than ours, and the index we received it by recorded. Null if the hop limit is spent
 * or nothing more can be recorded.
 */
export function passOn(buf: Uint8Array, frame: TreeFrame, inPort: number, mtu: number): Uint8Array | null {
  if (frame.hopLimit <= 1 || frame.recorded.length >= 64) return null;
  const end = OFF_COORDINATES + 2 * frame.coordinates.length + 2 + frame.payload.length + 2 * frame.recorded.length;
  const out = new Uint8Array(end + 2);
  out.set(buf.subarray(0, end));
  out[3] = frame.hopLimit - 1;
  out[4] = frame.recorded.length + 1;
  const lowered = Math.min(frame.mtu, mtu);
  out[5] = lowered >>> 8;
  out[6] = lowered & 0xff;
  writeUint16BE(out, end, inPort);
  return out;
}

/** A frame as its destination reads it: its own receiving index recorded, the MTU no more than ours. */
export function recordArrival(frame: TreeFrame, inPort: number, mtu: number): TreeFrame {
  const recorded = new Uint16Array(frame.recorded.length + 1);
  recorded.set(frame.recorded);
  recorded[frame.recorded.length] = inPort;
  return { ...frame, recorded, mtu: Math.min(frame.mtu, mtu) };
}
