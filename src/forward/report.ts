// The time-exceeded report: what a transit node sends back along the reverse label when a frame's
// hop limit runs out in its hands. A transit cannot read the end-to-end payload, so it cannot
// quote the packet as ICMPv6 requires; it names the frame by its end-to-end header (receiver index
// and counter, unique per packet) and signs that with its own key. The origin, which kept the
// packet it sent, verifies the signature and writes the ICMPv6 error from the reporter's fc
// address — so no node on the path can put another node's name into a traceroute.
//
//   16  the end-to-end message header of the expired frame
//   32  the reporter's X25519 public key
//   64  XEdDSA signature over "rovy.net v1 time exceeded" || the 16 header bytes
import { xeddsaSign, xeddsaVerify } from '../keys/xeddsa.js';
import type { StaticIdentity } from '../noise/handshake.js';
import { TRANSPORT_HEADER_SIZE } from '../noise/constants.js';

export const REPORT_LENGTH = TRANSPORT_HEADER_SIZE + 32 + 64;
const DOMAIN = new TextEncoder().encode('rovy.net v1 time exceeded');

function signedBytes(header: Uint8Array): Uint8Array {
  const out = new Uint8Array(DOMAIN.length + TRANSPORT_HEADER_SIZE);
  out.set(DOMAIN);
  out.set(header.subarray(0, TRANSPORT_HEADER_SIZE), DOMAIN.length);
  return out;
}

/** The report about the frame whose end-to-end header is `header` (16 bytes). */
export function signTimeExceeded(identity: StaticIdentity, header: Uint8Array): Uint8Array {
  const out = new Uint8Array(REPORT_LENGTH);
  out.set(header.subarray(0, TRANSPORT_HEADER_SIZE));
  out.set(identity.publicKey, TRANSPORT_HEADER_SIZE);
  out.set(xeddsaSign(identity.privateKey, signedBytes(header)), TRANSPORT_HEADER_SIZE + 32);
  return out;
}

/** The end-to-end header a report names (not yet verified), or null if it is no report. */
export function reportedHeader(report: Uint8Array): Uint8Array | null {
  return report.length === REPORT_LENGTH ? report.subarray(0, TRANSPORT_HEADER_SIZE) : null;
}

/** The reporter of an authentic report, or null. */
export function verifyTimeExceeded(report: Uint8Array): Uint8Array | null {
  const header = reportedHeader(report);
  if (!header) return null;
  const reporter = report.subarray(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + 32);
  return xeddsaVerify(reporter, signedBytes(header), report.subarray(TRANSPORT_HEADER_SIZE + 32)) ? reporter : null;
}
