// The NetworkManager connection profile the daemon owns: which fields are rovy's, and how they are
// written into a profile without touching the rest. Pure: settings in, settings out (a{sa{sv}}
// as the bus module hands them over, values typed with variant()), so it is tested in-process.
//
// Owned fields are rewritten at every start; everything else (a zone, a route metric, a
// permission the user added) is left as NetworkManager has it. Lists the user may extend
// (routes, DNS servers, search domains) get ours added, not replaced.
import { RESOLVER_ADDRESS } from '../../src/node/resolver.js';
import { equalBytes } from '../../src/util/bytes.js';
import { plain, variant, variantContent } from '../dbus/bus.js';

/** The profile's connection.id: `nmcli connection up rovy`. */
const PROFILE_ID = 'rovy';
/**
 * Fixed, so the profile is found again after any restart (or a new key): there is only ever one.
 * NetworkManager requires a valid UUID; this one is version 4 in form, made once for rovy.
 */
export const PROFILE_UUID = '3d5f6a1e-9c2b-4e7a-8f10-726f76790001';
/** The mesh prefix routed into the TUN, and the domain NetworkManager sends to rovy's resolver. */
const MESH_PREFIX = { dest: 'fc00::', prefix: 8 } as const;
const SEARCH_DOMAIN = '~rovy';

/** Settings as NetworkManager's D-Bus API carries them: setting name → key → typed value. */
export type Settings = Record<string, Record<string, unknown>>;

export interface ProfileFacts {
  interfaceName: string;
  /** The node's fc00::/8 address, as text. */
  address: string;
  /** The daemon's uid: NetworkManager creates the TUN for this owner, and no other user may attach. */
  ownerUid: number;
  /** Whether the TUN carries virtio-net headers (opened with offloads: TunDevice.offload). */
  vnetHeader: boolean;
  /** While an exit is chosen: the mesh IPv4 address rovy0 carries, and whether every name goes
   *  to rovy's resolver (the exit carries the traffic, or the kill switch holds it). */
  readonly exit: ExitProfile | null;
}

export interface ExitProfile {
  meshIPv4: string;
  allNames: boolean;
}

/** The routing domain of every name: with it (and a negative priority) all queries go to fc00::1. */
const ALL_DOMAINS = '~.';
/** Below 0: only this connection's DNS servers are used for its domains (NetworkManager's rule),
 *  so no query leaves by another interface while the exit carries the traffic. */
const EXIT_DNS_PRIORITY = -50;

/**
 * `current` (a profile read with GetSettings, or null for a new one) with rovy's fields written
 * over it. The input is not changed.
 */
export function ownedSettings(current: Settings | null, facts: ProfileFacts): Settings {
  const out: Settings = {};
  for (const [name, keys] of Object.entries(current ?? {})) out[name] = { ...keys };
  const section = (name: string): Record<string, unknown> => (out[name] ??= {});

  Object.assign(section('connection'), {
    id: variant('s', PROFILE_ID),
    uuid: variant('s', PROFILE_UUID),
    type: variant('s', 'tun'),
    'interface-name': variant('s', facts.interfaceName),
    // The daemon decides when the mesh is on (its saved choice); NetworkManager must not.
    autoconnect: variant('b', false),
  });
  Object.assign(section('tun'), {
    // The flags rovy's TUN is opened with (layer 3, no packet info, one queue, a virtio-net
    // header unless offloads are off): NetworkManager only takes over a device whose flags and
    // owner match its profile.
    mode: variant('u', 1),
    pi: variant('b', false),
    'vnet-hdr': variant('b', facts.vnetHeader),
    'multi-queue': variant('b', false),
    owner: variant('s', String(facts.ownerUid)),
  });
  const ipv4 = section('ipv4');
  for (const key of IPV4_UNUSED) delete ipv4[key];
  // IPv4 only while an exit is in use: the mesh IPv4 address, and no default route of
  // NetworkManager's making (rovyd's policy routing carries the traffic).
  if (facts.exit) {
    ipv4.method = variant('s', 'manual');
    ipv4['address-data'] = variant('aa{sv}', [{ address: variant('s', facts.exit.meshIPv4), prefix: variant('u', 32) }]);
    ipv4['never-default'] = variant('b', true);
  } else {
    ipv4.method = variant('s', 'disabled');
  }

  const ipv6 = section('ipv6');
  // The deprecated forms of the address and route lists would compete with the -data forms.
  delete ipv6.addresses;
  delete ipv6.routes;
  ipv6.method = variant('s', 'manual');
  ipv6['address-data'] = variant('aa{sv}', [{ address: variant('s', facts.address), prefix: variant('u', 8) }]);
  // The user's own entries are sent back exactly as NetworkManager gave them (types included).
  const isMeshRoute = (r: unknown): boolean => {
    const route = plain(r) as { dest?: unknown; prefix?: unknown };
    return route.dest === MESH_PREFIX.dest && route.prefix === MESH_PREFIX.prefix;
  };
  const routes = itemsOf(ipv6['route-data']).filter((r) => !isMeshRoute(r));
  ipv6['route-data'] = variant('aa{sv}', [{ dest: variant('s', MESH_PREFIX.dest), prefix: variant('u', MESH_PREFIX.prefix) }, ...routes]);
  const servers = itemsOf(ipv6.dns).filter((b) => !equalBytes(b as Uint8Array, RESOLVER_ADDRESS));
  ipv6.dns = variant('aay', [Buffer.from(RESOLVER_ADDRESS), ...servers]);
  const domains = itemsOf(ipv6['dns-search']).filter((d) => d !== SEARCH_DOMAIN && d !== ALL_DOMAINS);
  const allNames = facts.exit?.allNames === true;
  ipv6['dns-search'] = variant('as', [SEARCH_DOMAIN, ...(allNames ? [ALL_DOMAINS] : []), ...domains]);
  if (allNames) ipv6['dns-priority'] = variant('i', EXIT_DNS_PRIORITY);
  else if (variantContent(ipv6['dns-priority']) === EXIT_DNS_PRIORITY) delete ipv6['dns-priority']; // ours; a user's stays
  return out;
}

/** ipv4 keys that would give IPv4 an address, a route or a server, which its method "disabled" refuses. */
const IPV4_UNUSED = ['addresses', 'address-data', 'gateway', 'routes', 'route-data', 'dns', 'dns-search'];

/** The items of a list-valued setting, each as it came. */
function itemsOf(value: unknown): unknown[] {
  const v = variantContent(value);
  return Array.isArray(v) ? v : [];
}
