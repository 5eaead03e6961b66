// Two real nodes joined through a transit node the test plays itself, to show what a transit can
// and cannot do to the traffic it carries.
//
//   MemoryTun A ─ node A ─ udp [::1]:pA ──> B [::1]:pB ──> udp [::1]:pC ─ node C ─ MemoryTun C
//                                       <──            <──
//
// A and C are real MeshNodes configured with B as their only peer. B is built from the real
// parts — its own key, a hop SessionManager with A (link 1) and C (link 2) as peers, a Router —
// wired together here instead of by a MeshNode, so the test sees every routed frame as B opens its
// hop layer, and can make B forward honestly, tamper, loop a label, or report an expired hop
// limit (signed by itself or by a key that is not the one it names).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { generateKeyPair, type KeyPair } from '../../src/keys/keypair.js';
import { fcAddressBytes, formatIPv6 } from '../../src/keys/address.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import type { StaticIdentity } from '../../src/noise/handshake.js';
import { readTransportCounter, readU32LE } from '../../src/noise/messages.js';
import { MeshNode } from '../../src/node/node.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { UdpSocket } from '../../src/transport/udp.js';
import { decodeEndpoint, encodeEndpoint } from '../../src/transport/endpoint.js';
import { SessionManager } from '../../src/session/manager.js';
import { Peer } from '../../src/session/peer.js';
import { Counters } from '../../src/util/counters.js';
import { Router } from '../../src/routing/router.js';
import { FRAME_ROUTING } from '../../src/routing/constants.js';
import {
  CONTROL_HOP_LIMIT,
  FRAME_ROUTED,
  KIND_MESSAGE,
  KIND_TIME_EXCEEDED,
  OFF_COUNT,
  OFF_HOP_LIMIT,
  OFF_KIND,
  OFF_PAYLOAD_LENGTH,
  OFF_POINTER,
  checkRoutedHeader,
  encodeRoute,
  payloadLength,
  readSlot,
  reverseRoute,
  routeLabel,
  routeLink,
  routedHeaderLength,
  writeRoutedHeader,
  writeSlot,
} from '../../src/forward/header.js';
import { signTimeExceeded } from '../../src/forward/report.js';
import { TRANSPORT_HEADER_SIZE as MESSAGE_HEADER } from '../../src/noise/constants.js';
import { ICMP_TIME_EXCEEDED, icmpChecksum } from '../../src/fcnet/icmp.js';
import { untilFast } from '../wait.js';

const MTU = 1420;
/** B's interface indices for its two neighbours. */
const LINK_A = 1;
const LINK_C = 2;

// ---- packets ------------------------------------------------------------------------------

/** What every test packet carries: the bytes a transit must never see in the clear. */
const PATTERN = new TextEncoder().encode('rovy/transit: only A and C may read this! ');

/** An IPv6 packet from src to dst, its payload PATTERN repeated, with a distinctive flow label. */
function packet(src: Uint8Array, dst: Uint8Array, size: number, hopLimit = 64): Uint8Array {
  const p = new Uint8Array(size);
  const payload = size - 40;
  p[0] = 0x6a;
  p[1] = 0xbc;
  p[2] = 0xde;
  p[3] = 0xf1;
  p[4] = payload >> 8;
  p[5] = payload & 0xff;
  p[6] = 17;
  p[7] = hopLimit;
  p.set(src, 8);
  p.set(dst, 24);
  for (let i = 0; i < payload; i++) p[40 + i] = PATTERN[i % PATTERN.length]!;
  return p;
}

/** Every 8-byte window of the (cyclically repeated) pattern, as latin1 strings. */
const WINDOWS = new Set<string>();
for (let i = 0; i < PATTERN.length; i++) {
  let s = '';
  for (let j = 0; j < 8; j++) s += String.fromCharCode(PATTERN[(i + j) % PATTERN.length]!);
  WINDOWS.add(s);
}

/** Whether any 8 consecutive bytes of `bytes` are 8 consecutive bytes of the payload pattern. */
function showsPattern(bytes: Uint8Array): boolean {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  for (let i = 0; i + 8 <= text.length; i++) if (WINDOWS.has(text.slice(i, i + 8))) return true;
  return false;
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).includes(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength));
}

const pad16 = (n: number): number => (n + 15) & ~15;

function findLast<T>(items: readonly T[], match: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (match(items[i]!)) return items[i];
  return undefined;
}

