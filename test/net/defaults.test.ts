// `rovy daemon` with no config file at all, as the README's first line runs it: the key is
// created at the default path and the node comes up on defaults. The daemon runs in its own
// network namespace and a private mount namespace whose /var/lib (and /etc/rovy, if the machine
// has one) is a fresh tmpfs, so the default paths are exercised without touching the host's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { Lab, ROVY_JS, isRoot, nsExec, until } from './netns.js';

const skip = !isRoot && 'needs root';

test('the daemon runs with no config at all', { skip }, async () => {
  const lab = new Lab();
  try {
    const ns = lab.namespace('F');
    // A config of the machine's own at /etc/rovy is hidden as well: this is the run with none.
    const script = `mount -t tmpfs -o mode=0755 tmpfs /var/lib && { [ ! -d /etc/rovy ] || mount -t tmpfs tmpfs /etc/rovy; } && exec "${process.execPath}" "${ROVY_JS}" daemon`;
    const d = lab.spawn(ns, ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script]);
    await until('rovy0 up', () => /inet6 fc/.test(nsExec(ns, 'ip', ['-6', 'addr', 'show', 'dev', 'rovy0']).out));
    assert.match(d.log, /created a new key in \/var\/lib\/rovy\/node\.key/);
    const key = `/proc/${d.child.pid}/root/var/lib/rovy/node.key`;
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.equal(statSync(`/proc/${d.child.pid}/root/var/lib/rovy`).mode & 0o777, 0o700);
    const link = nsExec(ns, 'ip', ['link', 'show', 'dev', 'rovy0']).out;
    assert.match(link, /mtu 1420/);
    const sockets = nsExec(ns, 'ss', ['-Hunl']).out;
    assert.match(sockets, /0\.0\.0\.0:7777/);
    assert.match(sockets, /\[::\]:7777/);
    assert.equal(await d.stop(), 0, d.log);
  } finally {
    await lab.cleanup();
  }
});

test('a daemon whose peers cannot be reached (no network yet) keeps running', { skip: !isRoot && 'needs root' }, async () => {
  // The namespace has only lo: sends to the documentation prefixes below fail locally with
  // "network unreachable" and never leave it.
  const lab = new Lab();
  try {
    const ns = lab.namespace('G');
    const peerA = lab.initNode('p1');
    const peerB = lab.initNode('p2');
    const config = lab.file(
      'g/rovy.toml',
      [
        'key_file = "node.key"',
        '[[peer]]',
        `address = "/ip6/2001:db8::1/udp/7777/rovy/${peerA.peerId}"`,
        '[[peer]]',
        `address = "/ip4/192.0.2.1/udp/7777/rovy/${peerB.peerId}"`,
      ].join('\n'),
    );
    const d = lab.start(ns, config);
    await until('node up', () => /up as fc/.test(d.log));
    // Let a few timer ticks and handshake attempts happen, then check it is still there.
    await until('retries attempted', async () => (await d.state()).peers.length === 2);
    assert.equal(d.child.exitCode, null, d.log);
    assert.doesNotMatch(d.log, /error/);
    assert.equal(await d.stop(), 0, d.log);
  } finally {
    await lab.cleanup();
  }
});

test('a switched-off daemon with no bus stays up, says how to switch it on, and answers SIGHUP and SIGTERM', { skip: !isRoot && 'needs root' }, async () => {
  const lab = new Lab();
  try {
    const ns = lab.namespace('H');
    const config = lab.file('h/rovy.toml', 'key_file = "node.key"\n');
    lab.file('h/state.json', JSON.stringify({ enabled: false, peers: [] }));
    const d = lab.spawn(ns, ['env', 'DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/rovy-test-bus', process.execPath, '--enable-source-maps', ROVY_JS, 'daemon', '--config', config]);
    await until('the node switched off', () => /switched off as fc/.test(d.log));
    await until('the D-Bus line', () => /D-Bus API off/.test(d.log));
    assert.match(d.log, /the mesh stays off, as it was switched off \(.*state\.json\): `rovy up`/);
    // Still running: it answers SIGUSR1 with its state, and SIGHUP with a reload.
    assert.equal((await d.state()).peers.length, 0);
    d.signal('SIGHUP');
    await until('the reload', () => /SIGHUP: reloaded 0 peer/.test(d.log));
    assert.equal(d.child.exitCode, null, d.log);
    assert.equal(await d.stop(), 0, d.log);
    assert.match(d.log, /SIGTERM: shutting down/);
  } finally {
    await lab.cleanup();
  }
});
