// Which inbound ports are open to the mesh: rules like "22/tcp", "60000-61000/udp", for everyone
// or for one peer. Parsed here from their text (config file, D-Bus, CLI all write the same).
import { decodePeerId, encodePeerId, PeerIdError } from '../keys/peerid.js';
import { fcAddressBytes, isRovyKey } from '../keys/address.js';

export interface PortRule {
  protocol: 'tcp' | 'udp';
  /** First and last port, 1–65535. */
  first: number;
  last: number;
  /** Only from this peer (its ID), or from every node when null. */
  peerId: string | null;
}

/** A port rule that does not parse; `message` says what is wrong. */
export class PortRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortRuleError';
  }
}

/** "22/tcp" or "60000-61000/udp" (case does not matter). Throws PortRuleError. */
export function parsePorts(text: string): Pick<PortRule, 'protocol' | 'first' | 'last'> {
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?\/(tcp|udp)$/i.exec(text.trim());
  if (!m) throw new PortRuleError(`${JSON.stringify(text.length > 40 ? text.slice(0, 37) + '...' : text)} is not PORT/tcp, PORT/udp or FIRST-LAST/PROTOCOL`);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (first < 1 || last > 65535 || first > 65535) throw new PortRuleError(`ports are 1–65535, got ${text.trim()}`);
  if (last < first) throw new PortRuleError(`a range runs from low to high, got ${text.trim()}`);
  return { protocol: m[3]!.toLowerCase() as 'tcp' | 'udp', first, last };
}

/** A peer ID in canonical text, for a rule; throws PortRuleError. */
export function rulePeer(text: string): string {
  try {
    const key = decodePeerId(text);
    if (!isRovyKey(key)) throw new PortRuleError(`${text} is not a rovy node's peer ID`);
    return encodePeerId(key);
  } catch (err) {
    if (err instanceof PortRuleError) throw err;
    throw new PortRuleError(`${JSON.stringify(text.slice(0, 80))} is not a peer ID: ${err instanceof PeerIdError ? err.reason : (err as Error).message}`);
  }
}

/** The text of a rule's ports: "22/tcp", "60000-61000/udp". */
export function formatPorts(rule: Pick<PortRule, 'protocol' | 'first' | 'last'>): string {
  return `${rule.first === rule.last ? rule.first : `${rule.first}-${rule.last}`}/${rule.protocol}`;
}

/** Whether two rules open the same ports to the same nodes. */
export function sameRule(a: PortRule, b: PortRule): boolean {
  return a.protocol === b.protocol && a.first === b.first && a.last === b.last && a.peerId === b.peerId;
}

/** The fc00::/8 address a rule's peer sends from (the one a session proves). */
export function ruleAddress(rule: PortRule): Uint8Array | null {
  return rule.peerId === null ? null : fcAddressBytes(decodePeerId(rule.peerId));
}

/** A whole rule as text: "22/tcp", or "22/tcp from <peer ID>". Throws PortRuleError. */
export function parseRule(text: string): PortRule {
  const m = /^\s*(\S+)(?:\s+from\s+(\S+))?\s*$/i.exec(text);
  if (!m) throw new PortRuleError(`${JSON.stringify(text.slice(0, 80))} is not PORTS or PORTS from PEERID (e.g. "22/tcp")`);
  return { ...parsePorts(m[1]!), peerId: m[2] === undefined ? null : rulePeer(m[2]) };
}

/** The text of a whole rule, as parseRule reads it. */
export function formatRule(rule: PortRule): string {
  return rule.peerId === null ? formatPorts(rule) : `${formatPorts(rule)} from ${rule.peerId}`;
}
