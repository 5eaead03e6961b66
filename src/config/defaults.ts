// The default value of every setting, and the commented config file `rovy init` writes.
//
// defaultConfigText() shows each default as a commented-out line ("#mtu = 1420"), so the file
// parses to the defaults as written and still does if a line is uncommented unchanged; the unit
// test checks both, which keeps this text and DEFAULTS from drifting apart.
import type { AcceptPolicy, DiscoveryPolicy, LinkSettings, LogLevel } from './schema.js';

/** Where the daemon looks for its config file when none is given. */
export const DEFAULT_CONFIG_PATH = '/etc/rovy/rovy.toml';

/** Where the node's private key lives when the config does not say. */
export const DEFAULT_KEY_FILE = '/var/lib/rovy/node.key';

export const DEFAULTS = {
  keyFile: DEFAULT_KEY_FILE,
  /** All IPv4 and all IPv6 addresses, UDP port 7777. */
  listen: ['/ip4/0.0.0.0/udp/7777', '/ip6/::/udp/7777'] as readonly string[],
  tunName: 'rovy0',
  /** 1420 leaves room for rovy's headers inside a 1500-byte path, as WireGuard's default does. */
  mtu: 1420,
  /** The kernel hands over and takes large TCP segments: several times less work per byte. */
  tunOffload: true,
  logLevel: 'info' as LogLevel,
  /**
   * Nodes on the LAN are listed, and connected to with one click or `rovy connect`: joining every
   * stranger's node on a café network by default would make this node their transit.
   */
  discoveryPolicy: 'manual' as DiscoveryPolicy,
  /** Only the peers this node lists (or connects to) may link to it: a public node is a choice. */
  accept: 'known' as AcceptPolicy,
  /** Inbound links kept at once on a node that accepts them: a community mesh's public node. */
  maxInbound: 256,
  /** New inbound links a second from one address: a NAT with many users still gets through, a
   *  flood of new keys from one host does not fill the table. */
  inboundRate: 2,
  /** Links a node given bootstrap nodes keeps up by itself: enough that losing one or two
   *  leaves it linked, few enough that it is no one's burden (re6stnet's clients keep about as
   *  many). Without bootstrap nodes the default is 0: a node links only where it is told to. */
  targetWithBootstrap: 4,
  /** What the mesh sends in is filtered: no port is open until the user opens it. */
  portFilter: true,
} as const;

/** [links] as a config file without the section sets it. */
export function defaultLinkSettings(): LinkSettings {
  return { accept: DEFAULTS.accept, allow: [], maxInbound: DEFAULTS.maxInbound, inboundRate: DEFAULTS.inboundRate, target: 0, bootstrap: [], publish: null };
}

