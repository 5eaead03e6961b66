// What the menu shows, worked out from what the daemon says and nothing else: the properties of
// net.rovy.Rovy1's objects as the D-Bus proxies cache them, turned into rows. Pure functions
// (no GNOME imports), so the rules are tested in Node too.

/** A property bag as read from one D-Bus interface (Variant.deepUnpack() of each property). */
export type Props = Record<string, unknown>;

/** Everything the daemon exports, as last seen; `null` root when it is not on the bus. */
export interface DaemonSnapshot {
  node: Props | null;
  names: Props | null;
  discovery: Props | null;
  /** net.rovy.Rovy1.Exit; null from a daemon without it. */
  exit: Props | null;
  peers: { path: string; props: Props }[];
  neighbors: { path: string; props: Props }[];
}

export interface Translator {
  _(text: string): string;
  ngettext(one: string, many: string, n: number): string;
}

export type DiscoveryPolicy = 'off' | 'manual' | 'auto';

export interface NodeView {
  peerId: string;
  /** Its own petname if the user gave it one, else the short peer ID. */
  title: string;
  address: string;
}

export interface PeerView {
  path: string;
  peerId: string;
  petname: string;
  /** Petname, else short peer ID. */
  title: string;
  address: string;
  online: boolean;
  /** "direct · 12 ms", "3 hops · 40 ms", "connecting", "offline". */
  detail: string;
}

export interface NeighborView {
  path: string;
  peerId: string;
  title: string;
  /** "on lan0", "on lan0 · connected". */
  detail: string;
  /** Whether it is a peer already: then there is nothing to connect. */
  isPeer: boolean;
}

/** A node offering an exit, as a choice in the menu. */
export interface ExitOptionView {
  peerId: string;
  /** Petname, else short peer ID. */
  title: string;
  /** "2 hops", "2 hops · IPv6 only", "no route". */
  detail: string;
  chosen: boolean;
}

export interface ExitView {
  /** Whether the section shows: some node offers an exit, or one is chosen. */
  shown: boolean;
  /** The peer ID of the exit in use, "" for none. */
  chosen: string;
  killSwitch: boolean;
  /** What using it amounts to now, when that is not simply "through it" (or ""). */
  note: string;
  /** The offers, and the chosen exit even when it offers nothing now. */
  options: ExitOptionView[];
}

export interface MenuView {
  running: boolean;
  enabled: boolean;
  /** The toggle's subtitle and the menu header's. */
  status: string;
  onlinePeers: number;
  node: NodeView | null;
  peers: PeerView[];
  /** Peers beyond the ones listed (a large mesh routes to many more than a menu can hold). */
  morePeers: number;
  neighbors: NeighborView[];
  policy: DiscoveryPolicy;
  exit: ExitView;
}

/** At most this many peers are listed; the rest are counted in one line. */
export const MAX_PEER_ROWS = 12;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0);

/** The first characters after the multibase/CID prefix all peer IDs share ("bafzqai…"). */
export function shortPeerId(peerId: string): string {
  const tail = peerId.startsWith('bafzqai') ? peerId.slice(7) : peerId;
  return tail.slice(0, 8);
}

function isOnline(p: Props): boolean {
  // A neighbour is online with its session up; a routed peer while there is a route to it.
  return str(p.Origin) === 'routed' ? num(p.HopCount) > 0 : str(p.State) === 'connected';
}

function rttText(p: Props, t: Translator): string | null {
  const us = num(p.RttMicroseconds);
  if (us <= 0) return null;
  const ms = us / 1000;
  // TRANSLATORS: a round-trip time in milliseconds
  return t._('%s ms').replace('%s', ms < 10 ? ms.toFixed(1) : String(Math.round(ms)));
}

function peerDetail(p: Props, t: Translator): string {
  if (!isOnline(p)) return str(p.State) === 'connecting' ? t._('connecting') : t._('offline');
  const hops = num(p.HopCount);
  const how = hops <= 1 ? t._('direct') : t.ngettext('%d hop', '%d hops', hops).replace('%d', String(hops));
  const rtt = rttText(p, t);
  return rtt ? `${how} · ${rtt}` : how;
}

function title(petname: string, peerId: string): string {
  return petname || shortPeerId(peerId);
}

function isPolicy(v: unknown): v is DiscoveryPolicy {
  return v === 'off' || v === 'manual' || v === 'auto';
}

const NO_EXIT: ExitView = { shown: false, chosen: '', killSwitch: false, note: '', options: [] };

