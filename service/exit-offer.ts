// The host's side of offering an exit (issue 15, 2): what the mesh sends to the Internet from
// its own addresses (fc00::/8, and mesh IPv4 in 100.64.0.0/10) is masqueraded on the way out,
// by an nftables table of rovy's own (nothing else's rules are touched); what comes from a routed
// prefix keeps its addresses (the upstream routes those back, by BGP). The replies to a mesh IPv4
// address come back to the TUN by a route of their own.
//
//   table inet rovy_exit {
//     chain postrouting {
//       type nat hook postrouting priority srcnat; policy accept;
//       iifname "rovy0" oifname != "rovy0" ip saddr 100.64.0.0/10 masquerade
//       iifname "rovy0" oifname != "rovy0" ip6 saddr fc00::/8 masquerade
//     }
//   }
//
// (oifname "UPLINK" instead of != "rovy0" when the config names the uplink.)
import { execFileSync } from 'node:child_process';
import { forwards } from './prefix-routes.js';

/** The nftables table, in the inet family. */
export const NFT_TABLE = 'rovy_exit';
/** Where the mesh's IPv4 addresses live (keys/address.ts meshIPv4Bytes). */
export const MESH_IPV4_PREFIX = '100.64.0.0/10';

export interface ExitOfferSettings {
  device: string;
  /** The interface the traffic leaves by; null: any but the TUN. */
  uplink: string | null;
}

export class ExitOffer {
  private active: ExitOfferSettings | null = null;
  private routed = false;

  constructor(private readonly log: { warn(message: string): void; info(message: string): void }) {}

  /** Puts the masquerading in place (again: replaced as one nftables transaction), or takes it
   *  away (null). Returns false, having said why, if nft failed. */
  apply(settings: ExitOfferSettings | null): boolean {
    if (!settings) {
      if (this.active) {
        this.nft(`add table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`);
        this.route('del', this.active.device);
        this.routed = false;
        this.active = null;
        this.log.info(`exit: masquerading removed (nftables table inet ${NFT_TABLE})`);
      }
      return true;
    }
    if (!this.active || this.active.device !== settings.device || this.active.uplink !== settings.uplink) {
      for (const family of [4, 6] as const) {
        if (!forwards(family)) this.log.warn(`exit.offer: this machine does not forward IPv${family} (sysctl ${family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'}=1): the mesh's traffic reaches it and goes no further`);
      }
      const out = settings.uplink === null ? `oifname != ${quote(settings.device)}` : `oifname ${quote(settings.uplink)}`;
      const ruleset = [
        `add table inet ${NFT_TABLE}`,
        `delete table inet ${NFT_TABLE}`,
        `table inet ${NFT_TABLE} {`,
        '  chain postrouting {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        `    iifname ${quote(settings.device)} ${out} ip saddr ${MESH_IPV4_PREFIX} masquerade`,
        `    iifname ${quote(settings.device)} ${out} ip6 saddr fc00::/8 masquerade`,
        '  }',
        '}',
        '',
      ].join('\n');
      if (!this.nft(ruleset)) return false;
      this.active = settings;
      this.routed = false;
      this.log.info(`exit: the mesh's addresses masqueraded on ${settings.uplink ?? `every interface but ${settings.device}`} (nftables table inet ${NFT_TABLE})`);
    }
    // The route goes with the TUN's link (the mesh off): put back whenever it is missing.
    if (!this.routed) this.routed = this.route('replace', settings.device);
    return true;
  }

  /** The TUN's routes went with its link: the mesh IPv4 route is added again at the next apply. */
  forget(): void {
    this.routed = false;
  }

  private route(action: 'replace' | 'del', device: string): boolean {
    try {
      execFileSync('ip', ['-4', 'route', action, MESH_IPV4_PREFIX, 'dev', device], { stdio: ['ignore', 'ignore', 'pipe'] });
      return true;
    } catch (err) {
      if (action === 'replace') this.log.warn(`ip -4 route replace ${MESH_IPV4_PREFIX} dev ${device}: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`);
      return false;
    }
  }

  private nft(ruleset: string): boolean {
    try {
      execFileSync('nft', ['-f', '-'], { input: ruleset, stdio: ['pipe', 'ignore', 'pipe'] });
      return true;
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      const why = e.code === 'ENOENT' ? 'nft is not installed (Debian: apt-get install nftables)' : e.stderr?.toString().trim() || e.message;
      this.log.warn(`exit: cannot set up masquerading with nftables: ${why}`);
      return false;
    }
  }
}

/** An interface name as an nftables string (names are checked by the config: no quotes in them). */
function quote(name: string): string {
  return `"${name}"`;
}
