// The toggle's menu: this node, its peers, the exit to the Internet, the nodes on the local
// network and the discovery policy, or one line saying rovy is not running. It shows a MenuView and reports what the user
// asked for; it keeps nothing the daemon does not say.
import type * as PopupMenu from 'resource:///org/gnome/shell/ui/popupMenu.js';
import { ExitRow, NeighborRow, NodeRow, PeerRow, RowList, unchosenOrnament, type PeerActions } from './rows.js';
import type { Shell } from './shell.js';
import type { DiscoveryPolicy, ExitOptionView, MenuView, NeighborView, PeerView } from './view.js';

export interface MenuActions extends PeerActions {
  connect(neighbor: NeighborView): void;
  setPolicy(policy: DiscoveryPolicy): void;
  /** Uses the exit of a node ("" for none), with the kill switch on or off. */
  useExit(peerId: string, killSwitch: boolean): void;
}

export class RovyMenu {
  private readonly notRunning: PopupMenu.PopupMenuItem;
  private readonly node: NodeRow;
  private readonly peersHeader: PopupMenu.PopupSeparatorMenuItem;
  private readonly peerSection: PopupMenu.PopupMenuSection;
  private readonly peers: RowList<PeerView, PeerRow>;
  private readonly peersNote: PopupMenu.PopupMenuItem;
  private readonly exitHeader: PopupMenu.PopupSeparatorMenuItem;
  private readonly exitNone: PopupMenu.PopupMenuItem;
  private readonly exitSection: PopupMenu.PopupMenuSection;
  private readonly exits: RowList<ExitOptionView, ExitRow>;
  private readonly exitNote: PopupMenu.PopupMenuItem;
  private readonly killSwitch: PopupMenu.PopupSwitchMenuItem;
  /** The exit section's items, shown only while some node offers an exit or one is chosen. */
  private readonly exitItems: (PopupMenu.PopupMenuSection | PopupMenu.PopupBaseMenuItem)[];
  private exitChosen = '';
  private exitKillSwitch = false;
  private readonly lanHeader: PopupMenu.PopupSeparatorMenuItem;
  private readonly neighborSection: PopupMenu.PopupMenuSection;
  private readonly neighbors: RowList<NeighborView, NeighborRow>;
  private readonly lanNote: PopupMenu.PopupMenuItem;
  private readonly policyItems: [DiscoveryPolicy, PopupMenu.PopupMenuItem][];
  /** Everything shown while rovy runs (the node's row and the sections are updated, not remade). */
  private readonly runningItems: (PopupMenu.PopupMenuSection | PopupMenu.PopupBaseMenuItem)[];
  private readonly openStateId: number;

