// Operations per second of a synchronous step, for the in-process benches.
import { performance } from 'node:perf_hooks';

/** Runs `step` for `seconds` after a short warm-up (`warmupMs`); returns operations/s. */
export function measure(step: () => void, seconds: number, warmupMs = 200): number {
  const loop = (ms: number): number => {
    let n = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      step();
      n++;
    }
    return n;
  };
  loop(warmupMs);
  const start = performance.now();
  const ops = loop(seconds * 1000);
  return ops / ((performance.now() - start) / 1000);
}
