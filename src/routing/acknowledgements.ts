// Reliable flooding. Routing control frames travel in hop sessions over UDP, where any frame can
// be lost; a flood reaches most nodes over several paths, but a node behind one lossy link would
// otherwise wait for the origin's next refresh (30 minutes) to learn what it missed, and a 200-node
// mesh losing 5 % of its frames never converged. So each announcement sent to a neighbour is sent
// again until the neighbour acknowledges it (docs/PROTOCOL.md §4), as OSPF does on its point-to-
// point links: after 1 s, then 2 s, 4 s, ... at most 30 s apart, and given up after 8 tries (a
// neighbour that never answers is dead or broken, and its link will go). Sending it the same or a
// newer announcement of that origin and part counts as an acknowledgement too, and a newer one
// queued for the neighbour replaces the older.
//
// One Unacknowledged per neighbour; it holds at most one entry per origin and part, so it is never
// larger than the database.
import { RETRANSMIT_MS, RETRANSMIT_MAX_MS, MAX_RETRANSMITS } from './constants.js';
import { readUint64BE } from '../util/bytes.js';

/** Bytes of one acknowledgement entry: the origin's key (32), the sequence (8) and the part (1). */
export const ACK_ENTRY_SIZE = 41;

const KEY_SIZE = 32;
// Offsets in an announcement's encoding (announcement.ts has the format).
const OFF_ORIGIN = 1;
const OFF_SEQUENCE = 33;
const OFF_PART = 43;

interface Pending {
  bytes: Uint8Array;
  sequence: number;
  sentAt: number;
  tries: number;
}

export class Unacknowledged {
  private readonly pending = new Map<string, Pending>();

  get size(): number {
    return this.pending.size;
  }

  /** The announcement encoded in `bytes` was sent to the neighbour at `now`. */
  sent(bytes: Uint8Array, now: number): void {
    const key = entryKey(bytes, OFF_ORIGIN, bytes[OFF_PART]!);
    const sequence = readUint64BE(bytes, OFF_SEQUENCE);
    const held = this.pending.get(key);
    if (held && held.sequence > sequence) return; // a newer one is on its way already
    this.pending.set(key, { bytes, sequence, sentAt: now, tries: 0 });
  }

  /** The neighbour has the announcement of the origin whose key is at buf[originOff], part
   *  `part`, at `sequence`: nothing of that origin and part at or below it is resent. */
  acknowledged(buf: Uint8Array, originOff: number, sequence: number, part: number): void {
    const key = entryKey(buf, originOff, part);
    const held = this.pending.get(key);
    if (held && held.sequence <= sequence) this.pending.delete(key);
  }

  /**
   * The announcements due to be sent again at `now`, pushed onto `out`; those past their last
   * try are dropped instead. Returns how many were dropped.
   */
  due(now: number, out: Uint8Array[]): number {
    let abandoned = 0;
    for (const [key, p] of this.pending) {
      if (now - p.sentAt < Math.min(RETRANSMIT_MS * 2 ** p.tries, RETRANSMIT_MAX_MS)) continue;
      if (p.tries >= MAX_RETRANSMITS) {
        this.pending.delete(key);
        abandoned++;
        continue;
      }
      p.tries++;
      p.sentAt = now;
      out.push(p.bytes);
    }
    return abandoned;
  }
}

/** Writes the acknowledgement entry of the announcement at frame[off] into out[at]. */
export function writeAckEntry(frame: Uint8Array, off: number, out: Uint8Array, at: number): void {
  out.set(frame.subarray(off + OFF_ORIGIN, off + OFF_ORIGIN + KEY_SIZE + 8), at);
  out[at + KEY_SIZE + 8] = frame[off + OFF_PART]!;
}

/** The sequence of an acknowledgement entry at buf[off]. */
export function ackSequence(buf: Uint8Array, off: number): number {
  return readUint64BE(buf, off + KEY_SIZE);
}

/** The part of an acknowledgement entry at buf[off]. */
export function ackPart(buf: Uint8Array, off: number): number {
  return buf[off + KEY_SIZE + 8]!;
}

const entryBytes = Buffer.alloc(KEY_SIZE + 1);

/** The origin and part as one flat string: built in a scratch buffer, not a character at a
 *  time (which made a chain of 33 strings per entry). */
function entryKey(buf: Uint8Array, originOff: number, part: number): string {
  entryBytes.set(buf.subarray(originOff, originOff + KEY_SIZE));
  entryBytes[KEY_SIZE] = part;
  return entryBytes.toString('latin1');
}
