// TOML text → a tree of tables, arrays and values that remembers the line of every key and value.
//
// toml-eslint-parser gives an AST that follows the text (a [tun] header, a dotted key, an inline
// table and a [[peer]] block are all different nodes). Checking settings is easier on the merged
// value tree that TOML defines, but error messages need lines, so this builds that merged tree
// with a line on every node. Syntax errors come out as ConfigError with field "syntax" (or the key,
// for a key defined twice).
import { parseTOML, ParseError, type AST } from 'toml-eslint-parser';
import { ConfigError } from './errors.js';

export type TomlNode = TomlTable | TomlArray | TomlLeaf;

export interface TomlTable {
  kind: 'table';
  /** Line of the header, inline table or first dotted key that made this table. */
  line: number;
  entries: Map<string, TomlEntry>;
}

export interface TomlEntry {
  /** Line of the key (where "unknown key" is reported). */
  keyLine: number;
  node: TomlNode;
}

export interface TomlArray {
  kind: 'array';
  line: number;
  items: TomlNode[];
}

export type TomlLeaf =
  | { kind: 'string'; line: number; value: string }
  | { kind: 'integer'; line: number; value: bigint; raw: string }
  | { kind: 'float'; line: number; value: number; raw: string }
  | { kind: 'boolean'; line: number; value: boolean }
  | { kind: 'datetime'; line: number; raw: string };

/** Parses TOML 1.0 text into a line-annotated value tree. Throws ConfigError on bad syntax. */
export function parseTomlTree(text: string, file: string): TomlTable {
  const source = text.startsWith('\ufeff') ? text.slice(1) : text;
  let program: AST.TOMLProgram;
  try {
    program = parseTOML(source, { tomlVersion: '1.0.0' });
  } catch (err) {
    if (err instanceof ParseError) throw syntaxError(err, source, file);
    throw err;
  }
  const root = newTable(1);
  for (const item of program.body[0].body) {
    if (item.type === 'TOMLKeyValue') {
      insertKeyValue(root, item);
    } else {
      const table = openTable(root, item.resolvedKey, item.loc.start.line);
      for (const kv of item.body) insertKeyValue(table, kv);
    }
  }
  return root;
}

/** A short description of a node for "got ..." in messages. */
export function describeNode(node: TomlNode): string {
  switch (node.kind) {
    case 'table':
      return 'a table';
    case 'array':
      return 'an array';
    case 'string':
      return JSON.stringify(node.value.length > 60 ? node.value.slice(0, 57) + '...' : node.value);
    case 'integer':
    case 'float':
      return node.raw;
    case 'boolean':
      return String(node.value);
    case 'datetime':
      return `the date-time ${node.raw}`;
  }
}

/** The type of a node, without its value ("a string"), for values that must not be echoed. */
export function describeType(node: TomlNode): string {
  return node.kind === 'integer' || node.kind === 'array' ? `an ${node.kind}` : `a ${node.kind}`;
}

function newTable(line: number): TomlTable {
  return { kind: 'table', line, entries: new Map() };
}

function insertKeyValue(table: TomlTable, kv: AST.TOMLKeyValue): void {
  const names = kv.key.keys.map(keyName);
  const line = kv.key.loc.start.line;
  const parent = openTable(table, names.slice(0, -1), line);
  const last = names[names.length - 1];
  if (parent.entries.has(last)) throw new Error(`TOML parser let a duplicate key through: ${last}`);
  parent.entries.set(last, { keyLine: line, node: convert(kv.value) });
}

/**
 * The table at `path` under `from`, creating missing tables; a number in the path selects an item
 * of an array of tables (the parser's resolvedKey for [[x]] blocks ends with the item's index).
 */
function openTable(from: TomlTable, path: readonly (string | number)[], line: number): TomlTable {
  let table = from;
  for (let k = 0; k < path.length; k++) {
    const name = path[k];
    if (typeof name !== 'string') throw new Error(`unexpected index in TOML table path ${path.join('.')}`);
    const index = path[k + 1];
    let entry = table.entries.get(name);
    if (typeof index === 'number') {
      k++;
      if (entry === undefined) {
        entry = { keyLine: line, node: { kind: 'array', line, items: [] } };
        table.entries.set(name, entry);
      }
      if (entry.node.kind !== 'array') throw new Error(`TOML parser let ${name} be a table and an array`);
      let item = entry.node.items[index];
      if (item === undefined) {
        item = newTable(line);
        entry.node.items[index] = item;
      }
      if (item.kind !== 'table') throw new Error(`TOML parser let ${name}[${index}] be a table and a value`);
      table = item;
    } else {
      if (entry === undefined) {
        entry = { keyLine: line, node: newTable(line) };
        table.entries.set(name, entry);
      }
      if (entry.node.kind !== 'table') throw new Error(`TOML parser let ${name} be a table and a value`);
      table = entry.node;
    }
  }
  return table;
}

function convert(node: AST.TOMLContentNode): TomlNode {
  const line = node.loc.start.line;
  if (node.type === 'TOMLArray') return { kind: 'array', line, items: node.elements.map(convert) };
  if (node.type === 'TOMLInlineTable') {
    const table = newTable(line);
    for (const kv of node.body) insertKeyValue(table, kv);
    return table;
  }
  switch (node.kind) {
    case 'string':
      return { kind: 'string', line, value: node.value };
    // The parser gives the number's text as written, except for a zero, whose text comes back
    // empty: its value says it then (a message would otherwise read "got ").
    case 'integer':
      return { kind: 'integer', line, value: node.bigint, raw: node.number || String(node.bigint) };
    case 'float':
      return { kind: 'float', line, value: node.value, raw: node.number || String(node.value) };
    case 'boolean':
      return { kind: 'boolean', line, value: node.value };
    default:
      return { kind: 'datetime', line, raw: node.datetime };
  }
}

function keyName(key: AST.TOMLBare | AST.TOMLQuoted): string {
  return key.type === 'TOMLBare' ? key.name : key.value;
}

function syntaxError(err: ParseError, source: string, file: string): ConfigError {
  const problem = err.message.charAt(0).toLowerCase() + err.message.slice(1);
  // For a key given twice the parser points at the key: name it, since that is what to fix.
  if (problem.startsWith('defining a key multiple times')) {
    const key = /^(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')/.exec(source.slice(err.index))?.[0];
    if (key !== undefined) return new ConfigError(file, err.lineNumber, key, 'defined more than once');
  }
  return new ConfigError(file, err.lineNumber, 'syntax', `${problem} (column ${err.column + 1})`);
}
