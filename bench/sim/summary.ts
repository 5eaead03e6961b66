// One line of figures for a set of values, as the routing benches print them.

/** "mean …, p99 …, max …": three decimals for values under 10 (stretch), none above (bytes). */
export function quantiles(xs: ArrayLike<number>): string {
  const v = Array.from(xs).sort((a, b) => a - b);
  if (v.length === 0) return 'none';
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const at = (f: number) => v[Math.min(v.length - 1, Math.floor(v.length * f))]!;
  const digits = mean < 10 ? 3 : 0;
  return `mean ${mean.toFixed(digits)}, p99 ${at(0.99).toFixed(digits && 2)}, max ${at(1).toFixed(digits && 2)}`;
}
