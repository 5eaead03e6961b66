// The mesh's one switch, thrown from either side: the API (SetEnabled, `rovy up|down`) and
// NetworkManager (`nmcli connection up|down rovy`). Each side follows the other, and the choice
// is saved either way, so a restart keeps it.
//
// Who configures rovy0: with NetworkManager on the bus, NetworkManager (the `rovy` profile:
// address, route, DNS), and the daemon only attaches its TUN and sets the MTU; without it, or
// when NetworkManager fails or leaves, the daemon itself through iproute2 (service/iface.ts).
// A TUN the daemon created stays when NetworkManager lets it go; one NetworkManager created is
// deleted by NetworkManager on down and created again on up, and the daemon attaches to it anew.
import type { MeshNode } from '../src/node/node.js';
import type { TunDevice } from '../src/tun/device.js';
import { configureInterface, setLinkUp, setMtu } from './iface.js';
import { NetworkManagerLink } from './nm/network-manager.js';
import type { ExitProfile } from './nm/profile.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

export interface MeshSwitchOptions {
  node: MeshNode;
  tun: TunDevice;
  mtu: number;
  /** Saves the switch as `enabled` (with whatever else the daemon keeps) to its state file;
   *  throws if it cannot, and then nothing may change. */
  save(enabled: boolean): void;
  /** The exit's part of the profile now (exit.ts): the mesh IPv4 address, DNS for every name. */
  exitProfile(): ExitProfile | null;
  log(level: Level, message: string): void;
}

export class MeshSwitch {
  private readonly nm: NetworkManagerLink;
  /** API switches run one at a time: each waits for NetworkManager, and the last word must win. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: MeshSwitchOptions) {
    this.nm = new NetworkManagerLink({
      interfaceName: o.tun.name,
      address: o.node.addressText,
      ownerUid: process.geteuid?.() ?? 0,
      vnetHeader: o.tun.offload,
      get exit() {
        return o.exitProfile();
      },
      isEnabled: () => o.node.isEnabled,
      switched: (enabled) => this.guard(() => this.switchedByNetworkManager(enabled)),
      activeChanged: (activated) => this.guard(() => this.attachUnderNetworkManager(activated)),
      presence: (present) => this.guard(() => (present ? this.readyForNetworkManager() : this.configure())),
      log: o.log,
    });
  }

  /** Hands the interface to NetworkManager if it is on the bus, now or later. */
  async followNetworkManager(): Promise<void> {
    try {
      await this.nm.start();
    } catch (err) {
      this.o.log('warn', `NetworkManager: ${(err as Error).message}; rovy configures its interface itself`);
    }
  }

  /** The API's side of the switch. */
  setEnabled(enabled: boolean): Promise<void> {
    const next = this.queue.then(() => this.apply(enabled));
    this.queue = next.catch(() => {});
    return next;
  }

  private async apply(enabled: boolean): Promise<void> {
    const { node } = this.o;
    // Saved first: a switch that a restart would undo is refused, with nothing changed.
    this.o.save(enabled);
    if (!this.nm.managing) {
      this.configure(enabled);
      node.setEnabled(enabled);
      return;
    }
    if (enabled) this.attach();
    node.setEnabled(enabled);
    try {
      await this.nm.request(enabled);
    } catch (err) {
      // The mesh is switched all the same: configured by the daemon, as without NetworkManager.
      this.o.log('warn', `NetworkManager did not ${enabled ? 'activate' : 'deactivate'} the rovy profile: ${(err as Error).message}; rovy configures its interface itself`);
      this.configure(enabled);
    }
  }

  /** The exit's part of the profile changed: NetworkManager gets it at once, where it manages rovy0. */
  exitProfileChanged(): void {
    this.nm.updateProfile().catch((err: Error) => this.o.log('warn', `NetworkManager: cannot update the rovy profile for the exit: ${err.message}`));
  }

  close(): void {
    this.nm.close();
  }

  // ---- inside ------------------------------------------------------------------------------

  /** NetworkManager switched the profile (nmcli, a network panel): the mesh follows. */
  private switchedByNetworkManager(enabled: boolean): void {
    this.o.log('info', `NetworkManager switched the rovy profile ${enabled ? 'on' : 'off'}`);
    if (enabled) this.attachUnderNetworkManager(false);
    this.o.node.setEnabled(enabled);
    try {
      this.o.save(enabled);
    } catch (err) {
      // NetworkManager has switched already: nobody to refuse, so say it.
      this.o.log('error', `${(err as Error).message}; the switch is lost at the next restart`);
    }
  }

  /**
   * While the profile is up, our fd must be on the interface NetworkManager configures. A TUN
   * NetworkManager creates exists once its activation has begun; attach as soon as it is there,
   * or create it ourselves if activation finished without one.
   */
  private attachUnderNetworkManager(activated: boolean): void {
    if (activated || this.o.tun.exists) this.attach();
  }

  /**
   * Switched off, the daemon's own TUN is down; NetworkManager then finds it no device for the
   * profile (it learns what kind of TUN it is only from a link that was up), and `nmcli
   * connection up rovy` would fail. So under NetworkManager off is the state its own down leaves:
   * the link up, without an address or route, and nothing read or sent.
   */
  private readyForNetworkManager(): void {
    if (!this.o.node.isEnabled && this.o.tun.attached) setLinkUp(this.o.tun.name, true);
  }

  /**
   * Makes sure our fd is on the interface named ours, creating it if it is gone; one new to us
   * gets our MTU (NetworkManager sets addresses and routes, not the MTU of a TUN).
   */
  private attach(): void {
    const { tun } = this.o;
    if (tun.attached) return;
    tun.reopen();
    setMtu(tun.name, this.o.mtu);
    this.o.log('info', `attached to ${tun.name} anew (index ${tun.ifindex})`);
  }

  /**
   * The daemon's own configuration: address, MTU and link up when on; link down when off. At
   * start-up it puts the interface in the saved state at once, so the mesh works before
   * NetworkManager answers, and without it; it throws then (before anything else runs) if it cannot.
   */
  configure(enabled = this.o.node.isEnabled): void {
    const { tun } = this.o;
    if (enabled) {
      this.attach();
      configureInterface(tun.name, this.o.node.addressText, this.o.mtu);
    } else if (tun.attached) {
      setLinkUp(tun.name, false);
    }
  }

  /** A step taken on NetworkManager's word is logged if it fails, never thrown into the bus code. */
  private guard(step: () => unknown): void {
    try {
      step();
    } catch (err) {
      this.o.log('error', (err as Error).message);
    }
  }
}