/** The end-to-end message of a routed frame (after its label). */
function e2eMessage(frame: Uint8Array): Uint8Array {
  const header = routedHeaderLength(frame[OFF_COUNT]!);
  return frame.subarray(header, header + payloadLength(frame, 0));
}

/** Matches the routed frame (as B receives it) that carries A's `size`-byte packet to C. */
function dataFrom(size: number): (frame: Uint8Array, from: Peer) => boolean {
  return (frame, from) =>
    from.link === LINK_A &&
    frame[OFF_KIND] === KIND_MESSAGE &&
    payloadLength(frame, 0) === 16 + pad16(size) + 16 &&
    e2eMessage(frame)[0] === 4;
}

// ---- the transit B ------------------------------------------------------------------------

interface Seen {
  /** B's link it came in by. */
  from: number;
  /** The routed frame as B opened it, before anything was changed. */
  frame: Uint8Array;
}

interface Tamper {
  /** Picks the frame (as received) to change; the first match is changed, once. */
  match(frame: Uint8Array, from: Peer): boolean;
  /** After B's honest rewrite, before the re-seal: the frame to send instead, or null for none. */
  change(frame: Uint8Array, from: Peer): Uint8Array | null;
}

/** A frame whose hop limit ran out at B: where its report goes, and the header it names. */
interface Expired {
  back: Uint8Array;
  header: Uint8Array;
}