/** The exit section: the nodes offering one, by name, nearest first; the chosen one marked. */
function exitView(exit: Props | null, names: [string, string, string][], t: Translator): ExitView {
  if (!exit) return NO_EXIT;
  const chosen = str(exit.Node);
  const offers = (Array.isArray(exit.Offers) ? exit.Offers : []) as [string, boolean, boolean, number][];
  const nameOf = (peerId: string): string => names.find(([, id]) => id === peerId)?.[0] ?? '';
  const options = offers.map(([peerId, ipv4, ipv6, hops]) => {
    const reach = num(hops) === 0 ? t._('no route') : num(hops) === 1 ? t._('direct') : t.ngettext('%d hop', '%d hops', num(hops)).replace('%d', String(num(hops)));
    const only = ipv4 && !ipv6 ? t._('IPv4 only') : ipv6 && !ipv4 ? t._('IPv6 only') : '';
    return { peerId, title: title(nameOf(peerId), peerId), detail: only ? `${reach} · ${only}` : reach, chosen: peerId === chosen, hops: num(hops) || Infinity };
  });
  if (chosen && !options.some((o) => o.chosen)) options.push({ peerId: chosen, title: title(nameOf(chosen), chosen), detail: t._('offers no exit now'), chosen: true, hops: Infinity });
  options.sort((a, b) => a.hops - b.hops || a.title.localeCompare(b.title) || a.peerId.localeCompare(b.peerId));
  const state = str(exit.State);
  const note = state === 'unavailable' ? t._('The exit cannot be reached: traffic goes out through this network') : state === 'blocked' ? t._('The exit cannot be reached: traffic is held back') : '';
  return { shown: options.length > 0, chosen, killSwitch: exit.KillSwitch === true, note, options: options.map(({ hops: _hops, ...o }) => o) };
}

/** The rows of the menu for one snapshot of the daemon. */
export function menuView(s: DaemonSnapshot, t: Translator): MenuView {
  if (!s.node) {
    return { running: false, enabled: false, status: t._('Not running'), onlinePeers: 0, node: null, peers: [], morePeers: 0, neighbors: [], policy: 'off', exit: NO_EXIT };
  }
  const enabled = s.node.Enabled === true;
  const peerId = str(s.node.PeerId);
  const names = (Array.isArray(s.names?.Names) ? s.names!.Names : []) as [string, string, string][];
  const ownName = names.find(([, id]) => id === peerId)?.[0] ?? '';
  const node = { peerId, title: title(ownName, peerId), address: str(s.node.Address) };

  const all = s.peers.map(({ path, props }) => {
    const petname = str(props.Petname);
    const id = str(props.PeerId);
    return {
      path, peerId: id, petname, title: title(petname, id), address: str(props.Address),
      online: isOnline(props), detail: peerDetail(props, t), hops: num(props.HopCount),
    };
  });
  // Named and online first, then by hops, then by name: the peers a user knows come first.
  all.sort((a, b) =>
    Number(!a.petname) - Number(!b.petname) || Number(!a.online) - Number(!b.online) ||
    (a.hops || Infinity) - (b.hops || Infinity) || a.title.localeCompare(b.title) || a.peerId.localeCompare(b.peerId));
  const onlinePeers = all.filter((p) => p.online).length;
  const peers: PeerView[] = all.slice(0, MAX_PEER_ROWS).map(({ hops: _hops, ...p }) => p);

  const neighbors = s.neighbors.map(({ path, props }) => {
    const id = str(props.PeerId);
    const isPeer = str(props.Peer) !== '' && str(props.Peer) !== '/';
    const where = t._('on %s').replace('%s', str(props.Interface));
    return {
      path, peerId: id, title: title(str(props.Petname), id), isPeer,
      detail: props.Connected === true ? `${where} · ${t._('connected')}` : where,
    };
  }).sort((a, b) => a.title.localeCompare(b.title) || a.peerId.localeCompare(b.peerId));

  let status: string;
  if (!enabled) status = t._('Off');
  else if (onlinePeers === 0) status = t._('No peers online');
  else status = t.ngettext('%d peer online', '%d peers online', onlinePeers).replace('%d', String(onlinePeers));

  return {
    running: true, enabled, status, onlinePeers, node, peers, morePeers: all.length - peers.length, neighbors,
    policy: isPolicy(s.discovery?.Policy) ? s.discovery!.Policy : 'off',
    exit: exitView(s.exit, names, t),
  };
}
