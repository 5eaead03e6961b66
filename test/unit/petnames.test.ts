// Petnames: the label rules (src/names/label.ts) and the petname file (src/names/petnames.ts).
import { test } from 'node:test';
import { throwsName } from './name-errors.js';
import { tempDir } from '../temp-dir.js';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePeerId } from '../../src/keys/peerid.js';
import { petnameOf, petnameProblem } from '../../src/names/label.js';
import { PetnameFileError, PetnameStore } from '../../src/names/petnames.js';

const peer = (n: number): string => encodePeerId(new Uint8Array(32).fill(n));
const ALICE = peer(1);
const BOB = peer(2);
const CAROL = peer(3);

test('DNS labels are petnames, folded to lower case', () => {
  assert.equal(petnameOf('alice'), 'alice');
  assert.equal(petnameOf('Alice-Laptop2'), 'alice-laptop2');
  assert.equal(petnameOf('a'), 'a');
  assert.equal(petnameOf('42'), '42');
  assert.equal(petnameOf('xn--bcher-kva'), 'xn--bcher-kva');
  assert.equal(petnameOf('x'.repeat(63)), 'x'.repeat(63));
  assert.equal(petnameProblem('alice'), null);
});

test('text that is not a DNS label is refused, saying which rule it breaks', () => {
  const refused: [string, RegExp][] = [
    ['', /^invalid name "": not a DNS label: it is empty$/],
    ['x'.repeat(64), /it is 64 characters long, at most 63/],
    ['-alice', /^invalid name "-alice": .*starts with "-"/],
    ['alice-', /^invalid name "alice-": .*ends with "-"/],
    ['al_ice', /^invalid name "al_ice": .*"_" at position 3 is not an ASCII letter, digit or "-"/],
    ['alice.home', /"\." at position 6/],
    ['bob smith', /" " at position 4/],
    ['zoë', /"ë" at position 3/],
    ['\u212Aate', /"\u212A" at position 1/], // Kelvin sign: toLowerCase() would make it "kate"
  ];
  for (const [text, message] of refused) {
    throwsName(() => petnameOf(text), 'InvalidName', message);
    assert.notEqual(petnameProblem(text), null, JSON.stringify(text));
  }
});

test('a peer ID is not a petname, in any case', () => {
  throwsName(() => petnameOf(ALICE), 'InvalidName', /it is a peer ID/);
  throwsName(() => petnameOf(ALICE.toUpperCase()), 'InvalidName', /it is a peer ID/);
  assert.notEqual(petnameProblem(ALICE), null);
  // Peer-ID-shaped but not one (its padding bits set): an ordinary label.
  const almost = ALICE.slice(0, -1) + (ALICE.endsWith('b') ? 'd' : 'b');
  assert.equal(petnameProblem(almost), null);
});

test('set, look up, list and remove; the file holds exactly that', (t) => {
  const path = join(tempDir(t, 'rovy-petnames-'), 'sub', 'names.json');
  const store = PetnameStore.load(path);
  assert.deepEqual(store.list(), []);
  assert.throws(() => statSync(path), /ENOENT/, 'loading writes nothing');

  store.set('Bob', BOB.toUpperCase());
  store.set('alice', ALICE);
  store.set('42', CAROL);
  assert.deepEqual(store.list(), [
    { name: '42', peerId: CAROL },
    { name: 'alice', peerId: ALICE },
    { name: 'bob', peerId: BOB },
  ]);
  assert.equal(store.peerOf('BOB'), BOB);
  assert.equal(store.peerOf('nobody'), undefined);
  assert.equal(store.nameOf(ALICE.toUpperCase()), 'alice');
  assert.equal(store.nameOf(peer(9)), undefined);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(
    readFileSync(path, 'utf8'),
    `{\n  "version": 1,\n  "names": {\n    "42": "${CAROL}",\n    "alice": "${ALICE}",\n    "bob": "${BOB}"\n  }\n}\n`,
  );

  assert.equal(store.remove('Alice'), ALICE);
  assert.equal(store.peerOf('alice'), undefined);
  assert.equal(store.nameOf(ALICE), undefined);
  assert.equal(store.remove('42'), CAROL);
  assert.equal(store.remove('bob'), BOB);
  assert.equal(readFileSync(path, 'utf8'), '{\n  "version": 1,\n  "names": {}\n}\n');
  assert.deepEqual(readdirSync(join(path, '..')), ['names.json'], 'no temporary files left behind');
});

