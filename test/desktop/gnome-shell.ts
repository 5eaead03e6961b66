// A real GNOME Shell for the extension's tests: headless Wayland with a virtual monitor,
// software rendering, run as an unprivileged desktop user on a session bus of its own and on
// the test's private system bus, either this machine's (GNOME 43, Debian 12) or one in a Debian
// chroot (48 in Debian 13, 50 in forky; test/debian-chroot.ts builds and caches them).
//
// The extension is installed from its zip with the shell's own `gnome-extensions install`, as a
// user would. The tests drive the shell through org.gnome.Shell.Eval (a test-only extension,
// unsafe-mode@test.rovy.net, turns on the unsafe mode Eval needs), click with a Clutter virtual
// pointer, and save screenshots. Everything runs as the desktop user: root may not use that
// user's session bus. Processes are ended by PID and waited for; the chroot's mounts live in a
// mount namespace of the shell's own and go with it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ROOT } from '../repo-root.js';
import { until } from '../wait.js';
import type { ChrootSpec } from '../debian-chroot.js';
import { run, type PrivateBus } from './buses.js';

export const UUID = 'rovy@rovy.net';
const HELPER_UUID = 'unsafe-mode@test.rovy.net';

/** GNOME Shell in a Debian chroot: the packages a headless shell needs, nothing more. */
export function gnomeChroot(suite: 'trixie' | 'forky'): ChrootSpec {
  return {
    name: `gnome-${suite}`,
    suite,
    options: [
      '--variant=apt',
      '--mode=root',
      // The archive snapshot here is older than the clock, so its Release files count as expired.
      '--aptopt=Acquire::Check-Valid-Until "false"',
      '--include=gnome-shell,gjs,dbus-daemon,libglib2.0-bin,dconf-gsettings-backend,fonts-cantarell,at-spi2-core,libegl-mesa0,libgl1-mesa-dri,webp-pixbuf-loader,locales',
      // A German session, to see the extension's translation in the shell.
      '--customize-hook=chroot "$1" localedef -i de_DE -f UTF-8 de_DE.UTF-8',
    ],
  };
}

export interface DesktopUser {
  uid: number;
  gid: number;
}

/** The desktop user of these tests. */
export const NOBODY: DesktopUser = { uid: 65534, gid: 65534 };

export interface ShellOptions {
  /** The private system bus the daemon is on. */
  bus: PrivateBus;
  /** A fresh directory for the shell's home, runtime directory, session bus and screenshots. */
  dir: string;
  user: DesktopUser;
  /** The root of a Debian chroot to run that Debian's gnome-shell from; this machine's if absent. */
  chroot?: string;
  /** The session's locale; C.UTF-8 if absent. */
  lang?: string;
  /** Told when the shell had to be started a second time, and why. */
  note?: (message: string) => void;
  /** The extension's zip (dist/gnome-extension/FORMAT/rovy@rovy.net.shell-extension.zip). */
  zip: string;
  /** "esm" or "legacy": which test helper goes with it. */
  format: 'esm' | 'legacy';
  /** Where screenshots are copied to, named as asked. */
  screenshots: string;
}

export interface ExtensionInfo {
  state: number;
}

// GetExtensionInfo's states (js/misc/extensionUtils.js): 1 ENABLED, 2 DISABLED, 3 ERROR,
// 4 OUT_OF_DATE, 6 INITIALIZED.
export const ENABLED = 1;

function sessionBusConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <standard_session_servicedirs/>
  <!-- Debian's session.conf policy: the second rule is what lets anyone receive at all. -->
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

// Installs the extension from its zip and the test helper, enables only the helper (the test
// enables rovy itself, after noting how the shell looks without it), and becomes gnome-shell.
const SESSION_SCRIPT = `#!/bin/sh
set -e
gnome-extensions install --force "$ROVY_ZIP"
mkdir -p "$HOME/.local/share/gnome-shell/extensions"
cp -r "$ROVY_HELPER" "$HOME/.local/share/gnome-shell/extensions/${HELPER_UUID}"
gsettings set org.gnome.shell enabled-extensions "['${HELPER_UUID}']"
gsettings set org.gnome.shell disable-user-extensions false
gsettings set org.gnome.desktop.interface enable-animations false
# The virtual pointer starts in the top left corner, where the hot corner would open the overview.
gsettings set org.gnome.desktop.interface enable-hot-corners false
gsettings set org.gnome.shell welcome-dialog-last-shown-version '999'
exec gnome-shell --headless --wayland --no-x11 --virtual-monitor 1280x800
`;

