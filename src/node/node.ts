// A mesh node: wires one TUN device and its UDP sockets to the session layer through the send
// and receive pipelines, keeps the peer list, and runs the timers. It opens nothing itself —
// the caller (the daemon, or a test) hands it open devices — so it stays embeddable.
import { encodePeerId } from '../keys/peerid.js';
import { fcAddressBytes, formatIPv6 } from '../keys/address.js';
import { AddressTable } from '../fcnet/address-table.js';
import type { StaticIdentity } from '../noise/handshake.js';
import { SessionManager, type SessionManagerOptions } from '../session/manager.js';
import { Peer } from '../session/peer.js';
import { DEFAULT_KEEPALIVE_MS, TIMER_TICK_MS } from '../session/constants.js';
import { Counters } from '../util/counters.js';
import { MTU_MAX } from '../config/schema.js';
import { PacketBatch, TUN_OFFSET } from '../transport/batch.js';
import { encodeEndpoint, decodeEndpoint, formatEndpoint, type Endpoint, type UdpSocket } from '../transport/udp.js';
import type { PacketDevice } from '../tun/device.js';
import { IcmpReplies } from './icmp-replies.js';
import { ReceivePipeline } from './receive.js';
import type { Sockets } from './send.js';
import { SendPipeline } from './send.js';

export interface PeerSpec {
  publicKey: Uint8Array;
  endpoint: Endpoint | null;
  psk?: Uint8Array;
  /** Persistent keepalive in seconds; 0 turns it off; absent means the default. */
  keepaliveSeconds?: number;
  name?: string;
}

export type NodeLogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface NodeOptions {
  identity: StaticIdentity;
  /** The open TUN device and UDP sockets; the node polls them but the caller closes them. */
  tun: PacketDevice;
  sockets: UdpSocket[];
  mtu: number;
  peers: PeerSpec[];
  log?: (level: NodeLogLevel, message: string) => void;
  session?: SessionManagerOptions;
}

export interface PeerStatus {
  peerId: string;
  address: string;
  name: string | null;
  endpoint: string | null;
  state: 'up' | 'connecting' | 'down';
  lastHandshake: number | null;
  rxBytes: number;
  txBytes: number;
}

/** Slots per batch: enough to amortise the native calls, small enough to stay in L2. */
const BATCH = 64;

export class MeshNode {
  readonly peerId: string;
  readonly address: Uint8Array;
  readonly addressText: string;
  readonly counters = new Counters();
  readonly sessions: SessionManager;
  private readonly byAddress = new AddressTable<Peer>();
  private readonly send: SendPipeline;
  private readonly receive: ReceivePipeline;
  private timer: NodeJS.Timeout | null = null;
  private readonly log: (level: NodeLogLevel, message: string) => void;
  private readonly sockets: Sockets;
  private readonly upPeers = new Set<Peer>();

  constructor(private readonly options: NodeOptions) {
    this.log = options.log ?? (() => {});
    this.peerId = encodePeerId(options.identity.publicKey);
    this.address = fcAddressBytes(options.identity.publicKey);
    this.addressText = formatIPv6(this.address);
    this.sessions = new SessionManager(
      options.identity,
      {
        sendDatagram: (endpoint, message) => this.sendControl(endpoint, message),
        sessionUp: (peer, first) => {
          // Rekeys happen every two minutes per peer: worth a line only when debugging.
          if (first || !this.upPeers.has(peer)) this.log('info', `peer ${peer.peerId} connected`);
          else this.log('debug', `peer ${peer.peerId} rekeyed`);
          this.upPeers.add(peer);
        },
        sessionDown: (peer) => {
          this.upPeers.delete(peer);
          this.log('info', `peer ${peer.peerId} session expired`);
        },
        internalError: (err) => {
          this.counters.internalErrors++;
          this.log('error', `timers: ${(err as Error).stack ?? String(err)}`);
        },
      },
      this.counters,
      { mtu: options.mtu, ...options.session },
    );
    // A slot holds the endpoint area, the transport header, the packet padded to 16 and the tag.
    // Receive slots take the largest MTU any peer may use, so a peer configured with a larger
    // MTU than ours is still heard.
    const slotFor = (mtu: number): number => (TUN_OFFSET + mtu + 15 + 16 + 63) & ~63;
    this.sockets = {
      v4: options.sockets.find((s) => s.family === 4) ?? null,
      v6: options.sockets.find((s) => s.family === 6) ?? null,
    };
    const icmp = new IcmpReplies(options.tun, this.address, this.sessions.now);
    this.send = new SendPipeline(options.tun, this.sockets, new PacketBatch(BATCH, slotFor(options.mtu)), options.mtu, this.byAddress, this.sessions, icmp, this.counters);
    this.receive = new ReceivePipeline(options.tun, new PacketBatch(BATCH, slotFor(MTU_MAX)), this.sessions, this.address, this.counters);
    this.setPeers(options.peers);
  }

