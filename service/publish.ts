// Where a public node tells the mesh to reach it when its config does not say (links.publish
// absent): its listen addresses that others on the Internet can reach. A listen address on one
// IP counts if that IP is public; one on every IP ("/ip6/::/udp/7777") stands for each public
// address of that family the machine has now. Private, loopback, link-local, shared (CGNAT),
// documentation and unique-local addresses are left out: a record is passed around the whole
// mesh, and such an address would send strangers to a host on their own network.
import { BlockList, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Multiaddr } from '../src/transport/multiaddr.js';
import type { LinkSettings } from '../src/config/schema.js';
import { MAX_CONTACT_ADDRESSES } from '../src/discovery/contact.js';

const notPublic = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3], // multicast and reserved, up to 255.255.255.255
] as const) {
  notPublic.addSubnet(net, prefix, 'ipv4');
}
const globalUnicast = new BlockList();
globalUnicast.addSubnet('2000::', 3, 'ipv6');
notPublic.addSubnet('2001:db8::', 32, 'ipv6');

/** Whether others on the Internet could reach `address` (IPv4 or IPv6 text). */
export function isPublicAddress(address: string): boolean {
  if (isIPv4(address)) return !notPublic.check(address, 'ipv4');
  return globalUnicast.check(address, 'ipv6') && !notPublic.check(address, 'ipv6');
}

/** The addresses to publish for `bound` (the listen addresses with their ports), at most what a
 *  contact record carries. `interfaces` is the machine's, as node:os gives them. */
export function publicListenAddresses(bound: readonly Multiaddr[], interfaces = networkInterfaces()): Multiaddr[] {
  const out: Multiaddr[] = [];
  const seen = new Set<string>();
  const add = (m: Multiaddr): void => {
    const key = `${m.transport ?? 'udp'} ${m.address} ${m.port}`;
    if (!seen.has(key) && out.length < MAX_CONTACT_ADDRESSES) out.push(m), seen.add(key);
  };
  for (const listen of bound) {
    if (listen.address !== '::' && listen.address !== '0.0.0.0') {
      if (isPublicAddress(listen.address)) add(listen);
      continue;
    }
    for (const list of Object.values(interfaces)) {
      for (const info of list ?? []) {
        if (info.internal || (info.family === 'IPv4' ? 4 : 6) !== listen.family || !isPublicAddress(info.address)) continue;
        add({ ...listen, address: info.address });
      }
    }
  }
  return out;
}

/** The link settings the node runs with: what the file says to publish, or else, on a node that
 *  accepts anyone, its public listen addresses. */
export function linkSettingsFor(links: LinkSettings, bound: readonly Multiaddr[]): LinkSettings {
  if (links.publish !== null) return links;
  return { ...links, publish: links.accept === 'anyone' ? publicListenAddresses(bound) : [] };
}
