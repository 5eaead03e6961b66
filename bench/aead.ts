// Per-packet ChaCha20-Poly1305 cost on 1400-byte packets: the native addon (one call per packet,
// and batches of 64) against node:crypto (a Cipher object per packet) and @noble/ciphers.
// Prints packets/s, µs/packet and the ratio to node:crypto; about 2 s per case.
// Run (after `npm install`):
//   npx esbuild --bundle --platform=node --format=esm --packages=external bench/aead.ts --outfile=dist/bench/aead.js && node dist/bench/aead.js
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { AeadKey, openBatch, sealBatch } from '../src/session/aead.js';
import { PacketBatch, TUN_OFFSET } from '../src/transport/batch.js';
import { TAG_SIZE } from '../src/util/protocol.js';

const SIZE = 1400;
const BATCH = 64;
const SECONDS = Number(process.env.SECONDS ?? 2);

const key = randomBytes(32);
const plaintext = randomBytes(SIZE);
const nonce = Buffer.alloc(12);
const setNonce = (counter: number): Buffer => {
  nonce.writeUInt32LE(counter >>> 0, 4);
  nonce.writeUInt32LE(Math.floor(counter / 2 ** 32), 8);
  return nonce;
};

/** Runs `step` (which handles `per` packets) for SECONDS after a short warm-up; returns packets/s. */
function measure(step: () => void, per: number): number {
  const until = (ms: number): number => {
    let n = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      for (let i = 0; i < 16; i++) step();
      n += 16 * per;
    }
    return n;
  };
  until(200);
  const start = performance.now();
  const packets = until(SECONDS * 1000);
  return packets / ((performance.now() - start) / 1000);
}

// ---- the cases --------------------------------------------------------------------------

const tx = new AeadKey(key, true);
const rx = new AeadKey(key, false);
let counter = 0;

// One packet with its tag, sealed at counter 1, as the input every open starts from.
const sealed = new Uint8Array(SIZE + TAG_SIZE);
sealed.set(plaintext);
tx.seal(1, sealed, 0, SIZE);
const work = new Uint8Array(SIZE + TAG_SIZE);

const batch = new PacketBatch(BATCH, 2048);
for (let i = 0; i < BATCH; i++) {
  batch.data.set(plaintext, batch.slot(i) + TUN_OFFSET);
  batch.ids[i] = tx.id;
}
const sealedBatch = new PacketBatch(BATCH, 2048);
for (let i = 0; i < BATCH; i++) {
  sealedBatch.data.set(sealed, sealedBatch.slot(i) + TUN_OFFSET);
  sealedBatch.ids[i] = rx.id;
  sealedBatch.counters[i] = 1;
}

const nodeTag = (() => {
  const c = createCipheriv('chacha20-poly1305', key, setNonce(1), { authTagLength: 16 });
  c.update(plaintext);
  c.final();
  return c.getAuthTag();
})();
const nodeCiphertext = Buffer.from(sealed.subarray(0, SIZE));
if (!nodeTag.equals(sealed.subarray(SIZE))) throw new Error('addon and node:crypto disagree');
const nobleOut = new Uint8Array(SIZE + TAG_SIZE);

const cases: { name: string; kind: 'seal' | 'open'; per: number; step: () => void }[] = [
  {
    name: 'node:crypto createCipheriv per packet',
    kind: 'seal',
    per: 1,
    step: () => {
      const c = createCipheriv('chacha20-poly1305', key, setNonce(++counter), { authTagLength: 16 });
      c.update(plaintext);
      c.final();
      c.getAuthTag();
    },
  },
  {
    name: 'addon aeadSeal, one call per packet',
    kind: 'seal',
    per: 1,
    step: () => {
      // Sealing in place keeps encrypting the last output: the cost is the same.
      tx.seal(++counter, work, 0, SIZE);
    },
  },
  {
    name: `addon aeadSealBatch, ${BATCH} per call`,
    kind: 'seal',
    per: BATCH,
    step: () => {
      for (let i = 0; i < BATCH; i++) batch.counters[i] = ++counter;
      batch.lens.fill(SIZE);
      sealBatch(batch, BATCH, TUN_OFFSET);
    },
  },
  {
    name: '@noble/ciphers chacha20poly1305',
    kind: 'seal',
    per: 1,
    step: () => {
      chacha20poly1305(key, setNonce(++counter)).encrypt(plaintext, nobleOut);
    },
  },
  {
    name: 'node:crypto createDecipheriv per packet',
    kind: 'open',
    per: 1,
    step: () => {
      const d = createDecipheriv('chacha20-poly1305', key, setNonce(1), { authTagLength: 16 });
      d.setAuthTag(nodeTag);
      d.update(nodeCiphertext);
      d.final();
    },
  },
  {
    name: 'addon aeadOpen, one call per packet (+ copy in)',
    kind: 'open',
    per: 1,
    step: () => {
      work.set(sealed); // opening is in place: start from the ciphertext each time
      if (rx.open(1, work, 0, SIZE + TAG_SIZE) !== SIZE) throw new Error('open failed');
    },
  },
  {
    name: `addon aeadOpenBatch, ${BATCH} per call (+ copy in)`,
    kind: 'open',
    per: BATCH,
    step: () => {
      batch.data.set(sealedBatch.data);
      batch.lens.fill(SIZE + TAG_SIZE);
      batch.ids.set(sealedBatch.ids);
      batch.counters.fill(1);
      openBatch(batch, BATCH, TUN_OFFSET);
      if (batch.lens[BATCH - 1] !== SIZE) throw new Error('batch open failed');
    },
  },
  {
    name: '@noble/ciphers chacha20poly1305',
    kind: 'open',
    per: 1,
    step: () => {
      chacha20poly1305(key, setNonce(1)).decrypt(sealed, nobleOut.subarray(0, SIZE));
    },
  },
];

console.log(`ChaCha20-Poly1305, ${SIZE}-byte packets, ${SECONDS} s per case, node ${process.versions.node}, OpenSSL ${process.versions.openssl}`);
const baseline: Record<string, number> = {};
const rows: string[][] = [['op', 'implementation', 'packets/s', 'µs/packet', 'Gbit/s', 'vs node:crypto']];
for (const c of cases) {
  const rate = measure(c.step, c.per);
  baseline[c.kind] ??= rate; // each kind lists node:crypto first
  rows.push([c.kind, c.name, `${(rate / 1000).toFixed(0)}k`, (1e6 / rate).toFixed(2), ((rate * SIZE * 8) / 1e9).toFixed(2), `${(rate / baseline[c.kind]).toFixed(2)}x`]);
}
const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
for (const r of rows) console.log(r.map((cell, col) => (col < 2 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  '));
tx.destroy();
rx.destroy();
