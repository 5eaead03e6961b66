// The live JavaScript heap after full collections, for the benches that weigh what state costs
// in memory (node --expose-gc; null without it). Typed arrays of more than a few dozen bytes keep
// their bytes outside the heap, in array buffers, so both are given.
export interface LiveHeap {
  heapUsed: number;
  arrayBuffers: number;
}

export function liveHeap(): LiveHeap | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  // Twice: objects freed by the first collection's finalizers go in the second.
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}
