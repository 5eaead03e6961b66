// Stryker's build step, run once in each of its sandboxes: bundles the tests of tests.mjs from the
// sandbox's sources, which hold every mutant, switched at run time. Same esbuild options as
// scripts/build.mjs; the desktop tests drive the real CLI, so it is bundled too.
import { build } from 'esbuild';
import { chmodSync, rmSync } from 'node:fs';
import { bundleOptions } from '../../scripts/bundle-options.mjs';
import { source, tests } from './tests.mjs';

const common = { ...bundleOptions('.'), packages: 'external' };
// Stryker makes its sandboxes 0700; the D-Bus tests run the CLI as unprivileged users too.
chmodSync('.', 0o755);
rmSync('dist', { recursive: true, force: true });
await build({ ...common, entryPoints: tests.map(source), outdir: 'dist/test', outbase: 'test' });
if (tests.some((name) => name.startsWith('desktop/'))) await build({ ...common, entryPoints: { rovy: 'service/cli.ts' }, outdir: 'dist' });
