// The node's private key on disk.
//
// The file holds one comment line and the 32-byte X25519 private key as one line of standard
// base64 (the same shape as a WireGuard key):
//   # rovy node private key: keep it secret
//   <44 characters of base64>
// Blank lines and lines starting with "#" are ignored when reading. The file is created with
// mode 0600, exclusively: an existing key is never overwritten, not even by two daemons starting
// at once (see util/atomic-file.ts). A key file that others can read still loads, with a warning.
import { readFileSync, statSync } from 'node:fs';
import { createFileExclusive } from '../util/atomic-file.js';
import { formatIPv6, fcAddressBytes, isRovyKey } from './address.js';
import { generateKeyPair, publicKeyFromPrivate, type KeyPair } from './keypair.js';

export const KEY_FILE_COMMENT = '# rovy node private key: keep it secret';
const KEY_FILE_MODE = 0o600;
/** A key file is a few dozen bytes; anything far larger is not one. */
const MAX_KEY_FILE_SIZE = 4096;

export interface LoadedKey extends KeyPair {
  /** True if this call generated the key and created the file. */
  created: boolean;
  /** Things worth logging at warning level (for example a mode that lets others read the key). */
  warnings: string[];
}

/** The text of a key file holding `privateKey`. */
export function formatKeyFile(privateKey: Uint8Array): string {
  if (privateKey.length !== 32) throw new Error(`a private key is 32 bytes, got ${privateKey.length}`);
  return `${KEY_FILE_COMMENT}\n${Buffer.from(privateKey).toString('base64')}\n`;
}

/**
 * The private key in a key file's text. Throws KeyFileError naming `path` and what is wrong; the
 * message never contains key material.
 */
export function parseKeyFile(text: string, path: string): Uint8Array {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new KeyFileError(path, 'holds no key (expected a line of base64)');
  if (lines.length > 1) throw new KeyFileError(path, `holds ${lines.length} lines besides comments, expected 1`);
  const line = lines[0];
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(line) || line.length % 4 !== 0) {
    throw new KeyFileError(path, 'the key line is not standard base64');
  }
  const key = new Uint8Array(Buffer.from(line, 'base64'));
  if (key.length !== 32) throw new KeyFileError(path, `the key is ${key.length} bytes, expected 32`);
  return key;
}

/** A key file that is missing, unreadable or malformed. `code` is the filesystem's, if any. */
export class KeyFileError extends Error {
  readonly path: string;
  readonly code: string | undefined;
  constructor(path: string, problem: string, code?: string) {
    super(`key file ${path}: ${problem}`);
    this.name = 'KeyFileError';
    this.path = path;
    this.code = code;
  }
}

/** Reads and checks an existing key file; never creates one. Throws KeyFileError. */
export function loadKey(path: string): LoadedKey {
  let st;
  let text;
  try {
    st = statSync(path);
    if (!st.isFile()) throw new KeyFileError(path, 'not a regular file');
    if (st.size > MAX_KEY_FILE_SIZE) throw new KeyFileError(path, `too large (${st.size} bytes) to be a key file`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    const code = errorCode(err);
    throw new KeyFileError(path, code === 'ENOENT' ? 'does not exist' : `cannot read: ${errorText(err)}`, code);
  }
  const privateKey = parseKeyFile(text, path);
  const publicKey = publicKeyFromPrivate(privateKey);
  if (!isRovyKey(publicKey)) {
    throw new KeyFileError(
      path,
      `not a rovy key: its address ${formatIPv6(fcAddressBytes(publicKey))} is outside fc00::/8 ` +
        '(rovy generates keys until it is inside)',
    );
  }
  const warnings: string[] = [];
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    warnings.push(
      `key file ${path} has mode ${mode.toString(8).padStart(4, '0')}, so other users may read ` +
        `the private key: run chmod 600 ${path}`,
    );
  }
  return { privateKey, publicKey, created: false, warnings };
}

/** Loads the key file at `path`, or, if there is none, generates a key and creates it (0600). */
export function loadOrCreateKey(path: string): LoadedKey {
  const key = loadOrGenerateKey(path);
  return key.created ? saveNewKey(path, key) : key;
}

/**
 * The key in `path`, or, when there is no such file, a new key not written yet (`created`): a
 * caller that has more to check before it may change anything writes it with saveNewKey after.
 */
export function loadOrGenerateKey(path: string): LoadedKey {
  try {
    return loadKey(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
  return { ...generateKeyPair(), created: true, warnings: [] };
}

/** Writes a key from loadOrGenerateKey to `path`; returns the key the file holds now. */
export function saveNewKey(path: string, key: LoadedKey): LoadedKey {
  try {
    createFileExclusive(path, formatKeyFile(key.privateKey), KEY_FILE_MODE);
  } catch (err) {
    // Another process created the file between our look and our write: its key wins.
    if (errorCode(err) === 'EEXIST') return loadKey(path);
    throw new KeyFileError(path, `cannot create: ${errorText(err)}`, errorCode(err));
  }
  return key;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
