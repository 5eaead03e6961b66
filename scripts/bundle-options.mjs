// esbuild options every rovy bundle shares, for scripts/build.mjs (checkout builds and tests) and
// scripts/meson-bundle.mjs (the installed bundle): ES modules for Node 20, the version from
// package.json, linked source maps.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function bundleOptions(root) {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return {
    define: { ROVY_VERSION: JSON.stringify(version) },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  };
}
