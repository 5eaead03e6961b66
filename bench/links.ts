// The self-maintaining set of links under churn (issue 14, 4): the real LinkKeeper on every node
// of the shared graphs (bench/sim/link-sim.ts), 30 virtual minutes to settle, then 20 % of the
// nodes leave and as many join knowing only the bootstrap nodes; the mesh is measured as it heals.
// Beside it, the same churn with no keeper (target 0): the mesh as its configured links leave it.
//
// Run:  npm run bench:links -- [--graphs fc00,freifunk-bielefield,...|all] [--target N] [--bootstrap N] [--seed N]
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { describe, loadEdgeList, type Graph } from './sim/graph.js';
import { LinkSim, type LinkSimOptions, type LinkSnapshot } from './sim/link-sim.js';

const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
const GRAPHS = process.env.ROVY_GRAPHS ?? join(ROOT, '..', 'shared', 'graphs');

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const available = readdirSync(GRAPHS).filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -4));
const chosen = arg('graphs') === 'all' ? available : (arg('graphs')?.split(',') ?? available.filter((g) => g !== 'powerlaw-10000'));
const options: LinkSimOptions = {
  target: Number(arg('target') ?? 4),
  maxInbound: 16,
  roundMs: 10_000,
  bootstrap: Number(arg('bootstrap') ?? 5),
  seed: Number(arg('seed') ?? 1),
};

const row = (label: string, s: LinkSnapshot): string =>
  `  ${label.padEnd(28)} ${String(s.alive).padStart(6)} nodes  giant ${(s.giant * 100).toFixed(1).padStart(5)} %  components ${String(s.components).padStart(4)}  degree mean ${s.meanDegree.toFixed(2)} max ${String(s.maxDegree).padStart(3)}  links made ${s.made} dropped ${s.dropped}`;

function runCase(graph: Graph, target: number): LinkSnapshot[] {
  const sim = new LinkSim(graph, { ...options, target });
  const out: LinkSnapshot[] = [sim.snapshot()];
  sim.run(30);
  out.push(sim.snapshot());
  sim.churn(0.2);
  out.push(sim.snapshot());
  let at = 0;
  for (const minutes of [1, 2, 5, 10, 30]) {
    sim.run(minutes - at);
    at = minutes;
    out.push(sim.snapshot());
  }
  return out;
}

const labels = ['start (configured links)', 'settled (+30 min)', 'right after 20 % churn', '+1 min', '+2 min', '+5 min', '+10 min', '+30 min'];
console.log(`LinkKeeper under churn: target ${options.target}, at most ${options.maxInbound} inbound, a round every ${options.roundMs / 1000} s, ${options.bootstrap} bootstrap nodes, peer exchange as node/peer-exchange.ts does it, seed ${options.seed}`);
for (const name of chosen) {
  const graph = loadEdgeList(join(GRAPHS, `${name}.txt`));
  const d = describe(graph);
  const started = performance.now();
  const kept = runCase(graph, options.target);
  const control = runCase(graph, 0);
  console.log(`\n${name}: ${d.nodes} nodes, ${d.links} links, mean degree ${d.meanDegree.toFixed(2)}, max ${d.maxDegree} (${((performance.now() - started) / 1000).toFixed(1)} s wall)`);
  console.log(` with the keeper:`);
  kept.forEach((s, i) => console.log(row(labels[i]!, s)));
  console.log(` without (target 0):`);
  for (const i of [2, 7]) console.log(row(labels[i]!, control[i]!));
}
