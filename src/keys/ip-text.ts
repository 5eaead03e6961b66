// IP addresses as text: strict parsing and canonical formatting.
//
// IPv6 text follows RFC 4291 §2.2 on input (any "::" form, an embedded dotted IPv4 tail) and
// RFC 5952 on output (lower case, no leading zeros, the longest run of two or more zero groups
// written "::", the first such run on a tie, IPv4-mapped addresses in mixed notation), so one
// address always has one text. IPv4 text is the four-decimal dotted form; leading zeros are
// refused, since some parsers read them as octal. Neither accepts a zone ("%eth0") or brackets.

/** Parses dotted-quad IPv4 text ("192.0.2.1") into 4 bytes. Throws an Error saying what is wrong. */
export function parseIPv4(text: string): Uint8Array {
  const bytes = parseIPv4Parts(text);
  if (typeof bytes === 'string') throw new Error(`invalid IPv4 address ${JSON.stringify(text)}: ${bytes}`);
  return bytes;
}

/** The dotted-quad text of 4 bytes. */
export function formatIPv4(bytes: Uint8Array): string {
  if (bytes.length !== 4) throw new Error(`an IPv4 address is 4 bytes, got ${bytes.length}`);
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** Parses IPv6 text into 16 bytes. Throws an Error saying what is wrong. */
export function parseIPv6(text: string): Uint8Array {
  const bytes = parseIPv6Parts(text);
  if (typeof bytes === 'string') throw new Error(`invalid IPv6 address ${JSON.stringify(text)}: ${bytes}`);
  return bytes;
}

/** Whether 16 address bytes are link-local unicast (fe80::/10), which needs an interface to mean anything. */
export function isLinkLocal(bytes: Uint8Array): boolean {
  return bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80;
}

/** The RFC 5952 canonical text of a 16-byte IPv6 address. */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`an IPv6 address is 16 bytes, got ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);

  // IPv4-mapped (::ffff:0:0/96): RFC 5952 §5 recommends the mixed notation.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return '::ffff:' + formatIPv4(bytes.subarray(12));
  }

  // The longest run of zero groups, at least two long; the first one wins a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLength).join(':');
}

function parseIPv4Parts(text: string): Uint8Array | string {
  if (text.length === 0) return 'it is empty';
  const parts = text.split('.');
  if (parts.length !== 4) return `it needs 4 dotted numbers, has ${parts.length}`;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^[0-9]{1,3}$/.test(p)) return `${JSON.stringify(p)} is not a number from 0 to 255`;
    if (p.length > 1 && p[0] === '0') return `${JSON.stringify(p)} has a leading zero`;
    const n = Number(p);
    if (n > 255) return `${p} is more than 255`;
    bytes[i] = n;
  }
  return bytes;
}

function parseIPv6Parts(text: string): Uint8Array | string {
  if (text.length === 0) return 'it is empty';
  if (text.includes('%')) return 'a zone ("%...") is not allowed here';
  if (text.startsWith('[') || text.endsWith(']')) return 'remove the brackets';
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) {
    const bad = text.match(/[^0-9A-Fa-f:.]/u)?.[0] ?? '';
    return `${JSON.stringify(bad)} is not allowed (only hex digits, ":" and a dotted IPv4 tail)`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return '"::" may appear only once';

  // Each side of "::" is a colon-separated list of groups; only the very last one may be IPv4.
  const sides: number[][] = [];
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h];
    const groups: number[] = [];
    if (half !== '') {
      const parts = half.split(':');
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i];
        const last = h === halves.length - 1 && i === parts.length - 1;
        if (p === '') return 'a single ":" cannot start or end an address, and groups cannot be empty';
        if (p.includes('.')) {
          if (!last) return `the IPv4 part ${JSON.stringify(p)} must come last`;
          const v4 = parseIPv4Parts(p);
          if (typeof v4 === 'string') return `in the IPv4 part: ${v4}`;
          groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
          continue;
        }
        if (p.length > 4) return `the group ${JSON.stringify(p)} has more than 4 hex digits`;
        groups.push(parseInt(p, 16));
      }
    }
    sides.push(groups);
  }

  let groups: number[];
  if (sides.length === 1) {
    if (sides[0].length !== 8) return `it has ${sides[0].length} groups; without "::" it needs 8`;
    groups = sides[0];
  } else {
    const given = sides[0].length + sides[1].length;
    if (given > 7) return `it has ${given} groups besides "::", which must stand for at least one`;
    groups = [...sides[0], ...new Array<number>(8 - given).fill(0), ...sides[1]];
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}
