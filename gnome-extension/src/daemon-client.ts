// The extension's only link to rovy: net.rovy.Rovy1 on the system bus, through Gio's D-Bus
// proxies. The root object's four interfaces are plain proxies; peers and LAN neighbours come
// from the daemon's ObjectManager. Both keep their properties up to date from the daemon's
// signals and follow it when it leaves the bus and comes back, so nothing is polled and nothing
// is kept here but those proxies. Every call is asynchronous and cancelled by destroy().
import type Gio from 'gi://Gio';
import type GLib from 'gi://GLib';
import contractXml from '../../dbus/net.rovy.Rovy1.xml';
import type { DaemonSnapshot, Props } from './view.js';

const BUS_NAME = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';
const NODE_IFACE = 'net.rovy.Rovy1';
const NAMES_IFACE = 'net.rovy.Rovy1.Names';
const DISCOVERY_IFACE = 'net.rovy.Rovy1.Discovery';
const EXIT_IFACE = 'net.rovy.Rovy1.Exit';
const PEER_IFACE = 'net.rovy.Rovy1.Peer';
const NEIGHBOR_IFACE = 'net.rovy.Rovy1.Neighbor';
// CallError's name for a call that destroy() cancelled (not a D-Bus error name).
const CANCELLED = 'cancelled';
// Longer than the daemon waits for polkit (25 s), which may be showing a password dialog.
const CALL_TIMEOUT_MS = 30_000;

/** A method call the daemon refused or that never reached it. */
export class CallError extends Error {
  /** The D-Bus error name, e.g. net.rovy.Rovy1.Error.NotAuthorized. */
  readonly errorName: string;

  constructor(errorName: string, message: string) {
    super(message);
    this.errorName = errorName;
  }

  /** destroy() cancelled the call: nothing to tell the user. */
  get cancelled(): boolean {
    return this.errorName === CANCELLED;
  }

  get notAuthorized(): boolean {
    return this.errorName === 'net.rovy.Rovy1.Error.NotAuthorized' || this.errorName === 'org.freedesktop.DBus.Error.AccessDenied';
  }
}

interface Modules {
  Gio: typeof Gio;
  GLib: typeof GLib;
}

export class DaemonClient {
  private readonly cancellable: Gio.Cancellable;
  private readonly info: Gio.DBusNodeInfo;
  private readonly proxies = new Map<string, Gio.DBusProxy>();
  private manager: Gio.DBusObjectManagerClient | null = null;
  private readonly handlers: [Gio.DBusProxy | Gio.DBusObjectManagerClient, number][] = [];

  constructor(private readonly m: Modules, private readonly changed: () => void) {
    this.cancellable = new m.Gio.Cancellable();
    this.info = m.Gio.DBusNodeInfo.new_for_xml(contractXml);
  }

  start(): void {
    const { Gio } = this.m;
    for (const iface of [NODE_IFACE, NAMES_IFACE, DISCOVERY_IFACE, EXIT_IFACE]) {
      // DO_NOT_AUTO_START: showing the menu must not start a daemon someone stopped.
      Gio.DBusProxy.new_for_bus(Gio.BusType.SYSTEM, Gio.DBusProxyFlags.DO_NOT_AUTO_START, this.info.lookup_interface(iface),
        BUS_NAME, ROOT_PATH, iface, this.cancellable, (_source, result) => {
          const proxy = this.finish(() => Gio.DBusProxy.new_for_bus_finish(result));
          if (!proxy) return;
          this.proxies.set(iface, proxy);
          this.watch(proxy, proxy.connect('g-properties-changed', () => this.changed()));
          this.watch(proxy, proxy.connect('notify::g-name-owner', () => this.changed()));
          this.changed();
        });
    }
    Gio.DBusObjectManagerClient.new_for_bus(Gio.BusType.SYSTEM, Gio.DBusObjectManagerClientFlags.DO_NOT_AUTO_START,
      BUS_NAME, ROOT_PATH, null, this.cancellable, (_source, result) => {
        const manager = this.finish(() => Gio.DBusObjectManagerClient.new_for_bus_finish(result));
        if (!manager) return;
        this.manager = manager;
        for (const signal of ['object-added', 'object-removed', 'interface-proxy-properties-changed', 'notify::name-owner'])
          this.watch(manager, manager.connect(signal, () => this.changed()));
        this.changed();
      });
  }

  /** The result of an async constructor, or null if destroy() cancelled it. */
  private finish<T>(f: () => T): T | null {
    try {
      return f();
    } catch (e) {
      if (this.cancellable.is_cancelled()) return null;
      // Creating a proxy only fails without a system bus at all: then there is nothing to show.
      console.error(`rovy: cannot watch ${BUS_NAME}: ${String(e)}`);
      return null;
    }
  }

