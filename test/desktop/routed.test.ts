// A routed peer on the real daemon's D-Bus API: three daemons in a line, A knowing only B, and
// C showing up on A's bus as a peer object with Origin "routed", HopCount 2 and Route [B, C],
// in `rovy routes` and `rovy peers`, refusing Disconnect, and going away (or losing its route)
// when C stops. A's place in the trees and its estimate of the mesh (Describe's routing) are
// checked against the line.
//
//   private system bus ── daemon A (ns A, peer B "bob")
//   ns A  fd00:d6:1::1 <──veth──> fd00:d6:1::2  ns B (peers A and C)  fd00:d6:2::2 <──veth──> fd00:d6:2::3  ns C (peer B)
//
// What needs no routing (the API's mapping, NotALink, `rovy routes`) is tested with a stand-in
// node in routes.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, ROVY_JS, nsExec, until } from '../net/netns.js';
import { isRoot, run, startMonitor, startSystemBus, type Monitor, type PrivateBus } from './buses.js';
import { compareRanks, rootRank } from '../../src/routing/tree-proof.js';
import { decodePeerId } from '../../src/keys/peerid.js';

const DEST = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';
/** How long routing may take to find a two-hop route, and to notice that a node is gone. */
const CONVERGE_MS = 30_000;
const FORGET_MS = 90_000;

interface RoutingJson {
  mapNodes: number;
  contacts: number;
  meshSize: number;
  publishPeriodSeconds: number;
  trees: { tree: number; root: string; depth: number }[];
}

interface PeerJson {
  path: string;
  peerId: string;
  petname: string;
  address: string;
  endpoint: string;
  origin: string;
  hopCount: number;
  route: string[];
  routeMtu: number;
}

