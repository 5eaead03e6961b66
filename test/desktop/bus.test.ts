// The D-Bus layer against a real dbus-daemon (private, system-type, with the repo's bus policy)
// and real clients (busctl, gdbus): the exported interfaces match dbus/net.rovy.Rovy1.xml member
// for member, properties and ObjectManager signals arrive, errors carry our names, the bus
// policy lets an unprivileged user read, and changes are authorized by polkit (or, without
// polkit, by being root). The service here exports fake implementations; the daemon's wiring
// is tested elsewhere.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { BusClient, BusService, BusUnavailable, NotRunning, RovyError, variant, type CallContext, type InterfaceImpl } from '../../service/dbus/bus.js';
import { parseIntrospection, readContract, type InterfaceSpec } from '../../service/dbus/contract.js';
import { ROOT } from '../repo-root.js';
import { until } from '../wait.js';
import { isRoot, run, startMonitor, startPolkitd, startSystemBus, type PrivateBus } from './buses.js';

const NAME = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';
const IFACE = 'net.rovy.Rovy1';
const PEER_IFACE = 'net.rovy.Rovy1.Peer';
const XML = join(ROOT, 'dbus', 'net.rovy.Rovy1.xml');
const PEER_ID = 'bafzaajaiaejcb5ihn4dsdxoguwkvfkmaxyfbnw3fm4qyczfw4ppujqsxuwfeuqj'.slice(0, 59);
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];

// The standard interfaces every object has; the contract is about the rest.
const STANDARD = new Set(['org.freedesktop.DBus.Introspectable', 'org.freedesktop.DBus.Peer', 'org.freedesktop.DBus.Properties']);

/** A stand-in for the daemon: state in memory, the same authorization calls the daemon makes. */
function fakeDaemon(service: BusService) {
  const state = { enabled: false, describeFails: false, next: 1 };
  const peers = new Map<string, { peerId: string; multiaddr: string }>();
  const blocked = new Set<string>();
  const authorized = async (ctx: CallContext, action: string): Promise<void> => service.authorize(ctx, action);
  const root: InterfaceImpl = {
    properties: {
      PeerId: () => PEER_ID,
      Address: () => 'fc12:3456:789a::1',
      Listen: () => ['/ip6/::/udp/7777'],
      InterfaceName: () => 'rovy0',
      Enabled: () => state.enabled,
      State: () => (state.enabled ? (peers.size ? 'online' : 'offline') : 'disabled'),
      Version: () => '0.1.0-test',
      Blocked: () => [...blocked].sort(),
    },
    methods: {
      async SetEnabled(ctx: CallContext, on: boolean) {
        await authorized(ctx, 'net.rovy.toggle');
        state.enabled = on;
        service.propertiesChanged(ROOT_PATH, IFACE, ['Enabled', 'State']);
      },
      async Connect(ctx: CallContext, multiaddr: string, options: Record<string, unknown>) {
        await authorized(ctx, 'net.rovy.manage-peers');
        const m = /\/rovy\/([a-z2-7]{59})$/.exec(multiaddr);
        if (!m) throw new RovyError('InvalidAddress', `${multiaddr} does not end in /rovy/<peer ID>`);
        const unknown = Object.keys(options);
        if (unknown.length) throw new RovyError('InvalidArgument', `unknown option ${unknown[0]}`);
        const path = `${ROOT_PATH}/peer/${state.next++}`;
        peers.set(path, { peerId: m[1]!, multiaddr });
        service.setObject(path, { [PEER_IFACE]: peerImpl(m[1]!) });
        return path;
      },
      async Disconnect(ctx: CallContext, peer: string) {
        await authorized(ctx, 'net.rovy.manage-peers');
        if (!peers.delete(peer)) throw new RovyError('NoSuchPeer', `${peer} is not a peer`);
        service.removeObject(peer);
      },
      async Block(ctx: CallContext, peerId: string) {
        await authorized(ctx, 'net.rovy.manage-peers');
        blocked.add(peerId);
      },
      async Unblock(ctx: CallContext, peerId: string) {
        await authorized(ctx, 'net.rovy.manage-peers');
        blocked.delete(peerId);
      },
      Describe() {
        if (state.describeFails) throw new TypeError('something broke inside');
        return JSON.stringify({ enabled: state.enabled, peers: [...peers.values()] });
      },
    },
  };
  return { state, peers, root };
}

