// Exits, as the daemon runs them (issue 15, 2): the exit this host uses (chosen with
// `rovy exit use` or SetExitNode, kept in the state file) and the one it offers ([exit] in the
// config). It tells the node which exit to route to, and keeps the host's routing in step with
// what the mesh says (exit-routes.ts, exit-offer.ts): whenever routed prefixes change, the exit in
// use comes into or goes out of reach, or the mesh is switched, and every few seconds (routes the
// kernel refused are tried again, and the offers' hop counts told anew).
import type { MeshNode } from '../src/node/node.js';
import { decodePeerId } from '../src/keys/peerid.js';
import { formatIPv4 } from '../src/keys/ip-text.js';
import type { ExitSettings } from '../src/config/schema.js';
import type { ExitChoice } from './state.js';
import { ExitRoutes } from './exit-routes.js';
import { ExitOffer } from './exit-offer.js';
import { ExitDnsServer, exitForwarder } from './exit-dns.js';
import type { ExitProfile } from './nm/profile.js';
import { fcAddressBytes, formatIPv6 } from '../src/keys/address.js';

/**
 * What using an exit amounts to now:
 *   off          no exit chosen
 *   active       the host's traffic beyond the mesh goes through it
 *   unavailable  chosen, but it offers no exit now or cannot be reached: the host's own default
 *                route carries the traffic (kill switch off)
 *   blocked      the same, with the kill switch on: nothing leaves outside the mesh
 */
export type ExitState = 'off' | 'active' | 'unavailable' | 'blocked';

export interface ExitsOptions {
  node: MeshNode;
  device: string;
  log: { warn(message: string): void; info(message: string): void };
  /** Saves a new choice before it is made (throws: nothing changes). */
  save(choice: ExitChoice | null): void;
  /** The state, the choice or the offers changed (for D-Bus). */
  changed(): void;
  /** What the interface's profile should say for the exit changed (for NetworkManager). */
  profileChanged(): void;
}

export class Exits {
  private choice: ExitChoice | null = null;
  private readonly routes: ExitRoutes;
  private readonly offer: ExitOffer;
  private readonly dns: ExitDnsServer;
  /** The exit the resolver's queries go to now (its peer ID), or null. */
  private dnsTo: string | null = null;
  private offering: ExitSettings = { offer: false, clients: null, uplink: null };
  /** What D-Bus last heard: the choice, the state and the offers, as text. */
  private lastSaid = '';
  private lastState: ExitState = 'off';
  private lastProfile = 'null';

  constructor(private readonly o: ExitsOptions) {
    this.routes = new ExitRoutes(o.device, o.log);
    this.offer = new ExitOffer(o.log);
    this.dns = new ExitDnsServer(o.log);
  }

  /** The exit in use, as the state file had it (at start: not saved again). A daemon that
   *  stopped uncleanly while using it may have left its rules: cleared before they are made anew
   *  (without an exit in the file, none can be left, and start-up runs no `ip` for it). */
  restore(choice: ExitChoice | null): void {
    if (choice) this.routes.clearStale();
    this.choice = choice;
    this.o.node.useExit(choice ? decodePeerId(choice.peerId) : null);
    this.sync();
  }

  /** The [exit] settings (at start and on reload): what this node offers. */
  configure(settings: ExitSettings): void {
    this.offering = settings;
    this.o.node.setExitOffering({ offer: settings.offer, clients: settings.clients?.map((id) => decodePeerId(id)) ?? null });
    this.sync();
  }

  /** Uses the exit of `peerId` (canonical), with or without the kill switch; null: none. Saved
   *  first. Throws if it cannot be saved. */
  use(choice: ExitChoice | null): void {
    if (choice && choice.peerId === this.o.node.peerId) throw new Error('a node cannot be its own exit');
    this.o.save(choice);
    this.choice = choice;
    this.o.node.useExit(choice ? decodePeerId(choice.peerId) : null);
    this.o.log.info(choice ? `exit: using ${choice.peerId}${choice.killSwitch ? ', kill switch on' : ''}` : 'exit: none used');
    this.sync();
  }

