// Multiaddr text (src/transport/multiaddr.ts): the accepted forms round-trip in canonical text,
// and each kind of mistake is refused with a message naming the part that is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMultiaddr, MultiaddrError, parseMultiaddr, type MultiaddrOptions } from '../../src/transport/multiaddr.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
// A rovy key (see address.test.ts) and its peer ID; and a key that is not a rovy key.
const KEY = hex('7b4c7a6dff69f204be046a6b3e7fed6b92daf1d3f5c8891284e6a10d770e9f6c');
const ID = 'bafzqaid3jr5g373j6icl4bdknm7h73llslnpdu7vzcerfbhguegxodu7nq';
const NOT_ROVY_ID = 'bafzqaiefedyatcjqu5khjc353s2d5522bw7tudjghanpj25evghkvg2oni';

function rejects(input: string, problem: RegExp, options?: MultiaddrOptions): void {
  assert.throws(
    () => parseMultiaddr(input, options),
    (err: unknown) => {
      assert.ok(err instanceof MultiaddrError, `expected MultiaddrError for ${input}`);
      assert.match(err.problem, problem, input);
      assert.equal(err.message, `multiaddr ${input}: ${err.problem}`);
      return true;
    },
  );
}

test('canonical multiaddrs parse into their parts and format back unchanged', () => {
  const cases = [
    '/ip4/192.0.2.1/udp/7777',
    '/ip4/0.0.0.0/udp/1',
    '/ip6/2001:db8::1/udp/7777',
    '/ip6/::/udp/65535',
    `/ip4/10.0.0.1/udp/7777/rovy/${ID}`,
    `/ip6/fd00::2/udp/7777/rovy/${ID}`,
    `/ip6zone/eth0/ip6/fe80::1/udp/7777/rovy/${ID}`,
    '/ip6zone/wlp2s0/ip6/fe80::a:b/udp/9',
  ];
  for (const text of cases) assert.equal(formatMultiaddr(parseMultiaddr(text)), text);

  assert.deepEqual(parseMultiaddr(`/ip6/fd00::2/udp/7777/rovy/${ID}`), {
    family: 6,
    address: 'fd00::2',
    port: 7777,
    peerId: ID,
    publicKey: KEY,
  });
  assert.deepEqual(parseMultiaddr('/ip4/192.0.2.1/udp/7777'), { family: 4, address: '192.0.2.1', port: 7777 });
  assert.deepEqual(parseMultiaddr('/ip6zone/eth0/ip6/fe80::1/udp/7777'), {
    family: 6,
    address: 'fe80::1',
    port: 7777,
    zone: 'eth0',
  });
});

test('parsing canonicalizes addresses and peer IDs', () => {
  const m = parseMultiaddr(`/ip6/2001:DB8:0:0:0:0:0:01/udp/7777/rovy/${ID.toUpperCase()}`);
  assert.equal(m.address, '2001:db8::1');
  assert.equal(m.peerId, ID);
  assert.equal(formatMultiaddr(m), `/ip6/2001:db8::1/udp/7777/rovy/${ID}`);
  assert.equal(parseMultiaddr('/ip6/::ffff:192.0.2.1/udp/1').address, '::ffff:192.0.2.1');
});

test('port 0 only where asked for (listen addresses)', () => {
  rejects('/ip6/::/udp/0', /^port must be 1–65535, got 0$/);
  assert.equal(parseMultiaddr('/ip6/::/udp/0', { allowPortZero: true }).port, 0);
  rejects('/ip6/::/udp/65536', /^port must be 0–65535, got 65536$/, { allowPortZero: true });
});

test('the /rovy part can be required or forbidden', () => {
  rejects('/ip4/192.0.2.1/udp/7777', /needs \/rovy\/<peer ID>/, { peer: 'required' });
  rejects(`/ip4/192.0.2.1/udp/7777/rovy/${ID}`, /not allowed here/, { peer: 'forbidden' });
  assert.equal(parseMultiaddr(`/ip4/192.0.2.1/udp/7777/rovy/${ID}`, { peer: 'required' }).peerId, ID);
  assert.equal(parseMultiaddr('/ip4/192.0.2.1/udp/7777', { peer: 'forbidden' }).peerId, undefined);
});

test('the port error names the port, as the daemon prints it', () => {
  assert.throws(() => parseMultiaddr('/ip6/fd00::2/udp/99999'), {
    message: 'multiaddr /ip6/fd00::2/udp/99999: port must be 1–65535, got 99999',
  });
});

