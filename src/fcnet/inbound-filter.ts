// The node's own firewall for what comes out of its sessions (issue 14, 6). Once anyone may link
// to a node, every service listening on the machine is one hop from the whole mesh; so what the
// mesh sends in is denied unless the user opened its port (port-rules.ts), or it answers what this
// host sent out, or it is ICMPv6 that ping, path MTU discovery and traceroute need.
//
//   out: every packet the host sends into rovy0 is noted as a flow (protocol, far address, our
//        port, its port), in a fixed-size table: no allocation per packet
//   in:  a packet for the TUN passes if it is
//        - ICMPv6 echo request or reply, or an error (destination unreachable, packet too big,
//          time exceeded, parameter problem);
//        - TCP or UDP to a port a rule opens (to everyone, or to its source's peer);
//        - TCP or UDP matching a flow the host started (a reply), still fresh;
//        - a later fragment of a packet whose first fragment passed.
//        Anything else is dropped and counted; the caller answers TCP and UDP with "port
//        unreachable", as a closed port does.
// A packet's source address is already the session's node (checked before this), so a per-peer
// rule can trust it.
import { NEXT_HEADER_ICMPV6, NEXT_HEADER_TCP, NEXT_HEADER_UDP, OFF_DST, OFF_NEXT_HEADER, OFF_SRC, IPV6_HEADER } from './ipv6.js';
import { ruleAddress, type PortRule } from './port-rules.js';

/** How long a flow stays open for replies without a packet from this host: TCP 2 hours (a
 *  quiet SSH session), UDP 3 minutes. */
export const TCP_FLOW_MS = 7200_000;
export const UDP_FLOW_MS = 180_000;
/** Flows remembered at once; an older one gives its place when the table is full. */
const FLOW_SLOTS = 1 << 16;
/** Slots looked at for a flow: its hash's and the next few. */
const PROBES = 8;
/** Key bytes per slot: protocol, far address, our port, its port. */
const KEY = 21;
const FRAGMENT_SLOTS = 256;
const FRAGMENT_MS = 60_000;

const EXT_HOP_BY_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_DESTINATION = 60;

interface CompiledRule {
  protocol: number;
  first: number;
  last: number;
  address: Uint8Array | null;
}

export class InboundFilter {
  /** Whether packets are filtered at all (`[ports] filter = false`: another firewall guards rovy0). */
  enabled: boolean;
  private rules: CompiledRule[] = [];
  private readonly keys = new Uint8Array(FLOW_SLOTS * KEY);
  /** When each slot's flow expires (monotonic ms, the pipelines' clock); 0: empty. */
  private readonly expires = new Float64Array(FLOW_SLOTS);
  private readonly fragmentKeys = new Uint8Array(FRAGMENT_SLOTS * 20);
  private readonly fragmentExpires = new Float64Array(FRAGMENT_SLOTS);
  private nextFragment = 0;
  /** Scratch for a key being looked up. */
  private readonly key = new Uint8Array(KEY);

  // Every method takes the time (the pipelines' monotonic ms, read once per batch): reading a
  // clock per packet would allocate.
  constructor(rules: readonly PortRule[], enabled = true) {
    this.enabled = enabled;
    this.setRules(rules);
  }

  setRules(rules: readonly PortRule[]): void {
    this.rules = rules.map((r) => ({ protocol: r.protocol === 'tcp' ? NEXT_HEADER_TCP : NEXT_HEADER_UDP, first: r.first, last: r.last, address: ruleAddress(r) }));
  }

  /** Notes the flow of a packet the host sends (at buf[off], `len` bytes, well-formed IPv6). */
  noteOutbound(buf: Uint8Array, off: number, len: number, now: number): void {
    if (!this.enabled) return;
    const t = this.transportStart(buf, off, len);
    if (t < 0) return;
    const protocol = this.protocol;
    if (protocol !== NEXT_HEADER_TCP && protocol !== NEXT_HEADER_UDP) return;
    // Our port is the source port here, theirs the destination.
    this.fillKey(protocol, buf, off + OFF_DST, buf, t, t + 2);
    this.remember(now, now + (protocol === NEXT_HEADER_TCP ? TCP_FLOW_MS : UDP_FLOW_MS));
  }

  /** Whether the packet at buf[off] (`len` bytes, well-formed IPv6 for us from a verified source) may reach the host. */
  admits(buf: Uint8Array, off: number, len: number, now: number): boolean {
    if (!this.enabled) return true;
    const t = this.transportStart(buf, off, len);
    if (t === LATER_FRAGMENT) return this.knownFragment(buf, off, now);
    if (t < 0) return false;
    const protocol = this.protocol;
    let admitted: boolean;
    if (protocol === NEXT_HEADER_ICMPV6) {
      const type = buf[t]!;
      admitted = type === 128 || type === 129 || (type >= 1 && type <= 4);
    } else if (protocol === NEXT_HEADER_TCP || protocol === NEXT_HEADER_UDP) {
      if (t + 4 > off + len) return false;
      const port = (buf[t + 2]! << 8) | buf[t + 3]!;
      admitted = this.opened(protocol, port, buf, off + OFF_SRC);
      if (!admitted) {
        // A reply: our port is its destination port, theirs its source port.
        this.fillKey(protocol, buf, off + OFF_SRC, buf, t + 2, t);
        admitted = this.find(now) >= 0;
      }
    } else admitted = false;
    if (admitted && this.firstFragment) this.rememberFragment(buf, off, now);
    return admitted;
  }

