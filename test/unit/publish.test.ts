// What a public node publishes when its config does not say (service/publish.ts): its listen
// addresses that are public, a listen address on every IP standing for the machine's public ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { isPublicAddress, linkSettingsFor, publicListenAddresses } from '../../service/publish.js';
import { formatMultiaddr, parseMultiaddr } from '../../src/transport/multiaddr.js';
import { defaultLinkSettings } from '../../src/config/defaults.js';

test('public addresses: global unicast IPv6 and IPv4 outside the private, shared and documentation ranges', () => {
  for (const a of ['2a01:4f8::1', '2600::1', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1']) assert.equal(isPublicAddress(a), true, a);
  for (const a of ['fd00::1', 'fc00::1', 'fe80::1', '::1', '2001:db8::1', 'ff02::1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '127.0.0.1', '169.254.1.1', '192.0.2.1', '198.51.100.1', '203.0.113.1', '224.0.0.1', '0.0.0.0']) {
    assert.equal(isPublicAddress(a), false, a);
  }
});

test('a node that accepts anyone publishes its public listen addresses; any other publishes none', () => {
  const info = (address: string, family: 'IPv4' | 'IPv6', internal = false) => ({ address, family, internal }) as NetworkInterfaceInfo;
  const interfaces = {
    lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true)],
    eth0: [info('198.18.0.1', 'IPv4'), info('8.8.4.4', 'IPv4'), info('fe80::1', 'IPv6'), info('2a01:4f8::7', 'IPv6'), info('fd00::7', 'IPv6')],
  };
  const bound = ['/ip4/0.0.0.0/udp/7777', '/ip6/::/tcp/443/tls', '/ip6/2a01:4f8::9/udp/7778', '/ip6/fd00::9/udp/7779'].map((t) => parseMultiaddr(t, { allowPortZero: true }));
  assert.deepEqual(publicListenAddresses(bound, interfaces).map(formatMultiaddr), ['/ip4/8.8.4.4/udp/7777', '/ip6/2a01:4f8::7/tcp/443/tls', '/ip6/2a01:4f8::9/udp/7778']);
  // No more than a contact record carries.
  const many = { eth0: Array.from({ length: 9 }, (_, i) => info(`2a01:4f8::${i + 1}`, 'IPv6')) };
  assert.equal(publicListenAddresses([parseMultiaddr('/ip6/::/udp/7777')], many).length, 4);

  const anyone = { ...defaultLinkSettings(), accept: 'anyone' as const };
  assert.ok(linkSettingsFor(anyone, []).publish!.length === 0);
  assert.deepEqual(linkSettingsFor({ ...defaultLinkSettings() }, bound).publish, [], 'a node that accepts only its peers published');
  const chosen = [parseMultiaddr('/dns/node.example.org/tcp/443/tls')];
  assert.equal(linkSettingsFor({ ...anyone, publish: chosen }, bound).publish, chosen, 'the config\'s choice was overridden');
});
