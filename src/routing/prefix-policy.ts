// Who may originate which routed prefix, as this node judges it (issue 15, 1). Every node decides
// for itself, from its own config ([prefixes]):
//
//   grant  "2001:db8:1::/48 from <peer ID>"  that node may originate the prefix or any part of it;
//   trust  "2001:db8::/32 by <holder key>"   a delegation signed by that key (delegation.ts) lets
//                                            its delegate originate what it names, within the
//                                            trusted prefix, until it expires.
//
// A claim that neither allows is refused (and counted by the caller): an announcement can make
// a node reachable, never make it the way to somebody else's network.
import { decodePeerId, encodePeerId, PeerIdError } from '../keys/peerid.js';
import { isRovyKey } from '../keys/address.js';
import { covers, formatPrefix, parsePrefix, PrefixError, type Prefix } from '../fcnet/prefix.js';
import { decodeDelegation, type Delegation } from './delegation.js';
import { equalBytes, hexOf } from '../util/bytes.js';

export interface PrefixGrant {
  prefix: Prefix;
  peerId: string;
}

export interface PrefixTrust {
  prefix: Prefix;
  /** The X25519 public key whose delegations are accepted within `prefix`. */
  holder: Uint8Array;
}

export type ClaimVerdict = 'granted' | 'delegated' | 'refused';

/** Delegations checked so far, by their bytes: an announcement is re-flooded and re-judged, its
 *  delegation's signature need not be checked each time. Bounded; forgotten oldest first. */
const CHECKED_MAX = 1024;

export class PrefixPolicy {
  private readonly checked = new Map<string, Delegation | null>();

  constructor(
    private grants: readonly PrefixGrant[] = [],
    private trusts: readonly PrefixTrust[] = [],
  ) {}

  /** New grants and trusts (a reload). */
  configure(grants: readonly PrefixGrant[], trusts: readonly PrefixTrust[]): void {
    this.grants = grants;
    this.trusts = trusts;
  }

  /**
   * Whether the node of `origin` (its key and peer ID) may originate `prefix`, by a grant of
   * ours or by `delegation` (its bytes as announced, or null) from a holder we trust for it,
   * unexpired at `wallNow` (ms since the epoch).
   */
  judge(origin: Uint8Array, originPeerId: string, prefix: Prefix, delegation: Uint8Array | null, wallNow: number): ClaimVerdict {
    for (const g of this.grants) if (g.peerId === originPeerId && covers(g.prefix, prefix)) return 'granted';
    if (!delegation) return 'refused';
    const d = this.decode(delegation);
    if (!d || !equalBytes(d.delegate, origin) || !covers(d.prefix, prefix) || d.expires <= wallNow) return 'refused';
    for (const t of this.trusts) if (equalBytes(t.holder, d.holder) && covers(t.prefix, d.prefix)) return 'delegated';
    return 'refused';
  }

  private decode(bytes: Uint8Array): Delegation | null {
    const key = hexOf(bytes);
    if (this.checked.has(key)) return this.checked.get(key)!;
    const d = decodeDelegation(bytes);
    if (this.checked.size >= CHECKED_MAX) this.checked.delete(this.checked.keys().next().value!);
    this.checked.set(key, d);
    return d;
  }
}

/** "PREFIX from PEERID". Throws PrefixError. */
export function parseGrant(text: string): PrefixGrant {
  const m = /^\s*(\S+)\s+from\s+(\S+)\s*$/i.exec(text);
  if (!m) throw new PrefixError(`${JSON.stringify(text)} is not "PREFIX from PEERID"`);
  const prefix = parsePrefix(m[1]!);
  let key: Uint8Array;
  try {
    key = decodePeerId(m[2]!);
  } catch (err) {
    throw new PrefixError(`${JSON.stringify(m[2])} is not a peer ID: ${err instanceof PeerIdError ? err.reason : (err as Error).message}`);
  }
  if (!isRovyKey(key)) throw new PrefixError(`${m[2]} is not a rovy node's peer ID`);
  return { prefix, peerId: encodePeerId(key) };
}

/** "PREFIX by HOLDER", HOLDER a 32-byte key in standard base64 (44 characters). Throws PrefixError. */
export function parseTrust(text: string): PrefixTrust {
  const m = /^\s*(\S+)\s+by\s+([A-Za-z0-9+/]{43}=)\s*$/.exec(text);
  if (!m) throw new PrefixError(`${JSON.stringify(text)} is not "PREFIX by HOLDER" (HOLDER: a key in base64, 44 characters, as rovy prefix key prints it)`);
  return { prefix: parsePrefix(m[1]!), holder: new Uint8Array(Buffer.from(m[2]!, 'base64')) };
}

export function formatGrant(g: PrefixGrant): string {
  return `${formatPrefix(g.prefix)} from ${g.peerId}`;
}

export function formatTrust(t: PrefixTrust): string {
  return `${formatPrefix(t.prefix)} by ${Buffer.from(t.holder).toString('base64')}`;
}
