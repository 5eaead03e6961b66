// The settings rovy reads from its config file: their TypeScript shape and the checks that turn a
// TOML value tree (toml-tree.ts) into a Config.
//
// Every setting has a default (defaults.ts), every key is known (a typo is an error, not a
// setting silently ignored), and every problem is a ConfigError pointing at the line to fix.
// Secrets (psk) never appear in messages.
import { isAbsolute, resolve } from 'node:path';
import { decodePeerId, encodePeerId, isPeerId, PeerIdError } from '../keys/peerid.js';
import { isRovyKey } from '../keys/address.js';
import {
  formatMultiaddr,
  MultiaddrError,
  parseMultiaddr,
  type Multiaddr,
  type MultiaddrOptions,
} from '../transport/multiaddr.js';
import { isInterfaceName } from '../util/interface-name.js';
import { DEFAULTS } from './defaults.js';
import { ConfigError } from './errors.js';
import { describeNode, describeType, type TomlNode, type TomlTable } from './toml-tree.js';
import { IPV6_MIN_MTU } from '../util/protocol.js';
import { parseRule, sameRule, type PortRule } from '../fcnet/port-rules.js';
import { MAX_ADDRESS_TEXT, MAX_CONTACT_ADDRESSES } from '../discovery/contact.js';
import { isDefaultRoute, parsePrefix, samePrefix, type Prefix } from '../fcnet/prefix.js';
import { parseGrant, parseTrust, type PrefixGrant, type PrefixTrust } from '../routing/prefix-policy.js';
import { decodeDelegation, DELEGATION_SIZE } from '../routing/delegation.js';
import { equalBytes } from '../util/bytes.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** A multiaddr that names its peer (it ends in /rovy/<peer ID>). */
export type PeerMultiaddr = Multiaddr & { peerId: string; publicKey: Uint8Array };

export interface PeerConfig {
  /** The peer's public key (the one its address names). */
  publicKey: Uint8Array;
  /** The peer's ID, canonical text. */
  peerId: string;
  /** Where to reach the peer and who it is: the first of `addresses`. */
  address: PeerMultiaddr;
  /** Every address given, best first: the node uses the first that works (node/peer-addresses.ts). */
  addresses: PeerMultiaddr[];
  /** A local label for the peer (a DNS label, lower case): "<name>.rovy". */
  name?: string;
  /** 32-byte pre-shared key mixed into the handshake (Noise psk2), if any. */
  psk?: Uint8Array;
  /** Seconds between keepalives when idle; 0 = off; absent = the session layer's default. */
  keepalive?: number;
  /** The line of its address in the file, for problems found once the node's key is known. */
  line: number;
}

export interface Config {
  /** The file these settings came from, or null if there was none (all defaults). */
  source: string | null;
  /** Absolute path of the node's private key file. */
  keyFile: string;
  /** Addresses to listen on: UDP, TCP, TLS (no /rovy part, no /dns; port 0 means any). */
  listen: Multiaddr[];
  tun: {
    /** Interface name. */
    name: string;
    /** Interface MTU. */
    mtu: number;
    /** Segmentation offloads on the TUN (virtio-net headers, TSO/USO, coalesced writes). */
    offload: boolean;
  };
  peers: PeerConfig[];
  log: {
    level: LogLevel;
  };
  discovery: {
    /** "auto": connect to every node found on the LAN; "manual": list them, connect on request; "off": neither. */
    policy: DiscoveryPolicy;
    /** Interfaces to announce on and listen to; null means every non-loopback one with a link-local address. */
    interfaces: string[] | null;
  };
  links: LinkSettings;
  /** What of the mesh's traffic reaches this host (fcnet/inbound-filter.ts). */
  ports: { filter: boolean; allow: PortRule[] };
  prefixes: PrefixSettings;
  exit: ExitSettings;
}

