// The functions with the most self time in a V8 CPU profile (node --cpu-prof), a method named
// with its class (the nearest class declared above it in the bundle):
//   node bench/cpuprofile-top.mjs FILE.cpuprofile [TOP]
// Prints each one's share of the profile's time and its milliseconds. Used by bench/profile.sh
// and bench/rest.sh.
import { readFileSync } from 'node:fs';

const p = JSON.parse(readFileSync(process.argv[2], "utf8"));
const top = Number(process.argv[3] ?? 15);
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const total = [...dt.values()].reduce((a, b) => a + b, 0);
// A method is named with its class: the nearest class declared above it in the bundle.
const sources = new Map();
const linesOf = (url) => {
  if (!sources.has(url)) sources.set(url, url.startsWith("file://") ? readFileSync(new URL(url), "utf8").split("\n") : []);
  return sources.get(url);
};
const classAt = (url, line) => {
  let name = "";
  linesOf(url).slice(0, line + 1).forEach((l) => { const m = /^(?:var (\w+) = class|class (\w+))/.exec(l); if (m) name = m[1] ?? m[2]; });
  return name;
};
const self = new Map();
for (const node of p.nodes) {
  const f = node.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/(dist|src|service|node_modules)\//, "$1/")}:${f.lineNumber + 1}` : "";
  const isMethod = f.functionName && /^ {2}(static )?\w+\(/.test(linesOf(f.url)[f.lineNumber] ?? "");
  const cls = isMethod ? classAt(f.url, f.lineNumber) : "";
  const key = `${cls ? cls + "." : ""}${f.functionName || "(anonymous)"} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + (dt.get(node.id) ?? 0));
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [k, us] of rows) console.log(`    ${(us / total * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
