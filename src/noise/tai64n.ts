// TAI64N timestamps (https://cr.yp.to/libtai/tai64.html), sent encrypted in each handshake
// initiation so a responder can refuse a replayed one: it accepts an initiation from a peer only if
// the timestamp is strictly later than the last one it accepted from that peer (paper §5.1).
import { TIMESTAMP_SIZE } from './constants.js';

/** TAI64 label of the Unix epoch: 2^62 + 10 (TAI was 10 s ahead of UTC in 1970; like WireGuard,
 *  later leap seconds are ignored: only the ordering of one sender's timestamps matters). */
const TAI64_EPOCH = 2n ** 62n + 10n;

/** Nanoseconds are rounded down to a multiple of 2^24 ns (about 16.8 ms). A responder handles at
 *  most one initiation per peer per 20 ms anyway, so finer steps add nothing to replay
 *  protection, while exact nanoseconds would tell the responder (who decrypts them) the initiator's
 *  precise clock: material for fingerprinting a host and for timing side channels. */
export const TAI64N_GRANULARITY_NS = 2 ** 24;

/** The TAI64N label of `nowMs` (ms since the Unix epoch; Date.now() when absent): 8 bytes of
 *  big-endian seconds (2^62 + 10 + Unix seconds), then 4 bytes of big-endian nanoseconds. */
export function tai64nNow(nowMs: number = Date.now()): Uint8Array {
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new RangeError(`bad time ${nowMs}`);
  const seconds = Math.floor(nowMs / 1000);
  const nanos = Math.floor((nowMs - seconds * 1000) * 1_000_000);
  const coarse = nanos - (nanos % TAI64N_GRANULARITY_NS);
  const out = new Uint8Array(TIMESTAMP_SIZE);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, TAI64_EPOCH + BigInt(seconds), false);
  view.setUint32(8, coarse, false);
  return out;
}

/** True when timestamp `a` is strictly later than `b` (both 12-byte TAI64N labels): a big-endian
 *  byte comparison. */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== TIMESTAMP_SIZE || b.length !== TIMESTAMP_SIZE) throw new RangeError('TAI64N labels are 12 bytes');
  for (let i = 0; i < TIMESTAMP_SIZE; i++) {
    if (a[i] !== b[i]) return a[i]! > b[i]!;
  }
  return false;
}
