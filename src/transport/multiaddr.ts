// Transport addresses as multiaddr text: where to reach a node, over what, and optionally who it is.
//
//   /ip4/<IPv4>/udp/<port>[/rovy/<peer ID>]
//   /ip6/<IPv6>/udp/<port>[/rovy/<peer ID>]
//   /ip6zone/<interface>/ip6/<fe80::...>/udp/<port>[/rovy/<peer ID>]   (link-local addresses)
//   /ip4|ip6/<address>/tcp/<port>[/tls][/rovy/<peer ID>]                (a stream, plain or TLS)
//   /dns/<host name>/udp|tcp/<port>[/tls][/rovy/<peer ID>]             (resolved when dialled)
//
// Parsing is strict and canonicalizing: addresses come out in their one canonical text (RFC 5952
// for IPv6), host names and peer IDs in lower case, and a problem is reported by naming the part
// that is wrong. A link-local IPv6 address is only usable with its interface, so it needs
// /ip6zone; a zone on any other address is refused. Peer ports are 1–65535; listen addresses may
// ask for port 0 (any).
import { formatIPv4, formatIPv6, isLinkLocal, isRovyKey, parseIPv4, parseIPv6, fcAddressBytes } from '../keys/address.js';
import { decodePeerId, encodePeerId, PeerIdError } from '../keys/peerid.js';

export interface Multiaddr {
  /** The address family; for a /dns address, 6 until resolved (it says nothing then). */
  family: 4 | 6;
  /** The IP address in canonical text, without zone; "" for a /dns address. */
  address: string;
  /** A /dns address's host name, lower case: resolved when dialled. */
  host?: string;
  /** The port; 0 only in listen addresses parsed with allowPortZero. */
  port: number;
  /** "udp" when absent; "tcp", or "tls" for TLS over TCP. */
  transport?: 'udp' | 'tcp' | 'tls';
  /** The interface of a link-local IPv6 address. */
  zone?: string;
  /** The peer ID after /rovy, in canonical (lower-case) text. */
  peerId?: string;
  /** The public key that peerId names. */
  publicKey?: Uint8Array;
}

export interface MultiaddrOptions {
  /** Accept port 0 (let the system choose), for listen addresses. Default false. */
  allowPortZero?: boolean;
  /** Whether a /rovy/<peer ID> part must be present, must be absent, or may be. Default 'optional'. */
  peer?: 'required' | 'forbidden' | 'optional';
}

/** A multiaddr that does not parse. `problem` says what is wrong, without repeating the input. */
export class MultiaddrError extends Error {
  readonly input: string;
  readonly problem: string;
  constructor(input: string, problem: string) {
    super(`multiaddr ${input.length > 200 ? input.slice(0, 197) + '...' : input}: ${problem}`);
    this.name = 'MultiaddrError';
    this.input = input;
    this.problem = problem;
  }
}

