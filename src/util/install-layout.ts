// Where an installed rovy finds its files. The bundle meson installs (scripts/meson-bundle.mjs)
// has ROVY_LAYOUT defined: the install datadir relative to the bundle's own directory, with the
// addon beside the bundle. Relative, so a tree installed under DESTDIR runs as it will from /.
// Checkout builds (scripts/build.mjs) leave it undefined and find files from the package root.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const ROVY_LAYOUT: { datadir: string } | undefined;

export interface InstallLayout {
  /** The N-API addon, beside the bundle. */
  addon: string;
  /** The install datadir (…/share). */
  datadir: string;
}

/** The layout of the installed bundle `moduleUrl` is part of, or null in a checkout build. */
export function installLayout(moduleUrl: string): InstallLayout | null {
  if (typeof ROVY_LAYOUT === 'undefined') return null;
  const dir = dirname(fileURLToPath(moduleUrl));
  return { addon: join(dir, 'rovy_native.node'), datadir: resolve(dir, ROVY_LAYOUT.datadir) };
}
