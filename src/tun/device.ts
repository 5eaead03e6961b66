// A TUN device: the layer-3 interface between the host's IP stack and the mesh. Thin over the
// native addon: packets move in batches (PacketBatch), and readiness comes from uv_poll on
// Node's own loop. Address, MTU and link state are set by whoever configures the interface.
//
// By default the device is opened with segmentation offloads (native/tun.c): the host's TCP
// hands over segments of up to 64 KB that the addon splits into packets of the TUN's MTU, and
// packets of one TCP flow written in one batch reach the host as one segment. Whoever uses the
// device sees packets of at most the MTU either way.
import { native, TUN_SCRATCH_BYTES, type PollHandle } from '../native/addon.js';
import { TUN_OFFSET, type PacketBatch } from '../transport/batch.js';

/**
 * What the node needs of a TUN: packets in and out in batches, and readiness. TunDevice is the
 * real one; MemoryTun (memory.ts) stands in for it in-process, as wireguard-go's tuntest does.
 */
export interface PacketDevice {
  onReadable(cb: (error?: Error) => void): void;
  stop(): void;
  /**
   * Packets already read from the kernel that did not fit the last batch: readiness will not
   * say so, the reader must come back for them.
   */
  readonly pending: boolean;
  readBatch(batch: PacketBatch, offset?: number, max?: number): number;
  writeBatch(batch: PacketBatch, count: number, offset?: number): number;
}

/** The TUN_F_* bits of TunDevice.offloads, by name (linux/if_tun.h): USO4 comes with USO6. */
export const TUN_OFFLOADS = { csum: 0x01, tso6: 0x04, uso6: 0x40 } as const;

export class TunDevice implements PacketDevice {
  private poll: PollHandle | null = null;
  private readable: ((error?: Error) => void) | null = null;
  private _fd: number;
  private _ifindex: number;
  private _offloads: number;
  /** A large segment being split, and where the split stands (native/tun.c); null without offloads. */
  private readonly scratch: Uint8Array | null;
  private readonly state: Uint32Array | null;

  private constructor(
    fd: number,
    /** The interface name the kernel gave (the one asked for, or tunN for ""). */
    readonly name: string,
    /** Whether the fd carries virtio-net headers (opened with offloads). */
    readonly offload: boolean,
    offloads: number,
  ) {
    this._fd = fd;
    this._ifindex = native.ifIndex(name);
    this._offloads = offloads;
    this.scratch = offload ? new Uint8Array(TUN_SCRATCH_BYTES) : null;
    this.state = offload ? new Uint32Array(2) : null;
  }

  /**
   * Opens (or creates) the TUN `name`, owned by this process's uid; needs CAP_NET_ADMIN unless
   * the device is persistent and ours. `offload: false` opens it without segmentation offloads.
   */
  static open(name: string, options: { offload?: boolean } = {}): TunDevice {
    const offload = options.offload ?? true;
    const { fd, name: actual, offloads } = native.tunOpen(name, offload);
    return new TunDevice(fd, actual, offload, offloads);
  }

  /** The TUN_F_* offloads the kernel accepted (TUN_OFFLOADS); 0 if none. */
  get offloads(): number {
    return this._offloads;
  }

  /** Only while someone reads (onReadable): a stopped device is not read from. */
  get pending(): boolean {
    return this.poll !== null && this.state !== null && this.state[0] !== 0;
  }

  /** The kernel's index of the interface this fd was attached to when it was opened. */
  get ifindex(): number {
    return this._ifindex;
  }

  /**
   * Whether this fd is still attached to an interface named `name` (the kernel detaches it when
   * the interface is deleted; a new one under the name is another interface).
   */
  get attached(): boolean {
    return this._fd >= 0 && native.tunDevice(this._fd) === this.name;
  }

  /** Whether an interface named `name` exists now (ours or not). */
  get exists(): boolean {
    return native.ifIndex(this.name) !== 0;
  }

  /**
   * Attaches to the interface `name` as it is now (creating it if it is gone), keeping this
   * object, so its users never see the change: the interface was deleted under us (NetworkManager
   * deletes a TUN it created when its profile goes down, and creates a new one when it goes up).
   * A readiness callback carries over to the new fd.
   */
  reopen(): void {
    const readable = this.readable;
    // Opened before the old fd is closed, so a failure leaves the device as it was.
    const { fd, offloads } = native.tunOpen(this.name, this.offload);
    this.close();
    this._fd = fd;
    this._offloads = offloads;
    this._ifindex = native.ifIndex(this.name);
    if (this.state) this.state[0] = 0; // a half-split segment of the old fd is gone with it
    if (readable) this.onReadable(readable);
  }

  /** The file descriptor; -1 once closed. */
  get fd(): number {
    return this._fd;
  }

  /** Calls `cb` whenever packets are waiting; it should drain them with readBatch. Replaces any earlier callback. */
  onReadable(cb: (error?: Error) => void): void {
    this.stop();
    this.poll = native.poll(this.liveFd(), cb);
    this.readable = cb;
  }

  /** Stops the readiness callback. */
  stop(): void {
    if (this.poll !== null) native.pollStop(this.poll);
    this.poll = null;
    this.readable = null;
  }

  /** Reads up to `max` waiting packets into the batch's slots at `offset`; returns how many. */
  readBatch(batch: PacketBatch, offset = TUN_OFFSET, max = batch.capacity): number {
    return native.tunReadBatch(this.liveFd(), batch.data, batch.slotSize, offset, batch.lens, max, this.scratch, this.state);
  }

  /** Writes the first `count` slots (empty ones skipped); returns how many the kernel took. */
  writeBatch(batch: PacketBatch, count: number, offset = TUN_OFFSET): number {
    return native.tunWriteBatch(this.liveFd(), batch.data, batch.slotSize, offset, batch.lens, count, this.offload);
  }

  /** Stops polling and closes the fd; the interface goes away unless it is persistent. Idempotent. */
  close(): void {
    this.stop();
    if (this._fd >= 0) native.closeFd(this._fd);
    this._fd = -1;
  }

  private liveFd(): number {
    if (this._fd < 0) throw new Error(`TUN ${this.name} is closed`);
    return this._fd;
  }
}
