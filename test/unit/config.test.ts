// The config file (src/config): defaults, the documented example, relative paths, the commented
// file `rovy init` writes, and one exact "FILE:LINE: FIELD: problem" line for every kind of error.
import { formatRule } from '../../src/fcnet/port-rules.js';
import { formatPrefix, parsePrefix } from '../../src/fcnet/prefix.js';
import { formatGrant, formatTrust } from '../../src/routing/prefix-policy.js';
import { signDelegation } from '../../src/routing/delegation.js';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { test } from 'node:test';
import { tempDir } from '../temp-dir.js';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  defaultConfig,
  defaultConfigText,
  loadConfig,
  parseConfig,
  refuseOwnKey,
  writeDefaultConfig,
  type Config,
} from '../../src/config/config.js';
import { formatMultiaddr } from '../../src/transport/multiaddr.js';
import { isInterfaceName } from '../../src/util/interface-name.js';

const FILE = '/etc/rovy/rovy.toml';
// Rovy keys (see address.test.ts: SHA-256("rovy test key 571") and "... 855").
const ID1 = 'bafzqaid3jr5g373j6icl4bdknm7h73llslnpdu7vzcerfbhguegxodu7nq';
const ID2 = 'bafzqaidykwllccaqxv22ypz5vedkwlf6r42trl2uj7yty2d4sx73tmenpi';
const KEY1 = '7b4c7a6dff69f204be046a6b3e7fed6b92daf1d3f5c8891284e6a10d770e9f6c';
const PSK = Buffer.alloc(32, 0xab).toString('base64');

/** The config as plain data, multiaddrs as text, for deepEqual. */
function plain(c: Config): unknown {
  return {
    source: c.source,
    keyFile: c.keyFile,
    listen: c.listen.map(formatMultiaddr),
    tun: c.tun,
    peers: c.peers.map((p) => ({
      address: formatMultiaddr(p.address),
      peerId: p.peerId,
      publicKey: Buffer.from(p.publicKey).toString('hex'),
      name: p.name,
      psk: p.psk && Buffer.from(p.psk).toString('base64'),
      keepalive: p.keepalive,
    })),
    log: c.log,
    discovery: c.discovery,
    links: { ...c.links, bootstrap: c.links.bootstrap.map(formatMultiaddr), publish: c.links.publish?.map(formatMultiaddr) ?? null },
    ports: { filter: c.ports.filter, allow: c.ports.allow.map(formatRule) },
    prefixes: {
      announce: c.prefixes.announce.map(formatPrefix),
      delegations: c.prefixes.delegations.map((d) => Buffer.from(d).toString('base64')),
      allow: c.prefixes.allow.map(formatGrant),
      trust: c.prefixes.trust.map(formatTrust),
    },
    exit: c.exit,
  };
}

const DEFAULTS = {
  keyFile: '/var/lib/rovy/node.key',
  listen: ['/ip4/0.0.0.0/udp/7777', '/ip6/::/udp/7777'],
  tun: { name: 'rovy0', mtu: 1420, offload: true },
  peers: [],
  log: { level: 'info' },
  discovery: { policy: 'manual', interfaces: null },
  links: { accept: 'known', allow: [], maxInbound: 256, inboundRate: 2, target: 0, bootstrap: [], publish: null },
  ports: { filter: true, allow: [] },
  prefixes: { announce: [], delegations: [], allow: [], trust: [] },
  exit: { offer: false, clients: null, uplink: null },
};

/** The one-line message parseConfig gives for `text`. */
function errorOf(text: string): string {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail(`no error for:\n${text}`);
}

test('an empty file means every default', () => {
  assert.deepEqual(plain(parseConfig('', FILE)), { source: FILE, ...DEFAULTS });
  assert.deepEqual(plain(parseConfig('# nothing but a comment\n\n', FILE)), { source: FILE, ...DEFAULTS });
  assert.deepEqual(plain(defaultConfig()), { source: null, ...DEFAULTS });
});

