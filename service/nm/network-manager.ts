// The daemon's side of NetworkManager: it keeps the `rovy` profile registered whenever
// NetworkManager is on the bus, switches the profile when the mesh is switched through the API,
// and tells the daemon when NetworkManager switched it (`nmcli connection up/down rovy`, a
// desktop's network panel). It follows NetworkManager's own D-Bus state (the profile's active
// connection), not the link: a TUN may come and go under an active connection.
//
// All of it goes through service/dbus/bus.ts (BusConnection): no nmcli, no dbus-next here.
import { BusCallError, BusConnection, BusUnavailable } from '../dbus/bus.js';
import { ownedSettings, PROFILE_UUID, type ProfileFacts, type Settings } from './profile.js';

const NM = 'org.freedesktop.NetworkManager';
const NM_PATH = '/org/freedesktop/NetworkManager';
const SETTINGS_PATH = `${NM_PATH}/Settings`;
const SETTINGS = `${NM}.Settings`;
const CONNECTION = `${NM}.Settings.Connection`;
const ACTIVE = `${NM}.Connection.Active`;
const DEVICE = `${NM}.Device`;
// Connection.Active.State: 1 activating, 2 activated, 3 deactivating, 4 deactivated.
const ACTIVATING = 1;
const ACTIVATED = 2;
/** The profile counts as on while one of its active connections is activating or activated. */
const isOn = (actives: { state: number }[]): boolean => actives.some((a) => a.state === ACTIVATING || a.state === ACTIVATED);
// AddConnection2/Update2 flags: keep the profile on disk, so it outlives NetworkManager restarts.
const TO_DISK = 0x1;
/** How long to wait before registering again after NetworkManager failed a step (it may be starting). */
const RETRY_MS = 1000;
const RETRIES = 10;
/** How long NetworkManager's word is not taken against a request of ours still on its way (an activation waits up to about 2 s for a carrier). */
const REQUEST_SETTLE_MS = 10_000;
const QUIET_RETRIES = 2;

export interface NetworkManagerHost extends ProfileFacts {
  /** Whether the mesh is switched on now (the daemon's switch, which NetworkManager is made to agree with). */
  isEnabled(): boolean;
  /** NetworkManager switched the profile on or off (not at our request). */
  switched(enabled: boolean): void;
  /** NetworkManager's active connection changed while on: the TUN may have been created anew. */
  activeChanged(activated: boolean): void;
  /** NetworkManager appeared (registered, in agreement) or left the bus. */
  presence(present: boolean): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

export class NetworkManagerLink {
  private bus: BusConnection | null = null;
  private owner: string | null = null;
  private profilePath: string | null = null;
  /** What NetworkManager said last: the profile on (activating or activated) or off. */
  private lastOn: boolean | null = null;
  /** A request of ours NetworkManager has not yet carried out, and until when to wait for it. */
  private pending: { on: boolean; until: number } | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private registering = false;
  private retries = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly host: NetworkManagerHost) {}

  /** NetworkManager is on the bus and has our profile: the switch goes through it. */
  get managing(): boolean {
    return this.owner !== null && this.profilePath !== null;
  }

  /**
   * Connects to the system bus and starts following NetworkManager. Without a bus this does
   * nothing (the daemon configures its interface itself); resolves once NetworkManager, if it is
   * there, has the profile and agrees with the daemon's switch.
   */
  async start(address?: string): Promise<void> {
    let bus: BusConnection;
    try {
      bus = await BusConnection.connect((err) => this.busLost(err), address);
    } catch (err) {
      if (err instanceof BusUnavailable) return;
      throw err;
    }
    // Closed while connecting (the daemon stopping as it started): nothing to follow.
    if (this.closed) return bus.close();
    this.bus = bus;
    let owner: string | null;
    try {
      const changed = (): void => this.refresh();
      // Active connections come and go on the manager; each one's state changes on itself.
      await bus.subscribe({ sender: NM, interface: 'org.freedesktop.DBus.Properties', member: 'PropertiesChanged', pathNamespace: NM_PATH }, (path, args) => {
        if (path === NM_PATH && args[0] === NM && 'ActiveConnections' in (args[1] as object)) changed();
      });
      await bus.subscribe({ sender: NM, interface: ACTIVE, member: 'StateChanged', pathNamespace: `${NM_PATH}/ActiveConnection` }, changed);
      await bus.subscribe({ sender: NM, interface: SETTINGS, member: 'ConnectionRemoved', pathNamespace: SETTINGS_PATH }, (_path, args) => {
        // Someone deleted the profile: the daemon owns it, so it comes back, switched as the mesh is.
        if (args[0] === this.profilePath) {
          this.host.log('warn', 'NetworkManager: the rovy profile was deleted; adding it again');
          this.profilePath = null;
          void this.register();
        }
      });
      owner = await bus.watchName(NM, (next) => this.ownerChanged(next));
    } catch (err) {
      this.bus = null;
      bus.close();
      if (this.closed) return;
      throw err;
    }
    if (owner) {
      this.owner = owner;
      await this.register();
    }
  }

