// The CLI commands that need no daemon, run as a user runs them: the built dist/rovy.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { tempDir } from '../temp-dir.js';

function rovy(...args: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [join(ROOT, 'dist', 'rovy.js'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

test('init creates key and config once; id reads them without a daemon', (t) => {
  const dir = tempDir(t, 'rovy-cli-');
  const config = join(dir, 'rovy.toml');

  const first = rovy('init', '--config', config);
  assert.equal(first.code, 0, first.stderr);
  const keyFile = join(dir, 'node.key');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const key = readFileSync(keyFile, 'utf8');
  const configText = readFileSync(config, 'utf8');

  const second = rovy('init', '--config', config);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /kept/);
  assert.equal(readFileSync(keyFile, 'utf8'), key, 'init replaced the key');
  assert.equal(readFileSync(config, 'utf8'), configText, 'init replaced the config');

  const json = rovy('id', '--config', config, '--json');
  assert.equal(json.code, 0, json.stderr);
  const id = JSON.parse(json.stdout) as { peerId: string; address: string };
  assert.deepEqual(Object.keys(id).sort(), ['address', 'peerId']);
  assert.match(id.peerId, /^bafzqai[a-z2-7]{52}$/);
  assert.match(id.address, /^fc[0-9a-f]{2}(:[0-9a-f]{0,4}){1,7}$/);
  const text = rovy('id', '--config', config);
  assert.ok(text.stdout.includes(id.peerId) && text.stdout.includes(id.address));
});

test('id without a key says so and creates nothing', (t) => {
  const dir = tempDir(t, 'rovy-cli-');
  const config = join(dir, 'rovy.toml');
  writeFileSync(config, 'key_file = "missing.key"\n');
  const r = rovy('id', '--config', config);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing\.key/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.ok(!existsSync(join(dir, 'missing.key')));
});

test('a bad config names file, line and field', (t) => {
  const dir = tempDir(t, 'rovy-cli-');
  const config = join(dir, 'rovy.toml');
  writeFileSync(config, '[tun]\nname = "rovy0"\nmtu = "big"\n');
  const r = rovy('id', '--config', config);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${config}:3: tun\\.mtu: `));
});

test('usage errors exit 2 with a reason', () => {
  const unknown = rovy('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const badFlag = rovy('id', '--bogus');
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /bogus/);
  const help = rovy('--help');
  assert.equal(help.code, 0);
  for (const cmd of ['init', 'id', 'daemon']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
});
