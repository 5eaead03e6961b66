// `rovy prefix`: the prefix holder's tools (issue 15), run where the holder's key is kept, not on
// a node. `key` makes or shows the holder key that nodes trust ([prefixes] trust); `delegate`
// signs "this node may originate this prefix until then" for a node's [prefixes] delegations.
import { loadKey, loadOrCreateKey } from '../../src/keys/keyfile.js';
import { decodePeerId, PeerIdError } from '../../src/keys/peerid.js';
import { parsePrefix, formatPrefix } from '../../src/fcnet/prefix.js';
import { signDelegation } from '../../src/routing/delegation.js';

export const PREFIX_USAGE = 'rovy prefix key --key FILE | rovy prefix delegate PREFIX --to PEERID --key FILE [--days N]';

const DAY_MS = 86_400_000;
/** A delegation lasts a year unless said otherwise: renewing it is the holder's way to revoke. */
const DEFAULT_DAYS = 365;

export function runPrefix(args: string[], keyPath: string | undefined, to: string | undefined, days: string | undefined): number {
  try {
    if (!keyPath) throw new Error('--key FILE is required: the holder\'s key file');
    if (args[0] === 'key' && args.length === 1) {
      const key = loadOrCreateKey(keyPath);
      for (const warning of key.warnings) process.stderr.write(`rovy prefix: ${warning}\n`);
      if (key.created) process.stderr.write(`rovy prefix: created a new holder key in ${keyPath}\n`);
      process.stdout.write(`${Buffer.from(key.publicKey).toString('base64')}\n`);
      return 0;
    }
    if (args[0] === 'delegate' && args.length === 2) {
      const prefix = parsePrefix(args[1]!);
      if (!to) throw new Error('--to PEERID is required: the node that may originate the prefix');
      let delegate: Uint8Array;
      try {
        delegate = decodePeerId(to);
      } catch (err) {
        throw new Error(`--to ${to}: not a peer ID: ${err instanceof PeerIdError ? err.reason : (err as Error).message}`);
      }
      const n = days === undefined ? DEFAULT_DAYS : Number(days);
      if (!Number.isInteger(n) || n < 1 || n > 3650) throw new Error(`--days must be a whole number of days from 1 to 3650, got ${days}`);
      const holder = loadKey(keyPath);
      const expires = Date.now() + n * DAY_MS;
      process.stderr.write(`rovy prefix: ${formatPrefix(prefix)} delegated to ${to} until ${new Date(expires).toISOString()}\n`);
      process.stdout.write(`${Buffer.from(signDelegation(holder, delegate, prefix, expires)).toString('base64')}\n`);
      return 0;
    }
    throw new Error(`usage: ${PREFIX_USAGE}`);
  } catch (err) {
    process.stderr.write(`rovy prefix: ${(err as Error).message}\n`);
    return 1;
  }
}
