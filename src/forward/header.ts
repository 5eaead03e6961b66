// The routed frame: what a hop session carries when the packet is for a node further away. It
// holds a source-route label — the interface index to leave by at each transit node — that every
// transit rewrites in place as it passes, replacing the index it consumed with the index the frame
// came in by. So when the frame arrives, its label read backwards is the route home: an error or a
// reply needs no routing table. Layout (docs/PROTOCOL.md, "Routed frames"):
//
//   0      u8   0x01 (FRAME_ROUTED)
//   1      u8   kind: 0 an end-to-end message, 1 a time-exceeded report, 2 a routing answer,
//               3 an unreachable report
//   2      u8   hop limit, decremented by every transit
//   3      u8   pointer: the slot the next transit reads
//   4      u8   slot count (at most MAX_LABEL)
//   5      u16  payload length (the hop layer pads the frame; this says where the payload ends)
//   7      u16  × count slots, big-endian interface indices
//   7+2n        payload
import { TAG_SIZE, TRANSPORT_HEADER_SIZE } from '../noise/constants.js';

/** First byte of a hop session's plaintext for a routed frame (an IPv6 packet starts 0x6_). */
export const FRAME_ROUTED = 0x01;
export const KIND_MESSAGE = 0;
export const KIND_TIME_EXCEEDED = 1;
/** An answer to a lookup or a probe, for the destination's router (docs/PROTOCOL.md §12). */
export const KIND_ROUTING_ANSWER = 2;
/** A transit could not pass a frame on (its label names no live link there): the route is
 *  broken at that transit, for its origin's router (docs/PROTOCOL.md §5). */
export const KIND_UNREACHABLE = 3;

export const OFF_KIND = 1;
export const OFF_HOP_LIMIT = 2;
export const OFF_POINTER = 3;
export const OFF_COUNT = 4;
export const OFF_PAYLOAD_LENGTH = 5;
export const OFF_SLOTS = 7;

/** Transits a label can name: routes are at most 64 hops (routing's MAX_HOPS). */
export const MAX_LABEL = 63;
/** The largest routed header. */
export const MAX_ROUTED_HEADER = OFF_SLOTS + 2 * MAX_LABEL;
/** Hop limit of frames that carry no IPv6 packet (handshakes, keepalives, reports). */
export const CONTROL_HOP_LIMIT = 64;

export function routedHeaderLength(slots: number): number {
  return OFF_SLOTS + 2 * slots;
}

/** End-to-end transport header and tag around a routed packet. */
export const END_TO_END_OVERHEAD = TRANSPORT_HEADER_SIZE + TAG_SIZE;

/** The largest IPv6 packet a route with `slots` transits carries when its hops carry `mtu` bytes. */
export function routedPacketMtu(mtu: number, slots: number): number {
  return mtu - routedHeaderLength(slots) - END_TO_END_OVERHEAD;
}

/** Writes a routed header for `label` at buf[off] and returns its length. */
export function writeRoutedHeader(buf: Uint8Array, off: number, kind: number, hopLimit: number, label: ArrayLike<number>, payloadLength: number): number {
  const count = label.length;
  buf[off] = FRAME_ROUTED;
  buf[off + OFF_KIND] = kind;
  buf[off + OFF_HOP_LIMIT] = hopLimit;
  buf[off + OFF_POINTER] = 0;
  buf[off + OFF_COUNT] = count;
  buf[off + OFF_PAYLOAD_LENGTH] = payloadLength >> 8;
  buf[off + OFF_PAYLOAD_LENGTH + 1] = payloadLength & 0xff;
  for (let i = 0, s = off + OFF_SLOTS; i < count; i++, s += 2) {
    buf[s] = label[i]! >> 8;
    buf[s + 1] = label[i]! & 0xff;
  }
  return OFF_SLOTS + 2 * count;
}

/**
 * Checks the routed frame at buf[off, off+len): known kind, label within bounds, pointer within
 * the label, payload within the frame. Returns the header length, or -1 for a malformed frame.
 */
export function checkRoutedHeader(buf: Uint8Array, off: number, len: number): number {
  if (len < OFF_SLOTS) return -1;
  const count = buf[off + OFF_COUNT]!;
  if (count > MAX_LABEL || buf[off + OFF_POINTER]! > count || buf[off + OFF_KIND]! > KIND_UNREACHABLE) return -1;
  const header = OFF_SLOTS + 2 * count;
  return header + payloadLength(buf, off) <= len ? header : -1;
}

export function payloadLength(buf: Uint8Array, off: number): number {
  return (buf[off + OFF_PAYLOAD_LENGTH]! << 8) | buf[off + OFF_PAYLOAD_LENGTH + 1]!;
}

export function readSlot(buf: Uint8Array, off: number, slot: number): number {
  const s = off + OFF_SLOTS + 2 * slot;
  return (buf[s]! << 8) | buf[s + 1]!;
}

export function writeSlot(buf: Uint8Array, off: number, slot: number, value: number): void {
  const s = off + OFF_SLOTS + 2 * slot;
  buf[s] = value >> 8;
  buf[s + 1] = value & 0xff;
}

// A route as bytes — the "endpoint" of an end-to-end session, where a hop session has a UDP
// address: u16 first-hop interface index, u8 slot count, u16 × count slots.

export function encodeRoute(link: number, label: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(3 + 2 * label.length);
  out[0] = link >> 8;
  out[1] = link & 0xff;
  out[2] = label.length;
  for (let i = 0; i < label.length; i++) {
    out[3 + 2 * i] = label[i]! >> 8;
    out[4 + 2 * i] = label[i]! & 0xff;
  }
  return out;
}

export function routeLink(route: Uint8Array): number {
  return (route[0]! << 8) | route[1]!;
}

export function routeLabel(route: Uint8Array): number[] {
  const label: number[] = [];
  for (let i = 0; i < route[2]!; i++) label.push((route[3 + 2 * i]! << 8) | route[4 + 2 * i]!);
  return label;
}

/**
 * The way back from this node to the frame's origin: out by `inLink` (the neighbour it came
 * from), then through the slots before the pointer, last first — each holds the index its
 * transit wrote on the way in.
 */
export function reverseRoute(buf: Uint8Array, off: number, inLink: number): Uint8Array {
  return encodeRoute(inLink, returnSlots(buf, off));
}

/** The label of the way back after the first hop (reverseRoute's, as slots). */
export function returnSlots(buf: Uint8Array, off: number): Uint16Array {
  const pointer = buf[off + OFF_POINTER]!;
  const back = new Uint16Array(pointer);
  for (let i = 0; i < pointer; i++) back[i] = readSlot(buf, off, pointer - 1 - i);
  return back;
}
