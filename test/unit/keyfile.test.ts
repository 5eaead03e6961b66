// The key file (src/keys/keyfile.ts) and the atomic writes under it (src/util/atomic-file.ts):
// created 0600 and exclusively, read back unchanged, never overwritten (not even by racing
// processes), clear errors for broken files, no temporary files left behind.
//
// The race test runs this same file as child processes: with ROVY_KEYFILE_RACE set it is a
// worker that calls loadOrCreateKey once and prints the result instead of defining tests.
import { test } from 'node:test';
import { tempDir } from '../temp-dir.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRovyKey } from '../../src/keys/address.js';
import { formatKeyFile, KeyFileError, loadKey, loadOrCreateKey } from '../../src/keys/keyfile.js';
import { createFileExclusive, writeFileAtomic } from '../../src/util/atomic-file.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
// A rovy key (see address.test.ts) and a key that is not one (RFC 7748's Alice).
const TEST_PRIVATE = hex('6b55cc38e51e2efcd7eacd1345b1765ec545cbcc44a764a089eeb9744c223ee8');
const TEST_PUBLIC = hex('7b4c7a6dff69f204be046a6b3e7fed6b92daf1d3f5c8891284e6a10d770e9f6c');
const ALICE_PRIVATE = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');

const raceTarget = process.env.ROVY_KEYFILE_RACE;
if (raceTarget !== undefined) raceWorker(raceTarget);
else defineTests();

/** Child process: wait for the agreed moment, then try to load or create the key. */
function raceWorker(path: string): void {
  const startAt = Number(process.env.ROVY_KEYFILE_RACE_AT);
  while (Date.now() < startAt) {
    // Spin so that all workers reach loadOrCreateKey at the same moment.
  }
  const key = loadOrCreateKey(path);
  process.stdout.write(JSON.stringify({ publicKey: Buffer.from(key.publicKey).toString('hex'), created: key.created }));
}

