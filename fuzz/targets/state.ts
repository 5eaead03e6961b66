// The daemon's state.json: whatever it holds, loading gives a usable state (the defaults, with a
// warning, when the file cannot be used) and never throws.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { StateFile } from '../../service/state.js';
import { invariant, scratchPath } from '../expect.js';

const keyFile = scratchPath('state/node.key');
mkdirSync(dirname(keyFile), { recursive: true });
const state = new StateFile(keyFile);

export function fuzz(data: Buffer): void {
  writeFileSync(state.path, data);
  const loaded = state.load(() => {});
  invariant(typeof loaded.enabled === 'boolean' && Array.isArray(loaded.peers), 'an unusable state');
  invariant(loaded.peers.every((p) => typeof p === 'string'), 'a peer that is not a string');
}