/** A commented TOML config file that sets key_file and leaves everything else at its default. */
export function defaultConfigText(keyFile: string = DEFAULTS.keyFile): string {
  const q = tomlString;
  return `# rovy configuration (TOML). Every setting is optional: a commented-out line shows
# the default. A relative path is taken relative to the directory of this file.

# The node's private key: created (mode 0600) when the daemon first starts. Keep it secret.
key_file = ${q(keyFile)}

# Addresses to listen on, as multiaddrs; port 0 lets the system choose. UDP, and for nodes on
# networks that pass no UDP, TLS over TCP: "/ip6/::/tcp/443/tls" (no certificate needed).
#listen = [${DEFAULTS.listen.map(q).join(', ')}]

# The TUN interface that carries fc00::/8 traffic.
#[tun]
#name = ${q(DEFAULTS.tunName)}
#mtu = ${DEFAULTS.mtu}
# Segmentation offloads: the TUN carries TCP and UDP segments of up to 64 KB, which rovy
# splits and coalesces itself. Turn off only to rule them out when chasing a problem.
#offload = ${DEFAULTS.tunOffload}

# How much to log: "error", "warn", "info" or "debug".
#[log]
#level = ${q(DEFAULTS.logLevel)}

# Finding other nodes on the local network (signed announcements on link-local multicast).
# policy: "auto" connects to every node found, "manual" lists them (rovy discovery) and
# connects on request (rovy connect PEERID), "off" neither announces nor listens.
# interfaces: where to announce and listen, e.g. ["eth0", "wlan0"]; without it, every
# interface with a link-local IPv6 address except loopback and the TUN.
#[discovery]
#policy = ${q(DEFAULTS.discoveryPolicy)}

# Who may link to this node without being one of its peers. accept: "known" (the peers
# below, those added with rovy connect and, by discovery policy, nodes on the LAN), "allowed"
# (those and the peer IDs in allow) or "anyone" (a public node others join the mesh through).
# At most max_inbound such links are kept, and at most inbound_rate new ones a second come
# from one address (bursts of 4 times that). rovy block PEERID refuses a node for good.
#
# A node can also keep links by itself: given public nodes to join through (bootstrap, multiaddrs
# ending in /rovy/<peer ID>), it keeps about target links up, with nodes its neighbours tell it
# of, replacing those that die and now and then the least useful one. target is 0 (none of its
# own) unless bootstrap is set, then ${DEFAULTS.targetWithBootstrap}. A node that accepts anyone tells the mesh where
# to reach it, signed: publish lists those addresses (no /rovy); without it, its listen
# addresses that are public (global IPv6, IPv4 outside the private ranges); [] publishes none.
# For example: publish = ["/ip4/203.0.113.7/udp/7777", "/dns/node.example.org/tcp/443/tls"]
#[links]
#accept = ${q(DEFAULTS.accept)}
#allow = []
#max_inbound = ${DEFAULTS.maxInbound}
#inbound_rate = ${DEFAULTS.inboundRate}
#target = 0
#bootstrap = []

# What of the mesh's traffic reaches this machine. Inbound connections are refused except to
# the ports opened here or with rovy ports allow; replies to this machine's own connections and
# ICMPv6 (ping, path MTU, traceroute) always pass. A rule is "22/tcp", "60000-61000/udp", or
# "80/tcp from <peer ID>" for one node only. filter = false lets everything in (for a machine
# whose own firewall guards the TUN interface).
#[ports]
#filter = ${DEFAULTS.portFilter}
#allow = []

# Networks beyond fc00::/8, IPv6 or IPv4: those behind this node, and whose claims it accepts.
# announce: prefixes the mesh may reach through this node (the machine routes them on: turn on
# forwarding). delegations: signed by a prefix's holder for this node (rovy prefix delegate);
# carried in the announcement, so nodes that trust the holder accept the claim. allow:
# "PREFIX from PEERID" accepts that node's claims within PREFIX; trust: "PREFIX by HOLDER"
# accepts delegations signed by HOLDER within PREFIX. A claim nothing here allows is ignored;
# a prefix two nodes claim is used for neither.
#[prefixes]
#announce = []
#delegations = []
#allow = []
#trust = []

# This machine as an exit to the Internet for the mesh: it announces ::/0 and 0.0.0.0/0, and
# what the mesh sends from its own addresses (fc00::/8, and 100.64.0.0/10 for IPv4) leaves by
# the uplink masqueraded with nftables; a routed prefix's addresses leave as they are. Turn on
# forwarding. A node uses an exit with rovy exit use PEER.
#[exit]
#offer = false
# clients = ["<peer ID>", ...]   only these nodes may use it (absent: every node of the mesh)
# uplink = "eth0"                the traffic leaves by this interface only (absent: any but the mesh's)

# One [[peer]] block for each peer to connect to, for example:
# [[peer]]
# address = "/ip6/2001:db8::1/udp/7777/rovy/<peer ID>"   # required: where, and who; or an
#           # array, best first, e.g. [".../udp/7777/rovy/<peer ID>", "/dns/host/tcp/443/tls/rovy/<peer ID>"]
# name = "alice"          # optional: reach the peer as alice.rovy
# psk = "<base64>"        # optional: 32-byte pre-shared key, as \`wg genpsk\` prints
# keepalive = 25          # optional: seconds between keepalives when idle (default 25), 0 = off
`;
}

/** A TOML basic string: escapes what TOML does not allow raw (quote, backslash, controls). */
export function tomlString(s: string): string {
  return (
    '"' +
    s.replace(/["\\\u0000-\u001f\u007f]/g, (c) => {
      const short: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t', '\r': '\\r' };
      return short[c] ?? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
    }) +
    '"'
  );
}
