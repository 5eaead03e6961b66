// The fuzz targets (fuzz/targets/*.ts) in the suite: every seed and every input that ever crashed
// a target (fuzz/regressions/TARGET/) run in-process, then a short coverage-guided run of each
// target under the real fuzzers (scripts/fuzz.sh: Jazzer.js, and libFuzzer with ASan and UBSan for
// the addon's C parsers). `npm run fuzz` is the long run: 10^6 inputs each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { tempDir } from '../temp-dir.js';
import { seeds } from '../../fuzz/seeds.js';
import * as announcements from '../../fuzz/targets/announcements.js';
import * as beacon from '../../fuzz/targets/beacon.js';
import * as config from '../../fuzz/targets/config.js';
import * as contacts from '../../fuzz/targets/contacts.js';
import * as dns from '../../fuzz/targets/dns.js';
import * as handshake from '../../fuzz/targets/handshake.js';
import * as multiaddr from '../../fuzz/targets/multiaddr.js';
import * as names from '../../fuzz/targets/names.js';
import * as routed from '../../fuzz/targets/routed.js';
import * as state from '../../fuzz/targets/state.js';
import * as transport from '../../fuzz/targets/transport.js';
import { isRoot } from '../wait.js';

const targets: Record<string, { fuzz(data: Buffer): void }> = { announcements, beacon, config, contacts, dns, handshake, multiaddr, names, routed, state, transport };

test('every fuzz target has a module here and seeds', () => {
  const onDisk = readdirSync(join(ROOT, 'fuzz', 'targets')).map((f) => f.replace(/\.ts$/, '')).sort();
  assert.deepEqual(Object.keys(targets).sort(), onDisk);
  assert.deepEqual(Object.keys(seeds()).sort(), onDisk);
});

test('seeds and kept regression inputs run through every target without a finding', () => {
  const all = seeds();
  let inputs = 0;
  for (const [name, target] of Object.entries(targets)) {
    const dir = join(ROOT, 'fuzz', 'regressions', name);
    const kept = existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).map((f) => readFileSync(join(dir, f))) : [];
    for (const input of [...all[name]!.map((s) => Buffer.from(s)), ...kept]) {
      target.fuzz(input);
      inputs++;
    }
  }
  assert.ok(inputs >= Object.keys(targets).length, `${inputs} inputs`);
});

test('a short coverage-guided run of every target finds nothing', { skip: !isRoot && 'needs root to fetch the fuzzer\'s C library (scripts/trixie-libc.sh)' }, (t) => {
  const work = tempDir(t, 'rovy-fuzz-');
  const out = execFileSync(join(ROOT, 'scripts', 'fuzz.sh'), ['--runs', '2000', '--no-build'], { encoding: 'utf8', env: { ...process.env, FUZZ_WORK: work }, timeout: 600_000 });
  t.diagnostic(out.trim());
  const rows = out.trim().split('\n').slice(1);
  assert.equal(rows.length, Object.keys(targets).length + 1, out);
  for (const row of rows) assert.match(row, /^\S+\s+2000\s.*\sok$/, row);
});