test('the documented example parses', () => {
  const text = `# /etc/rovy/rovy.toml
key_file = "/var/lib/rovy/node.key"
listen = ["/ip4/0.0.0.0/udp/7777", "/ip6/::/udp/7777"]

[tun]
name = "rovy0"
mtu = 1420
offload = false

[[peer]]
address = "/ip6/fd00::2/udp/7777/rovy/${ID1}"
name = "alice"
psk = "${PSK}"
keepalive = 25

[[peer]]
address = "/ip4/192.0.2.7/udp/7777/rovy/${ID2.toUpperCase()}"

[log]
level = "debug"

[discovery]
policy = "auto"
interfaces = ["eth0", "wlan0"]

[links]
accept = "allowed"
allow = ["${ID2.toUpperCase()}", "${ID1}"]
max_inbound = 10
inbound_rate = 5
bootstrap = ["/dns/Node.Example.org/tcp/443/tls/rovy/${ID1}", "/ip4/192.0.2.7/udp/7777/rovy/${ID1}"]

[ports]
filter = false
allow = ["22/tcp", "60000-61000/UDP", "80/tcp from ${ID1.toUpperCase()}"]

[exit]
offer = true
clients = ["${ID2.toUpperCase()}"]
uplink = "eth0"
`;
  assert.deepEqual(plain(parseConfig(text, FILE)), {
    source: FILE,
    keyFile: '/var/lib/rovy/node.key',
    listen: ['/ip4/0.0.0.0/udp/7777', '/ip6/::/udp/7777'],
    tun: { name: 'rovy0', mtu: 1420, offload: false },
    peers: [
      { address: `/ip6/fd00::2/udp/7777/rovy/${ID1}`, peerId: ID1, publicKey: KEY1, name: 'alice', psk: PSK, keepalive: 25 },
      {
        address: `/ip4/192.0.2.7/udp/7777/rovy/${ID2}`,
        peerId: ID2,
        publicKey: '785596b10810bd75ac3f3da906ab2cbe8f3538af544ff13c687c95ffb9b08d7a',
        name: undefined,
        psk: undefined,
        keepalive: undefined,
      },
    ],
    log: { level: 'debug' },
    discovery: { policy: 'auto', interfaces: ['eth0', 'wlan0'] },
    // Bootstrap nodes and no target: the default target of a node that has them.
    links: {
      accept: 'allowed',
      allow: [ID2, ID1],
      maxInbound: 10,
      inboundRate: 5,
      target: 4,
      bootstrap: [`/dns/node.example.org/tcp/443/tls/rovy/${ID1}`, `/ip4/192.0.2.7/udp/7777/rovy/${ID1}`],
      publish: null,
    },
    ports: { filter: false, allow: ['22/tcp', '60000-61000/udp', `80/tcp from ${ID1}`] },
    prefixes: DEFAULTS.prefixes,
    exit: { offer: true, clients: [ID2], uplink: 'eth0' },
  });
});

test('a public node publishes where to reach it; a node keeps as many links as it is told', () => {
  const c = parseConfig('[links]\naccept = "anyone"\ntarget = 0\npublish = ["/ip6/2001:db8::7/udp/7777", "/dns/node.example.org/tcp/443/tls"]\n', FILE);
  assert.deepEqual(plain(c), {
    ...DEFAULTS,
    source: FILE,
    links: { ...DEFAULTS.links, accept: 'anyone', publish: ['/ip6/2001:db8::7/udp/7777', '/dns/node.example.org/tcp/443/tls'] },
  });
  // publish = [] is a choice (publish nothing), not the default (the daemon's choice).
  assert.deepEqual(parseConfig('[links]\npublish = []\n', FILE).links.publish, []);
  assert.equal(parseConfig('[links]\ntarget = 8\n', FILE).links.target, 8);
});

