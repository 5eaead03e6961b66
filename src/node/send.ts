// Outbound data path: TUN → fcnet → session seal → UDP.
//
//   1. The TUN becomes readable; up to BATCH packets are read into the slots of one reused
//      batch, each at offset 48 so the 16-byte transport header fits in front of it.
//   2. Per packet (plain JS over the bytes, nothing allocated): the IPv6 destination picks the
//      peer from the address table; a packet to an fc00::/8 address with no peer is answered with
//      ICMPv6 "no route" on the TUN; a peer with no session keeps a copy while its handshake runs.
//   3. The packet is zero-padded to 16 bytes, the transport header (type 4, receiver index,
//      counter) written before it and the peer's endpoint into the slot's endpoint area.
//   4. One native call seals the whole batch in place; one more sends it with sendmmsg.
import { OFF_DST, ipv6Length } from '../fcnet/ipv6.js';
import type { AddressTable } from '../fcnet/address-table.js';
import type { SessionManager } from '../session/manager.js';
import { writeTransportHeader } from '../session/manager.js';
import type { Peer } from '../session/peer.js';
import type { Counters } from '../util/counters.js';
import { native } from '../native/addon.js';
import { DATAGRAM_OFFSET as SLOT_DATAGRAM, TUN_OFFSET as SLOT_PACKET, type PacketBatch } from '../transport/batch.js';
import type { IcmpReplies } from './icmp-replies.js';


export interface Sockets {
  fd4: number;
  fd6: number;
}

export class SendPipeline {
  constructor(
    private readonly tunFd: number,
    private readonly sockets: Sockets,
    private readonly batch: PacketBatch,
    private readonly peers: AddressTable<Peer>,
    private readonly sessions: SessionManager,
    private readonly icmp: IcmpReplies,
    private readonly counters: Counters,
  ) {}

  /** Drains the TUN: called whenever it is readable. */
  readonly onReadable = (): void => {
    const { data, slotSize, lens, capacity } = this.batch;
    for (;;) {
      const n = native.tunReadBatch(this.tunFd, data, slotSize, SLOT_PACKET, lens, capacity);
      if (n === 0) return;
      this.process(n);
      if (n < capacity) return;
    }
  };

  private process(n: number): void {
    const { data, slotSize, lens, ids, counters } = this.batch;
    const now = this.sessions.now();
    let ready = 0;
    for (let i = 0; i < n; i++) {
      const base = i * slotSize;
      const p = base + SLOT_PACKET;
      const len = ipv6Length(data, p, lens[i]!);
      lens[i] = 0;
      if (len < 0) {
        this.counters.invalidPacket++;
        continue;
      }
      if (data[p + OFF_DST] !== 0xfc) continue; // multicast and link-local chatter stays home
      const peer = this.peers.lookup(data, p + OFF_DST);
      if (!peer) {
        this.counters.noRoute++;
        this.icmp.noRoute(data, p, len);
        continue;
      }
      const kp = this.sessions.sendingKeypair(peer, now);
      if (!kp || !peer.endpoint) {
        peer.stage(data.subarray(p, p + len));
        continue;
      }
      data.set(peer.endpoint, base);
      writeTransportHeader(data, base + SLOT_DATAGRAM, kp.remoteIndex, kp.sendCounter);
      const padded = (len + 15) & ~15;
      data.fill(0, p + len, p + padded);
      ids[i] = kp.send.id;
      counters[i] = kp.sendCounter++;
      lens[i] = padded;
      peer.txBytes += len;
      this.sessions.sentData(peer, now);
      ready++;
    }
    if (ready === 0) return;
    native.aeadSealBatch(ids, counters, data, slotSize, SLOT_PACKET, lens, n);
    for (let i = 0; i < n; i++) if (lens[i] !== 0) lens[i] += SLOT_PACKET - SLOT_DATAGRAM;
    native.udpSendBatch(this.sockets.fd4, this.sockets.fd6, data, slotSize, SLOT_DATAGRAM, lens, n);
  }
}
