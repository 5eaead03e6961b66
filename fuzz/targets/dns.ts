// DNS queries to fc00::1: an answer that fits the buffer and answers that query, or a silent drop.
import { answerDnsQuery, type RovyZone } from '../../src/names/dns.js';
import { fcAddressBytes } from '../../src/keys/address.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { invariant } from '../expect.js';

const key = new Uint8Array(32).fill(7);
const address = fcAddressBytes(key);
const peerId = encodePeerId(key);
const zone: RovyZone = {
  addressOf: (label) => (label === 'alice' || label === peerId ? address : null),
  labelOf: (a) => (a.every((x, i) => x === address[i]) ? 'alice' : null),
};
const out = new Uint8Array(512);

export function fuzz(data: Buffer): void {
  const { length, outcome } = answerDnsQuery(data, zone, out);
  invariant(length >= 0 && length <= out.length, `answer of ${length} bytes`);
  if (length === 0) {
    invariant(outcome === 'malformed', `nothing sent for ${outcome}`);
    return;
  }
  invariant(length >= 12, 'an answer shorter than a DNS header');
  invariant(out[0] === data[0] && out[1] === data[1], 'an answer with another id');
  invariant((out[2]! & 0x80) !== 0, 'an answer that is not a response');
}
