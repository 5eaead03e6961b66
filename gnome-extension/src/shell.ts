// The one place that knows GNOME Shell versions differ. The entry points (extension.ts for 45+,
// legacy.ts for 43/44) import the shell's modules in their format and hand them in as a Shell;
// every other file imports types only, so the same code runs under both module systems.
import type Clutter from 'gi://Clutter';
import type Gio from 'gi://Gio';
import type GLib from 'gi://GLib';
import type Pango from 'gi://Pango';
import type St from 'gi://St';
import type * as Main from 'resource:///org/gnome/shell/ui/main.js';
import type * as MessageTray from 'resource:///org/gnome/shell/ui/messageTray.js';
import type * as PopupMenu from 'resource:///org/gnome/shell/ui/popupMenu.js';
import type * as QuickSettings from 'resource:///org/gnome/shell/ui/quickSettings.js';
import type { Translator } from './view.js';

export interface Shell extends Translator {
  Clutter: typeof Clutter;
  Gio: typeof Gio;
  GLib: typeof GLib;
  Pango: typeof Pango;
  St: typeof St;
  Main: typeof Main;
  MessageTray: typeof MessageTray;
  PopupMenu: typeof PopupMenu;
  QuickSettings: typeof QuickSettings;
  /** The shell's major version: 43, 48, 50… */
  major: number;
}

export const ICON = 'network-vpn-symbolic';

/** Construction properties of a quick toggle with this title: GNOME 43 calls it `label`. */
export function toggleTitle(shell: Shell, title: string): Record<string, string> {
  return shell.major >= 44 ? { title } : { label: title };
}

/** GNOME 44 gave quick toggles a subtitle; on 43 the menu header carries it alone. */
export function setToggleSubtitle(shell: Shell, toggle: { subtitle: string | null }, subtitle: string): void {
  if (shell.major >= 44) toggle.subtitle = subtitle;
}

// The quick settings panel's indicator box and item grid; 43 and 44 have no public way in.
interface QuickSettingsPanel {
  addExternalIndicator?(indicator: QuickSettings.SystemIndicator, colSpan?: number): void;
  _indicators: St.BoxLayout;
  _addItems(items: QuickSettings.QuickSettingsItem[], colSpan?: number): void;
}

/** Puts the indicator's icon in the panel and its toggles in the quick settings grid. */
export function addToQuickSettings(shell: Shell, indicator: QuickSettings.SystemIndicator): void {
  const panel = shell.Main.panel.statusArea.quickSettings as unknown as QuickSettingsPanel;
  if (panel.addExternalIndicator) {
    panel.addExternalIndicator(indicator);
  } else {
    panel._indicators.insert_child_at_index(indicator, 0);
    panel._addItems(indicator.quickSettingsItems);
  }
}

/** A notification: the constructors took positional arguments up to 45 and one object since. */
export function newSource(shell: Shell, title: string): MessageTray.Source {
  const { MessageTray } = shell;
  if (shell.major >= 46) return new MessageTray.Source({ title, iconName: ICON });
  const Legacy = MessageTray.Source as unknown as new (title: string, iconName: string) => MessageTray.Source;
  return new Legacy(title, ICON);
}

export function showNotification(shell: Shell, source: MessageTray.Source, title: string, body: string): void {
  const { MessageTray } = shell;
  if (shell.major >= 46) {
    source.addNotification(new MessageTray.Notification({ source, title, body }));
    return;
  }
  const Legacy = MessageTray.Notification as unknown as new (source: MessageTray.Source, title: string, body: string) => MessageTray.Notification;
  (source as unknown as { showNotification(n: MessageTray.Notification): void }).showNotification(new Legacy(source, title, body));
}

export function copyToClipboard(shell: Shell, text: string): void {
  const { St } = shell;
  St.Clipboard.get_default().set_text(St.ClipboardType.CLIPBOARD, text);
}
