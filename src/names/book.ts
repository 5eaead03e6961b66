// Every name a node knows for its peers: the petnames the user set (petnames.ts, changed at run
// time, stored) and the names of [[peer]] blocks in the config file (read-only here, replaced on
// each reload). This is what DNS, the peer objects and `rovy name list` see.
//
// A petname wins over a config name: for the peer it names (its Petname shows the user's choice)
// and for the name itself (a config name another peer's petname already has is shadowed, and the
// caller is told so it can log it). Both keep resolving: alice.rovy and bob.rovy may name one peer.
import { decodePeerId } from '../keys/peerid.js';
import { fcAddressBytes, isRovyKey } from '../keys/address.js';
import { foldCase, namedPeerId, NameError } from './label.js';
import type { PetnameStore } from './petnames.js';

interface NameEntry {
  name: string;
  peerId: string;
  source: 'petname' | 'config';
}

export class NameBook {
  private config = new Map<string, string>();
  /** The config names by peer (the config file names a peer at most once). */
  private configByPeer = new Map<string, string>();
  /** fc address (hex) → peer ID of every named peer, so reverse DNS knows named peers never met. */
  private byAddress = new Map<string, string>();

  constructor(private readonly store: PetnameStore | null) {
    this.index();
  }

  /**
   * Replaces the config file's names (name → peer ID). Returns the peers whose shown name changed,
   * and a line for each config name a petname shadows.
   */
  setConfigNames(names: ReadonlyMap<string, string>): { changed: string[]; shadowed: string[] } {
    const changed = this.tracking(() => {
      this.config = new Map(names);
      this.configByPeer = new Map([...names].map(([name, peerId]) => [peerId, name]));
    });
    const shadowed: string[] = [];
    for (const [name, peerId] of this.config) {
      const owner = this.store?.peerOf(name);
      if (owner !== undefined && owner !== peerId) shadowed.push(`config name "${name}" of ${peerId} is the petname of ${owner}: the petname wins`);
    }
    return { changed, shadowed };
  }

  /** The peer ID `name` (any case) names, or undefined. */
  peerOf(name: string): string | undefined {
    const label = foldCase(name);
    return this.store?.peerOf(label) ?? this.config.get(label);
  }

  /** The name shown for `peerId`: its petname, else its config name. */
  nameOf(peerId: string): string | undefined {
    const petname = this.store?.nameOf(peerId);
    if (petname !== undefined) return petname;
    const name = this.configByPeer.get(peerId);
    return name !== undefined && this.peerOf(name) === peerId ? name : undefined; // not if shadowed
  }

  /** The fc00::/8 address `label` stands for: a name's peer's, or a peer ID's own (any rovy key
   *  has one, named or not); null for anything else. */
  addressOf(label: string): Uint8Array | null {
    try {
      const key = decodePeerId(this.peerOf(label) ?? label);
      return isRovyKey(key) ? fcAddressBytes(key) : null;
    } catch {
      return null; // neither a name nor a peer ID
    }
  }

  /** The peer ID of a named peer whose fc address is `address`, or undefined. */
  peerAt(address: Uint8Array): string | undefined {
    return this.byAddress.get(Buffer.from(address.buffer, address.byteOffset, 16).toString('hex'));
  }

  /** Every name that resolves, sorted by name. */
  list(): NameEntry[] {
    const entries: NameEntry[] = (this.store?.list() ?? []).map((p) => ({ ...p, source: 'petname' }));
    for (const [name, peerId] of this.config) {
      if (this.store?.peerOf(name) === undefined) entries.push({ name, peerId, source: 'config' });
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Sets a petname. NameError: InvalidPeerId unless `peerId` is a rovy node's (checked before the
   * name), then as PetnameStore.set, a config name of another peer counting as taken. Returns the
   * peers whose shown name changed (a config name a petname uncovers included), for the caller
   * to announce.
   */
  set(name: string, peerId: string): string[] {
    const store = this.requireStore();
    const peer = nodeId(peerId);
    return this.tracking(() =>
      store.set(name, peer, (label) => {
        const owner = this.config.get(label);
        return owner !== undefined && owner !== peer ? `"${label}" is the name of peer ${owner} in the config file` : null;
      }),
    );
  }

  /**
   * Removes a petname; NameError('NoSuchName') if it is not one (a config name is not). Returns
   * the peers whose shown name changed, the one it named first.
   */
  remove(name: string): string[] {
    const store = this.requireStore();
    const label = foldCase(name);
    if (store.peerOf(label) === undefined && this.config.has(label)) {
      throw new NameError('NoSuchName', `"${label}" is not a petname but a name in the config file: remove it there`);
    }
    let named = '';
    const changed = this.tracking(() => (named = store.remove(label)));
    return [named, ...changed.filter((id) => id !== named)];
  }

  /** Runs a change and returns the peers whose shown name it changed. */
  private tracking(change: () => unknown): string[] {
    const peers = (): Set<string> => new Set([...(this.store?.list() ?? []).map((p) => p.peerId), ...this.config.values()]);
    const before = new Map([...peers()].map((id) => [id, this.nameOf(id)]));
    change();
    this.index();
    const touched = new Set([...before.keys(), ...peers()]);
    return [...touched].filter((id) => before.get(id) !== this.nameOf(id));
  }

  private requireStore(): PetnameStore {
    if (!this.store) throw new NameError('NoSuchName', 'this node keeps no petnames');
    return this.store;
  }

  private index(): void {
    this.byAddress.clear();
    for (const { peerId } of this.list()) {
      this.byAddress.set(Buffer.from(fcAddressBytes(decodePeerId(peerId))).toString('hex'), peerId);
    }
  }
}

/** `peerId` in canonical form; NameError('InvalidPeerId') if it is malformed or its key has no
 *  fc00::/8 address (a name for it would resolve to nothing rovy can reach). */
function nodeId(peerId: string): string {
  const canonical = namedPeerId(peerId);
  if (!isRovyKey(decodePeerId(canonical))) throw new NameError('InvalidPeerId', `${JSON.stringify(peerId)} is not the peer ID of a rovy node (its key has no fc00::/8 address)`);
  return canonical;
}
