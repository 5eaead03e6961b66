// fcnet's parsers and builders: the IPv6 header checks, the address table the send path looks
// peers up in, and the ICMPv6 errors written back to the TUN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIPv6 } from '../../src/keys/address.js';
import { AddressTable } from '../../src/fcnet/address-table.js';
import { icmpChecksum, writeIcmpError, ICMP_DESTINATION_UNREACHABLE, UNREACHABLE_NO_ROUTE } from '../../src/fcnet/icmp.js';
import { ipv6Length } from '../../src/fcnet/ipv6.js';

function packet(src: string, dst: string, payload: Uint8Array, nextHeader = 17): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p[0] = 0x60;
  p[4] = payload.length >> 8;
  p[5] = payload.length & 0xff;
  p[6] = nextHeader;
  p[7] = 64;
  p.set(parseIPv6(src), 8);
  p.set(parseIPv6(dst), 24);
  p.set(payload, 40);
  return p;
}

test('ipv6Length accepts well-formed packets and refuses the rest', () => {
  const p = packet('fc00::1', 'fc00::2', new Uint8Array(20));
  assert.equal(ipv6Length(p, 0, p.length), 60);
  assert.equal(ipv6Length(p, 0, p.length + 12), 60, 'padding after the packet is allowed');
  assert.equal(ipv6Length(p, 0, 39), -1, 'shorter than a header');
  assert.equal(ipv6Length(p, 0, 59), -1, 'payload length beyond the data');
  const v4 = p.slice();
  v4[0] = 0x45;
  assert.equal(ipv6Length(v4, 0, v4.length), -1, 'not version 6');
});

test('the address table finds addresses in place, including colliding ones', () => {
  const table = new AddressTable<string>();
  const a = parseIPv6('fc12:3456::1:2:3:4');
  const b = parseIPv6('fcff:ffff::1:2:3:4'); // same last four bytes: same bucket
  table.set(a, 'a');
  table.set(b, 'b');
  assert.equal(table.size, 2);
  const buf = new Uint8Array(64);
  buf.set(b, 24);
  assert.equal(table.lookup(buf, 24), 'b');
  buf.set(a, 24);
  assert.equal(table.lookup(buf, 24), 'a');
  buf[39] ^= 1;
  assert.equal(table.lookup(buf, 24), undefined);
  table.set(a, 'a2');
  assert.equal(table.size, 2, 'setting again replaces');
  table.delete(a);
  assert.equal(table.lookup(a, 0), undefined);
  assert.equal(table.lookup(b, 0), 'b');
  assert.equal(table.size, 1);
  table.delete(a);
  assert.equal(table.size, 1, 'deleting what is not held changes nothing');
  // Back to two in the bucket, then down to none, through every shape of bucket.
  table.set(a, 'a3');
  assert.deepEqual([table.lookup(a, 0), table.lookup(b, 0), table.size], ['a3', 'b', 2]);
  table.delete(b);
  table.delete(a);
  assert.deepEqual([table.lookup(a, 0), table.lookup(b, 0), table.size], [undefined, undefined, 0]);
  const seen: string[] = [];
  table.set(a, 'x');
  table.set(b, 'y');
  table.forEach((address, value) => seen.push(`${address[1]}:${value}`));
  assert.deepEqual(seen.sort(), ['18:x', '255:y']);
});

test('the address table copies what set is given, and keeps what setShared is given', () => {
  const table = new AddressTable<string>();
  const copied = parseIPv6('fc12:3456::1:2:3:4');
  const shared = parseIPv6('fc12:3456::5:6:7:8');
  table.set(copied, 'copied');
  table.setShared(shared, 'shared');
  const before = copied.slice();
  copied[1] ^= 0xff;
  assert.equal(table.lookup(before, 0), 'copied', 'a copy: changing the caller\'s array changes nothing');
  let kept: Uint8Array | undefined;
  table.forEach((address, value) => {
    if (value === 'shared') kept = address;
  });
  assert.equal(kept, shared, 'the very array');
});

test('a no-route error quotes the packet, comes from us, and has a valid checksum', () => {
  const local = parseIPv6('fc11::1');
  const invoking = packet('fc22::2', 'fc33::3', new Uint8Array([128, 0, 0, 0, 1, 2, 3, 4]), 58);
  const out = new Uint8Array(1280);
  const len = writeIcmpError(out, local, ICMP_DESTINATION_UNREACHABLE, UNREACHABLE_NO_ROUTE, 0, invoking, 0, invoking.length);
  assert.equal(len, 40 + 8 + invoking.length);
  assert.equal(ipv6Length(out, 0, len), len);
  assert.equal(out[6], 58);
  assert.deepEqual(out.subarray(8, 24), local);
  assert.deepEqual(out.subarray(24, 40), invoking.subarray(8, 24));
  assert.equal(out[40], 1);
  assert.equal(out[41], 0);
  assert.deepEqual(out.subarray(48, len), invoking);
  assert.equal(icmpChecksum(out, 0, len - 40), 0, 'checksum does not verify');
});

test('a large packet is quoted only up to the IPv6 minimum MTU', () => {
  const invoking = packet('fc22::2', 'fc33::3', new Uint8Array(1400).fill(9));
  const out = new Uint8Array(1280);
  const len = writeIcmpError(out, parseIPv6('fc11::1'), 1, 0, 0, invoking, 0, invoking.length);
  assert.equal(len, 1280);
  assert.equal(icmpChecksum(out, 0, len - 40), 0);
});

test('no error answers an ICMPv6 error, a multicast or unspecified source, or a runt', () => {
  const out = new Uint8Array(1280);
  const local = parseIPv6('fc11::1');
  const error = packet('fc22::2', 'fc33::3', new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), 58);
  assert.equal(writeIcmpError(out, local, 1, 0, 0, error, 0, error.length), 0);
  const multicast = packet('ff02::1', 'fc33::3', new Uint8Array(8));
  assert.equal(writeIcmpError(out, local, 1, 0, 0, multicast, 0, multicast.length), 0);
  const unspecified = packet('::', 'fc33::3', new Uint8Array(8));
  assert.equal(writeIcmpError(out, local, 1, 0, 0, unspecified, 0, unspecified.length), 0);
  assert.equal(writeIcmpError(out, local, 1, 0, 0, new Uint8Array(30), 0, 30), 0);
});
