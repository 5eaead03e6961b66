// The menu's rows: this node, a peer, a node on the local network. Each is a plain
// PopupBaseMenuItem with St widgets in it (no subclass to register), built from its view and
// updated in place, so a rename in progress survives the daemon's next property change.
import type Clutter from 'gi://Clutter';
import type St from 'gi://St';
import type * as PopupMenu from 'resource:///org/gnome/shell/ui/popupMenu.js';
import type { Shell } from './shell.js';
import type { ExitOptionView, NeighborView, NodeView, PeerView } from './view.js';

/** Title over a smaller detail line. */
function twoLines(shell: Shell): { box: St.BoxLayout; title: St.Label; detail: St.Label } {
  const { St, Clutter } = shell;
  const box = new St.BoxLayout({ vertical: true, x_expand: true, y_align: Clutter.ActorAlign.CENTER, style_class: 'rovy-text' });
  const title = new St.Label({ style_class: 'rovy-title' });
  // Dimmed by opacity rather than a colour, so it suits a light shell as well as a dark one.
  const detail = new St.Label({ style_class: 'rovy-detail', opacity: 178 });
  box.add_child(title);
  box.add_child(detail);
  return { box, title, detail };
}

function iconButton(shell: Shell, iconName: string, accessibleName: string): St.Button {
  const { St, Clutter } = shell;
  return new St.Button({
    style_class: 'icon-button rovy-icon-button', can_focus: true, accessible_name: accessibleName,
    y_align: Clutter.ActorAlign.CENTER, child: new St.Icon({ icon_name: iconName, style_class: 'popup-menu-icon' }),
  });
}

/** This node: its name and address; a click or the button copies the address. */
export class NodeRow {
  readonly item: PopupMenu.PopupBaseMenuItem;
  private readonly title: St.Label;
  private readonly detail: St.Label;
  private readonly copyIcon: St.Icon;
  private address = '';
  private copiedTimer = 0;

  constructor(private readonly shell: Shell, copy: (address: string) => void) {
    const { PopupMenu, St } = shell;
    this.item = new PopupMenu.PopupBaseMenuItem({ style_class: 'rovy-node' });
    this.item.add_child(new St.Icon({ icon_name: 'computer-symbolic', style_class: 'popup-menu-icon' }));
    const text = twoLines(shell);
    this.title = text.title;
    this.detail = text.detail;
    // The whole address, on two lines if need be: it is what the user came to copy or read out.
    this.detail.clutter_text.set({ ellipsize: shell.Pango.EllipsizeMode.NONE, line_wrap: true, line_wrap_mode: shell.Pango.WrapMode.WORD_CHAR });
    this.item.add_child(text.box);
    const button = iconButton(shell, 'edit-copy-symbolic', shell._('Copy address'));
    this.copyIcon = button.child as St.Icon;
    button.connect('clicked', () => {
      copy(this.address);
      this.showCopied();
    });
    this.item.add_child(button);
    this.item.connect('activate', () => copy(this.address));
  }

  update(view: NodeView): void {
    this.address = view.address;
    this.title.text = view.title;
    this.detail.text = view.address;
  }

  // The menu stays open after the button, so it says it did something for a moment.
  private showCopied(): void {
    const { GLib } = this.shell;
    this.copyIcon.icon_name = 'object-select-symbolic';
    if (this.copiedTimer) GLib.source_remove(this.copiedTimer);
    this.copiedTimer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 1500, () => {
      this.copiedTimer = 0;
      this.copyIcon.icon_name = 'edit-copy-symbolic';
      return GLib.SOURCE_REMOVE;
    });
  }

  destroy(): void {
    if (this.copiedTimer) this.shell.GLib.source_remove(this.copiedTimer);
    this.copiedTimer = 0;
    this.item.destroy();
  }
}

export interface PeerActions {
  copy(address: string): void;
  /** The user typed a new petname ("" removes it). */
  rename(peer: PeerView, petname: string): void;
}

/** A peer: online dot, name, how it is reached; a click copies its address, the pencil renames it. */
export class PeerRow {
  readonly item: PopupMenu.PopupBaseMenuItem;
  private readonly dot: St.Widget;
  private readonly text: St.BoxLayout;
  private readonly title: St.Label;
  private readonly detail: St.Label;
  private readonly editButton: St.Button;
  private entry: St.Entry | null = null;

  constructor(private readonly shell: Shell, private view: PeerView, private readonly actions: PeerActions) {
    const { PopupMenu, St, Clutter } = shell;
    this.item = new PopupMenu.PopupBaseMenuItem({ style_class: 'rovy-peer' });
    this.dot = new St.Widget({ style_class: 'rovy-dot', y_align: Clutter.ActorAlign.CENTER });
    this.item.add_child(this.dot);
    const text = twoLines(shell);
    this.text = text.box;
    this.title = text.title;
    this.detail = text.detail;
    this.item.add_child(this.text);
    this.editButton = iconButton(shell, 'document-edit-symbolic', shell._('Rename'));
    this.editButton.connect('clicked', () => this.startEditing());
    this.item.add_child(this.editButton);
    this.item.connect('activate', () => this.actions.copy(this.view.address));
    this.update(view);
  }

  update(view: PeerView): void {
    this.view = view;
    this.title.text = view.title;
    this.detail.text = view.detail;
    if (view.online) this.dot.add_style_class_name('rovy-online');
    else this.dot.remove_style_class_name('rovy-online');
    this.item.accessible_name = `${view.title}, ${view.detail}`;
  }