function expectKeyFileError(fn: () => unknown, path: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KeyFileError, `expected KeyFileError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`key file ${path}: `), err.message);
    assert.match(err.message, problem);
    return true;
  });
}

function defineTests(): void {
  test('a missing key is generated and created with mode 0600, parents 0700', (t) => {
    const dir = tempDir(t, 'rovy-keyfile-');
    const path = join(dir, 'var', 'lib', 'rovy', 'node.key');
    const key = loadOrCreateKey(path);
    assert.equal(key.created, true);
    assert.deepEqual(key.warnings, []);
    assert.ok(isRovyKey(key.publicKey));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'var', 'lib', 'rovy')).mode & 0o777, 0o700);
    const lines = readFileSync(path, 'utf8').split('\n');
    assert.equal(lines[0], '# rovy node private key: keep it secret');
    assert.equal(lines[1], Buffer.from(key.privateKey).toString('base64'));
    assert.equal(lines[1].length, 44);
    assert.equal(lines[2], '');
    assert.equal(lines.length, 3);
    assert.deepEqual(readdirSync(join(dir, 'var', 'lib', 'rovy')), ['node.key']);
  });

  test('the second load returns the same key and creates nothing', (t) => {
    const path = join(tempDir(t, 'rovy-keyfile-'), 'node.key');
    const first = loadOrCreateKey(path);
    const before = readFileSync(path);
    const second = loadOrCreateKey(path);
    assert.equal(second.created, false);
    assert.deepEqual(second.privateKey, first.privateKey);
    assert.deepEqual(second.publicKey, first.publicKey);
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(loadKey(path).publicKey, first.publicKey);
  });

  test('an existing key file is used, never replaced', (t) => {
    const path = join(tempDir(t, 'rovy-keyfile-'), 'node.key');
    writeFileSync(path, formatKeyFile(TEST_PRIVATE), { mode: 0o600 });
    const key = loadOrCreateKey(path);
    assert.equal(key.created, false);
    assert.deepEqual(key.privateKey, TEST_PRIVATE);
    assert.deepEqual(key.publicKey, TEST_PUBLIC);
    assert.equal(readFileSync(path, 'utf8'), formatKeyFile(TEST_PRIVATE));
  });

  test('comments, blank lines and CRLF around the key are accepted', (t) => {
    const path = join(tempDir(t, 'rovy-keyfile-'), 'node.key');
    const b64 = Buffer.from(TEST_PRIVATE).toString('base64');
    writeFileSync(path, `# mine\r\n\r\n  ${b64}  \r\n# end\r\n`, { mode: 0o600 });
    assert.deepEqual(loadKey(path).publicKey, TEST_PUBLIC);
  });

  test('loadKey never creates a key', (t) => {
    const dir = tempDir(t, 'rovy-keyfile-');
    const path = join(dir, 'node.key');
    expectKeyFileError(() => loadKey(path), path, /does not exist/);
    assert.throws(() => loadKey(path), (err: unknown) => err instanceof KeyFileError && err.code === 'ENOENT');
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a key file others can read loads with a warning', (t) => {
    const path = join(tempDir(t, 'rovy-keyfile-'), 'node.key');
    writeFileSync(path, formatKeyFile(TEST_PRIVATE));
    chmodSync(path, 0o644);
    const key = loadOrCreateKey(path);
    assert.deepEqual(key.publicKey, TEST_PUBLIC);
    assert.equal(key.warnings.length, 1);
    assert.match(key.warnings[0], /mode 0644/);
    assert.match(key.warnings[0], new RegExp(`chmod 600 ${path}`));
    chmodSync(path, 0o640);
    assert.match(loadKey(path).warnings[0], /mode 0640/);
    chmodSync(path, 0o600);
    assert.deepEqual(loadKey(path).warnings, []);
  });

  test('broken key files give an error naming the file and the problem, and are left alone', (t) => {
    const dir = tempDir(t, 'rovy-keyfile-');
    const cases: [string, string, RegExp][] = [
      ['empty', '', /holds no key/],
      ['comments only', '# rovy node private key: keep it secret\n', /holds no key/],
      ['not base64', '# c\nthis is not base64!\n', /not standard base64/],
      ['bad padding', '# c\n' + Buffer.from(TEST_PRIVATE).toString('base64').slice(0, 43) + '\n', /not standard base64/],
      ['short', '# c\n' + Buffer.alloc(31, 7).toString('base64') + '\n', /the key is 31 bytes, expected 32/],
      ['long', Buffer.alloc(64, 7).toString('base64') + '\n', /the key is 64 bytes, expected 32/],
      ['two keys', formatKeyFile(TEST_PRIVATE) + Buffer.from(TEST_PRIVATE).toString('base64') + '\n', /holds 2 lines/],
      ['not rovy', formatKeyFile(ALICE_PRIVATE), /not a rovy key: its address c24b:135a:ae5e:27fc:8bdb:1e61:416c:68b6 is outside fc00::\/8/],
      ['huge', 'x'.repeat(10000), /too large \(10000 bytes\)/],
    ];
    for (const [name, text, problem] of cases) {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      expectKeyFileError(() => loadKey(path), path, problem);
      expectKeyFileError(() => loadOrCreateKey(path), path, problem);
      assert.equal(readFileSync(path, 'utf8'), text, `${name} must be left as it was`);
    }
    // The message never carries key material.
    try {
      loadKey(join(dir, 'not rovy'));
    } catch (err) {
      assert.ok(!String(err).includes(Buffer.from(ALICE_PRIVATE).toString('base64')));
    }
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    expectKeyFileError(() => loadOrCreateKey(sub), sub, /not a regular file/);
  });

  test('createFileExclusive: of two creators the first wins, the second gets EEXIST', (t) => {
    const dir = tempDir(t, 'rovy-keyfile-');
    const path = join(dir, 'node.key');
    createFileExclusive(path, 'first\n', 0o600);
    assert.throws(() => createFileExclusive(path, 'second\n', 0o600), (err: unknown) => {
      return err instanceof Error && 'code' in err && err.code === 'EEXIST';
    });
    assert.equal(readFileSync(path, 'utf8'), 'first\n');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['node.key'], 'no temporary file is left behind');
  });

  test('writeFileAtomic replaces a file whole, with the given mode, leaving no temporary file', (t) => {
    const dir = tempDir(t, 'rovy-keyfile-');
    const path = join(dir, 'sub', 'rovy.toml');
    writeFileAtomic(path, 'one\n', 0o644, { dirMode: 0o755 });
    assert.equal(readFileSync(path, 'utf8'), 'one\n');
    assert.equal(statSync(path).mode & 0o777, 0o644 & ~process.umask());
    assert.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o755 & ~process.umask());
    writeFileAtomic(path, new Uint8Array(Buffer.from('two\n')), 0o600);
    assert.equal(readFileSync(path, 'utf8'), 'two\n');
    assert.equal(statSync(path).mode & 0o777, 0o600, 'the new file has the new mode from the start');
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['rovy.toml']);
    writeFileSync(join(dir, 'plain-file'), '');
    assert.throws(() => writeFileAtomic(join(dir, 'plain-file', 'x'), 'x', 0o600), /EEXIST|ENOTDIR/);
  });

  test("root writing into another user's directory gives the file to that user (the service's state directory)", { skip: process.geteuid?.() !== 0 && 'needs root' }, (t) => {
    const dir = tempDir(t, 'rovy-keyfile-');
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, 65534, 65534);
    const key = loadOrCreateKey(join(state, 'node.key'));
    assert.ok(key.created);
    writeFileAtomic(join(state, 'state.json'), '{}\n', 0o600);
    for (const name of ['node.key', 'state.json']) {
      const st = statSync(join(state, name));
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [65534, 65534, 0o600], name);
    }
    // In root's own directory the file stays root's.
    writeFileAtomic(join(dir, 'mine'), 'x', 0o600);
    assert.equal(statSync(join(dir, 'mine')).uid, 0);
  });

  test('processes racing to create the key all end up with one key, created once', async (t) => {
    const dir = tempDir(t, 'rovy-keyfile-');
    const path = join(dir, 'rovy', 'node.key');
    const self = fileURLToPath(import.meta.url);
    const startAt = Date.now() + 800; // time for every worker to start and load
    const run = (): Promise<{ publicKey: string; created: boolean }> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [self], {
          env: { ...process.env, ROVY_KEYFILE_RACE: path, ROVY_KEYFILE_RACE_AT: String(startAt) },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('error', reject);
        child.on('exit', (code) => {
          if (code !== 0) reject(new Error(`race worker exited with ${code}`));
          else resolve(JSON.parse(out) as { publicKey: string; created: boolean });
        });
      });
    const results = await Promise.all(Array.from({ length: 6 }, run));
    const onDisk = Buffer.from(loadKey(path).publicKey).toString('hex');
    assert.deepEqual(new Set(results.map((r) => r.publicKey)), new Set([onDisk]));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.deepEqual(readdirSync(join(dir, 'rovy')), ['node.key']);
  });
}
