// What the extension must do in every GNOME Shell it supports, run against a real one
// (test/desktop/gnome-shell.ts) as the unprivileged desktop user, and a real mesh:
//
//   ns A (the desktop's node, on the private system bus)     ns B ──veth── ns D
//     │ veth: B is a peer from A's config                      (B's peer; A reaches D through B)
//     └─ lan0 ── bridge ── lan0 of B and of C                  C: on the LAN only, policy auto
//
// A's policy is manual, so C is listed under "On this network" with a Connect button until the
// user clicks it. polkitd runs with the repo's actions and a rule standing in for logind's
// "active session" (test/desktop/polkit/50-rovy-active-session.rules); for the "not authorized"
// step it is restarted without that rule. Screenshots of each state go to
// $ROVY_SCREENSHOTS/gnomeMAJOR (default test-output/screenshots), which .ci/run prints.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { cachedChroot } from '../debian-chroot.js';
import { Lab, ROVY_JS, until, type Daemon } from '../net/netns.js';
import { run, startPolkitd, startSystemBus, type Polkitd, type PrivateBus } from './buses.js';
import { ENABLED, GnomeShell, NOBODY, UUID, gnomeChroot } from './gnome-shell.js';
import { shortPeerId, type MenuView } from '../../gnome-extension/src/view.js';

export const SCREENSHOTS = process.env.ROVY_SCREENSHOTS ?? join(ROOT, 'test-output', 'screenshots');
const DEST = 'net.rovy.Rovy1';
const ROOT_PATH = '/net/rovy/Rovy1';
const ACTIVE_SESSION_RULE = join(ROOT, 'test', 'desktop', 'polkit', '50-rovy-active-session.rules');

export interface ShellTarget {
  major: number;
  format: 'esm' | 'legacy';
  /** Debian suite of the chroot the shell comes from; the machine's own shell if absent. */
  suite?: 'trixie' | 'forky';
}

// Expressions evaluated in the shell. PANEL is the extension's panel while it is enabled.
const PANEL = `Main.extensionManager.lookup('${UUID}')?.stateObj?.panel`;
const UI_STATE = `(() => {
  const panel = ${PANEL};
  if (!panel) return null;
  const St = imports.gi.St;
  const texts = [];
  const walk = (actor) => {
    if (!actor.visible) return;
    if (actor instanceof St.Entry) texts.push('[' + actor.get_text() + ']');
    else if (actor instanceof St.Label && actor.text) texts.push(actor.text);
    for (const child of actor.get_children()) walk(child);
  };
  for (const child of panel.toggle.menu.actor.get_children()) walk(child);
  return {
    view: panel.view,
    checked: panel.toggle.checked,
    subtitle: panel.toggle.subtitle ?? null,
    panelIcon: panel.indicator.visible && panel.indicator.get_children().some((c) => c.visible),
    menu: texts,
  };
})()`;
const NOTIFICATIONS = `Main.messageTray.getSources().filter((s) => s.title === 'Rovy')
  .flatMap((s) => s.notifications.map((n) => ({ title: n.title, body: n.body ?? n.bannerBodyText ?? '' })))`;
// How the shell looks apart from us: every actor on the stage, the quick settings' parts, the
// message tray's sources, the panel's status area.
const FINGERPRINT = `(() => {
  const actors = {};
  const name = (a) => (a.constructor.name || '?') + (a.style_class ? '.' + a.style_class : '') + (a.name ? '#' + a.name : '');
  // Each actor counted under its parent's name, so a leftover says where it is.
  const count = (a, parent) => {
    const kind = parent + ' > ' + name(a);
    actors[kind] = (actors[kind] ?? 0) + 1;
    // An icon makes its texture child when first shown; that is the icon's, not a leftover.
    // The overview fills its app grid and workspaces when it likes; the extension never goes there.
    if (a instanceof imports.gi.St.Icon || a === Main.layoutManager.overviewGroup) return;
    for (const c of a.get_children()) count(c, name(a));
  };
  count(global.stage, '');
  const qs = Main.panel.statusArea.quickSettings;
  return {
    actors,
    indicators: qs._indicators.get_n_children(),
    grid: qs.menu._grid.get_n_children(),
    overlay: qs.menu._overlay.get_n_children(),
    sources: Main.messageTray.getSources().length,
    statusArea: Object.keys(Main.panel.statusArea).sort(),
  };
})()`;

