// `rovy init`: creates the node key (never replacing one) and, if the config file does not
// exist yet, a commented config file that names it.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig, writeDefaultConfig } from '../../src/config/config.js';
import { loadOrCreateKey } from '../../src/keys/keyfile.js';
import { encodePeerId } from '../../src/keys/peerid.js';
import { DEFAULT_KEY_FILE } from '../../src/config/config.js';

export function runInit(configPath: string, explicit: boolean): number {
  try {
    if (!existsSync(configPath)) {
      // Beside a config of its own, a node keeps its key in the same directory.
      const keyFile = explicit ? join(dirname(configPath), 'node.key') : DEFAULT_KEY_FILE;
      writeDefaultConfig(configPath, keyFile);
      process.stdout.write(`wrote ${configPath}\n`);
    }
    const config = loadConfig(configPath, { mustExist: true });
    const key = loadOrCreateKey(config.keyFile);
    for (const warning of key.warnings) process.stderr.write(`rovy init: ${warning}\n`);
    process.stdout.write(`${key.created ? 'created' : 'kept'} ${config.keyFile}\npeer id ${encodePeerId(key.publicKey)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`rovy init: ${(err as Error).message}\n`);
    return 1;
  }
}
