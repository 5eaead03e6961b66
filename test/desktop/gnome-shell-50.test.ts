// The GNOME Shell extension in GNOME Shell 50 (Debian forky, in a chroot): see shell-scenario.ts.
import { test } from 'node:test';
import { isRoot } from '../wait.js';
import { shellScenario } from './shell-scenario.js';

test('GNOME Shell 50: the rovy extension', { timeout: 15 * 60_000, skip: !isRoot && 'needs root (namespaces, a private bus, setpriv)' }, (t) =>
  shellScenario(t, { major: 50, format: 'esm', suite: 'forky' }));
