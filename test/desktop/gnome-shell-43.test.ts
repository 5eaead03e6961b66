// The GNOME Shell extension in GNOME Shell 43 (this machine's, Debian 12): see shell-scenario.ts.
import { test } from 'node:test';
import { isRoot } from '../wait.js';
import { shellScenario } from './shell-scenario.js';

test('GNOME Shell 43: the rovy extension', { timeout: 15 * 60_000, skip: !isRoot && 'needs root (namespaces, a private bus, setpriv)' }, (t) =>
  shellScenario(t, { major: 43, format: 'legacy' }));
