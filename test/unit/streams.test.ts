// Datagrams over TCP and TLS (transport/streams.ts, stream-frames.ts): the framing taken apart at
// every byte boundary, two nodes linked over real loopback connections, and what a stranger's bad
// connections are allowed to cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { MeshNode, MAX_DATAGRAM_BYTES } from '../../src/node/node.js';
import { MemoryTun } from '../../src/tun/memory.js';
import { FrameReader, PREAMBLE, StreamCounters, writeFrame } from '../../src/transport/stream-frames.js';
import { StreamTransport, type StreamLimits } from '../../src/transport/streams.js';
import { selfSignedIdentity } from '../../src/transport/self-signed.js';
import { until } from '../wait.js';

function framed(...datagrams: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(PREAMBLE.length + datagrams.reduce((n, d) => n + 2 + d.length, 0));
  out.set(PREAMBLE);
  let at = PREAMBLE.length;
  for (const d of datagrams) at = writeFrame(out, at, d);
  return out;
}

test('frames come out whole however the stream is cut, an empty or oversized one is counted and skipped', () => {
  assert.equal(MAX_DATAGRAM_BYTES, 9056, 'docs/PROTOCOL.md §8 gives the largest datagram read');
  const a = new Uint8Array(300).fill(1);
  const big = new Uint8Array(200).fill(9); // over the reader's limit of 100
  const b = new Uint8Array(100).fill(2); // just within it
  const stream = framed(a.subarray(0, 50), new Uint8Array(0), big, b, a.subarray(0, 1));
  for (let cut = 0; cut <= stream.length; cut++) {
    for (const step of [1, 3, 7, stream.length]) {
      const counters = new StreamCounters();
      const got: number[][] = [];
      const reader = new FrameReader(100, counters, (d) => got.push([d.length, d[0]!]));
      const pieces = [stream.subarray(0, cut)];
      for (let i = cut; i < stream.length; i += step) pieces.push(stream.subarray(i, Math.min(stream.length, i + step)));
      for (const piece of pieces) assert.equal(reader.push(piece), true);
      assert.deepEqual(got, [[50, 1], [100, 2], [1, 1]], `cut at ${cut}, step ${step}`);
      assert.equal(counters.emptyFrames, 1);
      assert.equal(counters.oversizedFrames, 1);
      assert.equal(reader.midFrame, false);
    }
  }
  const counters = new StreamCounters();
  const reader = new FrameReader(100, counters, () => {});
  assert.equal(reader.push(stream.subarray(0, PREAMBLE.length + 10)), true);
  assert.equal(reader.midFrame, true, 'a stream cut mid-frame is not noticed');
  assert.equal(new FrameReader(100, counters, () => {}).push(new TextEncoder().encode('GET / HTTP/1.1\r\n')), false);
  assert.equal(counters.badPreamble, 1);
});

interface Pair {
  a: MeshNode;
  b: MeshNode;
  tunA: MemoryTun;
  tunB: MemoryTun;
  streamsB: StreamTransport;
  port: number;
  close(): void;
}

/** A and B, each with stream transports of `kind`; B listens on 127.0.0.1, A lists B there and has no UDP at all. */
async function pair(kind: 'tcp' | 'tls', limits: Partial<StreamLimits> = {}): Promise<Pair> {
  const keysA = generateKeyPair();
  const keysB = generateKeyPair();
  const streamsA = new StreamTransport({ kind, maxDatagram: MAX_DATAGRAM_BYTES });
  const streamsB = new StreamTransport({ kind, maxDatagram: MAX_DATAGRAM_BYTES, identity: selfSignedIdentity(), limits });
  const port = await streamsB.listen(4, '127.0.0.1', 0);
  const tunA = new MemoryTun();
  const tunB = new MemoryTun();
  const a = new MeshNode({
    identity: keysA,
    tun: tunA,
    sockets: [],
    transports: [streamsA],
    mtu: 1420,
    peers: [{ publicKey: keysB.publicKey, endpoint: null, addresses: [{ endpoint: { family: 4, address: '127.0.0.1', port, transport: kind }, text: `/ip4/127.0.0.1/tcp/${port}${kind === 'tls' ? '/tls' : ''}` }] }],
  });
  // B knows A but not where it is: it answers over the connection A makes.
  const b = new MeshNode({ identity: keysB, tun: tunB, sockets: [], transports: [streamsB], mtu: 1420, peers: [{ publicKey: keysA.publicKey, endpoint: null }] });
  a.start();
  b.start();
  return {
    a,
    b,
    tunA,
    tunB,
    streamsB,
    port,
    close: () => {
      a.stop();
      b.stop();
      streamsA.close();
      streamsB.close();
    },
  };
}

/** An ICMPv6 echo request from `src` to `dst` (checksum left zero: the nodes do not check it). */
function echo(src: Uint8Array, dst: Uint8Array, size = 64, fill = 0xab): Uint8Array {
  const p = new Uint8Array(40 + size);
  p[0] = 0x60;
  p[4] = size >> 8;
  p[5] = size & 0xff;
  p[6] = 58;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  p[40] = 128;
  p.fill(fill, 48);
  return p;
}

