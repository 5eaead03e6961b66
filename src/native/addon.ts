// The typed face of rovy_native (native/*.c): TUN and batched UDP I/O, readiness on Node's
// loop, and in-place ChaCha20-Poly1305. In a checkout the addon is built by `npm install` into
// build/Release; this module finds it from wherever esbuild put the bundle (dist/rovy.js,
// dist/test/**) by walking up to the package root, the directory holding binding.gyp. An
// installed bundle (meson) loads the addon installed beside it, and never one of a checkout.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { installLayout } from '../util/install-layout.js';
import { packageRoot } from '../util/package-root.js';

/**
 * A batch read that may hand out, over several calls, what one system call brought in: up to
 * `max` packets into the slots, the rest kept in `scratch` with where it stands in `state` (both
 * null when the fd never brings in more than one packet at once). Returns the count.
 */
export type ResumableRead = (
  fd: number,
  data: Uint8Array,
  slotSize: number,
  offset: number,
  lens: Uint32Array,
  max: number,
  scratch: Uint8Array | null,
  state: Uint32Array | null,
) => number;

/** An opaque handle from `poll`, for `pollStop`. */
export type PollHandle = { readonly __rovyPollHandle: unique symbol };

/**
 * Batch arguments shared by the batch calls: `data` holds slots of `slotSize` bytes, the packet
 * of slot i starts at `i * slotSize + offset`, its length is `lens[i]`. UDP calls need
 * offset >= 32: the first 32 bytes of a slot are its endpoint area (see transport/udp.ts).
 * All calls are synchronous, throw TypeError/RangeError on bad arguments before touching any
 * slot, and throw an Error with `code` (e.g. "EBADF") on unexpected system errors; a full queue
 * (EAGAIN) is never an error.
 */
/** A batch seal or open: the slots of a batch, each with its key id and nonce counter. */
export type AeadBatchCall = (
  ids: Uint32Array,
  counters: Float64Array,
  data: Uint8Array,
  slotSize: number,
  offset: number,
  lens: Uint32Array,
  count: number,
  offsets?: Uint32Array,
) => void;

export interface NativeAddon {
  /**
   * Opens (creating if needed) a layer-3 TUN without packet info, non-blocking, owned by our
   * euid. With `offload` the fd carries virtio-net headers and `offloads` is the TUN_F_* set the
   * kernel accepted (TUN_F_CSUM 1, TSO6 4, USO4 0x20 and USO6 0x40), 0 if none.
   */
  tunOpen(name: string, offload: boolean): { fd: number; name: string; offloads: number };
  /** The name of the interface `fd` is attached to, or null once that interface was deleted. */
  tunDevice(fd: number): string | null;
  /** The index of interface `name` in this process's network namespace; 0 if there is none. */
  ifIndex(name: string): number;
  /**
   * Reads packets until the queue is empty or `max`; returns the count. For an fd with
   * virtio-net headers, `scratch` (TUN_SCRATCH_BYTES) and `state` (2 numbers) are kept between
   * calls: a large segment is split into packets, and what did not fit waits there.
   */
  tunReadBatch: ResumableRead;
  /**
   * Writes slots with lens[i] > 0; packets the kernel refuses right now are dropped. With `vnet`
   * (an fd with virtio-net headers) a TCP flow's packets go as one coalesced segment. Returns the
   * count written.
   */
  tunWriteBatch(fd: number, data: Uint8Array, slotSize: number, offset: number, lens: Uint32Array, count: number, vnet: boolean): number;
  /** TUN I/O so far on this thread (see TunStats in native/tun.c). */
  tunStats(): TunStats;

  /**
   * A non-blocking UDP socket bound to addr (4 or 16 bytes) and port (0: any); IPv6 sockets are
   * v6-only. `gro`: the kernel may hand it coalesced datagrams (UDP GRO).
   */
  udpOpen(family: 4 | 6, addr: Uint8Array, port: number, bufBytes: number): { fd: number; port: number; gro: boolean };
  /**
   * recvmmsg into slots, sender in each endpoint area; a datagram too long for its slot gets
   * length 0. For a socket with GRO, `scratch` (UDP_GRO_SCRATCH_BYTES) and `state`
   * (UDP_GRO_STATE_LENGTH numbers) are kept between calls: coalesced datagrams are handed out one
   * per slot, and what did not fit waits there.
   */
  udpRecvBatch: ResumableRead;
  /** sendmmsg each slot with lens[i] > 0 to its endpoint, on fd4 or fd6 by family (-1: drop). Returns the count sent. */
  udpSendBatch(fd4: number, fd6: number, data: Uint8Array, slotSize: number, offset: number, lens: Uint32Array, count: number): number;
  /** One datagram to a 32-byte endpoint area; false if the socket buffer is full or the destination is unreachable now. */
  udpSendTo(fd: number, buf: Uint8Array, off: number, len: number, endpoint: Uint8Array): boolean;
  /** Batched UDP I/O so far on this thread (see UdpStats in native/udp.c). */
  udpStats(): UdpStats;

