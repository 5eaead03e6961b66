// The name book (src/names/book.ts): petnames from a real PetnameStore in a temporary directory
// beside the config file's names, and which of the two wins where they meet.
import { test } from 'node:test';
import { tempDir } from '../temp-dir.js';
import { throwsName } from './name-errors.js';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fcAddressBytes, isRovyKey } from '../../src/keys/address.js';
import { generateKeyPair } from '../../src/keys/keypair.js';
import { decodePeerId, encodePeerId } from '../../src/keys/peerid.js';
import { NameBook } from '../../src/names/book.js';
import { PetnameStore } from '../../src/names/petnames.js';

/** Peer IDs of rovy nodes: the book names only keys whose address is in fc00::/8. */
const nodeId = (): string => encodePeerId(generateKeyPair().publicKey);
const ALICE = nodeId();
const BOB = nodeId();
const CAROL = nodeId();
const DAVE = nodeId();
const addressOf = (peerId: string): Uint8Array => fcAddressBytes(decodePeerId(peerId));

/** A book over a fresh petname file in a directory removed when the test ends. */
function book(t: { after: (fn: () => void) => void }): { book: NameBook; store: PetnameStore; path: string } {
  const path = join(tempDir(t, 'rovy-names-book-'), 'names.json');
  const store = PetnameStore.load(path);
  return { book: new NameBook(store), store, path };
}

const config = (entries: [string, string][]): Map<string, string> => new Map(entries);

test('config names resolve both ways and are listed as config, sorted by name', (t) => {
  const { book: names } = book(t);
  assert.deepEqual(names.setConfigNames(config([['bob', BOB], ['alice', ALICE]])), { changed: [BOB, ALICE], shadowed: [] });
  assert.deepEqual(names.list(), [
    { name: 'alice', peerId: ALICE, source: 'config' },
    { name: 'bob', peerId: BOB, source: 'config' },
  ]);
  assert.equal(names.peerOf('bob'), BOB);
  assert.equal(names.peerOf('BoB'), BOB, 'lookup ignores case');
  assert.equal(names.nameOf(ALICE), 'alice');
  assert.equal(names.peerOf('carol'), undefined);
  assert.equal(names.nameOf(CAROL), undefined);

  // A reload replaces them: a name gone from the file is gone from the book.
  assert.deepEqual(names.setConfigNames(config([['bob', BOB]])), { changed: [ALICE], shadowed: [] });
  assert.equal(names.peerOf('alice'), undefined);
  assert.equal(names.nameOf(ALICE), undefined);
  assert.deepEqual(names.list(), [{ name: 'bob', peerId: BOB, source: 'config' }]);
});

test('a petname wins over the config name of the same peer; both names keep resolving', (t) => {
  const { book: names } = book(t);
  names.setConfigNames(config([['bob', BOB]]));
  assert.deepEqual(names.set('robert', BOB), [BOB]);
  assert.equal(names.nameOf(BOB), 'robert');
  assert.equal(names.peerOf('robert'), BOB);
  assert.equal(names.peerOf('bob'), BOB);
  assert.deepEqual(names.list(), [
    { name: 'bob', peerId: BOB, source: 'config' },
    { name: 'robert', peerId: BOB, source: 'petname' },
  ]);
  // Without the petname, the config name shows again.
  assert.deepEqual(names.remove('robert'), [BOB]);
  assert.equal(names.nameOf(BOB), 'bob');
});