  /** Swaps the name for an entry holding the petname; Enter keeps it, Escape or leaving cancels. */
  startEditing(): void {
    if (this.entry) return;
    const { St, Clutter } = this.shell;
    const entry = new St.Entry({ style_class: 'rovy-rename', can_focus: true, x_expand: true, text: this.view.petname, hint_text: this.shell._('Petname') });
    this.entry = entry;
    this.title.hide();
    this.text.insert_child_at_index(entry, 0);
    this.editButton.hide();
    entry.clutter_text.connect('activate', () => this.finishEditing(true));
    entry.clutter_text.connect('key-press-event', (_actor: Clutter.Actor, event: Clutter.Event) => {
      if (event.get_key_symbol() !== Clutter.KEY_Escape) return Clutter.EVENT_PROPAGATE;
      this.finishEditing(false);
      return Clutter.EVENT_STOP;
    });
    entry.clutter_text.connect('key-focus-out', () => this.finishEditing(false));
    entry.clutter_text.set_selection(0, -1);
    entry.grab_key_focus();
  }

  /** Ends editing; with `keep`, asks the daemon for the new name (the row shows it once it has it). */
  finishEditing(keep: boolean): void {
    const entry = this.entry;
    if (!entry) return;
    this.entry = null;
    const petname = entry.get_text().trim();
    entry.destroy();
    this.title.show();
    this.editButton.show();
    if (keep && petname !== this.view.petname) this.actions.rename(this.view, petname);
  }

  destroy(): void {
    this.entry = null;
    this.item.destroy();
  }
}

/** A node heard on the local network, with Connect while it is no peer of ours. */
export class NeighborRow {
  readonly item: PopupMenu.PopupBaseMenuItem;
  private readonly title: St.Label;
  private readonly detail: St.Label;
  private readonly connectButton: St.Button;

  constructor(shell: Shell, private view: NeighborView, connect: (neighbor: NeighborView) => void) {
    const { PopupMenu, St, Clutter } = shell;
    this.item = new PopupMenu.PopupBaseMenuItem({ style_class: 'rovy-neighbor', activate: false });
    this.item.add_child(new St.Icon({ icon_name: 'network-wired-symbolic', style_class: 'popup-menu-icon' }));
    const text = twoLines(shell);
    this.title = text.title;
    this.detail = text.detail;
    this.item.add_child(text.box);
    this.connectButton = new St.Button({ style_class: 'button rovy-connect', label: shell._('Connect'), can_focus: true, y_align: Clutter.ActorAlign.CENTER });
    this.connectButton.connect('clicked', () => connect(this.view));
    this.item.add_child(this.connectButton);
    this.update(view);
  }

  update(view: NeighborView): void {
    this.view = view;
    this.title.text = view.title;
    this.detail.text = view.detail;
    this.connectButton.visible = !view.isPeer;
  }

  destroy(): void {
    this.item.destroy();
  }
}

/** A node offering an exit: a choice in a radio group, with how far it is; a click uses it. */
export class ExitRow {
  readonly item: PopupMenu.PopupBaseMenuItem;
  private readonly title: St.Label;
  private readonly detail: St.Label;

  constructor(private readonly shell: Shell, private view: ExitOptionView, use: (option: ExitOptionView) => void) {
    this.item = new shell.PopupMenu.PopupBaseMenuItem({ style_class: 'rovy-exit' });
    const text = twoLines(shell);
    this.title = text.title;
    this.detail = text.detail;
    this.item.add_child(text.box);
    this.item.connect('activate', () => use(this.view));
    this.update(view);
  }

  update(view: ExitOptionView): void {
    this.view = view;
    this.title.text = view.title;
    this.detail.text = view.detail;
    this.item.setOrnament(view.chosen ? this.shell.PopupMenu.Ornament.DOT : unchosenOrnament(this.shell));
    this.item.accessible_name = `${view.title}, ${view.detail}`;
  }

  destroy(): void {
    this.item.destroy();
  }
}

/** The ornament of a radio item not chosen: 46 and later draw an empty circle (NO_DOT); 43 has none. */
export function unchosenOrnament(shell: Shell): number {
  const { Ornament } = shell.PopupMenu;
  return (Ornament as { NO_DOT?: number }).NO_DOT ?? Ornament.NONE;
}

/** Keeps one row per key in a menu section, in the order given, updating rows that stay. */
export class RowList<V, R extends { item: PopupMenu.PopupBaseMenuItem; update(v: V): void; destroy(): void }> {
  private readonly rows = new Map<string, R>();

  constructor(private readonly section: PopupMenu.PopupMenuSection, private readonly create: (v: V) => R) {}

  sync(views: V[], key: (v: V) => string): void {
    const wanted = new Set(views.map(key));
    for (const [k, row] of this.rows) {
      if (wanted.has(k)) continue;
      row.destroy();
      this.rows.delete(k);
    }
    views.forEach((view, index) => {
      let row = this.rows.get(key(view));
      if (row) {
        row.update(view);
      } else {
        row = this.create(view);
        this.rows.set(key(view), row);
        this.section.addMenuItem(row.item);
      }
      this.section.moveMenuItem(row.item, index);
    });
  }

  values(): IterableIterator<R> {
    return this.rows.values();
  }

  clear(): void {
    for (const row of this.rows.values()) row.destroy();
    this.rows.clear();
  }
}
