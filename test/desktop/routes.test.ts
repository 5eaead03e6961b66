// Routed peers on the D-Bus API and in the CLI, without needing routing: the daemon's real API
// module (service/api.ts) on a private system bus, over a stand-in node whose peerStatus() lists
// one neighbour and several routed destinations as MeshNode reports them. Checked with busctl,
// gdbus and the real rovy CLI (`rovy routes`, `rovy peers`, `rovy disconnect`, `rovy status`).
//
// The same with three real daemons, once multi-hop routing works, is test/desktop/routed.test.ts.
import { InboundLinks } from '../../src/node/inbound.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { ROVY_JS } from '../net/netns.js';
import { isRoot, run, startMonitor, startSystemBus, type PrivateBus } from './buses.js';
import { BusService } from '../../service/dbus/bus.js';
import { RovyApi, ROOT_PATH, type ApiHost } from '../../service/api.js';
import type { Exits } from '../../service/exit.js';
import { parseIntrospection } from '../../service/dbus/contract.js';
import type { MeshNode, PeerStatus } from '../../src/node/node.js';
import { NameBook } from '../../src/names/book.js';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { fcAddressBytes, formatIPv6, parseIPv6 } from '../../src/keys/address.js';
import { until } from '../wait.js';
import { defaultLinkSettings } from '../../src/config/defaults.js';

const DEST = 'net.rovy.Rovy1';
const PEER_IFACE = 'net.rovy.Rovy1.Peer';
const XML = join(ROOT, 'dbus', 'net.rovy.Rovy1.xml');

interface Ident {
  peerId: string;
  address: string;
}

function ident(): Ident {
  const { publicKey } = generateKeyPair();
  return { peerId: encodePeerId(publicKey), address: formatIPv6(fcAddressBytes(publicKey)) };
}

function status(who: Ident, fields: Partial<PeerStatus>): PeerStatus {
  return {
    peerId: who.peerId,
    address: who.address,
    name: null,
    endpoint: null,
    state: 'connected',
    lastHandshake: null,
    rttMicroseconds: 0,
    rxBytes: 0,
    txBytes: 0,
    origin: 'routed',
    hops: 0,
    route: [],
    routeMtu: 0,
    routeSource: '',
    routeTree: -1,
    routeFoundAt: null,
    ...fields,
  };
}

/** A MeshNode as far as the API reads one: identity, state, counters, the data path's and peerStatus(). */
class FakeNode {
  readonly self = ident();
  readonly peerId = this.self.peerId;
  readonly addressText = this.self.address;
  readonly isEnabled = true;
  readonly state = 'online';
  readonly counters = { snapshot: () => ({}) };
  readonly dataPath = (): object => ({});
  readonly peers = new Map<string, PeerStatus>();
  readonly names = new NameBook(null);
  readonly lan = null;
  readonly inbound = new InboundLinks(
    { ...defaultLinkSettings(), accept: 'known', maxInbound: 0, inboundRate: 1 },
    {
      add: () => {
        throw new Error('no inbound links here');
      },
      forget: () => {},
      degreeOf: () => 0,
      log: () => {},
    },
  );
  readonly linksReport = (): object => this.inbound.report();
  /** Claims of routed prefixes, as the node judged them (set by the test). */
  claims: { prefix: string; origin: string; verdict: string }[] = [];
  readonly prefixesReport = (): object => ({
    announced: this.claims.length > 0 ? ['2001:db8:f::/48'] : [],
    claims: this.claims,
    accepted: this.claims.filter((c) => c.verdict === 'granted' || c.verdict === 'delegated').length,
    refused: this.claims.filter((c) => c.verdict === 'refused').length,
    conflicts: this.claims.filter((c) => c.verdict === 'conflict').length,
  });

  /** Its place in the trees (set by the test: roots by peer ID), and what it holds to find nodes. */
  treeRoots: { root: string; depth: number }[] = [];
  readonly routingReport = (): object => ({
    mapNodes: 4,
    contacts: 12,
    meshSize: 9615,
    publishPeriodSeconds: 28 * 86_400,
    trees: this.treeRoots.map((t, tree) => ({ tree, ...t })),
  });

  peerStatus(): PeerStatus[];
  peerStatus(peerId: string): PeerStatus | undefined;
  peerStatus(peerId?: string): PeerStatus[] | PeerStatus | undefined {
    return peerId === undefined ? [...this.peers.values()] : this.peers.get(peerId);
  }
}

