// Loading rovy's config file (TOML): the entry point of src/config.
//
// loadConfig reads a file and returns a Config with every setting filled in; a file that is not
// there is fine when the caller only looked at the default place (mustExist: false) and an error
// when the user named it. Every problem is a ConfigError whose message is one line,
// "FILE:LINE: FIELD: what is wrong". writeDefaultConfig creates a commented starting file for
// `rovy init`, never replacing one that exists.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createFileExclusive } from '../util/atomic-file.js';
import { DEFAULTS, defaultConfigText } from './defaults.js';
import { ConfigError } from './errors.js';
import { configFromTree, type Config } from './schema.js';
import { parseTomlTree } from './toml-tree.js';

export { ConfigError } from './errors.js';
export { DEFAULT_CONFIG_PATH, DEFAULT_KEY_FILE, DEFAULTS, defaultConfigText } from './defaults.js';
export type { Config, LogLevel, PeerConfig, PeerMultiaddr } from './schema.js';

export interface LoadConfigOptions {
  /** Whether a missing file is an error (true, the default) or means "use the defaults". */
  mustExist?: boolean;
}

/** Parses config text; `path` names the file in errors and anchors a relative key_file. */
export function parseConfig(text: string, path: string): Config {
  return configFromTree(parseTomlTree(text, path), path, dirname(resolve(path)), path);
}

/** The configuration of a node with no config file (`source` is null). */
export function defaultConfig(): Config {
  return configFromTree(parseTomlTree('', '(defaults)'), '(defaults)', '/', null);
}

/**
 * Reads and checks the config file at `path`. Throws ConfigError. With mustExist: false, a
 * missing file gives defaultConfig() (whose `source` is null) instead of an error.
 */
export function loadConfig(path: string, options: LoadConfigOptions = {}): Config {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? err.code : undefined;
    if (code === 'ENOENT' && options.mustExist === false) return defaultConfig();
    if (code === 'ENOENT') throw new ConfigError(path, undefined, undefined, 'no such file');
    if (code === 'EISDIR') throw new ConfigError(path, undefined, undefined, 'is a directory, not a config file');
    throw new ConfigError(path, undefined, undefined, `cannot read: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseConfig(utf8Text(bytes, path), path);
}

/** The file's text; bytes that are not UTF-8 are an error at their line, not replaced unseen. */
function utf8Text(bytes: Buffer, path: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // The longest prefix that decodes (an unfinished sequence at its end allowed) ends at the
    // first bad byte.
    let good = 0;
    let bad = bytes.length;
    while (bad - good > 1) {
      const mid = (good + bad) >> 1;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
        good = mid;
      } catch {
        bad = mid;
      }
    }
    const at = good;
    const lineStart = bytes.lastIndexOf(0x0a, at - 1) + 1;
    const line = bytes.subarray(0, lineStart).filter((b) => b === 0x0a).length + 1;
    const byte = bytes[at]!.toString(16).padStart(2, '0');
    throw new ConfigError(path, line, 'syntax', `not UTF-8 text: byte 0x${byte} at column ${at - lineStart + 1}`);
  }
}

/** Refuses a [[peer]] that is this node itself (its key is known only once the key file is read). */
export function refuseOwnKey(config: Config, publicKey: Uint8Array): void {
  const i = config.peers.findIndex((peer) => Buffer.compare(peer.publicKey, publicKey) === 0);
  if (i < 0) return;
  throw new ConfigError(config.source ?? '(defaults)', config.peers[i]!.line, `peer[${i}].address`, `is this node itself (${config.peers[i]!.peerId} is its own peer ID)`);
}

/**
 * Writes the commented default config (mode 0644) to `path` if no file is there; returns false,
 * leaving the existing file alone, if one is. Creation is atomic: no reader sees half a file.
 */
export function writeDefaultConfig(path: string, keyFile: string = DEFAULTS.keyFile): boolean {
  try {
    createFileExclusive(path, defaultConfigText(keyFile), 0o644, { dirMode: 0o755 });
    return true;
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'EEXIST') return false;
    throw err;
  }
}
