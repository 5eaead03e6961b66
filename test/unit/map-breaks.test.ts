// A route a lookup found is a label, opaque past the first hop, but the map can follow it over the
// nodes within its radius. When one of them takes a link back in its announcement (its neighbour
// there went), every route over that link is broken: it goes as soon as the map hears it, found
// routes and the end-to-end peers' reverse routes alike (src/routing/routing.ts), not when a
// packet along it draws an unreachable report, which loses that packet. Nine real nodes in one
// process, on the in-memory transport and TUNs:
//
//   0 ── 1 ── 2 ── 3 ── 4 ── 5 ── 6      the ends, 6 hops apart, are past each other's maps
//             └─ 7 ── 8 ─┘               a detour round the link 2–3, which is cut
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshNode, PeerStatus } from '../../src/node/node.js';
import { untilFast as until } from '../wait.js';
import { hubAddress, memoryLine } from './memory-line.js';
import { ipv6Packet } from './packets.js';

const LINE = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6]] as const;

/** The line of seven with the detour 7–8 round the link `around` (2–3 above), the ends having
 *  reached each other both ways by routes lookups found; cut() cuts that link. */
async function meshWithRoutes(t: TestContext, around: readonly [number, number] = [2, 3]) {
  const links = [...LINE, [around[0], 7], [7, 8], [8, around[1]]] as const;
  const mesh = memoryLine(t, Array.from({ length: 9 }, () => ({})), links);
  const [a, g] = [mesh.nodes[0]!, mesh.nodes[6]!];
  const status = (from: MeshNode, to: MeshNode) => from.peerStatus(to.peerId) as PeerStatus | undefined;
  let fill = 1;
  /** Sends one packet from node `from`'s host to node `to`'s; the check says once it is written there. */
  const sendOne = (from: number, to: number): (() => boolean) => {
    const packet = ipv6Packet(mesh.nodes[from]!.address, mesh.nodes[to]!.address, 24, fill++);
    mesh.tuns[from]!.inject(packet);
    return () => mesh.tuns[to]!.written.some((w) => w.length === packet.length && w[8] === packet[8] && w[24] === packet[24] && w[w.length - 1] === packet[packet.length - 1]);
  };
  /** Sends a packet each poll until one arrives (as ping does): sessions and routes come up. */
  const reaches = (from: number, to: number) => {
    const arrived: (() => boolean)[] = [];
    return () => arrived.some((x) => x()) || (arrived.push(sendOne(from, to)), false);
  };
  await until('0 reaches 6', reaches(0, 6), 10_000);
  await until('6 reaches 0', reaches(6, 0), 10_000);
  await until('both ends route 6 hops', () => status(a, g)?.hops === 6 && status(g, a)?.hops === 6, 5000);
  assert.ok(status(a, g)?.routeSource !== 'map' && status(g, a)?.routeSource !== 'map', "a map route: the ends are within each other's maps");
  // Each end keeps the way along the line alone, which its session's reverse route is too: the
  // longer ways other trees found (round the detour, say) would take over when it goes, and hide
  // whether anything still leads over the cut link.
  for (const [from, to] of [[a, g], [g, a]] as const) {
    const d = from.routing.lookups.paths.get(to.address)!;
    d.paths = d.paths.filter((p) => p.slots.length === 5);
    assert.equal(d.paths.length, 1);
  }
  /** Cuts the link and waits until both of its ends have taken it down (and announced so). */
  const cut = async () => {
    const [x, y] = around;
    const dropped = new Set([`${hubAddress(x)} ${hubAddress(y)}`, `${hubAddress(y)} ${hubAddress(x)}`]);
    mesh.hub.tap = (from, to) => (dropped.has(`${from} ${to}`) ? 'drop' : 'deliver');
    const [nx, ny] = [mesh.nodes[x]!, mesh.nodes[y]!];
    await until(`${x} and ${y} take their link down`, () => status(nx, ny)?.hops !== 1 && status(ny, nx)?.hops !== 1, 10_000);
  };
  return { mesh, a, g, status, sendOne, reaches, cut };
}

test('a found route over a link that a node of the map took back goes when the map hears it, at both ends: the first packet after the cut arrives', async (t) => {
  const { a, g, status, sendOne, reaches, cut } = await meshWithRoutes(t);
  await cut();
  // Nothing is sent between the ends meanwhile: only the map can tell them.
  await until('both ends drop their routes over the cut link', () => status(a, g)?.hops !== 6 && status(g, a)?.hops !== 6, 5000);
  // One packet from the far end. It has its session, so nothing looked the other end up before
  // (end-to-end.ts): the packet waits for a lookup only if the session's reverse route went with
  // the route; kept, that would take it over the cut link.
  await until("6's one packet reaches 0", sendOne(6, 0), 10_000);
  // The other way too, as a ping would (once both ends' routes are back, each handshakes anew,
  // and a packet sealed in the crossing may be lost, as with WireGuard's crossing handshakes).
  await until('0 reaches 6 again', reaches(0, 6), 10_000);
  await until('0 routes to 6 round the cut', () => (status(a, g)?.hops ?? 0) >= 8, 10_000);
});

test('a reverse route over a link an unreachable report named goes with the found route: the packet after the one that drew the report arrives', async (t) => {
  // The detour runs round 1–2 now: node 2 is four hops from 6, past its map, so 6 learns of the
  // cut only from the report its next packet draws at 2. That packet is lost; the session's
  // reverse route, kept, would lose the next one too.
  const { a, g, status, sendOne, cut } = await meshWithRoutes(t, [1, 2]);
  await cut();
  assert.equal(status(g, a)?.hops, 6, "6's map told it of the cut");
  sendOne(6, 0);
  await until("the report drops 6's route over the cut link", () => status(g, a)?.hops !== 6, 5000);
  await until("6's next packet reaches 0", sendOne(6, 0), 10_000);
});