class Transit {
  readonly counters = new Counters();
  readonly manager: SessionManager;
  readonly router: Router;
  readonly byLink = new Map<number, Peer>();
  /** Every routed frame B opened, in order. */
  readonly seen: Seen[] = [];
  /** Frames a Tamper changed, as sent. */
  readonly tampered: Uint8Array[] = [];
  readonly expired: Expired[] = [];
  readonly errors: unknown[] = [];
  tamper: Tamper | null = null;
  /** Whom B signs its time-exceeded reports as: itself, unless a test makes it lie. */
  reportSigner: StaticIdentity;
  forwarded = 0;
  dropped = 0;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly keys: KeyPair,
    private readonly socket: Socket,
  ) {
    this.reportSigner = keys;
    this.manager = new SessionManager(
      keys,
      {
        sendDatagram: (endpoint, message) => this.sendDatagram(endpoint, message),
        // Each hop session that comes up is a link for routing, as node/links.ts makes it.
        sessionUp: (peer) => this.router.linkUp(peer.link, peer.publicKey),
        sessionDown: (peer) => this.router.linkDown(peer.link),
        internalError: (err) => this.errors.push(err),
      },
      this.counters,
      { mtu: MTU },
    );
    this.router = new Router({
      identity: keys,
      mtu: MTU,
      send: (link, frame) => {
        const peer = this.byLink.get(link);
        if (!peer || !this.manager.sendTransport(peer, frame, this.manager.now())) this.counters.noSession++;
      },
    });
    socket.on('message', (msg, rinfo) => {
      try {
        this.receive(msg, rinfo);
      } catch (err) {
        this.errors.push(err);
      }
    });
    this.timer = setInterval(() => {
      try {
        this.manager.tick();
        // Hellos, as node/links.ts sends them: A and C take a silent link for dead after 4 s.
        const now = this.manager.now();
        for (const peer of this.byLink.values()) if (peer.isUp && now - peer.lastSentAt >= 1000) this.manager.sendTransport(peer, null, now);
        this.router.tick();
      } catch (err) {
        this.errors.push(err);
      }
    }, 100);
  }

  /** A neighbour at `link`, reached at [::1]:port. */
  addNeighbour(link: number, publicKey: Uint8Array, port: number): Peer {
    const address = fcAddressBytes(publicKey);
    const peer = new Peer({
      publicKey,
      peerId: encodePeerId(publicKey),
      address,
      addressText: formatIPv6(address),
      endpoint: encodeEndpoint({ family: 6, address: '::1', port }),
      psk: new Uint8Array(32),
      keepaliveMs: 0,
    });
    peer.link = link;
    this.manager.addPeer(peer);
    this.byLink.set(link, peer);
    return peer;
  }

  /** Frames the routed `payload` along `route` (an encoded route) and seals it for the first hop. */
  sendRoute(route: Uint8Array, kind: number, hopLimit: number, payload: Uint8Array): boolean {
    const label = routeLabel(route);
    const frame = new Uint8Array(routedHeaderLength(label.length) + payload.length);
    frame.set(payload, writeRoutedHeader(frame, 0, kind, hopLimit, label, payload.length));
    return this.sendFrame(routeLink(route), frame);
  }

  /** Seals a routed frame for the neighbour at `link` and sends it. */
  sendFrame(link: number, frame: Uint8Array): boolean {
    const peer = this.byLink.get(link);
    return peer !== undefined && this.manager.sendTransport(peer, frame, this.manager.now());
  }

  /** A time-exceeded report about the frame whose end-to-end header is `header`, sent along `back`. */
  report(back: Uint8Array, header: Uint8Array, signer: StaticIdentity = this.keys): boolean {
    return this.sendRoute(back, KIND_TIME_EXCEEDED, CONTROL_HOP_LIMIT, signTimeExceeded(signer, header));
  }

  close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.manager.destroy();
    return new Promise((r) => this.socket.close(() => r()));
  }

  private sendDatagram(endpoint: Uint8Array, message: Uint8Array): void {
    if (this.closed) return;
    const to = decodeEndpoint(endpoint);
    // A copy: the session manager reuses its buffer before dgram has sent this one.
    this.socket.send(Buffer.from(message), to.port, to.address);
  }

  private receive(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    const buf = new Uint8Array(msg); // a copy, opened in place
    const type = buf[0];
    if (type === 1 || type === 2 || type === 3) {
      this.manager.handleHandshake(buf, encodeEndpoint({ family: 6, address: rinfo.address, port: rinfo.port }));
      return;
    }
    if (type !== 4 || buf.length < 32 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) {
      this.counters.malformed++;
      return;
    }
    const now = this.manager.now();
    const entry = this.manager.indices.get(readU32LE(buf, 4));
    const kp = entry?.keypair;
    if (!entry || !kp || !kp.receivable(now)) {
      this.counters.unknownIndex++;
      return;
    }
    const counter = readTransportCounter(buf, 8);
    if (counter < 0 || !kp.replay.mayAccept(counter)) {
      this.counters.replayed++;
      return;
    }
    const plain = kp.receive.open(counter, buf, 16, buf.length - 16);
    if (plain < 0) {
      this.counters.decryptFailed++;
      return;
    }
    if (!kp.replay.accept(counter)) {
      this.counters.replayed++;
      return;
    }
    this.manager.receivedAuthenticated(entry, kp, plain > 0, now);
    if (plain === 0) return; // a hello
    const from = entry.peer;
    const frame = buf.slice(16, 16 + plain);
    if (frame[0] === FRAME_ROUTING) this.router.receive(from.link, frame);
    else if (frame[0] === FRAME_ROUTED) this.routed(frame, from);
    else this.counters.malformed++;
  }

  /** What a transit does with a routed frame (node/receive.ts `routed()`), with the test's tamper. */
  private routed(frame: Uint8Array, from: Peer): void {
    this.seen.push({ from: from.link, frame: frame.slice() });
    let tamper: Tamper | null = null;
    if (this.tamper?.match(frame, from)) {
      tamper = this.tamper;
      this.tamper = null;
    }
    const header = checkRoutedHeader(frame, 0, frame.length);
    const pointer = frame[OFF_POINTER]!;
    if (header < 0 || pointer === frame[OFF_COUNT]!) {
      this.dropped++; // malformed, or for B: nothing ever is
      return;
    }
    const hopLimit = frame[OFF_HOP_LIMIT]!;
    if (hopLimit <= 1) {
      this.counters.hopLimitExceeded++;
      if (frame[OFF_KIND] === KIND_MESSAGE && payloadLength(frame, 0) >= MESSAGE_HEADER) {
        const expired = { back: reverseRoute(frame, 0, from.link), header: frame.slice(header, header + MESSAGE_HEADER) };
        this.expired.push(expired);
        this.report(expired.back, expired.header, this.reportSigner);
      }
      return;
    }
    const next = this.byLink.get(readSlot(frame, 0, pointer));
    if (!next || next === from) {
      this.counters.badLabel++;
      return;
    }
    writeSlot(frame, 0, pointer, from.link);
    frame[OFF_POINTER] = pointer + 1;
    frame[OFF_HOP_LIMIT] = hopLimit - 1;
    let out: Uint8Array | null = frame;
    if (tamper) {
      out = tamper.change(frame, from);
      if (out) this.tampered.push(out.slice());
    }
    if (out && this.manager.sendTransport(next, out, this.manager.now())) this.forwarded++;
  }
}

