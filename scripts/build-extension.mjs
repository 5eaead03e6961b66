// Builds the GNOME Shell extension from gnome-extension/ in one of its two formats
// (gnome-extension/formats.json: "esm" for GNOME 45 and later, "legacy" for 43 and 44):
//   OUT/UUID/  extension.js, metadata.json (with the format's shell-version), stylesheet.css,
//              locale/LANG/LC_MESSAGES/DOMAIN.mo
//   OUT/UUID.shell-extension.zip   the same files, as `gnome-extensions pack` makes them
// Used by scripts/build.mjs (both formats into dist/gnome-extension/FORMAT) and by meson.build:
//   node scripts/build-extension.mjs FORMAT OUT [DEPFILE]
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'gnome-extension');

export const formats = JSON.parse(readFileSync(join(source, 'formats.json'), 'utf8'));
const metadata = JSON.parse(readFileSync(join(source, 'metadata.json'), 'utf8'));

// Python's zipfile: every file under the current directory, deflated, in a stable order.
const ZIP_SCRIPT = `import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for top, dirs, files in os.walk('.'):
        dirs.sort()
        for f in sorted(files):
            z.write(os.path.join(top, f)[2:])
`;

function run(cmd, args, options = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  } catch (e) {
    if (e.code === 'ENOENT') throw new Error(`${cmd} is not installed: run scripts/setup.sh`);
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${e.stderr ?? e.message}`);
  }
}

/** Builds `format` into `out` (the directory and its zip); returns the directory and every input file. */
export async function buildExtension(format, out) {
  const spec = formats[format];
  if (!spec) throw new Error(`unknown extension format "${format}" (known: ${Object.keys(formats).join(', ')})`);
  const { build } = await import('esbuild');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  out = resolve(out);
  const dir = join(out, metadata.uuid);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const common = {
    // Paths in the bundle's comments are relative to the repository, wherever it is built from.
    absWorkingDir: root,
    entryPoints: [join(source, spec.entry)],
    outfile: join(dir, 'extension.js'),
    bundle: true,
    target: spec.target,
    charset: 'utf8',
    // The D-Bus contract goes in as text: the extension reads the interfaces the daemon serves.
    loader: { '.xml': 'text' },
    banner: { js: `// rovy ${version}: built from gnome-extension/ (TypeScript) by scripts/build-extension.mjs` },
    logLevel: 'warning',
    metafile: true,
  };
  const result = format === 'esm'
    ? await build({ ...common, format: 'esm', external: ['gi://*', 'resource://*'] })
    // The 43/44 loader evaluates the file as a script and calls its top-level init().
    : await build({ ...common, format: 'iife', globalName: 'rovyExtension', footer: { js: 'function init(extension) {\n  return rovyExtension.init(extension);\n}' } });

  writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ ...metadata, 'shell-version': spec.shellVersions, 'version-name': version }, null, 2) + '\n');
  copyFileSync(join(source, 'stylesheet.css'), join(dir, 'stylesheet.css'));
  const po = join(source, 'po');
  // LINGUAS: language codes separated by white space; "#" starts a comment to the end of the line.
  const languages = readFileSync(join(po, 'LINGUAS'), 'utf8').replace(/#.*$/gm, '').split(/\s+/).filter(Boolean);
  for (const lang of languages) {
    const target = join(dir, 'locale', lang, 'LC_MESSAGES');
    mkdirSync(target, { recursive: true });
    run('msgfmt', ['--check', '-o', join(target, `${metadata['gettext-domain']}.mo`), join(po, `${lang}.po`)]);
  }

  // The zip gnome-extensions pack would make: the directory's files at its top level.
  const zip = join(out, `${metadata.uuid}.shell-extension.zip`);
  rmSync(zip, { force: true });
  run('python3', ['-c', ZIP_SCRIPT, zip], { cwd: dir });

  const inputs = [
    ...Object.keys(result.metafile.inputs).map((p) => resolve(root, p)).filter((p) => existsSync(p)),
    join(source, 'formats.json'), join(source, 'metadata.json'), join(source, 'stylesheet.css'), join(po, 'LINGUAS'),
    ...languages.map((lang) => join(po, `${lang}.po`)), join(root, 'package.json'), fileURLToPath(import.meta.url),
  ];
  return { dir, inputs };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [format, out, depfile] = process.argv.slice(2);
  if (!format || !out) {
    process.stderr.write('usage: node scripts/build-extension.mjs esm|legacy OUT [DEPFILE]\n');
    process.exit(2);
  }
  try {
    const { dir, inputs } = await buildExtension(format, resolve(out));
    // For ninja: rebuild when any input changes (Makefile syntax, spaces escaped).
    const escape = (p) => p.replaceAll(' ', '\\ ');
    if (depfile) writeFileSync(depfile, `${escape(dir)}: ${inputs.map(escape).join(' \\\n  ')}\n`);
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
