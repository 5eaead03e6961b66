// The node's DNS responder (RFC 1035): `<petname or peer ID>.rovy` gives the peer's fc00::/8
// address, and its reverse name under `c.f.ip6.arpa` gives `<label>.rovy` back. Pure: a UDP
// payload in, a UDP payload out; the IPv6/UDP wrapping is done by the caller.
//
// Only a plain query is answered: one question, no answer or authority records, at most an EDNS
// OPT record (RFC 6891) besides. Anything else is dropped unanswered, so garbage or forged packets
// cost a parse and reflect nothing. Responses are small (a question of at most 271 bytes plus two
// short records), so they always fit the 512 bytes of plain DNS and never need truncation.

/** What the responder asks of the node: names are already lower-cased and have no trailing dot. */
export interface RovyZone {
  /** The fc00::/8 address (16 bytes) of `label` in `<label>.rovy` (a petname or a peer ID), or null if the name does not exist. */
  addressOf(label: string): Uint8Array | null;
  /** The label (petname, else peer ID) naming fc address `address` (16 bytes), or null if unknown. */
  labelOf(address: Uint8Array): string | null;
}

/** 'outside': a name in neither of rovy's zones, REFUSED here (a resolver that has somewhere to
 *  send such queries, through an exit, forwards it instead). */
export type DnsOutcome = 'answered' | 'nxdomain' | 'nodata' | 'refused' | 'outside' | 'notimp' | 'formerr' | 'malformed';

/** TTL of every record we give out, and of negative answers: names change when peers are renamed. */
export const DNS_TTL_SECONDS = 60;

const HEADER = 12;
/** RFC 1035 §2.3.4: longest name in wire form (length bytes and root included), longest label. */
const MAX_NAME = 255;
const MAX_LABEL = 63;

const FLAG_QR = 0x80;
const FLAG_AA = 0x04;
const FLAG_TC = 0x02;
const FLAG_RD = 0x01;
/** Byte 3: checking disabled, which RFC 4035 §3.1.6 asks a server to copy into its response. */
const FLAG_CD = 0x10;

const TYPE_SOA = 6;
const TYPE_PTR = 12;
const TYPE_AAAA = 28;
const TYPE_OPT = 41;
const TYPE_ANY = 255;
const CLASS_IN = 1;

const RCODE_NOERROR = 0;
const RCODE_FORMERR = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
const RCODE_REFUSED = 5;
/** RFC 6891 §6.1.3: 12 bits, the upper 8 in the OPT record, the lower 4 in the header. */
const RCODE_BADVERS = 16;

/** The payload size we advertise: the DNS Flag Day 2020 value, which avoids IP fragmentation. */
const EDNS_UDP_SIZE = 1232;

/** The SOA's RDATA, the same for both zones: MNAME rovy., RNAME hostmaster.rovy., then timers
 * (serial, refresh, retry, expire, minimum) — the minimum is the negative-caching TTL (RFC 2308). */
const SOA_RDATA = Uint8Array.of(
  ...wireName(['rovy']),
  ...wireName(['hostmaster', 'rovy']),
  ...u32Bytes(1),
  ...u32Bytes(3600),
  ...u32Bytes(600),
  ...u32Bytes(86400),
  ...u32Bytes(DNS_TTL_SECONDS),
);

const DROP = { length: 0, outcome: 'malformed' } as const;

/** Answers the DNS query `query` into `out` (which holds at least 512 bytes; never write past out.length). Returns the response length and outcome; length 0 means drop silently (outcome 'malformed'). */
export function answerDnsQuery(query: Uint8Array, zone: RovyZone, out: Uint8Array): { length: number; outcome: DnsOutcome } {
  if (query.length < HEADER) return DROP;
  const flags = query[2]!;
  if (flags & (FLAG_QR | FLAG_TC)) return DROP;
  if (u16(query, 4) !== 1 || u16(query, 6) !== 0 || u16(query, 8) !== 0) return DROP;
  const question = readQuestion(query);
  if (!question) return DROP;
  const edns = readAdditional(query, question.end, u16(query, 10));
  if (!edns) return DROP;

  const opcode = (flags >> 3) & 0xf;
  let reply: Reply;
  if (edns.formerr) reply = refusal(RCODE_FORMERR, 'formerr');
  else if (edns.version > 0) reply = refusal(RCODE_BADVERS, 'formerr');
  else if (opcode !== 0) reply = refusal(RCODE_NOTIMP, 'notimp');
  else if (question.qclass !== CLASS_IN) reply = refusal(RCODE_REFUSED, 'refused');
  else reply = resolve(question, zone);
  const withOpt = edns.version >= 0 && !edns.formerr;

  const w = new Writer(out);
  w.bytes(query.subarray(0, 2));
  w.u8(FLAG_QR | (opcode << 3) | (reply.apex >= 0 ? FLAG_AA : 0) | (flags & FLAG_RD));
  w.u8((query[3]! & FLAG_CD) | (reply.rcode & 0xf));
  w.u16(1);
  w.u16(reply.answer ? 1 : 0);
  w.u16(reply.apex >= 0 && !reply.answer ? 1 : 0);
  w.u16(withOpt ? 1 : 0);
  // The question byte for byte, the client's letter case included (0x20 randomisation).
  w.bytes(query.subarray(HEADER, question.end));
  // Owner names point into the question: the answer's owner is the question name, the SOA's the
  // zone apex, which is a suffix of it.
  if (reply.answer) w.record(HEADER, reply.answer.type, reply.answer.rdata);
  else if (reply.apex >= 0) w.record(reply.apex, TYPE_SOA, SOA_RDATA);
  if (withOpt) {
    w.u8(0);
    w.u16(TYPE_OPT);
    w.u16(EDNS_UDP_SIZE);
    w.u8(reply.rcode >> 4); // extended rcode; version 0, no flags (DO clear), no options
    w.u8(0);
    w.u16(0);
    w.u16(0);
  }
  return w.full ? DROP : { length: w.pos, outcome: reply.outcome };
}