test('[prefixes]: what the node announces, with delegations, and whose claims it accepts', () => {
  const holder = generateKeyPair();
  const node = generateKeyPair();
  const delegation = Buffer.from(signDelegation(holder, node.publicKey, parsePrefix('2001:db8:1::/48'), 1_900_000_000_000)).toString('base64');
  const holderKey = Buffer.from(holder.publicKey).toString('base64');
  const c = parseConfig(
    `[prefixes]\nannounce = ["2001:DB8:1::/48", "10.7.0.0/16"]\ndelegations = ["${delegation}"]\nallow = ["10.8.0.0/16 from ${ID1}"]\ntrust = ["2001:db8::/32 by ${holderKey}"]\n`,
    FILE,
  );
  assert.deepEqual((plain(c) as { prefixes: unknown }).prefixes, {
    announce: ['2001:db8:1::/48', '10.7.0.0/16'],
    delegations: [delegation],
    allow: [`10.8.0.0/16 from ${ID1}`],
    trust: [`2001:db8::/32 by ${holderKey}`],
  });
  const broken = Buffer.from(delegation, 'base64');
  broken[100]! ^= 1;
  for (const [text, message] of [
    ['[prefixes]\nannounce = ["10.7.0.1/16"]', '2: prefixes.announce[0]: "10.7.0.1/16" has bits set past /16: the network is 10.7.0.0/16'],
    ['[prefixes]\nannounce = ["10.7.0.0/16", "10.7.0.0/16"]', '2: prefixes.announce[1]: repeats prefixes.announce[0]'],
    ['[prefixes]\nannounce = "10.7.0.0/16"', '2: prefixes.announce: must be an array of prefixes like "2001:db8:1::/48" or "10.7.0.0/16", got "10.7.0.0/16"'],
    ['[prefixes]\nannounce = ["::/0"]', '2: prefixes.announce[0]: is a default route: a node offers the way to everywhere with [exit] offer = true'],
    [`[prefixes]\ndelegations = ["${broken.toString('base64')}"]`, '2: prefixes.delegations[0]: is not a delegation signed by its holder (155 bytes, as rovy prefix delegate prints it)'],
    ['[prefixes]\nallow = ["10.8.0.0/16"]', '2: prefixes.allow[0]: "10.8.0.0/16" is not "PREFIX from PEERID"'],
    ['[prefixes]\ntrust = ["2001:db8::/32 by nobody"]', '2: prefixes.trust[0]: "2001:db8::/32 by nobody" is not "PREFIX by HOLDER" (HOLDER: a key in base64, 44 characters, as rovy prefix key prints it)'],
    ['[prefixes]\nroutes = []', '2: prefixes.routes: unknown key (known keys here: announce, delegations, allow, trust)'],
    ['[exit]\noffer = "yes"', '2: exit.offer: must be true or false, got "yes"'],
    ['[exit]\nclients = "all"', '2: exit.clients: must be an array of peer IDs, got "all"'],
    ['[exit]\nclients = ["nobody"]', '2: exit.clients[0]: is not a peer ID: it must start with "b" (multibase base32), not "n"'],
    [`[exit]\nclients = ["${ID1}", "${ID1}"]`, '2: exit.clients[1]: repeats exit.clients[0]'],
    ['[exit]\nuplink = "eth 0"', '2: exit.uplink: must be a Linux interface name: 1 to 15 bytes, without "/", ":" or whitespace, not "." or "..", got "eth 0"'],
    ['[exit]\nnat = false', '2: exit.nat: unknown key (known keys here: offer, clients, uplink)'],
  ]) {
    assert.throws(() => parseConfig(text!, FILE), { name: 'ConfigError', message: `${FILE}:${message}` }, text);
  }
});

test('dotted keys, inline tables, CRLF and a byte-order mark are all TOML too', () => {
  const text = `\ufefftun.mtu = 1400\r\nlog = { level = "warn" }\r\npeer = [\r\n  { address = "/ip6/fd00::3/udp/1/rovy/${ID1}", keepalive = 0 },\r\n]\r\n`;
  const c = parseConfig(text, FILE);
  assert.equal(c.tun.mtu, 1400);
  assert.equal(c.tun.name, 'rovy0');
  assert.equal(c.log.level, 'warn');
  assert.equal(c.peers[0].keepalive, 0);
  assert.equal(c.peers[0].address.port, 1);
});