/** Parses multiaddr text. Throws MultiaddrError naming the part that is wrong. */
export function parseMultiaddr(text: string, options: MultiaddrOptions = {}): Multiaddr {
  const fail: (problem: string) => never = (problem) => {
    throw new MultiaddrError(text, problem);
  };
  if (text === '') fail('it is empty');
  if (!text.startsWith('/')) fail('it must start with "/"');
  const parts = text.slice(1).split('/');
  let i = 0;
  /** The value after protocol `name`, or a failure naming what it should have been. */
  const valueOf = (name: string, what: string): string => {
    const v = parts[i++];
    if (v === undefined || v === '') fail(`/${name} needs ${what} after it`);
    return v;
  };

  let zone: string | undefined;
  let proto = parts[i++];
  if (proto === 'ip6zone') {
    zone = valueOf('ip6zone', 'an interface name');
    if (!/^[^\s%]{1,15}$/u.test(zone)) fail(`/ip6zone ${JSON.stringify(zone)} is not an interface name`);
    proto = parts[i++];
    if (proto !== 'ip6') fail(`/ip6zone must be followed by /ip6, not ${describe(proto)}`);
  }

  let family: 4 | 6;
  let address: string;
  let host: string | undefined;
  if (proto === 'dns' && zone === undefined) {
    const name = valueOf('dns', 'a host name').toLowerCase();
    if (!isHostName(name)) fail(`/dns ${JSON.stringify(name.length > 80 ? name.slice(0, 77) + '...' : name)} is not a host name (letters, digits, "-" and dots)`);
    family = 6;
    address = '';
    host = name;
  } else if (proto === 'ip4') {
    family = 4;
    const v = valueOf('ip4', 'an IPv4 address');
    let bytes: Uint8Array;
    try {
      bytes = parseIPv4(v);
    } catch (err) {
      return fail(`/ip4 ${detail(err)}`);
    }
    address = formatIPv4(bytes);
  } else if (proto === 'ip6') {
    family = 6;
    const v = valueOf('ip6', 'an IPv6 address');
    if (v.includes('%')) fail(`/ip6 ${JSON.stringify(v)} has a zone: write /ip6zone/<interface>/ip6/<address>`);
    let bytes: Uint8Array;
    try {
      bytes = parseIPv6(v);
    } catch (err) {
      return fail(`/ip6 ${detail(err)}`);
    }
    address = formatIPv6(bytes);
    const linkLocal = isLinkLocal(bytes);
    if (linkLocal && zone === undefined) {
      fail(`/ip6 ${address} is link-local and needs its interface: /ip6zone/<interface>/ip6/${address}/...`);
    }
    if (!linkLocal && zone !== undefined) fail(`/ip6zone applies only to link-local addresses (fe80::/10), not ${address}`);
  } else {
    return fail(`it must start with /ip4, /ip6, /ip6zone or /dns, not ${describe(proto)}`);
  }

  const transport = parts[i++];
  if (transport !== 'udp' && transport !== 'tcp') fail(`/udp/<port> or /tcp/<port> must follow the address, not ${describe(transport)}`);
  if (transport === 'tcp' && zone !== undefined) fail('a link-local address is for UDP only (/ip6zone/.../udp/<port>)');
  const portText = valueOf(transport, 'a port number');
  if (!/^[0-9]+$/.test(portText)) fail(`port must be a decimal number, got ${JSON.stringify(portText)}`);
  if (portText.length > 1 && portText[0] === '0') fail(`port must not have leading zeros, got ${portText}`);
  const port = Number(portText);
  const minPort = options.allowPortZero ? 0 : 1;
  if (port < minPort || port > 65535) fail(`port must be ${minPort}–65535, got ${portText}`);

  const result: Multiaddr = { family, address, port };
  if (host !== undefined) result.host = host;
  if (zone !== undefined) result.zone = zone;
  if (transport === 'tcp') result.transport = parts[i] === 'tls' ? (i++, 'tls') : 'tcp';

  if (i < parts.length) {
    const p = parts[i++];
    if (p !== 'rovy') fail(`only ${transport === 'tcp' && result.transport === 'tcp' ? '/tls or ' : ''}/rovy/<peer ID> may follow the port, not ${describe(p)}`);
    const idText = valueOf('rovy', 'a peer ID');
    let publicKey: Uint8Array;
    try {
      publicKey = decodePeerId(idText);
    } catch (err) {
      return fail(`/rovy peer ID: ${err instanceof PeerIdError ? err.reason : detail(err)}`);
    }
    if (!isRovyKey(publicKey)) {
      fail(`/rovy peer ID: not a rovy key (its address ${formatIPv6(fcAddressBytes(publicKey))} is outside fc00::/8)`);
    }
    result.peerId = encodePeerId(publicKey);
    result.publicKey = publicKey;
  }
  if (i < parts.length) fail(`nothing may follow the peer ID, found ${describe(parts[i])}`);

  if (options.peer === 'required' && result.peerId === undefined) fail('it needs /rovy/<peer ID> at the end');
  if (options.peer === 'forbidden' && result.peerId !== undefined) fail('a /rovy/<peer ID> part is not allowed here');
  return result;
}

/** The canonical multiaddr text of an address (a publicKey without peerId is encoded too). */
export function formatMultiaddr(m: Multiaddr): string {
  let text: string;
  if (m.host !== undefined) {
    text = `/dns/${m.host}`;
  } else if (m.family === 4) {
    if (m.zone !== undefined) throw new Error('an IPv4 multiaddr cannot have a zone');
    text = `/ip4/${formatIPv4(parseIPv4(m.address))}`;
  } else {
    text = `/ip6/${formatIPv6(parseIPv6(m.address))}`;
    if (m.zone !== undefined) text = `/ip6zone/${m.zone}${text}`;
  }
  if (!Number.isInteger(m.port) || m.port < 0 || m.port > 65535) throw new Error(`invalid port ${m.port}`);
  const transport = m.transport ?? 'udp';
  text += transport === 'udp' ? `/udp/${m.port}` : `/tcp/${m.port}${transport === 'tls' ? '/tls' : ''}`;
  if (m.peerId !== undefined) {
    const key = decodePeerId(m.peerId);
    if (m.publicKey !== undefined && Buffer.compare(Buffer.from(key), Buffer.from(m.publicKey)) !== 0) {
      throw new Error('the multiaddr peerId and publicKey name different keys');
    }
    text += `/rovy/${encodePeerId(key)}`;
  } else if (m.publicKey !== undefined) {
    text += `/rovy/${encodePeerId(m.publicKey)}`;
  }
  // Whatever went in, what comes out must parse back.
  parseMultiaddr(text, { allowPortZero: true });
  return text;
}

/** A DNS host name: dot-separated labels of letters, digits and "-", 253 characters at most. */
function isHostName(name: string): boolean {
  return name.length <= 253 && /^(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?$/.test(name);
}

function describe(part: string | undefined): string {
  return part === undefined ? 'the end' : part === '' ? 'an empty part ("//" or a trailing "/")' : `/${part}`;
}

/** The reason part of an ip-text error ("invalid IPv4 address "x": reason" → ""x": reason"). */
function detail(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^invalid IPv[46] address /, '');
}