interface Question {
  /** Lower-cased labels, root excluded, and where each starts in the query. */
  labels: string[];
  offsets: number[];
  qtype: number;
  qclass: number;
  end: number;
}

/** Reads the question at HEADER, or null if it is not a well-formed, uncompressed name. */
function readQuestion(buf: Uint8Array): Question | null {
  const labels: string[] = [];
  const offsets: number[] = [];
  let p = HEADER;
  for (;;) {
    if (p >= buf.length) return null;
    const len = buf[p]!;
    if (len === 0) break;
    // 0b11 (a pointer) and 0b01/0b10 (reserved, RFC 6891 §5) all read as > 63.
    if (len > MAX_LABEL) return null;
    if (p + 1 + len + 1 - HEADER > MAX_NAME || p + 1 + len > buf.length) return null;
    offsets.push(p);
    labels.push(lowerLabel(buf, p + 1, len));
    p += 1 + len;
  }
  p += 1;
  if (p + 4 > buf.length) return null;
  return { labels, offsets, qtype: u16(buf, p), qclass: u16(buf, p + 2), end: p + 4 };
}

/** `version` is the OPT's EDNS version, -1 without one; `formerr` for an OPT RFC 6891 §6.1.1 forbids. */
interface Edns {
  version: number;
  formerr: boolean;
}

/**
 * Reads the `count` additional records from buf[p] to the end of the message, looking for the OPT
 * record. Returns null if they do not parse or bytes are left over.
 */
function readAdditional(buf: Uint8Array, p: number, count: number): Edns | null {
  const edns: Edns = { version: -1, formerr: false };
  // Each record takes at least 11 bytes or fails, so a forged count ends at the message's end.
  for (let i = 0; i < count; i++) {
    const name = p;
    p = skipName(buf, p);
    if (p < 0 || p + 10 > buf.length) return null;
    const rdata = p + 10 + u16(buf, p + 8);
    if (rdata > buf.length) return null;
    if (u16(buf, p) === TYPE_OPT) {
      if (edns.version >= 0 || buf[name] !== 0) edns.formerr = true;
      else edns.version = buf[p + 5]!;
    }
    p = rdata;
  }
  return p === buf.length ? edns : null;
}

/** Where the name at buf[p] ends, or -1. Records after the question may be compressed; we need not
 * follow a pointer, only step over it. */
function skipName(buf: Uint8Array, p: number): number {
  const start = p;
  for (;;) {
    if (p >= buf.length) return -1;
    const len = buf[p]!;
    if (len === 0) return p + 1;
    if ((len & 0xc0) === 0xc0) return p + 2 <= buf.length ? p + 2 : -1;
    if (len > MAX_LABEL || p + 1 + len + 1 - start > MAX_NAME) return -1;
    p += 1 + len;
  }
}

interface Reply {
  rcode: number;
  outcome: DnsOutcome;
  /** Offset in the query of the apex of our zone the name is in (so AA is set and negative answers
   * carry its SOA); -1 outside our zones. */
  apex: number;
  answer: { type: number; rdata: Uint8Array } | null;
}

function refusal(rcode: number, outcome: DnsOutcome): Reply {
  return { rcode, outcome, apex: -1, answer: null };
}

function answer(apex: number, type: number, rdata: Uint8Array): Reply {
  return { rcode: RCODE_NOERROR, outcome: 'answered', apex, answer: { type, rdata } };
}

