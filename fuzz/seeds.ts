// Valid inputs for each fuzz target, made fresh (with the fixed keys of keys.ts), so the fuzzer
// starts from what the parsers accept and mutates inward from there. `npm run fuzz` writes them
// into each target's corpus; the regression test runs them too.
import { encodePeerId } from '../src/keys/peerid.js';
import { fcAddressBytes } from '../src/keys/address.js';
import { Initiation } from '../src/noise/handshake.js';
import { tai64nNow } from '../src/noise/tai64n.js';
import { encodeTransportHeader } from '../src/noise/messages.js';
import { encodeBeacon } from '../src/discovery/beacon.js';
import { encodeContact } from '../src/discovery/contact.js';
import { encodeContactsFrame } from '../src/discovery/exchange.js';
import { parseMultiaddr } from '../src/transport/multiaddr.js';
import { signAnnouncements } from '../src/routing/announcement.js';
import { packFrames } from '../src/routing/router.js';
import { FRAME_ROUTING, KIND_ACKNOWLEDGEMENTS, KIND_DATABASE_REQUEST } from '../src/routing/constants.js';
import { KIND_MESSAGE, routedHeaderLength, writeRoutedHeader } from '../src/forward/header.js';
import { LOCAL, OTHER, PEER } from './keys.js';
import { parsePrefix } from '../src/fcnet/prefix.js';
import { signDelegation } from '../src/routing/delegation.js';

/** The targets' wall clock at their start (beacons more than a minute off it are stale). */
const WALL = 1_767_225_600_000;
const text = (s: string) => new TextEncoder().encode(s);

function nameBytes(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.')) out.push(label.length, ...text(label));
  return [...out, 0];
}

function dnsQuery(name: string, qtype: number, edns = false): Uint8Array {
  const opt = edns ? [0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0] : [];
  return Uint8Array.from([0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0, ...nameBytes(name), qtype >> 8, qtype & 0xff, 0, 1, ...opt]);
}

function routed(inLink: number, label: number[], pointer: number, hopLimit: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(routedHeaderLength(label.length) + payload.length);
  frame.set(payload, writeRoutedHeader(frame, 0, KIND_MESSAGE, hopLimit, label, payload.length));
  frame[2] = pointer; // OFF_POINTER (forward/header.ts)
  return Uint8Array.from([inLink, ...frame]);
}

export function seeds(): Record<string, Uint8Array[]> {
  const peerId = encodePeerId(PEER.publicKey);
  const initiation = Initiation.create(PEER, LOCAL.publicKey, new Uint8Array(32), 0x01020304, tai64nNow(WALL)).message;
  const transport = new Uint8Array(16 + 64 + 16);
  encodeTransportHeader(transport, 1, 0);
  const announcement = signAnnouncements(OTHER, WALL, 1420, [{ address: fcAddressBytes(PEER.publicKey), index: 3, cost: 1 }])[0]!;
  // Version 2: claims of routed prefixes, one with a delegation.
  const claims = signAnnouncements(OTHER, WALL + 1, 1420, [{ address: fcAddressBytes(PEER.publicKey), index: 3, cost: 1 }], [
    { prefix: parsePrefix('2001:db8:1::/48'), delegation: signDelegation(PEER, OTHER.publicKey, parsePrefix('2001:db8:1::/48'), WALL + 86_400_000) },
    { prefix: parsePrefix('10.7.0.0/16'), delegation: null },
    { prefix: parsePrefix('::/0'), delegation: null },
  ])[0]!;
  const ack = new Uint8Array(2 + 41);
  ack.set([FRAME_ROUTING, KIND_ACKNOWLEDGEMENTS]);
  ack.set(announcement.bytes.subarray(1, 42), 2);
  ack[42] = 0;
  return {
    multiaddr: [`/ip6/::1/udp/7777/rovy/${peerId}`, `/ip4/192.0.2.1/udp/51820/rovy/${peerId}`, '/ip6/fe80::1%lan0/udp/7777', '/dns/example.org/udp/7777'].map(text),
    config: [
      text(
        [
          'key_file = "node.key"',
          'listen = ["/ip6/::/udp/7777", "/ip4/0.0.0.0/udp/7777"]',
          '[tun]',
          'name = "rovy0"',
          'mtu = 1420',
          '[log]',
          'level = "debug"',
          '[discovery]',
          'policy = "manual"',
          '[[peer]]',
          `address = "/ip6/fd00::2/udp/7777/rovy/${peerId}"`,
          'keepalive = 25',
          '',
        ].join('\n'),
      ),
    ],
    state: [text(JSON.stringify({ enabled: true, peers: [peerId], discovery: { policy: 'manual', configPolicy: 'manual' } }))],
    names: [text(JSON.stringify({ version: 1, names: { alice: peerId } }))],
    dns: [dnsQuery('alice.rovy', 28), dnsQuery(`${peerId}.rovy`, 28, true), dnsQuery('rovy', 6), dnsQuery('example.org', 1)],
    beacon: [encodeBeacon(OTHER, WALL, [{ family: 6, address: Uint8Array.from([0xfe, 0x80, ...new Array<number>(13).fill(0), 1]), port: 7777 }])],
    contacts: [
      encodeContactsFrame(
        [
          encodeContact(OTHER, WALL + 3_600_000, [parseMultiaddr('/ip6/2001:db8::1/tcp/443/tls'), parseMultiaddr('/ip4/192.0.2.1/udp/7777')]),
          encodeContact(PEER, WALL + 60_000, [parseMultiaddr('/dns/node.example.org/tcp/443/tls')]),
        ],
        1420,
      )!,
    ],
    routed: [routed(1, [2, 3], 0, 64, new Uint8Array(48)), routed(2, [1], 1, 64, transport), routed(3, [4, 5], 1, 1, transport)],
    announcements: [...packFrames([announcement.bytes], 1420), ...packFrames([claims.bytes], 1420), Uint8Array.of(FRAME_ROUTING, KIND_DATABASE_REQUEST), ack],
    handshake: [Uint8Array.from([0x80, ...initiation]), Uint8Array.from([0x90, ...initiation]), Uint8Array.from([0x21, ...new Uint8Array(92)]), Uint8Array.from([0x22, ...new Uint8Array(64)])],
    transport: [Uint8Array.from([1, 0, ...transport]), Uint8Array.from([0, 1, ...initiation, ...transport]), Uint8Array.from([1, 3, ...transport, ...transport, ...new Uint8Array(32), ...transport])],
  };
}