// ---- the mesh -----------------------------------------------------------------------------

interface Mesh {
  a: MeshNode;
  c: MeshNode;
  b: Transit;
  tunA: MemoryTun;
  tunC: MemoryTun;
  keysA: KeyPair;
  keysB: KeyPair;
  keysC: KeyPair;
  /** C's interface index for B. */
  cLinkB: number;
  /** How long routing took to give A a two-hop route to C. */
  convergedMs: number;
}

async function mesh(t: TestContext): Promise<Mesh> {
  const keysA = generateKeyPair();
  const keysB = generateKeyPair();
  const keysC = generateKeyPair();
  const udpA = UdpSocket.open(6, '::1', 0);
  const udpC = UdpSocket.open(6, '::1', 0);
  const socketB = createSocket('udp6');
  await new Promise<void>((r) => socketB.bind(0, '::1', r));
  const b = new Transit(keysB, socketB);
  b.addNeighbour(LINK_A, keysA.publicKey, udpA.port);
  b.addNeighbour(LINK_C, keysC.publicKey, udpC.port);
  const toB = { family: 6 as const, address: '::1', port: socketB.address().port };
  const tunA = new MemoryTun();
  const tunC = new MemoryTun();
  // The ends' inbound filters are off: these tests are about what B can do in between.
  const ports = { filter: false, rules: [] };
  const a = new MeshNode({ identity: keysA, tun: tunA, sockets: [udpA], mtu: MTU, peers: [{ publicKey: keysB.publicKey, endpoint: toB }], ports });
  const c = new MeshNode({ identity: keysC, tun: tunC, sockets: [udpC], mtu: MTU, peers: [{ publicKey: keysB.publicKey, endpoint: toB }], ports });
  t.after(async () => {
    a.stop();
    c.stop();
    await b.close();
    udpA.close();
    udpC.close();
  });
  a.start();
  c.start();
  const idA = encodePeerId(keysA.publicKey);
  const idC = encodePeerId(keysC.publicKey);
  let convergedMs: number;
  try {
    convergedMs = await untilFast('A and C to route to each other through B', () => a.peerStatus(idC)?.hops === 2 && c.peerStatus(idA)?.hops === 2, 10_000);
  } catch (err) {
    const state = (name: string, router: Router, peers: Iterable<Peer>): string =>
      `${name}: routes ${JSON.stringify(router.routes().map((r) => ({ to: formatIPv6(r.address), hops: r.hops, link: r.link, label: [...r.label] })))}, ` +
      `routing ${JSON.stringify(router.counters)}, stats ${JSON.stringify(router.stats())}, sessions ${[...peers].map((p) => `${p.peerId.slice(-6)} up=${p.isUp}`).join(' ')}`;
    throw new Error(
      `${(err as Error).message}\n${state('A', a.routing.map, a.sessions.allPeers())}\n${state('B', b.router, b.manager.allPeers())}\n${state('C', c.routing.map, c.sessions.allPeers())}`,
    );
  }
  const cLinkB = c.sessions.getPeer(keysB.publicKey)!.link;
  assert.ok(cLinkB > 0);
  return { a, c, b, tunA, tunC, keysA, keysB, keysC, cLinkB, convergedMs };
}

/** Sends one packet from A to C and waits until C's TUN has it; returns what C got. */
async function deliver(m: Mesh, size: number, hopLimit = 64): Promise<{ sent: Uint8Array; got: Uint8Array }> {
  const before = m.tunC.written.length;
  const sent = packet(m.a.address, m.c.address, size, hopLimit);
  m.tunA.inject(sent);
  await untilFast(`C to receive a ${size}-byte packet`, () => m.tunC.written.length > before);
  assert.equal(m.tunC.written.length, before + 1, 'C received more than one packet');
  const got = m.tunC.written[before]!;
  // Every test packet has a size of its own: a packet that should not have arrived shows here.
  assert.equal(got.length, size, `C delivered a ${got.length}-byte packet, not the ${size}-byte one sent`);
  return { sent, got };
}