test('names are DNS labels, compared without case', () => {
  const c = parseConfig(`[[peer]]\naddress = "/ip6/fd00::2/udp/1/rovy/${ID1}"\nname = "Alice-2"\n`, FILE);
  assert.equal(c.peers[0].name, 'alice-2');
});

test('interface names follow the kernel (in bytes); the config file also refuses control characters', () => {
  const ok = ['rovy0', 'a', 'eth0.100', 'br-lan', 'abcdefghijklmno', '...', 'wlan_é', 'ééééééé', 'a\u0001b'];
  for (const name of ok) assert.ok(isInterfaceName(name), JSON.stringify(name));
  // 'éééééééé' is 8 characters but 16 bytes.
  const bad = ['', '.', '..', 'abcdefghijklmnop', 'éééééééé', 'a/b', '../x', 'eth0:1', 'a b', 'a\tb', 'a\0b'];
  for (const name of bad) assert.ok(!isInterfaceName(name), JSON.stringify(name));
  assert.equal(parseConfig('[tun]\nname = "ééééééé"', FILE).tun.name, 'ééééééé');
  assert.deepEqual(parseConfig('[discovery]\ninterfaces = ["wlan_é"]', FILE).discovery.interfaces, ['wlan_é']);
  const problem = 'must be a Linux interface name: 1 to 15 bytes, without "/", ":" or whitespace, not "." or ".."';
  assert.equal(errorOf('[tun]\nname = "éééééééé"'), `${FILE}:2: tun.name: ${problem}, got "éééééééé"`);
  // The kernel takes a control character, the config file does not.
  assert.equal(errorOf('[discovery]\ninterfaces = ["a\\u0001b"]'), `${FILE}:2: discovery.interfaces[0]: ${problem}, got "a\\u0001b"`);
});

test('a relative key_file is taken relative to the config file', () => {
  assert.equal(parseConfig('key_file = "node.key"', FILE).keyFile, '/etc/rovy/node.key');
  assert.equal(parseConfig('key_file = "../lib/k"', FILE).keyFile, '/etc/lib/k');
  assert.equal(parseConfig('key_file = "keys/node.key"', 'conf/rovy.toml').keyFile, resolve('conf/keys/node.key'));
  assert.equal(parseConfig('key_file = "/srv/rovy//k"', FILE).keyFile, '/srv/rovy/k');
});

