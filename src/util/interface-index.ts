// Linux interface names, and the kernel's interface indices, which link-local scope ids are made of.
import { readFileSync } from 'node:fs';

/**
 * Whether `name` can name a Linux network interface, by the kernel's rule (dev_valid_name): 1 to
 * 15 bytes (IFNAMSIZ less the NUL), not "." or "..", without "/", ":" or whitespace; and no NUL,
 * which would end the kernel's C string. Such a name is one safe component of a /sys/class/net
 * path. (`\s` also matches non-ASCII spaces, which the kernel would take: slightly stricter.)
 */
export function isInterfaceName(name: string): boolean {
  const bytes = Buffer.byteLength(name, 'utf8'); // the kernel's limit is in bytes, not characters
  return bytes >= 1 && bytes <= 15 && name !== '.' && name !== '..' && !/[/:\s\0]/.test(name);
}

/** The kernel's index of interface `name` now, or 0 if there is no such interface. */
export function interfaceIndex(name: string): number {
  // The check keeps the name to one path component below /sys/class/net.
  if (!isInterfaceName(name)) return 0;
  try {
    return Number.parseInt(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'), 10) || 0;
  } catch {
    return 0;
  }
}
