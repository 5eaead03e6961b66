// Full handshakes per second on one core (src/noise/handshake.ts): the initiator's initiation,
// the responder's reading of it and its response, the initiator's reading of the response. Each
// side's share is timed too: the responder's is what a node pays per peer that connects to it
// (mac1 and cookies, which come before, are not included). About SECONDS (default 3) s per case.
// Run: npm run bench:handshake
import { generateKeyPair } from '../src/keys/keypair.js';
import { consumeInitiation, Initiation } from '../src/noise/handshake.js';
import { tai64nNow } from '../src/noise/tai64n.js';
import { measure as measureFor } from './measure.js';

const SECONDS = Number(process.env.SECONDS ?? 3);

const measure = (step: () => void): number => measureFor(step, SECONDS, 300);

const initiator = generateKeyPair();
const responder = generateKeyPair();
const psk = new Uint8Array(32);
let index = 1;

function initiate(): Initiation {
  return Initiation.create(initiator, responder.publicKey, psk, index++ >>> 0, tai64nNow());
}

function respond(message: Uint8Array): Uint8Array {
  const consumed = consumeInitiation(responder, message);
  if (!consumed) throw new Error('the responder refused the initiation');
  return consumed.respond(psk, index++ >>> 0).message;
}

// One initiation, answered again and again, to time the responder's part alone.
const sample = initiate();

const full = measure(() => {
  const init = initiate();
  if (!init.consumeResponse(respond(init.message))) throw new Error('the initiator refused the response');
});
const initiation = measure(() => initiate().wipe());
const response = measure(() => respond(sample.message));

const us = (opsPerSecond: number): string => (1e6 / opsPerSecond).toFixed(1);
console.log(`Noise_IKpsk2 handshakes on one core (node ${process.version}), ${SECONDS} s per case`);
console.log(`  full handshake (both sides)   ${full.toFixed(0).padStart(7)} /s   ${us(full).padStart(7)} µs`);
console.log(`  initiator: initiation         ${initiation.toFixed(0).padStart(7)} /s   ${us(initiation).padStart(7)} µs`);
console.log(`  responder: read and respond   ${response.toFixed(0).padStart(7)} /s   ${us(response).padStart(7)} µs`);
// A response is read once per Initiation, so its cost is the rest of a full handshake.
console.log(`  initiator: read the response                ${(1e6 / full - 1e6 / initiation - 1e6 / response).toFixed(1).padStart(7)} µs (full less the two above)`);