export class GnomeShell {
  private log = '';
  private readonly exited: Promise<void>;
  private shellPid = 0;
  private shots = 0;
  private readonly sessionAddress: string;

  private constructor(private readonly o: ShellOptions, private readonly child: ChildProcess) {
    this.sessionAddress = `unix:path=${join(o.dir, 'session_bus_socket')}`;
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts the shell with the test helper enabled. A shell that does not come up (once seen in
   *  CI: up, yet the helper never enabled, with nothing in its log) is started once more in a
   *  fresh home; what the first one showed goes to `o.note`. */
  static async start(o: ShellOptions): Promise<GnomeShell> {
    try {
      return await GnomeShell.launch(o);
    } catch (e) {
      o.note?.(`gnome-shell did not come up, starting it once more: ${(e as Error).message}`);
      for (const f of ['home', 'xdg', 'session_bus_socket']) rmSync(join(o.dir, f), { recursive: true, force: true });
      return GnomeShell.launch(o);
    }
  }

  private static async launch(o: ShellOptions): Promise<GnomeShell> {
    const home = join(o.dir, 'home');
    const xdg = join(o.dir, 'xdg');
    for (const d of [home, xdg, join(o.dir, 'shots')]) mkdirSync(d, { recursive: true });
    chmodSync(xdg, 0o700);
    writeFileSync(join(o.dir, 'session.conf'), sessionBusConfig(join(o.dir, 'session_bus_socket')));
    writeFileSync(join(o.dir, 'session.sh'), SESSION_SCRIPT, { mode: 0o755 });
    copyFileSync(o.zip, join(o.dir, basename(o.zip)));
    cpSync(join(ROOT, 'test', 'desktop', 'gnome-shell', `unsafe-mode-${o.format}`), join(o.dir, 'helper'), { recursive: true });
    chownTree(o.dir, o.user);

    const env = [
      'PATH=/usr/local/bin:/usr/bin:/bin', `HOME=${home}`, `XDG_RUNTIME_DIR=${xdg}`, `LANG=${o.lang ?? 'C.UTF-8'}`,
      `DBUS_SYSTEM_BUS_ADDRESS=${o.bus.address}`, `ROVY_ZIP=${join(o.dir, basename(o.zip))}`, `ROVY_HELPER=${join(o.dir, 'helper')}`,
    ];
    const session = [
      'setpriv', `--reuid=${o.user.uid}`, `--regid=${o.user.gid}`, '--clear-groups', '--',
      'env', '-i', ...env, 'dbus-run-session', `--config-file=${join(o.dir, 'session.conf')}`, '--', join(o.dir, 'session.sh'),
    ];
    let child: ChildProcess;
    if (o.chroot) {
      // The test's directory and the system bus's socket appear in the chroot where they are
      // here; unshare, sh and chroot exec one another, so the PID spawned is dbus-run-session's.
      // The cached chroot stays as it was built: its /tmp, where the mount points go (both
      // directories are temp directories), is a tmpfs of this mount namespace.
      const busDir = dirname(/unix:path=([^,]+)/.exec(o.bus.address)![1]!);
      const script = `set -e
R=$1; shift
mount --make-rprivate /
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount --rbind /sys "$R/sys"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
for d in "${o.dir}" "${busDir}"; do mkdir -p "$R$d"; mount --bind "$d" "$R$d"; done
exec chroot "$R" "$@"`;
      child = spawn('unshare', ['-m', 'sh', '-c', script, 'sh', o.chroot, ...session], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } else {
      child = spawn(session[0]!, session.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    }
    const shell = new GnomeShell(o, child);
    try {
      await shell.ready();
    } catch (e) {
      await shell.stop();
      throw new Error(`${(e as Error).message}\n--- gnome-shell's log:\n${shell.log.slice(-6000)}`);
    }
    return shell;
  }

  /** Signals every process of the session: dbus-run-session does not pass a signal on, so a
   *  shell that never came up would outlive it, holding our pipes open and the test file with
   *  them. The session was spawned detached, as the leader of a process group of its own. */
  private signalSession(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      // the group is empty
    }
  }

  private get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private async ready(): Promise<void> {
    let seen = 'nothing yet';
    await until('gnome-shell to start with the test helper enabled', async () => {
      if (!this.running) throw new Error('gnome-shell exited');
      const info = await this.extensionInfo(HELPER_UUID).catch((e: Error) => e);
      if (info instanceof Error || info.state !== ENABLED) {
        seen = info instanceof Error ? `GetExtensionInfo: ${info.message}` : `the helper in state ${info.state}`;
        return false;
      }
      const started = await this.tryEval('!Main.layoutManager._startingUp');
      seen = `the helper enabled, Eval of !_startingUp answered ${JSON.stringify([started.ok, started.text])}`;
      return started.value === true;
    }, 60_000, 100).catch((e: Error) => {
      throw new Error(`${e.message}; last seen: ${seen}`);
    });
    // A shell with no windows starts in the overview; the tests want the desktop.
    await this.eval('Main.overview.hide(); true');
    await until('the overview to hide', async () => (await this.eval<boolean>('Main.overview.visible')) === false);
    const children = await run('pgrep', ['-P', String(this.child.pid), '-x', 'gnome-shell']);
    this.shellPid = Number(children.stdout.trim().split('\n')[0]);
  }

  /** gnome-shell's own PID (a child of dbus-run-session). */
  get pid(): number {
    return this.shellPid;
  }

  get output(): string {
    return this.log;
  }

  /** busctl on the shell's session bus, as the desktop user. */
  async busctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const { uid, gid } = this.o.user;
    return run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', 'busctl', `--address=${this.sessionAddress}`, '--json=short', ...args]);
  }

  private async call(path: string, iface: string, method: string, signature: string, ...args: string[]): Promise<unknown[]> {
    const r = await this.busctl('call', 'org.gnome.Shell', path, iface, method, signature, ...args);
    if (r.code !== 0) throw new Error(`${iface}.${method}: ${r.stderr.trim()}`);
    return (JSON.parse(r.stdout) as { data: unknown[] }).data;
  }

  /** Eval's answer: ok and the value it returned (Eval JSON-encodes it), or the error text. */
  async tryEval(code: string): Promise<{ ok: boolean; value: unknown; text: string }> {
    const [ok, text] = (await this.call('/org/gnome/Shell', 'org.gnome.Shell', 'Eval', 's', code)) as [boolean, string];
    let value: unknown = text;
    if (ok && text !== '') {
      try {
        value = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
    }
    return { ok, value, text };
  }

  /** Runs JavaScript in the shell and returns its value; throws what the shell threw. */
  async eval<T = unknown>(code: string): Promise<T> {
    const r = await this.tryEval(code);
    if (!r.ok) throw new Error(`Eval failed: ${r.text}\n${code}`);
    return r.value as T;
  }

  async extensionInfo(uuid = UUID): Promise<ExtensionInfo> {
    const [info] = (await this.call('/org/gnome/Shell', 'org.gnome.Shell.Extensions', 'GetExtensionInfo', 's', uuid)) as [Record<string, { data: unknown }>];
    return { state: Number(info.state?.data ?? -1) };
  }

  async extensionErrors(uuid = UUID): Promise<string[]> {
    const [errors] = (await this.call('/org/gnome/Shell', 'org.gnome.Shell.Extensions', 'GetExtensionErrors', 's', uuid)) as [string[]];
    return errors;
  }

  async enableExtension(uuid = UUID): Promise<void> {
    await this.call('/org/gnome/Shell', 'org.gnome.Shell.Extensions', 'EnableExtension', 's', uuid);
  }

  async disableExtension(uuid = UUID): Promise<void> {
    await this.call('/org/gnome/Shell', 'org.gnome.Shell.Extensions', 'DisableExtension', 's', uuid);
  }

  /** A real click: the primary button of a Clutter virtual pointer, pressed and released at (x, y). */
  async click(x: number, y: number): Promise<void> {
    await this.eval(`(() => {
      const Clutter = imports.gi.Clutter, GLib = imports.gi.GLib;
      const backend = global.stage.context ? global.stage.context.get_backend() : Clutter.get_default_backend();
      global.rovyTestPointer ??= backend.get_default_seat().create_virtual_device(Clutter.InputDeviceType.POINTER_DEVICE);
      const pointer = global.rovyTestPointer, now = GLib.get_monotonic_time();
      pointer.notify_absolute_motion(now, ${x}, ${y});
      pointer.notify_button(now + 1, Clutter.BUTTON_PRIMARY, Clutter.ButtonState.PRESSED);
      pointer.notify_button(now + 2, Clutter.BUTTON_PRIMARY, Clutter.ButtonState.RELEASED);
      return true;
    })()`);
  }

  /**
   * Clicks the actor `expression` evaluates to, at a fraction of its width (the centre by
   * default), once it is on screen and has stayed put for one poll: a menu just opened may not
   * have been laid out yet, and a click at its old place would land elsewhere.
   */
  async clickActor(expression: string, xFraction = 0.5): Promise<void> {
    const where = () => this.eval<[number, number, number, number] | null>(`(() => {
      const actor = ${expression};
      if (!actor || !actor.mapped) return null;
      const [x, y] = actor.get_transformed_position(), [w, h] = actor.get_transformed_size();
      return [x, y, w, h];
    })()`);
    let previous = '';
    let box: [number, number, number, number] | null = null;
    await until(`${expression} to be on screen and still`, async () => {
      box = await where();
      const now = JSON.stringify(box);
      const still = box !== null && box[2] > 0 && box[3] > 0 && now === previous;
      previous = now;
      return still;
    }, 10_000, 50);
    const [x, y, w, h] = box!;
    await this.click(Math.round(x + w * xFraction), Math.round(y + h / 2));
  }

  /** Types text and then Enter with a Clutter virtual keyboard. */
  async type(text: string): Promise<void> {
    await this.eval(`(() => {
      const Clutter = imports.gi.Clutter, GLib = imports.gi.GLib;
      const backend = global.stage.context ? global.stage.context.get_backend() : Clutter.get_default_backend();
      global.rovyTestKeyboard ??= backend.get_default_seat().create_virtual_device(Clutter.InputDeviceType.KEYBOARD_DEVICE);
      const keyboard = global.rovyTestKeyboard;
      let now = GLib.get_monotonic_time();
      const press = (keyval) => {
        keyboard.notify_keyval(now++, keyval, Clutter.KeyState.PRESSED);
        keyboard.notify_keyval(now++, keyval, Clutter.KeyState.RELEASED);
      };
      for (const c of ${JSON.stringify(text)}) press(Clutter.unicode_to_keysym(c.codePointAt(0)));
      press(Clutter.KEY_Return);
      return true;
    })()`);
  }

  /** A screenshot of the whole screen, copied to the screenshots folder as NAME.png. */
  screenshot(name: string): Promise<string> {
    return this.shoot(name, 'Screenshot', 'bbs', 'false', 'false');
  }

  /** A screenshot of one actor's area (and `margin` pixels around it), as NAME.png. */
  async screenshotActor(name: string, expression: string, margin = 8): Promise<string> {
    // The area on screen: the shell refuses one that reaches past its edges.
    const [x, y, w, h] = await this.eval<[number, number, number, number]>(`(() => {
      const actor = ${expression};
      const [x, y] = actor.get_transformed_position(), [w, h] = actor.get_transformed_size();
      const left = Math.max(0, Math.round(x) - ${margin}), top = Math.max(0, Math.round(y) - ${margin});
      const right = Math.min(global.stage.width, Math.round(x + w) + ${margin}), bottom = Math.min(global.stage.height, Math.round(y + h) + ${margin});
      return [left, top, right - left, bottom - top];
    })()`);
    return this.shoot(name, 'ScreenshotArea', 'iiiibs', String(x), String(y), String(w), String(h), 'false');
  }

  // The shell (as the desktop user) writes the picture into our directory; it is copied on.
  private async shoot(name: string, method: string, signature: string, ...args: string[]): Promise<string> {
    const file = join(this.o.dir, 'shots', `${String(++this.shots).padStart(2, '0')}.png`);
    const [ok] = await this.call('/org/gnome/Shell/Screenshot', 'org.gnome.Shell.Screenshot', method, signature, ...args, file);
    if (ok !== true) throw new Error(`${method} ${name} failed`);
    mkdirSync(this.o.screenshots, { recursive: true });
    const target = join(this.o.screenshots, `${name}.png`);
    copyFileSync(file, target);
    return target;
  }

  /** SIGTERM to gnome-shell (dbus-run-session then ends with it), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.running) {
      // A shell that came up ends its session by itself when it ends; one that did not is
      // ended with the whole session.
      if (this.shellPid) {
        try {
          process.kill(this.shellPid, 'SIGTERM');
        } catch {
          this.signalSession('SIGTERM');
        }
      } else {
        this.signalSession('SIGTERM');
      }
      const timer = setTimeout(() => this.signalSession('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    // Whatever of the session is left (an activated service, a shell that ignored SIGTERM).
    this.signalSession('SIGKILL');
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
  }
}

function chownTree(dir: string, user: DesktopUser): void {
  execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
}