test('every kind of error is one exact line: FILE:LINE: FIELD: problem', () => {
  const peer = (extra: string, address = `/ip6/fd00::2/udp/7777/rovy/${ID1}`): string =>
    `[[peer]]\naddress = "${address}"\n${extra}`;
  const cases: [string, string][] = [
    // TOML syntax
    ['key_file = "abc\n', '1: syntax: unterminated string constant (column 16)'],
    ['# ok\nlisten = [\n  "/ip4/0.0.0.0/udp/1",,\n]', '3: syntax: unexpected token (column 24)'],
    ['[tun]\nmtu = 1400\nmtu = 1500\n', '3: mtu: defined more than once'],
    // unknown keys
    ['\nlistn = []', '2: listn: unknown key (known keys here: key_file, listen, tun, peer, log, discovery, links, ports, prefixes, exit)'],
    ['[tun]\nmut = 1400', '2: tun.mut: unknown key (known keys here: name, mtu, offload)'],
    [peer('adress = "x"'), '3: peer[0].adress: unknown key (known keys here: address, name, psk, keepalive)'],
    ['[log]\n\nlevel = "info"\nverbose = true', '4: log.verbose: unknown key (known keys here: level)'],
    ['[tunnel]\nmtu = 1', '1: tunnel: unknown key (known keys here: key_file, listen, tun, peer, log, discovery, links, ports, prefixes, exit)'],
    // wrong types
    ['key_file = 5', '1: key_file: must be a file path (a string), got 5'],
    ['key_file = ""', '1: key_file: must be a file path, got ""'],
    ['listen = "/ip6/::/udp/7777"', '1: listen: must be an array of multiaddr strings like "/ip6/::/udp/7777", got "/ip6/::/udp/7777"'],
    ['listen = [7777]', '1: listen[0]: must be a multiaddr string like "/ip6/::/udp/7777", got 7777'],
    ['tun = 5', '1: tun: must be a table ([tun]), got 5'],
    ['[tun]\nmtu = "1420"', '2: tun.mtu: must be an integer from 1280 to 9000, got "1420"'],
    ['[tun]\nmtu = 1420.0', '2: tun.mtu: must be an integer from 1280 to 9000, got 1420.0'],
    ['[peer]\naddress = "x"', '1: peer: must be an array of tables (a [[peer]] block per peer), got a table'],
    ['peer = ["x"]', '1: peer[0]: must be a table of peer settings, got "x"'],
    ['[log]\nlevel = 1', '2: log.level: must be one of "error", "warn", "info", "debug", got 1'],
    // out of range or malformed values
    ['# rovy\n\nkey_file = "k"\n\n[tun]\nname = "rovy0"\nmtu = 70000\n', '7: tun.mtu: must be an integer from 1280 to 9000, got 70000'],
    ['[tun]\noffload = "yes"', '2: tun.offload: must be true or false, got "yes"'],
    ['[tun]\noffload = 1', '2: tun.offload: must be true or false, got 1'],
    ['[tun]\nmtu = 1279', '2: tun.mtu: must be an integer from 1280 to 9000, got 1279'],
    ['[tun]\nmtu = 99999999999999999999999', '2: tun.mtu: must be an integer from 1280 to 9000, got 99999999999999999999999'],
    ['[tun]\nname = "rovy/0"', '2: tun.name: must be a Linux interface name: 1 to 15 bytes, without "/", ":" or whitespace, not "." or "..", got "rovy/0"'],
    ['[tun]\nname = "abcdefghijklmnop"', '2: tun.name: must be a Linux interface name: 1 to 15 bytes, without "/", ":" or whitespace, not "." or "..", got "abcdefghijklmnop"'],
    ['[tun]\nname = "rovy 0"', '2: tun.name: must be a Linux interface name: 1 to 15 bytes, without "/", ":" or whitespace, not "." or "..", got "rovy 0"'],
    ['[log]\nlevel = "verbose"', '2: log.level: must be one of "error", "warn", "info", "debug", got "verbose"'],
    [peer('keepalive = 3601'), '3: peer[0].keepalive: must be an integer from 0 to 3600 (seconds; 0 = off), got 3601'],
    [peer('keepalive = -1'), '3: peer[0].keepalive: must be an integer from 0 to 3600 (seconds; 0 = off), got -1'],
    ['[discovery]\npolicy = "on"', '2: discovery.policy: must be one of "auto", "manual", "off", got "on"'],
    ['[discovery]\npolicy = true', '2: discovery.policy: must be one of "auto", "manual", "off", got true'],
    ['[discovery]\ninterfaces = "eth0"', '2: discovery.interfaces: must be an array of interface names like ["eth0", "wlan0"], got "eth0"'],
    ['[discovery]\ninterfaces = ["eth0",\n "eth/1"]', '3: discovery.interfaces[1]: must be a Linux interface name: 1 to 15 bytes, without "/", ":" or whitespace, not "." or "..", got "eth/1"'],
    ['[discovery]\ninterfaces = ["eth0", "eth0"]', '2: discovery.interfaces[1]: "eth0" is listed twice'],
    ['[discovery]\npolcy = "auto"', '2: discovery.polcy: unknown key (known keys here: policy, interfaces)'],
    ['discovery = "auto"', '1: discovery: must be a table ([discovery]), got "auto"'],
    ['[links]\naccept = "all"', '2: links.accept: must be one of "known", "allowed", "anyone", got "all"'],
    ['[links]\nallow = "x"', '2: links.allow: must be an array of peer IDs, got "x"'],
    ['[links]\nallow = [1]', '2: links.allow[0]: must be a peer ID (a string), got 1'],
    [`[links]\nallow = ["${ID1}",\n"${ID1.toUpperCase()}"]`, '3: links.allow[1]: repeats links.allow[0]'],
    ['[links]\nmax_inbound = 100001', '2: links.max_inbound: must be an integer from 0 to 100000, got 100001'],
    ['[tun]\nmtu = 0', '2: tun.mtu: must be an integer from 1280 to 9000, got 0'],
    ['[links]\ninbound_rate = 0', '2: links.inbound_rate: must be an integer from 1 to 1000 (new links a second from one address), got 0'],
    ['[ports]\nallow = ["22"]', '2: ports.allow[0]: "22" is not PORT/tcp, PORT/udp or FIRST-LAST/PROTOCOL'],
    ['[ports]\nallow = ["22/tcp from nobody"]', '2: ports.allow[0]: "nobody" is not a peer ID: it must start with \"b\" (multibase base32), not \"n\"'],
    ['[ports]\nallow = ["22/tcp", "22/TCP"]', '2: ports.allow[1]: repeats ports.allow[0]'],
    ['[ports]\nfilter = "off"', '2: ports.filter: must be true or false, got "off"'],
    ['[links]\nmax = 3', '2: links.max: unknown key (known keys here: accept, allow, max_inbound, inbound_rate, target, bootstrap, publish)'],
    ['[links]\ntarget = 65', '2: links.target: must be an integer from 0 to 64 (links to keep up), got 65'],
    ['[links]\nbootstrap = "x"', '2: links.bootstrap: must be an array of multiaddrs like "/dns/node.example.org/tcp/443/tls/rovy/<peer ID>", got "x"'],
    ['[links]\nbootstrap = ["/ip4/192.0.2.7/udp/7777"]', '2: links.bootstrap[0]: it needs /rovy/<peer ID> at the end'],
    [`[links]\nbootstrap = ["/ip4/192.0.2.7/udp/7777/rovy/${ID1}", "/ip4/192.0.2.7/udp/7777/rovy/${ID1.toUpperCase()}"]`, '2: links.bootstrap[1]: repeats links.bootstrap[0]'],
    ['[links]\npublish = ["/ip4/192.0.2.7/udp/7777"]', '2: links.publish: is for a node others may link to: it needs links.accept = "anyone"'],
    [`[links]\naccept = "anyone"\npublish = ["/ip4/192.0.2.7/udp/7777/rovy/${ID1}"]`, '3: links.publish[0]: a /rovy/<peer ID> part is not allowed here'],
    ['[links]\naccept = "anyone"\npublish = ["/ip6/::/udp/7777"]', '3: links.publish[0]: is the unspecified address: publish one others can reach'],
    ['[links]\naccept = "anyone"\npublish = ["/ip6zone/eth0/ip6/fe80::1/udp/7777"]', '3: links.publish[0]: a link-local address means nothing beyond its own link: publish a global one'],
    ['[links]\naccept = "anyone"\npublish = ["/ip4/192.0.2.1/udp/1", "/ip4/192.0.2.2/udp/1", "/ip4/192.0.2.3/udp/1", "/ip4/192.0.2.4/udp/1", "/ip4/192.0.2.5/udp/1"]', '3: links.publish: lists 5 addresses, at most 4'],
    [peer('name = "-alice"'), '3: peer[0].name: must be a DNS label: 1 to 63 letters, digits or "-", not starting or ending with "-", got "-alice"'],
    [peer('name = "alice.example"'), '3: peer[0].name: must be a DNS label: 1 to 63 letters, digits or "-", not starting or ending with "-", got "alice.example"'],
    [peer(`name = "${ID2}"`), '3: peer[0].name: must not be a peer ID (names and peer IDs share .rovy)'],
    [peer('psk = 5'), '3: peer[0].psk: must be 32 bytes in standard base64 (44 characters, as `wg genpsk` prints), got an integer'],
    // bad multiaddrs
    ['listen = [\n  "/ip4/0.0.0.0/udp/7777",\n  "/ip6/::/udp/77777",\n]', '3: listen[1]: port must be 0–65535, got 77777'],
    [`listen = ["/ip6/::/udp/7777/rovy/${ID1}"]`, '1: listen[0]: a /rovy/<peer ID> part is not allowed here'],
    ['listen = []', '1: listen: must list at least one address'],
    ['listen = ["/ip6/::/udp/7777", "/ip6/0::0/udp/7777"]', '1: listen[1]: repeats listen[0] (/ip6/::/udp/7777)'],
    [peer('', `/ip6/fd00::2/udp/99999/rovy/${ID1}`), '2: peer[0].address: port must be 1–65535, got 99999'],
    [peer('', '/ip6/fd00::2/udp/7777'), '2: peer[0].address: it needs /rovy/<peer ID> at the end'],
    [peer('', '/ip6/fe80::2/udp/7777'), '2: peer[0].address: /ip6 fe80::2 is link-local and needs its interface: /ip6zone/<interface>/ip6/fe80::2/...'],
    [peer('', `/ip6/fd00::2/udp/7777/rovy/${ID1.slice(0, 58)}`), '2: peer[0].address: /rovy peer ID: it must be 59 characters long, not 58'],
    ['[[peer]]\nname = "alice"', '1: peer[0].address: is required (a multiaddr ending in /rovy/<peer ID>, or an array of them)'],
    ['[[peer]]\naddress = 7', '2: peer[0].address: must be a multiaddr string like "/ip6/fd00::2/udp/7777/rovy/<peer ID>", or an array of them (best first), got 7'],
    // duplicate peers
    [
      `[[peer]]\naddress = "/ip6/fd00::2/udp/7777/rovy/${ID1}"\n\n[[peer]]\naddress = "/ip4/192.0.2.1/udp/1/rovy/${ID1.toUpperCase()}"`,
      '5: peer[1].address: the same peer as peer[0] (line 2)',
    ],
    [
      `[[peer]]\naddress = "/ip6/fd00::2/udp/7777/rovy/${ID1}"\nname = "alice"\n[[peer]]\naddress = "/ip6/fd00::3/udp/7777/rovy/${ID2}"\nname = "ALICE"`,
      '6: peer[1].name: "alice" is already the name of peer[0] (line 3)',
    ],
  ];
  for (const [text, expected] of cases) assert.equal(errorOf(text), `${FILE}:${expected}`, text);
});

