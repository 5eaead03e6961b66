// GNOME Shell 45 and later: an ES module whose default export is the extension.
import Clutter from 'gi://Clutter';
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Pango from 'gi://Pango';
import St from 'gi://St';
import { Extension } from 'resource:///org/gnome/shell/extensions/extension.js';
import * as Config from 'resource:///org/gnome/shell/misc/config.js';
import * as Main from 'resource:///org/gnome/shell/ui/main.js';
import * as MessageTray from 'resource:///org/gnome/shell/ui/messageTray.js';
import * as PopupMenu from 'resource:///org/gnome/shell/ui/popupMenu.js';
import * as QuickSettings from 'resource:///org/gnome/shell/ui/quickSettings.js';
import { RovyPanel } from './panel.js';

export default class RovyExtension extends Extension {
  /** Exists only between enable() and disable(). */
  panel: RovyPanel | null = null;

  override enable(): void {
    this.panel = new RovyPanel({
      Clutter, Gio, GLib, Pango, St, Main, MessageTray, PopupMenu, QuickSettings,
      major: parseInt(Config.PACKAGE_VERSION, 10),
      // The base class bound the metadata's gettext-domain to the extension's locale/.
      _: (text) => this.gettext(text),
      ngettext: (one, many, n) => this.ngettext(one, many, n),
    });
  }

  override disable(): void {
    this.panel?.destroy();
    this.panel = null;
  }
}
