// GNOME Shell 43 and 44: a script the shell loads with its legacy `imports` and asks for
// init(). The bundle is an IIFE whose init() the footer esbuild adds exposes (scripts/
// build-extension.mjs); the shell's modules come from the `imports` global.
import { RovyPanel } from './panel.js';
import type { Shell } from './shell.js';

type ShellModules = Omit<Shell, 'major' | '_' | 'ngettext'>;

interface LegacyImports {
  gi: Pick<ShellModules, 'Clutter' | 'Gio' | 'GLib' | 'Pango' | 'St'>;
  ui: { main: Shell['Main']; messageTray: Shell['MessageTray']; popupMenu: Shell['PopupMenu']; quickSettings: Shell['QuickSettings'] };
  misc: { config: { PACKAGE_VERSION: string }; extensionUtils: { initTranslations(domain?: string): void } };
  gettext: { domain(domain: string): { gettext(text: string): string; ngettext(one: string, many: string, n: number): string } };
}

interface LegacyExtension {
  metadata: { 'gettext-domain': string };
}

declare const imports: LegacyImports;

export function init(extension: LegacyExtension): { enable(): void; disable(): void; readonly panel: RovyPanel | null } {
  const { gi, ui, misc } = imports;
  // Binds the domain to the extension's locale/ (or the system's, installed system-wide).
  misc.extensionUtils.initTranslations(extension.metadata['gettext-domain']);
  const domain = imports.gettext.domain(extension.metadata['gettext-domain']);
  let panel: RovyPanel | null = null;
  return {
    enable() {
      panel = new RovyPanel({
        Clutter: gi.Clutter, Gio: gi.Gio, GLib: gi.GLib, Pango: gi.Pango, St: gi.St,
        Main: ui.main, MessageTray: ui.messageTray, PopupMenu: ui.popupMenu, QuickSettings: ui.quickSettings,
        major: parseInt(misc.config.PACKAGE_VERSION, 10),
        _: (text) => domain.gettext(text),
        ngettext: (one, many, n) => domain.ngettext(one, many, n),
      });
    },
    disable() {
      panel?.destroy();
      panel = null;
    },
    get panel() {
      return panel;
    },
  };
}
