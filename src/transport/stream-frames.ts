// Datagrams over a byte stream (TCP, TLS): how a connection starts and how each datagram is cut
// out of the stream again (docs/PROTOCOL.md, "Stream transports").
//
//   preamble  8 bytes, sent first by both ends: "rovy" 0x01 0x00 0x00 0x00 (version 1)
//   frame     2 bytes length (big-endian, 1..65535), then that many bytes: one datagram
//
// The preamble lets a node turn away what is not rovy (a port scanner, a web client on 443) after
// 8 bytes, before any of it is taken for a datagram. A frame longer than the largest datagram the
// node reads is skipped whole and counted; the stream stays in step, since its length is known.
import { CounterSet } from '../util/counters.js';

export const PREAMBLE = new Uint8Array([0x72, 0x6f, 0x76, 0x79, 0x01, 0x00, 0x00, 0x00]);
/** Bytes of the length before each frame. */
export const FRAME_HEADER_BYTES = 2;
/** The longest frame the format can carry. */
export const MAX_FRAME_BYTES = 0xffff;

/** What the stream transports refused or gave up on, by reason. */
export class StreamCounters extends CounterSet {
  /** Connections accepted on a listener / dialled by us. */
  accepted = 0;
  dialled = 0;
  /** Dials that failed (refused, unreachable, a TLS handshake that did not finish). */
  dialFailed = 0;
  /** Connections refused at once: the cap on connections, or on those not yet through their
   *  preamble (from all sources, or from one address). */
  refused = 0;
  /** Connections whose first 8 bytes were not the preamble. */
  badPreamble = 0;
  /** Connections closed for not finishing the TLS handshake and preamble in time. */
  handshakeTimeouts = 0;
  /** Connections closed after a long silence. */
  idleClosed = 0;
  /** Frames of length 0, and frames longer than the largest datagram read (skipped). */
  emptyFrames = 0;
  oversizedFrames = 0;
  /** Connections that ended in the middle of a frame (the part received is dropped). */
  truncatedFrames = 0;
  /** Datagrams dropped because a connection's send backlog was full, or it could not be dialled. */
  sendDropped = 0;
  /** Frames dropped because the queue of received ones was full (the connection waits). */
  receiveDropped = 0;
}

/**
 * Cuts frames out of the chunks a connection receives. `onFrame` gets each datagram as a view
 * into the chunk (valid until the next push), or a copy when it spanned chunks.
 */
export class FrameReader {
  private preambleLeft = PREAMBLE.length;
  /** A frame header or frame split across chunks, being put together. */
  private partial: Uint8Array | null = null;
  private partialFill = 0;
  private headerBytes = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFill = 0;
  /** Bytes of an oversized frame still to skip. */
  private skip = 0;

  constructor(
    /** The largest datagram accepted; longer frames are skipped. */
    private readonly maxDatagram: number,
    private readonly counters: StreamCounters,
    private readonly onFrame: (datagram: Uint8Array) => void,
  ) {}

  /** Whether the whole preamble has come. */
  get started(): boolean {
    return this.preambleLeft === 0;
  }

  /** Whether the stream stopped in the middle of a frame (or of its header). */
  get midFrame(): boolean {
    return this.partial !== null || this.headerFill > 0 || this.skip > 0;
  }

  /** Takes the next chunk. False if the stream is not rovy's (a wrong preamble): close it. */
  push(chunk: Uint8Array): boolean {
    let i = 0;
    while (this.preambleLeft > 0 && i < chunk.length) {
      if (chunk[i] !== PREAMBLE[PREAMBLE.length - this.preambleLeft]) {
        this.counters.badPreamble++;
        return false;
      }
      i++;
      this.preambleLeft--;
    }
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      if (this.partial !== null) {
        const n = Math.min(this.partial.length - this.partialFill, chunk.length - i);
        this.partial.set(chunk.subarray(i, i + n), this.partialFill);
        this.partialFill += n;
        i += n;
        if (this.partialFill === this.partial.length) {
          const frame = this.partial;
          this.partial = null;
          this.onFrame(frame);
        }
        continue;
      }
      // The length: two bytes, possibly one in this chunk and one in the next.
      let length: number;
      if (this.headerFill === 0 && chunk.length - i >= FRAME_HEADER_BYTES) {
        length = (chunk[i]! << 8) | chunk[i + 1]!;
        i += FRAME_HEADER_BYTES;
      } else {
        this.headerBytes[this.headerFill++] = chunk[i++]!;
        if (this.headerFill < FRAME_HEADER_BYTES) continue;
        this.headerFill = 0;
        length = (this.headerBytes[0]! << 8) | this.headerBytes[1]!;
      }
      if (length === 0) {
        this.counters.emptyFrames++;
        continue;
      }
      if (length > this.maxDatagram) {
        this.counters.oversizedFrames++;
        this.skip = length;
        continue;
      }
      if (chunk.length - i >= length) {
        this.onFrame(chunk.subarray(i, i + length));
        i += length;
      } else {
        this.partial = new Uint8Array(length);
        this.partialFill = 0;
      }
    }
    return true;
  }
}

/** Writes `datagram` as a frame into `out` at `offset`; returns the offset after it. */
export function writeFrame(out: Uint8Array, offset: number, datagram: Uint8Array): number {
  out[offset] = datagram.length >>> 8;
  out[offset + 1] = datagram.length & 0xff;
  out.set(datagram, offset + FRAME_HEADER_BYTES);
  return offset + FRAME_HEADER_BYTES + datagram.length;
}
