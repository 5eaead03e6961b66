// Small helpers for network tests: namespaces and veth links this test creates itself, daemons
// started inside them and ended by PID, and polling for a state instead of sleeping.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from '../repo-root.js';

export const ROVY_JS = join(ROOT, 'dist', 'rovy.js');

import { until } from '../wait.js';

export { isRoot, until } from '../wait.js';

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs a command and reports its exit status and output instead of throwing. */
export function tryRun(cmd: string, args: string[], timeoutMs = 20_000): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs }) };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export function nsExec(ns: string, cmd: string, args: string[], timeoutMs?: number): { code: number; out: string } {
  return tryRun('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
}


/**
 * An iperf3 TCP run of `seconds` from namespace `clientNs` to a one-off server in `serverNs` on
 * `address`; returns the bytes received and the rate. A run counts once it reports what was
 * received (seen once in CI: exit 0 with none); the server is ended and waited for.
 */
export async function iperf3(clientNs: string, serverNs: string, address: string, seconds = 2, bytes?: string): Promise<{ bytes: number; bitsPerSecond: number }> {
  const server = spawn('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-B', address], { stdio: 'ignore' });
  const serverExit = new Promise((r) => server.once('exit', r));
  try {
    let result = { code: -1, out: '' };
    let received: IperfSum | undefined;
    await until('iperf3 server accepts', () => {
      // `bytes` (iperf3's -n: "256K") sends that much, however long it takes, within `seconds`.
      const amount = bytes === undefined ? ['-t', String(seconds)] : ['-n', bytes];
      result = nsExec(clientNs, 'iperf3', ['-c', address, ...amount, '-J'], 20_000 + seconds * 1000);
      received = result.code === 0 ? iperfReceived(result.out) : undefined;
      return received !== undefined;
    }).catch((e: Error) => {
      throw new Error(`${e.message}; last iperf3 run (exit ${result.code}):\n${result.out.slice(0, 2000)}`);
    });
    return { bytes: received!.bytes, bitsPerSecond: received!.bits_per_second };
  } finally {
    if (server.exitCode === null) server.kill();
    await serverExit;
  }
}

interface IperfSum {
  bytes: number;
  bits_per_second: number;
}

/** What an iperf3 -J report says was received, or undefined when the report is not JSON, carries
 *  an `error` (iperf3 says so there, sometimes with exit 0), or has no receiver's sum. */
function iperfReceived(out: string): IperfSum | undefined {
  let report: { error?: string; end?: { sum_received?: IperfSum } };
  try {
    report = JSON.parse(out) as typeof report;
  } catch {
    return undefined;
  }
  if (report.error !== undefined) return undefined;
  const sum = report.end?.sum_received;
  return sum && Number.isFinite(sum.bytes) && Number.isFinite(sum.bits_per_second) ? sum : undefined;
}

/** The parts of the SIGUSR1 state the tests read (service/daemon.ts logs it). */
export interface DaemonState {
  counters: Record<string, number>;
  peers: { peerId: string; address: string; origin: string; state: string; hops: number; endpoint: string | null; routeSource: string }[];
  /** The link policy and what came of it (node/inbound.ts report()). */
  links: { accept: string; inbound: number; blocked: string[]; counters: Record<string, number> };
  dataPath: {
    tun: { reads: number; packetsRead: number; gsoReads: number; writes: number; packetsWritten: number; groWrites: number; malformed: number };
    udp: { recvCalls: number; received: number; sendCalls: number; sent: number; gsoSends: number };
    aead: { calls: number; packets: number };
  };
}

export class Daemon {
  readonly child: ChildProcess;
  log = '';
  readonly exited: Promise<number | null>;

  /** Runs `argv` inside namespace `ns` (ip netns exec execs it: the child's PID is the command's). */
  constructor(ns: string, argv: string[]) {
    // Daemons under test never reach the machine's own system bus: a test that wants a bus
    // starts a private one and says so in argv (env DBUS_SYSTEM_BUS_ADDRESS=...).
    const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/rovy-test-bus' };
    this.child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }

  /**
   * The state the daemon logs on SIGUSR1: its counters, data path, peers and routing. The signal
   * is sent again until a state line comes: one that arrives before the daemon set its handler
   * goes to Node's default (the inspector), not to the daemon.
   */
  async state(): Promise<DaemonState> {
    // Not before the daemon runs: a signal that reaches `ip netns exec` before it has exec'd the
    // daemon ends it (SIGUSR1's default action).
    await until('the daemon up', () => /node \S+ (up|switched off) as /.test(this.log), 30_000);
    const mark = this.log.length;
    const line = /state (\{.*\})\n/;
    let sentAt = -Infinity;
    await until('state logged', () => {
      if (line.test(this.log.slice(mark))) return true;
      if (performance.now() - sentAt >= 250) {
        sentAt = performance.now();
        this.signal('SIGUSR1');
      }
      return false;
    });
    return JSON.parse(line.exec(this.log.slice(mark))![1]!) as DaemonState;
  }

