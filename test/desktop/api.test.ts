// The real daemon's D-Bus API on a private system-type bus whose policy is the repo's own, with
// real TUNs in network namespaces, checked with busctl, gdbus, the rovy CLI and, as an
// unprivileged caller, setpriv.
//
//   private system bus (socket in a temp dir) ── daemon A (ns A, no peers configured)
//   ns A  veth fd00:d5::1/64  <──────────>  veth fd00:d5::2/64  ns B: daemon B, no bus, peer A
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { Lab, ROVY_JS, nsExec, until } from '../net/netns.js';
import { isRoot, run, startMonitor, startPolkitd, startSystemBus, type PrivateBus } from './buses.js';
import { parseIntrospection, type InterfaceSpec } from '../../service/dbus/contract.js';
import { formatIPv4, meshIPv4Bytes, parseIPv6 } from '../../src/keys/address.js';

const DEST = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];

/** Members of an interface as comparable text: the contract's and the live service's must match. */
function members(spec: InterfaceSpec | undefined): string[] {
  if (!spec) return [];
  return [
    ...spec.methods.map((m) => `method ${m.name}(${m.args.map((a) => `${a.direction} ${a.type}`).join(', ')})`),
    ...spec.properties.map((p) => `property ${p.name} ${p.type} ${p.access}`),
    ...spec.signals.map((s) => `signal ${s.name}(${s.args.map((a) => a.type).join(', ')})`),
  ].sort();
}

/** The `$ command` / output pairs of docs/DBUS.md's console block. */
function docExamples(): { command: string; expected: string[] }[] {
  const doc = readFileSync(join(ROOT, 'docs', 'DBUS.md'), 'utf8');
  const block = /```console\n([\s\S]*?)```/.exec(doc)![1]!;
  const examples: { command: string; expected: string[] }[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('$ ')) examples.push({ command: line.slice(2), expected: [] });
    else if (line !== '') examples.at(-1)!.expected.push(line);
  }
  return examples;
}

function pattern(lines: string[]): RegExp {
  const escaped = lines.map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/…/g, '.*'));
  return new RegExp(`^${escaped.join('\\n')}$`, 's');
}

