// What the daemon remembers between runs that is not configuration: whether the mesh is switched
// on, the peers added at run time (rovy connect), and a discovery policy chosen at run time. Kept as JSON beside the key file, written
// atomically with mode 0600; a damaged file is reported and set aside, never fatal.
import { readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { DISCOVERY_POLICIES, type DiscoveryPolicy } from '../src/config/schema.js';

export interface DaemonState {
  enabled: boolean;
  /** Multiaddrs (with /rovy/<peer ID>) of peers added with Connect. */
  peers: string[];
  /**
   * The discovery policy set at run time, and the config file's policy when it was set: once the
   * file says something else, the file wins (the administrator changed it since).
   */
  discovery: { policy: DiscoveryPolicy; configPolicy: DiscoveryPolicy } | null;
}

const DEFAULT_STATE: DaemonState = { enabled: true, peers: [], discovery: null };

export class StateFile {
  readonly path: string;

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
      return { ...DEFAULT_STATE, peers: [] };
    }
    try {
      const data = JSON.parse(text) as Partial<DaemonState>;
      if (typeof data.enabled !== 'boolean' || !Array.isArray(data.peers) || !data.peers.every((p) => typeof p === 'string')) {
        throw new Error('unexpected contents');
      }
      const discovery = data.discovery ?? null; // absent in files from before discovery
      if (discovery !== null && !(isPolicy(discovery.policy) && isPolicy(discovery.configPolicy))) throw new Error('unexpected discovery policy');
      return { enabled: data.enabled, peers: [...data.peers], discovery: discovery && { policy: discovery.policy, configPolicy: discovery.configPolicy } };
    } catch (err) {
      const aside = `${this.path}.bad`;
      try {
        renameSync(this.path, aside);
      } catch {
        // keep going with defaults either way
      }
      warn(`${this.path}: ${(err as Error).message}; moved to ${aside}, using defaults`);
      return { ...DEFAULT_STATE, peers: [] };
    }
  }

  save(state: DaemonState): void {
    writeFileAtomic(this.path, JSON.stringify(state, null, 2) + '\n', 0o600);
  }
}

function isPolicy(value: unknown): value is DiscoveryPolicy {
  return DISCOVERY_POLICIES.some((p) => p === value);
}
