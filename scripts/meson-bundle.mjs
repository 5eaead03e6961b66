// The installed CLI/daemon bundle, built by meson (meson.build runs this with node):
//   node scripts/meson-bundle.mjs ENTRY OUT DEPFILE DATADIR
// Unlike scripts/build.mjs (checkout runs, npm dependencies left in node_modules) it bundles
// every dependency, so an installed rovy needs nothing but node and the addon beside it.
// DATADIR is the install datadir relative to OUT's directory; with it the bundle finds its
// files (src/util/install-layout.ts) in a tree installed under DESTDIR as well as under /.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleOptions } from './bundle-options.mjs';

const [entry, out, depfile, datadir] = process.argv.slice(2);
if (!entry || !out || !depfile || datadir === undefined) {
  process.stderr.write('usage: node scripts/meson-bundle.mjs ENTRY OUT DEPFILE DATADIR\n');
  process.exit(2);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write(`esbuild is not installed in ${root}/node_modules: run scripts/setup.sh (npm ci) there first\n`);
  process.exit(1);
}
const common = bundleOptions(root);

const result = await esbuild.build({
  ...common,
  entryPoints: [entry],
  outfile: out,
  // dbus-next require()s these only when asked for X11 auth or abstract sockets; neither is
  // installed, and it copes with their absence.
  external: ['x11', 'usocket'],
  // Bundled CommonJS packages (dbus-next) call require(), which an ES module lacks.
  banner: { js: "import { createRequire as rovyCreateRequire } from 'node:module';\nconst require = rovyCreateRequire(import.meta.url);" },
  define: { ...common.define, ROVY_LAYOUT: JSON.stringify({ datadir }) },
  metafile: true,
});

// Every file the bundle was made of, so ninja rebuilds it when one changes (Makefile syntax:
// a space in a path is escaped). esbuild also lists virtual inputs ("<define:...>"): not files.
const escape = (p) => p.replaceAll(' ', '\\ ');
const files = Object.keys(result.metafile.inputs).map((p) => resolve(p)).filter((p) => existsSync(p));
const inputs = [...files, join(root, 'package.json'), join(root, 'scripts', 'bundle-options.mjs')];
writeFileSync(depfile, `${escape(out)}: ${inputs.map(escape).join(' \\\n  ')}\n`);