  constructor(private readonly shell: Shell, private readonly menu: PopupMenu.PopupMenu, actions: MenuActions) {
    const { PopupMenu, _ } = shell;
    const note = (): PopupMenu.PopupMenuItem => new PopupMenu.PopupMenuItem('', { reactive: false, style_class: 'rovy-note' });

    this.notRunning = new PopupMenu.PopupMenuItem(_('Rovy is not running'), { reactive: false, style_class: 'rovy-not-running' });
    this.node = new NodeRow(shell, actions.copy);
    this.peersHeader = new PopupMenu.PopupSeparatorMenuItem(_('Peers'));
    this.peerSection = new PopupMenu.PopupMenuSection();
    this.peers = new RowList(this.peerSection, (view) => new PeerRow(shell, view, actions));
    this.peersNote = note();
    // TRANSLATORS: the node whose connection to the Internet this machine's traffic goes through
    this.exitHeader = new PopupMenu.PopupSeparatorMenuItem(_('Exit node'));
    this.exitNone = new PopupMenu.PopupMenuItem(_('None'), { style_class: 'rovy-exit' });
    this.exitNone.connect('activate', () => actions.useExit('', this.exitKillSwitch));
    this.exitSection = new PopupMenu.PopupMenuSection();
    this.exits = new RowList(this.exitSection, (view) => new ExitRow(shell, view, (option) => actions.useExit(option.peerId, this.exitKillSwitch)));
    this.exitNote = note();
    this.killSwitch = new PopupMenu.PopupSwitchMenuItem(_('Block traffic while the exit is away'), false);
    this.killSwitch.connect('toggled', (_item: unknown, on: boolean) => actions.useExit(this.exitChosen, on));
    this.exitItems = [this.exitHeader, this.exitNone, this.exitSection, this.exitNote, this.killSwitch];
    this.lanHeader = new PopupMenu.PopupSeparatorMenuItem(_('On this network'));
    this.neighborSection = new PopupMenu.PopupMenuSection();
    this.neighbors = new RowList(this.neighborSection, (view) => new NeighborRow(shell, view, actions.connect));
    this.lanNote = note();
    // TRANSLATORS: how the node treats other rovy nodes it finds on the local network
    const labels: [DiscoveryPolicy, string][] = [['off', _('Discovery off')], ['manual', _('Connect on request')], ['auto', _('Connect automatically')]];
    this.policyItems = labels.map(([policy, label]) => {
      const item = new PopupMenu.PopupMenuItem(label, { style_class: 'rovy-policy' });
      item.connect('activate', () => actions.setPolicy(policy));
      return [policy, item];
    });

    this.runningItems = [this.node.item, this.peersHeader, this.peerSection, this.peersNote, ...this.exitItems, this.lanHeader, this.neighborSection, this.lanNote, ...this.policyItems.map(([, i]) => i)];
    for (const item of [this.notRunning, ...this.runningItems]) menu.addMenuItem(item);
    // A rename left open when the menu closes is abandoned, as with Escape.
    this.openStateId = menu.connect('open-state-changed', (_menu: unknown, open: boolean) => {
      if (!open) for (const row of this.peers.values()) row.finishEditing(false);
      return undefined;
    });
  }

  update(view: MenuView): void {
    const { _, ngettext } = this.shell;
    this.notRunning.visible = !view.running;
    // A section is not an actor itself: its actor is what shows.
    for (const item of this.runningItems) ('actor' in item ? item.actor : item).visible = view.running;
    if (!view.running) {
      this.peers.clear();
      this.neighbors.clear();
      this.exits.clear();
      return;
    }
    if (view.node) this.node.update(view.node);

    this.peers.sync(view.peers, (p) => p.path);
    if (view.peers.length === 0) this.peersNote.label.text = _('No peers yet');
    else this.peersNote.label.text = ngettext('%d more peer', '%d more peers', view.morePeers).replace('%d', String(view.morePeers));
    this.peersNote.visible = view.peers.length === 0 || view.morePeers > 0;

    const { exit } = view;
    for (const item of this.exitItems) ('actor' in item ? item.actor : item).visible = exit.shown;
    this.exitChosen = exit.chosen;
    this.exitKillSwitch = exit.killSwitch;
    this.exits.sync(exit.options, (o) => o.peerId);
    this.exitNone.setOrnament(exit.chosen === '' ? this.shell.PopupMenu.Ornament.DOT : unchosenOrnament(this.shell));
    this.exitNote.label.text = exit.note;
    this.exitNote.visible = exit.shown && exit.note !== '';
    // The switch says what the daemon says; it matters only with an exit chosen.
    this.killSwitch.setToggleState(exit.killSwitch);
    this.killSwitch.visible = exit.shown && exit.chosen !== '';

    this.neighbors.sync(view.neighbors, (n) => n.path);
    this.lanNote.label.text = view.policy === 'off' ? _('Discovery is off') : !view.enabled ? _('Rovy is off') : _('No other rovy node found');
    this.lanNote.visible = view.neighbors.length === 0;
    // A radio group, as the exits are.
    for (const [policy, item] of this.policyItems) item.setOrnament(policy === view.policy ? this.shell.PopupMenu.Ornament.DOT : unchosenOrnament(this.shell));
  }

  destroy(): void {
    this.menu.disconnect(this.openStateId);
    this.peers.clear();
    this.neighbors.clear();
    this.exits.clear();
    this.node.destroy();
    for (const item of [this.notRunning, ...this.runningItems]) if (item !== this.node.item) item.destroy();
  }
}