/** This node as an exit to the Internet for the mesh (issue 15, 2). */
export interface ExitSettings {
  /** Whether it offers one: announces ::/0 and 0.0.0.0/0, and masquerades the mesh's addresses. */
  offer: boolean;
  /** Peer IDs of the nodes it serves; null: every node of the mesh. */
  clients: string[] | null;
  /** The interface the mesh's traffic leaves by, masqueraded; null: any but the TUN. */
  uplink: string | null;
}

/** Networks beyond fc00::/8 (issue 15): those behind this node, and whose claims it accepts. */
export interface PrefixSettings {
  /** Prefixes this node announces: networks behind it that the mesh may reach through it. */
  announce: Prefix[];
  /** Delegations (routing/delegation.ts) vouching for announced prefixes, as signed. */
  delegations: Uint8Array[];
  /** Nodes this node accepts prefixes from, by grant. */
  allow: PrefixGrant[];
  /** Holders whose delegations this node accepts, within a prefix each. */
  trust: PrefixTrust[];
}

/** Who may open a link to this node without being one of its peers (node/inbound.ts). */
export interface LinkSettings {
  /** "known": peers only; "allowed": peers and the keys in `allow`; "anyone": a public node. */
  accept: AcceptPolicy;
  /** Peer IDs (canonical) accepted under "allowed". */
  allow: string[];
  /** Links opened by others that are kept at once, at most. */
  maxInbound: number;
  /** New inbound links a second from one address (IPv4, or IPv6 /64), bursts of 4× that. */
  inboundRate: number;
  /** Links the node keeps up by itself (node/link-keeper.ts); 0: it makes none of its own. */
  target: number;
  /** Public nodes to join the mesh through: the keeper's first candidates. */
  bootstrap: PeerMultiaddr[];
  /** Where others may link to this node, signed into its contact record (discovery/contact.ts)
   *  and passed around the mesh; null: the daemon's choice (the listen addresses that are
   *  public, on a node that accepts anyone). */
  publish: Multiaddr[] | null;
}

export type AcceptPolicy = 'known' | 'allowed' | 'anyone';
export const ACCEPT_POLICIES: readonly AcceptPolicy[] = ['known', 'allowed', 'anyone'];
export const MAX_INBOUND_LIMIT = 100_000;
export const INBOUND_RATE_LIMIT = 1000;
export const TARGET_LIMIT = 64;
export const BOOTSTRAP_LIMIT = 64;

export type DiscoveryPolicy = 'auto' | 'manual' | 'off';
export const DISCOVERY_POLICIES: readonly DiscoveryPolicy[] = ['auto', 'manual', 'off'];

export const MTU_MIN = IPV6_MIN_MTU;
export const MTU_MAX = 9000; // jumbo frames; a larger TUN MTU buys nothing on real links
export const KEEPALIVE_MAX = 3600; // one hour: beyond that no NAT mapping survives anyway

const ROOT_KEYS = ['key_file', 'listen', 'tun', 'peer', 'log', 'discovery', 'links', 'ports', 'prefixes', 'exit'];
const TUN_KEYS = ['name', 'mtu', 'offload'];
const PEER_KEYS = ['address', 'name', 'psk', 'keepalive'];
const LOG_KEYS = ['level'];
const DISCOVERY_KEYS = ['policy', 'interfaces'];
const LINKS_KEYS = ['accept', 'allow', 'max_inbound', 'inbound_rate', 'target', 'bootstrap', 'publish'];
const PORTS_KEYS = ['filter', 'allow'];
const PREFIXES_KEYS = ['announce', 'delegations', 'allow', 'trust'];
const EXIT_KEYS = ['offer', 'clients', 'uplink'];
/** Nodes an exit names as its clients, at most. */
export const EXIT_CLIENTS_LIMIT = 1024;

type Fail = (line: number, field: string, problem: string) => never;

/**
 * Checks a parsed config file and fills in defaults. `file` names the file in errors, `dir` is
 * the directory a relative key_file is taken from, `source` goes to Config.source.
 */
