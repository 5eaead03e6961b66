// Named counters of what the node dropped or refused, and why. Every silent drop in the packet
// path increments exactly one of these, so "nothing happens" is always explainable.

/** A set of named counters (its own numeric fields), read as one plain object. */
export class CounterSet {
  snapshot(): Record<string, number> {
    return Object.fromEntries(Object.entries(this)) as Record<string, number>;
  }
}

export class Counters extends CounterSet {
  /** Datagrams of an unknown type or a wrong length for their type. */
  malformed = 0;
  /** Handshake messages without a valid mac1: never answered, no work done. */
  invalidMac1 = 0;
  /** Handshake messages that failed authentication or came for no handshake of ours. */
  handshakeRejected = 0;
  /** Initiations from keys that are not our peers. */
  unknownPeer = 0;
  /** Initiations whose TAI64N timestamp is not newer than one already accepted. */
  replayedInitiation = 0;
  /** Initiations arriving faster than one per 20 ms from one peer, or, under load, handshakes
   *  with a valid mac2 over their source's rate. */
  rateLimited = 0;
  /** Handshake messages dropped unread: their source had spent its share of this second's
   *  handshake work (session/handshake-gate.ts). */
  handshakesShed = 0;
  /** Cookie replies sent instead of handshakes while under load. */
  cookieReplies = 0;
  /** Transport messages for no current session index. */
  unknownIndex = 0;
  /** Transport messages whose counter was already seen or is too old. */
  replayed = 0;
  /** Transport messages that failed authentication. */
  decryptFailed = 0;
  /** Decrypted packets whose IPv6 source is not the sending peer's address. */
  spoofedSource = 0;
  /** Packets for this node's exit from a node it does not serve ([exit] clients), or from a
   *  mesh IPv4 address another node holds (fcnet/ipv4-bindings.ts). */
  exitRefused = 0;
  /** Packets from the mesh the inbound filter kept from the host: to a port not opened to their
   *  node, not a reply to a flow of ours, not ICMPv6 that must pass (fcnet/inbound-filter.ts). */
  filtered = 0;
  /** Decrypted or TUN packets that are not well-formed IPv6 for us. */
  invalidPacket = 0;
  /** TUN packets to an fc00::/8 address that belongs to no peer (answered with ICMPv6). */
  noRoute = 0;
  /** Packets dropped because a peer has no endpoint or its handshake gave up. */
  noSession = 0;
  /** TUN packets larger than their route carries (answered with ICMPv6 packet-too-big). */
  tooBig = 0;
  /** Routed frames relayed to the next hop. */
  forwarded = 0;
  /** Routed frames whose label names no link of ours, or sends them back where they came from. */
  badLabel = 0;
  /** Routed frames whose hop limit ran out here (reported back to their origin). */
  hopLimitExceeded = 0;
  /** Time-exceeded reports that did not verify or matched no probe of ours. */
  invalidReport = 0;

  /** DNS queries to fc00::1 answered (every outcome, REFUSED and NXDOMAIN included). */
  dnsAnswered = 0;
  /** Of those, queries for names outside .rovy and the fc00::/8 reverse zone, or of a class
   *  other than IN (REFUSED). */
  dnsRefused = 0;
  /** Queries for names outside .rovy sent on to the exit in use, answered when it answered (or
   *  with SERVFAIL when it did not). */
  dnsForwarded = 0;
  /** Packets to fc00::1 dropped: malformed DNS queries, bad UDP checksums, other protocols,
   *  echo requests too large to answer whole. */
  dnsDropped = 0;

  /** Batches lost to an unexpected exception in the node (a bug: the log has the stack). */
  internalErrors = 0;
}
