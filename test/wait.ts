// Waiting for a state instead of sleeping: poll `check` until it holds, fail after `timeoutMs`.
// Shared by every test; returns how long it took, for tests that report timings.
export const isRoot = process.getuid?.() === 0;

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, pollMs = 25): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
