// The bus policy and polkit actions against the contract: every interface of
// dbus/net.rovy.Rovy1.xml that has methods may be called by every local user (the daemon
// authorizes each call itself), and every polkit action the API asks for is declared. A new
// interface or action left out of them would work as root and fail for the desktop user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

test('every interface with methods is open to every local user in the bus policy', () => {
  const xml = read('dbus/net.rovy.Rovy1.xml').replace(/<!--[\s\S]*?-->/g, '');
  const withMethods = [...xml.matchAll(/<interface name="([^"]+)">([\s\S]*?)<\/interface>/g)].filter(([, , body]) => body!.includes('<method')).map(([, name]) => name!);
  assert.ok(withMethods.includes('net.rovy.Rovy1.Exit'), withMethods.join(', '));
  const conf = read('dbus/net.rovy.Rovy1.conf').replace(/<!--[\s\S]*?-->/g, '');
  const defaults = /<policy context="default">([\s\S]*?)<\/policy>/.exec(conf)![1]!;
  const open = [...defaults.matchAll(/<allow send_destination="net\.rovy\.Rovy1" send_interface="([^"]+)"\/>/g)].map(([, name]) => name);
  for (const iface of withMethods) assert.ok(open.includes(iface), `${iface} is not open to local users in dbus/net.rovy.Rovy1.conf`);
});

test('every polkit action the API asks for is declared, for the desktop user without a password or with one', () => {
  const asked = [...read('service/api.ts').matchAll(/const ACTION_\w+ = '([^']+)'/g)].map(([, id]) => id!);
  assert.ok(asked.includes('net.rovy.use-exit'), asked.join(', '));
  const policy = read('dbus/net.rovy.policy');
  for (const id of asked) assert.match(policy, new RegExp(`<action id="${id.replace(/\./g, '\\.')}">`), `${id} is not in dbus/net.rovy.policy`);
});