export function configFromTree(root: TomlTable, file: string, dir: string, source: string | null): Config {
  const fail: Fail = (line, field, problem) => {
    throw new ConfigError(file, line, field, problem);
  };
  checkKeys(root, '', ROOT_KEYS, fail);
  const tun = tableValue(root, 'tun', fail);
  const log = tableValue(root, 'log', fail);
  if (tun) checkKeys(tun, 'tun.', TUN_KEYS, fail);
  if (log) checkKeys(log, 'log.', LOG_KEYS, fail);
  const discovery = tableValue(root, 'discovery', fail);
  if (discovery) checkKeys(discovery, 'discovery.', DISCOVERY_KEYS, fail);
  const links = tableValue(root, 'links', fail);
  if (links) checkKeys(links, 'links.', LINKS_KEYS, fail);
  const ports = tableValue(root, 'ports', fail);
  if (ports) checkKeys(ports, 'ports.', PORTS_KEYS, fail);
  const prefixes = tableValue(root, 'prefixes', fail);
  if (prefixes) checkKeys(prefixes, 'prefixes.', PREFIXES_KEYS, fail);
  const exit = tableValue(root, 'exit', fail);
  if (exit) checkKeys(exit, 'exit.', EXIT_KEYS, fail);
  const entry = (table: TomlTable | undefined, key: string): TomlNode | undefined => table?.entries.get(key)?.node;
  const listen = listenValue(entry(root, 'listen'), fail);
  return {
    source,
    keyFile: keyFileValue(entry(root, 'key_file'), dir, fail),
    listen,
    tun: {
      name: tunNameValue(entry(tun, 'name'), fail),
      mtu: integerValue(entry(tun, 'mtu'), DEFAULTS.mtu, 'tun.mtu', MTU_MIN, MTU_MAX, '', fail),
      offload: booleanValue(entry(tun, 'offload'), DEFAULTS.tunOffload, 'tun.offload', fail),
    },
    peers: peersValue(entry(root, 'peer'), new Set(listen.filter((l) => (l.transport ?? 'udp') === 'udp').map((l) => l.family)), fail),
    log: { level: choiceValue(entry(log, 'level'), 'log.level', LOG_LEVELS, DEFAULTS.logLevel, fail) },
    discovery: {
      policy: choiceValue(entry(discovery, 'policy'), 'discovery.policy', DISCOVERY_POLICIES, DEFAULTS.discoveryPolicy, fail),
      interfaces: discoveryInterfacesValue(entry(discovery, 'interfaces'), fail),
    },
    links: linksValue(links, entry, fail),
    ports: {
      filter: booleanValue(entry(ports, 'filter'), DEFAULTS.portFilter, 'ports.filter', fail),
      allow: portRulesValue(entry(ports, 'allow'), fail),
    },
    prefixes: {
      announce: listValue(entry(prefixes, 'announce'), 'prefixes.announce', 'prefixes like "2001:db8:1::/48" or "10.7.0.0/16"', announcedPrefix, samePrefix, fail),
      delegations: listValue(entry(prefixes, 'delegations'), 'prefixes.delegations', 'delegations as rovy prefix delegate prints them (base64)', delegationValue, (a, b) => equalBytes(a, b), fail),
      allow: listValue(entry(prefixes, 'allow'), 'prefixes.allow', 'grants like "2001:db8:1::/48 from <peer ID>"', parseGrant, (a, b) => a.peerId === b.peerId && samePrefix(a.prefix, b.prefix), fail),
      trust: listValue(entry(prefixes, 'trust'), 'prefixes.trust', 'trusts like "2001:db8::/32 by <holder key>"', parseTrust, (a, b) => equalBytes(a.holder, b.holder) && samePrefix(a.prefix, b.prefix), fail),
    },
    exit: {
      offer: booleanValue(entry(exit, 'offer'), false, 'exit.offer', fail),
      clients: entry(exit, 'clients') === undefined ? null : peerIdsValue(entry(exit, 'clients'), 'exit.clients', fail, EXIT_CLIENTS_LIMIT),
      uplink: entry(exit, 'uplink') === undefined ? null : interfaceNameValue(entry(exit, 'uplink')!, 'exit.uplink', fail),
    },
  };
}

