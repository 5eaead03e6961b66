// Multiaddr text (config peers, D-Bus Connect, the CLI): a parse either fails with MultiaddrError
// or gives an address whose text parses back to the same address.
import { MultiaddrError, formatMultiaddr, parseMultiaddr } from '../../src/transport/multiaddr.js';
import { invariant, onlyThrows } from '../expect.js';

export function fuzz(data: Buffer): void {
  const text = data.toString('utf8');
  let parsed;
  try {
    parsed = parseMultiaddr(text);
  } catch (err) {
    onlyThrows(err, MultiaddrError);
    return;
  }
  const again = formatMultiaddr(parseMultiaddr(formatMultiaddr(parsed)));
  invariant(again === formatMultiaddr(parsed), `${JSON.stringify(text)} does not round-trip`);
}