  /** Switches the profile to agree with the mesh (after the daemon switched it through the API). */
  async request(enabled: boolean): Promise<void> {
    if (!this.managing) return;
    if (enabled) await this.activate();
    else await this.deactivate();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.bus?.close();
    this.bus = null;
  }

  // ---- NetworkManager on the bus -----------------------------------------------------------

  private ownerChanged(next: string | null): void {
    if (next === this.owner) return;
    const was = this.owner;
    this.owner = next;
    this.profilePath = null;
    this.lastOn = null;
    this.pending = null;
    this.retries = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (was && !next) {
      this.host.log('info', 'NetworkManager left the bus; rovy configures its interface itself');
      this.host.presence(false);
    }
    // A restarted NetworkManager is a new owner: register with it afresh.
    if (next) void this.register();
  }

  private busLost(err: Error): void {
    if (this.closed) return;
    this.host.log('warn', `NetworkManager: ${err.message}`);
    this.bus?.close();
    this.bus = null;
    this.ownerChanged(null);
  }

  /** Makes sure the profile exists with rovy's fields and that NetworkManager agrees with the switch. */
  private async register(): Promise<void> {
    if (this.registering || this.closed) return;
    this.registering = true;
    try {
      this.profilePath = await this.ensureProfile();
      await this.makeDeviceManaged();
      // The daemon's switch wins over whatever NetworkManager found when it (re)started.
      const on = await this.profileOn();
      this.lastOn = on;
      if (this.host.isEnabled() && !on) await this.activate();
      else if (!this.host.isEnabled() && on) await this.deactivate();
      this.retries = 0;
      this.host.log('info', `NetworkManager: profile rovy (${PROFILE_UUID}) registered, ${this.host.isEnabled() ? 'active' : 'inactive'}`);
      this.host.presence(true);
      // Changes while registering were held back (their state was not yet ours to compare).
      this.registering = false;
      this.refresh();
    } catch (err) {
      this.profilePath = null;
      if (!this.owner || this.closed) return;
      const message = `NetworkManager: cannot register the rovy profile: ${(err as Error).message}`;
      if (this.retries++ < RETRIES) {
        // A NetworkManager that has just taken its name exports its objects a moment later:
        // the first failures are expected, a third is worth saying.
        this.host.log(this.retries === QUIET_RETRIES + 1 ? 'warn' : 'debug', `${message}; trying again`);
        this.retryTimer = setTimeout(() => void this.register(), RETRY_MS);
      } else {
        this.host.log('error', `${message}; rovy configures its interface itself`);
      }
    } finally {
      this.registering = false;
    }
  }

  /** The profile's object path, created or with its owned fields rewritten. */
  private async ensureProfile(): Promise<string> {
    const bus = this.live();
    let path: string | null = null;
    try {
      path = (await bus.call(NM, SETTINGS_PATH, SETTINGS, 'GetConnectionByUuid', 's', [PROFILE_UUID])) as string;
    } catch (err) {
      if (!(err instanceof BusCallError && /InvalidConnection/.test(err.dbusName))) throw err;
    }
    if (path === null) {
      const [created] = (await bus.call(NM, SETTINGS_PATH, SETTINGS, 'AddConnection2', 'a{sa{sv}}ua{sv}', [ownedSettings(null, this.host), TO_DISK, {}])) as [string];
      this.host.log('info', `NetworkManager: created the rovy profile (${PROFILE_UUID})`);
      return created;
    }
    const current = (await bus.call(NM, path, CONNECTION, 'GetSettings', '', [], { raw: true })) as Settings;
    await bus.call(NM, path, CONNECTION, 'Update2', 'a{sa{sv}}ua{sv}', [ownedSettings(current, this.host), TO_DISK, {}]);
    return path;
  }

  /**
   * NetworkManager leaves a device it did not create unmanaged while it is down, and then finds
   * no device for the profile: make ours managed, so `nmcli connection up rovy` works even while
   * the mesh is off. No device yet (NetworkManager creates one when the profile goes up) is fine.
   */
  private async makeDeviceManaged(): Promise<void> {
    const bus = this.live();
    const device = await this.device();
    if (device && (await bus.getProperty(NM, device, DEVICE, 'Managed')) !== true) await bus.setProperty(NM, device, DEVICE, 'Managed', 'b', true);
  }