/** What differs between two fingerprints, for the failure message. */
function fingerprintDiff(before: Record<string, unknown>, after: Record<string, unknown>): string {
  const out: string[] = [];
  const a = before.actors as Record<string, number>, b = after.actors as Record<string, number>;
  for (const kind of new Set([...Object.keys(a), ...Object.keys(b)])) if (a[kind] !== b[kind]) out.push(`${kind}: ${a[kind] ?? 0} -> ${b[kind] ?? 0}`);
  for (const key of Object.keys(before)) if (key !== 'actors' && JSON.stringify(before[key]) !== JSON.stringify(after[key])) out.push(`${key}: ${JSON.stringify(before[key])} -> ${JSON.stringify(after[key])}`);
  return out.join('; ');
}

interface UiState {
  view: MenuView;
  checked: boolean;
  subtitle: string | null;
  panelIcon: boolean;
  menu: string[];
}

interface Node {
  ns: string;
  config: string;
  peerId: string;
  address: string;
}

export async function shellScenario(t: TestContext, target: ShellTarget): Promise<void> {
  const tag = `gnome${target.major}`;
  const shots = join(SCREENSHOTS, tag);
  // This run's pictures only: none left from an earlier one to be mistaken for today's.
  rmSync(shots, { recursive: true, force: true });
  const chroot = target.suite ? cachedChroot(gnomeChroot(target.suite), (m) => t.diagnostic(m)).root : undefined;
  // forky is Debian testing: when it moves on to the next GNOME, say so rather than fail obscurely.
  const version = await run(chroot ? 'chroot' : 'gnome-shell', chroot ? [chroot, 'gnome-shell', '--version'] : ['--version']);
  assert.equal(Number(/GNOME Shell (\d+)/.exec(version.stdout)?.[1]), target.major,
    `this test is for GNOME Shell ${target.major}, but ${target.suite ? `Debian ${target.suite}` : 'this machine'} has ${version.stdout.trim() || version.stderr.trim()}: test the new version (a test file and gnome-extension/formats.json) and retire this one`);
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), `rovy-${tag}-`));
  let bus: PrivateBus | null = null;
  let polkitd: Polkitd | null = null;
  let shell: GnomeShell | null = null;
  t.after(async () => {
    await shell?.stop();
    await polkitd?.stop();
    await lab.cleanup();
    await bus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  bus = await startSystemBus();
  polkitd = await startPolkitd(bus, { rules: [ACTIVE_SESSION_RULE] });
  const busctl = (...args: string[]) => run('busctl', [`--address=${bus!.address}`, ...args]);
  const rovy = (...args: string[]) => run(process.execPath, [ROVY_JS, ...args], bus!.env);
  const enabled = async () => (await busctl('get-property', DEST, ROOT_PATH, DEST, 'Enabled')).stdout.trim();

  // The mesh.
  const node = (name: string): Node => ({ ns: lab.namespace(`${tag.slice(-2)}${name}`), ...lab.initNode(name) });
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(node) as [Node, Node, Node, Node];
  lab.lan([a.ns, b.ns, c.ns]);
  lab.link(a.ns, 'fd00:e1::1', b.ns, 'fd00:e1::2');
  lab.link(b.ns, 'fd00:e2::1', d.ns, 'fd00:e2::2');
  const peer = (addr: string, n: Node) => ['[[peer]]', `address = "/ip6/${addr}/udp/7777/rovy/${n.peerId}"`];
  lab.file('a/rovy.toml', ['key_file = "node.key"', '[discovery]', 'policy = "manual"', ...peer('fd00:e1::2', b)].join('\n'));
  lab.file('b/rovy.toml', ['key_file = "node.key"', ...peer('fd00:e1::1', a), ...peer('fd00:e2::2', d)].join('\n'));
  lab.file('c/rovy.toml', ['key_file = "node.key"', '[discovery]', 'policy = "auto"'].join('\n'));
  // D offers an exit: A's menu lists it under "Exit node".
  lab.file('d/rovy.toml', ['key_file = "node.key"', '[exit]', 'offer = true', ...peer('fd00:e2::1', b)].join('\n'));
  const startA = (): Daemon => lab.spawn(a.ns, ['env', `DBUS_SYSTEM_BUS_ADDRESS=${bus!.address}`, process.execPath, '--enable-source-maps', ROVY_JS, 'daemon', '--config', a.config]);
  let daemonA = startA();
  for (const n of [b, c, d]) lab.start(n.ns, n.config);
  await until('A on the bus', async () => (await enabled()) === 'b true', 20_000);

  const startShell = async (home: string, lang?: string): Promise<GnomeShell> => {
    shell = await GnomeShell.start({
      bus: bus!, dir: home, user: NOBODY, chroot, format: target.format, screenshots: shots, lang, note: (m) => t.diagnostic(m),
      zip: join(ROOT, 'dist', 'gnome-extension', target.format, `${UUID}.shell-extension.zip`),
    });
    return shell;
  };
  // The shell the steps below drive; the last one starts another, in German.
  let sh = await startShell(dir);
  t.diagnostic(`gnome-shell ${target.major} (pid ${sh.pid}) up`);
  const ui = () => sh.eval<UiState | null>(UI_STATE);
  /** Polls what the extension shows until `check` holds, and returns it. */
  const untilUi = async (what: string, check: (s: UiState) => boolean, timeoutMs = 20_000): Promise<UiState> => {
    let seen: UiState | null = null;
    await until(what, async () => {
      seen = await ui();
      return seen !== null && check(seen);
    }, timeoutMs, 100).catch((e: Error) => assert.fail(`${e.message}; the extension showed: ${JSON.stringify(seen)}`));
    return seen!;
  };
  const QS = 'Main.panel.statusArea.quickSettings';
  const isOpen = (menu: string) => sh.eval<boolean>(`${menu}.isOpen`);
  const closeMenus = async () => {
    await sh.eval(`${QS}.menu.close(false); true`);
    await until('quick settings to close', async () => !(await isOpen(`${QS}.menu`)));
  };
  /** Quick settings open, by a real click on its panel button, and rovy's menu closed. */
  const openQuickSettings = async () => {
    if (await isOpen(`${PANEL}.toggle.menu`)) {
      await sh.eval(`${PANEL}.toggle.menu.close(false); true`);
      await until('the rovy menu to close', async () => !(await isOpen(`${PANEL}.toggle.menu`)));
    }
    if (!(await isOpen(`${QS}.menu`))) {
      await sh.clickActor(QS);
      await until('quick settings to open', () => isOpen(`${QS}.menu`));
    }
  };
  /** Rovy's menu open, by real clicks: quick settings, then the arrow beside the toggle. */
  const openMenu = async () => {
    await openQuickSettings();
    await sh.clickActor(`${PANEL}.toggle._menuButton`);
    // Open, and its contents faded in (the last step of opening, even without animations).
    const menu = `${PANEL}.toggle.menu`;
    await until('the rovy menu to open', () => sh.eval<boolean>(`${menu}.isOpen && ${menu}.box.opacity === 255 && ${menu}.actor.mapped`));
  };
  // The quick toggle itself, left of its menu arrow.
  const clickToggle = () => sh.clickActor(`${PANEL}.toggle`, 0.25);

  // The shell's own notifications from its start (none of ours) would make the count drift.
  const clearNotifications = () => sh.eval('Main.messageTray.getSources().forEach((s) => s.destroy()); true');
  await clearNotifications();
  const baseline = await sh.eval<Record<string, unknown>>(FINGERPRINT);
  // Counted after a garbage collection: a proxy drops its match rules when it is finalized,
  // and the shell has garbage of its own.
  const systemBusMatchRules = async () => {
    await sh.eval('imports.system.gc(); true');
    return matchRules(bus!, sh.pid);
  };
  let baselineRules = -1;
  await until('the shell\'s match rules to settle', async () => baselineRules === (baselineRules = await systemBusMatchRules()));

  await t.test('the extension installs from its zip and enables with no errors', async () => {
    await sh.enableExtension();
    await until('the extension to be enabled', async () => (await sh.extensionInfo()).state === ENABLED);
    assert.deepEqual(await sh.extensionErrors(), []);
    assert.doesNotMatch(sh.output, /JS ERROR|rovy@rovy\.net.*(Error|error)/);
    const metadata = JSON.parse(readFileSync(join(dir, 'home', '.local', 'share', 'gnome-shell', 'extensions', UUID, 'metadata.json'), 'utf8')) as { 'shell-version': string[] };
    assert.ok(metadata['shell-version'].includes(String(target.major)), `shell-version ${metadata['shell-version'].join(',')} lacks ${target.major}`);
  });

  await t.test('the menu lists the daemon\'s peers, direct and routed, and the nodes on the LAN', async () => {
    const s = await untilUi('B and D among the peers, B and C on the LAN', (s) =>
      s.view.peers.some((p) => p.peerId === b.peerId && p.online) &&
      s.view.peers.some((p) => p.peerId === d.peerId && p.online) &&
      s.view.neighbors.some((n) => n.peerId === c.peerId) && s.view.neighbors.some((n) => n.peerId === b.peerId), 45_000);
    assert.equal(s.view.node?.peerId, a.peerId);
    assert.equal(s.view.node?.address, a.address);
    assert.match(s.view.peers.find((p) => p.peerId === b.peerId)!.detail, /^direct · [\d.]+ ms$/);
    assert.match(s.view.peers.find((p) => p.peerId === d.peerId)!.detail, /^2 hops/);
    assert.equal(s.view.neighbors.find((n) => n.peerId === c.peerId)!.isPeer, false);
    assert.equal(s.view.neighbors.find((n) => n.peerId === b.peerId)!.isPeer, true);
    assert.equal(s.checked, true);
    assert.equal(s.panelIcon, true);
    if (target.major >= 44) assert.equal(s.subtitle, '2 peers online');
    await sh.screenshot('01-panel');
    await openMenu();
    const open = await untilUi('the menu to show this node, B and D', (s) => [a.address, 'direct', '2 hops', 'Connect', 'On this network'].every((x) => s.menu.some((m) => m.includes(x))));
    assert.ok(open.menu.includes('Connect on request'), open.menu.join(' | '));
    await sh.screenshot('02-menu');
    await sh.screenshotActor('02-menu-crop', `${QS}.menu.box`);
  });

  await t.test('the copy button puts this node\'s address on the clipboard', async () => {
    const button = `(() => {
      const find = (a) => a.style_class?.includes('rovy-node') ? a : a.get_children().map(find).find(Boolean);
      return find(${PANEL}.toggle.menu.actor).get_children().find((c) => c.style_class?.includes('rovy-icon-button'));
    })()`;
    await sh.eval(`imports.gi.St.Clipboard.get_default().set_text(imports.gi.St.ClipboardType.CLIPBOARD, ''); true`);
    await sh.clickActor(button);
    // The clipboard answers asynchronously: ask, and poll for the answer.
    let text = '';
    await until('the address on the clipboard', async () => {
      text = await sh.eval<string>(`(() => {
        imports.gi.St.Clipboard.get_default().get_text(imports.gi.St.ClipboardType.CLIPBOARD, (_c, t) => { global.rovyTestClipboard = t; });
        return global.rovyTestClipboard ?? '';
      })()`);
      return text === a.address;
    }).catch((e: Error) => assert.fail(`${e.message}: the clipboard holds "${text}"`));
  });

  await t.test('a petname set with `rovy name set` appears in the menu', async () => {
    const r = await rovy('name', 'set', 'bob', b.peerId);
    assert.equal(r.code, 0, r.stderr);
    const s = await untilUi('bob in the menu', (s) => s.menu.includes('bob'));
    assert.equal(s.view.peers[0]!.title, 'bob', 'named peers come first');
  });

  await t.test('Connect on a node found on the LAN makes it a peer', async () => {
    await openMenu();
    const button = `(() => {
      const find = (a) => a.style_class?.includes('rovy-connect') && a.mapped ? a : a.get_children().map(find).find(Boolean);
      return find(${PANEL}.toggle.menu.actor);
    })()`;
    await sh.clickActor(button);
    await untilUi('C to be a connected peer', (s) => s.view.peers.some((p) => p.peerId === c.peerId && p.online), 20_000);
    const objects = await rovy('peers', '--json');
    assert.ok((JSON.parse(objects.stdout) as { peerId: string; origin: string }[]).some((p) => p.peerId === c.peerId && p.origin === 'discovered'));
  });

  await t.test('rename in place: the pencil, a name typed and Enter', async () => {
    await openMenu();
    const pencil = `(() => {
      const find = (a) => a.style_class?.includes('rovy-peer') && a.get_children().some((c) => c.get_children?.().some((l) => l.text === '${shortPeerId(c.peerId)}')) ? a : a.get_children().map(find).find(Boolean);
      const row = find(${PANEL}.toggle.menu.actor);
      return row.get_children().find((c) => c.style_class?.includes('rovy-icon-button'));
    })()`;
    await sh.clickActor(pencil);
    await untilUi('an entry in the row', (s) => s.menu.some((m) => m.startsWith('[')));
    await sh.type('carol');
    await untilUi('carol in the menu', (s) => s.view.peers.some((p) => p.peerId === c.peerId && p.title === 'carol'));
    await sh.screenshotActor('06-menu-petnames', `${QS}.menu.box`);
    const names = await rovy('name', 'list', '--json');
    assert.match(names.stdout, new RegExp(`"carol".*${c.peerId}|${c.peerId}.*"carol"`));
  });

  await t.test('the exit section lists the node offering one; a click makes it the exit, None undoes it', async () => {
    const exitState = async () => (JSON.parse((await rovy('exit', '--json')).stdout) as { state: string; node: string | null }).state;
    await openMenu();
    await untilUi('D offering an exit', (s) => s.view.exit.shown && s.view.exit.options.some((o) => o.peerId === d.peerId && o.detail === '2 hops'), 30_000);
    const row = (label: string) => `(() => {
      const find = (a) => a.style_class?.includes('rovy-exit') && a.mapped && a.get_children().some((c) => c.text === '${label}' || c.get_children?.().some((l) => l.text === '${label}')) ? a : a.get_children().map(find).find(Boolean);
      return find(${PANEL}.toggle.menu.actor);
    })()`;
    await sh.clickActor(row(shortPeerId(d.peerId)));
    await until('A to use D\'s exit', async () => (await exitState()) === 'active', 20_000);
    await openMenu();
    const chosen = await untilUi('D chosen in the menu', (s) => s.view.exit.chosen === d.peerId && s.menu.includes('Block traffic while the exit is away'));
    assert.ok(chosen.menu.includes('Exit node'), chosen.menu.join(' | '));
    await sh.screenshotActor('08-exit', `${QS}.menu.box`);
    await sh.clickActor(row('None'));
    await until('A to use no exit', async () => (await exitState()) === 'off', 20_000);
    await untilUi('None chosen in the menu', (s) => s.view.exit.chosen === '' && !s.menu.includes('Block traffic while the exit is away'));
    await closeMenus();
  });

  await t.test('a real click on the toggle turns the mesh off, another turns it on', async () => {
    await openQuickSettings();
    await clickToggle();
    await until('the daemon to be switched off', async () => (await enabled()) === 'b false');
    const off = await untilUi('the toggle to show off', (s) => !s.checked && !s.panelIcon);
    if (target.major >= 44) assert.equal(off.subtitle, 'Off');
    await sh.screenshot('03-toggled-off');
    await clickToggle();
    await until('the daemon to be switched on', async () => (await enabled()) === 'b true');
    await untilUi('the toggle to show on', (s) => s.checked && s.panelIcon);
    await closeMenus();
  });

  await t.test('the daemon stopping and starting again is survived', async () => {
    await daemonA.stop();
    const gone = await untilUi('the menu to say rovy is not running', (s) => !s.view.running && s.menu.includes('Rovy is not running'));
    assert.equal(gone.panelIcon, false);
    await openMenu();
    await sh.screenshot('04-daemon-gone');
    await closeMenus();
    daemonA = startA();
    await untilUi('the menu to show the peers again, routed ones too', (s) => s.view.running &&
      s.view.peers.some((p) => p.title === 'bob' && p.online) && s.view.peers.some((p) => p.peerId === d.peerId && p.online), 45_000);
  });

  await t.test('a user polkit does not authorize gets a "not authorized" notification, and nothing changes', async () => {
    await polkitd!.stop();
    polkitd = await startPolkitd(bus!, { rules: [] });
    await openQuickSettings();
    await clickToggle();
    let notes: { title: string; body: string }[] = [];
    await until('a notification', async () => (notes = await sh.eval(NOTIFICATIONS)).length > 0, 30_000);
    assert.equal(notes[0]!.title, 'Could not turn Rovy off');
    assert.match(notes[0]!.body, /^Not authorized: net\.rovy\.toggle needs authentication/);
    await closeMenus();
    await sh.screenshot('05-not-authorized');
    assert.equal(await enabled(), 'b true');
    const s = await ui();
    assert.equal(s?.checked, true);
  });

  await t.test('disable leaves nothing behind, and enable brings it back', async () => {
    await clearNotifications();
    await sh.disableExtension();
    await until('the extension to be disabled', async () => (await sh.extensionInfo()).state !== ENABLED);
    await until('the shell to look as it did before the extension', async () =>
      fingerprintDiff(baseline, await sh.eval(FINGERPRINT)) === '').catch(async (e: Error) =>
      assert.fail(`${e.message}: ${fingerprintDiff(baseline, await sh.eval(FINGERPRINT))}`));
    // Proxies nothing holds on to any more are finalized by the collection systemBusMatchRules runs.
    let rules = -1;
    await until('the match rules on the system bus to be as before', async () => (rules = await systemBusMatchRules()) === baselineRules).catch((e: Error) => assert.fail(`${e.message}: ${baselineRules} before, ${rules} now`));
    await sh.enableExtension();
    await until('the extension to be enabled again', async () => (await sh.extensionInfo()).state === ENABLED);
    await untilUi('the peers again', (s) => s.view.peers.some((p) => p.title === 'bob'));
    assert.deepEqual(await sh.extensionErrors(), []);
  });

  await t.test('in a German session the menu is in German, from the translation the extension ships', async () => {
    await sh.stop();
    sh = await startShell(mkdtempSync(join(dir, 'de-')), 'de_DE.UTF-8');
    await sh.enableExtension();
    await until('the extension to be enabled', async () => (await sh.extensionInfo()).state === ENABLED);
    await openMenu();
    const s = await untilUi('bob online in the menu', (s) => s.view.peers.some((p) => p.title === 'bob' && p.online));
    for (const text of ['Gegenstellen', 'In diesem Netzwerk', 'Auf Anfrage verbinden', 'direkt', 'Ausgangsknoten']) assert.ok(s.menu.some((m) => m.includes(text)), `"${text}" in ${s.menu.join(' | ')}`);
    assert.match(s.view.status, /^\d+ Gegenstellen? online$/);
    if (target.major >= 44) assert.equal(s.subtitle, s.view.status);
    await sh.screenshotActor('07-german', `${QS}.menu.box`);
  });
}

/** How many match rules the connection of process `pid` has on the bus (dbus-daemon's stats). */
async function matchRules(bus: PrivateBus, pid: number): Promise<number> {
  const call = (...args: string[]) => run('busctl', [`--address=${bus.address}`, '--json=short', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', ...args]);
  const names = (JSON.parse((await call('org.freedesktop.DBus', 'ListNames')).stdout) as { data: [string[]] }).data[0].filter((n) => n.startsWith(':'));
  for (const name of names) {
    const owner = await call('org.freedesktop.DBus', 'GetConnectionUnixProcessID', 's', name);
    if (owner.code !== 0 || (JSON.parse(owner.stdout) as { data: [number] }).data[0] !== pid) continue;
    const stats = await call('org.freedesktop.DBus.Debug.Stats', 'GetConnectionStats', 's', name);
    assert.equal(stats.code, 0, stats.stderr);
    return (JSON.parse(stats.stdout) as { data: [Record<string, { data: number }>] }).data[0].MatchRules!.data;
  }
  throw new Error(`no connection of pid ${pid} on the system bus`);
}
