// Batched UDP over loopback (127.0.0.1 and ::1): sendmmsg of mixed-family batches, readiness
// from the poll callback, recvmmsg with the right senders and bytes, truncation, sendTo, stop
// and close; plus the endpoint-area codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { addonPath, native } from '../../src/native/addon.js';
import { DATAGRAM_OFFSET, PacketBatch } from '../../src/transport/batch.js';
import { UdpSocket, decodeEndpoint, encodeEndpoint, formatEndpoint, type Endpoint } from '../../src/transport/udp.js';

const TIMEOUT_MS = 5000;

/** Resolves on the socket's next readable callback; rejects after TIMEOUT_MS. */
function readable(sock: UdpSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.stop();
      reject(new Error(`no readable callback within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    sock.onReadable((error) => {
      clearTimeout(timer);
      sock.stop();
      if (error) reject(error);
      else resolve();
    });
  });
}

/** One full turn of the event loop, poll phase included. */
const loopTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Receives until `want` datagrams arrived, waiting on the poll callback whenever the queue is empty. */
async function receiveAll(sock: UdpSocket, want: number, batch: PacketBatch): Promise<{ from: Endpoint; bytes: Buffer }[]> {
  const got: { from: Endpoint; bytes: Buffer }[] = [];
  while (got.length < want) {
    const n = sock.readBatch(batch);
    if (n === 0) {
      await readable(sock);
      continue;
    }
    for (let i = 0; i < n; i++) {
      got.push({ from: decodeEndpoint(batch.data, batch.slot(i)), bytes: Buffer.from(batch.packet(i, DATAGRAM_OFFSET)) });
    }
  }
  return got;
}

const payload = (i: number): Buffer => Buffer.alloc(1 + ((i * 97) % 1400), (i * 31 + 7) & 0xff);

test('a 64-datagram batch over both families arrives with its senders and bytes', async () => {
  const a4 = UdpSocket.open(4, '127.0.0.1');
  const b4 = UdpSocket.open(4, '127.0.0.1');
  const a6 = UdpSocket.open(6, '::1');
  const b6 = UdpSocket.open(6, '::1');
  try {
    assert.ok(a4.port > 0 && b4.port > 0 && a6.port > 0 && b6.port > 0 && a4.port !== b4.port);
    const out = new PacketBatch(64, 1536);
    const to4: Endpoint = { family: 4, address: '127.0.0.1', port: b4.port };
    const to6: Endpoint = { family: 6, address: '::1', port: b6.port };
    // Runs of each family, so the native side has to split the batch into several sendmmsg groups.
    const family = (i: number): 4 | 6 => ((i >> 3) % 2 === 0 ? 4 : 6);
    for (let i = 0; i < 64; i++) {
      encodeEndpoint(family(i) === 4 ? to4 : to6, out.data, out.slot(i));
      const p = payload(i);
      out.data.set(p, out.slot(i) + DATAGRAM_OFFSET);
      out.lens[i] = p.length;
    }
    assert.equal(UdpSocket.sendBatch(a4, a6, out, 64), 64);

    const inBatch = new PacketBatch(16, 1536); // smaller than the burst: several reads
    const got4 = await receiveAll(b4, 32, inBatch);
    const got6 = await receiveAll(b6, 32, inBatch);
    const sent = (fam: 4 | 6) => [...Array(64).keys()].filter((i) => family(i) === fam).map(payload);
    assert.deepEqual(got4.map((g) => g.bytes), sent(4));
    assert.deepEqual(got6.map((g) => g.bytes), sent(6));
    for (const g of got4) assert.deepEqual(g.from, { family: 4, address: '127.0.0.1', port: a4.port });
    for (const g of got6) assert.deepEqual(g.from, { family: 6, address: '::1', port: a6.port });
    assert.equal(b4.readBatch(inBatch), 0, 'nothing extra');
  } finally {
    for (const s of [a4, b4, a6, b6]) s.close();
  }
});

test('empty slots and families without a socket are skipped', async () => {
  const a = UdpSocket.open(6, '::1');
  const b = UdpSocket.open(6, '::1');
  try {
    const out = new PacketBatch(4, 256);
    for (let i = 0; i < 4; i++) {
      encodeEndpoint({ family: i === 2 ? 4 : 6, address: i === 2 ? '127.0.0.1' : '::1', port: b.port }, out.data, out.slot(i));
      out.data[out.slot(i) + DATAGRAM_OFFSET] = i;
      out.lens[i] = i === 1 ? 0 : 1;
    }
    assert.equal(UdpSocket.sendBatch(null, a, out, 4), 2);
    const got = await receiveAll(b, 2, new PacketBatch(4, 256));
    assert.deepEqual(got.map((g) => g.bytes[0]), [0, 3]);
  } finally {
    a.close();
    b.close();
  }
});

test('a datagram longer than its slot is reported with length 0; sendTo works', async () => {
  const a = UdpSocket.open(4, '127.0.0.1');
  const b = UdpSocket.open(4, '127.0.0.1');
  try {
    const to: Endpoint = { family: 4, address: '127.0.0.1', port: b.port };
    const big = Buffer.alloc(300, 1);
    assert.equal(a.sendTo(big, 0, 300, to), true);
    assert.equal(a.sendTo(Buffer.from('xhello'), 1, 5, encodeEndpoint(to)), true);
    const small = new PacketBatch(4, DATAGRAM_OFFSET + 200);
    const got = await receiveAll(b, 2, small);
    assert.deepEqual(got.map((g) => g.bytes.toString()), ['', 'hello']);
    assert.deepEqual(got[1].from, { family: 4, address: '127.0.0.1', port: a.port });
    assert.throws(() => a.sendTo(big, 0, 10, { family: 6, address: '::1', port: b.port }), TypeError, 'family mismatch');
  } finally {
    a.close();
    b.close();
  }
});

test('stop silences the callback, pollStop is idempotent, close frees the fd', async () => {
  const a = UdpSocket.open(4, '127.0.0.1');
  const b = UdpSocket.open(4, '127.0.0.1');
  const to: Endpoint = { family: 4, address: '127.0.0.1', port: b.port };
  const one = new Uint8Array([1]);
  const batch = new PacketBatch(4, 256);
  let calls = 0;
  b.onReadable(() => {
    calls++;
    b.readBatch(batch); // drain, or the level-triggered poll fires again
  });
  // Loopback delivers inside the send call, so one loop turn is enough to see the callback.
  a.sendTo(one, 0, 1, to);
  await loopTurn();
  await loopTurn();
  assert.equal(calls, 1, 'the active poll fired once');

  b.stop();
  a.sendTo(one, 0, 1, to);
  await loopTurn();
  await loopTurn();
  assert.equal(calls, 1, 'no callback after stop');
  assert.equal(b.readBatch(batch), 1, 'yet the datagram was there to be seen');

  const handle = native.poll(b.fd, () => assert.fail('stopped poll fired'));
  native.pollStop(handle);
  native.pollStop(handle);
  assert.throws(() => native.pollStop({} as never), TypeError);

  const fd = b.fd;
  b.close();
  b.close();
  assert.equal(b.fd, -1);
  assert.throws(() => b.readBatch(batch), /closed/);
  assert.throws(() => native.closeFd(fd), { code: 'EBADF' });
  a.close();
});

test('a worker that exits with a poll still active tears down cleanly', async () => {
  // A worker's loop refuses to close with an open handle (Node aborts): the addon's cleanup
  // hook must close it. The worker opens a socket, polls it, and exits without stopping.
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const m = require(workerData.addonPath);
    const s = m.udpOpen(4, new Uint8Array([127, 0, 0, 1]), 0, 0);
    m.poll(s.fd, () => {});
    m.aeadKey(new Uint8Array(32), true); // left for the environment teardown to free
    parentPort.postMessage(s.fd);
    process.exit(7);`;
  const worker = new Worker(code, { eval: true, workerData: { addonPath } });
  const fd = new Promise<number>((resolve) => worker.once('message', resolve));
  const exitCode = await new Promise<number>((resolve, reject) => {
    worker.once('exit', resolve);
    worker.once('error', reject);
  });
  assert.equal(exitCode, 7);
  native.closeFd(await fd); // fds belong to the process, not the worker
});

test('batch arguments are bounds-checked', () => {
  const a = UdpSocket.open(4, '127.0.0.1');
  try {
    const batch = new PacketBatch(2, 128);
    const { data, lens } = batch;
    assert.throws(() => native.udpRecvBatch(a.fd, data, 128, 16, lens, 2), RangeError, 'offset inside the endpoint area');
    assert.throws(() => native.udpRecvBatch(a.fd, data, 128, 32, lens, 3), RangeError, 'max beyond the slots');
    lens[0] = 97;
    assert.throws(() => native.udpSendBatch(a.fd, -1, data, 128, 32, lens, 1), RangeError, 'length beyond the slot');
    assert.throws(() => native.udpSendBatch(-2, -1, data, 128, 32, lens, 0), RangeError, 'bad fd');
    assert.throws(() => native.udpSendTo(a.fd, data, 250, 7, data), RangeError);
    assert.throws(() => native.udpOpen(4, new Uint8Array(16), 0, 0), RangeError);
    assert.throws(() => native.udpOpen(4, new Uint8Array(4), 65536, 0), RangeError);
    assert.throws(() => UdpSocket.open(4, '127.0.0.1', a.port), { code: 'EADDRINUSE' });
  } finally {
    a.close();
  }
});

test('endpoint areas encode and decode', () => {
  const cases: Endpoint[] = [
    { family: 4, address: '192.0.2.1', port: 7777 },
    { family: 4, address: '0.0.0.0', port: 0 },
    { family: 6, address: '::', port: 65535 },
    { family: 6, address: '2001:db8::1:0:0:1', port: 1 },
    { family: 6, address: 'fe80::1', port: 443, scopeId: 0x01020304 },
    { family: 6, address: '::ffff:192.0.2.1', port: 53 },
  ];
  for (const ep of cases) {
    const area = encodeEndpoint(ep);
    assert.equal(area.length, 32);
    assert.deepEqual(decodeEndpoint(area), ep);
  }
  const area = encodeEndpoint({ family: 6, address: 'fe80::1', port: 0x1234, scopeId: 0x01020304 });
  assert.deepEqual([...area.subarray(0, 4)], [6, 0, 0x12, 0x34]);
  assert.deepEqual([...area.subarray(20, 24)], [4, 3, 2, 1]);
  assert.deepEqual([...area.subarray(24)], new Array(8).fill(0));
  assert.deepEqual([...encodeEndpoint({ family: 4, address: '10.1.2.3', port: 80 })].slice(0, 9), [4, 0, 0, 80, 10, 1, 2, 3, 0]);
  const inSlot = new Uint8Array(100).fill(0xee);
  encodeEndpoint({ family: 6, address: '2001:DB8:0:0:0:0:0:1', port: 9 }, inSlot, 40);
  assert.deepEqual(decodeEndpoint(inSlot, 40), { family: 6, address: '2001:db8::1', port: 9 });
  assert.equal(inSlot[39], 0xee, 'writes only its 32 bytes');
  assert.equal(inSlot[72], 0xee);
  assert.equal(formatEndpoint({ family: 6, address: '::1', port: 5 }), '[::1]:5');
  assert.throws(() => encodeEndpoint({ family: 4, address: '::1', port: 1 }), TypeError);
  assert.throws(() => encodeEndpoint({ family: 6, address: '1.2.3.4', port: 1 }), TypeError);
  assert.throws(() => encodeEndpoint({ family: 6, address: 'fe80::1%eth0', port: 1 }), TypeError);
  assert.throws(() => encodeEndpoint({ family: 4, address: '1.2.3.4', port: 70000 }), RangeError);
  assert.throws(() => decodeEndpoint(new Uint8Array(32)), RangeError);
});
