// The hop-out stage: the last steps of every packet that leaves this node for a neighbour, the
// same whether it was read from the TUN (send.ts) or is passed on in transit (receive.ts).
//
//   in:  slot i of a batch holding the hop plaintext at TUN_OFFSET (len bytes), and the
//        neighbour it goes to
//   out: stage() makes the slot ready: zero padding to a multiple of 16 (never past the MTU; a
//        frame in transit is left as its origin padded it),
//        the neighbour's transport header in the 16 bytes before the plaintext, its endpoint in
//        the endpoint area, its key id and the next counter. send() then seals every ready slot
//        of the batch in place with one native call and hands it to the transports whose
//        endpoints it holds: UDP sends it with one more (sendmmsg, runs to one neighbour as UDP
//        GSO), a stream transport frames it onto its connections.
import { encodeTransportHeader } from '../noise/messages.js';
import { paddedLength } from '../util/protocol.js';
import type { SessionManager } from '../session/manager.js';
import type { Peer } from '../session/peer.js';
import { sealBatch } from '../session/aead.js';
import { DATAGRAM_OFFSET, TUN_OFFSET, type PacketBatch } from '../transport/batch.js';
import type { Transport } from '../transport/transport.js';

export class HopOut {
  private ready = 0;
  /** The endpoint kinds of the ready slots (bit 1 << kind): only their transports are called. */
  private kinds = 0;

  constructor(
    private readonly batch: PacketBatch,
    private readonly hop: SessionManager,
    private readonly transports: readonly Transport[],
    private readonly mtu: number,
  ) {}

  /**
   * Makes slot i (len plaintext bytes at TUN_OFFSET) ready to go to `peer`. False, leaving the
   * slot empty, if the peer has no usable session or no endpoint yet (a handshake was started).
   * `pad: false` for a frame in transit: its origin padded it for the route it chose, and it
   * leaves as long as it came.
   */
  stage(i: number, len: number, peer: Peer, now: number, pad = true): boolean {
    const { data, ids, counters, lens } = this.batch;
    const kp = this.hop.sendingKeypair(peer, now);
    if (!kp || !peer.endpoint) {
      lens[i] = 0;
      return false;
    }
    const base = i * this.batch.slotSize;
    data.set(peer.endpoint, base);
    this.kinds |= 1 << peer.endpoint[1]!;
    encodeTransportHeader(data, kp.remoteIndex, kp.sendCounter, base + DATAGRAM_OFFSET);
    const padded = pad ? paddedLength(len, this.mtu) : len;
    data.fill(0, base + TUN_OFFSET + len, base + TUN_OFFSET + padded);
    ids[i] = kp.send.id;
    counters[i] = kp.sendCounter++;
    lens[i] = padded;
    this.hop.sentData(peer, now);
    this.ready++;
    return true;
  }

  /** Seals and sends the ready slots among the first n (the others must have length 0); returns how many were ready. */
  send(n: number): number {
    const ready = this.ready;
    if (ready === 0) return 0;
    const kinds = this.kinds;
    this.ready = 0;
    this.kinds = 0;
    const { lens } = this.batch;
    sealBatch(this.batch, n, TUN_OFFSET);
    for (let i = 0; i < n; i++) if (lens[i] !== 0) lens[i] += TUN_OFFSET - DATAGRAM_OFFSET;
    for (const transport of this.transports) if (transport.kinds & kinds) transport.sendBatch(this.batch, n, DATAGRAM_OFFSET);
    return ready;
  }
}