/** The name exists but has no record of the type asked: NOERROR, the SOA in authority. */
function nodata(apex: number): Reply {
  return { rcode: RCODE_NOERROR, outcome: 'nodata', apex, answer: null };
}

function nxdomain(apex: number): Reply {
  return { rcode: RCODE_NXDOMAIN, outcome: 'nxdomain', apex, answer: null };
}

/** Nibbles in an IPv6 reverse name; the top two (f, c) are the zone apex itself. */
const NIBBLES = 32;
const HEX_NIBBLE = /^[0-9a-f]$/;

function resolve(q: Question, zone: RovyZone): Reply {
  const { labels, offsets, qtype } = q;
  const n = labels.length;
  if (n >= 1 && labels[n - 1] === 'rovy') {
    const apex = offsets[n - 1]!;
    if (n === 1) return qtype === TYPE_SOA || qtype === TYPE_ANY ? answer(apex, TYPE_SOA, SOA_RDATA) : nodata(apex);
    if (n > 2) return nxdomain(apex);
    const address = zone.addressOf(labels[0]!);
    if (!address || address.length !== 16) return nxdomain(apex);
    return qtype === TYPE_AAAA || qtype === TYPE_ANY ? answer(apex, TYPE_AAAA, address) : nodata(apex);
  }
  if (n < 2 || labels[n - 1] !== 'arpa' || labels[n - 2] !== 'ip6') return refusal(RCODE_REFUSED, 'outside');
  if (n < 4 || labels[n - 3] !== 'f' || labels[n - 4] !== 'c') return refusal(RCODE_REFUSED, 'outside');
  const apex = offsets[n - 4]!;
  // Below the apex, least significant nibble first: labels[0] is the address's last nibble.
  const below = n - 4;
  if (below > NIBBLES - 2) return nxdomain(apex);
  for (let i = 0; i < below; i++) if (!HEX_NIBBLE.test(labels[i]!)) return nxdomain(apex);
  if (below === 0 && (qtype === TYPE_SOA || qtype === TYPE_ANY)) return answer(apex, TYPE_SOA, SOA_RDATA);
  if (below < NIBBLES - 2) return nodata(apex); // an empty non-terminal: it has names below it
  const address = new Uint8Array(16);
  address[0] = 0xfc;
  for (let i = 0; i < below; i++) {
    const nibble = NIBBLES - 1 - i;
    address[nibble >> 1]! |= parseInt(labels[i]!, 16) << (nibble & 1 ? 0 : 4);
  }
  const label = zone.labelOf(address);
  const target = label === null ? null : ptrTarget(label);
  if (!target) return nxdomain(apex);
  return qtype === TYPE_PTR || qtype === TYPE_ANY ? answer(apex, TYPE_PTR, target) : nodata(apex);
}

/** `<label>.rovy.` in wire form, or null if the zone's label is not one DNS label. */
function ptrTarget(label: string): Uint8Array | null {
  const bytes = new TextEncoder().encode(label);
  if (bytes.length === 0 || bytes.length > MAX_LABEL) return null;
  return Uint8Array.of(bytes.length, ...bytes, ...wireName(['rovy']));
}

/** A name's labels lower-cased, ASCII only: other bytes pass through as Latin-1 characters. */
function lowerLabel(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i < off + len; i++) {
    const c = buf[i]!;
    s += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  return s;
}

function wireName(labels: string[]): number[] {
  const out: number[] = [];
  for (const label of labels) out.push(label.length, ...Array.from(label, (c) => c.charCodeAt(0)));
  out.push(0);
  return out;
}

function u32Bytes(v: number): number[] {
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

function u16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

/** Writes into `out` from 0; past its end it writes nothing more and sets `full`. */
class Writer {
  pos = 0;
  full = false;
  constructor(private readonly out: Uint8Array) {}

  private room(n: number): boolean {
    if (this.pos + n <= this.out.length) return true;
    this.full = true;
    return false;
  }

  u8(v: number): void {
    if (this.room(1)) this.out[this.pos] = v;
    this.pos += 1;
  }

  u16(v: number): void {
    if (this.room(2)) {
      this.out[this.pos] = v >> 8;
      this.out[this.pos + 1] = v & 0xff;
    }
    this.pos += 2;
  }

  bytes(b: Uint8Array): void {
    if (this.room(b.length)) this.out.set(b, this.pos);
    this.pos += b.length;
  }

  /** A class IN record whose owner is the name at `owner` in the message (a compression pointer). */
  record(owner: number, type: number, rdata: Uint8Array): void {
    this.u16(0xc000 | owner);
    this.u16(type);
    this.u16(CLASS_IN);
    this.u16(DNS_TTL_SECONDS >>> 16); // the 32-bit TTL
    this.u16(DNS_TTL_SECONDS & 0xffff);
    this.u16(rdata.length);
    this.bytes(rdata);
  }
}
