// Mutation testing of the code that keeps rovy's security promises (issue 13): the session layer,
// Noise, forwarding, the receive pipeline and the D-Bus API's checks. `npm run bench:mutation`
// prints the score per file; docs/SECURITY.md has the last one.
//
// StrykerJS 9.6 (10.x refuses Node 20) with its tap runner: each test bundle runs as plain
// `node dist/test/.../X.test.js` (node:test prints TAP), so Stryker sees which files reach which
// mutant and runs only those. The bundles are built once per sandbox (build-tests.mjs); mutants
// are switched at run time. MUTATE (comma-separated globs) narrows the files mutated; run.sh runs
// one area at a time (a whole run takes over an hour on two cores).
import { bundle, tests } from './tests.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  mutate: (process.env.MUTATE ?? 'src/session/**/*.ts,src/noise/**/*.ts,src/forward/**/*.ts,src/node/receive.ts,service/api.ts').split(','),
  buildCommand: 'node bench/mutation/build-tests.mjs',
  // forceBail: a mutant is killed by the first failing file; no need to run the rest.
  tap: { testFiles: tests.map(bundle), nodeArgs: ['--test-reporter=tap'], forceBail: true },
  coverageAnalysis: 'perTest',
  checkers: [],
  concurrency: 2,
  ignorePatterns: ['dist', 'test-output', 'bench/sim', 'reports'],
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: process.env.MUTATION_REPORT ?? 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
};