/** A prefix to announce: any but a default route, which is an exit's ([exit] offer). */
function announcedPrefix(text: string): Prefix {
  const prefix = parsePrefix(text);
  if (isDefaultRoute(prefix)) throw new Error('is a default route: a node offers the way to everywhere with [exit] offer = true');
  return prefix;
}

/** An array of strings, each parsed by `parse` (whose error message is the problem), none twice. */
function listValue<T>(
  node: TomlNode | undefined,
  field: string,
  what: string,
  parse: (text: string) => T,
  same: (a: T, b: T) => boolean,
  fail: Fail,
  limits: { itemProblem?: string; max?: number; noun?: string } = {},
): T[] {
  if (node === undefined) return [];
  if (node.kind !== 'array') return fail(node.line, field, `must be an array of ${what}, got ${describeNode(node)}`);
  if (limits.max !== undefined && node.items.length > limits.max) fail(node.line, field, `lists ${node.items.length} ${limits.noun ?? 'items'}, at most ${limits.max}`);
  const out: T[] = [];
  node.items.forEach((item, i) => {
    const itemField = `${field}[${i}]`;
    const text = stringValue(item, itemField, limits.itemProblem ?? `must be a string: ${what}`, fail);
    let value: T;
    try {
      value = parse(text);
    } catch (err) {
      return fail(item.line, itemField, err instanceof MultiaddrError ? err.problem : (err as Error).message);
    }
    const first = out.findIndex((v) => same(v, value));
    if (first >= 0) fail(item.line, itemField, `repeats ${field}[${first}]`);
    out.push(value);
  });
  return out;
}

/** A delegation as text (base64), signed by its holder. */
function delegationValue(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new Error('is not base64');
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  if (!decodeDelegation(bytes)) throw new Error(`is not a delegation signed by its holder (${DELEGATION_SIZE} bytes, as rovy prefix delegate prints it)`);
  return bytes;
}

/** ports.allow: rules like "22/tcp" or "80/tcp from <peer ID>", each once. */
function portRulesValue(node: TomlNode | undefined, fail: Fail): PortRule[] {
  if (node === undefined) return [];
  const shape = 'must be an array of rules like "22/tcp", "60000-61000/udp" or "80/tcp from <peer ID>"';
  if (node.kind !== 'array') return fail(node.line, 'ports.allow', `${shape}, got ${describeNode(node)}`);
  const rules: PortRule[] = [];
  node.items.forEach((item, i) => {
    const field = `ports.allow[${i}]`;
    const text = stringValue(item, field, 'must be a rule like "22/tcp" (a string)', fail);
    let rule: PortRule;
    try {
      rule = parseRule(text);
    } catch (err) {
      return fail(item.line, field, (err as Error).message);
    }
    const first = rules.findIndex((r) => sameRule(r, rule));
    if (first >= 0) fail(item.line, field, `repeats ports.allow[${first}]`);
    rules.push(rule);
  });
  return rules;
}

/** [links]: who may link to this node, and the links it keeps by itself. */
function linksValue(links: TomlTable | undefined, entry: (table: TomlTable | undefined, key: string) => TomlNode | undefined, fail: Fail): LinkSettings {
  const accept = choiceValue(entry(links, 'accept'), 'links.accept', ACCEPT_POLICIES, DEFAULTS.accept, fail);
  const bootstrap = bootstrapValue(entry(links, 'bootstrap'), fail);
  const publishNode = entry(links, 'publish');
  const publish = publishValue(publishNode, fail);
  // Others could not link to what it publishes: the contact would only send them to a refusal.
  if (publishNode !== undefined && publish!.length > 0 && accept !== 'anyone') {
    fail(publishNode.line, 'links.publish', 'is for a node others may link to: it needs links.accept = "anyone"');
  }
  return {
    accept,
    allow: peerIdsValue(entry(links, 'allow'), 'links.allow', fail),
    maxInbound: integerValue(entry(links, 'max_inbound'), DEFAULTS.maxInbound, 'links.max_inbound', 0, MAX_INBOUND_LIMIT, '', fail),
    inboundRate: integerValue(entry(links, 'inbound_rate'), DEFAULTS.inboundRate, 'links.inbound_rate', 1, INBOUND_RATE_LIMIT, ' (new links a second from one address)', fail),
    // Bootstrap nodes alone are a way in, not a mesh: a node given them keeps links by default.
    target: integerValue(entry(links, 'target'), bootstrap.length > 0 ? DEFAULTS.targetWithBootstrap : 0, 'links.target', 0, TARGET_LIMIT, ' (links to keep up)', fail),
    bootstrap,
    publish,
  };
}