for (const kind of ['tcp', 'tls'] as const) {
  test(`two nodes linked over ${kind.toUpperCase()} on loopback carry packets both ways, full size too`, async (t) => {
    const p = await pair(kind);
    t.after(() => p.close());
    p.tunA.inject(echo(p.a.address, p.b.address));
    await until('delivery over the stream', () => p.tunB.written.length === 1);
    assert.equal(p.b.peerStatus(p.a.peerId)?.endpoint?.endsWith(` ${kind}`), true, `B's endpoint for A: ${p.b.peerStatus(p.a.peerId)?.endpoint}`);
    const full = echo(p.b.address, p.a.address, 1420 - 40, 0xcd);
    p.tunB.inject(full);
    await until('the reply', () => p.tunA.written.length === 1);
    assert.deepEqual(p.tunA.written[0], full);
    assert.equal(p.b.peerStatus(p.a.peerId)?.state, 'connected');
    assert.deepEqual({ ...p.streamsB.counters.snapshot(), accepted: 0 }, { ...new StreamCounters().snapshot() }, 'B counted something wrong');
  });
}

test('bad connections are closed and counted, within caps and timeouts; the link keeps working', async (t) => {
  // Time to start: long enough for a whole wave of connections to be accepted or refused first.
  const p = await pair('tls', { maxStarting: 16, maxStartingPerAddress: 4, startTimeoutMs: 2000 });
  t.after(() => p.close());
  p.tunA.inject(echo(p.a.address, p.b.address));
  await until('the link up', () => p.tunB.written.length === 1);
  const counters = p.streamsB.counters;
  const sockets: Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  const open = (from = '127.0.0.1'): Socket => {
    const s = tcpConnect({ host: '127.0.0.1', port: p.port, localAddress: from });
    s.on('error', () => {});
    sockets.push(s);
    return s;
  };

  // 1000 connections that never say anything: 4 are let in from one address, the rest refused
  // at once; those 4 are closed when their time to start runs out.
  let accepted = counters.accepted;
  for (let i = 0; i < 1000; i++) open();
  await until('1000 half-open connections dealt with', () => counters.refused + (counters.accepted - accepted) === 1000, 20_000);
  assert.equal(counters.accepted - accepted, 4, 'more than 4 at once from one address');
  await until('their time runs out', () => counters.handshakeTimeouts >= 4 && p.streamsB.startingCount === 0, 10_000).catch((e) => assert.fail(`${e.message}: starting ${p.streamsB.startingCount}, ${JSON.stringify(counters.snapshot())}`));
  // From ten addresses (all loopback) at once: 16 in all are let in, not 40.
  accepted = counters.accepted;
  const refused = counters.refused;
  for (let i = 0; i < 1000; i++) open(`127.0.0.${1 + (i % 10)}`);
  await until('1000 more from ten addresses dealt with', () => counters.refused - refused + (counters.accepted - accepted) === 1000, 20_000);
  assert.equal(counters.accepted - accepted, 16, 'more than 16 starting at once');
  await until('their time runs out too', () => counters.handshakeTimeouts >= 20, 10_000);
  assert.ok(p.streamsB.connectionCount <= 2, `connections left: ${p.streamsB.connectionCount}`);

  // The link still carries packets.
  p.tunA.inject(echo(p.a.address, p.b.address));
  await until('the link after the flood', () => p.tunB.written.length === 2);

  // Not TLS at all: closed after the TLS layer gives up on it.
  const plain = open();
  plain.write(PREAMBLE);
  await until('a plain TCP client refused by the TLS listener', () => plain.destroyed || plain.readyState === 'closed', 5000);
  assert.ok(p.b.peerStatus(p.a.peerId)?.state === 'connected');
});

test('over plain TCP: a silent connection, a wrong preamble, a truncated frame and an oversized one are counted; the link keeps working', async (t) => {
  const p = await pair('tcp', { startTimeoutMs: 300 });
  t.after(() => p.close());
  p.tunA.inject(echo(p.a.address, p.b.address));
  await until('the link up', () => p.tunB.written.length === 1);
  const counters = p.streamsB.counters;
  const send = (bytes: Uint8Array, end = true): Promise<void> =>
    new Promise((resolve) => {
      const s = tcpConnect({ host: '127.0.0.1', port: p.port }, () => {
        s.write(bytes);
        if (end) s.end();
      });
      s.on('error', () => {});
      s.on('close', () => resolve());
      s.resume();
      if (!end) setTimeout(() => s.destroy(), 50).unref();
    });
  const silent = tcpConnect({ host: '127.0.0.1', port: p.port });
  silent.on('error', () => {});
  silent.resume();
  t.after(() => silent.destroy());
  await until('a silent connection closed when its time to start runs out', () => counters.handshakeTimeouts === 1 && silent.readyState === 'closed', 5000);
  await send(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  await until('bad preamble counted', () => counters.badPreamble === 1);
  const head = framed(new Uint8Array(40));
  await send(head.subarray(0, head.length - 5));
  await until('truncated frame counted', () => counters.truncatedFrames === 1);
  const oversized = new Uint8Array(PREAMBLE.length + 2);
  oversized.set(PREAMBLE);
  oversized[PREAMBLE.length] = 0xff;
  oversized[PREAMBLE.length + 1] = 0xff;
  await send(oversized);
  await until('oversized frame counted', () => counters.oversizedFrames === 1);
  // Junk datagrams in good frames reach the session layer, which drops them as malformed.
  await send(framed(new Uint8Array([9, 9, 9]), new Uint8Array([1])));
  await until('junk counted by the node', () => p.b.counters.malformed >= 2);
  p.tunA.inject(echo(p.a.address, p.b.address));
  await until('the link after the junk', () => p.tunB.written.length === 2);
});
