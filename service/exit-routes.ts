// The host's side of using an exit (issue 15, 2): its traffic beyond the mesh goes through the
// TUN, while the daemon's own traffic to its peers keeps the path it had. As WireGuard's wg-quick
// does it: a routing table of rovy's own holds the default routes via the TUN, and two policy
// rules pick it —
//
//   29300: lookup main suppress_prefixlength 0   every route of the main table but its default
//   29301: not fwmark 0x7279 lookup 29305        the rest, unless the daemon's sockets sent it
//
// — so that the LAN and every more specific route still win, and the daemon's sockets (marked
// with SO_MARK, native/marks.c) fall through to the main table's default route. The main table
// is never touched: turning the exit off takes the rules, the table and the mesh IPv4 address
// away, and the host's routes are exactly what they were.
//
// The kill switch adds an "unreachable" default route behind the TUN's in the same table: while
// the exit is chosen and cannot be reached, the TUN's routes stay (rovy drops what comes in, and
// says so with ICMPv6), and when the TUN itself is down, the unreachable route answers. Without
// it, the TUN's routes go while the exit is away and the main table's default takes over.
import { execFileSync } from 'node:child_process';
import { ROUTE_PROTOCOL } from './prefix-routes.js';

/** The mark of the daemon's own sockets, and the number of the exit's routing table. */
export const EXIT_MARK = 0x7279;
export const EXIT_TABLE = 29305;
/** Priorities of the two rules; below the main table's (32766), above the local table's (0). */
export const RULE_PRIORITY_MAIN = 29300;
export const RULE_PRIORITY_EXIT = 29301;
/** The kill switch's unreachable default: behind the TUN's (IPv4 0, IPv6 1024). */
const UNREACHABLE_METRIC = 65535;

/** What the host should route through the exit now. */
export interface ExitRouting {
  /** The node's mesh IPv4 address, rovy0's IPv4 source while an exit is in use. */
  meshIPv4: string;
  /** Families whose default route goes via the TUN: those the exit offers while it is reachable;
   *  with the kill switch, both, always. */
  via: readonly (4 | 6)[];
  killSwitch: boolean;
}

export class ExitRoutes {
  /** What is in place: null when nothing of ours is. */
  private applied: { meshIPv4: string; via: Set<4 | 6>; killSwitch: boolean } | null = null;
  /** Commands that failed and were said, so that a retry every few seconds says each once. */
  private readonly failing = new Set<string>();

  constructor(
    private readonly device: string,
    private readonly log: { warn(message: string): void; info(message: string): void },
  ) {}

  /** Makes the host's routing what `want` says (null: no exit, nothing of ours). */
  apply(want: ExitRouting | null): void {
    if (!want) {
      if (this.applied) this.remove();
      return;
    }
    const had = this.applied;
    if (had && had.meshIPv4 !== want.meshIPv4) this.remove();
    const now = this.applied ?? { meshIPv4: want.meshIPv4, via: new Set<4 | 6>(), killSwitch: false };
    if (!this.applied) {
      // The address first: the IPv4 route names it as its source.
      this.run(['-4', 'addr', 'replace', `${want.meshIPv4}/32`, 'dev', this.device, 'noprefixroute']);
      for (const family of [4, 6] as const) {
        this.run([`-${family}`, 'rule', 'add', 'pref', String(RULE_PRIORITY_MAIN), 'table', 'main', 'suppress_prefixlength', '0']);
        this.run([`-${family}`, 'rule', 'add', 'pref', String(RULE_PRIORITY_EXIT), 'not', 'fwmark', String(EXIT_MARK), 'table', String(EXIT_TABLE)]);
      }
      this.applied = now;
      this.log.info(`exit routing on: rules ${RULE_PRIORITY_MAIN} and ${RULE_PRIORITY_EXIT}, table ${EXIT_TABLE}, ${want.meshIPv4} on ${this.device}`);
    }
    if (want.killSwitch !== now.killSwitch) {
      for (const family of [4, 6] as const) {
        this.run([`-${family}`, 'route', want.killSwitch ? 'replace' : 'del', 'unreachable', 'default', 'table', String(EXIT_TABLE), 'metric', String(UNREACHABLE_METRIC), 'proto', String(ROUTE_PROTOCOL)]);
      }
      now.killSwitch = want.killSwitch;
    }
    for (const family of [4, 6] as const) {
      const wanted = want.via.includes(family);
      if (wanted && !now.via.has(family)) {
        // Not added (the link down): tried again at the next apply, which the daemon makes every few seconds.
        const source = family === 4 ? ['src', want.meshIPv4] : [];
        if (this.run([`-${family}`, 'route', 'replace', 'default', 'dev', this.device, ...source, 'table', String(EXIT_TABLE), 'proto', String(ROUTE_PROTOCOL)])) now.via.add(family);
      } else if (!wanted && now.via.has(family)) {
        this.run([`-${family}`, 'route', 'del', 'default', 'dev', this.device, 'table', String(EXIT_TABLE)], true);
        now.via.delete(family);
      }
    }
  }

  /** The TUN's routes went with its link (the mesh switched off): added again at the next apply. */
  forget(): void {
    this.applied?.via.clear();
  }

  /** Takes away what a daemon that did not stop cleanly left: rules of ours, the table's routes. */
  clearStale(): void {
    for (const family of [4, 6] as const) {
      for (let i = 0; i < 8 && this.run([`-${family}`, 'rule', 'del', 'pref', String(RULE_PRIORITY_EXIT), 'not', 'fwmark', String(EXIT_MARK), 'table', String(EXIT_TABLE)], true); i++);
      for (let i = 0; i < 8 && this.run([`-${family}`, 'rule', 'del', 'pref', String(RULE_PRIORITY_MAIN), 'table', 'main', 'suppress_prefixlength', '0'], true); i++);
      this.run([`-${family}`, 'route', 'flush', 'table', String(EXIT_TABLE)], true);
    }
  }

  /** Takes away everything of ours: the rules, the table's routes and the mesh IPv4 address. */
  private remove(): void {
    const had = this.applied!;
    for (const family of [4, 6] as const) {
      this.run([`-${family}`, 'rule', 'del', 'pref', String(RULE_PRIORITY_EXIT), 'not', 'fwmark', String(EXIT_MARK), 'table', String(EXIT_TABLE)], true);
      this.run([`-${family}`, 'rule', 'del', 'pref', String(RULE_PRIORITY_MAIN), 'table', 'main', 'suppress_prefixlength', '0'], true);
      this.run([`-${family}`, 'route', 'flush', 'table', String(EXIT_TABLE)], true);
    }
    this.run(['-4', 'addr', 'del', `${had.meshIPv4}/32`, 'dev', this.device], true);
    this.applied = null;
    this.log.info('exit routing off: the rules, table and address of the exit removed');
  }

  /** Runs `ip ARGS`; a failure is said once (quietly: not at all, for removals of what may be gone). */
  private run(args: string[], quiet = false): boolean {
    const what = `ip ${args.join(' ')}`;
    try {
      execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      this.failing.delete(what);
      return true;
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      if (!quiet && !this.failing.has(what)) this.log.warn(`${what}: ${stderr || (err as Error).message}`);
      this.failing.add(what);
      return false;
    }
  }
}