/** links.bootstrap: multiaddrs of public nodes, ending in /rovy/<peer ID>; several may name one node. */
function bootstrapValue(node: TomlNode | undefined, fail: Fail): PeerMultiaddr[] {
  const parse = (text: string): PeerMultiaddr => {
    const address = parseMultiaddr(text, { peer: 'required' });
    if (address.peerId === undefined || address.publicKey === undefined) throw new Error('needs /rovy/<peer ID> at the end');
    return { ...address, peerId: address.peerId, publicKey: address.publicKey };
  };
  return listValue(node, 'links.bootstrap', 'multiaddrs like "/dns/node.example.org/tcp/443/tls/rovy/<peer ID>"', parse, sameMultiaddr, fail, {
    itemProblem: 'must be a multiaddr ending in /rovy/<peer ID> (a string)',
    max: BOOTSTRAP_LIMIT,
    noun: 'addresses',
  });
}

/** links.publish: where others may reach this node (no /rovy: the record is signed by its key). */
function publishValue(node: TomlNode | undefined, fail: Fail): Multiaddr[] | null {
  if (node === undefined) return null;
  const parse = (text: string): Multiaddr => {
    const address = parseMultiaddr(text, { peer: 'forbidden' });
    if (address.zone !== undefined) throw new Error('a link-local address means nothing beyond its own link: publish a global one');
    if (address.address === '::' || address.address === '0.0.0.0') throw new Error('is the unspecified address: publish one others can reach');
    if (new TextEncoder().encode(formatMultiaddr(address)).length > MAX_ADDRESS_TEXT) throw new Error(`is longer than ${MAX_ADDRESS_TEXT} bytes`);
    return address;
  };
  return listValue(node, 'links.publish', 'multiaddrs like "/ip4/203.0.113.7/udp/7777" or "/dns/node.example.org/tcp/443/tls"', parse, sameMultiaddr, fail, {
    itemProblem: 'must be a multiaddr string like "/ip4/203.0.113.7/udp/7777"',
    max: MAX_CONTACT_ADDRESSES,
    noun: 'addresses',
  });
}

/** Whether two multiaddrs are one (their canonical text). */
function sameMultiaddr(a: Multiaddr, b: Multiaddr): boolean {
  return formatMultiaddr(a) === formatMultiaddr(b);
}

/** links.allow, exit.clients: peer IDs, each once. */
function peerIdsValue(node: TomlNode | undefined, list: string, fail: Fail, max = Infinity): string[] {
  if (node === undefined) return [];
  const shape = 'must be an array of peer IDs';
  if (node.kind !== 'array') return fail(node.line, list, `${shape}, got ${describeNode(node)}`);
  if (node.items.length > max) fail(node.line, list, `lists ${node.items.length} peer IDs, at most ${max}`);
  const seen = new Map<string, number>();
  return node.items.map((item, i) => {
    const field = `${list}[${i}]`;
    const text = stringValue(item, field, 'must be a peer ID (a string)', fail);
    let key: Uint8Array;
    try {
      key = decodePeerId(text);
    } catch (err) {
      return fail(item.line, field, `is not a peer ID: ${err instanceof PeerIdError ? err.reason : (err as Error).message}`);
    }
    if (!isRovyKey(key)) fail(item.line, field, 'is not a rovy key (its address is outside fc00::/8)');
    const peerId = encodePeerId(key);
    const first = seen.get(peerId);
    if (first !== undefined) fail(item.line, field, `repeats ${list}[${first}]`);
    seen.set(peerId, i);
    return peerId;
  });
}

