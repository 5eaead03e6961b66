// What a fuzz target may see a parser do with bad input: return its "no" (null, a dropped
// count), or throw the one error class it documents for people (a config or file error that names
// the problem). Anything else thrown is a finding.
export function onlyThrows(error: unknown, ...allowed: (abstract new (...args: never[]) => Error)[]): void {
  if (allowed.some((kind) => error instanceof kind)) return;
  throw error;
}

/** A finding that is not an exception: an invariant the target checks. */
export function invariant(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`invariant broken: ${what}`);
}

import { rmSync } from 'node:fs';

const scratch: string[] = [];
process.on('exit', () => {
  for (const path of scratch) rmSync(path, { recursive: true, force: true });
});

/** A scratch path on tmpfs for targets that fuzz a file format: one per process and name, in
 *  ROVY_FUZZ_SCRATCH (scripts/fuzz.sh makes one per run and removes it: a fuzzer that stops on a
 *  finding exits without running exit handlers), removed when the process exits otherwise. `name`
 *  may hold one directory ("state/node.key"). */
export function scratchPath(name: string): string {
  const base = process.env.ROVY_FUZZ_SCRATCH ?? '/dev/shm';
  const [first] = name.split('/');
  scratch.push(`${base}/rovy-fuzz-${process.pid}-${first}`);
  return `${base}/rovy-fuzz-${process.pid}-${name}`;
}
