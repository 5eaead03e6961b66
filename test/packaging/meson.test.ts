// meson builds and installs rovy into a staging DESTDIR, as the Debian build does (--prefix=/usr,
// no other option). Checked there: the installed tree file by file with modes, the installed
// rovy running from the staging tree outside the checkout (a self-contained bundle with its own
// addon), the bash completion against the CLI's own --help, and the man pages through groff.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from '../repo-root.js';
import { isRoot } from '../wait.js';

const EXTENSION_UUID = 'rovy@rovy.net';
let work = '';
let stage = '';
/** Installed paths (relative to the staging root, no leading /) by their source in the repo. */
let where: Record<string, string> = {};

/** The environment installed programs run in: no NODE_PATH, nothing of the checkout. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_PATH;
  return env;
}

function run(cmd: string, args: string[], cwd = work): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A pkg-config variable, or `fallback` where the .pc file is not installed. */
function pkgVariable(pkg: string, variable: string, fallback: string): string {
  try {
    return execFileSync('pkg-config', [`--variable=${variable}`, pkg], { encoding: 'utf8' }).trim() || fallback;
  } catch {
    return fallback;
  }
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'rovy-meson-'));
  stage = join(work, 'stage');
  const build = join(work, 'build');
  run('meson', ['setup', build, ROOT, '--prefix=/usr']);
  run('meson', ['compile', '-C', build]);
  run('meson', ['install', '-C', build, '--destdir', stage]);
  const options = JSON.parse(run('meson', ['introspect', build, '--buildoptions'])) as { name: string; value: unknown }[];
  const libdir = String(options.find((o) => o.name === 'libdir')!.value);
  const pkglib = join('usr', libdir, 'rovy');
  const rel = (p: string): string => p.replace(/^\//, '');
  where = {
    'packaging/rovy.in': 'usr/bin/rovy',
    'rovy.mjs': join(pkglib, 'rovy.mjs'),
    'rovy.mjs.map': join(pkglib, 'rovy.mjs.map'),
    'native/*.c': join(pkglib, 'rovy_native.node'),
    'packaging/systemd/rovyd.service': join(rel(pkgVariable('systemd', 'systemdsystemunitdir', '/usr/lib/systemd/system')), 'rovyd.service'),
    'packaging/systemd/rovy.sysusers': join(rel(pkgVariable('systemd', 'sysusersdir', '/usr/lib/sysusers.d')), 'rovy.conf'),
    'packaging/systemd/rovy.tmpfiles': join(rel(pkgVariable('systemd', 'tmpfilesdir', '/usr/lib/tmpfiles.d')), 'rovy.conf'),
    'dbus/net.rovy.Rovy1.conf': 'usr/share/dbus-1/system.d/net.rovy.Rovy1.conf',
    'dbus/net.rovy.Rovy1.service': 'usr/share/dbus-1/system-services/net.rovy.Rovy1.service',
    'dbus/net.rovy.Rovy1.xml': 'usr/share/dbus-1/interfaces/net.rovy.Rovy1.xml',
    'dbus/net.rovy.policy': 'usr/share/polkit-1/actions/net.rovy.policy',
    'dbus/net.rovy.rules': 'usr/share/polkit-1/rules.d/net.rovy.rules',
    'docs/man/rovy.1.in': 'usr/share/man/man1/rovy.1',
    'docs/man/rovy.toml.5.in': 'usr/share/man/man5/rovy.toml.5',
    'docs/man/rovyd.8.in': 'usr/share/man/man8/rovyd.8',
    'packaging/bash-completion/rovy': join(rel(pkgVariable('bash-completion', 'completionsdir', '/usr/share/bash-completion/completions')), 'rovy'),
    'packaging/bird/rovy.conf': 'usr/share/rovy/bird/rovy.conf',
    ...Object.fromEntries(['extension.js', 'metadata.json', 'stylesheet.css', 'locale/de/LC_MESSAGES/gnome-shell-extension-rovy.mo'].map((f) =>
      [`gnome-extension:${f}`, join('usr/share/gnome-shell/extensions', EXTENSION_UUID, f)])),
  };
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const installed = (source: string): string => join(stage, where[source]!);

/** The extension format meson's "auto" must pick here: the one this machine's gnome-shell loads. */
function extensionFormat(): 'esm' | 'legacy' {
  const r = spawnSync('gnome-shell', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'esm';
  return Number(/(\d+)\./.exec(r.stdout)![1]) < 45 ? 'legacy' : 'esm';
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => relative(stage, join(e.parentPath, e.name)));
}

test('meson installs exactly the expected files, with their modes', () => {
  assert.deepEqual(filesUnder(stage).sort(), Object.values(where).sort());
  const executable = new Set(['packaging/rovy.in', 'native/*.c']);
  for (const source of Object.keys(where)) {
    const mode = statSync(installed(source)).mode & 0o7777;
    assert.equal(mode.toString(8), executable.has(source) ? '755' : '644', where[source]);
  }
});

test('installed data files are the repository files; the activation file names the installed rovy', () => {
  for (const [source, target] of Object.entries(where)) {
    if (source.includes('*') || source.endsWith('.in') || source.startsWith('rovy.mjs') || source.endsWith('.service') || source.startsWith('gnome-extension:')) continue;
    assert.equal(readFileSync(installed(source), 'utf8'), readFileSync(join(ROOT, source), 'utf8'), target);
  }
  // The unit and the activation file are the repository's with the program set to this install's.
  for (const [source, key] of [['packaging/systemd/rovyd.service', 'ExecStart'], ['dbus/net.rovy.Rovy1.service', 'Exec']] as const) {
    const text = readFileSync(installed(source), 'utf8');
    const line = new RegExp(`^${key}=.*$`, 'm');
    assert.match(text, new RegExp(`^${key}=/usr/bin/rovy daemon$`, 'm'), where[source]);
    assert.equal(text.replace(line, ''), readFileSync(join(ROOT, source), 'utf8').replace(line, ''), where[source]);
  }
  assert.match(readFileSync(installed('dbus/net.rovy.Rovy1.service'), 'utf8'), /^SystemdService=rovyd\.service$/m);
});

test('the GNOME Shell extension is installed system-wide, in the format this machine\'s GNOME Shell loads', () => {
  const format = extensionFormat();
  // The same build as the checkout's (scripts/build.mjs): same builder, same sources.
  const built = join(ROOT, 'dist', 'gnome-extension', format, EXTENSION_UUID);
  for (const file of ['extension.js', 'metadata.json', 'stylesheet.css']) {
    assert.equal(readFileSync(installed(`gnome-extension:${file}`), 'utf8'), readFileSync(join(built, file), 'utf8'), file);
  }
  const formats = JSON.parse(readFileSync(join(ROOT, 'gnome-extension', 'formats.json'), 'utf8')) as Record<string, { shellVersions: string[] }>;
  const metadata = JSON.parse(readFileSync(installed('gnome-extension:metadata.json'), 'utf8')) as { uuid: string; 'shell-version': string[] };
  assert.equal(metadata.uuid, EXTENSION_UUID);
  assert.deepEqual(metadata['shell-version'], formats[format]!.shellVersions);
});

test('the bundle imports nothing but Node built-ins', () => {
  const bundle = readFileSync(installed('rovy.mjs'), 'utf8');
  const specifiers = new Set<string>();
  for (const m of bundle.matchAll(/\b(?:from|import|require)\s*\(?\s*["']([^"']+)["']/g)) specifiers.add(m[1]!);
  // dbus-next asks for these two only for X11 auth and abstract sockets, and copes without them.
  const optional = new Set(['x11', 'usocket']);
  const builtin = (s: string): boolean => s.startsWith('node:') || builtinModules.includes(s.split('/')[0]!);
  const foreign = [...specifiers].filter((s) => !builtin(s) && !optional.has(s));
  assert.deepEqual(foreign, []);
  assert.ok(specifiers.size > 0, 'no import found: the pattern no longer matches the bundle');
});

test('the installed rovy runs from the staging tree, outside the checkout: --help, init, id', () => {
  const rovy = installed('packaging/rovy.in');
  const help = run(rovy, ['--help'], '/');
  assert.match(help, /^usage: rovy COMMAND/);
  const config = join(work, 'id', 'rovy.toml');
  run(rovy, ['init', '--config', config], '/');
  const text = run(rovy, ['id', '--config', config], '/');
  assert.match(text, /^peer id {2}bafzqai[a-z2-7]{52}\naddress {2}fc[0-9a-f]{2}(:[0-9a-f]{0,4}){1,7}\n$/);
  const json = JSON.parse(run(rovy, ['id', '--config', config, '--json'], '/')) as { peerId: string; address: string };
  assert.ok(text.includes(json.peerId) && text.includes(json.address));
  assert.equal(statSync(join(work, 'id', 'node.key')).mode & 0o777, 0o600);
});

test('the installed addon is whole: every symbol resolves at load (RTLD_NOW)', () => {
  // Node loads addons lazily: a source file meson leaves out would only fail at its first call.
  const load = `const m = { exports: {} }; process.dlopen(m, process.argv[1], require('os').constants.dlopen.RTLD_NOW); console.log(Object.keys(m.exports).length);`;
  const exports = Number(run(process.execPath, ['-e', load, installed('native/*.c')]));
  assert.ok(exports >= 20, `the addon exports ${exports} functions`);
});

test('the installed daemon loads its addon: it opens a socket and a TUN in a namespace of its own', { skip: !isRoot && 'needs root (TUN, network namespace)' }, async () => {
  const dir = mkdtempSync(join(work, 'daemon-'));
  const config = join(dir, 'rovy.toml');
  writeFileSync(config, 'key_file = "node.key"\nlisten = ["/ip6/::/udp/0"]\n[discovery]\npolicy = "off"\n');
  // A network namespace with its own /sys (the daemon reads interfaces there), as `ip netns exec`
  // gives; unshare and sh exec the launcher, which execs node: the PID is the daemon's. No system
  // bus: the daemon says its API is off and runs on.
  const env = { ...cleanEnv(), DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'no-bus')}` };
  const inNamespace = ['--net', '--mount', 'sh', '-c', 'mount -t sysfs sysfs /sys && exec "$0" "$@"'];
  const child = spawn('unshare', [...inNamespace, installed('packaging/rovy.in'), 'daemon', '--config', config], { cwd: '/', env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const up = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      if (/D-Bus API off/.test(log)) resolve();
    });
    void exited.then(() => reject(new Error(`the daemon exited:\n${log}`)));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    await up;
    assert.match(log, /listening on \/ip6\/::\/udp\/\d+/);
    assert.match(log, /node bafzqai[a-z2-7]{52} up as fc[0-9a-f:]+ on rovy0/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, log);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
});

/** What the installed completion offers for the words typed so far (the last one being completed). */
function complete(words: string[]): string[] {
  const script = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _rovy; printf "%s\\n" "${COMPREPLY[@]}"';
  return run('bash', ['--norc', '--noprofile', '-c', script, 'bash', installed('packaging/bash-completion/rovy'), ...words])
    .split('\n')
    .filter((w) => w !== '');
}

/** The commands the installed CLI lists in its --help. */
function cliCommands(): string[] {
  const help = run(installed('packaging/rovy.in'), ['--help'], '/');
  const commands = [...help.split('commands:\n')[1]!.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!);
  assert.ok(commands.length >= 10, `too few commands found in rovy --help:\n${help}`);
  return commands;
}

/** Each alternative of a command's usage line: its action words (each position's choices) and flags. */
function usageForms(command: string): { actions: string[][]; flags: string[] }[] {
  const usage = /^usage: (.*)$/m.exec(run(installed('packaging/rovy.in'), [command, '--help'], '/'))![1]!;
  return usage.split(' | ').map((form) => {
    const tokens = form.replace(/[[\]]/g, '').split(' ').filter(Boolean);
    assert.deepEqual(tokens.slice(0, 2), ['rovy', command], usage);
    const actions: string[][] = [];
    for (const token of tokens.slice(2)) {
      if (!/^[a-z]+(\|[a-z]+)*$/.test(token)) break;
      actions.push(token.split('|'));
    }
    return { actions, flags: tokens.filter((t) => t.startsWith('--')) };
  });
}

test('bash completion offers every command, action word and flag of the CLI', () => {
  const script = 'source "$1"; complete -p rovy';
  assert.equal(run('bash', ['--norc', '--noprofile', '-c', script, 'bash', installed('packaging/bash-completion/rovy')]).trim(), 'complete -F _rovy rovy');
  const commands = cliCommands();
  const offered = complete(['rovy', '']);
  for (const command of commands) assert.ok(offered.includes(command), `rovy <TAB> does not offer ${command}`);
  for (const command of commands) {
    for (const { actions, flags } of usageForms(command)) {
      const typed: string[] = [];
      for (const choices of actions) {
        const words = complete(['rovy', command, ...typed, '']);
        for (const choice of choices) assert.ok(words.includes(choice), `rovy ${command} ${typed.join(' ')} <TAB> does not offer ${choice}`);
        typed.push(choices[0]!);
      }
      const given = complete(['rovy', command, ...typed, '-']);
      for (const flag of [...flags, '--help']) assert.ok(given.includes(flag), `rovy ${[command, ...typed].join(' ')} -<TAB> does not offer ${flag}`);
    }
  }
});

test('bash completion completes a file after --config', () => {
  const dir = mkdtempSync(join(work, 'completion-'));
  writeFileSync(join(dir, 'node-one.toml'), '');
  for (const command of ['init', 'id', 'daemon']) {
    assert.deepEqual(complete(['rovy', command, '--config', join(dir, 'node-')]), [join(dir, 'node-one.toml')]);
  }
});

/** A man page as text, and what groff said about it (it exits 0 on warnings: they are on stderr). */
function render(page: string): { text: string; warnings: string } {
  const r = spawnSync('groff', ['-man', '-ww', '-Tutf8', '-P-cbou', page], { encoding: 'utf8', env: { ...cleanEnv(), LC_ALL: 'C.UTF-8' } });
  return { text: r.stdout, warnings: r.stderr + (r.status === 0 ? '' : `groff exited with ${String(r.status)}`) };
}

test('the man pages render without warnings and describe every command and config key', () => {
  const pages = ['docs/man/rovy.1.in', 'docs/man/rovy.toml.5.in', 'docs/man/rovyd.8.in'];
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const texts: Record<string, string> = {};
  for (const page of pages) {
    const { text, warnings } = render(installed(page));
    assert.equal(warnings, '', `${where[page]}: ${warnings}`);
    assert.doesNotMatch(readFileSync(installed(page), 'utf8'), /@[A-Z_]+@/, `${where[page]} has an unreplaced @VAR@`);
    assert.ok(text.includes(`rovy ${version}`), `${where[page]} does not name version ${version}`);
    texts[page] = text;
  }
  // rovy(1): each command heads an entry of COMMANDS; each flag is explained under OPTIONS.
  const rovy1 = texts['docs/man/rovy.1.in']!;
  const commandsSection = rovy1.split(/^COMMANDS$/m)[1]!.split(/^[A-Z]/m)[0]!;
  for (const command of cliCommands()) {
    assert.match(commandsSection, new RegExp(`^ {7}${command}\\b`, 'm'), `rovy(1) has no entry for ${command}`);
  }
  const optionsSection = rovy1.split(/^OPTIONS$/m)[1]!.split(/^[A-Z]/m)[0]!;
  for (const command of cliCommands()) {
    for (const { flags } of usageForms(command)) {
      for (const flag of flags) assert.match(optionsSection, new RegExp(`^ {7}(-\\w, )?${flag}\\b`, 'm'), `rovy(1) OPTIONS lacks ${flag}`);
    }
  }
  // rovy.toml(5): every key of the commented config that `rovy init` writes.
  const config = join(mkdtempSync(join(work, 'man-')), 'rovy.toml');
  run(installed('packaging/rovy.in'), ['init', '--config', config], '/');
  const keys = new Set([...readFileSync(config, 'utf8').matchAll(/^#? ?([a-z_]+) = /gm)].map((m) => m[1]!));
  assert.ok(keys.size >= 8, `too few keys in the config rovy init wrote: ${[...keys].join(', ')}`);
  for (const key of keys) assert.match(texts['docs/man/rovy.toml.5.in']!, new RegExp(`^ {7}${key} \\(`, 'm'), `rovy.toml(5) does not describe ${key}`);
  // rovyd(8): the service, the switch it shares with NetworkManager, its files.
  const rovyd = texts['docs/man/rovyd.8.in']!;
  for (const needed of ['rovyd.service', 'CAP_NET_ADMIN', 'nmcli connection down rovy', '/var/lib/rovy/node.key', '/etc/rovy/rovy.toml', 'net.rovy.Rovy1', 'SIGHUP', 'SIGUSR1']) {
    assert.ok(rovyd.includes(needed), `rovyd(8) does not mention ${needed}`);
  }
});