function keyFileValue(node: TomlNode | undefined, dir: string, fail: Fail): string {
  if (node === undefined) return DEFAULTS.keyFile;
  const text = stringValue(node, 'key_file', 'must be a file path (a string)', fail);
  if (text === '' || text.includes('\0')) fail(node.line, 'key_file', `must be a file path, got ${describeNode(node)}`);
  return isAbsolute(text) ? resolve(text) : resolve(dir, text);
}

function listenValue(node: TomlNode | undefined, fail: Fail): Multiaddr[] {
  const options: MultiaddrOptions = { allowPortZero: true, peer: 'forbidden' };
  if (node === undefined) return DEFAULTS.listen.map((text) => parseMultiaddr(text, options));
  const shape = 'must be an array of multiaddr strings like "/ip6/::/udp/7777"';
  if (node.kind !== 'array') return fail(node.line, 'listen', `${shape}, got ${describeNode(node)}`);
  if (node.items.length === 0) fail(node.line, 'listen', 'must list at least one address');
  const seen = new Map<string, number>();
  return node.items.map((item, i) => {
    const field = `listen[${i}]`;
    const text = stringValue(item, field, 'must be a multiaddr string like "/ip6/::/udp/7777"', fail);
    const addr = multiaddrValue(text, item, field, options, fail);
    if (addr.zone !== undefined) fail(item.line, field, 'link-local listen addresses are not supported: listen on "/ip6/::/udp/PORT"');
    if (addr.host !== undefined) fail(item.line, field, 'a listen address is an IP address, not a /dns name');
    const canonical = formatMultiaddr(addr);
    const first = seen.get(canonical);
    if (first !== undefined) fail(item.line, field, `repeats listen[${first}] (${canonical})`);
    seen.set(canonical, i);
    return addr;
  });
}

function tunNameValue(node: TomlNode | undefined, fail: Fail): string {
  return node === undefined ? DEFAULTS.tunName : interfaceNameValue(node, 'tun.name', fail);
}

function booleanValue(node: TomlNode | undefined, fallback: boolean, field: string, fail: Fail): boolean {
  if (node === undefined) return fallback;
  return node.kind === 'boolean' ? node.value : fail(node.line, field, `must be true or false, got ${describeNode(node)}`);
}

/** One of the strings `choices`, or `fallback` if the setting is absent. */
function choiceValue<T extends string>(
  node: TomlNode | undefined,
  field: string,
  choices: readonly T[],
  fallback: T,
  fail: Fail,
): T {
  if (node === undefined) return fallback;
  const problem = `must be one of ${choices.map((c) => `"${c}"`).join(', ')}`;
  const text = stringValue(node, field, problem, fail);
  return choices.find((c) => c === text) ?? fail(node.line, field, `${problem}, got ${describeNode(node)}`);
}

function discoveryInterfacesValue(node: TomlNode | undefined, fail: Fail): string[] | null {
  if (node === undefined) return null;
  const shape = 'must be an array of interface names like ["eth0", "wlan0"]';
  if (node.kind !== 'array') return fail(node.line, 'discovery.interfaces', `${shape}, got ${describeNode(node)}`);
  const seen = new Set<string>();
  return node.items.map((item, i) => {
    const field = `discovery.interfaces[${i}]`;
    const text = interfaceNameValue(item, field, fail);
    if (seen.has(text)) fail(item.line, field, `"${text}" is listed twice`);
    seen.add(text);
    return text;
  });
}

/** All [[peer]] blocks; two blocks may not name the same key, nor use the same name, and each
 *  UDP address must be reachable from a UDP listen socket of its address family. */
