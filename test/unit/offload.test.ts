// The TUN offloads' parsers (native/offload.c: virtio-net header, splitting, coalescing) under
// AddressSanitizer and UBSan: test/native/offload-fuzz.c is built with both and run over random,
// malformed and boundary inputs, each in a heap block of exactly its size. Any read or write
// past an input or an output, any undefined behaviour or wrong result fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { tempDir } from '../temp-dir.js';

test('offload parsers: no crash, no access past a buffer, right results, under ASan and UBSan', (t) => {
  const binary = join(tempDir(t, 'rovy-offload-fuzz-'), 'offload-fuzz');
  const flags = ['-std=gnu11', '-g', '-O1', '-Wall', '-Wextra', '-Werror', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
  execFileSync('cc', [...flags, join(ROOT, 'native/offload.c'), join(ROOT, 'test/native/offload-fuzz.c'), '-o', binary], { stdio: 'pipe' });
  // Two seeds: a fixed one, and one of this run's (printed, so a failure can be replayed).
  for (const seed of [24301, Date.now() % 1_000_000_007]) {
    const out = execFileSync(binary, ['3000', String(seed)], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
    assert.match(out, new RegExp(`offload-fuzz: 3000 iterations, seed ${seed}: ok`));
  }
});
