// Bundles the CLI/daemon and every test file (and test tool: *.tool.ts, programs a test runs in a
// namespace of its own) with esbuild, and builds the GNOME Shell extension
// in both its formats (dist/gnome-extension/{esm,legacy}: the directory and the zip). Type checking is `npm run check` (tsc);
// esbuild only strips types, which keeps a build under a second.
import { build } from 'esbuild';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bundleOptions } from './bundle-options.mjs';
import { buildExtension, formats } from './build-extension.mjs';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts') || name.endsWith('.tool.ts')) out.push(p);
  }
  return out;
}

// npm dependencies stay in node_modules: a checkout has them.
const common = { ...bundleOptions('.'), packages: 'external' };

// A fresh dist/ each time, so no bundle of a deleted test lingers and runs.
rmSync('dist', { recursive: true, force: true });
await build({ ...common, entryPoints: { rovy: 'service/cli.ts' }, outdir: 'dist' });
await build({ ...common, entryPoints: findTests('test'), outdir: 'dist/test', outbase: 'test' });
// The fuzz targets (fuzz/targets/*.ts, each exporting fuzz(data)) and the seed writer, for
// scripts/fuzz.sh and the fuzz test.
const fuzzTargets = readdirSync('fuzz/targets').filter((name) => name.endsWith('.ts')).map((name) => join('fuzz/targets', name));
await build({ ...common, entryPoints: [...fuzzTargets, 'fuzz/write-seeds.ts'], outdir: 'dist/fuzz', outbase: 'fuzz' });
for (const format of Object.keys(formats)) await buildExtension(format, join('dist', 'gnome-extension', format));