test('a petname wins over a config name for the same name, and the shadowing is reported', (t) => {
  const { book: names } = book(t);
  assert.deepEqual(names.set('carol', ALICE), [ALICE]);
  const { changed, shadowed } = names.setConfigNames(config([['carol', CAROL], ['dave', DAVE]]));
  assert.deepEqual(shadowed, [`config name "carol" of ${CAROL} is the petname of ${ALICE}: the petname wins`]);
  assert.deepEqual(changed, [DAVE], 'only dave shows a new name: carol is shadowed');
  assert.equal(names.peerOf('carol'), ALICE);
  assert.equal(names.peerOf('CAROL'), ALICE);
  assert.equal(names.nameOf(ALICE), 'carol');
  assert.equal(names.nameOf(CAROL), undefined, 'the shadowed config name still names its peer');
  assert.equal(names.peerAt(addressOf(CAROL)), undefined, 'reverse lookup finds the peer of a shadowed name');
  assert.deepEqual(names.list(), [
    { name: 'carol', peerId: ALICE, source: 'petname' },
    { name: 'dave', peerId: DAVE, source: 'config' },
  ]);
  // Renaming ALICE uncovers CAROL's config name: both are reported as changed.
  assert.deepEqual(names.set('xavier', ALICE).sort(), [ALICE, CAROL].sort());
  assert.equal(names.nameOf(CAROL), 'carol');
  throwsName(() => names.set('carol', ALICE), 'NameTaken', /"carol" is the name of peer .* in the config file/);
  // The same config again, with the petname gone: no shadowing, nothing changed but dave.
  assert.deepEqual(names.remove('xavier'), [ALICE]);
  assert.deepEqual(names.setConfigNames(config([['carol', CAROL]])), { changed: [DAVE], shadowed: [] });
  assert.equal(names.peerOf('carol'), CAROL);
  assert.equal(names.nameOf(CAROL), 'carol');
});

test('a config name of another peer is taken; for its own peer it may become a petname', (t) => {
  const { book: names, store, path } = book(t);
  names.setConfigNames(config([['bob', BOB]]));
  throwsName(() => names.set('bob', ALICE), 'NameTaken', new RegExp(`^"bob" is the name of peer ${BOB} in the config file$`));
  throwsName(() => names.set('BOB', ALICE), 'NameTaken', /"bob" is the name of peer/);
  assert.equal(existsSync(path), false, 'a refused name was written');
  assert.equal(names.peerOf('bob'), BOB);
  assert.equal(names.nameOf(ALICE), undefined);

  // Its own config name, its peer ID in any case: stored, and its shown name does not change.
  assert.deepEqual(names.set('bob', BOB.toUpperCase()), []);
  assert.equal(store.peerOf('bob'), BOB, 'not stored as a petname');
  assert.match(readFileSync(path, 'utf8'), new RegExp(`"bob": "${BOB}"`));
  assert.deepEqual(names.list(), [{ name: 'bob', peerId: BOB, source: 'petname' }], 'listed twice');
});

test('a petname of another peer is taken', (t) => {
  const { book: names } = book(t);
  names.set('alice', ALICE);
  throwsName(() => names.set('alice', BOB), 'NameTaken', new RegExp(`^"alice" is already the name of peer ${ALICE}$`));
  assert.equal(names.peerOf('alice'), ALICE);
  assert.equal(names.nameOf(BOB), undefined);
});

test('set returns the peer whose name changed: none when nothing did, the peer once on a rename', (t) => {
  const { book: names } = book(t);
  assert.deepEqual(names.set('Alice', ALICE), [ALICE]);
  assert.equal(names.peerOf('alice'), ALICE, 'not folded to lower case');
  assert.deepEqual(names.set('alice', ALICE), [], 'setting the same name again changed something');
  assert.deepEqual(names.set('ALICE', ALICE), []);
  // A rename: the old name goes, only the renamed peer changed.
  assert.deepEqual(names.set('ally', ALICE), [ALICE]);
  assert.equal(names.peerOf('alice'), undefined);
  assert.equal(names.nameOf(ALICE), 'ally');
  // A peer ID in upper case names the same peer (no config name involved).
  assert.deepEqual(names.set('al', ALICE.toUpperCase()), [ALICE]);
  assert.equal(names.nameOf(ALICE), 'al');
  assert.deepEqual(names.list(), [{ name: 'al', peerId: ALICE, source: 'petname' }]);
});