  // ---- parsing -----------------------------------------------------------------------------

  /** What the last transportStart found: the protocol (public: the refusal says which), whether
   *  the packet is a first fragment, and where a fragment's id is. */
  protocol = 0;
  private firstFragment = false;
  private fragmentIdAt = 0;

  /** Where the upper-layer header starts, past extension headers; -1 if the packet is cut short
   *  or odd, LATER_FRAGMENT for a fragment other than the first. */
  private transportStart(buf: Uint8Array, off: number, len: number): number {
    let next = buf[off + OFF_NEXT_HEADER]!;
    let p = off + IPV6_HEADER;
    const end = off + len;
    this.firstFragment = false;
    for (let n = 0; n < 8; n++) {
      if (next === EXT_HOP_BY_HOP || next === EXT_ROUTING || next === EXT_DESTINATION) {
        if (p + 8 > end) return -1;
        next = buf[p]!;
        p += (buf[p + 1]! + 1) * 8;
      } else if (next === EXT_FRAGMENT) {
        if (p + 8 > end) return -1;
        const offset = ((buf[p + 2]! << 8) | buf[p + 3]!) & 0xfff8;
        if (offset !== 0) {
          this.fragmentIdAt = p + 4;
          return LATER_FRAGMENT;
        }
        this.firstFragment = true;
        this.fragmentIdAt = p + 4;
        next = buf[p]!;
        p += 8;
      } else {
        this.protocol = next;
        return p < end ? p : -1;
      }
    }
    return -1;
  }

  // ---- rules and flows ---------------------------------------------------------------------

  // Per packet: indexed loops and byte copies, no views or iterators (nothing allocated).
  private opened(protocol: number, port: number, buf: Uint8Array, src: number): boolean {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.protocol !== protocol || port < rule.first || port > rule.last) continue;
      if (rule.address === null || equalAt(rule.address, buf, src)) return true;
    }
    return false;
  }

  private fillKey(protocol: number, buf: Uint8Array, address: number, ports: Uint8Array, ours: number, theirs: number): void {
    const key = this.key;
    key[0] = protocol;
    for (let i = 0; i < 16; i++) key[1 + i] = buf[address + i]!;
    key[17] = ports[ours]!;
    key[18] = ports[ours + 1]!;
    key[19] = ports[theirs]!;
    key[20] = ports[theirs + 1]!;
  }

  private hash(): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < KEY; i++) h = Math.imul(h ^ this.key[i]!, 0x01000193);
    return (h >>> 0) & (FLOW_SLOTS - 1);
  }

  /** The slot of the key's flow if it is there and fresh, else -1. */
  private find(now: number): number {
    const start = this.hash();
    for (let i = 0; i < PROBES; i++) {
      const slot = (start + i) & (FLOW_SLOTS - 1);
      if (this.expires[slot]! > now && this.keyAt(slot)) return slot;
    }
    return -1;
  }

  /** Stores the key's flow until `until`: in its own slot, an empty or stale one, or the one
   *  that expires first. */
  private remember(now: number, until: number): void {
    const start = this.hash();
    let victim = -1;
    for (let i = 0; i < PROBES; i++) {
      const slot = (start + i) & (FLOW_SLOTS - 1);
      if (this.expires[slot]! > now && this.keyAt(slot)) {
        this.expires[slot] = until; // the flow goes on
        return;
      }
      if (victim < 0 || this.expires[slot]! < this.expires[victim]!) victim = slot;
    }
    const base = victim * KEY;
    for (let i = 0; i < KEY; i++) this.keys[base + i] = this.key[i]!;
    this.expires[victim] = until;
  }

  private keyAt(slot: number): boolean {
    const base = slot * KEY;
    for (let i = 0; i < KEY; i++) if (this.keys[base + i] !== this.key[i]) return false;
    return true;
  }

  /** A first fragment passed: its later fragments (same source and id) will too. */
  private rememberFragment(buf: Uint8Array, off: number, now: number): void {
    const base = this.nextFragment * 20;
    this.fragmentKeys.set(buf.subarray(off + OFF_SRC, off + OFF_SRC + 16), base);
    this.fragmentKeys.set(buf.subarray(this.fragmentIdAt, this.fragmentIdAt + 4), base + 16);
    this.fragmentExpires[this.nextFragment] = now + FRAGMENT_MS;
    this.nextFragment = (this.nextFragment + 1) % FRAGMENT_SLOTS;
  }

  private knownFragment(buf: Uint8Array, off: number, now: number): boolean {
    for (let i = 0; i < FRAGMENT_SLOTS; i++) {
      if (this.fragmentExpires[i]! <= now) continue;
      const base = i * 20;
      if (equalAt(this.fragmentKeys.subarray(base, base + 16), buf, off + OFF_SRC) && equalAt(this.fragmentKeys.subarray(base + 16, base + 20), buf, this.fragmentIdAt)) return true;
    }
    return false;
  }
}

/** What transportStart returns for a fragment other than the first. */
const LATER_FRAGMENT = -2;

function equalAt(a: Uint8Array, buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[at + i]) return false;
  return true;
}
