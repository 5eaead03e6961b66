// The package's root directory (the one holding binding.gyp), found by walking up from a module:
// code runs bundled from dist/ or from dist/test/**, so relative paths to shipped files differ.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(moduleUrl: string): string | null {
  for (let dir = dirname(fileURLToPath(moduleUrl)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) return null;
  }
}