  /** SIGTERM, then wait for the exit code (SIGKILL after 5 s so a test never hangs). */
  async stop(): Promise<number | null> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** The config of a node listening on IPv4 port 7777 with one peer at `peer` ("IP:PORT") whose
 *  peer ID is `peerId`; `extra` lines come before the peer's table. */
export function ipv4PeerConfig(peer: string, peerId: string, extra: string[] = []): string {
  const at = peer.lastIndexOf(':');
  return ['key_file = "node.key"', 'listen = ["/ip4/0.0.0.0/udp/7777"]', ...extra, '[[peer]]', `address = "/ip4/${peer.slice(0, at)}/udp/${peer.slice(at + 1)}/rovy/${peerId}"`].join('\n');
}

/** A set of namespaces, veths and files that a test owns and removes at the end. */
export class Lab {
  readonly dir = mkdtempSync(join(tmpdir(), 'rovy-test-'));
  private readonly namespaces: string[] = [];
  readonly daemons: Daemon[] = [];
  private readonly tag = `${process.pid % 100000}`;
  private readonly netnsDirs: string[] = [];

  namespace(name: string): string {
    const ns = `rv${name}${this.tag}`;
    tryRun('ip', ['netns', 'del', ns]);
    sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A veth pair between two namespaces with the given /64 addresses; returns the two names. */
  link(nsA: string, addrA: string, nsB: string, addrB: string, prefix = 64): [string, string] {
    const a = `v${this.namespaces.indexOf(nsA)}${this.namespaces.indexOf(nsB)}`;
    const b = `v${this.namespaces.indexOf(nsB)}${this.namespaces.indexOf(nsA)}`;
    sh('ip', ['link', 'add', a, 'netns', nsA, 'type', 'veth', 'peer', 'name', b, 'netns', nsB]);
    const flags = prefix === 64 ? ['nodad'] : [];
    sh('ip', ['-n', nsA, 'addr', 'add', `${addrA}/${prefix}`, 'dev', a, ...flags]);
    sh('ip', ['-n', nsB, 'addr', 'add', `${addrB}/${prefix}`, 'dev', b, ...flags]);
    sh('ip', ['-n', nsA, 'link', 'set', a, 'up']);
    sh('ip', ['-n', nsB, 'link', 'set', b, 'up']);
    return [a, b];
  }

  /**
   * One LAN segment: a bridge in a namespace of its own, and in each of `members` an interface
   * `lan0` plugged into it, up, with only its link-local address (duplicate address detection
   * off, so the address is usable at once). Returns the bridge's namespace.
   */
  lan(members: string[]): string {
    const sw = this.namespace('sw');
    sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    members.forEach((ns, i) => {
      sh('ip', ['link', 'add', 'lan0', 'netns', ns, 'type', 'veth', 'peer', 'name', `port${i}`, 'netns', sw]);
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.lan0.accept_dad=0']);
      sh('ip', ['-n', sw, 'link', 'set', `port${i}`, 'master', 'br0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lan0', 'up']);
    });
    return sw;
  }

  /** Gives namespace `ns` its own /etc/resolv.conf (ip netns exec bind-mounts /etc/netns/NS/*). */
  resolvConf(ns: string, text: string): void {
    const dir = join('/etc/netns', ns);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'resolv.conf'), text);
    this.netnsDirs.push(dir);
  }

  /** A path inside the test's directory; its parent directories are created. */
  path(name: string): string {
    const path = join(this.dir, name);
    mkdirSync(dirname(path), { recursive: true });
    return path;
  }

  /** A veth pair with IPv4 /24 addresses. */
  link4(nsA: string, addrA: string, nsB: string, addrB: string): [string, string] {
    return this.link(nsA, addrA, nsB, addrB, 24);
  }

  file(name: string, text: string): string {
    const path = this.path(name);
    writeFileSync(path, text);
    return path;
  }

  /** A node of its own in directory `dir`: `rovy init` makes its key and config, `rovy id` names it. */
  initNode(dir: string): { config: string; peerId: string; address: string } {
    const config = this.path(`${dir}/rovy.toml`);
    const init = this.rovy(['init', '--config', config]);
    if (init.code !== 0) throw new Error(`rovy init failed: ${init.out}`);
    return { config, ...this.id(config) };
  }

  /** Who the node of `config` is (`rovy id`), for instance once its daemon has made its key. */
  id(config: string): { peerId: string; address: string } {
    const id = this.rovy(['id', '--config', config, '--json']);
    if (id.code !== 0) throw new Error(`rovy id failed: ${id.out}`);
    return JSON.parse(id.out) as { peerId: string; address: string };
  }

  rovy(args: string[]): { code: number; out: string } {
    return tryRun(process.execPath, [ROVY_JS, ...args]);
  }

  /** Starts `rovy daemon --config configPath` in `ns`. */
  start(ns: string, configPath: string): Daemon {
    return this.spawn(ns, [process.execPath, '--enable-source-maps', ROVY_JS, 'daemon', '--config', configPath]);
  }

  /** Starts any long-running command in `ns`; it is stopped by PID at cleanup. */
  spawn(ns: string, argv: string[]): Daemon {
    const d = new Daemon(ns, argv);
    this.daemons.push(d);
    return d;
  }

  async cleanup(): Promise<void> {
    for (const d of this.daemons) await d.stop();
    for (const ns of this.namespaces) tryRun('ip', ['netns', 'del', ns]);
    for (const dir of this.netnsDirs) rmSync(dir, { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
