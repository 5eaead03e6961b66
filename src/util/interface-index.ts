// The kernel's interface indices, which link-local scope ids are made of.
import { readFileSync } from 'node:fs';

/** The kernel's index of interface `name` now, or 0 if there is no such interface. */
export function interfaceIndex(name: string): number {
  if (!/^[^/\s:]{1,15}$/.test(name) || name === '.' || name === '..') return 0;
  try {
    return Number.parseInt(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'), 10) || 0;
  } catch {
    return 0;
  }
}