test('remove: a petname returns its peer; a config name or an unknown name is NoSuchName', (t) => {
  const { book: names } = book(t);
  names.setConfigNames(config([['bob', BOB]]));
  names.set('alice', ALICE);
  throwsName(() => names.remove('bob'), 'NoSuchName', /^"bob" is not a petname but a name in the config file: remove it there$/);
  throwsName(() => names.remove('Bob'), 'NoSuchName', /^"bob" is not a petname but a name in the config file/);
  assert.equal(names.peerOf('bob'), BOB, 'a refused remove removed the name');
  throwsName(() => names.remove('zed'), 'NoSuchName', /^no peer is named "zed"$/);
  assert.deepEqual(names.remove('ALICE'), [ALICE]);
  assert.equal(names.peerOf('alice'), undefined);
  assert.equal(names.nameOf(ALICE), undefined);
  throwsName(() => names.remove('alice'), 'NoSuchName', /no peer is named/);
});

test('removing a petname that shadowed a config name of the same name brings the config name back', (t) => {
  const { book: names } = book(t);
  names.setConfigNames(config([['bob', BOB]]));
  names.set('bob', BOB); // the config name made a petname of the same peer
  assert.deepEqual(names.remove('bob'), [BOB]);
  assert.equal(names.peerOf('bob'), BOB);
  assert.deepEqual(names.list(), [{ name: 'bob', peerId: BOB, source: 'config' }]);
});

test('peerAt finds named peers by fc address, from either source, and follows changes', (t) => {
  const { book: names } = book(t);
  assert.equal(names.peerAt(addressOf(ALICE)), undefined);
  names.setConfigNames(config([['bob', BOB]]));
  names.set('alice', ALICE);
  assert.equal(names.peerAt(addressOf(ALICE)), ALICE);
  assert.equal(names.peerAt(addressOf(BOB)), BOB);
  assert.equal(names.peerAt(addressOf(CAROL)), undefined, 'an unnamed peer was found');
  // An address inside a larger buffer (as the resolver hands it over) is read at its offset.
  const buffer = new Uint8Array(40);
  buffer.set(addressOf(BOB), 24);
  assert.equal(names.peerAt(buffer.subarray(24, 40)), BOB);

  names.remove('alice');
  assert.equal(names.peerAt(addressOf(ALICE)), undefined, 'a removed name is still found');
  names.setConfigNames(new Map());
  assert.equal(names.peerAt(addressOf(BOB)), undefined, 'a config name gone on reload is still found');
});

test('names already in the petname file are known when the book is made', (t) => {
  const { store, path } = book(t);
  store.set('carol', CAROL);
  const names = new NameBook(PetnameStore.load(path));
  assert.equal(names.peerOf('carol'), CAROL);
  assert.equal(names.peerAt(addressOf(CAROL)), CAROL);
  assert.deepEqual(names.list(), [{ name: 'carol', peerId: CAROL, source: 'petname' }]);
});

test('without a petname store, config names work and set and remove are refused', () => {
  const names = new NameBook(null);
  assert.deepEqual(names.setConfigNames(config([['bob', BOB]])), { changed: [BOB], shadowed: [] });
  assert.equal(names.peerOf('bob'), BOB);
  assert.equal(names.nameOf(BOB), 'bob');
  assert.equal(names.peerAt(addressOf(BOB)), BOB);
  assert.deepEqual(names.list(), [{ name: 'bob', peerId: BOB, source: 'config' }]);
  throwsName(() => names.set('alice', ALICE), 'NoSuchName', /^this node keeps no petnames$/);
  throwsName(() => names.remove('bob'), 'NoSuchName', /^this node keeps no petnames$/);
  assert.equal(names.peerOf('alice'), undefined);
});

test('set refuses a peer ID that is malformed or whose key has no fc00::/8 address', (t) => {
  const { book: names, path } = book(t);
  const notANode = new Uint8Array(32).fill(1);
  assert.equal(isRovyKey(notANode), false, 'the test key is a rovy key after all');
  const id = encodePeerId(notANode);
  throwsName(() => names.set('alice', id), 'InvalidPeerId', new RegExp(`^"${id}" is not the peer ID of a rovy node`));
  throwsName(() => names.set('alice', 'bafzqai-not-an-id'), 'InvalidPeerId', /^invalid peer ID "bafzqai-not-an-id": /);
  assert.equal(names.peerOf('alice'), undefined);
  assert.equal(existsSync(path), false, 'a refused name was written');
});