  get chosen(): ExitChoice | null {
    return this.choice;
  }

  /** What using the exit amounts to, as sync() last applied it to the host (ExitState): the
   *  routes, the forwarding of names beyond .rovy and what D-Bus was told all follow it, so a
   *  client never reads "active" before its names go to the exit. */
  get state(): ExitState {
    return this.lastState;
  }

  /** What using the exit amounts to by the node's view now: what sync() applies. */
  private judge(): ExitState {
    if (!this.choice) return 'off';
    const using = this.o.node.exitReport().using;
    if (this.o.node.isEnabled && using?.reachable) return 'active';
    return this.choice.killSwitch ? 'blocked' : 'unavailable';
  }

  /** The exit's part of NetworkManager's profile: the mesh IPv4 address while an exit is chosen,
   *  and every name to rovy's resolver while the exit carries the traffic or the kill switch
   *  holds it (while the exit is away without it, the host's own resolvers answer). */
  profile(): ExitProfile | null {
    if (!this.choice) return null;
    const state = this.state;
    return { meshIPv4: formatIPv4(this.o.node.meshIPv4), allNames: state === 'active' || state === 'blocked' };
  }

  /** The mesh was switched off: the TUN's routes went with its link. */
  linkDown(): void {
    this.routes.forget();
    this.offer.forget();
    this.sync();
  }

  /** Brings the host's routing in step with the mesh. */
  sync(): void {
    const node = this.o.node;
    const report = node.exitReport();
    const using = report.using;
    const reachable = node.isEnabled && using !== null && using.reachable;
    this.routes.apply(
      this.choice
        ? {
            meshIPv4: formatIPv4(node.meshIPv4),
            via: this.choice.killSwitch ? [4, 6] : reachable ? [...(using.ipv4 ? [4 as const] : []), ...(using.ipv6 ? [6 as const] : [])] : [],
            killSwitch: this.choice.killSwitch,
          }
        : null,
    );
    const offering = this.offering.offer && node.isEnabled;
    this.offer.apply(offering ? { device: this.o.device, uplink: this.offering.uplink } : null);
    this.dns.ensure(offering ? node.addressText : null);
    const state = this.judge();
    if (state !== this.lastState && this.choice) this.o.log.info(`exit ${this.choice.peerId}: ${state}`);
    this.lastState = state;
    const profile = JSON.stringify(this.profile());
    if (profile !== this.lastProfile) {
      this.lastProfile = profile;
      this.o.profileChanged();
    }
    // Names beyond .rovy are asked of the exit while it carries the traffic; otherwise REFUSED at
    // fc00::1 (with the kill switch on, that keeps the lookups inside the mesh too).
    const dnsTo = state === 'active' ? this.choice!.peerId : null;
    if (dnsTo !== this.dnsTo) {
      this.dnsTo = dnsTo;
      node.setDnsForwarder(dnsTo ? exitForwarder(formatIPv6(fcAddressBytes(decodePeerId(dnsTo)))) : null);
    }
    const said = JSON.stringify([this.choice, state, report.offers]);
    if (said !== this.lastSaid) {
      this.lastSaid = said;
      this.o.changed();
    }
  }

  /** Everything of ours off the host (the daemon stops): the kill switch holds only while it runs. */
  close(): void {
    this.routes.apply(null);
    this.offer.apply(null);
    this.dns.close();
    this.o.node.setDnsForwarder(null);
  }

  /** For status reports: the choice, its state, what this node offers, and who offers exits. */
  report(): {
    state: ExitState;
    using: string | null;
    killSwitch: boolean;
    meshIPv4: string;
    offering: { offer: boolean; clients: string[] | null; uplink: string | null; bound: number };
    offers: { peerId: string; ipv4: boolean; ipv6: boolean; hops: number | null }[];
  } {
    const report = this.o.node.exitReport();
    return {
      state: this.state,
      using: this.choice?.peerId ?? null,
      killSwitch: this.choice?.killSwitch ?? false,
      meshIPv4: formatIPv4(this.o.node.meshIPv4),
      offering: { ...report.offering, uplink: this.offering.uplink },
      offers: report.offers,
    };
  }
}