  start(): void {
    if (this.timer) return;
    this.options.tun.onReadable(this.guard('TUN read', this.send.onReadable));
    for (const socket of this.options.sockets) socket.onReadable(this.guard('UDP receive', () => this.receive.drain(socket)));
    this.timer = setInterval(this.guard('timers', () => this.sessions.tick()), TIMER_TICK_MS);
    const now = this.sessions.now();
    for (const peer of this.sessions.allPeers()) this.sessions.initiate(peer, now);
  }

  /** Stops all I/O and wipes every key. The caller closes the devices. */
  stop(): void {
    this.options.tun.stop();
    for (const socket of this.options.sockets) socket.stop();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sessions.destroy();
  }

  /**
   * Makes the peer list equal to `specs`: new peers are added (and contacted if running),
   * missing ones removed with their keys wiped, and the others updated in place so their
   * sessions survive (a SIGHUP reload).
   */
  setPeers(specs: PeerSpec[]): void {
    // Everything that can fail is worked out before anything changes.
    const wanted = new Map<string, { spec: PeerSpec; endpoint: Uint8Array | null; keepaliveMs: number }>();
    for (const spec of specs) {
      wanted.set(encodePeerId(spec.publicKey), {
        spec,
        endpoint: spec.endpoint ? encodeEndpoint(spec.endpoint) : null,
        keepaliveMs: spec.keepaliveSeconds === undefined ? DEFAULT_KEEPALIVE_MS : spec.keepaliveSeconds * 1000,
      });
    }
    for (const peer of [...this.sessions.allPeers()]) {
      if (!wanted.has(peer.peerId)) {
        this.sessions.removePeer(peer);
        this.byAddress.delete(peer.address);
        this.upPeers.delete(peer);
        this.log('info', `peer ${peer.peerId} removed`);
      }
    }
    const now = this.sessions.now();
    for (const [peerId, { spec, endpoint, keepaliveMs }] of wanted) {
      const psk = spec.psk ?? new Uint8Array(32);
      const existing = this.sessions.getPeer(spec.publicKey);
      if (existing) {
        existing.keepaliveMs = keepaliveMs;
        existing.name = spec.name;
        if (existing.psk !== psk) existing.psk.fill(0);
        existing.psk = psk;
        // The live endpoint may have roamed; only a changed config entry overrides it.
        if (endpoint && !sameBytes(endpoint, existing.configuredEndpoint)) {
          existing.endpoint = endpoint;
          existing.configuredEndpoint = endpoint.slice();
        }
        continue;
      }
      const address = fcAddressBytes(spec.publicKey);
      const peer = new Peer({ publicKey: spec.publicKey, peerId, address, addressText: formatIPv6(address), endpoint, psk, keepaliveMs, name: spec.name });
      peer.configuredEndpoint = endpoint?.slice() ?? null;
      this.sessions.addPeer(peer);
      this.byAddress.set(address, peer);
      this.log('info', `peer ${peerId} added`);
      if (this.timer) this.sessions.initiate(peer, now);
    }
  }

  peerStatus(): PeerStatus[] {
    const out: PeerStatus[] = [];
    for (const peer of this.sessions.allPeers()) {
      out.push({
        peerId: peer.peerId,
        address: peer.addressText,
        name: peer.name ?? null,
        endpoint: peer.endpoint ? formatEndpoint(decodeEndpoint(peer.endpoint)) : null,
        state: peer.isUp ? 'up' : peer.handshake ? 'connecting' : 'down',
        lastHandshake: peer.lastHandshakeWallMs || null,
        rxBytes: peer.rxBytes,
        txBytes: peer.txBytes,
      });
    }
    return out;
  }

  /**
   * Runs an I/O or timer callback so that a failure is logged and counted instead of taking the
   * daemon down: the batch in hand is lost, the node keeps running. Also reports a poll that
   * libuv stopped with an error.
   */
  private guard(what: string, run: () => void): (error?: Error) => void {
    return (error?: Error) => {
      if (error) {
        this.log('error', `${what}: polling stopped: ${error.message}`);
        return;
      }
      try {
        run();
      } catch (err) {
        this.counters.internalErrors++;
        this.log('error', `${what}: ${(err as Error).stack ?? String(err)}`);
      }
    };
  }

  private sendControl(endpoint: Uint8Array, message: Uint8Array): void {
    const socket = endpoint[0] === 4 ? this.sockets.v4 : this.sockets.v6;
    if (!socket) {
      this.counters.noSession++;
      return;
    }
    socket.sendTo(message, 0, message.length, endpoint);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array | null): boolean {
  return b !== null && a.length === b.length && a.every((v, i) => v === b[i]);
}
