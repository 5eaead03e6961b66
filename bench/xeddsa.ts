// XEdDSA cost (src/keys/xeddsa.ts): the two ways to verify — node:crypto Ed25519 with a cached
// KeyObject, and @noble/curves ed25519.verify (strict, RFC 8032 decoding) — the cost of a key's
// first use (conversion to Edwards, small-order check, JWK import), the whole xeddsaVerify, and
// signing. Prints µs per operation and operations/s; about SECONDS (default 2) s per case.
// Run (after `npm install`):
//   npx esbuild --bundle --platform=node --format=esm --packages=external bench/xeddsa.ts --outfile=dist/bench/xeddsa.js && node dist/bench/xeddsa.js
import { createPublicKey, randomBytes, verify as cryptoVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { measure as measureFor } from './measure.js';
import { edwardsPublicKey, xeddsaSign, xeddsaVerify } from '../src/keys/xeddsa.js';
import { randomKeyPair } from '../src/keys/x25519.js';

const SECONDS = Number(process.env.SECONDS ?? 2);
// A full-size announcement (50 links) with the signing prefix: what the router verifies.
const MESSAGE = new Uint8Array(randomBytes(24 + 47 + 50 * 20));

const measure = (step: () => void): number => measureFor(step, SECONDS);

const pair = randomKeyPair();
const signature = xeddsaSign(pair.privateKey, MESSAGE);
const edKey = edwardsPublicKey(pair.publicKey)!;
const importKey = (ed: Uint8Array) =>
  createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(ed).toString('base64url') }, format: 'jwk' });
const keyObject = importKey(edKey);
if (!cryptoVerify(null, MESSAGE, keyObject, signature)) throw new Error('node:crypto refuses the signature');
if (!ed25519.verify(signature, MESSAGE, edKey, { zip215: false })) throw new Error('noble refuses the signature');

// Distinct public keys for first-use costs (each is looked up once per run of the case).
const manyKeys = Array.from({ length: 2000 }, () => randomKeyPair().publicKey);
let next = 0;

const cases: { name: string; step: () => void }[] = [
  { name: 'node:crypto verify, cached KeyObject', step: () => void cryptoVerify(null, MESSAGE, keyObject, signature) },
  {
    name: '@noble/curves ed25519.verify (zip215: false)',
    step: () => void ed25519.verify(signature, MESSAGE, edKey, { zip215: false }),
  },
  { name: 'xeddsaVerify (cached key)', step: () => void xeddsaVerify(pair.publicKey, MESSAGE, signature) },
  {
    name: 'edwardsPublicKey: convert and check a new key',
    step: () => void edwardsPublicKey(manyKeys[next++ % manyKeys.length]!),
  },
  {
    name: 'first use of a key: convert, check, JWK import',
    step: () => {
      importKey(edwardsPublicKey(manyKeys[next++ % manyKeys.length]!)!);
    },
  },
  { name: 'xeddsaSign', step: () => void xeddsaSign(pair.privateKey, MESSAGE) },
];

console.log(`message ${MESSAGE.length} bytes, ${SECONDS} s per case`);
for (const c of cases) {
  const ops = measure(c.step);
  const us = (1e6 / ops).toFixed(1).padStart(8);
  console.log(`${c.name.padEnd(48)} ${us} µs ${Math.round(ops).toString().padStart(8)} /s`);
}
