// Bundles the CLI/daemon and every test file with esbuild. Type checking is `npm run check` (tsc);
// esbuild only strips types, which keeps a build under a second.
import { build } from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
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

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
};

await build({ ...common, entryPoints: { rovy: 'service/cli.ts' }, outdir: 'dist' });
await build({ ...common, entryPoints: findTests('test'), outdir: 'dist/test', outbase: 'test' });
