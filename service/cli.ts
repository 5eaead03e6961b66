// The rovy command line: a table of subcommands, one module each. init and id work without a
// daemon; daemon runs one; the rest are clients of the running daemon's D-Bus API.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runDaemon } from './daemon.js';
import { runId } from './commands/id.js';
import { runInit } from './commands/init.js';
import { runBlock, runBlocked, runConnect, runDisconnect, runToggle } from './commands/peer.js';
import { runRoutes } from './commands/routes.js';
import { NAME_USAGE, runName } from './commands/names.js';
import { DISCOVERY_USAGE, runDiscovery } from './commands/discovery.js';
import { runPeers, runStatus } from './commands/status.js';
import { PORTS_USAGE, runPorts } from './commands/ports.js';
import { PREFIX_USAGE, runPrefix } from './commands/prefix.js';
import { EXIT_USAGE, runExit } from './commands/exit.js';
import { DEFAULT_CONFIG_PATH as DEFAULT_CONFIG } from '../src/config/defaults.js';

interface Command {
  summary: string;
  usage: string;
  options: ParseArgsConfig['options'];
  /** More to say in `rovy COMMAND --help`, after the summary. */
  details?: string;
  /** How many positional arguments the command takes; 'any' leaves the count to the command. */
  positionals?: number | 'any';
  run(values: Record<string, string | boolean | undefined>, configPath: string, explicit: boolean, args: string[]): Promise<number> | number;
}

const jsonOption = { json: { type: 'boolean' } } as const;

const configOption = { config: { type: 'string', short: 'c' } } as const;