test('routed peers on D-Bus and in the CLI (no routing needed)', { skip: !isRoot && 'needs root: a private system bus whose policy lets us own the name' }, async (t) => {
  let bus: PrivateBus | null = null;
  let service: BusService | null = null;
  try {
    bus = await startSystemBus();
    const env = bus.env;
    const busctl = (...args: string[]) => run('busctl', ['--system', ...args], env);
    const rovy = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], env);
    const gdbusCall = (method: string, ...args: string[]) => run('gdbus', ['call', '--system', '--dest', DEST, '--object-path', ROOT_PATH, '--method', `${DEST}.${method}`, ...args], env);
    const monitor = await startMonitor(bus);
    t.after(() => monitor.stop());

    //   us ── bob ── c ── e        bob: the neighbour; c, f: 2 hops; e: 3 hops; d: known, no route now
    //             └─ f             (all from the map); hana: 4 hops, found by a probe in tree 1
    const node = new FakeNode();
    const [bob, c, d, e, f, h] = [ident(), ident(), ident(), ident(), ident(), ident()] as [Ident, Ident, Ident, Ident, Ident, Ident];
    node.treeRoots = [
      { root: bob.peerId, depth: 1 },
      { root: node.peerId, depth: 0 },
      { root: c.peerId, depth: 2 },
      { root: bob.peerId, depth: 1 },
    ];
    const foundAt = Date.now() - 42_000;
    node.peers.set(bob.peerId, status(bob, { name: 'bob', endpoint: '[fd00::2]:7777', origin: 'runtime', hops: 1, route: [bob.peerId], routeMtu: 1420, rttMicroseconds: 800, routeSource: 'link' }));
    node.peers.set(c.peerId, status(c, { hops: 2, route: [bob.peerId, c.peerId], routeMtu: 1380, routeSource: 'map' }));
    node.peers.set(d.peerId, status(d, { state: 'disconnected' }));
    node.peers.set(e.peerId, status(e, { name: 'erin', hops: 3, route: [bob.peerId, c.peerId, e.peerId], routeMtu: 1340, routeSource: 'map' }));
    node.peers.set(f.peerId, status(f, { hops: 2, route: [bob.peerId, f.peerId], routeMtu: 1400, routeSource: 'map' }));
    node.peers.set(h.peerId, status(h, { name: 'hana', hops: 4, route: [bob.peerId, h.peerId], routeMtu: 1320, routeSource: 'probe', routeTree: 1, routeFoundAt: foundAt }));
    const disconnected: string[] = [];
    let api: RovyApi | null = null;
    const host: ApiHost = {
      node: node as unknown as MeshNode,
      interfaceName: 'rovy0',
      listen: ['/ip6/::/udp/7777'],
      version: '0.0.0-test',
      // No exit in this test: what the Exit interface reads of it.
      exits: { chosen: null, state: 'off', report: () => ({ state: 'off', using: null, killSwitch: false, meshIPv4: '100.64.0.1', offering: { offer: false, clients: null, uplink: null, bound: 0 }, offers: [] }) } as unknown as Exits,
      setEnabled: async () => {},
      changeDiscovery() {},
      block() {},
      unblock() {},
      portRules: () => [],
      portFilter: () => true,
      allowPort: () => false,
      denyPort: () => false,
      connect(address) {
        // As MeshNode does: a routed destination connected to is removed, then added as a neighbour.
        const peerId = address.peerId!;
        const known = node.peers.get(peerId);
        node.peers.set(peerId, status({ peerId, address: formatIPv6(fcAddressBytes(address.publicKey)) }, { ...known, origin: 'runtime', hops: 1, route: [peerId], routeMtu: 1420 }));
        if (known) api!.peerRemoved(peerId);
        api!.peerAdded(peerId);
        return peerId;
      },
      disconnect(peerId) {
        disconnected.push(peerId);
      },
    };
    service = await BusService.connect({
      xmlPath: XML,
      busName: DEST,
      rootPath: ROOT_PATH,
      address: bus.address,
      onError: (err) => assert.fail(`bus error: ${err.message}`),
      exportObjects: (s) => {
        api = new RovyApi(s, host);
        api.start();
      },
    });
    const peers = JSON.parse((await rovy('peers', '--json')).stdout) as { path: string; peerId: string }[];
    const pathOf = (who: Ident): string => peers.find((p) => p.peerId === who.peerId)!.path;
    const prop = async (who: Ident, name: string) => (await busctl('get-property', DEST, pathOf(who), PEER_IFACE, name)).stdout.trim();

    await t.test('every destination has a peer object with Origin, HopCount, Route and RouteMtu', async () => {
      assert.equal(peers.length, 6);
      const contract = parseIntrospection(readFileSync(XML, 'utf8')).find((i) => i.name === PEER_IFACE)!;
      const live = parseIntrospection((await busctl('introspect', '--xml-interface', DEST, pathOf(c))).stdout).find((i) => i.name === PEER_IFACE)!;
      assert.deepEqual(live, contract);
      const types = Object.fromEntries(contract.properties.map((p) => [p.name, p.type]));
      assert.deepEqual([types.Origin, types.HopCount, types.Route, types.RouteMtu], ['s', 'u', 'as', 'u']);
      assert.deepEqual([types.RouteSource, types.RouteTree, types.RouteFound], ['s', 'i', 't']);
      assert.equal(await prop(bob, 'Origin'), 's "runtime"');
      assert.equal(await prop(bob, 'HopCount'), 'u 1');
      assert.equal(await prop(bob, 'Route'), `as 1 "${bob.peerId}"`);
      assert.equal(await prop(c, 'Origin'), 's "routed"');
      assert.equal(await prop(c, 'HopCount'), 'u 2');
      assert.equal(await prop(c, 'Route'), `as 2 "${bob.peerId}" "${c.peerId}"`);
      assert.equal(await prop(c, 'RouteMtu'), 'u 1380');
      assert.equal(await prop(c, 'Endpoint'), 's ""');
      assert.equal(await prop(d, 'HopCount'), 'u 0');
      assert.equal(await prop(d, 'Route'), 'as 0');
      assert.equal(await prop(d, 'RouteMtu'), 'u 0');
      // How each route was learned: the map's and a lookup's.
      assert.equal(await prop(bob, 'RouteSource'), 's "link"');
      assert.equal(await prop(c, 'RouteSource'), 's "map"');
      assert.equal(await prop(c, 'RouteTree'), 'i -1');
      assert.equal(await prop(c, 'RouteFound'), 't 0');
      assert.equal(await prop(h, 'RouteSource'), 's "probe"');
      assert.equal(await prop(h, 'RouteTree'), 'i 1');
      assert.equal(await prop(h, 'RouteFound'), `t ${foundAt * 1000}`);
      assert.equal(await prop(h, 'HopCount'), 'u 4');
      assert.equal(await prop(h, 'Route'), `as 2 "${bob.peerId}" "${h.peerId}"`);
      assert.equal(await prop(d, 'RouteSource'), 's ""');
    });

    await t.test('a routed peer cannot be disconnected: NotALink, over the bus and in the CLI', async () => {
      const refused = await gdbusCall('Disconnect', pathOf(c));
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /net\.rovy\.Rovy1\.Error\.NotALink: .*not a neighbour.*2 hops via/);
      const cli = await rovy('disconnect', c.address);
      assert.equal(cli.code, 1);
      assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr);
      assert.match(cli.stderr, /^rovy disconnect: .*not a neighbour/);
      assert.deepEqual(disconnected, [], 'the host was asked to disconnect a routed peer');
      // A neighbour still can be.
      assert.equal((await rovy('disconnect', bob.peerId)).code, 0);
      assert.deepEqual(disconnected, [bob.peerId]);
    });

    await t.test('rovy routes --json: every destination with a route, by hops then address', async () => {
      const r = await rovy('routes', '--json');
      assert.equal(r.code, 0, r.stderr);
      const entry = (who: Ident, petname: string, origin: string, route: Ident[], routeMtu: number, found = { hops: route.length, source: 'map', tree: -1, foundAt: null as number | null }) => ({
        peerId: who.peerId,
        petname,
        address: who.address,
        origin,
        state: 'connected',
        hops: found.hops,
        via: route[0]!.peerId,
        route: route.map((x) => x.peerId),
        routeMtu,
        source: found.source,
        tree: found.tree,
        foundAt: found.foundAt,
        path: pathOf(who),
      });
      const twoHops = [entry(c, '', 'routed', [bob, c], 1380), entry(f, '', 'routed', [bob, f], 1400)];
      const byAddress = (x: { address: string }, y: { address: string }) => Buffer.compare(Buffer.from(parseIPv6(x.address)), Buffer.from(parseIPv6(y.address)));
      assert.deepEqual(JSON.parse(r.stdout), [
        entry(bob, 'bob', 'runtime', [bob], 1420, { hops: 1, source: 'link', tree: -1, foundAt: null }),
        ...twoHops.sort(byAddress),
        entry(e, 'erin', 'routed', [bob, c, e], 1340),
        entry(h, 'hana', 'routed', [bob, h], 1320, { hops: 4, source: 'probe', tree: 1, foundAt }),
      ]);
    });

    await t.test('rovy routes: a table with petnames where known', async (t2) => {
      const r = await rovy('routes');
      assert.equal(r.code, 0, r.stderr);
      t2.diagnostic(`rovy routes:\n${r.stdout}`);
      // No routed prefix claimed: the nodes, then the trees.
      const [nodes, trees, ...more] = r.stdout.trimEnd().split('\n\n');
      assert.equal(more.length, 0, r.stdout);
      const lines = nodes!.split('\n');
      assert.match(lines[0]!, /^DESTINATION +ADDRESS +HOPS +VIA +MTU +FOUND BY +PATH$/);
      assert.equal(lines.length, 6, r.stdout);
      assert.match(lines[1]!, new RegExp(`^bob +${bob.address} +1 +direct +1420 +link +bob$`));
      assert.match(r.stdout, new RegExp(`^${c.peerId} +${c.address} +2 +bob +1380 +map +bob > ${c.peerId.slice(0, 16)}…$`, 'm'));
      assert.match(lines[4]!, new RegExp(`^erin +${e.address} +3 +bob +1340 +map +bob > ${c.peerId.slice(0, 16)}… > erin$`));
      // Found by a lookup: how, in which tree, when; only its first hop and its end are known.
      assert.match(lines[5]!, new RegExp(`^hana +${h.address} +4 +bob +1320 +probe, tree 1, (4[2-9]|[5-9]\\d|1[01]\\d) s ago +bob > \\(2 more\\) > hana$`));
      // Columns line up.
      const at = lines[0]!.indexOf('HOPS');
      for (const line of lines.slice(1)) assert.match(line.slice(at), /^\d/);
      // The trees lookups are steered along: the root in each (by petname, "this node" for its
      // own), and its depth under it.
      assert.deepEqual(trees!.split('\n').map((l) => l.split(/ {2,}/)), [
        ['TREE', 'ROOT', 'DEPTH'],
        ['0', 'bob', '1'],
        ['1', 'this node', '0'],
        ['2', `${c.peerId.slice(0, 16)}…`, '2'],
        ['3', 'bob', '1'],
      ]);
    });

    await t.test('rovy routes: then the routed prefixes claimed, with what this node made of each', async (t2) => {
      node.claims = [
        { prefix: '2001:db8:1::/48', origin: bob.peerId, verdict: 'granted' },
        { prefix: '10.7.0.0/16', origin: c.peerId, verdict: 'refused' },
      ];
      const r = await rovy('routes');
      const status = await rovy('status');
      node.claims = [];
      assert.equal(r.code, 0, r.stderr);
      assert.match(status.stdout, /^announces +2001:db8:f::\/48$/m, status.stdout);
      assert.match(status.stdout, /^prefixes +1 routed, 1 refused \(rovy routes\)$/m, status.stdout);
      t2.diagnostic(`rovy routes:\n${r.stdout}`);
      const tail = r.stdout.trimEnd().split('\n\n').at(-2)!.split('\n');
      assert.equal(tail.length, 3, r.stdout);
      assert.match(tail[0]!, /^PREFIX +CLAIMED BY +HERE$/);
      assert.match(tail[1]!, /^2001:db8:1::\/48 +bob +routed \(granted\)$/);
      assert.match(tail[2]!, new RegExp(`^10\\.7\\.0\\.0/16 +${c.peerId.slice(0, 16)}… +refused$`));
    });

    await t.test('rovy peers marks routed peers; rovy status counts them apart', async (t2) => {
      const r = await rovy('peers');
      assert.equal(r.code, 0, r.stderr);
      t2.diagnostic(`rovy peers:\n${r.stdout}`);
      assert.match(r.stdout, /^bafzqai\S+ \(bob\)\n  \S+  connected, rtt 0\.8 ms, neighbour \(runtime\)\n  endpoint \[fd00::2\]:7777, /);
      assert.match(r.stdout, new RegExp(`${c.peerId}\\n  ${c.address}  connected, routed, 2 hops via bob\\n  route bob > ${c.peerId.slice(0, 16)}…, mtu 1380, received 0 B`));
      assert.match(r.stdout, new RegExp(`${d.peerId}\\n  ${d.address}  disconnected, routed, no route now\\n  route -,`));
      // Neighbours first; routed peers nearest first, those without a route last.
      const order = [...r.stdout.matchAll(/^(bafzqai\S+)/gm)].map((m) => m[1]);
      assert.equal(order[0], bob.peerId);
      assert.equal(order.at(-3), e.peerId);
      assert.equal(order.at(-2), h.peerId);
      assert.equal(order.at(-1), d.peerId);
      assert.match(r.stdout, new RegExp(`${h.peerId} \\(hana\\)\\n  ${h.address}  connected, routed, 4 hops via bob\\n  route bob > \\(2 more\\) > hana, mtu 1320,`));
      const s = JSON.parse((await rovy('status', '--json')).stdout) as { peers: number; connectedPeers: number; routedPeers: number };
      assert.deepEqual([s.peers, s.connectedPeers, s.routedPeers], [1, 1, 5]);
      assert.match((await rovy('status')).stdout, /^peers +1 connected of 1, 5 more reached by route \(rovy routes\)$/m);
      // The mesh beyond the routes: its size as the node estimates it, and what follows from that.
      assert.match((await rovy('status')).stdout, /^mesh +about 9,615 node\(s\), as estimated; locator published every 28 days; 12 lookup contact\(s\), 4 node\(s\) in the map$/m);
    });

    await t.test('route changes are signalled; routed peers come and go with ObjectManager signals', async () => {
      const mark = monitor.messages().length;
      const since = () => monitor.messages().slice(mark);
      node.peers.set(c.peerId, status(c, { hops: 3, route: [bob.peerId, f.peerId, c.peerId], routeMtu: 1360 }));
      api!.peerChanged(c.peerId);
      const g = ident();
      node.peers.set(g.peerId, status(g, { hops: 2, route: [bob.peerId, g.peerId], routeMtu: 1400 }));
      api!.peerAdded(g.peerId);
      node.peers.delete(f.peerId);
      api!.peerRemoved(f.peerId);
      await until('the signals', () => since().some((m) => m.member === 'InterfacesRemoved' && m.payload?.data[0] === pathOf(f)));
      const changed = since().find((m) => m.member === 'PropertiesChanged' && m.path === pathOf(c));
      assert.ok(changed, 'no PropertiesChanged for the new route');
      const values = JSON.stringify(changed.payload);
      assert.ok(values.includes('"HopCount":{"type":"u","data":3}'), values);
      assert.ok(values.includes(`"Route":{"type":"as","data":["${bob.peerId}","${f.peerId}","${c.peerId}"]}`), values);
      assert.ok(values.includes('"RouteMtu":{"type":"u","data":1360}'), values);
      const added = since().find((m) => m.member === 'InterfacesAdded');
      assert.ok(added, 'no InterfacesAdded for the new routed peer');
      assert.ok(JSON.stringify(added.payload).includes('"Origin":{"type":"s","data":"routed"}'), JSON.stringify(added.payload));
      assert.ok(JSON.stringify(added.payload).includes('"HopCount":{"type":"u","data":2}'));
    });

    await t.test('Connect to a routed peer makes it a neighbour on a new object; to a neighbour is PeerExists', async () => {
      const old = pathOf(e);
      const r = await gdbusCall('Connect', `/ip6/fd00::5/udp/7777/rovy/${e.peerId}`, '{}');
      assert.equal(r.code, 0, r.stderr);
      const path = /^\(objectpath '(.*)',\)$/.exec(r.stdout.trim())![1]!;
      assert.notEqual(path, old);
      const now = JSON.parse((await rovy('peers', '--json')).stdout) as { path: string; peerId: string; origin: string; hopCount: number }[];
      assert.deepEqual(now.filter((p) => p.peerId === e.peerId).map((p) => [p.path, p.origin, p.hopCount]), [[path, 'runtime', 1]]);
      const again = await gdbusCall('Connect', `/ip6/fd00::5/udp/7777/rovy/${e.peerId}`, '{}');
      assert.match(again.stderr, /net\.rovy\.Rovy1\.Error\.PeerExists/);
    });

    await t.test('Describe carries the route of every peer', async () => {
      const r = await busctl('--json=short', 'call', DEST, ROOT_PATH, DEST, 'Describe');
      const described = JSON.parse((JSON.parse(r.stdout) as { data: [string] }).data[0]) as { peers: { peerId: string; origin: string; hopCount: number; route: string[]; routeMtu: number }[] };
      const cc = described.peers.find((p) => p.peerId === c.peerId)!;
      assert.deepEqual([cc.origin, cc.hopCount, cc.route, cc.routeMtu], ['routed', 3, [bob.peerId, f.peerId, c.peerId], 1360]);
    });
  } finally {
    service?.close();
    await bus?.stop();
  }
});
