// Petnames: the names a user gives peers, reached as "<name>.rovy".
//
// A petname is one DNS host label (RFC 1035 §2.3.1, RFC 1123 §2.1): 1 to 63 ASCII letters, digits
// or "-", not starting or ending with "-". DNS ignores case, so neither do petnames: they are
// stored lower case. Punycode ("xn--...") and all-digit labels are DNS labels and are allowed.
// Peer IDs live in the same .rovy zone, so text that decodes as a peer ID is refused as a name:
// otherwise "<peer ID>.rovy" could mean two different peers.
import { canonicalPeerId, isPeerId, PeerIdError } from '../keys/peerid.js';
import { quoteShort } from '../util/quote.js';

/** Longest DNS label, in octets (RFC 1035 §2.3.4). */
const MAX_LABEL_LENGTH = 63;
const LABEL_CHAR = /^[A-Za-z0-9-]$/;

/** Why a name was refused, as a named error the D-Bus layer maps 1:1 (net.rovy.Rovy1.Error.<kind>). */
export type NameErrorKind = 'InvalidName' | 'NameTaken' | 'NoSuchName' | 'InvalidPeerId';

export class NameError extends Error {
  readonly kind: NameErrorKind;
  constructor(kind: NameErrorKind, message: string) {
    super(message);
    this.name = 'NameError';
    this.kind = kind;
  }
}

/** `text` as a canonical peer ID; NameError('InvalidPeerId') saying what is wrong if it is none. */
export function namedPeerId(text: string): string {
  try {
    return canonicalPeerId(text);
  } catch (err) {
    if (err instanceof PeerIdError) throw new NameError('InvalidPeerId', err.message);
    throw err;
  }
}

/**
 * A petname as stored: `text` folded to lower case. Throws NameError('InvalidName') unless `text`
 * is a DNS label and not a peer ID; the message quotes `text` and says which rule it breaks.
 */
export function petnameOf(text: string): string {
  const problem = petnameProblem(text);
  if (problem !== null) throw new NameError('InvalidName', `invalid name ${quoteShort(text)}: ${problem}`);
  return foldCase(text);
}

/**
 * What rule `text` breaks as a petname, without quoting it (for callers that name it their own
 * way, like the petname file's `names["..."]`), or null if it is a valid one.
 */
export function petnameProblem(text: string): string | null {
  if (text.length === 0) return 'not a DNS label: it is empty';
  let position = 0;
  for (const c of text) {
    position++;
    if (!LABEL_CHAR.test(c)) {
      return `not a DNS label: ${JSON.stringify(c)} at position ${position} is not an ASCII letter, digit or "-"`;
    }
  }
  if (text.length > MAX_LABEL_LENGTH) {
    return `not a DNS label: it is ${text.length} characters long, at most ${MAX_LABEL_LENGTH} are allowed`;
  }
  if (text.startsWith('-')) return 'not a DNS label: it starts with "-"';
  if (text.endsWith('-')) return 'not a DNS label: it ends with "-"';
  if (isPeerId(text)) return 'it is a peer ID (peer IDs and names share .rovy, so a name cannot look like one)';
  return null;
}

/** Lower case for ASCII only: "K" (Kelvin sign) must not fold into a label that matches "k". */
export function foldCase(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