test('malformed multiaddrs are refused, naming the problem', () => {
  const cases: [string, RegExp][] = [
    ['', /it is empty/],
    ['ip4/192.0.2.1/udp/1', /must start with "\/"/],
    ['/', /must start with \/ip4, \/ip6, \/ip6zone or \/dns, not an empty part/],
    ['//ip4/192.0.2.1/udp/1', /not an empty part/],
    ['/tcp/1', /must start with \/ip4, \/ip6, \/ip6zone or \/dns, not \/tcp/],
    ['/dns/-example.com/udp/1', /\/dns "-example\.com" is not a host name/],
    ['/dns/exa_mple.com/udp/1', /is not a host name/],
    ['/dns', /\/dns needs a host name/],
    ['/ip6zone/eth0/ip6/fe80::1/tcp/1', /a link-local address is for UDP only/],
    ['/ip4/192.0.2.1/udp/1/tls', /only \/rovy\/<peer ID> may follow the port, not \/tls/],
    ['/ip4/192.0.2.1/tcp/1/tls/tls', /only \/rovy\/<peer ID> may follow the port, not \/tls/],
    ['/ip4/192.0.2.1/tcp/1/quic', /only \/tls or \/rovy\/<peer ID> may follow the port, not \/quic/],
    ['/ip4/192.0.2.1/tcp', /\/tcp needs a port number/],
    ['/ip4', /\/ip4 needs an IPv4 address after it/],
    ['/ip4//udp/1', /\/ip4 needs an IPv4 address/],
    ['/ip4/192.0.2/udp/1', /^\/ip4 "192\.0\.2": it needs 4 dotted numbers/],
    ['/ip4/192.0.2.256/udp/1', /256 is more than 255/],
    ['/ip4/192.0.2.01/udp/1', /leading zero/],
    ['/ip4/::1/udp/1', /^\/ip4 "::1"/],
    ['/ip6/192.0.2.1/udp/1', /^\/ip6 "192\.0\.2\.1"/],
    ['/ip6/1::2::3/udp/1', /"::" may appear only once/],
    ['/ip6/fe80::1/udp/1', /link-local and needs its interface: \/ip6zone\/<interface>\/ip6\/fe80::1/],
    ['/ip6/fe80::1%eth0/udp/1', /has a zone: write \/ip6zone/],
    ['/ip6zone/eth0/ip6/2001:db8::1/udp/1', /applies only to link-local addresses/],
    ['/ip6zone/eth0/ip4/192.0.2.1/udp/1', /\/ip6zone must be followed by \/ip6, not \/ip4/],
    ['/ip6zone//ip6/fe80::1/udp/1', /\/ip6zone needs an interface name/],
    ['/ip6zone/a%b/ip6/fe80::1/udp/1', /is not an interface name/],
    ['/ip4/192.0.2.1', /\/udp\/<port> or \/tcp\/<port> must follow the address, not the end/],
    ['/ip4/192.0.2.1/sctp/1', /\/udp\/<port> or \/tcp\/<port> must follow the address, not \/sctp/],
    ['/ip4/192.0.2.1/udp', /\/udp needs a port number/],
    ['/ip4/192.0.2.1/udp/', /\/udp needs a port number/],
    ['/ip4/192.0.2.1/udp/http', /port must be a decimal number, got "http"/],
    ['/ip4/192.0.2.1/udp/-1', /port must be a decimal number, got "-1"/],
    ['/ip4/192.0.2.1/udp/07777', /port must not have leading zeros, got 07777/],
    ['/ip4/192.0.2.1/udp/65536', /port must be 1–65535, got 65536/],
    ['/ip4/192.0.2.1/udp/1/', /only \/rovy\/<peer ID> may follow the port, not an empty part/],
    ['/ip4/192.0.2.1/udp/1/p2p/x', /only \/rovy\/<peer ID> may follow the port, not \/p2p/],
    ['/ip4/192.0.2.1/udp/1/rovy', /\/rovy needs a peer ID/],
    ['/ip4/192.0.2.1/udp/1/rovy/bafzqai', /\/rovy peer ID: it must be 59 characters long/],
    [`/ip4/192.0.2.1/udp/1/rovy/x${ID.slice(1)}`, /\/rovy peer ID: it must start with "b"/],
    [`/ip4/192.0.2.1/udp/1/rovy/${NOT_ROVY_ID}`, /not a rovy key \(its address c24b:135a:[0-9a-f:]+ is outside fc00::\/8\)/],
    [`/ip4/192.0.2.1/udp/1/rovy/${ID}/`, /nothing may follow the peer ID, found an empty part/],
    [`/ip4/192.0.2.1/udp/1/rovy/${ID}/udp/2`, /nothing may follow the peer ID, found \/udp/],
  ];
  for (const [input, problem] of cases) rejects(input, problem);
});

test('TCP, TLS and /dns addresses parse to their transport and host, and format back the same', () => {
  const cases: [string, object][] = [
    ['/ip4/192.0.2.1/tcp/443/tls', { family: 4, address: '192.0.2.1', port: 443, transport: 'tls' }],
    ['/ip6/2001:db8::1/tcp/8080', { family: 6, address: '2001:db8::1', port: 8080, transport: 'tcp' }],
    [`/dns/Node.Example.org/tcp/443/tls/rovy/${ID}`, { family: 6, address: '', host: 'node.example.org', port: 443, transport: 'tls', peerId: ID, publicKey: KEY }],
    ['/dns/localhost/udp/7777', { family: 6, address: '', host: 'localhost', port: 7777 }],
  ];
  for (const [text, expected] of cases) {
    const parsed = parseMultiaddr(text);
    assert.deepEqual(parsed, expected, text);
    assert.equal(formatMultiaddr(parsed), text.replace('Node.Example.org', 'node.example.org'));
  }
});

test('formatting checks what it is given', () => {
  assert.equal(formatMultiaddr({ family: 4, address: '192.0.2.1', port: 1, publicKey: KEY }), `/ip4/192.0.2.1/udp/1/rovy/${ID}`);
  assert.equal(formatMultiaddr({ family: 6, address: '2001:DB8:0::1', port: 2 }), '/ip6/2001:db8::1/udp/2');
  assert.throws(() => formatMultiaddr({ family: 4, address: '192.0.2.1', port: 1, zone: 'eth0' }), /cannot have a zone/);
  assert.throws(() => formatMultiaddr({ family: 4, address: '300.0.0.1', port: 1 }), /more than 255/);
  assert.throws(() => formatMultiaddr({ family: 4, address: '192.0.2.1', port: 70000 }), /invalid port 70000/);
  assert.throws(
    () => formatMultiaddr({ family: 4, address: '192.0.2.1', port: 1, peerId: ID, publicKey: new Uint8Array(32) }),
    /name different keys/,
  );
  assert.throws(() => formatMultiaddr({ family: 6, address: 'fe80::1', port: 1 }), /link-local/);
});
