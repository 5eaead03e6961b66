// The repository root, found from a test's own file: tests run from esbuild bundles under
// dist/test/, so their depth below the root is not fixed.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    if (dirname(dir) === dir) throw new Error('no package.json above the test file');
    dir = dirname(dir);
  }
  return dir;
})();
