// The GNOME Shell extension as built (scripts/build-extension.mjs, run by npm run build into
// dist/gnome-extension/FORMAT): the zips extensions.gnome.org takes, their metadata, the rules
// its reviewers apply that can be read off the code, and the translations. What it does in a
// running shell is test/desktop/gnome-shell-*.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../repo-root.js';

const SOURCE = join(ROOT, 'gnome-extension');
const formats = JSON.parse(readFileSync(join(SOURCE, 'formats.json'), 'utf8')) as Record<string, { shellVersions: string[] }>;
const metadata = JSON.parse(readFileSync(join(SOURCE, 'metadata.json'), 'utf8')) as { uuid: string; 'gettext-domain': string };
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const built = (format: string, ...path: string[]): string => join(ROOT, 'dist', 'gnome-extension', format, ...path);
/** The languages po/LINGUAS lists, read as scripts/build-extension.mjs reads them. */
const languages = (): string[] => readFileSync(join(SOURCE, 'po', 'LINGUAS'), 'utf8').replace(/#.*$/gm, '').split(/\s+/).filter(Boolean);
const bundle = (format: string): string => readFileSync(built(format, metadata.uuid, 'extension.js'), 'utf8');

/** The zip's entries and their bytes, read with Python's zipfile (what we wrote it with). */
function zipEntries(zip: string): Map<string, Buffer> {
  const script = 'import base64, json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(json.dumps({n: base64.b64encode(z.read(n)).decode() for n in z.namelist()}))';
  const entries = JSON.parse(execFileSync('python3', ['-c', script, zip], { encoding: 'utf8' })) as Record<string, string>;
  return new Map(Object.entries(entries).map(([name, data]) => [name, Buffer.from(data, 'base64')]));
}

for (const format of Object.keys(formats)) {
  test(`${format}: the zip holds the extension's files and nothing else, as gnome-extensions pack lays them out`, () => {
    const entries = zipEntries(built(format, `${metadata.uuid}.shell-extension.zip`));
    const mos = languages().map((lang) => `locale/${lang}/LC_MESSAGES/${metadata['gettext-domain']}.mo`);
    assert.deepEqual([...entries.keys()].sort(), ['extension.js', ...mos, 'metadata.json', 'stylesheet.css'].sort());
    for (const [name, data] of entries) assert.ok(data.equals(readFileSync(built(format, metadata.uuid, name))), name);
  });

  test(`${format}: metadata names the shell versions tested and the gettext domain`, () => {
    const m = JSON.parse(readFileSync(built(format, metadata.uuid, 'metadata.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(m, { ...metadata, 'shell-version': formats[format]!.shellVersions, 'version-name': version });
    // extensions.gnome.org numbers the uploads itself.
    assert.equal('version' in m, false);
  });

  test(`${format}: no eval, no blocking D-Bus or I/O, no polling timers`, () => {
    const code = bundle(format);
    for (const [pattern, why] of [
      [/\beval\s*\(/, 'eval'],
      [/\bnew\s+Function\b/, 'new Function'],
      [/_sync\s*\(/, 'a *_sync() call blocks the shell'],
      [/Gio\.DBus\.(system|session)\b/, 'Gio.DBus.system/session connect synchronously'],
      [/\bsetInterval\b|\bsetTimeout\b/, 'timers: the daemon signals every change'],
      [/\bMainloop\b|imports\.mainloop/, 'the deprecated Mainloop module'],
      [/node_modules/, 'a path into node_modules'],
    ] as const) assert.doesNotMatch(code, pattern, why);
    // The one timer: the copy button's check mark, once, for 1.5 s.
    assert.equal(code.match(/timeout_add\(/g)?.length ?? 0, 1);
  });

  test(`${format}: loading the bundle creates nothing: it only declares, until enable()`, () => {
    const source = ts.createSourceFile('extension.js', bundle(format), ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
    // "use strict" is a directive, not code that runs.
    const code = (list: readonly ts.Statement[]) => list.filter((st) => !(ts.isExpressionStatement(st) && ts.isStringLiteral(st.expression)));
    let statements = code(source.statements);
    if (format === 'legacy') {
      // var rovyExtension = (() => { ... })(); function init(extension) { ... }
      const [wrapper, init, ...rest] = statements;
      assert.equal(rest.length, 0);
      assert.ok(init && ts.isFunctionDeclaration(init) && init.name?.text === 'init', 'a top-level function init()');
      const call = wrapper && ts.isVariableStatement(wrapper) ? wrapper.declarationList.declarations[0]?.initializer : undefined;
      assert.ok(call && ts.isCallExpression(call) && ts.isParenthesizedExpression(call.expression) && ts.isArrowFunction(call.expression.expression), 'the IIFE');
      statements = code((call.expression.expression.body as ts.Block).statements);
    }
    const problems: string[] = [];
    // esbuild's own helpers (__export, __toCommonJS, __publicField…) only build the exports object.
    const isHelperCall = (n: ts.Node): boolean => ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text.startsWith('__');
    const check = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) || ts.isClassLike(node)) return; // runs later, if ever
      if ((ts.isCallExpression(node) && !isHelperCall(node)) || ts.isNewExpression(node) || ts.isTaggedTemplateExpression(node)) {
        problems.push(node.getText(source).slice(0, 80));
        return;
      }
      ts.forEachChild(node, check);
    };
    for (const statement of statements) {
      if (ts.isImportDeclaration(statement)) {
        const from = (statement.moduleSpecifier as ts.StringLiteral).text;
        if (!/^(gi|resource):\/\//.test(from)) problems.push(`imports ${from}`);
        continue;
      }
      check(statement);
    }
    assert.deepEqual(problems, [], 'top-level code that runs when the shell loads the extension');
  });
}

test('the shell versions listed are exactly the ones a test runs a shell of', () => {
  const tested = readdirSync(join(ROOT, 'test', 'desktop')).flatMap((f) => /^gnome-shell-(\d+)\.test\.ts$/.exec(f)?.[1] ?? []).sort();
  const listed = Object.values(formats).flatMap((f) => f.shellVersions).sort();
  assert.deepEqual(listed, tested);
  assert.ok(formats.esm!.shellVersions.every((v) => Number(v) >= 45), 'ESM is for 45 and later');
  assert.ok(formats.legacy!.shellVersions.every((v) => Number(v) === 43 || Number(v) === 44), 'legacy is for 43 and 44');
});

/** msgids of a .po/.pot file (msgctxt is not used), plural ids joined to their singular. */
function msgids(po: string): string[] {
  const ids: string[] = [];
  for (const m of po.matchAll(/^msgid "(.*)"\n(?:msgid_plural "(.*)"\n)?/gm)) if (m[1] !== '') ids.push(m[2] === undefined ? m[1]! : `${m[1]}|${m[2]}`);
  return ids.sort();
}

test('the translation template holds every string in the code, and German translates all of it', () => {
  const work = mkdtempSync(join(tmpdir(), 'rovy-pot-'));
  try {
    const pot = join(work, 'now.pot');
    execFileSync('xgettext', ['--from-code=UTF-8', '--language=JavaScript', '--keyword=_', '--keyword=ngettext:1,2', `--output=${pot}`,
      ...readdirSync(join(SOURCE, 'src')).filter((f) => f.endsWith('.ts')).map((f) => join('src', f))], { cwd: SOURCE, stdio: ['ignore', 'pipe', 'pipe'] });
    const committed = readFileSync(join(SOURCE, 'po', `${metadata['gettext-domain']}.pot`), 'utf8');
    assert.deepEqual(msgids(committed), msgids(readFileSync(pot, 'utf8')), 'run scripts/update-po.sh');
    assert.ok(msgids(committed).length > 20);
    for (const lang of languages()) {
      const po = join(SOURCE, 'po', `${lang}.po`);
      assert.deepEqual(msgids(readFileSync(po, 'utf8')), msgids(committed), `${lang}.po: run scripts/update-po.sh`);
      // msgfmt says on stderr how many are translated, and names fuzzy and untranslated ones.
      const r = spawnSync('msgfmt', ['--check', '--statistics', '-o', '/dev/null', po], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /^\d+ translated messages\.\n$/, `${lang}.po`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
