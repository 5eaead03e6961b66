// The one module that touches dbus-next. The rest of rovy sees plain values, a CallContext and
// RovyError; if dbus-next (unmaintained, see docs/recipes) has to be swapped or vendored, only
// this file changes.
//
// What dbus-next does not do and this file adds:
//  - interfaces built from the XML contract (configureMembers; its decorators do not work with
//    TypeScript), so no signature is written twice;
//  - the caller's bus name for method handlers (dbus-next does not hand them the message);
//  - error names of our own for every failure (dbus-next turns a plain exception into
//    com.github.dbus_next.ServiceError with a stack trace);
//  - org.freedesktop.DBus.ObjectManager, which dbus-next has no server side for;
//  - polkit checks;
//  - a plain client of other services (BusConnection: calls, properties, signals, name owners),
//    which the daemon uses to talk to NetworkManager without proxies built by introspection.
import * as dbus from 'dbus-next';
import { parseIntrospection, readContract, signatureOf, type InterfaceSpec } from './contract.js';

// dbus-next already maps t/x to native bigint; "compat" would switch to JSBI objects. Pin it.
dbus.setBigIntCompat(false);

const { Interface } = dbus.interface;
type DBusInterface = InstanceType<typeof Interface>;

export const BUS_NAME = 'net.rovy.Rovy1';
// The objects and interfaces of the contract, named once for the daemon and the CLI alike.
export const ROOT_PATH = '/net/rovy/Rovy1';
export const NODE_IFACE = 'net.rovy.Rovy1';
export const PEER_IFACE = 'net.rovy.Rovy1.Peer';
export const NAMES_IFACE = 'net.rovy.Rovy1.Names';
export const DISCOVERY_IFACE = 'net.rovy.Rovy1.Discovery';
export const NEIGHBOR_IFACE = 'net.rovy.Rovy1.Neighbor';
export const PORTS_IFACE = 'net.rovy.Rovy1.Ports';
export const EXIT_IFACE = 'net.rovy.Rovy1.Exit';
const ERROR_PREFIX = 'net.rovy.Rovy1.Error.';
const DEFAULT_SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';
const POLKIT = 'org.freedesktop.PolicyKit1';
// Longer than a user needs to type a password into a polkit agent, shorter than forever.
const POLKIT_TIMEOUT_MS = 25_000;
const CLIENT_TIMEOUT_MS = 30_000;

export interface CallContext {
  sender: string;
}

export interface InterfaceImpl {
  properties: Record<string, () => unknown>;
  methods?: Record<string, (ctx: CallContext, ...args: any[]) => unknown | Promise<unknown>>;
}

export type RovyErrorName =
  | 'InvalidAddress'
  | 'InvalidArgument'
  | 'NoSuchPeer'
  | 'PeerExists'
  | 'NotALink'
  | 'NoSuchNeighbor'
  | 'InvalidName'
  | 'InvalidPeerId'
  | 'NameTaken'
  | 'NoSuchName'
  | 'NotAuthorized'
  | 'Failed';

/** Thrown by a handler: the caller gets net.rovy.Rovy1.Error.<errorName> with this message. */
export class RovyError extends Error {
  constructor(
    readonly errorName: RovyErrorName,
    message: string,
  ) {
    super(message);
    this.name = 'RovyError';
  }
}

/** There is no bus to connect to: the daemon runs on without its API. */
export class BusUnavailable extends Error {
  override name = 'BusUnavailable';
  constructor(
    message: string,
    /** no-bus: nothing to connect to; policy: a bus that does not let us own our name. */
    readonly reason: 'no-bus' | 'policy' = 'no-bus',
  ) {
    super(message);
  }
}

/** The client's call reached the bus, but nobody owns net.rovy.Rovy1 (and it could not be started). */
export class NotRunning extends Error {
  override name = 'NotRunning';
}

