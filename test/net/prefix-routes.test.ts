// The daemon's routes for accepted prefixes (service/prefix-routes.ts), in a namespace of the
// test's own: a route that cannot be added while the TUN's link is down is added once it is up
// (tried again by the daemon's timer; said once, not at every try), a default route is never
// added, and a withdrawn prefix's route goes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Lab, isRoot, nsExec, sh } from './netns.js';
import { ROOT } from '../repo-root.js';

test('routes for accepted prefixes: added once the link is up, never a default, removed when withdrawn', { skip: !isRoot && 'needs root' }, async () => {
  const lab = new Lab();
  try {
    const ns = lab.namespace('proutes');
    sh('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    sh('ip', ['-n', ns, 'link', 'set', 'v1', 'up']);
    const r = nsExec(ns, process.execPath, [join(ROOT, 'dist', 'test', 'net', 'prefix-routes.tool.js'), 'v0']);
    assert.equal(r.code, 0, r.out);
    const steps = Object.fromEntries(
      r.out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { step: string; routes: string; warnings: number })
        .map((s) => [s.step, s]),
    );
    assert.equal(steps.down!.routes, '', 'a route on a link that is down');
    assert.equal(steps.down!.warnings, 2, 'each failing route is said once, not at every try');
    assert.match(steps.up!.routes, /^10\.7\.0\.0\/24 dev v0/m);
    assert.match(steps.up!.routes, /^2001:db8:c::\/64 dev v0/m);
    assert.doesNotMatch(steps.up!.routes, /default/, 'an accepted 0.0.0.0/0 became a default route');
    assert.doesNotMatch(steps.withdrawn!.routes, /10\.7\.0\.0/, 'the withdrawn prefix kept its route');
    assert.match(steps.withdrawn!.routes, /^2001:db8:c::\/64 dev v0/m);
  } finally {
    await lab.cleanup();
  }
});
