// Outbound data path: TUN → fcnet → session seal → UDP.
//
//   1. The TUN becomes readable; up to `capacity` packets are read into the slots of one reused
//      batch, each at TUN_OFFSET (48) so the 16-byte transport header fits in front of it.
//   2. Per packet (plain JS over the bytes, nothing allocated): a packet longer than the MTU or
//      not well-formed IPv6 is dropped; the IPv6 destination picks the peer from the address
//      table; a packet to an fc00::/8 address with no peer is answered with ICMPv6 "no route"
//      on the TUN; a peer with no session keeps a copy while its handshake runs.
//   3. The packet is zero-padded to a multiple of 16 (never past the MTU, so the datagram fits
//      the path), the transport header (type 4, receiver index, counter) is written before it
//      and the peer's endpoint into the slot's endpoint area.
//   4. One native call seals the whole batch in place; one more sends it with sendmmsg.
//   At most MAX_BATCHES_PER_WAKEUP batches are handled before yielding to the event loop, so a
//   flood on one side cannot starve the other side or the timers; the poll fires again.
import { OFF_DST, ipv6Length } from '../fcnet/ipv6.js';
import type { AddressTable } from '../fcnet/address-table.js';
import { encodeTransportHeader } from '../noise/messages.js';
import type { SessionManager } from '../session/manager.js';
import type { Peer } from '../session/peer.js';
import { sealBatch } from '../session/aead.js';
import type { Counters } from '../util/counters.js';
import type { PacketDevice } from '../tun/device.js';
import { DATAGRAM_OFFSET, TUN_OFFSET, type PacketBatch } from '../transport/batch.js';
import { UdpSocket } from '../transport/udp.js';
import type { IcmpReplies } from './icmp-replies.js';

/** Batches per readiness callback before the event loop gets a turn. */
export const MAX_BATCHES_PER_WAKEUP = 8;

export interface Sockets {
  v4: UdpSocket | null;
  v6: UdpSocket | null;
}

export class SendPipeline {
  constructor(
    private readonly tun: PacketDevice,
    private readonly sockets: Sockets,
    private readonly batch: PacketBatch,
    private readonly mtu: number,
    private readonly peers: AddressTable<Peer>,
    private readonly sessions: SessionManager,
    private readonly icmp: IcmpReplies,
    private readonly counters: Counters,
  ) {}

  /** Drains the TUN: called whenever it is readable. */
  readonly onReadable = (): void => {
    const { batch } = this;
    for (let round = 0; round < MAX_BATCHES_PER_WAKEUP; round++) {
      const n = this.tun.readBatch(batch, TUN_OFFSET, batch.capacity);
      if (n === 0) return;
      this.process(n);
      if (n < batch.capacity) return;
    }
  };

  private process(n: number): void {
    const { data, slotSize, lens, ids, counters } = this.batch;
    const mtu = this.mtu;
    const now = this.sessions.now();
    let ready = 0;
    for (let i = 0; i < n; i++) {
      const base = i * slotSize;
      const p = base + TUN_OFFSET;
      const read = lens[i]!;
      lens[i] = 0;
      const len = read <= mtu ? ipv6Length(data, p, read) : -1;
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
      encodeTransportHeader(data, kp.remoteIndex, kp.sendCounter, base + DATAGRAM_OFFSET);
      const padded = Math.min((len + 15) & ~15, mtu);
      data.fill(0, p + len, p + padded);
      ids[i] = kp.send.id;
      counters[i] = kp.sendCounter++;
      lens[i] = padded;
      peer.txBytes += len;
      this.sessions.sentData(peer, now);
      ready++;
    }
    if (ready === 0) return;
    sealBatch(this.batch, n, TUN_OFFSET);
    for (let i = 0; i < n; i++) if (lens[i] !== 0) lens[i] += TUN_OFFSET - DATAGRAM_OFFSET;
    UdpSocket.sendBatch(this.sockets.v4, this.sockets.v6, this.batch, n, DATAGRAM_OFFSET);
  }
}
