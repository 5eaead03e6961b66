// Peer exchange frames: contact records (contact.ts) a node passes to a neighbour over their hop
// session. Wire format, big-endian (docs/PROTOCOL.md §9):
//
//   offset  size
//        0     1  FRAME_CONTACTS = 0x03 (a hop plaintext's first byte: 0x6_ IPv6, 0x01 routed,
//                 0x02 routing)
//        1     1  n: 1..MAX_CONTACTS_PER_FRAME
//        2     …  n records, each: length (2 bytes, 1..MAX_CONTACT_SIZE), then the record
//
// The hop session pads what it carries with zero bytes to a multiple of 16, so what follows the
// last record must be zeros, and fewer than 16 of them; a frame with anything else after its
// records, or too short for them, is dropped whole. Records are judged one by one by the contact
// book: a bad one costs its sender nothing but that record.
import { MAX_CONTACT_SIZE } from './contact.js';
import { PADDING_MULTIPLE } from '../util/protocol.js';

export const FRAME_CONTACTS = 0x03;
export const MAX_CONTACTS_PER_FRAME = 8;

/** A frame with as many of `records` as fit in `maxBytes` (a hop plaintext: the MTU), in order;
 *  null if not even one does. */
export function encodeContactsFrame(records: readonly Uint8Array[], maxBytes: number): Uint8Array | null {
  let size = 2;
  let n = 0;
  while (n < records.length && n < MAX_CONTACTS_PER_FRAME && size + 2 + records[n]!.length <= maxBytes) size += 2 + records[n++]!.length;
  if (n === 0) return null;
  const frame = new Uint8Array(size);
  frame[0] = FRAME_CONTACTS;
  frame[1] = n;
  let off = 2;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    frame[off] = r.length >> 8;
    frame[off + 1] = r.length & 0xff;
    frame.set(r, off + 2);
    off += 2 + r.length;
  }
  return frame;
}

/** The records of a contacts frame (views into it), or null if it is not exactly one and its padding. */
export function decodeContactsFrame(frame: Uint8Array): Uint8Array[] | null {
  if (frame.length < 2 || frame[0] !== FRAME_CONTACTS) return null;
  const n = frame[1]!;
  if (n < 1 || n > MAX_CONTACTS_PER_FRAME) return null;
  const records: Uint8Array[] = [];
  let off = 2;
  for (let i = 0; i < n; i++) {
    if (off + 2 > frame.length) return null;
    const len = (frame[off]! << 8) | frame[off + 1]!;
    if (len < 1 || len > MAX_CONTACT_SIZE || off + 2 + len > frame.length) return null;
    records.push(frame.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  if (frame.length - off >= PADDING_MULTIPLE) return null;
  for (let i = off; i < frame.length; i++) if (frame[i] !== 0) return null;
  return records;
}