test('the daemon serves net.rovy.Rovy1 as documented', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  try {
    bus = await startSystemBus();
    const monitor = await startMonitor(bus);
    t.after(() => monitor.stop());
    const env = bus.env;
    const busctl = (...args: string[]) => run('busctl', ['--system', ...args], env);
    const rovy = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], env);
    const gdbusCall = (method: string, ...args: string[]) => run('gdbus', ['call', '--system', '--dest', DEST, '--object-path', ROOT_PATH, '--method', `${DEST}.${method}`, ...args], env);

    const nsA = lab.namespace('DA');
    const nsB = lab.namespace('DB');
    lab.link(nsA, 'fd00:d5::1', nsB, 'fd00:d5::2');
    const a = lab.initNode('a');
    const b = lab.initNode('b');
    const { config: configA } = a;
    const { config: configB } = b;
    lab.file('b/rovy.toml', ['key_file = "node.key"', '[[peer]]', `address = "/ip6/fd00:d5::1/udp/7777/rovy/${a.peerId}"`].join('\n'));
    const startA = () => lab.spawn(nsA, ['env', `DBUS_SYSTEM_BUS_ADDRESS=${bus!.address}`, process.execPath, ROVY_JS, 'daemon', '--config', configA]);
    let daemonA = startA();
    let daemonB = lab.spawn(nsB, ['env', 'DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus', process.execPath, ROVY_JS, 'daemon', '--config', configB]);
    await until('A on the bus', async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'State')).code === 0);
    // B says the API is off once it has tried the (absent) bus, which may be after "up".
    await until('B up, without its API', () => /up as fc/.test(daemonB.log) && /D-Bus API off/.test(daemonB.log));
    // The examples call `rovy` by name: this checkout's bin/rovy.
    const env2 = { ...env, PEER: `/ip6/fd00:d5::2/udp/7777/rovy/${b.peerId}`, PEER_ID: b.peerId, PATH: `${join(ROOT, 'bin')}:${env.PATH ?? '/usr/bin:/bin'}` };

    await t.test('without a bus the daemon runs and says once, in one line, that the API is off and how to get it', () => {
      assert.equal(daemonB.log.match(/D-Bus API off/g)?.length, 1, daemonB.log);
      assert.match(daemonB.log, /^rovy: D-Bus API off: .*; to use rovy status, .*start a system bus .*install rovy \(scripts\/install\.sh\).*$/m);
      assert.equal(daemonB.child.exitCode, null);
    });

    await t.test('the live introspection is exactly the contract', async () => {
      const contract = parseIntrospection(readFileSync(join(ROOT, 'dbus', 'net.rovy.Rovy1.xml'), 'utf8'));
      const live = parseIntrospection((await busctl('introspect', '--xml-interface', DEST, ROOT_PATH)).stdout);
      assert.deepEqual(members(live.find((i) => i.name === DEST)), members(contract.find((i) => i.name === DEST)));
      assert.ok(live.some((i) => i.name === 'org.freedesktop.DBus.ObjectManager'));
      // B beacons on the link from its start: A lists it as a node on its LAN once it hears one
      // (B is no peer of A's yet: the status is otherwise the same before and after).
      let props = { code: -1, stdout: '', stderr: '' };
      await until('A to count B on its LAN', async () => {
        props = await rovy('status', '--json');
        return props.code === 0 && (JSON.parse(props.stdout) as { lanNodes: number }).lanNodes === 1;
      }, 20_000).catch((e: Error) => assert.fail(`${e.message}; rovy status --json: ${props.stdout}${props.stderr}`));
      assert.equal(props.code, 0, props.stderr);
      const status = JSON.parse(props.stdout) as { lanNodes: number; counters: Record<string, number>; dataPath: Record<string, Record<string, number>>; links: { counters: Record<string, number> } };
      // B, which lists A, may have asked for a link already: refused, since A accepts only its peers.
      assert.deepEqual({ ...status.links.counters, notAllowed: 0 }, { accepted: 0, notAllowed: 0, blocked: 0, full: 0, rateLimited: 0, dropped: 0 });
      // The drop counters and the data path's work per call come along, as Describe() has them.
      assert.equal(status.counters.malformed, 0);
      assert.deepEqual(Object.keys(status.dataPath), ['send', 'receive', 'tun', 'udp', 'aead', 'timers']);
      assert.equal(typeof status.dataPath.tun!.packetsPerRead, 'number');
      assert.deepEqual(
        { ...status, listen: undefined, counters: undefined, dataPath: undefined },
        { peerId: a.peerId, address: a.address, listen: undefined, interfaceName: 'rovy0', enabled: true, state: 'offline', version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, blocked: [], peers: 0, connectedPeers: 0, routedPeers: 0, discovery: 'manual', lanNodes: 1, links: {
          accept: 'known',
          maxInbound: 256,
          inbound: 0,
          blocked: [],
          counters: status.links.counters,
          // No bootstrap nodes, no target: the node keeps no links of its own, and publishes nothing.
          keeper: { target: 0, kept: 0, candidates: 0, bootstrap: 0 },
          exchange: { publishing: [], contacts: 0, counters: { framesSent: 0, framesReceived: 0, framesMalformed: 0, framesLimited: 0 }, records: { stored: 0, invalid: 0, known: 0, full: 0 } },
        },
        // No [prefixes]: nothing announced, no claim heard.
        prefixes: { announced: [], claims: [], accepted: 0, refused: 0, conflicts: 0, exits: 0 },
        // Alone: the root of every tree, nothing in the map or the lookup table, the mesh taken
        // for itself alone, whose locator goes out again every 3 days.
        routing: { mapNodes: 0, contacts: 0, meshSize: 1, publishPeriodSeconds: 3 * 86_400, trees: [0, 1, 2, 3].map((tree) => ({ tree, root: a.peerId, depth: 0 })) },
        // No exit used, none offered, none heard of.
        exit: { state: 'off', using: null, killSwitch: false, meshIPv4: formatIPv4(meshIPv4Bytes(parseIPv6(a.address))), offering: { offer: false, clients: null, uplink: null, bound: 0 }, offers: [] },
        counters: undefined, dataPath: undefined },
      );
    });

    await t.test('the examples in docs/DBUS.md print what the document says', async () => {
      for (const { command, expected } of docExamples()) {
        const want = pattern(expected);
        let got = '';
        // Some examples describe a state that follows the previous one (a session coming up).
        await until(`"${command}" to print ${want}`, async () => {
          const r = await run('bash', ['-c', command], env2);
          got = (r.stdout + r.stderr).trim();
          return want.test(got);
        }, 5000).catch((e: Error) => assert.fail(`${e.message}; it printed: ${got}`));
      }
    });

    await t.test('InterfacesAdded and PropertiesChanged were signalled for the new peer', () => {
      const signals = monitor.messages().filter((m) => m.type === 'signal');
      assert.ok(signals.some((m) => m.member === 'InterfacesAdded' && String(m.payload?.data[0]).startsWith(`${ROOT_PATH}/peer/`)));
      assert.ok(signals.some((m) => m.member === 'PropertiesChanged' && m.path === ROOT_PATH && JSON.stringify(m.payload).includes('online')));
      assert.ok(signals.some((m) => m.member === 'PropertiesChanged' && m.path?.startsWith(`${ROOT_PATH}/peer/`) && JSON.stringify(m.payload).includes('"State":{"type":"s","data":"connected"}')));
    });

    await t.test('the peer object matches the contract and the CLI lists it', async () => {
      const peers = await rovy('peers', '--json');
      assert.equal(peers.code, 0, peers.stderr);
      type PeerJson = { path: string; peerId: string; address: string; state: string; endpoint: string; rttMicroseconds: number; origin: string; hopCount: number; route: string[]; routeMtu: number };
      const [peer] = JSON.parse(peers.stdout) as PeerJson[];
      assert.equal(peer!.peerId, b.peerId);
      assert.equal(peer!.address, b.address);
      assert.equal(peer!.state, 'connected');
      assert.equal(peer!.endpoint, '[fd00:d5::2]:7777');
      assert.ok(peer!.rttMicroseconds > 0);
      // A neighbour: one hop, its route is itself, as large as the TUN's MTU.
      assert.equal(peer!.origin, 'runtime');
      assert.equal(peer!.hopCount, 1);
      assert.deepEqual(peer!.route, [b.peerId]);
      assert.equal(peer!.routeMtu, 1420);
      const prop = async (name: string) => (await busctl('get-property', DEST, peer!.path, `${DEST}.Peer`, name)).stdout.trim();
      assert.equal(await prop('Origin'), 's "runtime"');
      assert.equal(await prop('HopCount'), 'u 1');
      assert.equal(await prop('Route'), `as 1 "${b.peerId}"`);
      assert.equal(await prop('RouteMtu'), 'u 1420');
      const text = await rovy('peers');
      assert.match(text.stdout, /connected, rtt [\d.]+ ms, neighbour \(runtime\)/);
      const routes = await rovy('routes', '--json');
      assert.equal(routes.code, 0, routes.stderr);
      assert.deepEqual(JSON.parse(routes.stdout), [
        { peerId: b.peerId, petname: 'bob', address: b.address, origin: 'runtime', state: 'connected', hops: 1, via: b.peerId, route: [b.peerId], routeMtu: 1420, source: 'link', tree: -1, foundAt: null, path: peer!.path },
      ]);
      const table = (await rovy('routes')).stdout.split('\n');
      assert.match(table[0]!, /^DESTINATION +ADDRESS +HOPS +VIA +MTU +FOUND BY +PATH$/);
      // The petname the examples gave B names it in the table.
      assert.match(table[1]!, new RegExp(`^bob +${b.address} +1 +direct +1420 +link +bob$`));
      const contract = parseIntrospection(readFileSync(join(ROOT, 'dbus', 'net.rovy.Rovy1.xml'), 'utf8'));
      const live = parseIntrospection((await busctl('introspect', '--xml-interface', DEST, peer!.path)).stdout);
      assert.deepEqual(members(live.find((i) => i.name === `${DEST}.Peer`)), members(contract.find((i) => i.name === `${DEST}.Peer`)));
      assert.equal(nsExec(nsA, 'ping', ['-6', '-c', '1', '-W', '2', b.address]).code, 0);
    });

    await t.test('bad input gets named errors and the daemon keeps serving', async () => {
      const cases: [string[], RegExp][] = [
        [['Connect', '/ip6/fd00::2/udp/7777', '{}'], /net\.rovy\.Rovy1\.Error\.InvalidAddress/],
        [['Connect', `/ip6/fd00::2/udp/7777/rovy/${b.peerId}`, "{'speed': <1>}"], /net\.rovy\.Rovy1\.Error\.InvalidArgument/],
        [['Connect', `/ip6/fd00::2/udp/7777/rovy/${b.peerId}`, '{}'], /net\.rovy\.Rovy1\.Error\.PeerExists/],
        [['Disconnect', `${ROOT_PATH}/peer/99`], /net\.rovy\.Rovy1\.Error\.NoSuchPeer/],
      ];
      for (const [args, error] of cases) {
        const r = await gdbusCall(args[0]!, ...args.slice(1));
        assert.notEqual(r.code, 0, `${args.join(' ')} succeeded`);
        assert.match(r.stderr, error);
        assert.equal((await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim(), 'b true', 'the daemon stopped serving');
      }
      // gdbus checks types itself; dbus-send sends the wrong type as it is.
      const wrongType = await run('dbus-send', ['--system', '--print-reply', `--dest=${DEST}`, ROOT_PATH, `${DEST}.SetEnabled`, 'string:yes'], env);
      assert.notEqual(wrongType.code, 0);
      assert.match(wrongType.stderr, /net\.rovy\.Rovy1\.Error\.InvalidArgument: .*takes \(b\), not \(s\)/);
      assert.equal((await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim(), 'b true');
      const cli = await rovy('connect', '/ip6/nonsense');
      assert.equal(cli.code, 1);
      assert.equal(cli.stderr.trim().split('\n').length, 1);

      // Names, discovery and neighbours: each refusal by its name, and nothing changed.
      const other = lab.initNode('x').peerId;
      const on = (iface: string, method: string, ...args: string[]) =>
        run('gdbus', ['call', '--system', '--dest', DEST, '--object-path', ROOT_PATH, '--method', `${DEST}.${iface}.${method}`, ...args], env);
      const namesBefore = (await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Names`, 'Names')).stdout;
      const refusals: [string, string[], string][] = [
        ['Names', ['Set', 'bob', other], 'NameTaken'],
        ['Names', ['Set', 'x_y', other], 'InvalidName'],
        ['Names', ['Set', b.peerId, other], 'InvalidName'],
        ['Names', ['Set', 'carol', 'bafzqainonsense'], 'InvalidPeerId'],
        ['Names', ['Remove', 'nobody'], 'NoSuchName'],
        ['Discovery', ['SetPolicy', 'sometimes'], 'InvalidArgument'],
      ];
      for (const [iface, [method, ...args], error] of refusals) {
        const r = await on(iface, method!, ...args);
        assert.match(r.stderr, new RegExp(`net\\.rovy\\.Rovy1\\.Error\\.${error}\\b`), `${iface}.${method} ${args.join(' ')}: ${r.stderr}`);
      }
      // Huge arguments (100 KB: a command line's argument holds at most 128 KB) get errors that
      // quote a short prefix, not the argument.
      const huge = 'x'.repeat(100_000);
      const bounded: [string, string[], string][] = [
        ['', ['Connect', huge, '{}'], 'InvalidAddress'],
        ['', ['Connect', `/ip6/fd00::2/udp/7777/rovy/${other}`, `{'${huge}': <1>}`], 'InvalidArgument'],
        ['', ['Disconnect', `/${huge}`], 'NoSuchPeer'],
        ['Names', ['Set', huge, other], 'InvalidName'],
        ['Names', ['Set', 'carol', huge], 'InvalidPeerId'],
        ['Names', ['Remove', huge], 'NoSuchName'],
        ['Discovery', ['SetPolicy', huge], 'InvalidArgument'],
      ];
      for (const [iface, [method, ...args], error] of bounded) {
        const r = iface ? await on(iface, method!, ...args) : await gdbusCall(method!, ...args);
        assert.match(r.stderr, new RegExp(`net\\.rovy\\.Rovy1\\.Error\\.${error}\\b`), `${iface}.${method}: ${r.stderr.slice(0, 300)}`);
        assert.ok(r.stderr.length < 600, `${iface}.${method} with a 100 KB argument: an error of ${r.stderr.length} bytes`);
      }
      assert.equal((await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Names`, 'Names')).stdout, namesBefore);
      assert.equal((await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Discovery`, 'Policy')).stdout.trim(), 's "manual"');
      const absent = await gdbusCall('Connect', other, '{}');
      assert.match(absent.stderr, /net\.rovy\.Rovy1\.Error\.NoSuchNeighbor/);
      // The neighbor object is what the contract says.
      const contract = parseIntrospection(readFileSync(join(ROOT, 'dbus', 'net.rovy.Rovy1.xml'), 'utf8'));
      // The examples switched the mesh off and on, which forgets the LAN: B is listed again only
      // once A hears its next beacon.
      type Managed = Record<string, Record<string, Record<string, { data: unknown }>>>;
      let objects = '';
      let neighbor: string | undefined;
      await until('A to list B as a LAN neighbour', async () => {
        const r = await busctl('--json=short', 'call', DEST, ROOT_PATH, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects');
        objects = r.stdout;
        if (r.code !== 0) return false;
        const [managed] = (JSON.parse(objects) as { data: [Managed] }).data;
        neighbor = Object.keys(managed).find((path) => managed[path]![`${DEST}.Neighbor`]?.PeerId?.data === b.peerId);
        return neighbor !== undefined;
      }, 20_000).catch(() => undefined);
      assert.ok(neighbor, `no neighbor object for B: ${objects}\n${daemonA.log}`);
      const live = parseIntrospection((await busctl('introspect', '--xml-interface', DEST, neighbor)).stdout);
      assert.deepEqual(members(live.find((i) => i.name === `${DEST}.Neighbor`)), members(contract.find((i) => i.name === `${DEST}.Neighbor`)));
    });

    await t.test('down: interface down, sessions closed, nothing sent; the choice survives a restart', async () => {
      assert.equal((await rovy('down')).code, 0);
      assert.doesNotMatch(nsExec(nsA, 'ip', ['link', 'show', 'rovy0']).out, /[<,]UP[,>]/);
      assert.equal((await rovy('status', '--json')).stdout.includes('"state":"disabled"'), true);
      // UDP datagrams in A's namespace (only rovy uses UDP there; neighbour discovery is not UDP).
      const udpOut = (pid: number) => Number(/Udp6OutDatagrams\s+(\d+)/.exec(readFileSync(`/proc/${pid}/net/snmp6`, 'utf8'))![1]);
      const outBefore = udpOut(daemonA.child.pid!);
      // A restarted B initiates a handshake at once: a switched-off A must not answer it.
      assert.equal(await daemonB.stop(), 0);
      daemonB = lab.spawn(nsB, ['env', 'DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus', process.execPath, ROVY_JS, 'daemon', '--config', configB]);
      await until('B to send its initiation', () => /up as fc/.test(daemonB.log) && udpOut(daemonB.child.pid!) > 0);
      nsExec(nsB, 'ping', ['-6', '-c', '2', '-i', '0.3', '-W', '1', a.address]);
      assert.equal(udpOut(daemonA.child.pid!), outBefore, 'a switched-off node sent datagrams');

      assert.equal(await daemonA.stop(), 0);
      daemonA = startA();
      await until('A back on the bus', async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).code === 0);
      assert.equal((await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim(), 'b false');
      assert.doesNotMatch(nsExec(nsA, 'ip', ['link', 'show', 'rovy0']).out, /[<,]UP[,>]/);
      assert.equal((await rovy('up')).code, 0);
      await until('traffic after up', () => nsExec(nsA, 'ping', ['-6', '-c', '1', '-W', '1', b.address]).code === 0, 8000);
      const peers = JSON.parse((await rovy('peers', '--json')).stdout) as { peerId: string }[];
      assert.deepEqual(peers.map((p) => p.peerId), [b.peerId], 'the connected peer was not kept across the restart');
    });

    await t.test('an unprivileged caller may read but not change, until polkit says yes', async () => {
      const read = await run(NOBODY[0]!, [...NOBODY.slice(1), 'busctl', '--system', 'get-property', DEST, ROOT_PATH, DEST, 'State'], env);
      assert.equal(read.code, 0, read.stderr);
      const denied = await run(NOBODY[0]!, [...NOBODY.slice(1), 'gdbus', 'call', '--system', '--dest', DEST, '--object-path', ROOT_PATH, '--method', `${DEST}.SetEnabled`, 'false'], env);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /net\.rovy\.Rovy1\.Error\.NotAuthorized/);
      const cli = await run(NOBODY[0]!, [...NOBODY.slice(1), process.execPath, ROVY_JS, 'down'], env);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /not allowed/);
      const polkitd = await startPolkitd(bus!);
      try {
        const allowed = await run(NOBODY[0]!, [...NOBODY.slice(1), process.execPath, ROVY_JS, 'down'], env);
        assert.equal(allowed.code, 0, allowed.stderr);
        assert.equal((await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim(), 'b false');
        const peersDenied = await run(NOBODY[0]!, [...NOBODY.slice(1), process.execPath, ROVY_JS, 'disconnect', b.peerId], env);
        assert.equal(peersDenied.code, 1, 'polkit granted an action the rule does not');
        assert.match(peersDenied.stderr, /not allowed/);
        const namesDenied = await run(NOBODY[0]!, [...NOBODY.slice(1), process.execPath, ROVY_JS, 'name', 'rm', 'bob'], env);
        assert.equal(namesDenied.code, 1, 'polkit granted net.rovy.manage-names');
        assert.match(namesDenied.stderr, /not allowed.*net\.rovy\.manage-names/);
        // Discovery is switched under net.rovy.toggle, which the rule grants.
        const discoveryOff = await run(NOBODY[0]!, [...NOBODY.slice(1), process.execPath, ROVY_JS, 'discovery', 'off'], env);
        assert.equal(discoveryOff.code, 0, discoveryOff.stderr);
        assert.equal((await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Discovery`, 'Policy')).stdout.trim(), 's "off"');
        assert.equal((await rovy('discovery', 'manual')).code, 0);
      } finally {
        await polkitd.stop();
      }
      assert.equal((await rovy('up')).code, 0);
    });

    await t.test('every method that changes something asks polkit for its own action', async () => {
      // Each method as the unprivileged user: without polkit, then with polkit granting one
      // action at a time. Refused means NotAuthorized and nothing changed; let through means any
      // other answer (Neighbor.Connect to B, already a peer, says PeerExists: polkit let it by).
      const x = lab.initNode('authz-x').peerId;
      let neighbor: string | undefined;
      await until('B as a LAN neighbour object', async () => {
        const r = await busctl('--json=short', 'call', DEST, ROOT_PATH, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects');
        if (r.code !== 0) return false;
        const [managed] = (JSON.parse(r.stdout) as { data: [Record<string, Record<string, Record<string, { data: unknown }>>>] }).data;
        neighbor = Object.keys(managed).find((path) => managed[path]![`${DEST}.Neighbor`]?.PeerId?.data === b.peerId);
        return neighbor !== undefined;
      }, 20_000);
      const asNobody = (path: string, iface: string, method: string, ...args: string[]) =>
        run(NOBODY[0]!, [...NOBODY.slice(1), 'gdbus', 'call', '--system', '--dest', DEST, '--object-path', path, '--method', `${iface}.${method}`, ...args], env);
      const methods: { action: string; call: () => ReturnType<typeof asNobody>; undo?: () => Promise<unknown> }[] = [
        { action: 'net.rovy.toggle', call: () => asNobody(ROOT_PATH, DEST, 'SetEnabled', 'true') },
        { action: 'net.rovy.toggle', call: () => asNobody(ROOT_PATH, `${DEST}.Discovery`, 'SetEnabled', 'true') },
        { action: 'net.rovy.toggle', call: () => asNobody(ROOT_PATH, `${DEST}.Discovery`, 'SetPolicy', 'manual') },
        { action: 'net.rovy.manage-peers', call: () => asNobody(ROOT_PATH, DEST, 'Connect', `/ip6/fd00:d5::9/udp/7777/rovy/${x}`, '{}'), undo: () => rovy('disconnect', x) },
        { action: 'net.rovy.manage-peers', call: () => asNobody(ROOT_PATH, DEST, 'Disconnect', `${ROOT_PATH}/peer/999`) },
        { action: 'net.rovy.manage-peers', call: () => asNobody(neighbor!, `${DEST}.Neighbor`, 'Connect') },
        { action: 'net.rovy.manage-peers', call: () => asNobody(ROOT_PATH, DEST, 'Block', x), undo: () => rovy('unblock', x) },
        { action: 'net.rovy.manage-peers', call: () => asNobody(ROOT_PATH, DEST, 'Unblock', x) },
        { action: 'net.rovy.manage-ports', call: () => asNobody(ROOT_PATH, `${DEST}.Ports`, 'Allow', '2222/tcp', ''), undo: () => rovy('ports', 'deny', '2222/tcp') },
        { action: 'net.rovy.manage-ports', call: () => asNobody(ROOT_PATH, `${DEST}.Ports`, 'Deny', '2223/tcp', '') },
        { action: 'net.rovy.manage-names', call: () => asNobody(ROOT_PATH, `${DEST}.Names`, 'Set', 'authz', x), undo: () => rovy('name', 'rm', 'authz') },
        { action: 'net.rovy.manage-names', call: () => asNobody(ROOT_PATH, `${DEST}.Names`, 'Remove', 'nobody-has-this-name') },
      ];
      const state = async () => {
        const d = JSON.parse(JSON.parse((await busctl('--json=short', 'call', DEST, ROOT_PATH, DEST, 'Describe')).stdout).data[0]) as Record<string, unknown>;
        return JSON.stringify({ enabled: d.enabled, discovery: (d.discovery as { policy: unknown }).policy, peers: (d.peers as { peerId: string }[]).map((p) => p.peerId).sort(), names: d.names, blocked: (d.links as { blocked: unknown }).blocked, ports: d.ports });
      };
      const grants = [null, 'net.rovy.toggle', 'net.rovy.manage-peers', 'net.rovy.manage-names', 'net.rovy.manage-ports'];
      for (const granted of grants) {
        const polkitd = granted
          ? await startPolkitd(bus!, { rules: [lab.file(`authz-${granted}.rules`, `polkit.addRule(function (action, subject) {\n  if (action.id == "${granted}" && subject.user == "nobody") return polkit.Result.YES;\n});\n`)] })
          : null;
        try {
          for (const [i, m] of methods.entries()) {
            const before = await state();
            const r = await m.call();
            const what = `method ${i} (${m.action}) with ${granted ?? 'no polkit'}: ${r.stderr.trim()}`;
            if (m.action === granted) {
              assert.doesNotMatch(r.stderr, /NotAuthorized/, what);
              await m.undo?.();
            } else {
              assert.match(r.stderr, /net\.rovy\.Rovy1\.Error\.NotAuthorized/, what);
              assert.equal(await state(), before, `${what}: refused, yet something changed`);
            }
          }
        } finally {
          await polkitd?.stop();
        }
      }
    });

    await t.test('the user at the desktop switches, names and discovers without a password; nobody else can', async () => {
      // What the installed actions grant: yes to an active local session, an administrator's
      // password to anyone else (which, with no agent to ask, is no).
      const policy = readFileSync(join(ROOT, 'dbus', 'net.rovy.policy'), 'utf8');
      for (const id of ['net.rovy.toggle', 'net.rovy.manage-peers', 'net.rovy.manage-names', 'net.rovy.manage-ports']) {
        const action = new RegExp(`<action id="${id.replace(/\./g, '\\.')}">([\\s\\S]*?)</action>`).exec(policy)?.[1] ?? '';
        // Opening a port exposes the machine to the whole mesh: that takes an administrator, even at the desktop.
        assert.match(action, id === 'net.rovy.manage-ports' ? /<allow_active>auth_admin_keep<\/allow_active>/ : /<allow_active>yes<\/allow_active>/, id);
        assert.match(action, /<allow_any>auth_admin<\/allow_any>/, id);
        assert.match(action, /<allow_inactive>auth_admin<\/allow_inactive>/, id);
      }
      const OTHER = ['setpriv', '--reuid=1', '--regid=1', '--clear-groups', '--']; // the "daemon" system user
      const as = (who: string[], ...args: string[]) => run(who[0]!, [...who.slice(1), process.execPath, ROVY_JS, ...args], env);
      const enabled = async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim();
      const policyNow = async () => (await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Discovery`, 'Policy')).stdout.trim();
      const polkitd = await startPolkitd(bus!, { rules: [join(ROOT, 'test', 'desktop', 'polkit', '50-rovy-active-session.rules')] });
      try {
        // Someone else: refused, and nothing changes.
        for (const args of [['down'], ['name', 'set', 'deskpeer', b.peerId], ['discovery', 'auto']]) {
          const r = await as(OTHER, ...args);
          assert.equal(r.code, 1, `rovy ${args.join(' ')} as another user: ${r.stdout}`);
          assert.match(r.stderr, /not allowed/);
        }
        assert.equal(await enabled(), 'b true');
        assert.doesNotMatch((await rovy('name', 'list')).stdout, /deskpeer/);
        assert.equal(await policyNow(), 's "manual"');
        // The desktop user: allowed, without a password (no agent runs here to ask for one).
        let r = await as(NOBODY, 'down');
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await enabled(), 'b false');
        r = await as(NOBODY, 'up');
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await enabled(), 'b true');
        r = await as(NOBODY, 'name', 'set', 'deskpeer', b.peerId);
        assert.equal(r.code, 0, r.stderr);
        assert.match((await rovy('name', 'list')).stdout, /deskpeer/);
        r = await as(NOBODY, 'discovery', 'auto');
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await policyNow(), 's "auto"');
        r = await as(NOBODY, 'name', 'rm', 'deskpeer');
        assert.equal(r.code, 0, r.stderr);
        r = await as(NOBODY, 'discovery', 'manual');
        assert.equal(r.code, 0, r.stderr);
      } finally {
        await polkitd.stop();
      }
      await until('traffic after up', () => nsExec(nsA, 'ping', ['-6', '-c', '1', '-W', '1', b.address]).code === 0, 8000);
    });

    await t.test('a peer that does not answer shows as connecting, with a signal', async () => {
      const c = lab.initNode('c');
      const before = monitor.messages().length;
      const added = await rovy('connect', `/ip6/fd00:d5::9/udp/7777/rovy/${c.peerId}`, '--json');
      assert.equal(added.code, 0, added.stderr);
      const { path } = JSON.parse(added.stdout) as { path: string };
      await until('State "connecting" signalled', () =>
        monitor.messages().slice(before).some((m) => m.member === 'PropertiesChanged' && m.path === path && JSON.stringify(m.payload).includes('"State":{"type":"s","data":"connecting"}')),
      );
      assert.equal((await busctl('get-property', DEST, path, `${DEST}.Peer`, 'State')).stdout.trim(), 's "connecting"');
      assert.equal((await rovy('disconnect', c.peerId)).code, 0);
    });

    await t.test('config peers follow SIGHUP on the bus and cannot be disconnected over it', async () => {
      const e = lab.initNode('e');
      const withPeer = (name: string) =>
        lab.file('a/rovy.toml', ['key_file = "node.key"', '[[peer]]', `address = "/ip6/fd00:d5::7/udp/7777/rovy/${e.peerId}"`, `name = "${name}"`].join('\n'));
      const find = async () => ((JSON.parse((await rovy('peers', '--json')).stdout) as { path: string; peerId: string; petname: string }[]).find((p) => p.peerId === e.peerId));
      withPeer('carol');
      daemonA.signal('SIGHUP');
      await until('the config peer on the bus', async () => (await find())?.petname === 'carol');
      const path = (await find())!.path;
      const refused = await gdbusCall('Disconnect', path);
      assert.match(refused.stderr, /net\.rovy\.Rovy1\.Error\.InvalidArgument: .*config file/);
      const mark = monitor.messages().length;
      withPeer('caroline');
      daemonA.signal('SIGHUP');
      await until('Petname signalled', () =>
        monitor.messages().slice(mark).some((m) => m.member === 'PropertiesChanged' && m.path === path && JSON.stringify(m.payload).includes('"Petname":{"type":"s","data":"caroline"}')),
      );
      lab.file('a/rovy.toml', 'key_file = "node.key"\n');
      daemonA.signal('SIGHUP');
      await until('InterfacesRemoved for the config peer', () =>
        monitor.messages().slice(mark).some((m) => m.member === 'InterfacesRemoved' && m.payload?.data[0] === path),
      );
    });

    await t.test('disconnect removes the peer object; with no daemon the CLI says so', async () => {
      const before = monitor.messages().length;
      const r = await rovy('disconnect', b.address);
      assert.equal(r.code, 0, r.stderr);
      await until('InterfacesRemoved', () => monitor.messages().slice(before).some((m) => m.member === 'InterfacesRemoved'));
      assert.equal(JSON.parse((await rovy('peers', '--json')).stdout).length, 0);
      assert.doesNotMatch(daemonA.log, /error/, 'the daemon logged errors');
      assert.equal(await daemonA.stop(), 0);
      const none = await rovy('status');
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no rovy daemon is running/);
    });
  } finally {
    await lab.cleanup();
    await bus?.stop();
  }
});

test('the shipped activation file starts the daemon on the first call, but not for the CLI', { skip: !isRoot && 'needs root' }, async () => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  try {
    const ns = lab.namespace('DC');
    const { config } = lab.initNode('act');
    // The shipped file, with Exec= pointed at this checkout's daemon in a test namespace.
    const shipped = readFileSync(join(ROOT, 'dbus', 'net.rovy.Rovy1.service'), 'utf8');
    assert.match(shipped, /^Name=net\.rovy\.Rovy1$/m);
    assert.match(shipped, /^SystemdService=rovyd\.service$/m);
    const serviceDir = lab.path('services/x').replace(/\/x$/, '');
    const exec = `/usr/sbin/ip netns exec ${ns} ${process.execPath} ${ROVY_JS} daemon --config ${config}`;
    lab.file('services/net.rovy.Rovy1.service', shipped.replace(/^Exec=.*$/m, `Exec=${exec}`));
    bus = await startSystemBus(serviceDir);
    const env = { ...bus.env };
    const none = await run(process.execPath, [ROVY_JS, 'status'], env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no rovy daemon is running/, 'the CLI started the daemon');
    const activated = await run('busctl', ['--system', 'get-property', DEST, ROOT_PATH, DEST, 'Enabled'], env);
    assert.equal(activated.stdout.trim(), 'b true', activated.stderr);
    const status = await run(process.execPath, [ROVY_JS, 'status', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    // The bus started it, not us: end it by the PID the bus reports, and see the name go.
    const pid = await run('busctl', ['--system', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetConnectionUnixProcessID', 's', DEST], env);
    process.kill(Number(pid.stdout.trim().split(' ')[1]), 'SIGTERM');
    await until('the daemon to leave the bus', async () => /no rovy daemon is running/.test((await run(process.execPath, [ROVY_JS, 'status'], env)).stderr));
    await until('rovy0 to go', () => nsExec(ns, 'ip', ['link', 'show', 'rovy0']).code !== 0);
  } finally {
    await lab.cleanup();
    await bus?.stop();
  }
});
