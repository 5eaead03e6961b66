// IP prefixes beyond fc00::/8 (issue 15): networks that live behind a node — a /64 of a server's,
// an office's IPv4 LAN, or everything (::/0, 0.0.0.0/0) behind an exit. Parsed from and written
// as "ADDRESS/LENGTH" text, canonical: the host bits must be zero, so one prefix has one text.
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../keys/ip-text.js';

export interface Prefix {
  family: 4 | 6;
  /** The network address, 4 or 16 bytes, its bits past `length` zero. */
  address: Uint8Array;
  /** Prefix length: 0–32 for IPv4, 0–128 for IPv6. */
  length: number;
}

/** A prefix that does not parse; `message` says what is wrong. */
export class PrefixError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrefixError';
  }
}

/** "2001:db8:1::/48" or "10.7.0.0/16". Throws PrefixError. */
export function parsePrefix(text: string): Prefix {
  const shown = JSON.stringify(text.length > 60 ? text.slice(0, 57) + '...' : text);
  const slash = text.indexOf('/');
  if (slash < 0 || !/^[0-9]{1,3}$/.test(text.slice(slash + 1))) throw new PrefixError(`${shown} is not ADDRESS/LENGTH, like "2001:db8:1::/48" or "10.7.0.0/16"`);
  const addressText = text.slice(0, slash);
  const length = Number(text.slice(slash + 1));
  const family = addressText.includes(':') ? 6 : 4;
  let address: Uint8Array;
  try {
    address = family === 6 ? parseIPv6(addressText) : parseIPv4(addressText);
  } catch (err) {
    throw new PrefixError(`${shown}: ${(err as Error).message}`);
  }
  const max = family === 6 ? 128 : 32;
  if (length > max) throw new PrefixError(`${shown}: an IPv${family} prefix is at most /${max}`);
  const prefix = { family, address, length } as Prefix;
  if (!equalPrefixBits(address, masked(prefix).address)) {
    throw new PrefixError(`${shown} has bits set past /${length}: the network is ${formatPrefix(masked(prefix))}`);
  }
  return prefix;
}

/** The canonical text of a prefix. */
export function formatPrefix(p: Prefix): string {
  return `${p.family === 6 ? formatIPv6(p.address) : formatIPv4(p.address)}/${p.length}`;
}

/** Whether `inner` lies within `outer` (equal counts). */
export function covers(outer: Prefix, inner: Prefix): boolean {
  return outer.family === inner.family && outer.length <= inner.length && bitsMatch(outer.address, inner.address, 0, outer.length);
}

/** Whether the address at buf[off, off + 4 or 16) lies within `p` (of that family). */
export function contains(p: Prefix, buf: Uint8Array, off: number): boolean {
  return bitsMatch(p.address, buf, off, p.length);
}

export function samePrefix(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.length === b.length && equalPrefixBits(a.address, b.address);
}

/** The default route of a family: everything (an exit's). */
export function isDefaultRoute(p: Prefix): boolean {
  return p.length === 0;
}

/** `p` with its host bits cleared. */
function masked(p: Prefix): Prefix {
  const address = p.address.slice();
  for (let bit = p.length; bit < address.length * 8; bit++) address[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { ...p, address };
}

/** Whether the first `bits` bits of `a` equal those of buf at `off`. */
function bitsMatch(a: Uint8Array, buf: Uint8Array, off: number, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== buf[off + i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & mask) === (buf[off + whole]! & mask);
}

function equalPrefixBits(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
