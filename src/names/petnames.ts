// The petname file: the names the user gave peers (rovy name), kept across restarts.
//
//   {
//     "version": 1,
//     "names": {
//       "alice": "bafzqai...",
//       "bob": "bafzqai..."
//     }
//   }
//
// Names are petnames (./label.ts) in lower case, values canonical peer IDs; the names are sorted,
// indented by 2 spaces, and the file ends with a newline. A peer has at most one name. The file is
// replaced atomically (mode 0600) before memory changes, so a crash or a failed write loses
// nothing. A file that cannot be read exactly as written (bad JSON, repeated keys, unknown keys,
// another version, an invalid entry) is an error and is left alone: the daemon refuses to start
// rather than overwrite names it did not understand.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';
import { canonicalPeerId } from '../keys/peerid.js';
import { foldCase, NameError, namedPeerId, petnameOf, petnameProblem } from './label.js';
import { quoteShort } from '../util/quote.js';

const FILE_VERSION = 1;
const FILE_MODE = 0o600;

export interface Petname {
  name: string;
  peerId: string;
}

/** A petname file that cannot be used: "<path>: <what is wrong>". */
export class PetnameFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PetnameFileError';
  }
}

export class PetnameStore {
  readonly path: string;
  private byName: Map<string, string>;
  private byPeer: Map<string, string>;

  private constructor(path: string, byName: Map<string, string>) {
    this.path = path;
    this.byName = byName;
    this.byPeer = inverse(byName);
  }

  /**
   * Reads `path`; a missing file is an empty store (nothing is written until the first change).
   * Any other problem throws PetnameFileError and leaves the file untouched.
   */
  static load(path: string): PetnameStore {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new PetnameStore(path, new Map());
      throw new PetnameFileError(`${path}: cannot read: ${(err as Error).message}`);
    }
    return new PetnameStore(path, parseFile(path, text));
  }

  /** Every petname, sorted by name. */
  list(): Petname[] {
    return [...this.byName.keys()].sort(byCodeUnit).map((name) => ({ name, peerId: this.byName.get(name)! }));
  }

  /** The peer ID named `name` (any case), or undefined. */
  peerOf(name: string): string | undefined {
    return this.byName.get(foldCase(name));
  }

  /** The petname of `peerId` (any case), or undefined. */
  nameOf(peerId: string): string | undefined {
    return this.byPeer.get(foldCase(peerId));
  }

  /**
   * Names `peerId` as `name`; naming a peer again renames it (its old name goes). Throws
   * NameError: InvalidName, InvalidPeerId, or NameTaken if the name belongs to another peer or
   * `reserved(name)` gives a reason. Naming a peer what it is already named changes nothing. The
   * file is written first: if that throws, the store is unchanged.
   */
  set(name: string, peerId: string, reserved?: (name: string) => string | null): void {
    const label = petnameOf(name);
    const peer = namedPeerId(peerId);
    const owner = this.byName.get(label);
    if (owner === peer) return;
    if (owner !== undefined) throw new NameError('NameTaken', `"${label}" is already the name of peer ${owner}`);
    const reason = reserved?.(label) ?? null;
    if (reason !== null) throw new NameError('NameTaken', reason);

    const replaced = this.byPeer.get(peer);
    const next = new Map(this.byName);
    if (replaced !== undefined) next.delete(replaced);
    next.set(label, peer);
    this.commit(next);
  }

  /** Removes `name` (any case) and returns the peer ID it named; NameError('NoSuchName') if none. */
  remove(name: string): string {
    const label = foldCase(name);
    const peer = this.byName.get(label);
    if (peer === undefined) throw new NameError('NoSuchName', `no peer is named ${quoteShort(name)}`);
    const next = new Map(this.byName);
    next.delete(label);
    this.commit(next);
    return peer;
  }

  /** Writes `next` to the file, then (only if that worked) makes it the store's contents. */
  private commit(next: Map<string, string>): void {
    writeFileAtomic(this.path, formatFile(next), FILE_MODE);
    this.byName = next;
    this.byPeer = inverse(next);
  }
}

/** The file text for `names`. Built by hand: a JS object would put all-digit names first. */
function formatFile(names: Map<string, string>): string {
  const entries = [...names.keys()].sort(byCodeUnit).map((n) => `    ${JSON.stringify(n)}: ${JSON.stringify(names.get(n))}`);
  const body = entries.length === 0 ? '{}' : `{\n${entries.join(',\n')}\n  }`;
  return `{\n  "version": ${FILE_VERSION},\n  "names": ${body}\n}\n`;
}