  private watch(target: Gio.DBusProxy | Gio.DBusObjectManagerClient, id: number): void {
    this.handlers.push([target, id]);
  }

  snapshot(): DaemonSnapshot {
    const cached = (iface: string): Props | null => {
      const proxy = this.proxies.get(iface);
      return proxy?.get_name_owner() ? propsOf(proxy) : null;
    };
    const node = cached(NODE_IFACE);
    // Until the root's properties have arrived there is nothing to show but "not running".
    if (!node || !('PeerId' in node)) return { node: null, names: null, discovery: null, exit: null, peers: [], neighbors: [] };
    const objects = this.manager?.get_name_owner() ? this.manager.get_objects() : [];
    const withIface = (iface: string) =>
      objects.flatMap((object) => {
        const proxy = object.get_interface(iface) as Gio.DBusProxy | null;
        return proxy ? [{ path: object.get_object_path(), props: propsOf(proxy) }] : [];
      });
    return { node, names: cached(NAMES_IFACE), discovery: cached(DISCOVERY_IFACE), exit: cached(EXIT_IFACE), peers: withIface(PEER_IFACE), neighbors: withIface(NEIGHBOR_IFACE) };
  }

  setEnabled(enabled: boolean): Promise<void> {
    // Switching on may start the daemon (bus activation: systemd's rovyd.service); the other
    // calls only make sense to a daemon that is running.
    return this.call(ROOT_PATH, NODE_IFACE, 'SetEnabled', new this.m.GLib.Variant('(b)', [enabled]), enabled);
  }

  setPolicy(policy: string): Promise<void> {
    return this.call(ROOT_PATH, DISCOVERY_IFACE, 'SetPolicy', new this.m.GLib.Variant('(s)', [policy]));
  }

  setPetname(name: string, peerId: string): Promise<void> {
    return this.call(ROOT_PATH, NAMES_IFACE, 'Set', new this.m.GLib.Variant('(ss)', [name, peerId]));
  }

  removePetname(name: string): Promise<void> {
    return this.call(ROOT_PATH, NAMES_IFACE, 'Remove', new this.m.GLib.Variant('(s)', [name]));
  }

  /** Uses the exit of `peerId` ("" for none), with the kill switch on or off. */
  setExitNode(peerId: string, killSwitch: boolean): Promise<void> {
    return this.call(ROOT_PATH, EXIT_IFACE, 'SetExitNode', new this.m.GLib.Variant('(sb)', [peerId, killSwitch]));
  }

  connectNeighbor(path: string): Promise<void> {
    return this.call(path, NEIGHBOR_IFACE, 'Connect', null);
  }

  // Calls go on the connection rather than through a proxy: to any object (a neighbour's too),
  // and, for switching on, with bus activation, which the proxies do without.
  private call(path: string, iface: string, method: string, args: GLib.Variant | null, autoStart = false): Promise<void> {
    const { Gio } = this.m;
    const flags = Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION | (autoStart ? 0 : Gio.DBusCallFlags.NO_AUTO_START);
    // The proxies' connection: the shell's own to the system bus (no second one, no blocking connect).
    const connection = this.proxies.get(NODE_IFACE)?.get_connection();
    if (!connection) return Promise.reject(new CallError('', 'not connected to the system bus yet'));
    return new Promise((resolve, reject) => {
      connection.call(BUS_NAME, path, iface, method, args, null, flags, CALL_TIMEOUT_MS, this.cancellable, (_source, result) => {
        try {
          connection.call_finish(result);
          resolve();
        } catch (e) {
          reject(this.callError(e));
        }
      });
    });
  }

  private callError(e: unknown): CallError {
    const { Gio } = this.m;
    if (e instanceof this.m.GLib.Error) {
      if (e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED)) return new CallError(CANCELLED, 'cancelled');
      const name = Gio.DBusError.get_remote_error(e) ?? '';
      Gio.DBusError.strip_remote_error(e);
      return new CallError(name, e.message);
    }
    return new CallError('', String(e));
  }

  destroy(): void {
    this.cancellable.cancel();
    for (const [target, id] of this.handlers) target.disconnect(id);
    this.handlers.length = 0;
    this.proxies.clear();
    this.manager = null;
  }
}

function propsOf(proxy: Gio.DBusProxy): Props {
  const props: Props = {};
  for (const name of proxy.get_cached_property_names() ?? []) props[name] = proxy.get_cached_property(name)?.deepUnpack();
  return props;
}