test('names survive a reload', (t) => {
  const path = join(tempDir(t, 'rovy-petnames-'), 'names.json');
  const first = PetnameStore.load(path);
  first.set('alice', ALICE);
  first.set('bob', BOB);
  first.remove('bob');
  const second = PetnameStore.load(path);
  assert.deepEqual(second.list(), [{ name: 'alice', peerId: ALICE }]);
  assert.equal(second.nameOf(ALICE), 'alice');
});

test('naming a peer again renames it; the same name again changes nothing', (t) => {
  const path = join(tempDir(t, 'rovy-petnames-'), 'names.json');
  const store = PetnameStore.load(path);
  store.set('alice', ALICE);
  store.set('ally', ALICE);
  assert.equal(store.peerOf('alice'), undefined, 'the old name stayed');
  assert.equal(store.nameOf(ALICE), 'ally');
  assert.deepEqual(store.list(), [{ name: 'ally', peerId: ALICE }]);
  assert.deepEqual(PetnameStore.load(path).list(), [{ name: 'ally', peerId: ALICE }]);

  rmSync(path); // a no-op must not write: the file stays gone
  store.set('ALLY', ALICE.toUpperCase());
  assert.throws(() => statSync(path), /ENOENT/);
  assert.deepEqual(store.list(), [{ name: 'ally', peerId: ALICE }]);
});

test('a name that belongs to another peer, or is reserved, is taken', (t) => {
  const store = PetnameStore.load(join(tempDir(t, 'rovy-petnames-'), 'names.json'));
  store.set('alice', ALICE);
  throwsName(() => store.set('Alice', BOB), 'NameTaken', new RegExp(`"alice" is already the name of peer ${ALICE}`));
  assert.equal(store.nameOf(BOB), undefined);

  const asked: string[] = [];
  const reserved = (name: string): string | null => {
    asked.push(name);
    return name === 'router' ? '"router" is the name of a peer in /etc/rovy/rovy.toml' : null;
  };
  throwsName(() => store.set('Router', BOB, reserved), 'NameTaken', /^"router" is the name of a peer in \/etc\/rovy\/rovy.toml$/);
  assert.deepEqual(asked, ['router'], 'reserved() hears the folded name');
  assert.equal(store.nameOf(BOB), undefined);
  store.set('bob', BOB, reserved);
  assert.equal(store.peerOf('bob'), BOB);
  assert.deepEqual(store.list(), [
    { name: 'alice', peerId: ALICE },
    { name: 'bob', peerId: BOB },
  ]);
});

test('bad names, bad peer IDs and unknown names are refused by kind', (t) => {
  const path = join(tempDir(t, 'rovy-petnames-'), 'names.json');
  const store = PetnameStore.load(path);
  throwsName(() => store.set('bad name', ALICE), 'InvalidName', /^invalid name "bad name"/);
  throwsName(() => store.set('alice', 'bafzqainotapeerid'), 'InvalidPeerId', /^invalid peer ID "bafzqainotapeerid"/);
  throwsName(() => store.set('alice', ''), 'InvalidPeerId', /it is empty/);
  throwsName(() => store.remove('nobody'), 'NoSuchName', /no peer is named "nobody"/);
  assert.deepEqual(store.list(), []);
  assert.throws(() => statSync(path), /ENOENT/, 'nothing was written');
});

test('a failed write leaves the store as it was', (t) => {
  const dir = tempDir(t, 'rovy-petnames-');
  const sub = join(dir, 'sub');
  const path = join(sub, 'names.json');
  const store = PetnameStore.load(path);
  store.set('alice', ALICE);
  // Turn the file's directory into a plain file: every write now fails, even for root.
  rmSync(sub, { recursive: true });
  writeFileSync(sub, 'not a directory');

  assert.throws(() => store.set('bob', BOB), /EEXIST|ENOTDIR/);
  assert.throws(() => store.set('ally', ALICE), /EEXIST|ENOTDIR/);
  assert.throws(() => store.remove('alice'), /EEXIST|ENOTDIR/);
  assert.deepEqual(store.list(), [{ name: 'alice', peerId: ALICE }]);
  assert.equal(store.peerOf('bob'), undefined);
  assert.equal(store.nameOf(BOB), undefined);
  assert.equal(store.nameOf(ALICE), 'alice');
  assert.equal(store.peerOf('ally'), undefined);
});