function peersValue(node: TomlNode | undefined, listenFamilies: Set<4 | 6>, fail: Fail): PeerConfig[] {
  if (node === undefined) return [];
  if (node.kind !== 'array') {
    return fail(node.line, 'peer', `must be an array of tables (a [[peer]] block per peer), got ${describeNode(node)}`);
  }
  const byKey = new Map<string, { index: number; line: number }>();
  const byName = new Map<string, { index: number; line: number }>();
  return node.items.map((item, i) => {
    const { peer, addressLine, nameLine } = peerValue(item, `peer[${i}]`, fail);
    peer.addresses.forEach((address, j) => {
      if ((address.transport ?? 'udp') !== 'udp' || address.host !== undefined || listenFamilies.has(address.family)) return;
      const field = peer.addresses.length > 1 ? `peer[${i}].address[${j}]` : `peer[${i}].address`;
      fail(addressLine, field, `is UDP over IPv${address.family}, but no UDP listen address is: add one to "listen"`);
    });
    const sameKey = byKey.get(peer.peerId);
    if (sameKey !== undefined) {
      fail(addressLine, `peer[${i}].address`, `the same peer as peer[${sameKey.index}] (line ${sameKey.line})`);
    }
    byKey.set(peer.peerId, { index: i, line: addressLine });
    if (peer.name !== undefined) {
      const sameName = byName.get(peer.name);
      if (sameName !== undefined) {
        fail(nameLine, `peer[${i}].name`, `"${peer.name}" is already the name of peer[${sameName.index}] (line ${sameName.line})`);
      }
      byName.set(peer.name, { index: i, line: nameLine });
    }
    return peer;
  });
}

/** One [[peer]] block, with the lines of its address and name (for duplicate checks). */
function peerValue(
  node: TomlNode,
  field: string,
  fail: Fail,
): { peer: PeerConfig; addressLine: number; nameLine: number } {
  if (node.kind !== 'table') return fail(node.line, field, `must be a table of peer settings, got ${describeNode(node)}`);
  checkKeys(node, `${field}.`, PEER_KEYS, fail);

  const addressNode = node.entries.get('address')?.node;
  if (addressNode === undefined) {
    return fail(node.line, `${field}.address`, 'is required (a multiaddr ending in /rovy/<peer ID>, or an array of them)');
  }
  const shape = 'must be a multiaddr string like "/ip6/fd00::2/udp/7777/rovy/<peer ID>", or an array of them (best first)';
  const items = addressNode.kind === 'array' ? addressNode.items : [addressNode];
  if (items.length === 0) fail(addressNode.line, `${field}.address`, 'must list at least one address');
  let firstPeerId: string | undefined;
  const addresses = items.map((item, j): PeerMultiaddr => {
    const itemField = addressNode.kind === 'array' ? `${field}.address[${j}]` : `${field}.address`;
    const text = stringValue(item, itemField, shape, fail);
    const address = multiaddrValue(text, item, itemField, { peer: 'required' }, fail);
    if (address.peerId === undefined || address.publicKey === undefined) return fail(item.line, itemField, 'needs /rovy/<peer ID> at the end');
    firstPeerId ??= address.peerId;
    if (address.peerId !== firstPeerId) fail(item.line, itemField, 'names another peer than the first address: one [[peer]] block is one peer');
    return { ...address, peerId: address.peerId, publicKey: address.publicKey };
  });
  const seen = new Map<string, number>();
  addresses.forEach((address, j) => {
    const canonical = formatMultiaddr(address);
    const first = seen.get(canonical);
    if (first !== undefined) fail(items[j]!.line, `${field}.address[${j}]`, `repeats ${field}.address[${first}]`);
    seen.set(canonical, j);
  });
  const address = addresses[0]!;
  const result: PeerConfig = {
    publicKey: address.publicKey,
    peerId: address.peerId,
    address,
    addresses,
    line: addressNode.line,
  };

  const name = node.entries.get('name')?.node;
  if (name !== undefined) {
    const problem = 'must be a DNS label: 1 to 63 letters, digits or "-", not starting or ending with "-"';
    const text = stringValue(name, `${field}.name`, problem, fail);
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(text)) {
      fail(name.line, `${field}.name`, `${problem}, got ${describeNode(name)}`);
    }
    if (isPeerId(text)) fail(name.line, `${field}.name`, 'must not be a peer ID (names and peer IDs share .rovy)');
    result.name = text.toLowerCase(); // DNS names ignore case: "Alice" and "alice" are one name
  }

  const psk = node.entries.get('psk')?.node;
  if (psk !== undefined) {
    // The value is secret: messages describe it without quoting it.
    const problem = 'must be 32 bytes in standard base64 (44 characters, as `wg genpsk` prints)';
    if (psk.kind !== 'string') return fail(psk.line, `${field}.psk`, `${problem}, got ${describeType(psk)}`);
    if (!/^[A-Za-z0-9+/]{43}=$/.test(psk.value)) {
      fail(psk.line, `${field}.psk`, `${problem}, got a string of ${psk.value.length} characters`);
    }
    result.psk = new Uint8Array(Buffer.from(psk.value, 'base64'));
  }

  const keepalive = node.entries.get('keepalive')?.node;
  if (keepalive !== undefined) {
    result.keepalive = integerValue(keepalive, 0, `${field}.keepalive`, 0, KEEPALIVE_MAX, ' (seconds; 0 = off)', fail);
  }
  return { peer: result, addressLine: addressNode.line, nameLine: name?.line ?? node.line };
}