  /** Marks an open socket for policy routing (SO_MARK; 0: left unmarked). Needs CAP_NET_ADMIN. */
  socketMark(fd: number, mark: number): void;
  /** A non-blocking TCP socket to addr (4 or 16 bytes) and port, marked (0: not), its connect
   *  begun: the descriptor, for net.Socket({ fd }). */
  tcpDial(family: 4 | 6, addr: Uint8Array, port: number, mark: number): number;

  /**
   * Calls `callback` on the main thread whenever fd is readable (level-triggered: drain it).
   * If libuv reports an error the poll has stopped and the callback gets it.
   */
  poll(fd: number, callback: (error?: Error) => void): PollHandle;
  /** Stops a poll; safe to call again. */
  pollStop(handle: PollHandle): void;
  closeFd(fd: number): void;

  /** A native ChaCha20-Poly1305 context for one key and direction; returns its id. */
  aeadKey(key: Uint8Array, encrypt: boolean): number;
  /** Frees (and wipes) a key; unknown or freed ids are ignored. */
  aeadFree(id: number): void;
  /** Seals buf[off, off+len) in place and appends the tag; returns len + 16. */
  aeadSeal(id: number, counter: number, buf: Uint8Array, off: number, len: number): number;
  /** Opens buf[off, off+len) (ciphertext and tag) in place; returns the plaintext length or -1. */
  aeadOpen(id: number, counter: number, buf: Uint8Array, off: number, len: number): number;
  /**
   * Seals each slot with lens[i] > 0 with key ids[i] and nonce counters[i]; lens[i] += 16. With
   * `offsets`, slot i's payload starts at offsets[i] in its slot instead of at `offset`.
   */
  aeadSealBatch: AeadBatchCall;
  /** Opens each slot; lens[i] becomes the plaintext length, or OPEN_FAILED (`offsets` as for sealing). */
  aeadOpenBatch: AeadBatchCall;
  /** Seal and open calls so far on this thread, and the packets they sealed or tried to open. */
  aeadStats(): { calls: number; packets: number };
}

/** What the TUNs of this thread did: system calls, the packets through them, and the offloads. */
export interface TunStats {
  /** read(2) calls that returned a packet, and the packets they gave (a split segment gives several). */
  reads: number;
  packetsRead: number;
  /** Reads that were a large segment to split. */
  gsoReads: number;
  /** write calls that succeeded, and the packets they carried (a coalesced flow carries several). */
  writes: number;
  packetsWritten: number;
  /** Writes that carried a coalesced flow. */
  groWrites: number;
  /** Reads dropped because their virtio-net header did not fit the packet. */
  malformed: number;
}

/** What the UDP sockets of this thread did. */
export interface UdpStats {
  /** recvmmsg calls that returned datagrams, and the datagrams. */
  recvCalls: number;
  received: number;
  /** sendmmsg calls that sent datagrams, and the datagrams sent. */
  sendCalls: number;
  sent: number;
  /** GSO messages handed to the kernel (refused ones too), their datagrams, and refusals. */
  gsoSends: number;
  gsoDatagrams: number;
  gsoFallbacks: number;
}

/** What udpRecvBatch keeps for a socket with GRO (RV_GRO_* in native/udp.c): 16 messages of 64 KB and their endpoints, and the state. */
export const UDP_GRO_SCRATCH_BYTES = 16 * (65536 + 32);
export const UDP_GRO_STATE_LENGTH = 3 + 2 * 16;

/** Bytes of the scratch buffer tunReadBatch needs for an fd with virtio-net headers. */
export const TUN_SCRATCH_BYTES = 10 + 40 + 65535;

/** lens[i] after aeadOpenBatch for a slot that did not authenticate (0 is a valid, empty plaintext). */
export const OPEN_FAILED = 0xffffffff;

const ADDON = join('build', 'Release', 'rovy_native.node');
const installed = installLayout(import.meta.url);
const root = installed === null ? packageRoot(import.meta.url) : null;

/** Where the built addon is expected (null: no package root found); a worker thread can load it from here. */
export const addonPath: string | null = installed !== null ? installed.addon : root === null ? null : join(root, ADDON);

function load(): NativeAddon {
  if (addonPath === null) throw new Error(`rovy native addon: no binding.gyp above ${import.meta.url}; cannot find the package root`);
  if (installed !== null && !existsSync(addonPath)) throw new Error(`rovy native addon is not installed (${addonPath} is missing): reinstall rovy`);
  if (!existsSync(addonPath)) throw new Error(`rovy native addon is not built (${addonPath} is missing): run \`npm install\` in ${root}`);
  return createRequire(import.meta.url)(addonPath) as NativeAddon;
}

/**
 * Loads once at import. If loading fails, importing still works (so code that never touches
 * the data plane, and its tests, run anywhere) and every call throws the load error.
 */
function loadOrStub(): NativeAddon {
  try {
    return load();
  } catch (error) {
    const fail = (): never => {
      throw error;
    };
    // 'then' stays undefined so the stub is not mistaken for a promise.
    return new Proxy({} as NativeAddon, { get: (_, prop) => (prop === 'then' ? undefined : fail) });
  }
}

export const native: NativeAddon = loadOrStub();