test('a file that cannot be used is refused and left byte for byte', (t) => {
  const dir = tempDir(t, 'rovy-petnames-');
  const path = join(dir, 'names.json');
  const file = (names: string, extra = ''): string => `{\n  "version": 1,${extra}\n  "names": {\n${names}\n  }\n}\n`;
  const cases: [string, RegExp][] = [
    ['{\n  "version": 1,\n  "names": {\n    "alice": "x",,\n  }\n}\n', /^:4:18: not valid JSON: unexpected ","$/],
    ['{\n  "version": 1\n  "names": {}\n}\n', /^:3:3: not valid JSON: unexpected "\\""$/],
    ['{"version": 1, "names": {"a": "\u0001"}}', /^:1:32: not valid JSON: unexpected "\\u0001"$/],
    ['{"version": 1, "names": {}', /^:1:27: not valid JSON: unexpected end of file$/],
    ['', /^:1:1: not valid JSON: unexpected end of file$/],
    [file(`    "alice": "${ALICE}",\n    "alice": "${BOB}"`), /^:5:5: not valid JSON: key "alice" appears twice in one object$/],
    ['[]\n', /^: expected an object \{"version": 1, "names": \{\.\.\.\}\}, got an array$/],
    ['{"names": {}}\n', /^: version must be 1 .*got nothing$/],
    ['{"version": 2, "names": {}}\n', /^: version must be 1 .*got number 2$/],
    ['{"version": 1, "names": []}\n', /^: names must be an object .*got an array$/],
    ['{"version": 1}\n', /^: names must be an object .*got nothing$/],
    [file('', '\n  "colour": "blue",'), /^: unknown key "colour"$/],
    [file(`    "Bad Name": "${ALICE}"`), /^: names\["Bad Name"\]: not a DNS label: " " at position 4/],
    [file(`    "${BOB}": "${ALICE}"`), new RegExp(`^: names\\["${BOB}"\\]: it is a peer ID`)],
    [file('    "alice": 7'), /^: names\["alice"\]: must be a peer ID string, got number 7$/],
    [file('    "alice": "bafzqaibad"'), /^: names\["alice"\]: invalid peer ID "bafzqaibad": it must be 59 characters long/],
    [file(`    "alice": "${ALICE}",\n    "ally": "${ALICE.toUpperCase()}"`), new RegExp(`^: names\\["ally"\\]: peer ${ALICE} already has the name "alice"`)],
    [file(`    "alice": "${ALICE}",\n    "Alice": "${BOB}"`), /^: names\["Alice"\]: names ignore case, so this is the same name as names\["alice"\]$/],
  ];
  for (const [text, message] of cases) {
    writeFileSync(path, text, { mode: 0o644 });
    assert.throws(
      () => PetnameStore.load(path),
      (err: unknown) => {
        assert.ok(err instanceof PetnameFileError, `expected PetnameFileError for ${JSON.stringify(text)}, got ${String(err)}`);
        assert.ok(err.message.startsWith(path), err.message);
        assert.match(err.message.slice(path.length), message);
        return true;
      },
    );
    assert.equal(readFileSync(path, 'utf8'), text);
    assert.equal(statSync(path).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(dir), ['names.json']);
  }
});

test('an unreadable file is refused, not treated as empty', (t) => {
  const dir = tempDir(t, 'rovy-petnames-');
  assert.throws(() => PetnameStore.load(dir), (err: unknown) => {
    assert.ok(err instanceof PetnameFileError);
    assert.match(err.message, new RegExp(`^${dir}: cannot read: EISDIR`));
    return true;
  });
});

test('a hand-written file is accepted in any case and rewritten canonically', (t) => {
  const path = join(tempDir(t, 'rovy-petnames-'), 'names.json');
  writeFileSync(path, `{"names": {"Zed": "${BOB.toUpperCase()}", "alice": "${ALICE}"}, "version": 1}`);
  const store = PetnameStore.load(path);
  assert.deepEqual(store.list(), [
    { name: 'alice', peerId: ALICE },
    { name: 'zed', peerId: BOB },
  ]);
  store.set('carol', CAROL);
  assert.equal(
    readFileSync(path, 'utf8'),
    `{\n  "version": 1,\n  "names": {\n    "alice": "${ALICE}",\n    "carol": "${CAROL}",\n    "zed": "${BOB}"\n  }\n}\n`,
  );
});