  /** NetworkManager's object for our interface; null while there is none. */
  private async device(): Promise<string | null> {
    try {
      return (await this.live().call(NM, NM_PATH, NM, 'GetDeviceByIpIface', 's', [this.host.interfaceName])) as string;
    } catch (err) {
      if (err instanceof BusCallError && /UnknownDevice/.test(err.dbusName)) return null;
      throw err;
    }
  }

  /**
   * Writes the profile again (the exit's part of it changed) and, while it is up, has
   * NetworkManager apply it to the device at once (Reapply), without taking the link down.
   */
  async updateProfile(): Promise<void> {
    if (!this.managing) return;
    await this.ensureProfile();
    if (!(await this.profileOn())) return;
    const device = await this.device();
    if (device) await this.live().call(NM, device, DEVICE, 'Reapply', 'a{sa{sv}}tu', [{}, 0n, 0]);
  }

  private async activate(): Promise<void> {
    const bus = this.live();
    if (await this.profileOn()) return;
    await this.makeDeviceManaged();
    this.pending = { on: true, until: Date.now() + REQUEST_SETTLE_MS };
    try {
      await bus.call(NM, NM_PATH, NM, 'ActivateConnection', 'ooo', [this.profilePath, '/', '/']);
    } catch (err) {
      this.pending = null; // refused: nothing on its way to wait for
      throw err;
    }
    this.lastOn = true;
  }

  private async deactivate(): Promise<void> {
    const bus = this.live();
    this.pending = { on: false, until: Date.now() + REQUEST_SETTLE_MS };
    for (const active of await this.activeConnections()) {
      try {
        await bus.call(NM, NM_PATH, NM, 'DeactivateConnection', 'o', [active.path]);
      } catch (err) {
        // Already gone between the listing and the call: that is what was asked for.
        if (!(err instanceof BusCallError && /ConnectionNotActive|UnknownMethod|UnknownObject/.test(err.dbusName))) throw err;
      }
    }
    this.lastOn = false;
  }

  // ---- following NetworkManager's state -----------------------------------------------------

  /** Re-reads the profile's state after a change; overlapping changes fold into one more read. */
  private refresh(): void {
    if (!this.managing || this.registering) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          await this.compare();
        } catch (err) {
          this.host.log('debug', `NetworkManager: cannot read the profile's state: ${(err as Error).message}`);
        }
      } while (this.refreshAgain && this.managing);
    })().finally(() => (this.refreshing = null));
  }

  private async compare(): Promise<void> {
    const actives = await this.activeConnections();
    const on = isOn(actives);
    const activated = actives.some((a) => a.state === ACTIVATED);
    // While a request of ours is on its way, the states NetworkManager passes through (an
    // activation we have since taken back, say) are not the user's word.
    if (this.pending && (on === this.pending.on || Date.now() > this.pending.until)) this.pending = null;
    // Otherwise only a change of NetworkManager's state moves the mesh: our own requests are
    // already applied, and one NetworkManager refused must not be undone by its unchanged state.
    if (on !== this.lastOn) {
      this.lastOn = on;
      // A profile that went down because it was deleted is no word about the mesh: it comes
      // back (ConnectionRemoved) and is switched as the mesh is.
      if (!this.pending && on !== this.host.isEnabled() && (on || (await this.profileExists()))) this.host.switched(on);
    }
    if (on) this.host.activeChanged(activated);
  }

  private async profileExists(): Promise<boolean> {
    const bus = this.live();
    const paths = (await bus.call(NM, SETTINGS_PATH, SETTINGS, 'ListConnections')) as string[];
    return paths.includes(this.profilePath ?? '');
  }

  private async profileOn(): Promise<boolean> {
    return isOn(await this.activeConnections());
  }

  /** The active connections of our profile (usually none or one; two while one replaces another). */
  private async activeConnections(): Promise<{ path: string; state: number }[]> {
    const bus = this.live();
    const paths = (await bus.getProperty(NM, NM_PATH, NM, 'ActiveConnections')) as string[];
    const ours: { path: string; state: number }[] = [];
    for (const path of paths) {
      try {
        const props = (await bus.call(NM, path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [ACTIVE])) as { Connection?: string; State?: number };
        if (props.Connection === this.profilePath) ours.push({ path, state: props.State ?? 0 });
      } catch {
        // gone between the listing and the read
      }
    }
    return ours;
  }

  private live(): BusConnection {
    if (!this.bus || !this.owner) throw new Error('NetworkManager is not on the bus');
    return this.bus;
  }
}
