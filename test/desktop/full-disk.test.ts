// A change over D-Bus is acknowledged only once it is saved. With the node's directory full (a
// small tmpfs mounted there, filled), Connect, SetEnabled and Discovery.SetPolicy each get
// net.rovy.Rovy1.Error.Failed and change nothing; with room again they work, and a restart keeps
// what they did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { Lab, ROVY_JS, until, type Daemon } from '../net/netns.js';
import { isRoot, run, startSystemBus, type PrivateBus } from './buses.js';

const DEST = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';

test('with the state directory full, a change is refused by name and nothing changes', { skip: !isRoot && 'needs root' }, async () => {
  const lab = new Lab();
  let bus: PrivateBus | null = null;
  const dir = lab.path('full/rovy.toml').replace(/\/rovy\.toml$/, '');
  let mounted = false;
  let daemon: Daemon | null = null;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir]);
    mounted = true;
    const node = lab.initNode('full');
    const other = lab.initNode('other').peerId;
    bus = await startSystemBus();
    const env = bus.env;
    const busctl = (...args: string[]) => run('busctl', ['--system', ...args], env);
    const call = (iface: string, method: string, ...args: string[]) =>
      run('gdbus', ['call', '--system', '--dest', DEST, '--object-path', ROOT_PATH, '--method', `${iface}.${method}`, ...args], env);
    const ns = lab.namespace('FD');
    const start = (): Daemon => lab.spawn(ns, ['env', `DBUS_SYSTEM_BUS_ADDRESS=${bus!.address}`, process.execPath, ROVY_JS, 'daemon', '--config', node.config]);
    daemon = start();
    await until('the API', () => /D-Bus API on/.test(daemon!.log));
    const enabled = async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim();
    const policy = async () => (await busctl('get-property', DEST, ROOT_PATH, `${DEST}.Discovery`, 'Policy')).stdout.trim();
    const peers = async () => (await run(process.execPath, [ROVY_JS, 'peers', '--json'], env)).stdout;

    // Full: the filler takes every free block.
    try {
      writeFileSync(`${dir}/filler`, Buffer.alloc(1 << 20));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    const refused: [string, string[]][] = [
      [DEST, ['Connect', `/ip6/fd00::9/udp/7777/rovy/${other}`, '{}']],
      [DEST, ['SetEnabled', 'false']],
      [`${DEST}.Discovery`, ['SetPolicy', 'auto']],
    ];
    for (const [iface, [method, ...args]] of refused) {
      const r = await call(iface, method!, ...args);
      assert.match(r.stderr, /net\.rovy\.Rovy1\.Error\.Failed: cannot save .*state\.json: .*ENOSPC.*nothing changed/, `${method}: ${r.stderr}`);
    }
    assert.equal(await enabled(), 'b true', 'switched off although it could not be saved');
    assert.equal(await policy(), 's "manual"', 'the policy changed although it could not be saved');
    assert.doesNotMatch(await peers(), new RegExp(other), 'the peer was added although it could not be saved');
    const cli = await run(process.execPath, [ROVY_JS, 'down'], env);
    assert.notEqual(cli.code, 0, 'rovy down said it was done');
    assert.equal(await enabled(), 'b true');

    // Room again: the same changes are made and saved, and a restart keeps them.
    rmSync(`${dir}/filler`);
    for (const [iface, [method, ...args]] of refused) {
      const r = await call(iface, method!, ...args);
      assert.equal(r.code, 0, `${method}: ${r.stderr}`);
    }
    assert.equal(await daemon.stop(), 0, daemon.log);
    daemon = start();
    await until('the API again', () => /D-Bus API on/.test(daemon!.log));
    assert.equal(await enabled(), 'b false');
    assert.equal(await policy(), 's "auto"');
    assert.match(await peers(), new RegExp(other));
    assert.equal(await daemon.stop(), 0, daemon.log);
  } finally {
    await daemon?.stop();
    if (mounted) execFileSync('umount', [dir]);
    await lab.cleanup();
    await bus?.stop();
  }
});
