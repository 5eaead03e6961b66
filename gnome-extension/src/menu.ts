// The toggle's menu: this node, its peers, the nodes on the local network and the discovery
// policy, or one line saying rovy is not running. It shows a MenuView and reports what the user
// asked for; it keeps nothing the daemon does not say.
import type * as PopupMenu from 'resource:///org/gnome/shell/ui/popupMenu.js';
import { NeighborRow, NodeRow, PeerRow, RowList, type PeerActions } from './rows.js';
import type { Shell } from './shell.js';
import type { DiscoveryPolicy, MenuView, NeighborView, PeerView } from './view.js';

export interface MenuActions extends PeerActions {
  connect(neighbor: NeighborView): void;
  setPolicy(policy: DiscoveryPolicy): void;
}

export class RovyMenu {
  private readonly notRunning: PopupMenu.PopupMenuItem;
  private readonly node: NodeRow;
  private readonly peersHeader: PopupMenu.PopupSeparatorMenuItem;
  private readonly peerSection: PopupMenu.PopupMenuSection;
  private readonly peers: RowList<PeerView, PeerRow>;
  private readonly peersNote: PopupMenu.PopupMenuItem;
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

    this.runningItems = [this.node.item, this.peersHeader, this.peerSection, this.peersNote, this.lanHeader, this.neighborSection, this.lanNote, ...this.policyItems.map(([, i]) => i)];
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
      return;
    }
    if (view.node) this.node.update(view.node);

    this.peers.sync(view.peers, (p) => p.path);
    if (view.peers.length === 0) this.peersNote.label.text = _('No peers yet');
    else this.peersNote.label.text = ngettext('%d more peer', '%d more peers', view.morePeers).replace('%d', String(view.morePeers));
    this.peersNote.visible = view.peers.length === 0 || view.morePeers > 0;

    this.neighbors.sync(view.neighbors, (n) => n.path);
    this.lanNote.label.text = view.policy === 'off' ? _('Discovery is off') : !view.enabled ? _('Rovy is off') : _('No other rovy node found');
    this.lanNote.visible = view.neighbors.length === 0;
    // A radio group: 46 and later draw the unchosen ones as empty circles (NO_DOT); 43 has none.
    const { Ornament } = this.shell.PopupMenu;
    const unchosen = (Ornament as { NO_DOT?: number }).NO_DOT ?? Ornament.NONE;
    for (const [policy, item] of this.policyItems) item.setOrnament(policy === view.policy ? Ornament.DOT : unchosen);
  }

  destroy(): void {
    this.menu.disconnect(this.openStateId);
    this.peers.clear();
    this.neighbors.clear();
    this.node.destroy();
    for (const item of [this.notRunning, ...this.runningItems]) if (item !== this.node.item) item.destroy();
  }
}
