// Rovy in the panel: a quick settings toggle whose menu shows the mesh, and a panel icon while
// the mesh is on. Everything shown comes from the daemon (DaemonClient); what the user does
// becomes a call to it, and a call it refuses becomes a notification.
import type GLib from 'gi://GLib';
import type St from 'gi://St';
import type * as MessageTray from 'resource:///org/gnome/shell/ui/messageTray.js';
import type * as QuickSettings from 'resource:///org/gnome/shell/ui/quickSettings.js';
import { CallError, DaemonClient } from './daemon-client.js';
import { RovyMenu } from './menu.js';
import { ICON, addToQuickSettings, copyToClipboard, newSource, setToggleSubtitle, showNotification, toggleTitle, type Shell } from './shell.js';
import { menuView, type MenuView } from './view.js';

export class RovyPanel {
  readonly indicator: QuickSettings.SystemIndicator;
  readonly toggle: QuickSettings.QuickMenuToggle;
  private readonly icon: St.Icon;
  private readonly menu: RovyMenu;
  private readonly client: DaemonClient;
  private source: MessageTray.Source | null = null;
  private sourceDestroyId = 0;
  private syncSource: GLib.Source | null = null;
  /** What the menu shows now (set by sync(); the toggle reads it, and the tests). */
  view!: MenuView;

  constructor(private readonly shell: Shell) {
    const { QuickSettings, _ } = shell;
    this.indicator = new QuickSettings.SystemIndicator();
    // The indicator's panel icon; it shows only while the mesh is on.
    this.icon = (this.indicator as unknown as { _addIndicator(): St.Icon })._addIndicator();
    this.icon.icon_name = ICON;
    this.icon.visible = false;

    // Not a toggle_mode button: `checked` is the daemon's Enabled, never flipped ahead of it.
    this.toggle = new QuickSettings.QuickMenuToggle({ ...toggleTitle(shell, _('Rovy')), icon_name: ICON, toggle_mode: false });
    this.toggle.connect('clicked', () => this.switchMesh());
    this.indicator.quickSettingsItems.push(this.toggle);
    this.menu = new RovyMenu(shell, this.toggle.menu as never, {
      copy: (address) => copyToClipboard(shell, address),
      rename: (peer, petname) => {
        const done = petname === '' ? this.client.removePetname(peer.petname) : this.client.setPetname(petname, peer.peerId);
        this.report(done, _('Could not rename %s').replace('%s', peer.title));
      },
      connect: (neighbor) => this.report(this.client.connectNeighbor(neighbor.path), _('Could not connect to %s').replace('%s', neighbor.title)),
      setPolicy: (policy) => this.report(this.client.setPolicy(policy), _('Could not change local discovery')),
      useExit: (peerId, killSwitch) => this.report(this.client.setExitNode(peerId, killSwitch), _('Could not change the exit node')),
    });
    addToQuickSettings(shell, this.indicator);

    this.client = new DaemonClient(shell, () => this.scheduleSync());
    this.sync();
    this.client.start();
  }

  private switchMesh(): void {
    const { _ } = this.shell;
    const on = !this.view.enabled;
    this.report(this.client.setEnabled(on), on ? _('Could not turn Rovy on') : _('Could not turn Rovy off'));
  }

  // Signals come in bursts (a daemon starting sends every object at once): redraw once per burst.
  private scheduleSync(): void {
    if (this.syncSource) return;
    const { GLib } = this.shell;
    this.syncSource = GLib.idle_source_new();
    this.syncSource.set_callback(() => {
      this.syncSource = null;
      this.sync();
      return GLib.SOURCE_REMOVE;
    });
    this.syncSource.attach(null);
  }

  private sync(): void {
    const { shell } = this;
    this.view = menuView(this.client.snapshot(), shell);
    const view = this.view;
    this.toggle.checked = view.enabled;
    setToggleSubtitle(shell, this.toggle, view.status);
    this.toggle.menu.setHeader(ICON, shell._('Rovy'), view.status);
    this.icon.visible = view.running && view.enabled;
    this.menu.update(view);
  }

  /** Waits for a call; if the daemon refuses it, says so in a notification (never silently). */
  private report(call: Promise<void>, failure: string): void {
    call.catch((e: unknown) => {
      if (e instanceof CallError && e.cancelled) return;
      const { _ } = this.shell;
      const message = e instanceof Error ? e.message : String(e);
      this.notify(failure, e instanceof CallError && e.notAuthorized ? `${_('Not authorized')}: ${message}` : message);
    });
  }

  private notify(title: string, body: string): void {
    const { shell } = this;
    if (!this.source) {
      const source = newSource(shell, shell._('Rovy'));
      // The user may dismiss the source with its last notification; a new one is made then.
      this.sourceDestroyId = source.connect('destroy', () => {
        this.source = null;
        this.sourceDestroyId = 0;
      });
      shell.Main.messageTray.add(source);
      this.source = source;
    }
    showNotification(shell, this.source, title, body);
  }

  destroy(): void {
    this.client.destroy();
    if (this.syncSource) this.syncSource.destroy();
    this.syncSource = null;
    if (this.source) {
      this.source.disconnect(this.sourceDestroyId);
      this.source.destroy(this.shell.MessageTray.NotificationDestroyedReason.SOURCE_CLOSED);
      this.source = null;
    }
    this.menu.destroy();
    // The shell never destroys a quick toggle's menu: it sits in the quick settings overlay
    // apart from its toggle, and would outlive it.
    this.toggle.menu.destroy();
    for (const item of this.indicator.quickSettingsItems) item.destroy();
    this.indicator.quickSettingsItems.length = 0;
    this.indicator.destroy();
  }
}
