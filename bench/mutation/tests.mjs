// The tests a mutation run uses, fastest first: Stryker's tap runner runs the files that reach a
// mutant in this order and stops at the first that fails it. A bare name is test/unit/NAME.test.ts,
// one with a slash test/NAME.test.ts. MUTATION_TESTS (comma-separated) narrows the list.
const all = [
  'handshake-gate', 'forward-header', 'forwarder', 'aead', 'tai64n', 'cookie', 'noise-vectors', 'limits', 'receive-batch',
  'replay', 'handshake', 'links', 'resolver', 'transit', 'session', 'pipeline', 'desktop/routes', 'desktop/api',
];

export const tests = process.env.MUTATION_TESTS ? process.env.MUTATION_TESTS.split(',') : all;

/** The source file of test `name`, and its bundle. */
export const source = (name) => `test/${name.includes('/') ? name : `unit/${name}`}.test.ts`;
export const bundle = (name) => `dist/test/${name.includes('/') ? name : `unit/${name}`}.test.js`;
