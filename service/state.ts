// What the daemon remembers between runs that is not configuration: whether the mesh is switched
// on, the peers added at run time (rovy connect), a discovery policy chosen at run time, the
// blocked peers (rovy block), the ports opened at run time (rovy ports allow) and the exit in
// use (rovy exit use). Kept as JSON beside the key file, written atomically with mode
// 0600; a damaged file is reported and set aside, never fatal.
import { readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { DISCOVERY_POLICIES, type DiscoveryPolicy } from '../src/config/schema.js';
import { canonicalPeerId, isPeerId } from '../src/keys/peerid.js';
import { formatRule, parseRule } from '../src/fcnet/port-rules.js';

export interface DaemonState {
  enabled: boolean;
  /** Multiaddrs (with /rovy/<peer ID>) of peers added with Connect. */
  peers: string[];
  /**
   * The discovery policy set at run time, and the config file's policy when it was set: once the
   * file says something else, the file wins (the administrator changed it since).
   */
  discovery: { policy: DiscoveryPolicy; configPolicy: DiscoveryPolicy } | null;
  /** Peer IDs whose links are refused. */
  blocked: string[];
  /** Port rules opened at run time ("22/tcp", "80/tcp from <peer ID>"). */
  ports: string[];
  /** The exit the host's traffic beyond the mesh goes through, and whether its kill switch is on. */
  exit: ExitChoice | null;
}

export interface ExitChoice {
  peerId: string;
  killSwitch: boolean;
}

const DEFAULT_STATE: DaemonState = { enabled: true, peers: [], discovery: null, blocked: [], ports: [], exit: null };

export class StateFile {
  readonly path: string;
  /** load() found a file it could not use. */
  private bad = false;

  constructor(keyFile: string) {
    this.path = join(dirname(keyFile), 'state.json');
  }

  /** The saved state, or the defaults. `warn` hears about a file that could not be used. */
  load(warn: (message: string) => void): DaemonState {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`${this.path}: cannot read (${(err as Error).message}); using defaults`);
      return { ...DEFAULT_STATE, peers: [], blocked: [], ports: [] };
    }
    try {
      const data = JSON.parse(text) as Partial<DaemonState>;
      if (typeof data.enabled !== 'boolean' || !Array.isArray(data.peers) || !data.peers.every((p) => typeof p === 'string')) {
        throw new Error('unexpected contents');
      }
      const discovery = data.discovery ?? null; // absent in files from before discovery
      if (discovery !== null && !(isPolicy(discovery.policy) && isPolicy(discovery.configPolicy))) throw new Error('unexpected discovery policy');
      const blocked = data.blocked ?? []; // absent in files from before blocking
      if (!Array.isArray(blocked) || !blocked.every((p: unknown) => typeof p === 'string' && isPeerId(p))) throw new Error('unexpected blocked peers');
      const ports = data.ports ?? []; // absent in files from before the inbound filter
      if (!Array.isArray(ports)) throw new Error('unexpected port rules');
      const rules = ports.map((text: unknown) => {
        if (typeof text !== 'string') throw new Error('unexpected port rule');
        return formatRule(parseRule(text));
      });
      const exit = data.exit ?? null; // absent in files from before exits
      if (exit !== null && !(typeof exit === 'object' && typeof exit.peerId === 'string' && isPeerId(exit.peerId) && typeof exit.killSwitch === 'boolean')) {
        throw new Error('unexpected exit');
      }
      return {
        enabled: data.enabled,
        peers: [...data.peers],
        discovery: discovery && { policy: discovery.policy, configPolicy: discovery.configPolicy },
        blocked: blocked.map(canonicalPeerId),
        ports: rules,
        exit: exit && { peerId: canonicalPeerId(exit.peerId), killSwitch: exit.killSwitch },
      };
    } catch (err) {
      this.bad = true;
      warn(`${this.path}: ${oneLine((err as Error).message)}; using defaults (the file is kept as ${this.path}.bad-<time> once the daemon is up)`);
      return { ...DEFAULT_STATE, peers: [], blocked: [], ports: [] };
    }
  }

  /**
   * Moves a file load() could not use aside, under a name of its own (state.json.bad-<time>), so
   * that the next save does not overwrite it and no earlier bad copy is lost. Called once the
   * daemon has really started: a start that fails leaves the file where it was.
   */
  setAsideIfBad(warn: (message: string) => void): void {
    if (!this.bad) return;
    this.bad = false;
    const aside = `${this.path}.bad-${new Date().toISOString().replace(/:/g, '')}`;
    try {
      renameSync(this.path, aside);
      warn(`${this.path}: the file that could not be used is kept as ${aside}`);
    } catch (err) {
      warn(`${this.path}: cannot move the file that could not be used aside (${oneLine((err as Error).message)}); the next change overwrites it`);
    }
  }

  save(state: DaemonState): void {
    writeFileAtomic(this.path, JSON.stringify(state, null, 2) + '\n', 0o600);
  }
}

function isPolicy(value: unknown): value is DiscoveryPolicy {
  return DISCOVERY_POLICIES.some((p) => p === value);
}

/** An error message on one line, and not endless: JSON.parse quotes the text it failed on. */
function oneLine(message: string): string {
  const line = message.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return line.length > 200 ? line.slice(0, 197) + '...' : line;
}