/** The names in a petname file's text, checked entry by entry; throws PetnameFileError. */
function parseFile(path: string, text: string): Map<string, string> {
  const fail = (problem: string): never => {
    throw new PetnameFileError(`${path}: ${problem}`);
  };
  const syntax = jsonProblem(text);
  if (syntax !== null) {
    const { line, column } = lineAndColumn(text, syntax.at);
    throw new PetnameFileError(`${path}:${line}:${column}: not valid JSON: ${syntax.problem}`);
  }
  const data: unknown = JSON.parse(text);
  if (!isObject(data)) return fail(`expected an object {"version": ${FILE_VERSION}, "names": {...}}, got ${typeOf(data)}`);
  // Keys this version does not know would be dropped by the next write.
  for (const key of Object.keys(data)) {
    if (key !== 'version' && key !== 'names') fail(`unknown key ${JSON.stringify(key)}`);
  }
  if (data.version !== FILE_VERSION) {
    fail(`version must be ${FILE_VERSION} (the only version this rovy reads), got ${typeOf(data.version)}`);
  }
  const names = data.names;
  if (!isObject(names)) return fail(`names must be an object of name: peer ID, got ${typeOf(names)}`);

  const byName = new Map<string, string>();
  const spelled = new Map<string, string>(); // folded name → the key as written, for messages
  const byPeer = new Map<string, string>();
  for (const [key, value] of Object.entries(names)) {
    const where = `names[${JSON.stringify(key)}]`;
    const problem = petnameProblem(key);
    if (problem !== null) fail(`${where}: ${problem}`);
    if (typeof value !== 'string') return fail(`${where}: must be a peer ID string, got ${typeOf(value)}`);
    let peer: string;
    try {
      peer = canonicalPeerId(value);
    } catch (err) {
      return fail(`${where}: ${(err as Error).message}`);
    }
    const name = foldCase(key);
    const sameName = spelled.get(name);
    if (sameName !== undefined) fail(`${where}: names ignore case, so this is the same name as names[${JSON.stringify(sameName)}]`);
    const sameKey = byPeer.get(peer);
    if (sameKey !== undefined) fail(`${where}: peer ${peer} already has the name ${JSON.stringify(sameKey)} (a peer has one name)`);
    byName.set(name, peer);
    spelled.set(name, key);
    byPeer.set(peer, key);
  }
  return byName;
}

const MAX_DEPTH = 64; // the file is 2 deep; this only keeps recursion bounded on garbage
const STRING_BODY = /(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const LITERAL = /true|false|null/y;

class JsonProblem {
  constructor(
    readonly at: number,
    readonly problem: string,
  ) {}
}

/**
 * Where `text` stops being JSON, or repeats a key within one object, and what is wrong there; null
 * if neither. Needed because Node 20's JSON.parse does not always give a position, and silently
 * keeps only the last of repeated keys (a name the user would lose).
 */
function jsonProblem(text: string): JsonProblem | null {
  let i = 0;
  const stop = (problem?: string, at = i): never => {
    throw new JsonProblem(at, problem ?? (i < text.length ? `unexpected ${JSON.stringify(text[i])}` : 'unexpected end of file'));
  };
  const space = (): void => {
    while (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r') i++;
  };
  const sticky = (re: RegExp): string | null => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m !== null) i = re.lastIndex;
    return m === null ? null : m[0];
  };
  const string = (): string => {
    const start = i;
    if (text[i] !== '"') stop();
    i++;
    sticky(STRING_BODY);
    if (text[i] !== '"') stop(); // a control character, a bad escape, or the end
    i++;
    return text.slice(start, i);
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) stop('nested too deeply');
    space();
    const c = text[i];
    if (c === '{') {
      i++;
      space();
      if (text[i] === '}') return void i++;
      const keys = new Set<string>();
      for (;;) {
        space();
        const at = i;
        const key = JSON.parse(string()) as string;
        if (keys.has(key)) stop(`key ${JSON.stringify(key)} appears twice in one object`, at);
        keys.add(key);
        space();
        if (text[i] !== ':') stop();
        i++;
        value(depth + 1);
        space();
        if (text[i] === '}') return void i++;
        if (text[i] !== ',') stop();
        i++;
      }
    }
    if (c === '[') {
      i++;
      space();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        space();
        if (text[i] === ']') return void i++;
        if (text[i] !== ',') stop();
        i++;
      }
    }
    if (c === '"') return void string();
    if (sticky(NUMBER) === null && sticky(LITERAL) === null) stop();
  };
  try {
    value(0);
    space();
    if (i < text.length) stop();
    return null;
  } catch (err) {
    if (err instanceof JsonProblem) return err;
    throw err;
  }
}

/** 1-based line and column (in UTF-16 code units, as editors mostly count) of offset `at`. */
function lineAndColumn(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: at - lineStart + 1 };
}

function inverse(map: Map<string, string>): Map<string, string> {
  return new Map([...map].map(([k, v]) => [v, k]));
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): string {
  if (v === undefined) return 'nothing';
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