test('a node two hops away appears on D-Bus as a routed peer', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  let monitor: Monitor | null = null;
  try {
    bus = await startSystemBus();
    monitor = await startMonitor(bus);
    const seen = monitor;
    const env = bus.env;
    const busctl = (...args: string[]) => run('busctl', ['--system', ...args], env);
    const rovy = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], env);
    const gdbusCall = (method: string, ...args: string[]) => run('gdbus', ['call', '--system', '--dest', DEST, '--object-path', ROOT_PATH, '--method', `${DEST}.${method}`, ...args], env);

    const nsA = lab.namespace('RA');
    const nsB = lab.namespace('RB');
    const nsC = lab.namespace('RC');
    lab.link(nsA, 'fd00:d6:1::1', nsB, 'fd00:d6:1::2');
    lab.link(nsB, 'fd00:d6:2::2', nsC, 'fd00:d6:2::3');
    const a = lab.initNode('a');
    const b = lab.initNode('b');
    const c = lab.initNode('c');
    const peer = (underlay: string, peerId: string, name?: string) => ['[[peer]]', `address = "/ip6/${underlay}/udp/7777/rovy/${peerId}"`, ...(name ? [`name = "${name}"`] : [])];
    lab.file('a/rovy.toml', ['key_file = "node.key"', ...peer('fd00:d6:1::2', b.peerId, 'bob')].join('\n'));
    lab.file('b/rovy.toml', ['key_file = "node.key"', ...peer('fd00:d6:1::1', a.peerId), ...peer('fd00:d6:2::3', c.peerId)].join('\n'));
    lab.file('c/rovy.toml', ['key_file = "node.key"', ...peer('fd00:d6:2::2', b.peerId)].join('\n'));
    const daemonA = lab.spawn(nsA, ['env', `DBUS_SYSTEM_BUS_ADDRESS=${bus.address}`, process.execPath, '--enable-source-maps', ROVY_JS, 'daemon', '--config', a.config]);
    lab.start(nsB, b.config);
    const daemonC = lab.start(nsC, c.config);
    await until('A on the bus', async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'State')).code === 0);

    let last = '';
    const peers = async (): Promise<PeerJson[]> => {
      const r = await rovy('peers', '--json');
      last = r.stdout + r.stderr;
      return r.code === 0 ? (JSON.parse(r.stdout) as PeerJson[]) : [];
    };
    const find = async (peerId: string) => (await peers()).find((p) => p.peerId === peerId);

    // 1. C appears as a routed peer, two hops away through B.
    await until('C as a routed peer with a route on A', async () => ((await find(c.peerId))?.hopCount ?? 0) > 0, CONVERGE_MS).catch((e: Error) =>
      assert.fail(`${e.message}\nA's peers: ${last}\nA's log:\n${daemonA.log}`),
    );
    const routed = (await find(c.peerId))!;
    assert.equal(routed.origin, 'routed');
    assert.equal(routed.hopCount, 2);
    assert.deepEqual(routed.route, [b.peerId, c.peerId]);
    assert.equal(routed.address, c.address);
    assert.equal(routed.endpoint, '');
    assert.ok(routed.routeMtu >= 1280 && routed.routeMtu <= 1420, `RouteMtu ${routed.routeMtu}`);
    const neighbour = (await find(b.peerId))!;
    assert.deepEqual([neighbour.origin, neighbour.hopCount, neighbour.route], ['config', 1, [b.peerId]]);
    assert.ok(
      seen.messages().some((m) => m.member === 'InterfacesAdded' && m.payload?.data[0] === routed.path && JSON.stringify(m.payload).includes('"Origin":{"type":"s","data":"routed"}')),
      'no InterfacesAdded with Origin "routed" for C',
    );
    assert.equal((await busctl('get-property', DEST, routed.path, `${DEST}.Peer`, 'HopCount')).stdout.trim(), 'u 2');
    assert.equal((await busctl('get-property', DEST, routed.path, `${DEST}.Peer`, 'Route')).stdout.trim(), `as 2 "${b.peerId}" "${c.peerId}"`);
    assert.equal((await busctl('get-property', DEST, routed.path, `${DEST}.Peer`, 'RouteSource')).stdout.trim(), 's "map"');

    // 2. The CLI shows it.
    const routes = JSON.parse((await rovy('routes', '--json')).stdout) as { peerId: string; hops: number; via: string; route: string[] }[];
    assert.deepEqual(
      routes.map((r) => [r.peerId, r.hops, r.via, r.route]),
      [
        [b.peerId, 1, b.peerId, [b.peerId]],
        [c.peerId, 2, b.peerId, [b.peerId, c.peerId]],
      ],
    );
    const table = (await rovy('routes')).stdout;
    t.diagnostic(`rovy routes on A:\n${table}`);
    assert.match(table, new RegExp(`^${c.peerId} +${c.address} +2 +bob +\\d+ +map +bob > ${c.peerId.slice(0, 16)}…$`, 'm'));
    assert.match((await rovy('peers')).stdout, /routed, 2 hops via bob/);

    // 2b. Beyond its routes: in each tree A sits under the node of the lowest rank of the three
    // (the root the trees elect), as many hops down as the line puts it from that node; B and C
    // are in its map; and once a publish of its locator has ended, it takes the mesh for 2 or 3
    // nodes (as many as its lookup table held, plus itself) and publishes every 3 days.
    const hopsFromA = new Map([[a.peerId, 0], [b.peerId, 1], [c.peerId, 2]]);
    const electedRoot = (tree: number) =>
      [a.peerId, b.peerId, c.peerId].reduce((best, id) => (compareRanks(rootRank(tree, decodePeerId(id)), rootRank(tree, decodePeerId(best))) < 0 ? id : best));
    let routing: RoutingJson | undefined;
    const settled = () =>
      routing !== undefined &&
      routing.meshSize >= 2 &&
      routing.trees.every((t) => t.root === electedRoot(t.tree) && t.depth === hopsFromA.get(t.root));
    await until('A under the elected root in every tree, its estimate of the mesh taken', async () => {
      routing = (JSON.parse((await rovy('status', '--json')).stdout) as { routing: RoutingJson }).routing;
      return settled();
    }, CONVERGE_MS).catch((e: Error) => assert.fail(`${e.message}: ${JSON.stringify(routing)}`));
    t.diagnostic(`A's routing: ${JSON.stringify(routing)}`);
    assert.deepEqual(routing!.trees.map((t) => t.tree), [0, 1, 2, 3]);
    assert.equal(routing!.mapNodes, 2);
    assert.ok(routing!.contacts >= 1 && routing!.contacts <= 2, `contacts ${routing!.contacts}`);
    // Its contacts and itself when the publish ended: one more contact may have come since.
    assert.ok(routing!.meshSize >= 2 && routing!.meshSize <= 3, `meshSize ${routing!.meshSize}`);
    assert.equal(routing!.publishPeriodSeconds, 3 * 86_400);
    const name = (id: string) => (id === a.peerId ? 'this node' : id === b.peerId ? 'bob' : `${id.slice(0, 16)}…`);
    assert.deepEqual(
      (await rovy('routes')).stdout.trimEnd().split('\n\n').at(-1)!.split('\n').map((l) => l.split(/ {2,}/)),
      [['TREE', 'ROOT', 'DEPTH'], ...routing!.trees.map((t) => [String(t.tree), name(t.root), String(t.depth)])],
    );
    // Read again: one more contact may have come since (C's locator, after A's snapshot above).
    const status = (await rovy('status')).stdout;
    const mesh = new RegExp(`^mesh +about ${routing!.meshSize} node\\(s\\), as estimated; locator published every 3 days; (\\d) lookup contact\\(s\\), 2 node\\(s\\) in the map$`, 'm').exec(status);
    assert.ok(mesh && Number(mesh[1]) >= routing!.contacts && Number(mesh[1]) <= 2, status);

    // 3. It is not a link of A's: Disconnect is refused.
    const refused = await gdbusCall('Disconnect', routed.path);
    assert.match(refused.stderr, /net\.rovy\.Rovy1\.Error\.NotALink/);
    assert.ok(await find(c.peerId), 'the refused Disconnect removed the routed peer');

    // 4. Traffic follows the route.
    await until('A pings C through B', () => nsExec(nsA, 'ping', ['-6', '-c', '1', '-W', '1', c.address]).code === 0, CONVERGE_MS);

    // 5. With C gone, its object goes (InterfacesRemoved) or at least loses its route.
    assert.equal(await daemonC.stop(), 0);
    await until('C gone from A or without a route', async () => ((await find(c.peerId))?.hopCount ?? 0) === 0, FORGET_MS);
    assert.doesNotMatch(daemonA.log, /error/, "A's log has errors");
  } finally {
    await monitor?.stop();
    await lab.cleanup();
    await bus?.stop();
  }
});