const commands: Record<string, Command> = {
  init: {
    summary: 'create the node key, and a config file if there is none',
    usage: 'rovy init [--config FILE]',
    options: configOption,
    run: (_v, path, explicit) => runInit(path, explicit),
  },
  id: {
    summary: "print this node's peer ID and fc00::/8 address",
    usage: 'rovy id [--config FILE] [--json]',
    options: { ...configOption, json: { type: 'boolean' } },
    run: (v, path, explicit) => runId(path, explicit, v.json === true),
  },
  daemon: {
    summary: 'run the node in the foreground',
    usage: 'rovy daemon [--config FILE]',
    options: configOption,
    run: (_v, path, explicit) => runDaemon(path, explicit),
  },
  status: {
    summary: "the running node's identity and state",
    usage: 'rovy status [--json]',
    options: jsonOption,
    run: (v) => runStatus(v.json === true),
  },
  peers: {
    summary: 'the peers and their sessions: neighbours, then routed peers',
    usage: 'rovy peers [--json]',
    details: [
      'A neighbour is a peer from the config file, `rovy connect`, the local network, a node',
      'that linked to this one as [links] accept allows, or one this node linked to by itself to',
      'keep [links] target links up (origin config, runtime, discovered, inbound, auto); a routed',
      'peer is a node reached through others (origin routed), shown with its hop count and route.',
      'It cannot be disconnected: it has no link of ours.',
    ].join('\n'),
    options: jsonOption,
    run: (v) => runPeers(v.json === true),
  },
  routes: {
    summary: 'every node there is a route to: hops, first hop, path, MTU',
    usage: 'rovy routes [--json]',
    details: [
      'Neighbours (1 hop) and routed peers, sorted by hops, then address. VIA is the first hop,',
      'PATH every node after this one (destination last), MTU the largest IPv6 packet the route',
      'carries. FOUND BY says how the route was learned: link (a neighbour), map (the signed',
      'announcements of the nodes around), or a lookup beyond them — lookup or probe (the way a',
      'request of ours went, steered in a tree), return (the way the node steered back our',
      'probe), request (the way its own request came) — with the tree and when. A found route',
      'names only its first hop and its end. --json prints an array of {peerId, petname, address,',
      'origin, state, hops, via, route, routeMtu, source, tree, foundAt, path} (route: peer IDs;',
      'foundAt: ms since the epoch, or null; path: the D-Bus object). Without --json, then the',
      'node\'s place in each of the four trees that lookups are steered along: its root and the',
      'depth under it (Describe\'s routing.trees).',
    ].join('\n'),
    options: jsonOption,
    run: (v) => runRoutes(v.json === true),
  },
  connect: {
    summary: 'add a peer at MULTIADDR (/ip6/ADDR/udp/PORT/rovy/PEERID), or a node found on the LAN by PEERID',
    usage: 'rovy connect MULTIADDR|PEERID [--json]',
    options: jsonOption,
    positionals: 1,
    run: (v, _p, _e, args) => runConnect(args[0]!, v.json === true),
  },
  disconnect: {
    summary: 'remove a neighbour, by peer ID or fc address',
    usage: 'rovy disconnect PEER',
    options: {},
    positionals: 1,
    run: (_v, _p, _e, args) => runDisconnect(args[0]!),
  },
  block: {
    summary: 'refuse a node\'s links, now and after restarts, and drop the one it has',
    usage: 'rovy block PEER',
    details: [
      'PEER is a peer ID, or the fc00::/8 address of a peer. A blocked node may not link to this',
      'one whatever [links] accept says, is not connected to from the local network, and',
      '`rovy connect` refuses it. It may still reach this node through others, like any node.',
      'A peer from the config file is not blocked: remove it there.',
    ].join('\n'),
    options: {},
    positionals: 1,
    run: (_v, _p, _e, args) => runBlock(args[0]!, true),
  },
  unblock: {
    summary: 'lift a block',
    usage: 'rovy unblock PEER',
    options: {},
    positionals: 1,
    run: (_v, _p, _e, args) => runBlock(args[0]!, false),
  },
  blocked: {
    summary: 'the blocked nodes',
    usage: 'rovy blocked [--json]',
    options: jsonOption,
    run: (v) => runBlocked(v.json === true),
  },
  ports: {
    summary: 'what of the mesh reaches this machine; allow|deny PORTS [--from PEER] to change it',
    usage: PORTS_USAGE,
    details: [
      'Inbound connections over the mesh are refused except to the ports opened here or in the',
      'config file ([ports] allow); replies to this machine\'s own connections and ping always pass.',
      'PORTS is 22/tcp or FIRST-LAST/udp; --from opens them to one node only (a peer ID, petname,',
      'or fc00::/8 address). Opening needs an administrator\'s password (polkit net.rovy.manage-ports).',
      'What the filter dropped is counted (filtered, in rovy status --json).',
    ].join('\n'),
    options: { json: { type: 'boolean' }, from: { type: 'string' } },
    positionals: 'any',
    run: (v, _p, _e, args) => runPorts(args, v.json === true, typeof v.from === 'string' ? v.from : undefined),
  },
  name: {
    summary: 'petnames: set NAME PEER, rm NAME, list [--json]; NAME.rovy resolves to PEER',
    usage: NAME_USAGE,
    details: [
      'A name is a DNS label (letters, digits, "-"; case does not matter). A peer has one petname:',
      'setting another renames it. PEER is a peer ID, or the fc00::/8 address of a peer or a',
      'neighbour. Names from [[peer]] blocks in the config file are listed too (source "config");',
      'they are changed in the file. Names are kept across restarts.',
    ].join('\n'),
    options: jsonOption,
    positionals: 'any',
    run: (v, _p, _e, args) => runName(args, v.json === true),
  },
  discovery: {
    summary: 'nodes found on the local network; on|off, auto|manual to switch it',
    usage: DISCOVERY_USAGE,
    details: [
      'Without an argument: the policy, the interfaces in use and every node heard there.',
      '"on" and "off" switch discovery; "auto" connects to every node found, "manual" lists them',
      'for `rovy connect PEERID`. The choice is kept across restarts until the config changes.',
    ].join('\n'),
    options: jsonOption,
    positionals: 'any',
    run: (v, _p, _e, args) => runDiscovery(args, v.json === true),
  },
  exit: {
    summary: 'the exit to the Internet in use and the nodes that offer one; use PEER, off to switch',
    usage: EXIT_USAGE,
    details: [
      'With an exit in use, this machine\'s traffic to every address no routed prefix holds goes',
      'through that node (IPv4 from its mesh address in 100.64.0.0/10, masqueraded there), while',
      'the daemon\'s own traffic to its peers keeps its path. PEER is a peer ID, petname or fc00::/8',
      'address; it need not offer an exit yet. --kill-switch: while the exit cannot be reached,',
      'nothing leaves outside the mesh (without it, this machine\'s own routes carry the traffic',
      'meanwhile). "off" puts the routes back exactly as they were. Kept across restarts; needs',
      'polkit net.rovy.use-exit. A node offers an exit with [exit] offer = true in its config.',
    ].join('\n'),
    options: { json: { type: 'boolean' }, 'kill-switch': { type: 'boolean' } },
    positionals: 'any',
    run: (v, _p, _e, args) => runExit(args, v.json === true, v['kill-switch'] === true),
  },
  prefix: {
    summary: "a prefix holder's tools: key (make or show the holder key), delegate PREFIX to a node",
    usage: PREFIX_USAGE,
    details: [
      'For whoever holds a network (an IPv6 /48, an IPv4 range) that nodes announce as routed',
      'prefixes. "key" creates the holder key in FILE (0600) if there is none and prints its public',
      'half: nodes accept delegations from it with [prefixes] trust = ["PREFIX by KEY"]. "delegate"',
      'prints a delegation of PREFIX to the node PEERID, valid N days (default 365), for that',
      'node\'s [prefixes] delegations. Works without a daemon; keep the holder key off the nodes.',
    ].join('\n'),
    options: { key: { type: 'string' }, to: { type: 'string' }, days: { type: 'string' } },
    positionals: 'any',
    run: (v, _p, _e, args) => runPrefix(args, typeof v.key === 'string' ? v.key : undefined, typeof v.to === 'string' ? v.to : undefined, typeof v.days === 'string' ? v.days : undefined),
  },
  up: {
    summary: 'switch the mesh on',
    usage: 'rovy up',
    options: {},
    run: () => runToggle(true),
  },
  down: {
    summary: 'switch the mesh off: interface down, sessions closed',
    usage: 'rovy down',
    options: {},
    run: () => runToggle(false),
  },
};

function help(): string {
  const lines = ['usage: rovy COMMAND [OPTIONS]', '', 'commands:'];
  for (const [name, cmd] of Object.entries(commands)) lines.push(`  ${name.padEnd(11)} ${cmd.summary}`);
  lines.push('', `--config FILE defaults to ${DEFAULT_CONFIG}; a missing default config means all defaults.`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help() + '\n');
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`rovy: unknown command "${name}" (try rovy --help)\n`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }));
    const count = cmd.positionals ?? 0;
    if (!values.help && count !== 'any' && positionals.length !== count) {
      throw new Error(positionals.length > count ? `unexpected argument "${positionals[count]}"` : 'missing argument');
    }
  } catch (err) {
    process.stderr.write(`rovy ${name}: ${(err as Error).message} (usage: ${cmd.usage})\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`usage: ${cmd.usage}\n${cmd.summary}\n${cmd.details ? `\n${cmd.details}\n` : ''}`);
    return 0;
  }
  const explicit = typeof values.config === 'string';
  return cmd.run(values, explicit ? (values.config as string) : DEFAULT_CONFIG, explicit, positionals);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`rovy: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
