// The config file, as bytes on disk: any content is a Config or one ConfigError naming the file.
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/errors.js';
import { invariant, onlyThrows, scratchPath } from '../expect.js';

const path = scratchPath('rovy.toml');

export function fuzz(data: Buffer): void {
  writeFileSync(path, data);
  try {
    loadConfig(path);
  } catch (err) {
    onlyThrows(err, ConfigError);
    const message = (err as ConfigError).message;
    invariant(message.startsWith(path), `an error that does not name the file: ${message}`);
    invariant(!message.includes('\n'), `an error of more than one line: ${message}`);
  }
}
