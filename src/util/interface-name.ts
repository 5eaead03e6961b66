// Linux interface names: what the kernel takes for one. (An interface's index is asked of the
// kernel itself: native.ifIndex, which answers for this process's network namespace.)

/**
 * Whether `name` can name a Linux network interface, by the kernel's rule (dev_valid_name): 1 to
 * 15 bytes (IFNAMSIZ less the NUL), not "." or "..", without "/", ":" or whitespace; and no NUL,
 * which would end the kernel's C string. (`\s` also matches non-ASCII spaces, which the kernel
 * would take: slightly stricter.)
 */
export function isInterfaceName(name: string): boolean {
  const bytes = Buffer.byteLength(name, 'utf8'); // the kernel's limit is in bytes, not characters
  return bytes >= 1 && bytes <= 15 && name !== '.' && name !== '..' && !/[/:\s\0]/.test(name);
}
