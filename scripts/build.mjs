// Bundles the CLI/daemon and every test file with esbuild. Type checking is `npm run check` (tsc);
// esbuild only strips types, which keeps a build under a second.
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

const common = {
  define: { ROVY_VERSION: JSON.stringify(version) },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
};

// A fresh dist/ each time, so no bundle of a deleted test lingers and runs.
rmSync('dist', { recursive: true, force: true });
await build({ ...common, entryPoints: { rovy: 'service/cli.ts' }, outdir: 'dist' });
await build({ ...common, entryPoints: findTests('test'), outdir: 'dist/test', outbase: 'test' });
