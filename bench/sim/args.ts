// The command line of the simulator benches: `--name value` options, and graph names, each naming
// the shared graphs whose file starts with it.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** The options (by name without the dashes, as strings, `defaults` where not given) and the
 *  names given. An option not in `defaults` is an error. */
export function benchArgs(defaults: Record<string, string>): { values: Record<string, string>; names: string[] } {
  const options = Object.fromEntries(Object.entries(defaults).map(([name, value]) => [name, { type: 'string' as const, default: value }]));
  const { values, positionals } = parseArgs({ options, allowPositionals: true });
  return { values: values as Record<string, string>, names: positionals };
}

/** The graph files in `dir` whose names start with one of `names` (all of them if none), in order. */
export function graphFiles(dir: string, names: string[]): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt') && (names.length === 0 || names.some((n) => f.startsWith(n))))
    .sort()
    .map((f) => join(dir, f));
}