/** Has B change the next frame carrying A's `size`-byte packet, sends that packet, and waits until B did. */
async function tampered(m: Mesh, size: number, change: Tamper['change'], hopLimit = 64): Promise<Uint8Array> {
  const before = m.b.tampered.length;
  m.b.tamper = { match: dataFrom(size), change };
  try {
    m.tunA.inject(packet(m.a.address, m.c.address, size, hopLimit));
    await untilFast('B to tamper with the frame', () => m.b.tampered.length > before);
  } finally {
    m.b.tamper = null; // a frame that never came must not make B tamper with a later test's
  }
  return m.b.tampered[before]!;
}

// ---- the tests ----------------------------------------------------------------------------

test('a transit B between two real nodes forwards what it cannot read, alter or misdirect', async (t) => {
  const m = await mesh(t);
  const { a, b, c, tunA, tunC } = m;
  const idB = encodePeerId(m.keysB.publicKey);
  const idC = encodePeerId(m.keysC.publicKey);
  console.log(`# routing converged ${Math.round(m.convergedMs)} ms after the nodes started`);
  t.after(() => {
    assert.deepEqual(b.errors, [], 'the test transit threw');
    assert.equal(a.counters.internalErrors + c.counters.internalErrors, 0);
  });

  const route = a.peerStatus(idC)!;
  assert.deepEqual(route.route, [idB, idC]);
  assert.equal(route.origin, 'routed');

  await t.test('delivery: C gets the packet byte for byte, its hop limit one less', async () => {
    const forwardedBefore = b.forwarded;
    const first = await deliver(m, 333); // held while the end-to-end handshake runs through B
    const expected = first.sent.slice();
    expected[7] = 63;
    assert.deepEqual(first.got, expected);
    assert.equal(a.peerStatus(idC)!.state, 'connected', 'no end-to-end session A → C');
    // The handshake and the packet went through B, as routed frames B re-sealed.
    assert.ok(b.forwarded - forwardedBefore >= 3, `B forwarded ${b.forwarded - forwardedBefore} frames`);
    assert.ok(b.seen.some((s) => s.from === LINK_A && s.frame[OFF_HOP_LIMIT] === 64 && dataFrom(333)(s.frame, b.byLink.get(LINK_A)!)));

    for (const [hopLimit, arrives] of [
      [2, 1],
      [255, 254],
      [64, 63],
    ]) {
      const { sent, got } = await deliver(m, 1000, hopLimit);
      assert.equal(got[7], arrives, `hop limit ${hopLimit} arrived as ${got[7]}`);
      got[7] = hopLimit!;
      assert.deepEqual(got, sent);
    }
    // The largest packet the two-hop route carries (A's status says how large that is).
    const largest = a.peerStatus(idC)!.routeMtu;
    assert.equal(largest, MTU - routedHeaderLength(1) - 32);
    const { sent, got } = await deliver(m, largest);
    got[7]++;
    assert.deepEqual(got, sent);
    // One byte more does not fit: A says so itself (ICMPv6 packet too big), nothing goes out.
    const icmpBefore = tunA.written.length;
    const seenBefore = b.seen.length;
    const tooBig = packet(a.address, c.address, largest + 1);
    tunA.inject(tooBig);
    await untilFast('packet too big', () => tunA.written.length > icmpBefore);
    const icmp = tunA.written[icmpBefore]!;
    assert.equal(icmp[40], 2);
    assert.equal((icmp[44]! << 24) | (icmp[45]! << 16) | (icmp[46]! << 8) | icmp[47]!, largest);
    assert.deepEqual(icmp.subarray(48), tooBig.subarray(0, 1280 - 48), 'the error does not quote what fits of the packet');
    // A packet sent after it on the same path has arrived: had the big one gone out, B had it first.
    await deliver(m, 200);
    assert.ok(!b.seen.slice(seenBefore).some((s) => dataFrom(largest + 1)(s.frame, b.byLink.get(LINK_A)!)), 'A sent a packet too big for the route');
    assert.equal(c.counters.malformed + c.counters.decryptFailed + c.counters.badLabel, 0);
  });

  await t.test('B cannot read: its plaintext never shows the payload, and it holds no end-to-end session', async () => {
    await deliver(m, 700);
    const data = b.seen.filter((s) => s.from === LINK_A && dataFrom(700)(s.frame, b.byLink.get(LINK_A)!));
    assert.equal(data.length, 1, 'B did not carry the packet');
    assert.ok(b.seen.length >= 5);
    for (const { from, frame } of b.seen) {
      assert.equal(showsPattern(frame), false, `B read the payload in a frame from link ${from}`);
      // Nor the packet's addresses: the IPv6 header travels sealed too.
      assert.equal(contains(frame, a.address), false, "B saw A's address in a routed frame");
      assert.equal(contains(frame, c.address), false, "B saw C's address in a routed frame");
    }
    // What C delivered does carry the pattern: the search would have found it.
    assert.ok(showsPattern(tunC.written.at(-1)!));

    // B only ever had its two hop sessions.
    assert.deepEqual(
      [...b.manager.allPeers()].map((p) => p.peerId).sort(),
      [encodePeerId(m.keysA.publicKey), idC].sort(),
    );
    // It carried the end-to-end handshake but could not have answered it, even willing to accept
    // anyone: the initiation is for C's key, so its mac1 fails under B's.
    const initiation = b.seen.map((s) => e2eMessage(s.frame)).find((msg) => msg[0] === 1);
    assert.ok(initiation, 'B never carried the end-to-end initiation');
    assert.equal(initiation.length, 148);
    assert.ok(b.seen.some((s) => s.from === LINK_C && e2eMessage(s.frame)[0] === 2), "B never carried C's response");
    const counters = new Counters();
    const answered: Uint8Array[] = [];
    const accepted: Uint8Array[] = [];
    const attempt = new SessionManager(
      m.keysB,
      { sendDatagram: (_to, message) => answered.push(message.slice()), sessionUp: () => {}, sessionDown: () => {}, internalError: (err) => assert.fail(String(err)) },
      counters,
      { acceptPeer: (key) => (accepted.push(key), undefined) },
    );
    attempt.handleHandshake(initiation.slice(), encodeRoute(LINK_A, []));
    attempt.destroy();
    assert.equal(counters.invalidMac1, 1);
    assert.deepEqual(answered, []);
    assert.deepEqual(accepted, []);
  });

  await t.test('B cannot alter: a flipped ciphertext bit fails at C, nothing is delivered', async () => {
    const delivered = tunC.written.length;
    const failed = c.counters.decryptFailed;
    const out = await tampered(m, 444, (frame) => {
      frame[routedHeaderLength(frame[OFF_COUNT]!) + 16 + 21]! ^= 0x04;
      return frame;
    });
    // The rest of what B sent is an honest rewrite.
    assert.equal(out[OFF_POINTER], 1);
    assert.equal(readSlot(out, 0, 0), LINK_A);
    await untilFast('C to count the decryption failure', () => c.counters.decryptFailed === failed + 1);
    // The same for a bit of the tag, and a counter B changed (a different nonce).
    await tampered(m, 448, (frame) => {
      const message = e2eMessage(frame); // a view: the hop layer's padding follows it
      message[message.length - 1]! ^= 0x80;
      return frame;
    });
    await untilFast('C to count the second failure', () => c.counters.decryptFailed === failed + 2);
    await tampered(m, 452, (frame) => {
      // A counter far ahead (bit 20): the replay window lets it through to the decryption,
      // which fails under the wrong nonce.
      e2eMessage(frame)[8 + 2]! ^= 0x10;
      return frame;
    });
    await untilFast('C to count the third failure', () => c.counters.decryptFailed === failed + 3);
    // The session survives: the next honest packet goes through, and is the only one delivered.
    const { sent, got } = await deliver(m, 460);
    got[7]++;
    assert.deepEqual(got, sent);
    assert.equal(tunC.written.length, delivered + 1, 'C delivered a tampered packet');
  });

  await t.test('B cannot alter: a hop limit B raises in the clear is not what C delivers', async () => {
    const delivered = tunC.written.length;
    const raised = await tampered(
      m,
      470,
      (frame) => {
        frame[OFF_HOP_LIMIT] = 255;
        return frame;
      },
      9,
    );
    assert.equal(raised[OFF_HOP_LIMIT], 255);
    await untilFast('delivery', () => tunC.written.length === delivered + 1);
    const got = tunC.written[delivered]!;
    assert.equal(got[7], 9, 'a transit raised the hop limit');
    assert.deepEqual(got, packet(a.address, c.address, 470, 9));
  });

  await t.test('B cannot alter: a label or pointer made malformed is dropped and counted at C', async () => {
    const delivered = tunC.written.length;
    const malformed = c.counters.malformed;
    const variants: [string, Tamper['change']][] = [
      ['pointer past the label', (f) => ((f[OFF_POINTER] = f[OFF_COUNT]! + 1), f)],
      ['slot count past MAX_LABEL', (f) => ((f[OFF_COUNT] = 64), f)],
      ['payload length past the frame', (f) => ((f[OFF_PAYLOAD_LENGTH] = 0xff), f)],
      ['unknown kind', (f) => ((f[OFF_KIND] = 7), f)],
      ['frame cut short', (f) => f.slice(0, 6)],
    ];
    let n = 0;
    for (const [what, change] of variants) {
      await tampered(m, 480 + 4 * n, change);
      n++;
      await untilFast(`C to count the frame with ${what} as malformed`, () => c.counters.malformed === malformed + n);
    }
    await deliver(m, 500); // sent after them all: they have all been handled
    assert.equal(c.counters.malformed, malformed + variants.length);
    assert.equal(tunC.written.length, delivered + 1, 'C delivered a malformed frame');
    assert.equal(c.counters.forwarded, 0, 'C forwarded something');
  });

  await t.test('B cannot replay: an end-to-end message B sends again is dropped at C and counted', async () => {
    const delivered = tunC.written.length;
    const replayed = c.counters.replayed;
    const carried = await tampered(m, 560, (frame) => frame); // passed on unchanged; B keeps a copy
    await untilFast('delivery', () => tunC.written.length === delivered + 1);
    // Twice, each in a fresh hop message that C's hop layer accepts: only the end-to-end replay
    // window can refuse them.
    assert.ok(b.sendFrame(LINK_C, carried.slice()) && b.sendFrame(LINK_C, carried.slice()), 'B has no session with C');
    await deliver(m, 564); // after the replays on the same hop session: they have been handled
    assert.equal(c.counters.replayed, replayed + 2);
    assert.equal(tunC.written.length, delivered + 2, 'C delivered a replayed packet');
  });

  await t.test("a packet whose inner source is not its end-to-end session's node is dropped and counted at C", async () => {
    const delivered = tunC.written.length;
    const spoofed = c.counters.spoofedSource;
    // A seals for C whatever its TUN hands it: here a packet claiming to come from B.
    tunA.inject(packet(fcAddressBytes(m.keysB.publicKey), c.address, 580));
    await deliver(m, 584);
    assert.equal(c.counters.spoofedSource, spoofed + 1);
    assert.equal(tunC.written.length, delivered + 1, 'C delivered a packet with a forged source');
  });

  await t.test('a looping label: C drops a frame whose next slot leads back to B, and counts it', async () => {
    const delivered = tunC.written.length;
    const badLabel = c.counters.badLabel;
    const seenFromC = b.seen.filter((s) => s.from === LINK_C).length;
    let payload: Uint8Array | undefined;
    // B passes A's real packet on with one more slot, which names C's own link back to B.
    const looped = await tampered(m, 520, (frame) => {
      payload = e2eMessage(frame).slice();
      const out = new Uint8Array(routedHeaderLength(2) + frame.length - routedHeaderLength(1));
      writeRoutedHeader(out, 0, KIND_MESSAGE, frame[OFF_HOP_LIMIT]!, [LINK_A, m.cLinkB], payload.length);
      out.set(frame.subarray(routedHeaderLength(1)), routedHeaderLength(2));
      out[OFF_POINTER] = 1;
      return out;
    });
    assert.equal(checkRoutedHeader(looped, 0, looped.length), routedHeaderLength(2), 'the looped frame is well-formed');
    await untilFast('C to count the looping label', () => c.counters.badLabel === badLabel + 1);
    // A slot naming no link of C's is refused the same way.
    await tampered(m, 524, (frame) => {
      const out = new Uint8Array(routedHeaderLength(2) + frame.length - routedHeaderLength(1));
      writeRoutedHeader(out, 0, KIND_MESSAGE, frame[OFF_HOP_LIMIT]!, [LINK_A, 999], payloadLength(frame, 0));
      out.set(frame.subarray(routedHeaderLength(1)), routedHeaderLength(2));
      out[OFF_POINTER] = 1;
      return out;
    });
    await untilFast('C to count the unknown slot', () => c.counters.badLabel === badLabel + 2);
    // An honest packet afterwards: by the time it arrives C has long handled the looped frame.
    await deliver(m, 528);
    assert.equal(tunC.written.length, delivered + 1);
    assert.equal(c.counters.forwarded, 0, 'C forwarded the looped frame');
    const fromC = b.seen.filter((s) => s.from === LINK_C).slice(seenFromC);
    assert.ok(!fromC.some((s) => contains(s.frame, payload!)), 'C sent the looped frame back to B');
  });

  await t.test('hop limit: a packet sent with hop limit 1 expires at B, which reports it; A answers with ICMPv6 from B', async () => {
    const delivered = tunC.written.length;
    const icmpBefore = tunA.written.length;
    const expired = b.expired.length;
    const invalid = a.counters.invalidReport;
    const sent = packet(a.address, c.address, 540, 1);
    tunA.inject(sent);
    await untilFast('A to write the time-exceeded error', () => tunA.written.length > icmpBefore);
    // B found the hop limit in the clear header, as any transit can.
    const frame = findLast(b.seen, (s) => dataFrom(540)(s.frame, b.byLink.get(LINK_A)!));
    assert.ok(frame);
    assert.equal(frame.frame[OFF_HOP_LIMIT], 1);
    assert.equal(b.expired.length, expired + 1);

    assert.equal(tunA.written.length, icmpBefore + 1);
    const icmp = tunA.written[icmpBefore]!;
    assert.equal(icmp[0]! >> 4, 6);
    assert.equal(icmp[6], 58, 'not ICMPv6');
    assert.deepEqual(icmp.subarray(8, 24), fcAddressBytes(m.keysB.publicKey), "the error is not from B's address");
    assert.deepEqual(icmp.subarray(24, 40), a.address);
    assert.equal(icmp[40], ICMP_TIME_EXCEEDED);
    assert.equal(icmp[41], 0, 'not "hop limit exceeded in transit"');
    assert.equal(icmpChecksum(icmp, 0, icmp.length - 40), 0, 'bad ICMPv6 checksum');
    assert.deepEqual(icmp.subarray(48), sent, 'the error does not quote the packet');
    assert.equal(a.counters.invalidReport, invalid);
    await deliver(m, 564); // along the same path after it
    assert.equal(tunC.written.length, delivered + 1, 'the expired packet reached C');

    // A report about the same frame again finds no probe: one error per probe.
    const reported = b.expired[expired]!;
    b.report(reported.back, reported.header);
    // A report is judged in one step: counted as invalid, or answered.
    await untilFast('A to refuse the repeated report', () => a.counters.invalidReport === invalid + 1);
    assert.equal(tunA.written.length, icmpBefore + 1);
  });

  await t.test('hop limit: a report signed by another key than the one it names is ignored', async () => {
    const icmpBefore = tunA.written.length;
    const invalid = a.counters.invalidReport;
    // B signs, but names C as the node where the hop limit ran out.
    b.reportSigner = { publicKey: m.keysC.publicKey, privateKey: m.keysB.privateKey };
    const expired = b.expired.length;
    const sent = packet(a.address, c.address, 560, 1);
    try {
      tunA.inject(sent);
      await untilFast('A to refuse the forged report', () => a.counters.invalidReport === invalid + 1);
    } finally {
      b.reportSigner = m.keysB;
    }
    assert.equal(tunA.written.length, icmpBefore, 'A believed a forged report');
    assert.equal(b.expired.length, expired + 1);
    // The forgery did not use up the probe: B's own, honest report about it is still answered.
    const { back, header } = b.expired.at(-1)!;
    b.report(back, header);
    await untilFast('A to answer the honest report', () => tunA.written.length === icmpBefore + 1);
    const icmp = tunA.written[icmpBefore]!;
    assert.deepEqual(icmp.subarray(8, 24), fcAddressBytes(m.keysB.publicKey));
    assert.deepEqual(icmp.subarray(48), sent);
    assert.equal(a.counters.invalidReport, invalid + 1);

    // Nor can B make A report ordinary traffic: a well-signed report about a packet that did not
    // expire (it was delivered) matches no probe.
    const { sent: ordinary } = await deliver(m, 580);
    const frame = findLast(b.seen, (s) => dataFrom(580)(s.frame, b.byLink.get(LINK_A)!))!;
    b.report(reverseRoute(frame.frame, 0, LINK_A), e2eMessage(frame.frame).slice(0, MESSAGE_HEADER));
    await untilFast('A to refuse the report about ordinary traffic', () => a.counters.invalidReport === invalid + 2);
    assert.equal(tunA.written.length, icmpBefore + 1, `A wrote an error about a ${ordinary.length}-byte packet that was not a probe`);
  });
});
