// node dist/fuzz/write-seeds.js TARGET DIR: writes TARGET's seeds (seeds.ts) into corpus DIR.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { seeds } from './seeds.js';

const [target, dir] = process.argv.slice(2);
const inputs = seeds()[target ?? ''];
if (!inputs || !dir) {
  console.error(`usage: write-seeds TARGET DIR (targets: ${Object.keys(seeds()).join(', ')})`);
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
for (const input of inputs) writeFileSync(join(dir, `seed-${createHash('sha1').update(input).digest('hex')}`), input);
