// The fields of the NetworkManager profile that rovy owns are written over whatever is there;
// everything else a user set survives, down to the types NetworkManager gave it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plain as plainValue, variant, variantContent } from '../../service/dbus/bus.js';
import { ownedSettings, PROFILE_UUID, type Settings } from '../../service/nm/profile.js';

const FACTS = { interfaceName: 'rovy0', address: 'fc12:3456::1', ownerUid: 998, vnetHeader: true, exit: null };
const RESOLVER = Buffer.from([0xfc, ...new Array<number>(14).fill(0), 1]);

const plain = (settings: Settings): Record<string, Record<string, unknown>> => plainValue(settings) as Record<string, Record<string, unknown>>;

test('a new profile has exactly the mesh settings', () => {
  const s = plain(ownedSettings(null, FACTS));
  assert.deepEqual(s.connection, { id: 'rovy', uuid: PROFILE_UUID, type: 'tun', 'interface-name': 'rovy0', autoconnect: false });
  assert.deepEqual(s.tun, { mode: 1, pi: false, 'vnet-hdr': true, 'multi-queue': false, owner: '998' });
  // Without offloads the TUN has no virtio-net header, and the profile says so.
  assert.equal((plain(ownedSettings(null, { ...FACTS, vnetHeader: false })) as { tun: Record<string, unknown> }).tun['vnet-hdr'], false);
  assert.deepEqual(s.ipv4, { method: 'disabled' });
  assert.equal(s.ipv6!.method, 'manual');
  assert.deepEqual(s.ipv6!['address-data'], [{ address: 'fc12:3456::1', prefix: 8 }]);
  assert.deepEqual(s.ipv6!['route-data'], [{ dest: 'fc00::', prefix: 8 }]);
  assert.deepEqual((s.ipv6!.dns as Uint8Array[]).map((b) => Buffer.from(b).toString('hex')), [RESOLVER.toString('hex')]);
  assert.deepEqual(s.ipv6!['dns-search'], ['~rovy']);
  assert.deepEqual(Object.keys(s).sort(), ['connection', 'ipv4', 'ipv6', 'tun']);
});

test("rovy's fields are rewritten; the user's fields and list entries survive with their types", () => {
  const userRoute = { dest: variant('s', 'fd99::'), prefix: variant('u', 16), tos: variant('y', 4) };
  const userDns = Buffer.from('20010db8000000000000000000000053', 'hex');
  const current: Settings = {
    connection: { id: variant('s', 'rovy'), uuid: variant('s', PROFILE_UUID), type: variant('s', 'tun'), autoconnect: variant('b', true), zone: variant('s', 'trusted'), 'interface-name': variant('s', 'old0') },
    tun: { mode: variant('u', 1), owner: variant('s', '0') },
    ipv4: { method: variant('s', 'auto'), 'dns-priority': variant('i', 50), 'never-default': variant('b', true), addresses: variant('a(uuu)', []), 'address-data': variant('aa{sv}', []), gateway: variant('s', '192.0.2.1') },
    ipv6: {
      method: variant('s', 'auto'),
      'route-metric': variant('x', 123n),
      addresses: variant('a(ayuay)', []),
      routes: variant('a(ayuayu)', []),
      'address-data': variant('aa{sv}', [{ address: variant('s', 'fd00:bad::1'), prefix: variant('u', 64) }]),
      'route-data': variant('aa{sv}', [userRoute, { dest: variant('s', 'fc00::'), prefix: variant('u', 8) }]),
      dns: variant('aay', [userDns, RESOLVER]),
      'dns-search': variant('as', ['example.org', '~rovy']),
    },
    proxy: { method: variant('u', 0) },
  };
  const before = JSON.stringify(plainValue(current), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  const out = ownedSettings(current, FACTS);
  assert.equal(JSON.stringify(plainValue(current), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)), before, 'the input is left alone');
  const s = plain(out);

  // Owned: rewritten.
  assert.equal(s.connection!.autoconnect, false);
  assert.equal(s.connection!['interface-name'], 'rovy0');
  assert.equal(s.tun!.owner, '998');
  assert.deepEqual(s.ipv4, { method: 'disabled', 'dns-priority': 50, 'never-default': true }, "IPv4 off, the user's other IPv4 settings kept");
  assert.equal(s.ipv6!.method, 'manual');
  assert.deepEqual(s.ipv6!['address-data'], [{ address: 'fc12:3456::1', prefix: 8 }]);
  // The deprecated list forms would compete with the -data forms.
  assert.equal('addresses' in out.ipv6!, false);
  assert.equal('routes' in out.ipv6!, false);

  // The user's: kept.
  assert.equal(s.connection!.zone, 'trusted');
  assert.equal(s.ipv6!['route-metric'], 123n);
  assert.deepEqual(s.proxy, { method: 0 });
  // Lists: ours first and once, the user's after, each entry as NetworkManager gave it.
  const routes = variantContent(out.ipv6!['route-data']) as unknown[];
  assert.equal(routes.length, 2);
  assert.equal(routes[1], userRoute, "the user's route is sent back as it came, its byte-typed tos included");
  assert.deepEqual(plainValue(routes[0]), { dest: 'fc00::', prefix: 8 });
  const dns = (variantContent(out.ipv6!.dns) as Uint8Array[]).map((b) => Buffer.from(b).toString('hex'));
  assert.deepEqual(dns, [RESOLVER.toString('hex'), userDns.toString('hex')]);
  assert.deepEqual(s.ipv6!['dns-search'], ['~rovy', 'example.org']);
});

test('with an exit chosen, IPv4 carries the mesh address; while it carries the traffic every name goes to fc00::1, and off again nothing of it stays', () => {
  const chosen = plain(ownedSettings(null, { ...FACTS, exit: { meshIPv4: '100.77.1.2', allNames: true } }));
  assert.deepEqual(chosen.ipv4, { method: 'manual', 'address-data': [{ address: '100.77.1.2', prefix: 32 }], 'never-default': true });
  assert.deepEqual(chosen.ipv6!['dns-search'], ['~rovy', '~.']);
  assert.equal(chosen.ipv6!['dns-priority'], -50);
  // The exit away without the kill switch: the host's own resolvers answer again.
  const away = plain(ownedSettings(ownedSettings(null, { ...FACTS, exit: { meshIPv4: '100.77.1.2', allNames: true } }), { ...FACTS, exit: { meshIPv4: '100.77.1.2', allNames: false } }));
  assert.deepEqual(away.ipv6!['dns-search'], ['~rovy']);
  assert.equal('dns-priority' in away.ipv6!, false);
  // No exit: as before one was chosen; a DNS priority the user set is theirs.
  const mine = ownedSettings(null, { ...FACTS, exit: { meshIPv4: '100.77.1.2', allNames: true } });
  const off = plain(ownedSettings(mine, FACTS));
  assert.equal(off.ipv4!.method, 'disabled');
  assert.equal('address-data' in off.ipv4!, false);
  assert.deepEqual(off.ipv6!['dns-search'], ['~rovy']);
  assert.equal('dns-priority' in off.ipv6!, false);
  const users = ownedSettings(null, FACTS);
  users.ipv6!['dns-priority'] = variant('i', 20);
  assert.equal(plain(ownedSettings(users, FACTS)).ipv6!['dns-priority'], 20);
});
