// The host's side of routed prefixes (issue 15): routes through the TUN for the prefixes the node
// accepted from others, kept equal to that set with iproute2, under a protocol number of their
// own so that they are told apart from anyone else's (and a BGP daemon can pick them out); and the
// node's own prefixes with their delegations, from the config, checked against its key.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { covers, formatPrefix, isDefaultRoute, type Prefix } from '../src/fcnet/prefix.js';
import { decodeDelegation } from '../src/routing/delegation.js';
import type { AnnouncedPrefix } from '../src/routing/announcement.js';
import type { PrefixSettings } from '../src/config/schema.js';
import { encodePeerId } from '../src/keys/peerid.js';
import { equalBytes } from '../src/util/bytes.js';

/** The routing protocol number of rovy's routes ("proto 98" in `ip route`). */
export const ROUTE_PROTOCOL = 98;

/** How often routes that could not be added are tried again (the daemon's timer). */
export const ROUTE_RETRY_MS = 5000;

export class PrefixRoutes {
  private installed = new Map<string, Prefix>();
  /** Whether the last sync left a route out (ip failed: the link down, say). */
  private incomplete = false;
  /** Commands that failed and were said, so that a retry every few seconds says each once. */
  private readonly failing = new Set<string>();

  constructor(
    private readonly device: string,
    private readonly log: { warn(message: string): void; info(message: string): void },
  ) {}

  /** Makes the TUN's routes of ours exactly `prefixes`: new ones added, withdrawn ones removed.
   *  A default route (::/0, 0.0.0.0/0: an exit's) is never put in the main table, where it would
   *  take the underlay's own traffic into the mesh: an exit is chosen apart, with rules of its own. */
  sync(prefixes: readonly Prefix[]): void {
    const wanted = new Map(prefixes.filter((p) => !isDefaultRoute(p)).map((p) => [formatPrefix(p), p]));
    for (const [text, p] of this.installed) {
      if (wanted.has(text)) continue;
      if (this.ip(p.family, 'del', text)) this.log.info(`route ${text} via ${this.device} removed`);
      this.installed.delete(text);
    }
    this.incomplete = false;
    for (const [text, p] of wanted) {
      if (this.installed.has(text)) continue;
      if (this.ip(p.family, 'replace', text)) {
        this.installed.set(text, p);
        this.log.info(`route ${text} via ${this.device} added`);
      } else this.incomplete = true;
    }
  }

  /** Syncs again if the last sync left a route out (the daemon calls this every ROUTE_RETRY_MS):
   *  the link may be up now, as NetworkManager brings it up after the mesh is switched on. */
  retry(prefixes: readonly Prefix[]): void {
    if (this.incomplete) this.sync(prefixes);
  }

  /** Routes are gone with the link (the mesh switched off): all are added again at the next sync. */
  forget(): void {
    this.installed.clear();
  }

  private ip(family: 4 | 6, action: 'replace' | 'del', prefix: string): boolean {
    const what = `ip route ${action} ${prefix} dev ${this.device}`;
    try {
      execFileSync('ip', [`-${family}`, 'route', action, prefix, 'dev', this.device, 'proto', String(ROUTE_PROTOCOL)], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.failing.delete(what);
      return true;
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      if (!this.failing.has(what)) this.log.warn(`${what}: ${stderr || (err as Error).message}${action === 'replace' ? '; tried again every few seconds' : ''}`);
      this.failing.add(what);
      return false;
    }
  }
}

/**
 * What this node announces: each prefix of `settings.announce` with the delegation that vouches
 * for it, if one does (made for this node's key, covering it, unexpired at `wallNow`; the one
 * that lasts longest). Throws, naming the setting, for a delegation made for another node.
 */
export function ownAnnouncements(settings: PrefixSettings, publicKey: Uint8Array, wallNow: number, source: string): AnnouncedPrefix[] {
  const delegations = settings.delegations.map((bytes, i) => {
    const d = decodeDelegation(bytes)!; // the config checked each
    if (!equalBytes(d.delegate, publicKey)) throw new Error(`${source}: prefixes.delegations[${i}]: delegates to ${encodePeerId(d.delegate)}, not to this node`);
    return d;
  });
  return settings.announce.map((prefix) => {
    const vouching = delegations.filter((d) => covers(d.prefix, prefix) && d.expires > wallNow).sort((a, b) => b.expires - a.expires)[0];
    return { prefix, delegation: vouching?.bytes ?? null };
  });
}

/** Whether the host forwards packets of `family` (sysctl), which a node announcing prefixes needs. */
export function forwards(family: 4 | 6): boolean {
  const path = family === 4 ? '/proc/sys/net/ipv4/ip_forward' : '/proc/sys/net/ipv6/conf/all/forwarding';
  try {
    return readFileSync(path, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