test('a bad psk is described, never quoted', () => {
  const secret = 'c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3I'; // 43 characters: one short
  const message = errorOf(`[[peer]]\naddress = "/ip6/fd00::2/udp/7777/rovy/${ID1}"\npsk = "${secret}"`);
  assert.equal(
    message,
    `${FILE}:3: peer[0].psk: must be 32 bytes in standard base64 (44 characters, as \`wg genpsk\` prints), got a string of 43 characters`,
  );
  assert.ok(!message.includes(secret));
});

test('control characters in the file cannot break the one-line message', () => {
  assert.equal(errorOf('[tun]\nname = "a\\nb"'), `${FILE}:2: tun.name: must be a Linux interface name: 1 to 15 bytes, without "/", ":" or whitespace, not "." or "..", got "a\\nb"`);
  assert.equal(errorOf('"a\\u0007b" = 1'), `${FILE}:1: "a\\u0007b": unknown key (known keys here: key_file, listen, tun, peer, log, discovery, links, ports, prefixes, exit)`);
});

test('a missing file: defaults when optional, an error when named', (t) => {
  const path = join(tempDir(t, 'rovy-config-'), 'rovy.toml');
  const c = loadConfig(path, { mustExist: false });
  assert.deepEqual(plain(c), { source: null, ...DEFAULTS });
  assert.throws(() => loadConfig(path, { mustExist: true }), { name: 'ConfigError', message: `${path}: no such file` });
  assert.throws(() => loadConfig(path), { message: `${path}: no such file` });
  assert.throws(() => loadConfig(tmpdir(), { mustExist: false }), { message: `${tmpdir()}: is a directory, not a config file` });
});

