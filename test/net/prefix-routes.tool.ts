// Run by prefix-routes.test.ts inside a namespace of its own: the daemon's route keeper
// (service/prefix-routes.ts) on a device that is down, then up. Prints one JSON line per step.
import { execFileSync } from 'node:child_process';
import { PrefixRoutes } from '../../service/prefix-routes.js';
import { parsePrefix } from '../../src/fcnet/prefix.js';

const device = process.argv[2]!;
const warnings: string[] = [];
const routes = new PrefixRoutes(device, { warn: (m) => warnings.push(m), info: () => {} });
const prefixes = ['10.7.0.0/24', '2001:db8:c::/64', '0.0.0.0/0'].map(parsePrefix);
const ours = () => execFileSync('ip', ['-4', 'route', 'show', 'proto', '98']).toString() + execFileSync('ip', ['-6', 'route', 'show', 'proto', '98']).toString();
routes.sync(prefixes);
routes.retry(prefixes);
console.log(JSON.stringify({ step: 'down', routes: ours(), warnings: warnings.length }));
execFileSync('ip', ['link', 'set', device, 'up']);
routes.retry(prefixes);
console.log(JSON.stringify({ step: 'up', routes: ours(), warnings: warnings.length }));
routes.sync(prefixes.slice(1));
console.log(JSON.stringify({ step: 'withdrawn', routes: ours(), warnings: warnings.length }));
