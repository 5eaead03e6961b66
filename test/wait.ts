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

/** until() for in-process tests (a MemoryTun, loopback sockets, one event loop), where the state
 *  comes within milliseconds: poll every 5 ms rather than 25, give up after 5 s. */
export function untilFast(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  return until(what, check, timeoutMs, 5);
}