test('loadConfig reads the file and reports its lines', (t) => {
  const path = join(tempDir(t, 'rovy-config-'), 'rovy.toml');
  writeFileSync(path, 'key_file = "node.key"\n[tun]\nmtu = 9000\n');
  const c = loadConfig(path, { mustExist: false });
  assert.equal(c.source, path);
  assert.equal(c.keyFile, join(path, '..', 'node.key'));
  assert.equal(c.tun.mtu, 9000);
  writeFileSync(path, '[tun]\n\nmtu = 9001\n');
  assert.throws(() => loadConfig(path), {
    message: `${path}:3: tun.mtu: must be an integer from 1280 to 9000, got 9001`,
  });
});

test('the default config text parses to the defaults, commented or not', () => {
  const text = defaultConfigText();
  assert.deepEqual(plain(parseConfig(text, FILE)), { source: FILE, ...DEFAULTS });
  // Uncommenting every setting line ("#key = ..." and "#[table]") must not change anything.
  const uncommented = text.replace(/^#(?=[a-z[])/gm, '');
  assert.notEqual(uncommented, text);
  assert.match(uncommented, /^mtu = 1420$/m);
  assert.match(uncommented, /^offload = true$/m);
  assert.match(uncommented, /^\[log\]$/m);
  assert.deepEqual(plain(parseConfig(uncommented, FILE)), { source: FILE, ...DEFAULTS });
  // The key file it names survives quoting.
  const odd = '/srv/my "rovy"\\keys/node\t.key';
  assert.equal(parseConfig(defaultConfigText(odd), FILE).keyFile, odd);
  assert.equal(parseConfig(defaultConfigText('node.key'), FILE).keyFile, '/etc/rovy/node.key');
});

test('writeDefaultConfig creates the file (0644) once and never replaces it', (t) => {
  const dir = tempDir(t, 'rovy-config-');
  const path = join(dir, 'etc', 'rovy', 'rovy.toml');
  assert.equal(writeDefaultConfig(path, join(dir, 'node.key')), true);
  assert.equal(statSync(path).mode & 0o777, 0o644 & ~process.umask());
  assert.equal(loadConfig(path).keyFile, join(dir, 'node.key'));
  writeFileSync(path, '# edited by hand\n');
  assert.equal(writeDefaultConfig(path), false);
  assert.equal(readFileSync(path, 'utf8'), '# edited by hand\n');
});

test('bytes that are not UTF-8 are an error at their line and column, not replaced', (t) => {
  const path = join(tempDir(t, 'rovy-config-'), 'rovy.toml');
  writeFileSync(path, Buffer.concat([Buffer.from('# café\n[tun]\nname = "ro'), Buffer.from([0xff]), Buffer.from('vy"\n')]));
  assert.throws(() => loadConfig(path), { name: 'ConfigError', message: `${path}:3: syntax: not UTF-8 text: byte 0xff at column 11` });
  // A sequence cut short by the end of the file.
  writeFileSync(path, Buffer.concat([Buffer.from('[tun]\n# '), Buffer.from([0xe2, 0x82])]));
  assert.throws(() => loadConfig(path), { message: new RegExp(`^${path}:2: syntax: not UTF-8 text: byte 0x82 at column 4$`) });
  writeFileSync(path, '# café, ☕\n[tun]\nmtu = 1280\n');
  assert.equal(loadConfig(path).tun.mtu, 1280, 'UTF-8 text that is not ASCII was refused');
});

test('a [[peer]] that is the node itself is refused at its line once the key is known', () => {
  const c = parseConfig(`listen = ["/ip6/::/udp/7777"]\n\n[[peer]]\naddress = "/ip6/fd00::2/udp/7777/rovy/${ID2}"\n[[peer]]\naddress = "/ip6/fd00::3/udp/7777/rovy/${ID1}"\n`, FILE);
  assert.throws(() => refuseOwnKey(c, Buffer.from(KEY1, 'hex')), {
    name: 'ConfigError',
    message: `${FILE}:6: peer[1].address: is this node itself (${ID1} is its own peer ID)`,
  });
  refuseOwnKey(c, new Uint8Array(32)); // another node's key: nothing to refuse
});
