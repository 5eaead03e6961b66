// DNS through the exit (issue 15, 2): while a node uses an exit, the names its resolver at fc00::1
// does not hold (everything outside .rovy) are asked of the exit, across the mesh, so that the
// lookups leave where the traffic leaves, not by the local network's resolver.
//
//   client: one UDP socket per query, from the node's fc address to the exit's, port 7753
//           (exitForwarder, the node's DnsForwarder); the answer, or SERVFAIL after 3 s.
//   exit:   a UDP socket on its fc address, port 7753, that the inbound filter opens to the
//           nodes it serves (exitDnsRules); each query goes on to this machine's own name servers
//           (/etc/resolv.conf), the first that answers wins, and the answer goes back as it is.
//
// Port 7753, not 53: the daemon has no CAP_NET_BIND_SERVICE, and both ends are rovy's.
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { DnsForwarder } from '../src/node/resolver.js';
import type { PortRule } from '../src/fcnet/port-rules.js';

export const EXIT_DNS_PORT = 7753;
/** How long a query waits for its answer, at the client and at the exit. */
export const EXIT_DNS_TIMEOUT_MS = 3000;
/** Queries an exit has out at once, at most: more are dropped (the client's resolver retries). */
const MAX_PENDING = 512;
/** The largest DNS message carried (the EDNS figure the resolver at fc00::1 offers). */
const MAX_MESSAGE = 1232;

/** The node's way to the exit at `exitAddress` (its fc address, text). */
export function exitForwarder(exitAddress: string): DnsForwarder {
  return (query, answer) => {
    const socket = createSocket('udp6');
    let done = false;
    const finish = (response: Uint8Array | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      answer(response);
    };
    const timer = setTimeout(() => finish(null), EXIT_DNS_TIMEOUT_MS);
    socket.on('message', (message, from) => {
      if (from.port === EXIT_DNS_PORT && sameAddress(from.address, exitAddress)) finish(new Uint8Array(message));
    });
    socket.on('error', () => finish(null));
    socket.send(query, EXIT_DNS_PORT, exitAddress);
    return true;
  };
}

/** The inbound filter's rules for the exit's DNS port: open to the nodes it serves. */
export function exitDnsRules(clients: readonly string[] | null): PortRule[] {
  const rule = { protocol: 'udp' as const, first: EXIT_DNS_PORT, last: EXIT_DNS_PORT };
  return clients === null ? [{ ...rule, peerId: null }] : clients.map((peerId) => ({ ...rule, peerId }));
}

/** The exit's side: answers its clients' queries from this machine's name servers. */
export class ExitDnsServer {
  private socket: Socket | null = null;
  private boundTo = '';
  private pending = 0;
  /** Queries dropped: too many at once, or too large. */
  dropped = 0;
  private failing = false;

  constructor(
    private readonly log: { warn(message: string): void; info(message: string): void },
    private readonly resolvConf = '/etc/resolv.conf',
  ) {}

  /** Listens on `address` (the node's fc address) if it does not yet; null: stops. The address
   *  may not be on the interface yet (NetworkManager brings it): tried again at the next call. */
  ensure(address: string | null): void {
    if (address === this.boundTo && (this.socket || address === null)) return;
    this.socket?.close();
    this.socket = null;
    this.boundTo = '';
    if (address === null) return;
    const socket = createSocket('udp6');
    socket.on('message', (query, from) => this.relay(socket, new Uint8Array(query), from.address, from.port));
    socket.once('error', (err) => {
      if (!this.failing) this.log.warn(`exit DNS: cannot listen on [${address}]:${EXIT_DNS_PORT}: ${err.message}; tried again in a few seconds`);
      this.failing = true;
      socket.close();
      if (this.socket === socket) {
        this.socket = null;
        this.boundTo = '';
      }
    });
    socket.bind(EXIT_DNS_PORT, address, () => {
      this.failing = false;
      this.log.info(`exit DNS: answering the mesh's queries on [${address}]:${EXIT_DNS_PORT}`);
    });
    this.socket = socket;
    this.boundTo = address;
  }

  close(): void {
    this.ensure(null);
  }

  private relay(socket: Socket, query: Uint8Array, client: string, port: number): void {
    if (this.pending >= MAX_PENDING || query.length > MAX_MESSAGE || query.length < 12) {
      this.dropped++;
      return;
    }
    const servers = nameServers(this.resolvConf);
    if (servers.length === 0) {
      this.dropped++;
      return;
    }
    this.pending++;
    // Dual-stack: IPv4 servers are asked at their IPv4-mapped addresses.
    const upstream = createSocket({ type: 'udp6', ipv6Only: false });
    let done = false;
    const finish = (answer: Uint8Array | null): void => {
      if (done) return;
      done = true;
      this.pending--;
      clearTimeout(timer);
      upstream.close();
      if (answer && answer.length <= MAX_MESSAGE && answer[0] === query[0] && answer[1] === query[1]) socket.send(answer, port, client);
    };
    const timer = setTimeout(() => finish(null), EXIT_DNS_TIMEOUT_MS);
    upstream.on('message', (message, from) => {
      if (from.port === 53 && servers.some((s) => sameAddress(s, from.address))) finish(new Uint8Array(message));
    });
    upstream.on('error', () => finish(null));
    // Every server asked at once: the first answer wins.
    for (const server of servers) upstream.send(query, 53, isIP(server) === 4 ? `::ffff:${server}` : server);
  }
}

/** The name servers of /etc/resolv.conf, but rovy's own resolver (fc00::/8): asked there, it
 *  would answer nothing beyond .rovy. */
export function nameServers(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const address = m[1]!.replace(/%.*$/, '');
    if (isIP(address) === 0 || /^fc/i.test(address)) continue;
    servers.push(address);
  }
  return servers;
}

function sameAddress(a: string, b: string): boolean {
  return a.replace(/^::ffff:/, '').toLowerCase() === b.replace(/^::ffff:/, '').toLowerCase();
}