/** Rejects keys that are not in `known`, naming the first unknown one. */
function checkKeys(table: TomlTable, prefix: string, known: readonly string[], fail: Fail): void {
  for (const [key, entry] of table.entries) {
    if (!known.includes(key)) {
      fail(entry.keyLine, prefix + keyText(key), `unknown key (known keys here: ${known.join(', ')})`);
    }
  }
}

function tableValue(root: TomlTable, key: string, fail: Fail): TomlTable | undefined {
  const node = root.entries.get(key)?.node;
  if (node === undefined) return undefined;
  if (node.kind !== 'table') return fail(node.line, key, `must be a table ([${key}]), got ${describeNode(node)}`);
  return node;
}

function stringValue(node: TomlNode, field: string, problem: string, fail: Fail): string {
  if (node.kind !== 'string') return fail(node.line, field, `${problem}, got ${describeNode(node)}`);
  return node.value;
}

function integerValue(
  node: TomlNode | undefined,
  fallback: number,
  field: string,
  min: number,
  max: number,
  unit: string,
  fail: Fail,
): number {
  if (node === undefined) return fallback;
  const problem = `must be an integer from ${min} to ${max}${unit}`;
  if (node.kind !== 'integer' || node.value < BigInt(min) || node.value > BigInt(max)) {
    return fail(node.line, field, `${problem}, got ${describeNode(node)}`);
  }
  return Number(node.value);
}

function multiaddrValue(
  text: string,
  node: TomlNode,
  field: string,
  options: MultiaddrOptions,
  fail: Fail,
): Multiaddr {
  try {
    return parseMultiaddr(text, options);
  } catch (err) {
    if (err instanceof MultiaddrError) return fail(node.line, field, err.problem);
    throw err;
  }
}

/**
 * A Linux interface name (isInterfaceName). Control characters are refused too: the kernel takes
 * most of them, but in a config file they are a mistake, and they would garble log lines.
 */
function interfaceNameValue(node: TomlNode, field: string, fail: Fail): string {
  const problem = 'must be a Linux interface name: 1 to 15 bytes, without "/", ":" or whitespace, not "." or ".."';
  const text = stringValue(node, field, problem, fail);
  if (!isInterfaceName(text) || /[\u0000-\u001f\u007f]/.test(text)) fail(node.line, field, `${problem}, got ${describeNode(node)}`);
  return text;
}

/** A key as it would be written in TOML: bare if it can be, quoted otherwise. */
function keyText(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}