function peerImpl(peerId: string, overrides: Partial<Record<string, () => unknown>> = {}): InterfaceImpl {
  return {
    properties: {
      PeerId: () => peerId,
      Petname: () => 'alice',
      Address: () => 'fc98:7654::2',
      Endpoint: () => '[::1]:7777',
      State: () => 'connected',
      LastHandshake: () => 1_700_000_000_123_456n,
      RttMicroseconds: () => 1234,
      Origin: () => 'runtime',
      HopCount: () => 1,
      Route: () => [peerId],
      RouteMtu: () => 1420,
      RouteSource: () => 'link',
      RouteTree: () => -1,
      RouteFound: () => 0n,
      RxBytes: () => 2n ** 40n,
      TxBytes: () => 0n,
      ...(overrides as Record<string, () => unknown>),
    },
  };
}

describe('D-Bus API on a private system bus', { skip: isRoot ? false : 'needs root: a private system bus, setpriv and polkitd' }, () => {
  let bus: PrivateBus;
  let service: BusService;
  let client: BusClient;
  let fake: ReturnType<typeof fakeDaemon>;
  const busErrors: string[] = [];
  const contract = readContract(XML);
  const busctl = (...args: string[]) => run('busctl', [`--address=${bus.address}`, ...args]);
  const asNobody = (cmd: string, ...args: string[]) => run(NOBODY[0]!, [...NOBODY.slice(1), cmd, ...args], bus.env);
  const gdbusCall = (prefix: string[], method: string, ...args: string[]) =>
    run(prefix[0] ?? 'gdbus', [...prefix.slice(1), ...(prefix.length ? ['gdbus'] : []), 'call', '--system', '-d', NAME, '-o', ROOT_PATH, '-m', `${IFACE}.${method}`, ...args], bus.env);
  const introspect = async (path: string): Promise<Map<string, InterfaceSpec>> => {
    const r = await busctl('introspect', '--xml-interface', NAME, path);
    assert.equal(r.code, 0, r.stderr);
    return new Map(parseIntrospection(r.stdout).map((i) => [i.name, i]));
  };

  before(async () => {
    bus = await startSystemBus();
    service = await BusService.connect({ xmlPath: XML, busName: NAME, rootPath: ROOT_PATH, address: bus.address, onError: (e) => busErrors.push(e.message) });
    fake = fakeDaemon(service);
    service.setObject(ROOT_PATH, { [IFACE]: fake.root });
    client = await BusClient.connect(bus.address);
  });

  after(async () => {
    client?.close();
    service?.close();
    await bus?.stop();
  });

  test('the root object has exactly the contract: members, types, arg names, annotations', async () => {
    const found = await introspect(ROOT_PATH);
    assert.deepEqual(found.get(IFACE), contract.get(IFACE));
    assert.deepEqual(
      [...found.keys()].filter((n) => !STANDARD.has(n)).sort(),
      ['net.rovy.Rovy1', 'org.freedesktop.DBus.ObjectManager'],
    );
    const om = found.get('org.freedesktop.DBus.ObjectManager')!;
    assert.deepEqual(om.methods.map((m) => [m.name, m.args.map((a) => `${a.direction}:${a.type}`)]), [['GetManagedObjects', ['out:a{oa{sa{sv}}}']]]);
    assert.deepEqual(om.signals.map((s) => [s.name, s.args.map((a) => a.type).join('')]), [['InterfacesAdded', 'oa{sa{sv}}'], ['InterfacesRemoved', 'oas']]);
  });

  test('a peer object has exactly the contract', async () => {
    const path = (await client.call(ROOT_PATH, IFACE, 'Connect', 'sa{sv}', [`/ip6/::1/udp/7777/rovy/${PEER_ID}`, {}])) as string;
    const found = await introspect(path);
    assert.deepEqual(found.get(PEER_IFACE), contract.get(PEER_IFACE));
    assert.deepEqual([...found.keys()].filter((n) => !STANDARD.has(n)), [PEER_IFACE]);
    await client.call(ROOT_PATH, IFACE, 'Disconnect', 'o', [path]);
  });

  test('properties: busctl get-property, GetAll with plain values (t as bigint)', async () => {
    assert.equal((await busctl('get-property', NAME, ROOT_PATH, IFACE, 'Enabled')).stdout.trim(), 'b false');
    assert.equal((await busctl('get-property', NAME, ROOT_PATH, IFACE, 'Listen')).stdout.trim(), 'as 1 "/ip6/::/udp/7777"');
    const all = await client.getAll(ROOT_PATH, IFACE);
    assert.deepEqual(all, {
      PeerId: PEER_ID,
      Address: 'fc12:3456:789a::1',
      Listen: ['/ip6/::/udp/7777'],
      InterfaceName: 'rovy0',
      Enabled: false,
      State: 'disabled',
      Version: '0.1.0-test',
      Blocked: [],
    });
    service.setObject(`${ROOT_PATH}/peer/99`, { [PEER_IFACE]: peerImpl(PEER_ID) });
    assert.equal((await busctl('get-property', NAME, `${ROOT_PATH}/peer/99`, PEER_IFACE, 'LastHandshake')).stdout.trim(), 't 1700000000123456');
    const peer = await client.getAll(`${ROOT_PATH}/peer/99`, PEER_IFACE);
    assert.equal(peer.LastHandshake, 1_700_000_000_123_456n);
    assert.equal(peer.RxBytes, 2n ** 40n);
    assert.equal(peer.RttMicroseconds, 1234);
    assert.deepEqual(peer.Route, [PEER_ID]);
    assert.equal((await busctl('get-property', NAME, `${ROOT_PATH}/peer/99`, PEER_IFACE, 'Route')).stdout.trim(), `as 1 "${PEER_ID}"`);
    assert.equal((await busctl('get-property', NAME, `${ROOT_PATH}/peer/99`, PEER_IFACE, 'HopCount')).stdout.trim(), 'u 1');
    service.removeObject(`${ROOT_PATH}/peer/99`);
  });

  test('PropertiesChanged, InterfacesAdded and InterfacesRemoved reach busctl monitor; GetManagedObjects lists peers', async () => {
    const mon = await startMonitor(bus);
    try {
      assert.equal((await busctl('call', NAME, ROOT_PATH, IFACE, 'SetEnabled', 'b', 'true')).code, 0);
      const added = await busctl('call', NAME, ROOT_PATH, IFACE, 'Connect', 'sa{sv}', `/ip4/127.0.0.1/udp/7777/rovy/${PEER_ID}`, '0');
      assert.equal(added.code, 0, added.stderr);
      const path = /^o "(.*)"$/.exec(added.stdout.trim())![1]!;

      const objects = await client.managedObjects(ROOT_PATH);
      assert.deepEqual(Object.keys(objects), [path]);
      assert.equal(objects[path]![PEER_IFACE]!.PeerId, PEER_ID);
      assert.equal(objects[path]![PEER_IFACE]!.LastHandshake, 1_700_000_000_123_456n);

      assert.equal((await busctl('call', NAME, ROOT_PATH, IFACE, 'Disconnect', 'o', path)).code, 0);
      assert.deepEqual(await client.managedObjects(ROOT_PATH), {});
      // the reply to Disconnect went out after the signal, so the monitor has it by now
      await busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId');

      const signals = mon.messages().filter((m) => m.type === 'signal' && m.path?.startsWith(ROOT_PATH));
      const changed = signals.find((m) => m.member === 'PropertiesChanged' && m.path === ROOT_PATH);
      assert.ok(changed, JSON.stringify(signals));
      assert.equal(changed.interface, 'org.freedesktop.DBus.Properties');
      assert.deepEqual(changed.payload!.data[0], IFACE);
      assert.deepEqual(changed.payload!.data[1], { Enabled: { type: 'b', data: true }, State: { type: 's', data: 'offline' } });

      const add = signals.find((m) => m.member === 'InterfacesAdded');
      assert.ok(add, JSON.stringify(signals));
      assert.equal(add.interface, 'org.freedesktop.DBus.ObjectManager');
      assert.equal(add.path, ROOT_PATH);
      assert.equal(add.payload!.data[0], path);
      assert.deepEqual(Object.keys(add.payload!.data[1] as object), [PEER_IFACE]);

      const removed = signals.find((m) => m.member === 'InterfacesRemoved');
      assert.ok(removed, JSON.stringify(signals));
      assert.deepEqual(removed.payload!.data, [path, [PEER_IFACE]]);
    } finally {
      await mon.stop();
    }
  });

  test('errors: our names for handler errors, InvalidArgument for wrong types, and the service keeps serving', async () => {
    await assert.rejects(client.call(ROOT_PATH, IFACE, 'Connect', 'sa{sv}', ['/ip6/::1/udp/7777', {}]), {
      dbusName: 'net.rovy.Rovy1.Error.InvalidAddress',
      message: '/ip6/::1/udp/7777 does not end in /rovy/<peer ID>',
    });
    const g = await gdbusCall([], 'Connect', '/ip6/::1/udp/1', '{}');
    assert.match(g.stderr, /GDBus\.Error:net\.rovy\.Rovy1\.Error\.InvalidAddress: \/ip6\/::1\/udp\/1 does not end/);
    await assert.rejects(client.call(ROOT_PATH, IFACE, 'Disconnect', 'o', [`${ROOT_PATH}/peer/12345`]), { dbusName: 'net.rovy.Rovy1.Error.NoSuchPeer' });

    // a{sv} options arrive as plain values: the handler names the unknown option
    await assert.rejects(client.call(ROOT_PATH, IFACE, 'Connect', 'sa{sv}', [`/ip6/::1/udp/1/rovy/${PEER_ID}`, { mtu: variant('u', 1280) }]), {
      dbusName: 'net.rovy.Rovy1.Error.InvalidArgument',
      message: 'unknown option mtu',
    });

    // SetEnabled with a string: busctl fails, our client sees InvalidArgument
    const wrong = await busctl('call', NAME, ROOT_PATH, IFACE, 'SetEnabled', 's', 'yes');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /takes \(b\), not \(s\)/);
    await assert.rejects(client.call(ROOT_PATH, IFACE, 'SetEnabled', 's', ['yes']), { dbusName: 'net.rovy.Rovy1.Error.InvalidArgument' });

    // any other exception is Failed with its message
    fake.state.describeFails = true;
    await assert.rejects(client.call(ROOT_PATH, IFACE, 'Describe', '', []), { dbusName: 'net.rovy.Rovy1.Error.Failed', message: 'something broke inside' });
    fake.state.describeFails = false;
    // ... also from a property getter
    service.setObject(`${ROOT_PATH}/peer/98`, { [PEER_IFACE]: peerImpl(PEER_ID, { Endpoint: () => { throw new Error('endpoint unknown'); } }) });
    await assert.rejects(client.call(`${ROOT_PATH}/peer/98`, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [PEER_IFACE, 'Endpoint']), {
      dbusName: 'net.rovy.Rovy1.Error.Failed',
      message: 'endpoint unknown',
    });
    service.removeObject(`${ROOT_PATH}/peer/98`);
    // ... and InterfacesAdded could not be built for it: reported, not thrown
    assert.deepEqual(busErrors.splice(0), ['could not emit a signal: endpoint unknown']);
    // an unknown method is still the bus's UnknownMethod
    await assert.rejects(client.call(ROOT_PATH, IFACE, 'Reboot', '', []), { dbusName: 'org.freedesktop.DBus.Error.UnknownMethod' });

    assert.equal((await busctl('get-property', NAME, ROOT_PATH, IFACE, 'Version')).stdout.trim(), 's "0.1.0-test"');
    assert.equal(JSON.parse((await client.call(ROOT_PATH, IFACE, 'Describe', '', [])) as string).enabled, true);
  });

  test('the bus name cannot be taken twice; connection trouble is BusUnavailable', async () => {
    await assert.rejects(BusService.connect({ xmlPath: XML, busName: NAME, rootPath: ROOT_PATH, address: bus.address }), /is taken/);
    await assert.rejects(BusClient.connect('unix:path=/nonexistent/rovy-test-socket'), BusUnavailable);
    await assert.rejects(BusClient.connect('unix:abstract=/rovy/test'), BusUnavailable);
    const previous = process.env.DBUS_SYSTEM_BUS_ADDRESS;
    process.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/rovy-test-socket';
    try {
      await assert.rejects(BusService.connect({ xmlPath: XML, busName: NAME, rootPath: ROOT_PATH }), (e: unknown) => {
        assert.ok(e instanceof BusUnavailable);
        assert.match(e.message, /ENOENT/);
        return true;
      });
    } finally {
      if (previous === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
      else process.env.DBUS_SYSTEM_BUS_ADDRESS = previous;
    }
  });

  test('as nobody: reads are allowed, Properties.Set is not, changes need root without polkit', async () => {
    const get = await asNobody('busctl', '--system', 'get-property', NAME, ROOT_PATH, IFACE, 'Enabled');
    assert.equal(get.stdout.trim(), 'b true', get.stderr);
    const intro = await asNobody('busctl', '--system', 'introspect', NAME, ROOT_PATH);
    assert.equal(intro.code, 0, intro.stderr);
    assert.match(intro.stdout, /\.SetEnabled\s+method\s+b\s+-/);
    assert.equal((await asNobody('busctl', '--system', 'call', NAME, ROOT_PATH, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects')).stdout.trim(), 'a{oa{sa{sv}}} 0');
    const describe = await asNobody('busctl', '--system', 'call', NAME, ROOT_PATH, IFACE, 'Describe');
    assert.equal(describe.code, 0, describe.stderr);

    const set = await asNobody('busctl', '--system', 'set-property', NAME, ROOT_PATH, IFACE, 'Enabled', 'b', 'false');
    assert.notEqual(set.code, 0);
    assert.match(set.stderr, /Access denied/i);

    const toggle = await gdbusCall(NOBODY, 'SetEnabled', 'false');
    assert.notEqual(toggle.code, 0);
    assert.match(toggle.stderr, /GDBus\.Error:net\.rovy\.Rovy1\.Error\.NotAuthorized: polkit is not running, so only root may do this/);
    assert.equal(fake.state.enabled, true);
    // root may, without polkit
    assert.equal((await busctl('call', NAME, ROOT_PATH, IFACE, 'SetEnabled', 'b', 'false')).code, 0);
    assert.equal(fake.state.enabled, false);
  });

  test('as nobody with polkitd: the test rule grants net.rovy.toggle, net.rovy.manage-peers stays auth_admin', async () => {
    const polkitd = await startPolkitd(bus);
    try {
      const toggle = await gdbusCall(NOBODY, 'SetEnabled', 'true');
      assert.equal(toggle.code, 0, `${toggle.stderr}\n${polkitd.log()}`);
      assert.equal(fake.state.enabled, true);
      const connect = await gdbusCall(NOBODY, 'Connect', `/ip6/::1/udp/1/rovy/${PEER_ID}`, '{}');
      assert.notEqual(connect.code, 0);
      assert.match(connect.stderr, /GDBus\.Error:net\.rovy\.Rovy1\.Error\.NotAuthorized: net\.rovy\.manage-peers needs authentication/);
      // root is authorized by polkit itself
      assert.equal((await busctl('call', NAME, ROOT_PATH, IFACE, 'SetEnabled', 'b', 'false')).code, 0);
      assert.equal(fake.state.enabled, false);
    } finally {
      await polkitd.stop();
    }
  });

  test('a client whose daemon is gone gets NotRunning', async () => {
    service.close();
    await until('the name released', async () => {
      const owner = await busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameHasOwner', 's', NAME);
      return owner.stdout.trim() === 'b false';
    });
    await assert.rejects(client.call(ROOT_PATH, IFACE, 'Describe', '', []), NotRunning);
  });

  test('losing the bus is reported through onError and never throws', async () => {
    const other = await startSystemBus();
    const errors: string[] = [];
    const lonely = await BusService.connect({ xmlPath: XML, busName: NAME, rootPath: ROOT_PATH, address: other.address, onError: (e) => errors.push(e.message) });
    lonely.setObject(ROOT_PATH, { [IFACE]: fakeDaemon(lonely).root });
    await other.stop();
    await until('the loss reported', () => errors.length > 0);
    assert.match(errors[0]!, /closed the connection|ECONNRESET|EPIPE/);
    lonely.propertiesChanged(ROOT_PATH, IFACE, ['Enabled']);
    lonely.setObject(`${ROOT_PATH}/peer/1`, { [PEER_IFACE]: peerImpl(PEER_ID) });
    lonely.removeObject(`${ROOT_PATH}/peer/1`);
    lonely.close();
  });
});