/** A D-Bus error reply, e.g. dbusName "net.rovy.Rovy1.Error.InvalidAddress". */
export class BusCallError extends Error {
  override name = 'BusCallError';
  constructor(
    readonly dbusName: string,
    message: string,
  ) {
    super(message);
  }
}

/** A typed value for a variant argument (a{sv} options), for callers that never import dbus-next. */
export function variant(signature: string, value: unknown): unknown {
  return new dbus.Variant(signature, value);
}

/** What one variant of a raw reply holds, its own typed parts left as they are. */
export function variantContent(v: unknown): unknown {
  return v instanceof dbus.Variant ? v.value : v;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The longest error text a caller gets: messages quote input short (util/quote.ts), and this
 *  bounds any that does not. */
const MAX_ERROR_TEXT = 1024;

function boundedText(text: string): string {
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT - 40)}... (cut from ${text.length} characters)` : text;
}

function toDBusError(e: unknown): dbus.DBusError {
  if (e instanceof dbus.DBusError) return new dbus.DBusError(e.type, boundedText(e.text));
  if (e instanceof RovyError) return new dbus.DBusError(ERROR_PREFIX + e.errorName, boundedText(e.message));
  return new dbus.DBusError(ERROR_PREFIX + 'Failed', boundedText(errorText(e)));
}

/** Variants → their values, all the way down, so handlers and CLI see plain JS. */
export function plain(v: unknown): unknown {
  if (v instanceof dbus.Variant) return plain(v.value);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function callBusDriver(bus: dbus.MessageBus, member: string, signature: string, body: unknown[]): Promise<dbus.Message | null> {
  return bus.call(
    new dbus.Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member, signature, body }),
  );
}

async function openBus(address: string | undefined): Promise<dbus.MessageBus> {
  const wanted = address ?? process.env.DBUS_SYSTEM_BUS_ADDRESS ?? DEFAULT_SYSTEM_BUS;
  // dbus-next reaches abstract sockets only through the optional native usocket, which does not
  // build on Node 20; given one it throws from a require(). Path sockets (and tcp) are plain net.
  const usable = wanted.split(';').find((a) => /^unix:(.*,)?path=/.test(a) || a.startsWith('tcp:'));
  if (!usable) throw new BusUnavailable(`unsupported bus address "${wanted}" (only unix:path= sockets are supported)`);
  let bus: dbus.MessageBus;
  try {
    bus = dbus.sessionBus({ busAddress: usable }); // "session" only means: this address, not the env's
  } catch (e) {
    throw new BusUnavailable(`${usable}: ${errorText(e)}`);
  }
  // A connection that fails later still emits 'error'; with no listener EventEmitter would throw
  // it into the event loop and end the daemon.
  bus.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('no answer from the bus within 5 s')), 5000);
    const fail = (err: unknown): void => {
      clearTimeout(timer);
      bus.removeListener('connect', ok);
      try {
        bus.disconnect();
      } catch {
        /* already gone */
      }
      reject(new BusUnavailable(`${usable}: ${errorText(err)}`));
    };
    const ok = (): void => {
      clearTimeout(timer);
      bus.removeListener('error', fail);
      resolve();
    };
    bus.once('connect', ok);
    bus.once('error', fail);
  });
  return bus;
}

// org.freedesktop.DBus.ObjectManager as introspection XML, so it is built like our own interfaces.
const OBJECT_MANAGER = 'org.freedesktop.DBus.ObjectManager';
const OBJECT_MANAGER_XML = `<node><interface name="${OBJECT_MANAGER}">
  <method name="GetManagedObjects"><arg name="objects" type="a{oa{sa{sv}}}" direction="out"/></method>
  <signal name="InterfacesAdded"><arg name="object" type="o"/><arg name="interfaces" type="a{sa{sv}}"/></signal>
  <signal name="InterfacesRemoved"><arg name="object" type="o"/><arg name="interfaces" type="as"/></signal>
