// The petnames file: a store, or one PetnameFileError naming the file.
import { writeFileSync } from 'node:fs';
import { PetnameFileError, PetnameStore } from '../../src/names/petnames.js';
import { invariant, onlyThrows, scratchPath } from '../expect.js';

const path = scratchPath('names.json');

export function fuzz(data: Buffer): void {
  writeFileSync(path, data);
  let store: PetnameStore;
  try {
    store = PetnameStore.load(path);
  } catch (err) {
    onlyThrows(err, PetnameFileError);
    invariant((err as Error).message.startsWith(path), `an error that does not name the file: ${(err as Error).message}`);
    return;
  }
  for (const { name, peerId } of store.list()) invariant(store.peerOf(name) === peerId && store.nameOf(peerId) === name, `${name} does not map both ways`);
}