</interface></node>`;

// dbus-next's own introspection element shapes (xml2js objects), as far as we touch them.
interface XmlArg {
  $: { name?: string; type: string; direction?: string };
}
interface XmlMember {
  $: { name: string };
  arg?: XmlArg[];
  annotation?: { $: { name: string; value: string } }[];
}
interface XmlInterface extends XmlMember {
  property?: XmlMember[];
  method?: XmlMember[];
  signal?: XmlMember[];
}

const annotationXml = (a: Record<string, string>): { $: { name: string; value: string } }[] =>
  Object.entries(a).map(([name, value]) => ({ $: { name, value } }));

/**
 * dbus-next introspects from its dispatch tables (so introspection shows what really answers),
 * but drops argument names and annotations; put those back from the contract.
 */
function enrichIntrospection(x: XmlInterface, spec: InterfaceSpec): XmlInterface {
  const name = (args: { name: string }[], el: XmlArg[] | undefined): void =>
    el?.forEach((a, i) => {
      if (args[i]?.name) a.$ = { name: args[i]!.name, ...a.$ };
    });
  for (const el of x.method ?? []) {
    const m = spec.methods.find((s) => s.name === el.$.name);
    if (!m) continue;
    name(m.args.filter((a) => a.direction === 'in'), el.arg?.filter((a) => a.$.direction === 'in'));
    name(m.args.filter((a) => a.direction === 'out'), el.arg?.filter((a) => a.$.direction === 'out'));
    el.annotation = [...(el.annotation ?? []), ...annotationXml(m.annotations)];
  }
  for (const el of x.signal ?? []) {
    const s = spec.signals.find((t) => t.name === el.$.name);
    if (s) {
      name(s.args, el.arg);
      el.annotation = annotationXml(s.annotations);
    }
  }
  for (const el of x.property ?? []) {
    const p = spec.properties.find((t) => t.name === el.$.name);
    if (p) el.annotation = annotationXml(p.annotations);
  }
  x.annotation = annotationXml(spec.annotations);
  return x;
}

interface Exported extends DBusInterface {
  readonly impl: InterfaceImpl;
}
type ExportedClass = new (impl: InterfaceImpl) => Exported;

export class BusService {
  private readonly classes = new Map<string, ExportedClass>();
  private readonly specs = new Map<string, InterfaceSpec>();
  private readonly objects = new Map<string, Map<string, Exported>>();
  private readonly manager: Exported;
  // Set by a method handler that dbus-next runs synchronously just before dispatching each call;
  // our method wrappers read it before their first await.
  private currentSender = '';
  private closed = false;
  private isLost = false;
  private nextCancellation = 0;

  private constructor(
    private readonly bus: dbus.MessageBus,
    contract: Map<string, InterfaceSpec>,
    private readonly rootPath: string,
    private readonly onError: (err: Error) => void,
  ) {
    const om = parseIntrospection(OBJECT_MANAGER_XML)[0]!;
    for (const spec of [...contract.values(), om]) {
      this.specs.set(spec.name, spec);
      this.classes.set(spec.name, this.buildClass(spec));
    }
    this.manager = new (this.classes.get(OBJECT_MANAGER)!)({
      properties: {},
      methods: { GetManagedObjects: () => this.managedObjects() },
    });
    // A reply or signal written after the socket closed throws from inside dbus-next's promise
    // chains, which would surface as an unhandled rejection and end the daemon; report it instead.
    const send = bus.send.bind(bus);
    bus.send = (msg: dbus.Message): void => {
      try {
        send(msg);
      } catch (e) {
        this.lost(e);
      }
    };
    bus.addMethodHandler((msg: dbus.Message) => this.beforeDispatch(msg));
    bus.on('error', (err: unknown) => this.lost(err));
    // dbus-next does not report the socket closing; without this the daemon would not notice
    // that its API is gone.
    (bus as unknown as { _connection: NodeJS.EventEmitter })._connection.on('end', () => this.lost(new Error('the bus closed the connection')));
  }

  static async connect(options: {
    xmlPath: string;
    busName: string;
    rootPath: string;
    address?: string;
    /** Connection trouble after connect (bus gone, a signal that could not be sent). Default: stderr. */
    onError?: (err: Error) => void;
    /** Exports the service's objects before the name is claimed, so no caller finds it empty. */
    exportObjects?: (service: BusService) => void;
  }): Promise<BusService> {
    const contract = readContract(options.xmlPath);
    const bus = await openBus(options.address);
    const onError = options.onError ?? ((err: Error) => process.stderr.write(`rovy: D-Bus: ${err.message}\n`));
    const service = new BusService(bus, contract, options.rootPath, onError);
    service.exportPath(options.rootPath);
    try {
      options.exportObjects?.(service);
    } catch (e) {
      service.close();
      throw e;
    }
    let reply: number;
    try {
      reply = await bus.requestName(options.busName, dbus.NameFlag.DO_NOT_QUEUE);
    } catch (e) {
      service.close();
      // A bus whose policy does not know us (run from a checkout, nothing installed) is as good
      // as no bus: the daemon runs on without its API and says why.
      if (e instanceof dbus.DBusError && e.type === 'org.freedesktop.DBus.Error.AccessDenied') {
        throw new BusUnavailable(`the bus policy does not let this daemon own ${options.busName}`, 'policy');
      }
      throw new Error(`cannot own the bus name ${options.busName}: ${errorText(e)}`);
    }
    if (reply !== dbus.RequestNameReply.PRIMARY_OWNER && reply !== dbus.RequestNameReply.ALREADY_OWNER) {
      service.close();
      throw new Error(`the bus name ${options.busName} is taken (is another rovy daemon running?)`);
    }
    return service;
  }

  /**
   * Exports `path` with the given interfaces of the contract (replacing what was there) and, for
   * paths other than the root, announces it with InterfacesAdded.
   */
  setObject(path: string, impls: Record<string, InterfaceImpl>): void {
    const ifaces = new Map<string, Exported>();
    for (const [name, impl] of Object.entries(impls)) {
      const spec = this.specs.get(name);
      if (!spec || name === OBJECT_MANAGER) throw new Error(`${name} is not an interface of the D-Bus contract`);
      const missing = [
        ...spec.properties.filter((p) => !impl.properties[p.name]).map((p) => `property ${p.name}`),
        ...spec.methods.filter((m) => !impl.methods?.[m.name]).map((m) => `method ${m.name}`),
      ];
      const extra = [
        ...Object.keys(impl.properties).filter((k) => !spec.properties.some((p) => p.name === k)),
        ...Object.keys(impl.methods ?? {}).filter((k) => !spec.methods.some((m) => m.name === k)),
      ];
      if (missing.length) throw new Error(`${name} on ${path}: not implemented: ${missing.join(', ')}`);
      if (extra.length) throw new Error(`${name} on ${path}: not in the contract: ${extra.join(', ')}`);
      ifaces.set(name, new (this.classes.get(name)!)(impl));
    }
    this.objects.set(path, ifaces);
    this.exportPath(path);
    if (path !== this.rootPath) {
      this.emit(() => this.signal('InterfacesAdded', path, this.interfacesOf(path)));
    }
  }

  /** Unexports `path` and announces it with InterfacesRemoved. Removing an unknown path does nothing. */
  removeObject(path: string): void {
    const ifaces = this.objects.get(path);
    if (!ifaces) return;
    this.objects.delete(path);
    this.exportPath(path);
    if (path !== this.rootPath) this.emit(() => this.signal('InterfacesRemoved', path, [...ifaces.keys()]));
  }

  /** Emits PropertiesChanged for `names` with their getters' current values. */
  propertiesChanged(path: string, iface: string, names: string[]): void {
    const exported = this.objects.get(path)?.get(iface);
    if (!exported) throw new Error(`propertiesChanged: ${iface} is not exported on ${path}`);
    this.emit(() => {
      const values = Object.fromEntries(names.map((n) => [n, this.read(exported, n)]));
      Interface.emitPropertiesChanged(exported, values, []);
    });
  }

  async callerUid(ctx: CallContext): Promise<number> {
    const reply = await callBusDriver(this.bus, 'GetConnectionUnixUser', 's', [ctx.sender]);
    return Number(reply!.body[0]);
  }

  /** Resolves if the caller may do `actionId`; throws RovyError('NotAuthorized') otherwise. */
  async authorize(ctx: CallContext, actionId: string): Promise<void> {
    if (!(await this.polkitAvailable())) {
      if ((await this.callerUid(ctx)) === 0) return;
      throw new RovyError('NotAuthorized', `polkit is not running, so only root may do this (${actionId})`);
    }
    const authority = { destination: POLKIT, path: '/org/freedesktop/PolicyKit1/Authority', interface: 'org.freedesktop.PolicyKit1.Authority' };
    // A cancellation id lets us close the agent's password dialog if we stop waiting for it.
    const cancellation = `rovy-${process.pid}-${this.nextCancellation++}`;
    const check = this.bus.call(
      new dbus.Message({
        ...authority,
        member: 'CheckAuthorization',
        signature: '(sa{sv})sa{ss}us',
        // subject, action, details, flags (1 = AllowUserInteraction: the desktop's agent may ask), cancellation id
        body: [['system-bus-name', { name: new dbus.Variant('s', ctx.sender) }], actionId, {}, 1, cancellation],
      }),
    );
    let result: [boolean, boolean, Record<string, string>];
    try {
      const reply = await withTimeout(check, POLKIT_TIMEOUT_MS, () => {
        this.bus.call(new dbus.Message({ ...authority, member: 'CancelCheckAuthorization', signature: 's', body: [cancellation] })).catch(() => {});
        return new Error(`no answer within ${POLKIT_TIMEOUT_MS / 1000} s`);
      });
      result = reply!.body[0] as [boolean, boolean, Record<string, string>];
    } catch (e) {
      throw new RovyError('NotAuthorized', `polkit could not authorize ${actionId}: ${e instanceof dbus.DBusError ? e.text : errorText(e)}`);
    }
    const [authorized, challenge] = result;
    if (!authorized) {
      throw new RovyError('NotAuthorized', challenge ? `${actionId} needs authentication, and no polkit agent gave it` : `not authorized for ${actionId}`);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.bus.disconnect();
    } catch {
      /* already gone */
    }
  }

  // --- inside ---

  private buildClass(spec: InterfaceSpec): ExportedClass {
    const service = this;
    class Impl extends Interface {
      constructor(readonly impl: InterfaceImpl) {
        super(spec.name);
      }
    }
    const proto = Impl.prototype as unknown as Record<string, unknown>;
    const properties: Record<string, { signature: string; access: 'read' }> = {};
    const methods: Record<string, { inSignature: string; outSignature: string }> = {};
    const signals: Record<string, { signature: string }> = {};
    for (const p of spec.properties) {
      // Changes go through methods, where polkit can be asked; Properties.Set could not be.
      if (p.access !== 'read') throw new Error(`${spec.name}.${p.name}: only read-only properties are supported`);
      Object.defineProperty(proto, p.name, {
        get(this: Exported) {
          return service.read(this, p.name);
        },
      });
      properties[p.name] = { signature: p.type, access: 'read' };
    }
    for (const m of spec.methods) {
      const returns = m.args.some((a) => a.direction === 'out');
      proto[m.name] = function (this: Exported, ...args: unknown[]): Promise<unknown> {
        const ctx: CallContext = { sender: service.currentSender };
        const handler = this.impl.methods?.[m.name];
        return (async () => {
          if (!handler) throw new RovyError('Failed', `${spec.name}.${m.name} is not implemented`);
          const result = await handler(ctx, ...args.map(plain));
          return returns ? result : undefined;
        })().catch((e: unknown) => {
          throw toDBusError(e);
        });
      };
      methods[m.name] = { inSignature: signatureOf(m, 'in'), outSignature: signatureOf(m, 'out') };
    }
    for (const s of spec.signals) {
      proto[s.name] = (...args: unknown[]): unknown => (s.args.length === 1 ? args[0] : args);
      signals[s.name] = { signature: s.args.map((a) => a.type).join('') };
    }
    const base = (Interface.prototype as unknown as { $introspect(): XmlInterface }).$introspect;
    proto.$introspect = function (this: Exported): XmlInterface {
      return enrichIntrospection(base.call(this), spec);
    };
    Impl.configureMembers({ properties, methods, signals });
    return Impl;
  }

  private read(exported: Exported, name: string): unknown {
    try {
      const value = exported.impl.properties[name]!();
      if (value === undefined) throw new Error(`property ${name} has no value`);
      return value;
    } catch (e) {
      throw toDBusError(e);
    }
  }

  /** Runs just before dbus-next dispatches a method call; returning true means "answered here". */
  private beforeDispatch(msg: dbus.Message): boolean {
    this.currentSender = msg.sender ?? '';
    // dbus-next answers a call with the wrong argument types as an unknown method; say what was wrong.
    const spec = this.objects.get(msg.path)?.has(msg.interface) ? this.specs.get(msg.interface) : undefined;
    const method = spec?.methods.find((m) => m.name === msg.member);
    if (method && (msg.signature ?? '') !== signatureOf(method, 'in')) {
      this.bus.send(
        dbus.Message.newError(
          msg as never,
          ERROR_PREFIX + 'InvalidArgument',
          `${msg.interface}.${msg.member} takes (${signatureOf(method, 'in')}), not (${msg.signature ?? ''})`,
        ),
      );
      return true;
    }
    return false;
  }

  /** Re-exports `path` from this.objects (dbus-next's unexport(path, iface) drops the whole path). */
  private exportPath(path: string): void {
    this.bus.unexport(path, undefined as never);
    if (path === this.rootPath) this.bus.export(path, this.manager);
    for (const iface of this.objects.get(path)?.values() ?? []) this.bus.export(path, iface);
  }

  private interfacesOf(path: string): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const [name, exported] of this.objects.get(path) ?? []) {
      out[name] = Object.fromEntries(this.specs.get(name)!.properties.map((p) => [p.name, new dbus.Variant(p.type, this.read(exported, p.name))]));
    }
    return out;
  }

  private managedObjects(): Record<string, Record<string, Record<string, unknown>>> {
    const prefix = this.rootPath === '/' ? '/' : this.rootPath + '/';
    const out: Record<string, Record<string, Record<string, unknown>>> = {};
    for (const path of this.objects.keys()) if (path.startsWith(prefix)) out[path] = this.interfacesOf(path);
    return out;
  }

  /** configureMembers turned each signal member into a function that emits it. */
  private signal(member: string, ...args: unknown[]): void {
    (this.manager as unknown as Record<string, (...a: unknown[]) => void>)[member]!(...args);
  }

  /** Signals are best effort: a getter that throws or a closed bus is reported, never thrown. */
  private emit(send: () => void): void {
    if (this.closed || this.isLost) return;
    try {
      send();
    } catch (e) {
      this.onError(new Error(`could not emit a signal: ${e instanceof dbus.DBusError ? e.text : errorText(e)}`));
    }
  }

  /** The connection is gone: said once, and from then on nothing more is sent on it. */
  private lost(err: unknown): void {
    if (this.closed || this.isLost) return;
    this.isLost = true;
    this.onError(new Error(`the D-Bus API is off from now on: ${err instanceof Error ? err.message : String(err)}`));
  }

  private async polkitAvailable(): Promise<boolean> {
    const owned = await callBusDriver(this.bus, 'NameHasOwner', 's', [POLKIT]);
    if (owned!.body[0] === true) return true;
    // On a systemd machine polkitd is started on demand by the first call to it.
    const activatable = await callBusDriver(this.bus, 'ListActivatableNames', '', []);
    return (activatable!.body[0] as string[]).includes(POLKIT);
  }
}

/** The CLI's side: calls net.rovy.Rovy1 and hands back plain values. */
export class BusClient {
  private constructor(private readonly connection: BusConnection) {}

  static async connect(address?: string): Promise<BusClient> {
    return new BusClient(await BusConnection.connect(() => {}, address));
  }

  async call(path: string, iface: string, member: string, signature: string, args: unknown[]): Promise<unknown> {
    try {
      // No auto-start: the CLI reports a daemon that is not running rather than have the bus start one.
      return await this.connection.call(BUS_NAME, path, iface, member, signature, args, { autoStart: false });
    } catch (e) {
      if (e instanceof BusCallError && /^org\.freedesktop\.(DBus\.Error\.(ServiceUnknown|NameHasNoOwner|Spawn\.)|systemd1\.)/.test(e.dbusName)) {
        throw new NotRunning(`the rovy daemon is not running (${e.message})`);
      }
      throw e;
    }
  }

  async getAll(path: string, iface: string): Promise<Record<string, unknown>> {
    return (await this.call(path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [iface])) as Record<string, unknown>;
  }

  async managedObjects(rootPath: string): Promise<Record<string, Record<string, Record<string, unknown>>>> {
    return (await this.call(rootPath, OBJECT_MANAGER, 'GetManagedObjects', '', [])) as Record<string, Record<string, Record<string, unknown>>>;
  }

  close(): void {
    this.connection.close();
  }
}

const BUS_DRIVER = 'org.freedesktop.DBus';

/** Which signals a subscription wants; unset fields match anything. */
export interface SignalRule {
  /**
   * Who must have sent it: the bus itself, or a well-known name followed with watchName. Any
   * local user may emit signals on the system bus, so a signal that moves state must be checked
   * against the owner of the name it claims to come from.
   */
  sender: string;
  interface: string;
  member?: string;
  /** Only signals from objects at or below this path. */
  pathNamespace?: string;
  /** Only signals whose first argument is this string. */
  arg0?: string;
}

/**
 * A client connection to other services on the bus: method calls, properties and signals, with
 * plain values, or opaque typed values (`raw`) where a caller must send back what it got without
 * knowing every type (a NetworkManager profile it edits only in part).
 */
export class BusConnection {
  private closed = false;
  private readonly subscriptions = new Set<{ rule: SignalRule; handler: (path: string, args: unknown[]) => void }>();
  /** The unique names owning the well-known names watched, which their signals must come from. */
  private readonly owners = new Map<string, string>();

  private constructor(
    private readonly bus: dbus.MessageBus,
    onLost: (err: Error) => void,
  ) {
    bus.on('message', (msg: dbus.Message) => this.dispatch(msg));
    let lost = false;
    const lose = (err: unknown): void => {
      if (this.closed || lost) return;
      lost = true;
      onLost(err instanceof Error ? err : new Error(String(err)));
    };
    bus.on('error', lose);
    (bus as unknown as { _connection: NodeJS.EventEmitter })._connection.on('end', () => lose(new Error('the bus closed the connection')));
  }

  /** `onLost` hears once that the connection is gone (the bus stopped). */
  static async connect(onLost: (err: Error) => void, address?: string): Promise<BusConnection> {
    return new BusConnection(await openBus(address), onLost);
  }

  /**
   * Calls a method; the reply's values come back plain, or as they came with `raw`. An error
   * reply is a BusCallError. `autoStart: false` leaves a service that is not running unstarted.
   */
  async call(destination: string, path: string, iface: string, member: string, signature = '', args: unknown[] = [], options: { raw?: boolean; autoStart?: boolean } = {}): Promise<unknown> {
    const flags = options.autoStart === false ? dbus.MessageFlag.NO_AUTO_START : 0;
    const msg = new dbus.Message({ destination, path, interface: iface, member, signature, body: args, flags });
    let reply: dbus.Message | null;
    try {
      reply = await withTimeout(this.bus.call(msg), CLIENT_TIMEOUT_MS, () => new Error(`${member}: no answer from ${destination} within ${CLIENT_TIMEOUT_MS / 1000} s`));
    } catch (e) {
      if (e instanceof dbus.DBusError) throw new BusCallError(e.type, e.text);
      throw e;
    }
    const body = reply?.body ?? [];
    const value = (v: unknown): unknown => (options.raw ? v : plain(v));
    return body.length === 0 ? undefined : body.length === 1 ? value(body[0]) : body.map(value);
  }

  getProperty(destination: string, path: string, iface: string, name: string): Promise<unknown> {
    return this.call(destination, path, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [iface, name]);
  }

  async setProperty(destination: string, path: string, iface: string, name: string, signature: string, value: unknown): Promise<void> {
    await this.call(destination, path, 'org.freedesktop.DBus.Properties', 'Set', 'ssv', [iface, name, new dbus.Variant(signature, value)]);
  }

  /** Calls `handler` with the path and plain arguments of every matching signal, for the connection's life. */
  async subscribe(rule: SignalRule, handler: (path: string, args: unknown[]) => void): Promise<void> {
    await callBusDriver(this.bus, 'AddMatch', 's', [matchRule(rule)]);
    this.subscriptions.add({ rule, handler });
  }

  /**
   * Follows who owns `name`: `handler` hears the new owner (null when it is gone); resolves with
   * the owner now. Signals subscribed with this name as sender are taken from that owner only.
   */
  async watchName(name: string, handler: (owner: string | null) => void): Promise<string | null> {
    const follow = (owner: string | null): void => {
      if (owner) this.owners.set(name, owner);
      else this.owners.delete(name);
    };
    await this.subscribe({ sender: BUS_DRIVER, interface: BUS_DRIVER, member: 'NameOwnerChanged', arg0: name }, (path, args) => {
      if (path !== '/org/freedesktop/DBus') return;
      const owner = (args[2] as string) || null;
      follow(owner);
      handler(owner);
    });
    let owner: string | null;
    try {
      const reply = await callBusDriver(this.bus, 'GetNameOwner', 's', [name]);
      owner = (reply?.body[0] as string) || null;
    } catch (e) {
      if (!(e instanceof dbus.DBusError && e.type === 'org.freedesktop.DBus.Error.NameHasNoOwner')) throw e;
      owner = null;
    }
    follow(owner);
    return owner;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subscriptions.clear();
    try {
      this.bus.disconnect();
    } catch {
      /* already gone */
    }
  }

  private dispatch(msg: dbus.Message): void {
    if (msg.type !== dbus.MessageType.SIGNAL || !msg.path) return;
    for (const { rule, handler } of this.subscriptions) {
      const sender = rule.sender === BUS_DRIVER ? BUS_DRIVER : this.owners.get(rule.sender);
      if (!sender || msg.sender !== sender) continue;
      if (msg.interface !== rule.interface || (rule.member && msg.member !== rule.member)) continue;
      if (rule.arg0 !== undefined && msg.body?.[0] !== rule.arg0) continue;
      if (rule.pathNamespace && msg.path !== rule.pathNamespace && !msg.path.startsWith(rule.pathNamespace + '/')) continue;
      try {
        handler(msg.path, (msg.body ?? []).map(plain));
      } catch {
        // a handler's failure is its own; the others still hear the signal
      }
    }
  }
}

function matchRule(rule: SignalRule): string {
  const parts = ["type='signal'", `sender='${rule.sender}'`, `interface='${rule.interface}'`];
  if (rule.member) parts.push(`member='${rule.member}'`);
  if (rule.pathNamespace) parts.push(`path_namespace='${rule.pathNamespace}'`);
  if (rule.arg0 !== undefined) parts.push(`arg0='${rule.arg0}'`);
  return parts.join(',');
}
